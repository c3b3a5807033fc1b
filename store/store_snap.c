/* Read-only views of a store at one snapshot, usable on another thread than the store's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int
store_snap_open(struct store *st, struct store **out)
{
    struct store *v;
    int rc;

    if (st->snap) {
        snprintf(st->errmsg, sizeof(st->errmsg), "a snapshot of a snapshot");
        return RD_EINVAL;
    }
    v = malloc(sizeof(*v));
    if (!v) {
        return RD_ENOMEM;
    }
    /* The view shares only what stays fixed while the store is open (environment, databases,
     * id secret); everything a read writes (its message, cursors, read count) is its own. */
    memcpy(v, st, sizeof(*v));
    v->snap = 1;
    v->rtxn = NULL;
    v->rcur_regs = NULL;
    v->rcur_terms = NULL;
    v->rcur_expiry = NULL;
    v->reading = 0;
    v->staged = NULL;
    v->staged_len = 0;
    v->has_staged = 0;
    v->journal_on = 0;
    v->journal_expired_fn = NULL;
    v->weigh_fn = NULL;
    v->errmsg[0] = '\0';
    /* MDB_NOTLS (store_open) ties the reader slot to the transaction, not to this thread: the
     * view may be read on another thread, one at a time. */
    rc = store__from_mdb(st, mdb_txn_begin(st->env, NULL, MDB_RDONLY, &v->rtxn), "begin snapshot");
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return RD_OK;
}

void
store__snap_close(struct store *st)
{
    store__read_cursors_close(st);
    /* Ending the transaction frees its reader slot: writers may reuse the pages it pinned. */
    mdb_txn_abort(st->rtxn);
    free(st);
}

void
store_snap_release(struct store *view)
{
    if (view->snap && !view->snap_released) {
        mdb_txn_reset(view->rtxn);
        view->snap_released = 1;
    }
}

int
store_snap_renew(struct store *view)
{
    if (!view->snap || view->reading) {
        snprintf(view->errmsg, sizeof(view->errmsg), "renew: not a view, or a read runs on it");
        return RD_EINVAL;
    }
    if (!view->snap_released) {
        mdb_txn_reset(view->rtxn);
    }
    view->snap_released = 1;
    /* The shared cursors belong to the transaction: they are renewed with it at their next use
     * (store__read_cursor()). */
    if (store__from_mdb(view, mdb_txn_renew(view->rtxn), "renew snapshot")) {
        return RD_ESTORE;
    }
    view->snap_released = 0;
    return RD_OK;
}
