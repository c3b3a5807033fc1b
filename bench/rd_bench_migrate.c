/* rd-bench-migrate: time the migration of a data directory of N registrations from schema
 * version 1 to this core-rd's (RFC 9176 section 5 registrations, as the RD stores them). With
 * --make-only it only makes the version 1 directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "lookup.h"
#include "store.h"

#define MAP_SIZE  (UINT64_C(8) << 30)
#define N_DEFAULT 1000000
#define N_MAX     10000000
#define LINKS                                                                                      \
    "</temp>;rt=\"temperature-c\";if=sensor;obs,</hum>;rt=humidity;if=sensor,"                     \
    "</batt>;rt=battery;if=core.s,</fw>;rt=firmware,</cfg>;ct=50"
#define PROGRESS_S 2.0

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the bench saw of the migration. */
struct watch {
    double start;
    double logged;
};

static int
progress(void *arg, const struct store_migrate_status *s)
{
    struct watch *w = arg;
    double t = now_s();

    if (s->event == STORE_MIGRATE_START) {
        w->start = w->logged = t;
        printf("migrating schema version %u to %u, %llu registrations\n", (unsigned)s->from,
               (unsigned)s->to, (unsigned long long)s->total);
    } else if (s->event == STORE_MIGRATE_PROGRESS && t - w->logged >= PROGRESS_S) {
        w->logged = t;
        printf("  %llu of %llu after %.1f s\n", (unsigned long long)s->done,
               (unsigned long long)s->total, t - w->start);
    }
    fflush(stdout);
    return 0;
}

/* Fill @p dir with @p n registrations of 5 links each, encoded and indexed as the RD does. */
static int
fill(const char *dir, size_t n)
{
    struct store_options opt;
    struct store *st = NULL;
    struct lookup_links links;
    struct lookup_reg rec;
    struct lookup_buf data;
    char diag[LOOKUP_DIAG_SIZE];
    char err[256];
    char ep[32];
    char d[16];
    char base[64];
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.dir = dir;
    opt.map_size = MAP_SIZE;
    opt.sync = STORE_SYNC_NEVER;
    if (store_open(&st, &opt, err, sizeof(err))) {
        fprintf(stderr, "rd-bench-migrate: %s: %s\n", dir, err);
        return 1;
    }
    memset(&links, 0, sizeof(links));
    rc = lookup_links_parse(&links, LINKS, strlen(LINKS), 100, diag, sizeof(diag));
    lookup_buf_init(&data, 1 << 20);
    for (size_t i = 0; !rc && i < n; i++) {
        struct lookup_terms terms;
        struct store_term t[64];
        struct store_reg reg;
        uint64_t id = 0;
        int created = 0;

        snprintf(ep, sizeof(ep), "node-%07zu", i);
        snprintf(d, sizeof(d), "floor%zu", i % 50);
        snprintf(base, sizeof(base), "coap://10.%zu.%zu.%zu:5683", (i >> 16) & 255, (i >> 8) & 255,
                 i & 255);
        memset(&rec, 0, sizeof(rec));
        rec.base = base;
        rec.lt = 86400;
        rec.owner = "none";
        rec.links = links.links;
        rec.nlinks = links.nlinks;
        data.len = 0;
        memset(&terms, 0, sizeof(terms));
        rc = lookup_reg_encode(&rec, &data);
        if (!rc) {
            rc = lookup_reg_terms(ep, d, &rec, &terms);
        }
        if (!rc && terms.nterms > sizeof(t) / sizeof(t[0])) {
            rc = RD_ETOOBIG;
        }
        if (!rc) {
            for (size_t k = 0; k < terms.nterms; k++) {
                t[k].data = terms.terms[k].data;
                t[k].len = terms.terms[k].len;
            }
            memset(&reg, 0, sizeof(reg));
            reg.ep = ep;
            reg.d = d;
            /* Far in the future, so nothing expires in between. */
            reg.expires_at = INT64_C(4000000000) + (int64_t)i;
            reg.data = data.data;
            reg.data_len = data.len;
            reg.terms = t;
            reg.nterms = terms.nterms;
            rc = store_reg_put(st, &reg, &id, &created);
        }
        lookup_terms_cleanup(&terms);
        if (rc) {
            fprintf(stderr, "rd-bench-migrate: registration %zu: %s (%s)\n", i, rd_strerror(rc),
                    store_errmsg(st));
        }
    }
    lookup_buf_cleanup(&data);
    lookup_links_cleanup(&links);
    store_free(st);
    return rc ? 1 : 0;
}

/* Mark the directory as written by schema version 1. Version 1's layout is version 2's (the
 * 1 -> 2 step rebuilds derived data only), so this is a true version 1 directory. A benchmark of
 * a later step must make its directory with the store of the version it migrates from. */
static int
mark_v1(const char *dir)
{
    static const unsigned char v1[4] = { 0, 0, 0, 1 };
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = { 7, (void *)(uintptr_t) "version" };
    MDB_val v = { sizeof(v1), (void *)(uintptr_t)v1 };
    int rc;

    rc = mdb_env_create(&env);
    if (!rc) {
        rc = mdb_env_set_maxdbs(env, 8);
    }
    if (!rc) {
        rc = mdb_env_set_mapsize(env, MAP_SIZE);
    }
    if (!rc) {
        rc = mdb_env_open(env, dir, 0, 0640);
    }
    if (!rc) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    }
    if (!rc) {
        rc = mdb_dbi_open(txn, "meta", 0, &dbi);
    }
    if (!rc) {
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (rc) {
        fprintf(stderr, "rd-bench-migrate: mark version 1: %s\n", mdb_strerror(rc));
    }
    mdb_env_close(env);
    return rc ? 1 : 0;
}

int
main(int argc, char **argv)
{
    struct store_options opt;
    struct store *st = NULL;
    struct watch w = { 0, 0 };
    struct store_info info;
    char path[4096];
    char err[256];
    struct stat sb;
    size_t n = N_DEFAULT;
    double t0;
    double t1;
    char *end = NULL;

    if (argc < 3 || argc > 4 || !argv[2][0] || (argc == 4 && strcmp(argv[3], "--make-only"))) {
        fprintf(stderr, "usage: rd-bench-migrate N NEW_DIR [--make-only]\n");
        return 2;
    }
    n = strtoul(argv[1], &end, 10);
    if (!end || *end || n == 0 || n > N_MAX) {
        fprintf(stderr, "rd-bench-migrate: N must be 1 to %d\n", N_MAX);
        return 2;
    }
    snprintf(path, sizeof(path), "%s/data.mdb", argv[2]);
    if (stat(path, &sb) == 0) {
        fprintf(stderr, "rd-bench-migrate: %s already holds a database\n", argv[2]);
        return 2;
    }
    t0 = now_s();
    if (fill(argv[2], n) || mark_v1(argv[2])) {
        return 1;
    }
    t1 = now_s();
    printf("made a schema version 1 directory of %zu registrations in %.1f s\n", n, t1 - t0);
    /* Left for core-rd itself to migrate (and to be killed in the middle of it). */
    if (argc == 4) {
        return 0;
    }
    memset(&opt, 0, sizeof(opt));
    opt.dir = argv[2];
    opt.map_size = MAP_SIZE;
    /* As core-rd opens it by default. */
    opt.sync = STORE_SYNC_PERIODIC;
    opt.migrate_fn = progress;
    opt.migrate_arg = &w;
    t0 = now_s();
    if (store_open(&st, &opt, err, sizeof(err))) {
        fprintf(stderr, "rd-bench-migrate: %s\n", err);
        return 1;
    }
    t1 = now_s();
    if (store_info(st, &info)) {
        fprintf(stderr, "rd-bench-migrate: %s\n", store_errmsg(st));
        store_free(st);
        return 1;
    }
    printf("migrated %zu registrations to schema version %u in %.2f s (%.0f registrations/s), "
           "data %.1f MiB\n",
           info.registrations, (unsigned)store_schema_version(st), t1 - t0,
           (double)info.registrations / (t1 - t0), (double)info.used_bytes / (1024.0 * 1024.0));
    store_free(st);
    return 0;
}
