/* The struct store body and the store__ helpers shared by the files of store/. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"

/**
 * Version of the on-disk layout below. store_open() migrates older ones (store_migrate.c has a
 * step from each earlier version) and refuses newer ones.
 *
 * 1: the first release. 2: the same layout, with every index rebuilt from the records.
 * 3: records may carry term weights (format 2), and the counts database keeps their sums.
 * 4: the journal database records every change (store_journal.c); it starts out empty.
 */
#define STORE_SCHEMA_VERSION 4

/* Names of the LMDB databases inside the environment. */
#define STORE_DB_META   "meta"   /**< schema version, id secret, next counter */
#define STORE_DB_REGS   "regs"   /**< 8-byte big-endian counter -> record */
#define STORE_DB_NAMES  "names"  /**< d '\0' ep -> 8-byte big-endian counter */
#define STORE_DB_EXPIRY "expiry" /**< biased expires_at, counter (16 bytes) -> empty */
#define STORE_DB_TERMS  "terms"  /**< term -> 8-byte big-endian counters (sorted duplicates) */
/** 5-byte big-endian bucket (counter >> 10), term -> u64 eps, u64 links summed over the bucket,
 * then u32 eps, u32 links summed over each of its 16 buckets of 64 counters, all big-endian
 * (store_count.c) */
#define STORE_DB_COUNTS "counts"
/** 8-byte big-endian event id -> 8-byte big-endian time, 8-byte big-endian registration id,
 * the caller's bytes (store_journal.c) */
#define STORE_DB_JOURNAL "journal"

/* Keys in the meta database. */
#define STORE_META_VERSION "version" /**< 4-byte big-endian schema version */
#define STORE_META_SECRET  "secret"  /**< 8 random bytes keying the id permutation */
#define STORE_META_NEXT    "next"    /**< 8-byte big-endian counter of the next registration */
/** Only while a migration step runs: 4-byte step (its from version), 8-byte last counter done,
 * 8-byte registrations done; all big-endian. */
#define STORE_META_MIGRATION      "migration"
#define STORE_META_MIGRATION_SIZE 20
/** 8-byte big-endian number of records without weights (format 1); missing means 0 */
#define STORE_META_UNWEIGHED "unweighed"
/** 8-byte big-endian cluster revision the registrations are at (store_remote.c); missing
 * means none: the store is not a cluster's copy */
#define STORE_META_REMOTE_REVISION "remote_revision"
/** 8-byte big-endian id of the next journal event; missing means 1 */
#define STORE_META_JOURNAL_NEXT "journal_next"

#define STORE_NAME_MAX        63  /**< longest ep or d, in bytes */
#define STORE_TERM_MAX        400 /**< longest term, in bytes; under LMDB's 511-byte key limit */
#define STORE_COUNTER_LIMIT   (UINT64_C(1) << 40) /**< counters and ids are below this */
#define STORE_KEY_SIZE        8                   /**< a counter as a key */
#define STORE_EXPIRY_KEY_SIZE 16
#define STORE_NAME_KEY_MAX    (2 * STORE_NAME_MAX + 1)
#define STORE_ERRMSG_SIZE     256

/** The body of the opaque handle of store.h. */
struct store {
    MDB_env *env;
    MDB_dbi meta;
    MDB_dbi regs;
    MDB_dbi names;
    MDB_dbi expiry;
    MDB_dbi terms;
    MDB_dbi counts;
    int has_counts; /**< counts is open: not so in an older directory opened as it is */
    MDB_dbi journal;
    int has_journal; /**< journal is open: not so in an older directory opened as it is */
    int journal_on;  /**< store_journal_config() was called */
    uint64_t journal_max_events;
    int64_t journal_max_age; /**< seconds; 0 = no age limit */
    int64_t journal_now;     /**< seconds since the epoch, from store_journal_clock() */
    store_expired_fn journal_expired_fn;
    void *journal_expired_arg;
    unsigned char *staged; /**< the staged event's bytes (heap), or NULL */
    size_t staged_len;
    int has_staged;        /**< an event is staged (it may have no bytes) */
    uint64_t secret;       /**< keys the id permutation; fixed for the life of the data */
    MDB_txn *rtxn;         /**< the reusable read transaction, reset while no read runs */
    MDB_cursor *rcur_regs; /**< cursors bound to rtxn, renewed with it; NULL until first use */
    MDB_cursor *rcur_terms;
    MDB_cursor *rcur_expiry;
    /** A cursor on the terms of the write transaction that store__write_begin() began last,
     * opened on first use; LMDB frees it when that transaction ends. */
    MDB_cursor *wcur_terms;
    struct store__appends *appends; /**< term entries the batch has yet to put (store_append.c) */
    int append_ok; /**< the map has room enough to hold entries back until the commit */
    int reading;        /**< reads in progress (a callback may start another) */
    int writemap;       /**< pages are written through the shared map, not pwrite() */
    uint64_t allocated; /**< bytes of the data file known to have disk blocks behind them */
    unsigned char *map;  /**< where the data file is mapped (store_prefault.c); NULL: unknown */
    uint64_t populated; /**< bytes of the map written ahead of use (page tables filled) */
    uint32_t version;   /**< schema version of the data; older than ours only with no_migrate */
    int migration_cut;  /**< found a migration step's progress: an earlier run was cut short */
    uint64_t migration_done; /**< registrations that cut run had converted */
    int batch_on;          /**< store_batch_begin() was called and no commit since */
    MDB_txn *batch_txn;    /**< the batch's transaction; NULL until its first write */
    uint64_t batch_extra;  /**< room its writes asked for (store__write_open()) */
    int batch_lost;        /**< a write of the open batch failed half-way: all of it is lost */
    /** The counts the batch's writes changed, not written yet (store_count.c); NULL until a
     * batch changes one */
    struct store__count_cache *ccache;
    store_weigh_fn weigh_fn; /**< only while store_open() migrates */
    void *weigh_arg;
    char errmsg[STORE_ERRMSG_SIZE];
    /** A read-only view from store_snap_open(): rtxn is its one snapshot, held open (never
     * reset) until store_free() but by store_snap_release(); writes are refused. */
    int snap;
    int snap_released; /**< a view whose snapshot was released: reads fail until renewed */
    int remote_staged;       /**< the next write also records remote_revision (store_remote.c) */
    int64_t remote_revision; /**< the cluster revision that write brings the store to */
};

/** A stored record decoded in place: every pointer borrows from the LMDB value. */
struct store__rec {
    int64_t expires_at;
    const char *ep; /**< NUL-terminated in the value itself */
    size_t ep_len;
    const char *d; /**< NUL-terminated in the value itself */
    size_t d_len;
    const unsigned char *terms; /**< nterms times (2-byte big-endian length, bytes) */
    size_t terms_len;
    uint32_t nterms;
    const unsigned char *weights; /**< format 2: u32 nlinks, nterms times (u32 eps, u32 links);
                                     NULL for a format 1 record, which has none */
    uint32_t nlinks;
    const void *data;
    size_t data_len;
};

/**
 * The weights of term @p i of @p rec (a record with weights).
 */
void store__rec_weight(const struct store__rec *rec, uint32_t i, uint32_t *eps, uint32_t *links);

/**
 * Add (@p sign 1) or remove (-1) the weights @p eps and @p links of the registration
 * @p counter under @p term in the counts, in @p txn. A term of length 0 is the count of all
 * registrations. In the open batch's transaction the new counts are kept until
 * store__counts_flush().
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__counts_term(struct store *st, MDB_txn *txn, const void *term, size_t term_len,
                       uint64_t counter, uint32_t eps, uint32_t links, int sign);

/**
 * Write the counts the open batch changed (kept since its last flush) into @p txn, the batch's
 * transaction. A batch's reads of the counts, and its commit, come after this.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE (the transaction is then lost with the batch).
 */
int store__counts_flush(struct store *st, MDB_txn *txn);

/** Drop the counts the batch changed without writing them (the batch is lost). */
void store__counts_forget(struct store *st);

/** Whether counters @p a and @p b fall in the same fine bucket of every count level: one
 * store__counts_term() call may then count both. */
int store__counts_same_bucket(uint64_t a, uint64_t b);

/**
 * Add (@p sign 1) or remove (-1) what the record of @p counter as a whole counts, in @p txn:
 * with @p weighed, one registration with its @p nlinks links among all; else one record
 * without weights.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__counts_rec(struct store *st, MDB_txn *txn, uint64_t counter, int weighed,
                      uint32_t nlinks, int sign);

/**
 * Empty the counts and forget the records without weights, in @p txn (a rebuild begins).
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__counts_reset(struct store *st, MDB_txn *txn);

/**
 * Check the counts against the term index and the records, in the read @p txn: every checkpoint
 * holds the sum of its bucket's weights, and the records without weights are as many as meta
 * says. Reports each difference through @p fn.
 *
 * @param counts   Written with the checkpoints read.
 * @param problems Incremented by the differences found.
 * @return RD_OK; RD_ENOMEM; RD_ESTORE.
 */
int store__counts_check(struct store *st, MDB_txn *txn, size_t *counts, size_t *problems,
                        store_problem_fn fn, void *arg);

/**
 * Begin a write transaction, first making sure the data file has disk blocks for it.
 *
 * With MDB_WRITEMAP, LMDB grows the file as a sparse one and writes through the map: a page
 * whose block the disk cannot supply would kill the process with SIGBUS. So the file is
 * allocated ahead of LMDB's high-water mark, and a disk that cannot supply the next stretch
 * refuses the write with RD_EFULL before anything is touched.
 *
 * @param extra Bytes the transaction may dirty beyond the fixed headroom: a large record and its
 *              index entries (0 when it only removes).
 * @return RD_OK with *txn set; RD_EFULL when the disk is full; RD_EINVAL on a snapshot view;
 *         other codes as store__from_mdb().
 */
int store__write_begin(struct store *st, MDB_txn **txn, uint64_t extra);

/** store__append_term(): the registration listed this term already; it is one entry. */
#define STORE_APPEND_TWICE 1

/**
 * Queue the index entry of @p term for the new registration @p counter, which is larger than
 * every other, in the open write batch, with the weights its count takes (@p eps, @p links; 0 and
 * 0 for none). @return RD_OK; STORE_APPEND_TWICE; RD_ENOMEM.
 */
int store__append_term(struct store *st, const void *term, size_t len, uint64_t counter, uint32_t eps,
                       uint32_t links);

/** Put what store__append_term() queued, in @p txn: before the batch commits, and before
 * anything reads or removes terms in it. */
int store__append_flush(struct store *st, MDB_txn *txn);

/** Drop what was queued (the batch is aborted). */
void store__append_forget(struct store *st);

/** Release the queue; with store_free(). */
void store__append_free(struct store *st);

/** Find where LMDB mapped the data file @p fd, for store__prefault(); st->map stays NULL when
 * it cannot be told. */
void store__prefault_init(struct store *st, int fd);

/** Write a stretch of the map ahead of @p used bytes, within st->allocated (MDB_WRITEMAP). */
void store__prefault(struct store *st, uint64_t used);

/**
 * Begin the write of one operation: in the open batch's transaction (store_batch_begin()),
 * else in a transaction of its own, as store__write_begin().
 *
 * @param extra As for store__write_begin().
 * @return RD_OK with *txn set; RD_ESTORE when the open batch is lost already; other codes as
 *         store__write_begin().
 */
int store__write_open(struct store *st, MDB_txn **txn, uint64_t extra);

/**
 * End the write of one operation begun with store__write_open(): commit its own transaction
 * when @p rc is RD_OK, abort it otherwise; in a batch, keep the shared transaction, unless the
 * operation failed after it began to change data (@p changed), which loses the batch.
 *
 * @return @p rc, or the commit's failure.
 */
int store__write_close(struct store *st, MDB_txn **txn, int rc, int changed);

/**
 * Commit the open batch's transaction, if any, and keep the batch open for later writes
 * (store__write_begin() calls it: LMDB has one writer).
 *
 * @return RD_OK; RD_ESTORE or RD_EFULL when it failed (the batch is lost).
 */
int store__batch_settle(struct store *st);

/**
 * Translate an LMDB return code and remember what failed.
 *
 * @param what Names the operation for store_errmsg(), e.g. "put registration".
 * @return RD_OK for 0; RD_EFULL for MDB_MAP_FULL and MDB_TXN_FULL; RD_ENOMEM for ENOMEM;
 *         RD_ESTORE for anything else.
 */
int store__from_mdb(struct store *st, int mdb_rc, const char *what);

/** Set store_errmsg() to a formatted message and return RD_ESTORE. */
int store__fail(struct store *st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/** Release the view @p st of store_snap_open() (store_free() of a view lands here). */
void store__snap_close(struct store *st);

/**
 * Start a read: renew the shared read transaction, or begin a private one when a read is
 * already running (a store_reg_fn that reads again).
 *
 * @return RD_OK with @p txn set; RD_ESTORE.
 */
int store__read_begin(struct store *st, MDB_txn **txn);

/** End a read started by store__read_begin(). */
void store__read_end(struct store *st, MDB_txn *txn);

/**
 * A cursor on @p dbi for a read transaction: the shared one, renewed, when @p txn is the shared
 * transaction, else a new one. Release it with store__read_cursor_close().
 *
 * @return RD_OK; RD_ESTORE.
 */
int store__read_cursor(struct store *st, MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur);

/** Close the shared read cursors of @p st (at store_free(), or a view's close). */
void store__read_cursors_close(struct store *st);

/** Release a cursor from store__read_cursor(). Accepts NULL. */
void store__read_cursor_close(struct store *st, MDB_cursor *cur);

/** Write @p v big-endian into @p n bytes at @p p. Inline: keys and counts go through it
 * dozens of times per registration. */
static inline void
store__put_be(unsigned char *p, uint64_t v, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) {
        uint64_t be = __builtin_bswap64(v);

        memcpy(p, &be, 8);
        return;
    }
#endif
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/** Read @p n bytes big-endian from @p p. */
static inline uint64_t
store__get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8) {
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    }
#endif
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/**
 * Decode a record in place, checking every length against the value's size.
 *
 * @return RD_OK; RD_ESTORE (with a message) when the record is corrupt.
 */
int store__rec_decode(struct store *st, const MDB_val *val, struct store__rec *rec);

/**
 * Give the record at the position of @p cur (on regs, in the write transaction of a rebuild),
 * which has no weights, the weights st->weigh_fn finds, rewriting it in place; then decode it
 * again into @p rec. Left as it is when there is no weigh_fn or it declines.
 *
 * @return RD_OK; RD_EFULL; RD_ENOMEM; RD_ESTORE.
 */
int store__rec_weigh(struct store *st, MDB_cursor *cur, uint64_t counter, struct store__rec *rec);

/**
 * Remove the name and term entries of the record @p rec stored under @p counter. The record
 * itself and its expiry entry are the caller's.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__reg_unindex(struct store *st, MDB_txn *txn, uint64_t counter,
                       const struct store__rec *rec);

/** Build the expiry key of (@p expires_at, @p counter) into @p key. */
void store__expiry_key(unsigned char key[STORE_EXPIRY_KEY_SIZE], int64_t expires_at,
                       uint64_t counter);

/** Add the expiry entry of @p counter. @return RD_OK; RD_EFULL; RD_ESTORE. */
int store__expiry_add(struct store *st, MDB_txn *txn, int64_t expires_at, uint64_t counter);

/** Remove the expiry entry of @p counter, if present. @return RD_OK; RD_EFULL; RD_ESTORE. */
int store__expiry_del(struct store *st, MDB_txn *txn, int64_t expires_at, uint64_t counter);

/** The public id of the registration counter @p counter (1 to 2^40 - 1). Never 0. */
uint64_t store__id_from_counter(const struct store *st, uint64_t counter);

/**
 * The counter behind the public id @p id.
 *
 * @return RD_OK; RD_ENOTFOUND when no counter can have that id.
 */
int store__id_to_counter(const struct store *st, uint64_t id, uint64_t *counter);

/**
 * Take the next registration counter, advancing it in meta within @p txn.
 *
 * @return RD_OK; RD_EFULL when all 2^40 - 1 counters are used up; RD_ESTORE.
 */
int store__id_next(struct store *st, MDB_txn *txn, uint64_t *counter);

/**
 * Initialise the meta database of a new store in @p txn: schema version, a fresh random
 * secret from /dev/urandom, next counter 1.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__id_init(struct store *st, MDB_txn *txn);

/**
 * Add the name, expiry and term entries of the record @p rec stored under @p counter: the
 * inverse of store__reg_unindex() plus the expiry entry. A name held by another registration
 * is taken over.
 *
 * @param append The counter is larger than every one indexed so far (a rebuild in counter
 *               order), so term entries go at the end without a search.
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__reg_index(struct store *st, MDB_txn *txn, uint64_t counter, const struct store__rec *rec,
                     int append);

/**
 * Start rebuilding the derived data from the records: empty the name, expiry and term indexes
 * in @p txn. Continue with store__rebuild_batch() in the same or later transactions.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__rebuild_begin(struct store *st, MDB_txn *txn);

/**
 * Index up to @p batch records with counters above @p *after, in counter order, in @p txn.
 * When the last record is done, also make sure the next counter is above every record's.
 *
 * @param after    In: the last counter indexed (0 at first). Out: the last one now.
 * @param done     Incremented by the records indexed.
 * @param skipped  Incremented by the records that do not decode (left in place, unindexed).
 * @param finished Written with 1 when no record is left after @p *after, else 0.
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__rebuild_batch(struct store *st, MDB_txn *txn, size_t batch, uint64_t *after,
                         uint64_t *done, uint64_t *skipped, int *finished);

/**
 * Bring a store opened at an older schema version up to STORE_SCHEMA_VERSION (store_migrate.c),
 * reporting to @p opt->migrate_fn. Called by store_open() once the databases are open.
 *
 * @return RD_OK; RD_EFULL; RD_ENOMEM; RD_ESTORE (also when stopped by the callback).
 */
int store__migrate(struct store *st, const struct store_options *opt);

/**
 * Append the staged event, if any, for the registration @p counter in @p txn, and trim the
 * journal to its retention; the stage is emptied either way.
 *
 * @return RD_OK; RD_EFULL; RD_ENOMEM; RD_ESTORE.
 */
int store__journal_staged(struct store *st, MDB_txn *txn, uint64_t counter);

/** Record @p revision as the cluster revision the store holds, in @p txn (store_remote.c).
 * @return RD_OK; RD_EFULL; RD_ESTORE. */
int store__remote_put_revision(struct store *st, MDB_txn *txn, int64_t revision);

/** Drop the staged event (a write that fails or changes nothing). */
void store__journal_unstage(struct store *st);

/**
 * Append the event of the collected registration @p rec of @p counter in @p txn, as the
 * configured store_expired_fn encodes it, and trim.
 *
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store__journal_expired(struct store *st, MDB_txn *txn, uint64_t counter,
                           const struct store__rec *rec);

#endif
