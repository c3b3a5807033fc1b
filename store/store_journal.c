/* The change journal behind the RD's event feed (RFC 9176 section 5 changes, retained). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

#define JOURNAL_HEAD     16                /* time, registration id */
#define JOURNAL_DATA_MAX ((size_t)1 << 20) /* largest event the caller may stage */
/* Events trimmed beyond the one appended, per transaction: a shrunk retention catches up over
 * a few writes instead of making one of them long. */
#define JOURNAL_TRIM_SLICE 64

void
store_journal_config(struct store *st, uint64_t retain_events, int64_t retain_seconds,
                     store_expired_fn expired_fn, void *arg)
{
    st->journal_on = 1;
    st->journal_max_events = retain_events ? retain_events : 1;
    st->journal_max_age = retain_seconds > 0 ? retain_seconds : 0;
    st->journal_expired_fn = expired_fn;
    st->journal_expired_arg = arg;
}

void
store_journal_clock(struct store *st, int64_t now)
{
    st->journal_now = now;
}

void
store__journal_unstage(struct store *st)
{
    free(st->staged);
    st->staged = NULL;
    st->staged_len = 0;
    st->has_staged = 0;
    st->remote_staged = 0;
}

int
store_journal_stage(struct store *st, const void *data, size_t len)
{
    unsigned char *copy;

    if (len > JOURNAL_DATA_MAX) {
        return RD_ETOOBIG;
    }
    copy = malloc(len ? len : 1);
    if (!copy) {
        return RD_ENOMEM;
    }
    if (len) {
        memcpy(copy, data, len);
    }
    store__journal_unstage(st);
    st->staged = copy;
    st->staged_len = len;
    st->has_staged = 1;
    return RD_OK;
}

/* The id of the next event, as meta holds it in @p txn. */
static int
next_get(struct store *st, MDB_txn *txn, uint64_t *next)
{
    MDB_val key = { sizeof(STORE_META_JOURNAL_NEXT) - 1,
                    (void *)(uintptr_t)STORE_META_JOURNAL_NEXT };
    MDB_val val = { 0, NULL };
    int rc = mdb_get(txn, st->meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        *next = 1;
        return RD_OK;
    }
    rc = store__from_mdb(st, rc, "get journal next");
    if (rc) {
        return rc;
    }
    if (val.mv_size != 8) {
        return store__fail(st, "journal next: corrupt (%zu bytes)", val.mv_size);
    }
    *next = store__get_be(val.mv_data, 8);
    return RD_OK;
}

/* Drop the oldest events beyond the retention, at most @p max of them. */
static int
trim(struct store *st, MDB_txn *txn, size_t max)
{
    MDB_cursor *cur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    MDB_stat ms;
    size_t entries;
    int rc;

    rc = store__from_mdb(st, mdb_stat(txn, st->journal, &ms), "stat journal");
    if (rc) {
        return rc;
    }
    entries = ms.ms_entries;
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->journal, &cur), "open cursor");
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < max && entries > 0; i++) {
        int old = 0;

        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "get journal");
        if (rc) {
            break;
        }
        if (st->journal_max_age && val.mv_size >= JOURNAL_HEAD) {
            int64_t t = (int64_t)store__get_be(val.mv_data, 8);

            old = t < st->journal_now - st->journal_max_age;
        }
        if (entries <= st->journal_max_events && !old) {
            break;
        }
        rc = store__from_mdb(st, mdb_cursor_del(cur, 0), "delete journal");
        if (rc) {
            break;
        }
        entries--;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Append one event for the registration @p counter, then trim. */
static int
append(struct store *st, MDB_txn *txn, uint64_t counter, const void *data, size_t len)
{
    MDB_val mkey = { sizeof(STORE_META_JOURNAL_NEXT) - 1,
                     (void *)(uintptr_t)STORE_META_JOURNAL_NEXT };
    unsigned char k[STORE_KEY_SIZE];
    unsigned char n[8];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { JOURNAL_HEAD + len, NULL };
    MDB_val nval = { sizeof(n), n };
    uint64_t next = 0;
    unsigned char *p;
    int rc;

    rc = next_get(st, txn, &next);
    if (rc) {
        return rc;
    }
    store__put_be(k, next, sizeof(k));
    /* Ids only grow, so every append lands at the end of the tree. */
    rc = store__from_mdb(st, mdb_put(txn, st->journal, &key, &val, MDB_APPEND | MDB_RESERVE),
                         "put journal");
    if (rc) {
        return rc;
    }
    p = val.mv_data;
    store__put_be(p, (uint64_t)st->journal_now, 8);
    store__put_be(p + 8, store__id_from_counter(st, counter), 8);
    if (len) {
        memcpy(p + JOURNAL_HEAD, data, len);
    }
    store__put_be(n, next + 1, sizeof(n));
    rc = store__from_mdb(st, mdb_put(txn, st->meta, &mkey, &nval, 0), "put journal next");
    if (rc) {
        return rc;
    }
    return trim(st, txn, JOURNAL_TRIM_SLICE + 1);
}

int
store__journal_staged(struct store *st, MDB_txn *txn, uint64_t counter)
{
    int rc = RD_OK;

    if (st->has_staged && st->journal_on && st->has_journal) {
        rc = append(st, txn, counter, st->staged, st->staged_len);
    }
    /* A change applied from a cluster commits with the revision it brings (store_remote.c). */
    if (!rc && st->remote_staged) {
        rc = store__remote_put_revision(st, txn, st->remote_revision);
    }
    store__journal_unstage(st);
    return rc;
}

int
store__journal_expired(struct store *st, MDB_txn *txn, uint64_t counter,
                       const struct store__rec *rec)
{
    struct store_reg reg;
    const void *data = NULL;
    size_t len = 0;

    if (!st->journal_on || !st->has_journal || !st->journal_expired_fn) {
        return RD_OK;
    }
    memset(&reg, 0, sizeof(reg));
    reg.id = store__id_from_counter(st, counter);
    reg.ep = rec->ep;
    reg.d = rec->d;
    reg.expires_at = rec->expires_at;
    reg.data = rec->data;
    reg.data_len = rec->data_len;
    if (st->journal_expired_fn(st->journal_expired_arg, &reg, &data, &len)) {
        return RD_OK;
    }
    if (len > JOURNAL_DATA_MAX) {
        return store__fail(st, "journal: expiry event of %zu bytes", len);
    }
    return append(st, txn, counter, data, len);
}

/* First retained id and count, in @p txn. */
static int
first_get(struct store *st, MDB_txn *txn, uint64_t next, uint64_t *first, size_t *events)
{
    MDB_cursor *cur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    MDB_stat ms;
    int rc;

    rc = store__from_mdb(st, mdb_stat(txn, st->journal, &ms), "stat journal");
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->journal, &cur), "open cursor");
    if (rc) {
        return rc;
    }
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        *first = next;
        rc = RD_OK;
    } else {
        rc = store__from_mdb(st, rc, "get journal");
        if (!rc && key.mv_size != STORE_KEY_SIZE) {
            rc = store__fail(st, "journal: corrupt key (%zu bytes)", key.mv_size);
        }
        if (!rc) {
            *first = store__get_be(key.mv_data, STORE_KEY_SIZE);
        }
    }
    mdb_cursor_close(cur);
    if (!rc) {
        *events = ms.ms_entries;
    }
    return rc;
}

int
store_journal_info(struct store *st, struct store_journal_info *out)
{
    MDB_txn *txn = NULL;
    uint64_t next = 1;
    uint64_t first = 1;
    size_t events = 0;
    int rc;

    if (!st->has_journal) {
        return store__fail(st, "journal: not in this schema version");
    }
    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = next_get(st, txn, &next);
    if (!rc) {
        rc = first_get(st, txn, next, &first, &events);
    }
    store__read_end(st, txn);
    if (!rc) {
        out->first = first;
        out->last = next - 1;
        out->events = events;
    }
    return rc;
}

int
store_journal_read(struct store *st, uint64_t after, size_t max, store_event_fn fn, void *arg,
                   uint64_t *last)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    struct store_event ev;
    uint64_t done = after;
    MDB_cursor_op op = MDB_SET_RANGE;
    int rc;

    if (!st->has_journal) {
        return store__fail(st, "journal: not in this schema version");
    }
    if (after == UINT64_MAX) {
        *last = after;
        return RD_OK;
    }
    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, st->journal, &cur), "open cursor");
    if (rc) {
        goto out;
    }
    store__put_be(k, after + 1, sizeof(k));
    for (size_t i = 0; i < max; i++) {
        rc = mdb_cursor_get(cur, &key, &val, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "get journal");
        if (rc) {
            break;
        }
        if (key.mv_size != STORE_KEY_SIZE || val.mv_size < JOURNAL_HEAD) {
            rc = store__fail(st, "journal: corrupt event (%zu-byte key, %zu-byte value)",
                             key.mv_size, val.mv_size);
            break;
        }
        ev.id = store__get_be(key.mv_data, STORE_KEY_SIZE);
        ev.time = (int64_t)store__get_be(val.mv_data, 8);
        ev.reg_id = store__get_be((const unsigned char *)val.mv_data + 8, 8);
        ev.data = (const unsigned char *)val.mv_data + JOURNAL_HEAD;
        ev.len = val.mv_size - JOURNAL_HEAD;
        rc = fn(arg, &ev);
        if (rc) {
            break;
        }
        done = ev.id;
    }
out:
    if (cur) {
        mdb_cursor_close(cur);
    }
    store__read_end(st, txn);
    if (!rc) {
        *last = done;
    }
    return rc;
}
