/* LMDB environment lifecycle, schema version check, error mapping and the shared read txn. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

#define STORE_DEFAULT_MAP_SIZE (UINT64_C(1) << 30)
#define STORE_DIR_MODE         0750
#define STORE_FILE_MODE        0640
#define STORE_MAX_DBS          8

int
store__from_mdb(struct store *st, int mdb_rc, const char *what)
{
    if (mdb_rc == MDB_SUCCESS) {
        return RD_OK;
    }
    /* mdb_strerror() names LMDB's own codes ("MDB_MAP_FULL: ...") and falls back to strerror()
     * for errno values, so the message reads the same either way. */
    snprintf(st->errmsg, sizeof(st->errmsg), "%s: %s", what, mdb_strerror(mdb_rc));
    if (mdb_rc == MDB_MAP_FULL || mdb_rc == MDB_TXN_FULL) {
        return RD_EFULL;
    }
    if (mdb_rc == ENOMEM) {
        return RD_ENOMEM;
    }
    return RD_ESTORE;
}

int
store__fail(struct store *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
    va_end(ap);
    return RD_ESTORE;
}

int
store__read_begin(struct store *st, MDB_txn **txn)
{
    MDB_txn *t = NULL;
    int rc;

    if (st->snap) {
        /* Every read of a view sees the snapshot taken when it was opened (or renewed). */
        if (st->snap_released) {
            snprintf(st->errmsg, sizeof(st->errmsg), "the snapshot was released");
            return RD_ESTORE;
        }
        st->reading++;
        *txn = st->rtxn;
        return RD_OK;
    }
    /* A batch's reads see its own writes: an update reads what an earlier one wrote. */
    if (st->batch_txn) {
        st->reading++;
        *txn = st->batch_txn;
        return RD_OK;
    }
    if (st->reading == 0) {
        rc = store__from_mdb(st, mdb_txn_renew(st->rtxn), "renew read txn");
        if (rc) {
            return rc;
        }
        t = st->rtxn;
    } else {
        /* A callback is reading while an outer read holds the shared transaction: resetting it
         * underneath the outer iteration would pull its cursor away, so take a private one.
         * MDB_NOTLS lets one thread hold several read transactions. */
        rc = store__from_mdb(st, mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t), "begin read txn");
        if (rc) {
            return rc;
        }
    }
    st->reading++;
    *txn = t;
    return RD_OK;
}

void
store__read_end(struct store *st, MDB_txn *txn)
{
    st->reading--;
    if (st->snap || txn == st->batch_txn) {
        return;
    }
    if (txn == st->rtxn) {
        /* A reset transaction releases its snapshot, so writers may reuse old pages. */
        mdb_txn_reset(txn);
    } else {
        mdb_txn_abort(txn);
    }
}

int
store__read_cursor(struct store *st, MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
    MDB_cursor **shared = NULL;
    MDB_cursor *c = NULL;
    int rc;

    /* A batch's reads see its own writes, the term entries it holds back too. */
    if (txn == st->batch_txn && dbi == st->terms) {
        rc = store__append_flush(st, txn);
        if (rc) {
            return rc;
        }
    }
    if (txn == st->rtxn) {
        if (dbi == st->regs) {
            shared = &st->rcur_regs;
        } else if (dbi == st->terms) {
            shared = &st->rcur_terms;
        } else if (dbi == st->expiry) {
            shared = &st->rcur_expiry;
        }
    }
    if (shared && *shared) {
        rc = store__from_mdb(st, mdb_cursor_renew(txn, *shared), "renew cursor");
        if (rc) {
            return rc;
        }
        *cur = *shared;
        return RD_OK;
    }
    rc = store__from_mdb(st, mdb_cursor_open(txn, dbi, &c), "open cursor");
    if (rc) {
        return rc;
    }
    if (shared) {
        *shared = c;
    }
    *cur = c;
    return RD_OK;
}

void
store__read_cursors_close(struct store *st)
{
    if (st->rcur_regs) {
        mdb_cursor_close(st->rcur_regs);
    }
    if (st->rcur_terms) {
        mdb_cursor_close(st->rcur_terms);
    }
    if (st->rcur_expiry) {
        mdb_cursor_close(st->rcur_expiry);
    }
    st->rcur_regs = NULL;
    st->rcur_terms = NULL;
    st->rcur_expiry = NULL;
}

void
store__read_cursor_close(struct store *st, MDB_cursor *cur)
{
    if (cur && cur != st->rcur_regs && cur != st->rcur_terms && cur != st->rcur_expiry) {
        mdb_cursor_close(cur);
    }
}

/* Create @p dir and its missing parents, like mkdir -p. */
static int
make_dir(struct store *st, const char *dir)
{
    char *path = strdup(dir);
    struct stat sb;
    int rc = RD_OK;

    if (!path) {
        snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
        return RD_ENOMEM;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, STORE_DIR_MODE) != 0 && errno != EEXIST) {
            rc = store__fail(st, "create directory %s: %s", path, strerror(errno));
            goto out;
        }
        *p = '/';
    }
    if (mkdir(path, STORE_DIR_MODE) != 0 && errno != EEXIST) {
        rc = store__fail(st, "create directory %s: %s", path, strerror(errno));
        goto out;
    }
    if (stat(path, &sb) != 0) {
        rc = store__fail(st, "directory %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = store__fail(st, "%s is not a directory", path);
    }
out:
    free(path);
    return rc;
}

/* Check the schema of an existing store, or write the meta entries of a new one. */
static int
check_schema(struct store *st, MDB_txn *txn)
{
    MDB_val key = { sizeof(STORE_META_VERSION) - 1, (void *)(uintptr_t)STORE_META_VERSION };
    MDB_val val = { 0, NULL };
    MDB_stat ms;
    uint64_t version;
    int rc;

    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        rc = store__from_mdb(st, mdb_stat(txn, st->regs, &ms), "stat registrations");
        if (rc) {
            return rc;
        }
        /* Registrations without a version are not ours to guess about. */
        if (ms.ms_entries != 0) {
            return store__fail(st, "schema version missing, expected %d", STORE_SCHEMA_VERSION);
        }
        st->version = STORE_SCHEMA_VERSION;
        return store__id_init(st, txn);
    }
    rc = store__from_mdb(st, rc, "get schema version");
    if (rc) {
        return rc;
    }
    if (val.mv_size != 4) {
        return store__fail(st, "schema version: corrupt (%zu bytes)", val.mv_size);
    }
    version = store__get_be(val.mv_data, 4);
    if (version > STORE_SCHEMA_VERSION) {
        return store__fail(st,
                           "schema version %llu is newer than this core-rd's %d: run a newer "
                           "core-rd, or restore the backup taken before the upgrade",
                           (unsigned long long)version, STORE_SCHEMA_VERSION);
    }
    if (version == 0) {
        return store__fail(st, "schema version 0 is not one core-rd ever wrote");
    }
    st->version = (uint32_t)version;
    if (version < STORE_SCHEMA_VERSION) {
        key.mv_size = sizeof(STORE_META_MIGRATION) - 1;
        key.mv_data = (void *)(uintptr_t)STORE_META_MIGRATION;
        /* Where a cut run stopped, for the caller's log; the migration itself reads it
         * again in its own transaction. */
        if (mdb_get(txn, st->meta, &key, &val) == MDB_SUCCESS) {
            st->migration_cut = 1;
            if (val.mv_size == STORE_META_MIGRATION_SIZE) {
                st->migration_done = store__get_be((const unsigned char *)val.mv_data + 12, 8);
            }
        }
    }
    key.mv_size = sizeof(STORE_META_SECRET) - 1;
    key.mv_data = (void *)(uintptr_t)STORE_META_SECRET;
    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && val.mv_size != 8)) {
        return store__fail(st, "id secret missing or corrupt");
    }
    rc = store__from_mdb(st, rc, "get id secret");
    if (rc) {
        return rc;
    }
    st->secret = store__get_be(val.mv_data, 8);
    return RD_OK;
}

/* Open the databases, check or create the schema, in one write transaction. */
static int
open_dbs(struct store *st, int no_migrate)
{
    MDB_txn *txn = NULL;
    int rc;

    rc = store__write_begin(st, &txn, 0);
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_dbi_open(txn, STORE_DB_META, MDB_CREATE, &st->meta), "open meta");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_dbi_open(txn, STORE_DB_REGS, MDB_CREATE, &st->regs), "open regs");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_dbi_open(txn, STORE_DB_NAMES, MDB_CREATE, &st->names),
                         "open names");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_dbi_open(txn, STORE_DB_EXPIRY, MDB_CREATE, &st->expiry),
                         "open expiry");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(
        st, mdb_dbi_open(txn, STORE_DB_TERMS, MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &st->terms),
        "open terms");
    if (rc) {
        goto out;
    }
    rc = check_schema(st, txn);
    if (rc) {
        goto out;
    }
    /* An older directory opened as it is gets nothing new; one about to be migrated gets the
     * counts its migration fills. */
    if (st->version < STORE_SCHEMA_VERSION && no_migrate) {
        rc = mdb_dbi_open(txn, STORE_DB_COUNTS, 0, &st->counts);
        st->has_counts = rc == MDB_SUCCESS;
        rc = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    } else {
        rc = mdb_dbi_open(txn, STORE_DB_COUNTS, MDB_CREATE, &st->counts);
        st->has_counts = rc == MDB_SUCCESS;
    }
    rc = store__from_mdb(st, rc, "open counts");
    if (rc) {
        goto out;
    }
    if (st->version < STORE_SCHEMA_VERSION && no_migrate) {
        rc = mdb_dbi_open(txn, STORE_DB_JOURNAL, 0, &st->journal);
        st->has_journal = rc == MDB_SUCCESS;
        rc = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    } else {
        rc = mdb_dbi_open(txn, STORE_DB_JOURNAL, MDB_CREATE, &st->journal);
        st->has_journal = rc == MDB_SUCCESS;
    }
    rc = store__from_mdb(st, rc, "open journal");
    if (rc) {
        goto out;
    }
    /* The database handles become usable by later transactions only once this one commits. */
    rc = store__from_mdb(st, mdb_txn_commit(txn), "commit");
    txn = NULL; /* mdb_txn_commit() frees the txn even when it fails */
out:
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* Room kept allocated beyond LMDB's high-water mark before a write transaction begins. It
 * exceeds what one transaction can dirty: a registration at the largest payload with all its
 * index entries, or an expiry slice of a few hundred registrations. */
#define STORE_ALLOC_HEADROOM ((uint64_t)32 << 20)
#define STORE_ALLOC_MIN_STEP ((uint64_t)16 << 20)

static uint64_t
alloc_target(uint64_t used, uint64_t map_size)
{
    uint64_t step = used / 8 > STORE_ALLOC_MIN_STEP ? used / 8 : STORE_ALLOC_MIN_STEP;
    uint64_t want = used + STORE_ALLOC_HEADROOM + step;

    return want < map_size ? want : map_size;
}

/* Room left at the end of the map below which a batch puts its term entries at once, not
 * together at its commit (store_append.c): a full map must refuse the write that fills it with
 * a clean 5.03, not fail the commit of the whole batch, whose answers are then dropped. Twice
 * what a batch may take before it commits (store_batch.c). */
#define STORE_APPEND_ROOM_MIN ((uint64_t)32 << 20)

static int
append_room(struct store *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    uint64_t used;

    if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &ms)) {
        return 0;
    }
    used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    return used < info.me_mapsize && info.me_mapsize - used > STORE_APPEND_ROOM_MIN;
}

int
store__write_begin(struct store *st, MDB_txn **txn, uint64_t extra)
{
    MDB_envinfo info;
    MDB_stat ms;
    uint64_t used;
    uint64_t want;
    mdb_filehandle_t fd;
    int err;

    if (st->snap) {
        snprintf(st->errmsg, sizeof(st->errmsg), "a snapshot is read-only");
        return RD_EINVAL;
    }
    /* LMDB has one writer: pending writes of a batch go first. */
    err = store__batch_settle(st);
    if (err) {
        return err;
    }
    if (st->writemap) {
        if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &ms) ||
            mdb_env_get_fd(st->env, &fd)) {
            return store__fail(st, "cannot read the environment's size");
        }
        used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
        used += extra;
        if (used + STORE_ALLOC_HEADROOM > st->allocated && st->allocated < info.me_mapsize) {
            want = alloc_target(used, info.me_mapsize);
            err = posix_fallocate(fd, (off_t)st->allocated, (off_t)(want - st->allocated));
            if (err == ENOSPC) {
                snprintf(st->errmsg, sizeof(st->errmsg), "disk full: cannot extend the data file");
                return RD_EFULL;
            }
            if (err) {
                return store__fail(st, "extend the data file: %s", strerror(err));
            }
            st->allocated = want;
        }
        store__prefault(st, used);
    }
    st->append_ok = append_room(st);
    st->wcur_terms = NULL;
    return store__from_mdb(st, mdb_txn_begin(st->env, NULL, 0, txn), "begin txn");
}

int
store_open(struct store **out, const struct store_options *opt, char *err, size_t err_size)
{
    struct store *st = NULL;
    /* MDB_NORDAHEAD: the data file is extended ahead of use (store__write_begin), so a fault on
     * a page written for the first time would read ahead, and zero, a large folio of
     * unwritten blocks around it; a registration paid 7 % of its CPU for that. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    uint64_t map_size;
    int dead = 0;
    int rc;

    if (!out || !opt || !opt->dir || !opt->dir[0] ||
        (opt->sync != STORE_SYNC_ALWAYS && opt->sync != STORE_SYNC_PERIODIC &&
         opt->sync != STORE_SYNC_NEVER)) {
        if (err && err_size) {
            snprintf(err, err_size, "invalid store options");
        }
        return RD_EINVAL;
    }
    map_size = opt->map_size ? opt->map_size : STORE_DEFAULT_MAP_SIZE;
    if (map_size > SIZE_MAX) {
        if (err && err_size) {
            snprintf(err, err_size, "map size %llu too large", (unsigned long long)map_size);
        }
        return RD_EINVAL;
    }
    st = calloc(1, sizeof(*st));
    if (!st) {
        if (err && err_size) {
            snprintf(err, err_size, "out of memory");
        }
        return RD_ENOMEM;
    }
    rc = make_dir(st, opt->dir);
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_env_create(&st->env), "create environment");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_env_set_maxdbs(st->env, STORE_MAX_DBS), "set maxdbs");
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_env_set_mapsize(st->env, (size_t)map_size), "set map size");
    if (rc) {
        goto out;
    }
    /* Without MDB_NOSYNC every commit waits for fsync. With it, a commit still reaches the page
     * cache before it returns, so only a power failure can lose what store_sync() has not
     * flushed yet. */
    if (opt->sync != STORE_SYNC_ALWAYS) {
        flags |= MDB_NOSYNC;
        /* Writing through the shared map saves a pwrite() of every dirty page per commit (the
         * largest cost of a registration). It changes nothing on a crash of the process: the
         * map is the page cache. store__write_begin() keeps a full disk from faulting it. With
         * sync=always the fsync of each commit dominates, and msync() of the whole map would
         * cost more, so that mode keeps pwrite(). */
        flags |= MDB_WRITEMAP;
        st->writemap = 1;
    }
    rc = store__from_mdb(st, mdb_env_open(st->env, opt->dir, flags, STORE_FILE_MODE),
                         "open environment");
    if (rc) {
        goto out;
    }
    if (st->writemap) {
        mdb_filehandle_t fd;

        if (mdb_env_get_fd(st->env, &fd) == MDB_SUCCESS) {
            store__prefault_init(st, fd);
        }
    }
    /* A process killed with a read transaction open leaves its reader slot behind, pinning old
     * pages until someone clears it. */
    rc = store__from_mdb(st, mdb_reader_check(st->env, &dead), "reader check");
    if (rc) {
        goto out;
    }
    rc = open_dbs(st, opt->no_migrate);
    if (rc == RD_EFULL) {
        /* Only a new store writes at open, so the map cannot even hold an empty one. */
        snprintf(st->errmsg, sizeof(st->errmsg), "map size %llu too small",
                 (unsigned long long)map_size);
        rc = RD_EINVAL;
    }
    if (rc) {
        goto out;
    }
    rc = store__from_mdb(st, mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn), "begin read txn");
    if (rc) {
        goto out;
    }
    mdb_txn_reset(st->rtxn);
    st->weigh_fn = opt->weigh_fn;
    st->weigh_arg = opt->weigh_arg;
    rc = store__migrate(st, opt);
    st->weigh_fn = NULL;
out:
    if (rc) {
        if (err && err_size) {
            snprintf(err, err_size, "%s", st->errmsg);
        }
        /* A failed migration leaves the read transaction behind (its reads open no cursor). */
        if (st->rtxn) {
            mdb_txn_abort(st->rtxn);
        }
        if (st->env) {
            mdb_env_close(st->env);
        }
        free(st);
        return rc;
    }
    *out = st;
    return RD_OK;
}

void
store_free(struct store *st)
{
    if (!st) {
        return;
    }
    if (st->snap) {
        store__snap_close(st);
        return;
    }
    /* Writes of a batch left open are committed: their answers may not have gone out, but
     * nothing of them is half done. */
    store_batch_commit(st);
    free(st->ccache);
    store__append_free(st);
    store__journal_unstage(st);
    store__read_cursors_close(st);
    if (st->rtxn) {
        mdb_txn_abort(st->rtxn);
    }
    /* In the NOSYNC modes this is where the last commits reach the disk. */
    mdb_env_sync(st->env, 1);
    mdb_env_close(st->env);
    free(st);
}

const char *
store_errmsg(const struct store *st)
{
    if (!st) {
        return "no store";
    }
    return st->errmsg;
}

int
store_flush(struct store *st, char *err, size_t err_size)
{
    /* mdb_env_sync() reads only the environment's fixed fields and syncs the file (or the map):
     * LMDB allows it beside transactions of other threads. */
    int rc = mdb_env_sync(st->env, 1);

    if (rc) {
        if (err && err_size) {
            snprintf(err, err_size, "sync: %s", mdb_strerror(rc));
        }
        return RD_ESTORE;
    }
    return RD_OK;
}

int
store_sync(struct store *st)
{
    return store__from_mdb(st, mdb_env_sync(st->env, 1), "sync");
}
