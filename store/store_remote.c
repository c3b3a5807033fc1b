/* The store as a cluster's local copy: the revision it is at, kept with the changes, the
 * cluster's id key, and the registrations due for the cluster's sweeper. */
#include <string.h>

#include <lmdb.h>

#include "store_internal.h"

/* Same bias as the expiry index's keys (store_expiry.c): signed deadlines in unsigned order. */
#define SIGN_BIAS (UINT64_C(1) << 63)

static int
meta_set(struct store *st, MDB_txn *txn, const char *name, uint64_t v)
{
    unsigned char b[8];
    MDB_val key = { strlen(name), (void *)(uintptr_t)name };
    MDB_val val = { sizeof(b), b };

    store__put_be(b, v, sizeof(b));
    return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put meta");
}

int
store__remote_put_revision(struct store *st, MDB_txn *txn, int64_t revision)
{
    return meta_set(st, txn, STORE_META_REMOTE_REVISION, (uint64_t)revision);
}

static int
commit(struct store *st, MDB_txn **txn)
{
    int rc = store__from_mdb(st, mdb_txn_commit(*txn), "commit");

    *txn = NULL;
    return rc;
}

/* Empty every database derived from or holding registrations, in @p txn. */
static int
drop_registrations(struct store *st, MDB_txn *txn)
{
    MDB_dbi dbs[] = { st->regs, st->names, st->expiry, st->terms };
    MDB_val key = { sizeof(STORE_META_REMOTE_REVISION) - 1,
                    (void *)(uintptr_t)STORE_META_REMOTE_REVISION };
    int rc = RD_OK;

    for (size_t i = 0; !rc && i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        rc = store__from_mdb(st, mdb_drop(txn, dbs[i], 0), "empty database");
    }
    if (!rc && st->has_counts) {
        rc = store__counts_reset(st, txn);
    }
    if (!rc) {
        rc = mdb_del(txn, st->meta, &key, NULL);
        rc = rc == MDB_NOTFOUND ? RD_OK : store__from_mdb(st, rc, "delete meta");
    }
    return rc;
}

int
store_remote_join(struct store *st, uint64_t secret, int *reset)
{
    MDB_txn *txn = NULL;
    int64_t revision = 0;
    int rc;

    rc = store_remote_revision(st, &revision);
    if (rc) {
        return rc;
    }
    if (st->secret == secret && revision > 0) {
        *reset = 0;
        return RD_OK;
    }
    rc = store__write_begin(st, &txn, 0);
    if (!rc) {
        rc = drop_registrations(st, txn);
    }
    if (!rc) {
        rc = meta_set(st, txn, STORE_META_SECRET, secret);
    }
    if (!rc) {
        rc = commit(st, &txn);
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (!rc) {
        st->secret = secret;
        *reset = 1;
    }
    return rc;
}

int
store_remote_revision(struct store *st, int64_t *revision)
{
    MDB_txn *txn = NULL;
    MDB_val key = { sizeof(STORE_META_REMOTE_REVISION) - 1,
                    (void *)(uintptr_t)STORE_META_REMOTE_REVISION };
    MDB_val val = { 0, NULL };
    int rc;

    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        *revision = 0;
        rc = RD_OK;
    } else if (rc == MDB_SUCCESS && val.mv_size == 8) {
        *revision = (int64_t)store__get_be(val.mv_data, 8);
    } else {
        rc = rc ? store__from_mdb(st, rc, "get remote revision")
                : store__fail(st, "remote revision corrupt");
    }
    store__read_end(st, txn);
    return rc;
}

void
store_remote_stage(struct store *st, int64_t revision)
{
    st->remote_staged = 1;
    st->remote_revision = revision;
}

int
store_remote_mark(struct store *st, int64_t revision)
{
    MDB_txn *txn = NULL;
    int rc;

    st->remote_staged = 0;
    rc = store__write_begin(st, &txn, 0);
    if (!rc) {
        rc = store__remote_put_revision(st, txn, revision);
    }
    if (!rc) {
        rc = commit(st, &txn);
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc;
}

uint64_t
store_remote_id(const struct store *st, uint64_t seq)
{
    return store__id_from_counter(st, seq);
}

int
store_remote_seq(const struct store *st, uint64_t id, uint64_t *seq)
{
    return store__id_to_counter(st, id, seq);
}

int
store_remote_due(struct store *st, int64_t before, size_t max, store_reg_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    size_t seen = 0;
    int rc;
    int op = MDB_FIRST;

    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->expiry, &cur), "open cursor");
    while (!rc && seen < max) {
        const unsigned char *k;
        unsigned char rk[STORE_KEY_SIZE];
        MDB_val rkey = { sizeof(rk), rk };
        struct store__rec rec;
        struct store_reg reg;
        uint64_t counter;

        rc = mdb_cursor_get(cur, &key, &val, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "walk expiry");
        if (rc || key.mv_size != STORE_EXPIRY_KEY_SIZE) {
            break;
        }
        k = key.mv_data;
        if ((int64_t)(store__get_be(k, 8) ^ SIGN_BIAS) >= before) {
            break;
        }
        counter = store__get_be(k + 8, 8);
        store__put_be(rk, counter, sizeof(rk));
        /* An entry without a decodable record is the local sweep's business, not ours. */
        if (mdb_get(txn, st->regs, &rkey, &val) || store__rec_decode(st, &val, &rec)) {
            continue;
        }
        memset(&reg, 0, sizeof(reg));
        reg.id = store__id_from_counter(st, counter);
        reg.ep = rec.ep;
        reg.d = rec.d;
        reg.expires_at = rec.expires_at;
        reg.data = rec.data;
        reg.data_len = rec.data_len;
        seen++;
        rc = fn(arg, &reg);
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    store__read_end(st, txn);
    return rc;
}
