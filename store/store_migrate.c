/* Schema migrations of a data directory, one version at a time, resumable after a crash. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

#define MIGRATE_BATCH_DEFAULT 10000
/* Bytes one registration's index entries may dirty, to allocate the data file ahead. */
#define MIGRATE_BYTES_PER_REG 1024

/* A step's place, kept in meta between its transactions. */
struct progress {
    uint32_t step;  /**< the version the step migrates from */
    uint64_t after; /**< last counter converted */
    uint64_t done;  /**< registrations converted */
};

/* One step from version @c from to @c from + 1. @c begin runs in the step's first transaction;
 * @c batch runs in each transaction until it reports the step finished. */
struct step {
    uint32_t from;
    const char *what;
    int (*begin)(struct store *st, MDB_txn *txn);
    int (*batch)(struct store *st, MDB_txn *txn, size_t batch, struct progress *p,
                 uint64_t *skipped, int *finished);
};

static int
rebuild_batch(struct store *st, MDB_txn *txn, size_t batch, struct progress *p, uint64_t *skipped,
              int *finished)
{
    return store__rebuild_batch(st, txn, batch, &p->after, &p->done, skipped, finished);
}

/* Every step ever needed, in order. A release that changes the layout bumps
 * STORE_SCHEMA_VERSION and appends the step from the previous version. */
static int
journal_begin(struct store *st, MDB_txn *txn)
{
    (void)txn;
    return st->has_journal ? RD_OK : store__fail(st, "migration: journal database missing");
}

static int
journal_batch(struct store *st, MDB_txn *txn, size_t batch, struct progress *p, uint64_t *skipped,
              int *finished)
{
    MDB_stat ms;
    int rc;

    (void)batch;
    (void)skipped;
    /* Every registration is as version 4 wants it already: the step is done with all. */
    rc = store__from_mdb(st, mdb_stat(txn, st->regs, &ms), "stat registrations");
    if (rc) {
        return rc;
    }
    p->done = ms.ms_entries;
    *finished = 1;
    return RD_OK;
}

static const struct step steps[] = {
    /* Version 1 kept index entries behind when the sweep collected a record that no longer
     * decoded; rebuilding from the records drops them and proves the path every later step
     * takes. */
    { 1, "rebuild the name, deadline and term indexes from the records", store__rebuild_begin,
      rebuild_batch },
    /* Version 3 adds the counts of store_rank_seek(). Records of earlier versions have no
     * weights: the rebuild counts them as such, and seeks walk until every one of them has been
     * registered again or is gone. */
    { 2, "rebuild the indexes and the counted checkpoints from the records", store__rebuild_begin,
      rebuild_batch },
    /* Version 4 adds the change journal. store_open() created it empty; nothing that happened
     * before the upgrade can be told, so the records stay as they are. */
    { 3, "start the change journal, empty", journal_begin, journal_batch },
};

int
store__rebuild_begin(struct store *st, MDB_txn *txn)
{
    int rc;

    /* mdb_drop() with 0 empties a database and keeps its handle. */
    rc = store__from_mdb(st, mdb_drop(txn, st->names, 0), "empty names");
    if (!rc) {
        rc = store__from_mdb(st, mdb_drop(txn, st->expiry, 0), "empty expiry");
    }
    if (!rc) {
        rc = store__from_mdb(st, mdb_drop(txn, st->terms, 0), "empty terms");
    }
    if (!rc) {
        rc = store__counts_reset(st, txn);
    }
    return rc;
}

/* Make the meta next counter larger than @p last, the largest counter of a record. */
static int
next_above(struct store *st, MDB_txn *txn, uint64_t last)
{
    MDB_val key = { sizeof(STORE_META_NEXT) - 1, (void *)(uintptr_t)STORE_META_NEXT };
    MDB_val val = { 0, NULL };
    unsigned char buf[8];
    int rc;

    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_SUCCESS && val.mv_size == sizeof(buf) &&
        store__get_be(val.mv_data, sizeof(buf)) > last) {
        return RD_OK;
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return store__from_mdb(st, rc, "get next counter");
    }
    /* A counter at or below a record's would give a new registration that record's id. */
    store__put_be(buf, last + 1, sizeof(buf));
    val.mv_size = sizeof(buf);
    val.mv_data = buf;
    return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put next counter");
}

int
store__rebuild_batch(struct store *st, MDB_txn *txn, size_t batch, uint64_t *after, uint64_t *done,
                     uint64_t *skipped, int *finished)
{
    MDB_cursor *cur = NULL;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    MDB_cursor_op op = MDB_SET_RANGE;
    uint64_t last = *after;
    uint64_t n = 0;
    uint64_t bad = 0;
    size_t i = 0;
    int rc;

    rc = store__from_mdb(st, mdb_cursor_open(txn, st->regs, &cur), "open cursor");
    if (rc) {
        return rc;
    }
    store__put_be(k, last + 1, sizeof(k));
    for (;;) {
        struct store__rec rec;
        uint64_t counter;

        rc = mdb_cursor_get(cur, &key, &val, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = next_above(st, txn, last);
            if (!rc) {
                *finished = 1;
            }
            break;
        }
        rc = store__from_mdb(st, rc, "iterate registrations");
        if (rc) {
            break;
        }
        if (i == batch) {
            *finished = 0;
            break;
        }
        i++;
        if (key.mv_size != STORE_KEY_SIZE) {
            bad++;
            continue;
        }
        counter = store__get_be(key.mv_data, STORE_KEY_SIZE);
        last = counter;
        /* A record that does not decode stays as it is, so nothing is lost; without index
         * entries no read shows it, and rdctl check reports it. */
        if (store__rec_decode(st, &val, &rec)) {
            bad++;
            continue;
        }
        rc = store__rec_weigh(st, cur, counter, &rec);
        if (rc) {
            break;
        }
        rc = store__reg_index(st, txn, counter, &rec, 1);
        if (rc) {
            break;
        }
        n++;
    }
    mdb_cursor_close(cur);
    if (!rc) {
        *after = last;
        *done += n;
        *skipped += bad;
    }
    return rc;
}

static int
meta_get_u32(struct store *st, MDB_txn *txn, const char *name, uint32_t *v)
{
    MDB_val key = { strlen(name), (void *)(uintptr_t)name };
    MDB_val val = { 0, NULL };
    int rc = store__from_mdb(st, mdb_get(txn, st->meta, &key, &val), name);

    if (!rc && val.mv_size != 4) {
        rc = store__fail(st, "%s: corrupt (%zu bytes)", name, val.mv_size);
    }
    if (!rc) {
        *v = (uint32_t)store__get_be(val.mv_data, 4);
    }
    return rc;
}

/* The progress of the running step, or RD_ENOTFOUND when none has begun. */
static int
progress_get(struct store *st, MDB_txn *txn, struct progress *p)
{
    MDB_val key = { sizeof(STORE_META_MIGRATION) - 1, (void *)(uintptr_t)STORE_META_MIGRATION };
    MDB_val val = { 0, NULL };
    const unsigned char *b;
    int rc;

    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        return RD_ENOTFOUND;
    }
    rc = store__from_mdb(st, rc, "get migration progress");
    if (rc) {
        return rc;
    }
    if (val.mv_size != STORE_META_MIGRATION_SIZE) {
        return store__fail(st, "migration progress: corrupt (%zu bytes)", val.mv_size);
    }
    b = val.mv_data;
    p->step = (uint32_t)store__get_be(b, 4);
    p->after = store__get_be(b + 4, 8);
    p->done = store__get_be(b + 12, 8);
    return RD_OK;
}

/* Record the progress of a step that goes on, or (@p finished) end it: drop the progress and
 * move the version on, in the same transaction as the step's last batch. */
static int
progress_put(struct store *st, MDB_txn *txn, const struct progress *p, int finished)
{
    MDB_val key = { sizeof(STORE_META_MIGRATION) - 1, (void *)(uintptr_t)STORE_META_MIGRATION };
    MDB_val vkey = { sizeof(STORE_META_VERSION) - 1, (void *)(uintptr_t)STORE_META_VERSION };
    unsigned char b[STORE_META_MIGRATION_SIZE];
    unsigned char v[4];
    MDB_val val = { sizeof(b), b };
    int rc;

    if (!finished) {
        store__put_be(b, p->step, 4);
        store__put_be(b + 4, p->after, 8);
        store__put_be(b + 12, p->done, 8);
        return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put migration");
    }
    rc = mdb_del(txn, st->meta, &key, NULL);
    if (rc != MDB_NOTFOUND) {
        rc = store__from_mdb(st, rc, "delete migration");
        if (rc) {
            return rc;
        }
    }
    store__put_be(v, p->step + 1, sizeof(v));
    val.mv_size = sizeof(v);
    val.mv_data = v;
    return store__from_mdb(st, mdb_put(txn, st->meta, &vkey, &val, 0), "put schema version");
}

static const struct step *
step_from(uint32_t version)
{
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i].from == version) {
            return &steps[i];
        }
    }
    return NULL;
}

/* One transaction of the step @p s: its beginning when no progress is stored, then a batch. */
static int
step_txn(struct store *st, const struct step *s, size_t batch, struct progress *p,
         uint64_t *skipped, int *finished)
{
    MDB_txn *txn = NULL;
    uint32_t version = 0;
    int rc;

    rc = store__write_begin(st, &txn, (uint64_t)batch * MIGRATE_BYTES_PER_REG);
    if (rc) {
        goto out;
    }
    /* The stored version and progress decide, not what this process remembers. */
    rc = meta_get_u32(st, txn, STORE_META_VERSION, &version);
    if (rc) {
        goto out;
    }
    if (version != s->from) {
        rc = store__fail(st, "migration: schema version %u, expected %u", (unsigned)version,
                         (unsigned)s->from);
        goto out;
    }
    rc = progress_get(st, txn, p);
    if (rc == RD_ENOTFOUND) {
        p->step = s->from;
        p->after = 0;
        p->done = 0;
        rc = s->begin(st, txn);
    } else if (!rc && p->step != s->from) {
        rc = store__fail(st, "migration progress is for version %u, the data is at %u",
                         (unsigned)p->step, (unsigned)s->from);
    }
    if (rc) {
        goto out;
    }
    rc = s->batch(st, txn, batch, p, skipped, finished);
    if (!rc) {
        rc = progress_put(st, txn, p, *finished);
    }
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_txn_commit(txn), "commit");
    txn = NULL; /* mdb_txn_commit() frees the txn even when it fails */
out:
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc;
}

static int
tell(const struct store_options *opt, const struct store_migrate_status *s)
{
    return opt->migrate_fn ? opt->migrate_fn(opt->migrate_arg, s) : 0;
}

int
store__migrate(struct store *st, const struct store_options *opt)
{
    struct store_migrate_status s;
    size_t batch = opt->migrate_batch ? opt->migrate_batch : MIGRATE_BATCH_DEFAULT;
    size_t total = 0;
    int rc;

    if (st->version >= STORE_SCHEMA_VERSION || opt->no_migrate) {
        return RD_OK;
    }
    rc = store_count(st, &total);
    if (rc) {
        return rc;
    }
    memset(&s, 0, sizeof(s));
    s.from = st->version;
    s.to = STORE_SCHEMA_VERSION;
    s.total = total;
    s.resumed = st->migration_cut;
    s.done = st->migration_done;
    s.step = st->version;
    s.what = step_from(st->version) ? step_from(st->version)->what : "";
    /* Stopping before anything is written leaves nothing to resume. */
    if (tell(opt, &s)) {
        return store__fail(st, "migration from schema version %u stopped before it began",
                           (unsigned)s.from);
    }
    while (st->version < STORE_SCHEMA_VERSION) {
        const struct step *step = step_from(st->version);
        struct progress p;
        int finished = 0;

        if (!step) {
            return store__fail(st, "schema version %u has no migration to %u",
                               (unsigned)st->version, (unsigned)(st->version + 1));
        }
        s.event = STORE_MIGRATE_PROGRESS;
        s.step = step->from;
        s.what = step->what;
        while (!finished) {
            rc = step_txn(st, step, batch, &p, &s.skipped, &finished);
            if (rc == RD_EFULL) {
                /* Nothing of the transaction stays; with more room the next start goes on. */
                char why[STORE_ERRMSG_SIZE];

                snprintf(why, sizeof(why), "%s", st->errmsg);
                snprintf(
                    st->errmsg, sizeof(st->errmsg),
                    "migration from schema version %u needs more room (%.150s): raise map_size "
                    "or free disk space",
                    (unsigned)step->from, why);
            }
            if (rc) {
                return rc;
            }
            s.done = p.done;
            if (tell(opt, &s) && !(finished && step->from + 1 == STORE_SCHEMA_VERSION)) {
                return store__fail(st,
                                   "migration from schema version %u to %u stopped after %llu of "
                                   "%llu registrations; the next start goes on from there",
                                   (unsigned)step->from, (unsigned)(step->from + 1),
                                   (unsigned long long)p.done, (unsigned long long)s.total);
            }
        }
        st->version = step->from + 1;
    }
    /* In the no-sync modes the migrated pages would otherwise wait for the first flush. */
    rc = store_sync(st);
    if (rc) {
        return rc;
    }
    s.event = STORE_MIGRATE_END;
    tell(opt, &s);
    return RD_OK;
}

uint32_t
store_schema_version(const struct store *st)
{
    return st->version;
}

uint32_t
store_schema_current(void)
{
    return STORE_SCHEMA_VERSION;
}
