/* Registration persistence: the whole public API of store/ (LMDB behind it, never in it). */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rd_status.h"

/**
 * An open registration database. Opaque: only store/ sees its fields.
 *
 * The store knows registrations by three things only: their identity (sector and endpoint
 * name, unique together), their deadline, and an opaque record that the caller encodes. It
 * knows nothing of CoAP or link-format. Every change is one atomic transaction: a crash leaves
 * either the old or the new state, never a mixture.
 *
 * A store is used from one thread at a time; a view from store_snap_open() may be read on
 * another thread meanwhile.
 */
struct store;

/** When committed transactions reach the disk. */
enum store_sync {
    /** fsync at every commit: nothing acknowledged is lost, even on power failure. */
    STORE_SYNC_ALWAYS = 0,
    /**
     * No fsync at commit; store_sync() flushes (the server calls it on a timer). A crash of the
     * process loses nothing (commits are in the OS page cache); a power failure or OS crash can
     * lose the commits since the last store_sync() and, unless the file system preserves write
     * order, damage the database (LMDB's documented risk of its no-sync mode).
     */
    STORE_SYNC_PERIODIC = 1,
    /** Flush only at store_free(). A process crash still loses nothing. */
    STORE_SYNC_NEVER = 2,
};

/** What a migration is telling store_open()'s caller. */
enum store_migrate_event {
    STORE_MIGRATE_START = 0,    /**< about to migrate; @c resumed says whether a run was cut */
    STORE_MIGRATE_PROGRESS = 1, /**< one more transaction committed */
    STORE_MIGRATE_END = 2,      /**< the directory is at this core-rd's schema version */
};

/** Where a migration stands, handed to a store_migrate_fn. */
struct store_migrate_status {
    enum store_migrate_event event;
    uint32_t from;    /**< the directory's schema version as store_open() found it */
    uint32_t to;      /**< this core-rd's schema version */
    uint32_t step;    /**< the step running, from @c step to @c step + 1 */
    const char *what; /**< what that step does, in words; static */
    uint64_t done;    /**< registrations the step has converted, earlier runs included (at
                          START: what the cut run had done) */
    uint64_t total;   /**< registrations in the directory */
    uint64_t skipped; /**< records that do not decode, left as they are (this run) */
    int resumed;      /**< START: an interrupted migration is being finished */
};

/**
 * Receives the progress of a migration during store_open(), after each committed transaction.
 *
 * @return 0 to go on; non-zero to stop after the transaction just committed (store_open() then
 *         fails with RD_ESTORE, and the next store_open() resumes where this one stopped).
 */
typedef int (*store_migrate_fn)(void *arg, const struct store_migrate_status *s);

struct store_reg;
struct store_term;

/**
 * Weighs a stored registration that has no weights, for a migration (see store_reg.weighed):
 * writes the eps and links of each of @p terms (the registration's own terms, in its order,
 * with their data and len set) and @p nlinks. @p reg has ep, d, expires_at and data.
 *
 * @return 0 when done; non-zero to leave the registration without weights.
 */
typedef int (*store_weigh_fn)(void *arg, const struct store_reg *reg, struct store_term *terms,
                              size_t nterms, uint32_t *nlinks);

/** How to open a store. Zeroed fields take their defaults. */
struct store_options {
    const char *dir;   /**< data directory; created (with parents) when missing */
    uint64_t map_size; /**< maximum database size in bytes; 0 = 1 GiB */
    enum store_sync sync;
    store_migrate_fn migrate_fn; /**< NULL, or told the progress of a migration */
    void *migrate_arg;           /**< passed to migrate_fn */
    size_t migrate_batch;        /**< registrations per migration transaction; 0 = 10000 */
    /**
     * NULL, or how a migration weighs the registrations it finds without weights. Without it
     * they stay so, and store_rank_seek() declines until each is written again.
     */
    store_weigh_fn weigh_fn;
    void *weigh_arg; /**< passed to weigh_fn */
    /**
     * Open a directory of an older schema version as it is, without migrating it. Such a store
     * serves store_schema_version(), store_info() and store_backup() only.
     */
    int no_migrate;
};

/**
 * A term under which a registration can be found, e.g. "rt=temperature". Opaque bytes to the
 * store, which keeps an ordered index of them so a prefix of a term finds its registrations.
 */
struct store_term {
    const void *data;
    size_t len; /**< 1 to 400 bytes */
    /** With store_reg.weighed: 1 when an endpoint lookup of exactly this term matches the
     * registration, else 0 (what store_rank_seek() counts in STORE_RANK_EPS). */
    uint32_t eps;
    /** With store_reg.weighed: how many of the registration's links a resource lookup of
     * exactly this term matches (what store_rank_seek() counts in STORE_RANK_LINKS). */
    uint32_t links;
};

/**
 * One registration as the store sees it.
 *
 * Passed to store_reg_put() it is borrowed for the call. Handed to a store_reg_fn it is
 * borrowed for the callback only: copy what must outlive it.
 */
struct store_reg {
    uint64_t id;        /**< opaque, assigned by the store, never reused in this store */
    const char *ep;     /**< endpoint name, NUL-terminated, 1 to 63 bytes */
    const char *d;      /**< sector, NUL-terminated, "" for none; at most 63 bytes */
    int64_t expires_at; /**< seconds since the epoch; not shown by reads from then on */
    const void *data;   /**< the caller's record */
    size_t data_len;
    const struct store_term *terms; /**< index terms; ignored by reads (NULL there) */
    size_t nterms;
    /**
     * The caller set the weights of every term and @c nlinks: store_rank_seek() can count this
     * registration. Ignored by reads. A store holding any registration put without weights
     * leaves store_rank_seek() to decline until that registration is replaced or gone.
     */
    int weighed;
    uint32_t nlinks; /**< with @c weighed: its links, counted by an unfiltered resource lookup */
};

/**
 * Receives a registration during a read.
 *
 * @return 0 to go on, non-zero to stop the iteration (the read then returns that value).
 */
typedef int (*store_reg_fn)(void *arg, const struct store_reg *reg);

/**
 * Open (creating when needed) the store in @p opt->dir.
 *
 * A directory written at an older schema version is migrated in place first (unless
 * @p opt->no_migrate), step by step, in transactions that each leave it consistent: one cut
 * short by a crash or by @p opt->migrate_fn is finished by the next store_open(). The schema
 * version changes only in the transaction that ends a step.
 *
 * @param out Written with a new store on success; free it with store_free().
 * @return RD_OK; RD_EINVAL for a bad option; RD_ESTORE when the directory or database cannot be
 *         opened, was written by a newer schema version, or its migration failed or was stopped
 *         (the message goes to @p err when it is not NULL, at most @p err_size bytes); RD_EFULL
 *         when a migration ran out of map or disk (nothing of the running transaction stays);
 *         RD_ENOMEM.
 */
int store_open(struct store **out, const struct store_options *opt, char *err, size_t err_size);

/** Flush and close; a view of store_snap_open() is only closed. Accepts NULL. */
void store_free(struct store *st);

/**
 * The schema version of the open directory: store_schema_current() once store_open() has
 * migrated it, older only when opened with no_migrate.
 */
uint32_t store_schema_version(const struct store *st);

/** The schema version this core-rd writes. */
uint32_t store_schema_current(void);

/**
 * Open a read-only view of @p st at one snapshot: every read on the view (store_reg_get,
 * store_reg_find, store_reg_foreach, store_term_foreach, store_term_foreach_after,
 * store_rank_seek, store_count, store_next_deadline, ...) sees the registrations as they were
 * when it was opened, whatever is written to @p st meanwhile. Writes on the view fail with
 * RD_EINVAL. The view has its own store_errmsg().
 *
 * The view may be used on another thread than @p st (one thread at a time), concurrently with
 * @p st. It pins the pages of its snapshot: close it soon, with store_free(), before @p st.
 *
 * @param out Written with the view on success.
 * @return RD_OK; RD_EINVAL when @p st is itself a view; RD_ENOMEM; RD_ESTORE (no reader slot
 *         left, with a message on @p st).
 */
int store_snap_open(struct store *st, struct store **out);

/**
 * Let go of the snapshot of the view @p view, keeping its reader slot: the store may reuse
 * the pages only it held. Reads on the view fail with RD_ESTORE until store_snap_renew().
 * Does nothing on a view already released or on a store that is not a view.
 */
void store_snap_release(struct store *view);

/**
 * Move the view @p view to the store as it is now (a released view takes its snapshot again):
 * reads from now on see every write committed before this call. On the view's thread, between
 * reads (not from inside a store_reg_fn).
 *
 * @return RD_OK; RD_EINVAL (not a view, or called during a read); RD_ESTORE (the view stays
 *         released; store_errmsg(@p view) says why).
 */
int store_snap_renew(struct store *view);

/**
 * Describe the last failure on @p st.
 *
 * @return A string owned by @p st, valid until the next store_* call on it.
 */
const char *store_errmsg(const struct store *st);

/**
 * Flush committed transactions to disk (used in STORE_SYNC_PERIODIC mode).
 *
 * @return RD_OK or RD_ESTORE.
 */
int store_sync(struct store *st);

/**
 * Flush committed transactions to disk, like store_sync(), from any thread: it may run
 * concurrently with every other call on @p st, and leaves store_errmsg() alone.
 *
 * @param err Written with a reason on failure.
 * @return RD_OK or RD_ESTORE.
 */
int store_flush(struct store *st, char *err, size_t err_size);

/**
 * Open a write batch: until store_batch_commit(), store_reg_put(), store_reg_replace(),
 * store_reg_touch() and store_reg_delete() write into one shared transaction instead of one
 * each, and reads on @p st see those writes. A caller that answers for a write must not let the
 * answer out before store_batch_commit() returns RD_OK.
 *
 * Input that a write refuses (RD_EINVAL, RD_ENOTFOUND, RD_ECONFLICT) leaves the batch as it
 * was. A failure after a write began to change data (the map or disk full, a damaged record,
 * LMDB's own errors) loses the whole batch: its transaction is aborted, every later write of it
 * fails with RD_ESTORE, and store_batch_commit() reports the loss. Any other write transaction
 * (the expiry sweep, a migration) commits the pending writes first, and so may a write that
 * needs more room than the batch has left: writes may become durable before the commit, never
 * after it.
 *
 * @return RD_OK; RD_EINVAL when a batch is open already.
 */
int store_batch_begin(struct store *st);

/** Whether the open batch is lost (a write of it failed half-way): 1 or 0. */
int store_batch_lost(const struct store *st);

/**
 * Commit the writes of the open batch and close it. Accepts a store with no batch open.
 *
 * @return RD_OK when every write of the batch that returned RD_OK is committed (as the sync mode
 *         commits); RD_ESTORE or RD_EFULL when some of them are lost (store_errmsg() says why).
 */
int store_batch_commit(struct store *st);

/**
 * Create or replace the registration of (@p reg->d, @p reg->ep), with its terms, in one
 * transaction. An existing registration with that identity keeps its id, expired or not.
 *
 * @param id      Written with the registration's id on success.
 * @param created Written with 1 when a new registration was made, 0 when one was replaced.
 * @return RD_OK; RD_EINVAL (bad name, term or deadline); RD_EFULL (the map is full; nothing
 *         changed); RD_ESTORE; RD_ENOMEM.
 */
int store_reg_put(struct store *st, const struct store_reg *reg, uint64_t *id, int *created);

/**
 * Replace the record, deadline and terms of the registration @p id, which must still exist
 * (live or expired but not collected). @p reg->ep and @p reg->d must equal the stored ones.
 *
 * @return RD_OK; RD_ENOTFOUND; RD_ECONFLICT when ep or d differ; RD_EFULL; RD_ESTORE; RD_EINVAL.
 */
int store_reg_replace(struct store *st, uint64_t id, const struct store_reg *reg);

/**
 * Replace the record and deadline of the registration @p id and keep its terms and their
 * weights: store_reg_replace() for a caller that knows the terms it would give are the stored
 * ones, but perhaps for @p require. Its index entries and counts stay as they are.
 *
 * @param reg     ep and d (equal to the stored ones), expires_at and data; its terms, nterms,
 *                nlinks and weighed are not read.
 * @param require NULL, or a term the registration must have among its own (not copied).
 * @return RD_OK; RD_ENOTFOUND; RD_ECONFLICT when ep or d differ, @p require is not the
 *         registration's, or the stored record has no weights (nothing written: a full
 *         store_reg_replace() gives them); RD_EFULL; RD_ESTORE; RD_EINVAL; RD_ENOMEM.
 */
int store_reg_rewrite(struct store *st, uint64_t id, const struct store_reg *reg,
                      const struct store_term *require);

/**
 * Move the deadline of the registration @p id (live or expired but not collected) to
 * @p expires_at and change nothing else: a lifetime refresh. With @p term, only when the
 * registration has that term among its own (what a refresh must not change, such as the
 * address the registration is counted under).
 *
 * @param term NULL, or a term to require (not copied).
 * @return RD_OK; RD_ENOTFOUND; RD_ECONFLICT when @p term is not the registration's; RD_EFULL;
 *         RD_ESTORE.
 */
int store_reg_touch(struct store *st, uint64_t id, int64_t expires_at,
                    const struct store_term *term);

/**
 * Delete the registration @p id (live or expired but not collected) with its terms.
 *
 * @return RD_OK; RD_ENOTFOUND; RD_ESTORE.
 */
int store_reg_delete(struct store *st, uint64_t id);

/**
 * Create or replace the registration of (@p reg->d, @p reg->ep) under the given @p id, which
 * the caller chose (a cluster's copy: every node keeps a registration under the same id, see
 * store_remote_join()). A registration with the same name under another id is removed, and
 * the store's own ids continue above this one.
 *
 * @param created Written with 1 when no registration had @p id, else 0 (may be NULL).
 * @return RD_OK; RD_EINVAL (bad name, term or deadline); RD_ENOTFOUND (no counter has @p id);
 *         RD_EFULL; RD_ESTORE; RD_ENOMEM.
 */
int store_reg_put_at(struct store *st, uint64_t id, const struct store_reg *reg, int *created);

/** With store_reg_get(): return the registration also when it has expired but not been
 * collected yet. */
#define STORE_GET_EXPIRED 1u

/**
 * Read the registration @p id and hand it to @p fn.
 *
 * A registration with expires_at <= @p now is not found unless @p flags has STORE_GET_EXPIRED.
 *
 * @return RD_OK (or fn's non-zero value); RD_ENOTFOUND; RD_ESTORE.
 */
int store_reg_get(struct store *st, uint64_t id, int64_t now, unsigned flags, store_reg_fn fn,
                  void *arg);

/**
 * Read the live registration of (@p d, @p ep) and hand it to @p fn.
 *
 * @return RD_OK (or fn's non-zero value); RD_ENOTFOUND; RD_ESTORE.
 */
int store_reg_find(struct store *st, const char *d, const char *ep, int64_t now, store_reg_fn fn,
                   void *arg);

/**
 * Hand every live registration to @p fn, oldest first (the order is stable while the store
 * does not change), starting after the registration @p after (0: from the first).
 *
 * @return RD_OK (or fn's non-zero value); RD_ESTORE.
 */
int store_reg_foreach(struct store *st, int64_t now, uint64_t after, store_reg_fn fn, void *arg);

/**
 * Hand to @p fn each live registration that has a term beginning with @p prefix, ordered by
 * term and then by age. A registration with several such terms is handed over once per term.
 *
 * @return RD_OK (or fn's non-zero value); RD_ESTORE.
 */
int store_term_foreach(struct store *st, const void *prefix, size_t prefix_len, int64_t now,
                       store_reg_fn fn, void *arg);

/** Where a walk of store_term_foreach_from() stands: a term and a registration under it. */
struct store_term_pos {
    unsigned char term[400]; /**< STORE_TERM_MAX bytes at most */
    size_t len;
    uint64_t id;
};

/**
 * store_term_foreach() that can resume: it starts at @p from (NULL: at the first term of the
 * prefix), the term and registration a paused walk had reached, or the next ones when those
 * have gone; and before handing each registration to @p fn it writes into @p at where it
 * stands, so that a walk @p fn stopped resumes at that very registration, in a newer snapshot.
 *
 * @return RD_OK (or fn's non-zero value); RD_EINVAL; RD_ESTORE.
 */
int store_term_foreach_from(struct store *st, const void *prefix, size_t prefix_len,
                            const struct store_term_pos *from, struct store_term_pos *at,
                            int64_t now, store_reg_fn fn, void *arg);

/**
 * Hand to @p fn each live registration that has exactly the term @p term, oldest first (the
 * order of store_reg_foreach()), starting after the registration @p after (0: from the first).
 * Lets a paged lookup resume where an earlier page ended.
 *
 * @return RD_OK (or fn's non-zero value); RD_ESTORE.
 */
int store_term_foreach_after(struct store *st, const void *term, size_t term_len, int64_t now,
                             uint64_t after, store_reg_fn fn, void *arg);

/** What store_rank_seek() counts. */
enum store_rank_unit {
    STORE_RANK_EPS = 0,   /**< registrations (the eps weights; 1 each without a term) */
    STORE_RANK_LINKS = 1, /**< links (the links weights; nlinks each without a term) */
};

/**
 * Find where the match of rank @p rank (0 = the first) of an ordered walk begins, without
 * walking the matches before it: in O(log N) reads of counted checkpoints kept with the index.
 *
 * The walk is store_term_foreach_after() on @p term (or store_reg_foreach() when @p term_len is
 * 0), and a registration there counts its weight for @p term in @p unit (see store_term):
 * starting it after @p after and passing over @p skip counted matches reaches the match of
 * rank @p rank. Registrations hidden at @p now (expired, not collected yet) count nothing, as
 * the walk does not show them.
 *
 * @param veto   NULL, or a term that makes the seek decline when any registration has it with
 *               a non-zero eps weight (registrations that some readers must not see).
 * @param after  Written with the id to start the walk after (0: from the first). When fewer than
 *               @p rank + 1 matches are visible, a place after the last of them.
 * @param skip   Written with the counted matches to pass over from there.
 * @return RD_OK; RD_ECONFLICT when the counts cannot answer (a registration without weights,
 *         a vetoed one, or too many expired ones not collected yet): walk from the first;
 *         RD_EINVAL for a bad term; RD_ESTORE.
 */
int store_rank_seek(struct store *st, const void *term, size_t term_len, enum store_rank_unit unit,
                    int64_t now, uint64_t rank, const struct store_term *veto, uint64_t *after,
                    uint64_t *skip);

/**
 * Delete for good the registrations with expires_at < @p before, at most @p max of them, oldest
 * deadline first, in one transaction.
 *
 * @param n Written with the number deleted.
 * @return RD_OK; RD_ESTORE.
 */
int store_expire(struct store *st, int64_t before, size_t max, size_t *n);

/**
 * Find the earliest deadline at or after @p from.
 *
 * @param when Written with that deadline.
 * @return RD_OK; RD_ENOTFOUND when there is none; RD_ESTORE.
 */
int store_next_deadline(struct store *st, int64_t from, int64_t *when);

/**
 * Count stored registrations, live and expired-but-not-collected.
 *
 * @return RD_OK; RD_ESTORE.
 */
int store_count(struct store *st, size_t *n);

/** Size figures of an open store. */
struct store_info {
    uint64_t map_size;    /**< bytes the database may grow to */
    uint64_t used_bytes;  /**< bytes of pages in use (up to the highest page written) */
    uint64_t page_size;   /**< bytes */
    size_t registrations; /**< stored, live and expired-but-not-collected */
};

/**
 * Read the size figures of @p st.
 *
 * @param out Written on success only.
 * @return RD_OK; RD_ESTORE.
 */
int store_info(struct store *st, struct store_info *out);

/**
 * Write a consistent, compacted copy of the store into the directory @p dir (created when
 * missing; it must not already hold a database). Safe while another process writes the store.
 *
 * @return RD_OK; RD_ESTORE (store_errmsg() says why).
 */
int store_backup(struct store *st, const char *dir);

/** What store_check() looked at and how much was wrong. */
struct store_check_report {
    size_t records;  /**< registration records */
    size_t names;    /**< (d, ep) index entries */
    size_t expiry;   /**< deadline index entries */
    size_t terms;    /**< term index entries */
    size_t counts;   /**< counted checkpoints of store_rank_seek() */
    size_t problems; /**< inconsistencies found */
};

/** Receives one inconsistency found by store_check(); @p msg is valid for the call only. */
typedef void (*store_problem_fn)(void *arg, const char *msg);

/**
 * Check the store's integrity in one snapshot: every record decodes and has its name, deadline
 * and term entries, and every index entry points at a record that agrees with it.
 *
 * @param rep Always written (zeroed first).
 * @param fn  Called once per inconsistency (may be NULL).
 * @return RD_OK whether or not problems were found (see rep->problems); RD_ESTORE when the
 *         store cannot be read.
 */
int store_check(struct store *st, struct store_check_report *rep, store_problem_fn fn, void *arg);

/**
 * The change journal (schema version 4): every write of a registration made after
 * store_journal_stage() and every collection by store_expire() appends one event to it, in the
 * same transaction as the change, so the journal never disagrees with the registrations. Event
 * ids start at 1 and strictly increase across the life of the store, trimmed events included.
 * The event's bytes are the caller's: the store keeps them as they are.
 */
struct store_event {
    uint64_t id;      /**< event id, strictly increasing */
    int64_t time;     /**< seconds since the epoch, from store_journal_clock() */
    uint64_t reg_id;  /**< the registration the change was made to */
    const void *data; /**< the caller's bytes; borrowed, valid during the callback only */
    size_t len;
};

/** Receives one journal event; a nonzero return stops the read (and is returned by it). */
typedef int (*store_event_fn)(void *arg, const struct store_event *ev);

/**
 * Encodes the event of a registration that store_expire() collects, inside its transaction.
 *
 * @param reg   The registration (ep, d, data; terms NULL); borrowed for the call.
 * @param data  Set to the event's bytes, owned by the callee and valid until its next call.
 * @return 0, or nonzero to record the expiry without an event (a record that cannot be told).
 */
typedef int (*store_expired_fn)(void *arg, const struct store_reg *reg, const void **data,
                                size_t *len);

/**
 * Configure the journal of @p st: how much of it is retained and how expiries are encoded.
 * Until this is called nothing is journalled (and nothing is trimmed).
 *
 * @param retain_events Events kept at most (at least 1); older ones are trimmed as new ones
 *                      are appended, in the same transactions.
 * @param retain_seconds Events older than this are trimmed likewise (0: no age limit).
 * @param expired_fn     NULL, or encodes the event of a collected registration.
 */
void store_journal_config(struct store *st, uint64_t retain_events, int64_t retain_seconds,
                          store_expired_fn expired_fn, void *arg);

/** Set the time stamped on the events appended from now on, and trimmed against. */
void store_journal_clock(struct store *st, int64_t now);

/**
 * Stage the event of the next registration write on @p st (store_reg_put(), _replace(),
 * _touch() or _delete()): it is appended in that write's transaction if it commits, and
 * dropped otherwise, or when the write changes nothing. A later stage replaces an earlier one.
 *
 * @param data Copied.
 * @return RD_OK; RD_ENOMEM; RD_ETOOBIG above 1 MiB.
 */
int store_journal_stage(struct store *st, const void *data, size_t len);

/** Where the journal stands. */
struct store_journal_info {
    uint64_t first; /**< id of the oldest retained event; last + 1 when none is retained */
    uint64_t last;  /**< id of the newest event ever appended; 0 before the first */
    size_t events;  /**< retained */
};

/**
 * Read where the journal of @p st stands.
 *
 * @return RD_OK; RD_ESTORE.
 */
int store_journal_info(struct store *st, struct store_journal_info *out);

/**
 * Hand the retained events with ids above @p after, oldest first, to @p fn, at most @p max
 * of them, from one snapshot.
 *
 * @param last Written with the id of the last event handed over (@p after when none).
 * @return RD_OK; RD_ESTORE; or what @p fn returned when it stopped the read.
 */
int store_journal_read(struct store *st, uint64_t after, size_t max, store_event_fn fn, void *arg,
                       uint64_t *last);

/**
 * A store as the local copy of a cluster (store_remote.c). The registrations then mirror a
 * shared database that numbers its writes with revisions: each write applied from it also
 * records its revision, in the same transaction, so a restart resumes from exactly there.
 */

/**
 * Make the store a copy of the cluster whose ids are keyed by @p secret: when its own key
 * differs, every registration (and its indexes) is dropped and the key replaced, in one
 * transaction; the journal keeps its events. A store already keyed so is left as it is.
 *
 * @param reset Written with 1 when registrations were dropped (or the store was no cluster's
 *              copy yet), else 0.
 * @return RD_OK; RD_EFULL; RD_ESTORE.
 */
int store_remote_join(struct store *st, uint64_t secret, int *reset);

/**
 * The cluster revision the registrations are at: 0 when the store holds no cluster's data.
 * @return RD_OK; RD_ESTORE.
 */
int store_remote_revision(struct store *st, int64_t *revision);

/** Make the next write of a registration (put, replace, touch, delete) also record
 * @p revision, in its transaction. Dropped when that write fails or changes nothing. */
void store_remote_stage(struct store *st, int64_t revision);

/** Record @p revision alone (a revision that changed nothing here). @return RD_OK; RD_EFULL;
 * RD_ESTORE. */
int store_remote_mark(struct store *st, int64_t revision);

/** The id a registration stored under the cluster's number @p seq (1 to 2^40 - 1) has. */
uint64_t store_remote_id(const struct store *st, uint64_t seq);

/** The cluster's number of the registration @p id. @return RD_OK; RD_ENOTFOUND. */
int store_remote_seq(const struct store *st, uint64_t id, uint64_t *seq);

/**
 * Hand to @p fn the registrations with expires_at < @p before, oldest deadline first, at most
 * @p max of them, expired or not (they are not removed).
 * @return RD_OK (or fn's non-zero value); RD_ESTORE.
 */
int store_remote_due(struct store *st, int64_t before, size_t max, store_reg_fn fn, void *arg);

#endif
