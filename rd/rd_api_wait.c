/* HTTP requests of the JSON API waiting, suspended, for a result computed away from the loop. */
#include <stdlib.h>

#include <microhttpd.h>

#include "rd_api_wait.h"
#include "rd_status.h"

/* One suspended request; libmicrohttpd's request context (req_cls) points to it. */
struct waiter {
    struct waiter *next;
    struct waiter *prev;
    struct MHD_Connection *conn;
    uint64_t ticket;
    int resumed; /* MHD_resume_connection() was called: never twice */
    void *result;
    rd_api_wait_free_fn *free_fn;
};

struct rd_api_waits {
    struct waiter *head;
    uint64_t next_ticket; /* never reused within a run, so a stale ticket finds nobody */
    size_t n;
    int kick;
};

struct rd_api_waits *
rd__api_waits_new(void)
{
    return calloc(1, sizeof(struct rd_api_waits));
}

static void
unlink_waiter(struct rd_api_waits *ws, struct waiter *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        ws->head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    ws->n--;
}

/* Forget @p w, freeing a result nobody took. */
static void
drop(struct rd_api_waits *ws, struct waiter *w)
{
    unlink_waiter(ws, w);
    if (w->result && w->free_fn) {
        w->free_fn(w->result);
    }
    free(w);
}

void
rd__api_waits_free(struct rd_api_waits *ws)
{
    if (!ws) {
        return;
    }
    while (ws->head) {
        drop(ws, ws->head);
    }
    free(ws);
}

int
rd__api_wait_park(struct rd_api_waits *ws, struct MHD_Connection *conn, void **req_cls,
                  uint64_t *ticket)
{
    struct waiter *w = calloc(1, sizeof(*w));

    if (!w) {
        return RD_ENOMEM;
    }
    w->conn = conn;
    w->ticket = ++ws->next_ticket;
    w->next = ws->head;
    if (w->next) {
        w->next->prev = w;
    }
    ws->head = w;
    ws->n++;
    *req_cls = w;
    *ticket = w->ticket;
    MHD_suspend_connection(conn);
    return RD_OK;
}

static void
resume(struct rd_api_waits *ws, struct waiter *w)
{
    if (!w->resumed) {
        w->resumed = 1;
        MHD_resume_connection(w->conn);
        ws->kick = 1;
    }
}

int
rd__api_wait_complete(struct rd_api_waits *ws, uint64_t ticket, void *result,
                      rd_api_wait_free_fn *free_fn)
{
    struct waiter *w = ws ? ws->head : NULL;

    while (w && w->ticket != ticket) {
        w = w->next;
    }
    /* Its connection was closed (only at a stop: a suspended one is not read) or the server
     * is stopping. */
    if (!w || w->resumed) {
        free_fn(result);
        return RD_ENOTFOUND;
    }
    w->result = result;
    w->free_fn = free_fn;
    resume(ws, w);
    return RD_OK;
}

int
rd__api_wait_is_resumed(void *const *req_cls)
{
    return *req_cls != NULL;
}

void *
rd__api_wait_take(struct rd_api_waits *ws, void **req_cls)
{
    struct waiter *w = *req_cls;
    void *result = w->result;

    w->result = NULL;
    drop(ws, w);
    *req_cls = NULL;
    return result;
}

void
rd__api_wait_closed(struct rd_api_waits *ws, void **req_cls)
{
    if (ws && *req_cls) {
        drop(ws, *req_cls);
        *req_cls = NULL;
    }
}

void
rd__api_waits_stop(struct rd_api_waits *ws)
{
    for (struct waiter *w = ws ? ws->head : NULL; w; w = w->next) {
        resume(ws, w);
    }
}

int
rd__api_waits_take_kick(struct rd_api_waits *ws)
{
    int kick = ws && ws->kick;

    if (ws) {
        ws->kick = 0;
    }
    return kick;
}

size_t
rd__api_waits_pending(const struct rd_api_waits *ws)
{
    return ws ? ws->n : 0;
}
