/* rdctl export, import, backup and check: work on a data directory through store/, with the
 * records encoded and validated by lookup/ exactly as the RD does (RFC 9176 section 5). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "lookup.h"
#include "rdctl_internal.h"
#include "store.h"

/* Links one imported registration may have (the RD's max_links default). */
#define IMPORT_LINKS_MAX 100000

/* A formatted string in new memory (free it). @return its length or -1. */
static int dupf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
dupf(char **out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = n < 0 ? NULL : malloc((size_t)n + 1);
    if (!*out) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return n;
}

/* Open the store of an existing data directory; never create one by mistake. With
 * @p as_is, a directory of an older schema version stays as it is (backup and check must not
 * change what they look at); export and import migrate it as core-rd would. */
static int
open_existing(const struct rdctl_opts *o, int as_is, struct store **st)
{
    struct store_options opt;
    char path[4096];
    char err[512];
    struct stat sb;

    if (!o->data_dir) {
        fprintf(stderr, "rdctl: this command needs --data-dir DIR\n");
        return RDCTL_EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "%s/data.mdb", o->data_dir);
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "rdctl: %s: no core-rd database there\n", o->data_dir);
        return RDCTL_EXIT_DATA;
    }
    memset(&opt, 0, sizeof(opt));
    opt.dir = o->data_dir;
    opt.sync = STORE_SYNC_ALWAYS;
    opt.no_migrate = as_is;
    if (store_open(st, &opt, err, sizeof(err))) {
        fprintf(stderr, "rdctl: %s: %s\n", o->data_dir, err);
        return RDCTL_EXIT_DATA;
    }
    return RDCTL_EXIT_OK;
}

/* store_reg_fn: one registration as one JSON line. */
static int
export_one(void *arg, const struct store_reg *reg)
{
    size_t *n = arg;
    struct lookup_reg rec;
    struct lookup_buf links;
    json_t *attrs;
    json_t *obj;

    if (lookup_reg_decode(&rec, reg->data, reg->data_len)) {
        fprintf(stderr, "rdctl: ep=%s d=%s: corrupt record, not exported\n", reg->ep, reg->d);
        return 0;
    }
    lookup_buf_init(&links, 64 * 1024 * 1024);
    attrs = json_array();
    for (size_t i = 0; i < rec.nattrs; i++) {
        json_array_append_new(attrs, json_pack("[s, s?]", rec.attrs[i].name, rec.attrs[i].value));
    }
    if (lookup_links_format(rec.links, rec.nlinks, &links) || lookup_buf_append(&links, "", 1)) {
        json_decref(attrs);
        lookup_buf_cleanup(&links);
        lookup_reg_cleanup(&rec);
        return 1;
    }
    obj = json_pack("{s:s, s:s, s:I, s:I, s:s, s:b, s:o, s:s}", "ep", reg->ep, "d", reg->d,
                    "expires_at", (json_int_t)reg->expires_at, "lt", (json_int_t)rec.lt, "base",
                    rec.base, "base_explicit", rec.base_explicit, "attrs", attrs, "links",
                    links.data);
    json_dumpf(obj, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(obj);
    lookup_buf_cleanup(&links);
    lookup_reg_cleanup(&rec);
    (*n)++;
    return 0;
}

static int
cmd_export(struct store *st)
{
    size_t n = 0;

    /* Deadline 0 as "now": expired registrations still in their grace period come along. */
    if (store_reg_foreach(st, 0, 0, export_one, &n)) {
        fprintf(stderr, "rdctl: export: %s\n", store_errmsg(st));
        return RDCTL_EXIT_DATA;
    }
    fprintf(stderr, "rdctl: exported %zu registrations\n", n);
    return RDCTL_EXIT_OK;
}

/* One validated registration, ready to store. */
struct import_rec {
    struct lookup_regparams params; /* ep, d, base, lt, extra attributes: checked */
    struct lookup_links links;
    int64_t expires_at;
    int base_explicit;
};

static void
import_rec_cleanup(struct import_rec *r)
{
    lookup_regparams_cleanup(&r->params);
    lookup_links_cleanup(&r->links);
}

/* Check one exported line with the RD's own parsers; @p diag says why on failure. */
static int
import_parse(const char *line, size_t len, struct import_rec *r, char *diag, size_t dsize)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    json_t *attrs = NULL;
    const char *ep = NULL;
    const char *d = "";
    const char *base = NULL;
    const char *links = NULL;
    json_int_t lt = 0;
    json_int_t expires_at = 0;
    int base_explicit = 0;
    char *qs[4 + 64];
    struct lookup_qparam q[4 + 64];
    size_t nq = 0;
    int rc = RD_EINVAL;

    memset(r, 0, sizeof(*r));
    if (!obj) {
        snprintf(diag, dsize, "not JSON: %.100s", jerr.text);
        return RD_EINVAL;
    }
    if (json_unpack_ex(obj, &jerr, JSON_STRICT, "{s:s, s?s, s:I, s:I, s:s, s?b, s?o, s:s}", "ep",
                       &ep, "d", &d, "expires_at", &expires_at, "lt", &lt, "base", &base,
                       "base_explicit", &base_explicit, "attrs", &attrs, "links", &links)) {
        snprintf(diag, dsize, "%.120s", jerr.text);
        goto out;
    }
    if (lt < 1 || lt > 4294967295LL) {
        snprintf(diag, dsize, "lt out of range");
        goto out;
    }
    memset(qs, 0, sizeof(qs));
    /* Build the query a registration would carry, so the same rules apply (names, UTF-8, base
     * URI, lifetime, attribute tokens). */
    if (dupf(&qs[nq++], "ep=%s", ep) < 0 || (d[0] && dupf(&qs[nq++], "d=%s", d) < 0) ||
        dupf(&qs[nq++], "base=%s", base) < 0 || dupf(&qs[nq++], "lt=%lld", (long long)lt) < 0) {
        snprintf(diag, dsize, "out of memory");
        goto free_qs;
    }
    for (size_t i = 0; attrs && i < json_array_size(attrs); i++) {
        const char *name = NULL;
        const char *value = NULL;
        json_t *jv = NULL;

        /* A valueless attribute (LwM2M's Q) is exported as null. */
        if (nq < sizeof(qs) / sizeof(qs[0]) &&
            json_unpack(json_array_get(attrs, i), "[s, o]", &name, &jv) == 0) {
            value = json_is_string(jv) ? json_string_value(jv) : NULL;
        }
        if (nq == sizeof(qs) / sizeof(qs[0]) || !name || (!json_is_null(jv) && !value) ||
            (value ? dupf(&qs[nq], "%s=%s", name, value) : dupf(&qs[nq], "%s", name)) < 0) {
            snprintf(diag, dsize, "attrs[%zu]: expected [name, value or null]", i);
            goto free_qs;
        }
        nq++;
    }
    for (size_t i = 0; i < nq; i++) {
        lookup_qparam_split(&q[i], qs[i], strlen(qs[i]));
    }
    rc = lookup_regparams_parse(&r->params, LOOKUP_REG_CREATE, q, nq, diag, dsize);
    if (!rc) {
        rc = lookup_links_parse(&r->links, links, strlen(links), IMPORT_LINKS_MAX, diag, dsize);
    }
    if (!rc) {
        rc = lookup_links_check_limited(r->links.links, r->links.nlinks, diag, dsize);
    }
    r->expires_at = expires_at;
    r->base_explicit = base_explicit;
free_qs:
    for (size_t i = 0; i < nq; i++) {
        free(qs[i]);
    }
out:
    json_decref(obj);
    if (rc) {
        import_rec_cleanup(r);
    }
    return rc;
}

static int
import_store(struct store *st, const struct import_rec *r, int *created)
{
    struct lookup_reg rec;
    struct lookup_buf data;
    struct lookup_terms terms;
    struct store_term *st_terms = NULL;
    struct store_reg reg;
    uint64_t id = 0;
    int rc;

    memset(&rec, 0, sizeof(rec));
    rec.base = r->params.base;
    rec.base_explicit = (unsigned char)r->base_explicit;
    rec.lt = r->params.lt;
    rec.attrs = r->params.attrs;
    rec.nattrs = r->params.nattrs;
    rec.links = r->links.links;
    rec.nlinks = r->links.nlinks;
    lookup_buf_init(&data, 64 * 1024 * 1024);
    memset(&terms, 0, sizeof(terms));
    rc = lookup_reg_encode(&rec, &data);
    if (!rc) {
        rc = lookup_reg_terms(r->params.ep, r->params.d ? r->params.d : "", &rec, &terms);
    }
    if (!rc && terms.nterms) {
        st_terms = calloc(terms.nterms, sizeof(*st_terms));
        rc = st_terms ? RD_OK : RD_ENOMEM;
    }
    if (!rc) {
        for (size_t i = 0; i < terms.nterms; i++) {
            st_terms[i].data = terms.terms[i].data;
            st_terms[i].len = terms.terms[i].len;
        }
        memset(&reg, 0, sizeof(reg));
        reg.ep = r->params.ep;
        reg.d = r->params.d ? r->params.d : "";
        reg.expires_at = r->expires_at;
        reg.data = data.data;
        reg.data_len = data.len;
        reg.terms = st_terms;
        reg.nterms = terms.nterms;
        /* Weighed as the server weighs what it stores, so lookups page by the counts. */
        for (size_t i = 0; i < terms.nterms; i++) {
            /* Endpoint names are not counted (the server pages them by walking). */
            if (terms.terms[i].len < 3 || memcmp(terms.terms[i].data, "ep=", 3) != 0) {
                st_terms[i].eps = terms.eps[i];
                st_terms[i].links = terms.links[i];
            }
        }
        reg.weighed = 1;
        reg.nlinks = (uint32_t)rec.nlinks;
        rc = store_reg_put(st, &reg, &id, created);
    }
    free(st_terms);
    lookup_terms_cleanup(&terms);
    lookup_buf_cleanup(&data);
    return rc;
}

/* Validate every line first: a bad export imports nothing. */
static int
cmd_import(struct store *st, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    size_t bad = 0;
    size_t created_n = 0;
    size_t replaced_n = 0;
    char diag[LOOKUP_DIAG_SIZE];
    int rc = RDCTL_EXIT_OK;

    if (rdctl_read_file(path, &buf, &len)) {
        fprintf(stderr, "rdctl: import: %s: %s\n", path, strerror(errno));
        return RDCTL_EXIT_DATA;
    }
    for (int pass = 0; pass < 2 && rc == RDCTL_EXIT_OK; pass++) {
        size_t lineno = 0;

        for (char *line = buf; line < buf + len;) {
            char *nl = memchr(line, '\n', (size_t)(buf + len - line));
            size_t llen = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
            struct import_rec r;
            int created = 0;

            lineno++;
            if (llen && !import_parse(line, llen, &r, diag, sizeof(diag))) {
                if (pass == 1) {
                    if (import_store(st, &r, &created)) {
                        fprintf(stderr, "rdctl: import: line %zu: %s\n", lineno, store_errmsg(st));
                        rc = RDCTL_EXIT_DATA;
                    }
                    created ? created_n++ : replaced_n++;
                }
                import_rec_cleanup(&r);
            } else if (llen) {
                fprintf(stderr, "rdctl: import: line %zu: %s\n", lineno, diag);
                bad++;
            }
            if (rc) {
                break;
            }
            line += llen + 1;
        }
        if (bad) {
            fprintf(stderr, "rdctl: import: %zu invalid records; nothing imported\n", bad);
            rc = RDCTL_EXIT_DATA;
        }
    }
    if (!rc) {
        fprintf(stderr, "rdctl: imported %zu new and %zu replaced registrations\n", created_n,
                replaced_n);
    }
    free(buf);
    return rc;
}

static void
print_problem(void *arg, const char *msg)
{
    (void)arg;
    printf("problem: %s\n", msg);
}

static int
cmd_check(struct store *st)
{
    struct store_check_report rep;
    uint32_t version = store_schema_version(st);

    printf("schema version %u\n", (unsigned)version);
    if (version != store_schema_current()) {
        /* The index check knows only this release's layout. */
        printf("older than this rdctl's %u: core-rd migrates it at its next start (take a "
               "backup first)\n",
               (unsigned)store_schema_current());
        return RDCTL_EXIT_OK;
    }
    if (store_check(st, &rep, print_problem, NULL)) {
        fprintf(stderr, "rdctl: check: %s\n", store_errmsg(st));
        return RDCTL_EXIT_DATA;
    }
    printf("records=%zu names=%zu expiry=%zu terms=%zu problems=%zu\n", rep.records, rep.names,
           rep.expiry, rep.terms, rep.problems);
    return rep.problems ? RDCTL_EXIT_DATA : RDCTL_EXIT_OK;
}

int
rdctl_offline(const struct rdctl_opts *o, const char *cmd, int argc, char **argv)
{
    struct store *st = NULL;
    int rc;

    if ((strcmp(cmd, "backup") == 0 && argc != 1) || (strcmp(cmd, "import") == 0 && argc > 1) ||
        ((strcmp(cmd, "export") == 0 || strcmp(cmd, "check") == 0) && argc != 0)) {
        fprintf(stderr, "rdctl %s: wrong arguments; rdctl --help\n", cmd);
        return RDCTL_EXIT_USAGE;
    }
    rc = open_existing(o, strcmp(cmd, "backup") == 0 || strcmp(cmd, "check") == 0, &st);
    if (rc) {
        return rc;
    }
    if (strcmp(cmd, "export") == 0) {
        rc = cmd_export(st);
    } else if (strcmp(cmd, "import") == 0) {
        rc = cmd_import(st, argc ? argv[0] : "-");
    } else if (strcmp(cmd, "backup") == 0) {
        if (store_backup(st, argv[0])) {
            fprintf(stderr, "rdctl: backup to %s: %s\n", argv[0], store_errmsg(st));
            rc = RDCTL_EXIT_DATA;
        } else {
            printf("backup written to %s\n", argv[0]);
        }
    } else {
        rc = cmd_check(st);
    }
    store_free(st);
    return rc;
}
