/* The server's one I/O loop: every descriptor it waits on (libcoap's, the HTTP listener's, a
 * cluster client's, a worker's wake-up) is watched here, and one function, rd__loop_step() in
 * rd_loop.c, writes down the order in which each turn serves them.
 *
 * Everything here runs on the loop's thread except rd__loop_notify(), which any thread may
 * call. Callbacks run on the loop's thread, one at a time, and must not block: whatever may
 * take longer than a few milliseconds belongs on a worker. */
#ifndef RD_LOOP_H
#define RD_LOOP_H

#include <stdint.h>

struct rd_server;
struct rd_loop;
struct rd_loop_notifier;

/** What a watched descriptor waits for (bits). */
enum {
    RD_LOOP_IN = 1,  /**< readable, or peer closed */
    RD_LOOP_OUT = 2, /**< writable */
};

/** Called on the loop's thread when @p fd is ready for @p events (RD_LOOP_* bits; an error or
 * hang-up on the descriptor is reported as both). */
typedef void rd_loop_io_fn(struct rd_server *srv, void *arg, int fd, unsigned events);

/** Called once a turn after the I/O of the turn, for modules with timers of their own. */
typedef void rd_loop_tick_fn(struct rd_server *srv, void *arg, int64_t now_ms);

/** Called on the loop's thread after one or more rd__loop_notify() on its notifier. */
typedef void rd_loop_wake_fn(struct rd_server *srv, void *arg);

/** Create the loop of @p srv (srv->loop). Watches libcoap's descriptor, which must be an epoll
 * descriptor (libcoap built with epoll, as Debian's is). @return RD_OK; RD_ENOMEM; RD_EINVAL
 * with a log line when libcoap has no epoll descriptor. */
int rd__loop_init(struct rd_server *srv);

/** Close every descriptor the loop owns (not the watched ones, which belong to their
 * modules) and free the notifiers. Accepts a server without a loop. */
void rd__loop_cleanup(struct rd_server *srv);

/** Watch @p fd for @p events, calling @p fn with @p arg; watching a watched descriptor again
 * replaces its events, function and argument. The caller keeps owning @p fd and must unwatch
 * it before closing it. @return RD_OK; RD_ENOMEM; RD_EINVAL (bad descriptor). */
int rd__loop_watch(struct rd_server *srv, int fd, unsigned events, rd_loop_io_fn *fn, void *arg);

/** Stop watching @p fd. Safe from inside any callback, for any descriptor; a descriptor not
 * watched is ignored. */
void rd__loop_unwatch(struct rd_server *srv, int fd);

/** Run @p fn every turn (at least every loop wait, 1 s at most). @return RD_OK; RD_ENOMEM. */
int rd__loop_on_tick(struct rd_server *srv, rd_loop_tick_fn *fn, void *arg);

/** Do not let the loop's next wait last past @p at_ms (rd__now_ms() clock). One-shot: a module
 * with a timer asks again each turn, from its tick. */
void rd__loop_wake_by(struct rd_server *srv, int64_t at_ms);

/**
 * Make a notifier: rd__loop_notify() from any thread makes the loop call @p fn with @p arg on
 * its thread soon after (notifications that arrive before the call are coalesced into one).
 * The loop owns the notifier and frees it in rd__loop_cleanup().
 * @return RD_OK with *@p out set; RD_ENOMEM; RD_EINVAL (no descriptor left).
 */
int rd__loop_notifier(struct rd_server *srv, rd_loop_wake_fn *fn, void *arg,
                      struct rd_loop_notifier **out);

/** Wake the loop for @p n. Thread-safe and async-signal-safe (one write to an eventfd). */
void rd__loop_notify(struct rd_loop_notifier *n);

/** Until when (rd__now_ms() clock) the loop counts as busy: it spent more than half of its
 * last measuring window (10 ms) working rather than waiting, or read 50 requests or more in it;
 * the verdict holds for two windows, so that a busy loop stays busy between two verdicts.
 * Readable from any thread with
 * atomic_load(); workers step aside before it (rd_lookup.c). Owned by the loop, valid until
 * rd__loop_cleanup(). */
const _Atomic int64_t *rd__loop_busy(struct rd_server *srv);

/** The CPU the loop ran on when it last counted as busy (sched_getcpu(); -1 unknown). A worker
 * on that same CPU can only run in the loop's gaps, and is preempted there with its snapshot
 * open: it waits for a busy loop entirely (rd_lookup.c). Same ownership as rd__loop_busy(). */
const _Atomic int *rd__loop_cpu(struct rd_server *srv);

/** How many workers on the loop's CPU (rd__loop_cpu()) hold a snapshot open now: each counts
 * itself from taking one to letting it go. A busy loop that finds some at the end of a window
 * sleeps (2 ms at most) to let them reach the end of their stretch. Same ownership as
 * rd__loop_busy(). */
_Atomic int *rd__loop_stretches(struct rd_server *srv);

/** One turn: housekeeping, then wait at most @p wait_ms (0: do not wait) for any watched
 * descriptor, then serve what is ready in the documented order. @return RD_OK; RD_EINVAL when
 * libcoap's processing failed. */
int rd__loop_step(struct rd_server *srv, unsigned wait_ms);

#endif
