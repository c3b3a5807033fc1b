/* Expiry-ordered index of registrations and the sweep that collects expired ones. */
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

/* Flipping the sign bit makes the big-endian bytes of an int64_t sort in numeric order, so
 * deadlines before 1970 come before later ones. */
#define STORE_SIGN_BIAS (UINT64_C(1) << 63)

void
store__expiry_key(unsigned char key[STORE_EXPIRY_KEY_SIZE], int64_t expires_at, uint64_t counter)
{
    store__put_be(key, (uint64_t)expires_at ^ STORE_SIGN_BIAS, 8);
    store__put_be(key + 8, counter, 8);
}

static int64_t
key_deadline(const unsigned char *key)
{
    uint64_t u = store__get_be(key, 8) ^ STORE_SIGN_BIAS;
    int64_t v;

    /* Converting an out-of-range uint64_t to int64_t is implementation-defined; go through
     * memcpy so the two's complement bits come back exactly. */
    memcpy(&v, &u, sizeof(v));
    return v;
}

int
store__expiry_add(struct store *st, MDB_txn *txn, int64_t expires_at, uint64_t counter)
{
    unsigned char k[STORE_EXPIRY_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };

    int rc;

    store__expiry_key(k, expires_at, counter);
    /* Deadlines mostly grow (now + lt), so most entries go at the end: MDB_APPEND skips the
     * search and fills pages instead of splitting them in half. LMDB refuses it, changing
     * nothing, when the key is not the largest. */
    rc = mdb_put(txn, st->expiry, &key, &val, MDB_APPEND);
    if (rc == MDB_KEYEXIST) {
        rc = mdb_put(txn, st->expiry, &key, &val, 0);
    }
    return store__from_mdb(st, rc, "put expiry");
}

int
store__expiry_del(struct store *st, MDB_txn *txn, int64_t expires_at, uint64_t counter)
{
    unsigned char k[STORE_EXPIRY_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    int rc;

    store__expiry_key(k, expires_at, counter);
    rc = mdb_del(txn, st->expiry, &key, NULL);
    /* A missing entry leaves nothing to remove; the record being changed is what matters. */
    if (rc == MDB_NOTFOUND) {
        return RD_OK;
    }
    return store__from_mdb(st, rc, "delete expiry");
}

/* Delete the registration behind the expiry entry (@p deadline, @p counter) under @p ecur, and
 * that entry. */
static int
collect_one(struct store *st, MDB_txn *txn, MDB_cursor *ecur, MDB_cursor *rcur, int64_t deadline,
            uint64_t counter, int *deleted)
{
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    struct store__rec rec;
    int rc;

    *deleted = 0;
    store__put_be(k, counter, sizeof(k));
    /* The record is read through a cursor: LMDB keeps the pages under a txn's cursors from
     * being spilled, so the record stays readable while its index entries go. */
    rc = mdb_cursor_get(rcur, &key, &val, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND) {
        /* An entry without its record: drop it so the sweep does not stall on it. */
        return store__from_mdb(st, mdb_cursor_del(ecur, 0), "delete expiry");
    }
    rc = store__from_mdb(st, rc, "get registration");
    if (rc) {
        return rc;
    }
    if (store__rec_decode(st, &val, &rec) == RD_OK) {
        if (rec.expires_at != deadline) {
            /* A stale entry: the record has moved on to another deadline, and has an entry
             * for it. */
            return store__from_mdb(st, mdb_cursor_del(ecur, 0), "delete expiry");
        }
        rc = store__reg_unindex(st, txn, counter, &rec);
        if (rc) {
            return rc;
        }
        /* Told in the same transaction, while the record's bytes are still there. */
        rc = store__journal_expired(st, txn, counter, &rec);
        if (rc) {
            return rc;
        }
    }
    /* A record that does not decode is collected too, or it would stall every later sweep at
     * its deadline. Its name and terms cannot be read and stay behind; reads skip index
     * entries that lead nowhere, and a put of the name starts afresh. */
    rc = store__from_mdb(st, mdb_cursor_del(rcur, 0), "delete registration");
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_cursor_del(ecur, 0), "delete expiry");
    if (rc) {
        return rc;
    }
    *deleted = 1;
    return RD_OK;
}

int
store_expire(struct store *st, int64_t before, size_t max, size_t *n)
{
    MDB_txn *txn = NULL;
    MDB_cursor *ecur = NULL;
    MDB_cursor *rcur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    size_t count = 0;
    int64_t deadline;
    int changed = 0;
    int deleted;
    int rc;

    rc = store__write_begin(st, &txn, 0);
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->expiry, &ecur), "open cursor");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->regs, &rcur), "open cursor");
    if (rc) {
        goto out;
    }
    while (count < max) {
        /* Each pass deletes the first entry, so the first is always the next deadline. */
        rc = mdb_cursor_get(ecur, &key, &val, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "get expiry");
        if (rc) {
            goto out;
        }
        if (key.mv_size != STORE_EXPIRY_KEY_SIZE) {
            rc = store__fail(st, "expiry index: corrupt key (%zu bytes)", key.mv_size);
            goto out;
        }
        deadline = key_deadline(key.mv_data);
        if (deadline >= before) {
            break;
        }
        rc = collect_one(st, txn, ecur, rcur, deadline,
                         store__get_be((unsigned char *)key.mv_data + 8, 8), &deleted);
        if (rc) {
            goto out;
        }
        count += (size_t)deleted;
        changed = 1;
    }
    if (!changed) {
        /* Nothing changed: skip the commit and its write. */
        goto out;
    }
    rc = store__from_mdb(st, mdb_txn_commit(txn), "commit");
    txn = NULL; /* mdb_txn_commit() frees the txn even when it fails */
out:
    /* A write transaction's cursors go with it, on commit as on abort. */
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (!rc) {
        *n = count;
    }
    return rc;
}

int
store_next_deadline(struct store *st, int64_t from, int64_t *when)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    unsigned char k[STORE_EXPIRY_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    int64_t deadline = 0;
    int rc;

    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__read_cursor(st, txn, st->expiry, &cur);
    if (rc) {
        goto out;
    }
    /* Counter 0 is never used, so this key sorts before every entry with that deadline. */
    store__expiry_key(k, from, 0);
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        rc = RD_ENOTFOUND;
        goto out;
    }
    rc = store__from_mdb(st, rc, "get expiry");
    if (rc) {
        goto out;
    }
    if (key.mv_size != STORE_EXPIRY_KEY_SIZE) {
        rc = store__fail(st, "expiry index: corrupt key (%zu bytes)", key.mv_size);
        goto out;
    }
    deadline = key_deadline(key.mv_data);
out:
    store__read_cursor_close(st, cur);
    store__read_end(st, txn);
    if (!rc) {
        *when = deadline;
    }
    return rc;
}
