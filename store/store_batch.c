/* Write batches: the writes of several requests in one LMDB transaction (store_batch_begin()).
 *
 * A commit costs far more than the puts of one registration: it copies the path from each
 * touched database's root to its leaves, saves the free list and writes the meta page. A batch
 * pays that once for all its writes. LMDB's nested transactions would undo one failed write
 * alone, but not with MDB_WRITEMAP, which the server's sync modes use; so a write refuses bad
 * input before it changes anything, and a failure after that loses the whole batch, whose
 * answers the caller has not sent. */
#include <stdio.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

/* Room a batch may ask for in all before its pending writes are committed: half of what
 * store__write_begin() keeps allocated ahead, so the batch never outgrows the allocation. */
#define BATCH_EXTRA_MAX ((uint64_t)16 << 20)
/* Room counted for every write besides the record: the pages of its index entries. */
#define BATCH_WRITE_ROOM ((uint64_t)64 << 10)

static void
batch_abort(struct store *st)
{
    store__counts_forget(st);
    store__append_forget(st);
    if (st->batch_txn) {
        mdb_txn_abort(st->batch_txn);
        st->batch_txn = NULL;
    }
    st->batch_extra = 0;
}

int
store_batch_begin(struct store *st)
{
    if (st->snap) {
        snprintf(st->errmsg, sizeof(st->errmsg), "a snapshot is read-only");
        return RD_EINVAL;
    }
    if (st->batch_on) {
        snprintf(st->errmsg, sizeof(st->errmsg), "a write batch is open already");
        return RD_EINVAL;
    }
    st->batch_on = 1;
    st->batch_lost = 0;
    st->batch_extra = 0;
    return RD_OK;
}

int
store_batch_lost(const struct store *st)
{
    return st->batch_on && st->batch_lost;
}

int
store__batch_settle(struct store *st)
{
    int rc;

    if (!st->batch_txn) {
        return RD_OK;
    }
    rc = store__append_flush(st, st->batch_txn);
    if (!rc) {
        rc = store__counts_flush(st, st->batch_txn);
    }
    if (rc) {
        batch_abort(st);
        st->batch_lost = 1;
        return rc;
    }
    rc = store__from_mdb(st, mdb_txn_commit(st->batch_txn), "commit batch");
    st->batch_txn = NULL; /* mdb_txn_commit() frees the txn even when it fails */
    st->batch_extra = 0;
    if (rc) {
        st->batch_lost = 1;
    }
    return rc;
}

int
store_batch_commit(struct store *st)
{
    int rc;

    if (!st->batch_on) {
        return RD_OK;
    }
    if (st->batch_lost) {
        batch_abort(st);
        rc = RD_ESTORE;
    } else {
        rc = store__batch_settle(st);
    }
    st->batch_on = 0;
    st->batch_lost = 0;
    return rc;
}

int
store__write_open(struct store *st, MDB_txn **txn, uint64_t extra)
{
    uint64_t room = extra + BATCH_WRITE_ROOM;
    int rc;

    /* store__write_begin() refuses a view's writes. */
    if (!st->batch_on || st->snap) {
        return store__write_begin(st, txn, extra);
    }
    if (st->batch_lost) {
        snprintf(st->errmsg, sizeof(st->errmsg), "an earlier write of this batch failed");
        return RD_ESTORE;
    }
    if (st->batch_txn && st->batch_extra + room > BATCH_EXTRA_MAX) {
        rc = store__batch_settle(st);
        if (rc) {
            return rc;
        }
    }
    if (!st->batch_txn) {
        /* store__write_begin() settles an open batch transaction, and there is none here. */
        rc = store__write_begin(st, &st->batch_txn, room);
        if (rc) {
            st->batch_txn = NULL;
            return rc;
        }
    }
    st->batch_extra += room;
    *txn = st->batch_txn;
    return RD_OK;
}

int
store__write_close(struct store *st, MDB_txn **txn, int rc, int changed)
{
    MDB_txn *t = *txn;

    *txn = NULL;
    if (!t) {
        return rc;
    }
    if (t != st->batch_txn) {
        if (rc) {
            mdb_txn_abort(t);
            return rc;
        }
        return store__from_mdb(st, mdb_txn_commit(t), "commit");
    }
    if (rc && changed) {
        batch_abort(st);
        st->batch_lost = 1;
    }
    return rc;
}
