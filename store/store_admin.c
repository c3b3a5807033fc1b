/* Operator tools on a store: size figures, a consistent copy and an index consistency check. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

int
store_info(struct store *st, struct store_info *out)
{
    MDB_envinfo ei;
    MDB_stat ms;
    size_t n = 0;
    int rc;

    rc = store__from_mdb(st, mdb_env_info(st->env, &ei), "env info");
    if (!rc) {
        rc = store__from_mdb(st, mdb_env_stat(st->env, &ms), "env stat");
    }
    if (!rc) {
        rc = store_count(st, &n);
    }
    if (rc) {
        return rc;
    }
    out->map_size = ei.me_mapsize;
    out->page_size = ms.ms_psize;
    out->used_bytes = ((uint64_t)ei.me_last_pgno + 1) * ms.ms_psize;
    out->registrations = n;
    return RD_OK;
}

int
store_backup(struct store *st, const char *dir)
{
    /* A new, empty directory: mdb_env_copy2() writes data.mdb there and never overwrites. */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return store__fail(st, "create directory %s: %s", dir, strerror(errno));
    }
    /* The copy runs in one read transaction, so it is consistent while writers go on;
     * compaction leaves free pages out. */
    return store__from_mdb(st, mdb_env_copy2(st->env, dir, MDB_CP_COMPACT), "copy environment");
}

/* One consistency check in progress. */
struct check {
    struct store *st;
    MDB_txn *txn;
    struct store_check_report *rep;
    store_problem_fn fn;
    void *arg;
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct check *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rep->problems++;
    if (c->fn) {
        c->fn(c->arg, msg);
    }
}

/* The record of @p counter, or 0 when it is missing or unreadable. */
static int
rec_of(struct check *c, uint64_t counter, struct store__rec *rec)
{
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };

    store__put_be(k, counter, sizeof(k));
    if (mdb_get(c->txn, c->st->regs, &key, &val) != MDB_SUCCESS) {
        return 0;
    }
    return store__rec_decode(c->st, &val, rec) == RD_OK;
}

/* 1 when @p rec lists the term @p t. */
static int
rec_has_term(const struct store__rec *rec, const void *t, size_t tlen)
{
    size_t off = 0;

    for (uint32_t i = 0; i < rec->nterms && rec->terms_len - off >= 2; i++) {
        size_t len = (size_t)store__get_be(rec->terms + off, 2);

        if (len > rec->terms_len - off - 2) {
            return 0;
        }
        if (len == tlen && memcmp(rec->terms + off + 2, t, len) == 0) {
            return 1;
        }
        off += 2 + len;
    }
    return 0;
}

/* Every record has its name, its expiry entry and each of its terms. */
static int
check_records(struct check *c, MDB_cursor *cur)
{
    MDB_val key;
    MDB_val val;
    MDB_cursor_op op = MDB_FIRST;
    int rc;

    while ((rc = mdb_cursor_get(cur, &key, &val, op)) == MDB_SUCCESS) {
        struct store__rec rec;
        unsigned char nk[STORE_NAME_KEY_MAX];
        unsigned char ek[STORE_EXPIRY_KEY_SIZE];
        MDB_val k2;
        MDB_val v2;
        uint64_t counter;
        size_t off = 0;

        op = MDB_NEXT;
        c->rep->records++;
        if (key.mv_size != STORE_KEY_SIZE) {
            problem(c, "registration key of %zu bytes", key.mv_size);
            continue;
        }
        counter = store__get_be(key.mv_data, STORE_KEY_SIZE);
        if (store__rec_decode(c->st, &val, &rec)) {
            problem(c, "record %llu: %s", (unsigned long long)counter, c->st->errmsg);
            continue;
        }
        memcpy(nk, rec.d, rec.d_len);
        nk[rec.d_len] = '\0';
        memcpy(nk + rec.d_len + 1, rec.ep, rec.ep_len);
        k2.mv_size = rec.d_len + 1 + rec.ep_len;
        k2.mv_data = nk;
        if (mdb_get(c->txn, c->st->names, &k2, &v2) != MDB_SUCCESS ||
            v2.mv_size != STORE_KEY_SIZE || store__get_be(v2.mv_data, 8) != counter) {
            problem(c, "record %llu (ep=%s d=%s): name index does not point at it",
                    (unsigned long long)counter, rec.ep, rec.d);
        }
        store__expiry_key(ek, rec.expires_at, counter);
        k2.mv_size = sizeof(ek);
        k2.mv_data = ek;
        if (mdb_get(c->txn, c->st->expiry, &k2, &v2) != MDB_SUCCESS) {
            problem(c, "record %llu (ep=%s d=%s): expiry entry missing",
                    (unsigned long long)counter, rec.ep, rec.d);
        }
        for (uint32_t i = 0; i < rec.nterms && rec.terms_len - off >= 2; i++) {
            unsigned char cb[STORE_KEY_SIZE];
            MDB_cursor *tc = NULL;
            size_t len = (size_t)store__get_be(rec.terms + off, 2);

            if (len > rec.terms_len - off - 2) {
                break;
            }
            store__put_be(cb, counter, sizeof(cb));
            k2.mv_size = len;
            k2.mv_data = (void *)(uintptr_t)(rec.terms + off + 2);
            v2.mv_size = sizeof(cb);
            v2.mv_data = cb;
            if (mdb_cursor_open(c->txn, c->st->terms, &tc) != MDB_SUCCESS ||
                mdb_cursor_get(tc, &k2, &v2, MDB_GET_BOTH) != MDB_SUCCESS) {
                problem(c, "record %llu (ep=%s d=%s): term \"%.*s\" not indexed",
                        (unsigned long long)counter, rec.ep, rec.d,
                        (int)strnlen((const char *)rec.terms + off + 2, len), rec.terms + off + 2);
            }
            if (tc) {
                mdb_cursor_close(tc);
            }
            off += 2 + len;
        }
    }
    return rc == MDB_NOTFOUND ? RD_OK : store__from_mdb(c->st, rc, "iterate registrations");
}

/* Every name, expiry and term entry points at a record that agrees. */
static int
check_indexes(struct check *c, MDB_cursor *nc, MDB_cursor *ec, MDB_cursor *tc)
{
    MDB_val key;
    MDB_val val;
    struct store__rec rec;
    int rc;

    for (rc = mdb_cursor_get(nc, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(nc, &key, &val, MDB_NEXT)) {
        c->rep->names++;
        if (val.mv_size != STORE_KEY_SIZE || !rec_of(c, store__get_be(val.mv_data, 8), &rec) ||
            key.mv_size != rec.d_len + 1 + rec.ep_len ||
            memcmp((const char *)key.mv_data + rec.d_len + 1, rec.ep, rec.ep_len) != 0) {
            problem(c, "name entry \"%.*s\" points at no matching record",
                    (int)strnlen(key.mv_data, key.mv_size), (const char *)key.mv_data);
        }
    }
    if (rc != MDB_NOTFOUND) {
        return store__from_mdb(c->st, rc, "iterate names");
    }
    for (rc = mdb_cursor_get(ec, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(ec, &key, &val, MDB_NEXT)) {
        unsigned char want[STORE_EXPIRY_KEY_SIZE];
        uint64_t counter;

        c->rep->expiry++;
        if (key.mv_size != STORE_EXPIRY_KEY_SIZE) {
            problem(c, "expiry entry of %zu bytes", key.mv_size);
            continue;
        }
        counter = store__get_be((const unsigned char *)key.mv_data + 8, 8);
        if (!rec_of(c, counter, &rec)) {
            problem(c, "expiry entry for missing record %llu", (unsigned long long)counter);
            continue;
        }
        store__expiry_key(want, rec.expires_at, counter);
        if (memcmp(want, key.mv_data, sizeof(want)) != 0) {
            problem(c, "expiry entry for record %llu has a stale deadline",
                    (unsigned long long)counter);
        }
    }
    if (rc != MDB_NOTFOUND) {
        return store__from_mdb(c->st, rc, "iterate expiry");
    }
    for (rc = mdb_cursor_get(tc, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(tc, &key, &val, MDB_NEXT)) {
        uint64_t counter;

        c->rep->terms++;
        if (val.mv_size != STORE_KEY_SIZE) {
            problem(c, "term entry of %zu bytes", val.mv_size);
            continue;
        }
        counter = store__get_be(val.mv_data, 8);
        if (!rec_of(c, counter, &rec) || !rec_has_term(&rec, key.mv_data, key.mv_size)) {
            problem(c, "term \"%.*s\" points at record %llu, which does not list it",
                    (int)strnlen(key.mv_data, key.mv_size), (const char *)key.mv_data,
                    (unsigned long long)counter);
        }
    }
    return rc == MDB_NOTFOUND ? RD_OK : store__from_mdb(c->st, rc, "iterate terms");
}

int
store_check(struct store *st, struct store_check_report *rep, store_problem_fn fn, void *arg)
{
    struct check c = { st, NULL, rep, fn, arg };
    MDB_cursor *cur[4] = { NULL, NULL, NULL, NULL };
    MDB_dbi dbi[4] = { st->regs, st->names, st->expiry, st->terms };
    int rc;

    memset(rep, 0, sizeof(*rep));
    /* One private read transaction: the check sees one snapshot even while a server writes. */
    rc = store__from_mdb(st, mdb_txn_begin(st->env, NULL, MDB_RDONLY, &c.txn), "begin read txn");
    if (rc) {
        return rc;
    }
    for (int i = 0; i < 4 && !rc; i++) {
        rc = store__from_mdb(st, mdb_cursor_open(c.txn, dbi[i], &cur[i]), "open cursor");
    }
    if (!rc) {
        rc = check_records(&c, cur[0]);
    }
    if (!rc) {
        rc = check_indexes(&c, cur[1], cur[2], cur[3]);
    }
    if (!rc) {
        rc = store__counts_check(st, c.txn, &rep->counts, &rep->problems, fn, arg);
    }
    for (int i = 0; i < 4; i++) {
        if (cur[i]) {
            mdb_cursor_close(cur[i]);
        }
    }
    mdb_txn_abort(c.txn);
    return rc;
}
