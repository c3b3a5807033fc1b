/* The one I/O loop (see rd_loop.h): an epoll set holding libcoap's own epoll descriptor and
 * every descriptor a module watches, a list of per-turn ticks, and eventfd notifiers for
 * threads. rd__loop_step() is the one place that orders a turn. */
#define _GNU_SOURCE /* sched_getcpu() */
#include <sched.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "compat/rd_gate.h"
#include "rd_batch.h"
#include "rd_conf.h"
#include "rd_log.h"
#include "rd_loop.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

/* Events taken from the kernel in one wait. */
#define LOOP_EVENTS 64
/* Modules that may ask for a tick. */
#define LOOP_TICKS 8
/* The loop measures how busy it is over windows of this many microseconds: past half of one
 * spent working, or BUSY_DATAGRAMS requests read in it (5,000 a second: requests wait on the
 * loop's latency before it runs out of time), workers step aside for two windows
 * (rd__loop_busy()). Not one: a window closes at the first wait past its end, a turn late, so a
 * flag of one window ran out before the next verdict. In that gap, each window, a worker on the
 * loop's CPU began a walk and was preempted with its snapshot open for as long as the load
 * lasted (up to 0.5 s), and the writes meanwhile took fresh pages: zeroing them was a quarter
 * of a loaded registration. */
#define BUSY_WINDOW_US 10000
#define BUSY_DATAGRAMS 50
/* The longest a busy loop sleeps, once a window, for a worker on its CPU to let its snapshot go
 * (give_way()). */
#define GIVE_WAY_US 2000

/* Datagrams one turn reads at most from each UDP socket before its housekeeping runs again. */
#define STEP_BATCH 24
/* libcoap's ready descriptors taken in one turn; the rest wait for the next (level-triggered). */
#define COAP_EVENTS 32

struct loop_watch {
    rd_loop_io_fn *fn; /* NULL: not watched */
    void *arg;
    unsigned events;
    uint32_t gen; /* tells a stale event of a closed and reused descriptor from a new one */
};

struct rd_loop_notifier {
    int efd;
    rd_loop_wake_fn *fn;
    void *arg;
    struct rd_loop_notifier *next;
};

struct loop_tick {
    rd_loop_tick_fn *fn;
    void *arg;
};

struct rd_loop {
    int epfd;
    int coap_fd;              /* libcoap's epoll descriptor, owned by libcoap */
    struct loop_watch *watch; /* indexed by descriptor */
    size_t nwatch;
    uint32_t gen;
    struct loop_tick ticks[LOOP_TICKS];
    size_t nticks;
    struct rd_loop_notifier *notifiers;
    int64_t wake_by; /* INT64_MAX: nobody asked */
    _Atomic int64_t busy_ms; /* rd__loop_busy() */
    _Atomic int cpu;         /* rd__loop_cpu() */
    _Atomic int stretches;   /* rd__loop_stretches() */
    int64_t win_start_us;    /* the window over which the loop measures how busy it is */
    int64_t win_idle_us;     /* time waited in that window */
    uint64_t win_passed;     /* rd__gate_passed() when it began */
};

static uint32_t
to_epoll(unsigned events)
{
    return ((events & RD_LOOP_IN) ? EPOLLIN : 0) | ((events & RD_LOOP_OUT) ? EPOLLOUT : 0);
}

static unsigned
from_epoll(uint32_t ev)
{
    if (ev & (EPOLLERR | EPOLLHUP)) {
        return RD_LOOP_IN | RD_LOOP_OUT;
    }
    return ((ev & (EPOLLIN | EPOLLRDHUP)) ? RD_LOOP_IN : 0) | ((ev & EPOLLOUT) ? RD_LOOP_OUT : 0);
}

static int
grow(struct rd_loop *loop, int fd)
{
    size_t n = loop->nwatch ? loop->nwatch : 64;
    struct loop_watch *w;

    while (n <= (size_t)fd) {
        n *= 2;
    }
    if (n == loop->nwatch) {
        return RD_OK;
    }
    w = realloc(loop->watch, n * sizeof(*w));
    if (!w) {
        return RD_ENOMEM;
    }
    memset(w + loop->nwatch, 0, (n - loop->nwatch) * sizeof(*w));
    loop->watch = w;
    loop->nwatch = n;
    return RD_OK;
}

int
rd__loop_watch(struct rd_server *srv, int fd, unsigned events, rd_loop_io_fn *fn, void *arg)
{
    struct rd_loop *loop = srv->loop;
    struct epoll_event ev;
    struct loop_watch *w;
    int op;

    if (fd < 0 || !fn || grow(loop, fd)) {
        return fd < 0 || !fn ? RD_EINVAL : RD_ENOMEM;
    }
    w = &loop->watch[fd];
    op = w->fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    memset(&ev, 0, sizeof(ev));
    ev.events = to_epoll(events);
    /* A new watch gets a new generation, so events already read for the old one are dropped. */
    ev.data.u64 = ((uint64_t)(w->fn ? w->gen : ++loop->gen) << 32) | (uint32_t)fd;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        return RD_EINVAL;
    }
    w->gen = (uint32_t)(ev.data.u64 >> 32);
    w->fn = fn;
    w->arg = arg;
    w->events = events;
    return RD_OK;
}

void
rd__loop_unwatch(struct rd_server *srv, int fd)
{
    struct rd_loop *loop = srv->loop;

    if (!loop || fd < 0 || (size_t)fd >= loop->nwatch || !loop->watch[fd].fn) {
        return;
    }
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->watch[fd].fn = NULL;
    loop->watch[fd].arg = NULL;
}

int
rd__loop_on_tick(struct rd_server *srv, rd_loop_tick_fn *fn, void *arg)
{
    struct rd_loop *loop = srv->loop;

    if (loop->nticks == LOOP_TICKS) {
        return RD_ENOMEM;
    }
    loop->ticks[loop->nticks].fn = fn;
    loop->ticks[loop->nticks].arg = arg;
    loop->nticks++;
    return RD_OK;
}

const _Atomic int64_t *
rd__loop_busy(struct rd_server *srv)
{
    return srv->loop ? &srv->loop->busy_ms : NULL;
}

const _Atomic int *
rd__loop_cpu(struct rd_server *srv)
{
    return srv->loop ? &srv->loop->cpu : NULL;
}

_Atomic int *
rd__loop_stretches(struct rd_server *srv)
{
    return srv->loop ? &srv->loop->stretches : NULL;
}

void
rd__loop_wake_by(struct rd_server *srv, int64_t at_ms)
{
    if (srv->loop && at_ms < srv->loop->wake_by) {
        srv->loop->wake_by = at_ms;
    }
}

static void
on_notify(struct rd_server *srv, void *arg, int fd, unsigned events)
{
    struct rd_loop_notifier *n = arg;
    uint64_t count;

    (void)events;
    /* Reading the counter resets it: notifications since the last read become one call. */
    if (read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count)) {
        n->fn(srv, n->arg);
    }
}

int
rd__loop_notifier(struct rd_server *srv, rd_loop_wake_fn *fn, void *arg,
                  struct rd_loop_notifier **out)
{
    struct rd_loop_notifier *n = calloc(1, sizeof(*n));

    if (!n) {
        return RD_ENOMEM;
    }
    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->efd < 0) {
        free(n);
        return RD_EINVAL;
    }
    n->fn = fn;
    n->arg = arg;
    if (rd__loop_watch(srv, n->efd, RD_LOOP_IN, on_notify, n)) {
        close(n->efd);
        free(n);
        return RD_ENOMEM;
    }
    n->next = srv->loop->notifiers;
    srv->loop->notifiers = n;
    *out = n;
    return RD_OK;
}

void
rd__loop_notify(struct rd_loop_notifier *n)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already set: the loop will wake anyway. */
    (void)!write(n->efd, &one, sizeof(one));
}

int
rd__loop_init(struct rd_server *srv)
{
    struct rd_loop *loop = calloc(1, sizeof(*loop));
    struct epoll_event ev;

    if (!loop) {
        return RD_ENOMEM;
    }
    loop->wake_by = INT64_MAX;
    atomic_init(&loop->cpu, -1);
    atomic_init(&loop->stretches, 0);
    loop->win_start_us = rd__now_us();
    loop->coap_fd = coap_context_get_coap_fd(srv->ctx);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->loop = loop;
    if (loop->epfd < 0) {
        rd__loop_cleanup(srv);
        return RD_ENOMEM;
    }
    if (loop->coap_fd < 0) {
        rd__log(srv, RD_LOG_ERROR, "libcoap was built without epoll; core-rd needs it");
        rd__loop_cleanup(srv);
        return RD_EINVAL;
    }
    /* libcoap's descriptor is not a watch: rd__loop_step() serves libcoap first, every turn. */
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->coap_fd, &ev) < 0) {
        rd__loop_cleanup(srv);
        return RD_EINVAL;
    }
    return RD_OK;
}

void
rd__loop_cleanup(struct rd_server *srv)
{
    struct rd_loop *loop = srv->loop;

    if (!loop) {
        return;
    }
    while (loop->notifiers) {
        struct rd_loop_notifier *n = loop->notifiers;

        loop->notifiers = n->next;
        close(n->efd);
        free(n);
    }
    if (loop->epfd >= 0) {
        close(loop->epfd);
    }
    free(loop->watch);
    free(loop);
    srv->loop = NULL;
}

/* How long this turn may wait: the caller's bound and what modules asked for since the last
 * turn. libcoap's own timers need no bound here: each dispatch ends by setting its timer
 * descriptor, which is in libcoap's epoll set, from every session's next deadline, and what
 * schedules work between dispatches (a retransmission, a notification, a deferred answer) sets
 * it sooner. Asking libcoap here too would walk every session once more each turn. */
static int
turn_timeout(struct rd_server *srv, unsigned wait_ms)
{
    struct rd_loop *loop = srv->loop;
    int64_t now = rd__now_ms();
    int64_t ms = wait_ms;

    if (loop->wake_by != INT64_MAX) {
        ms = loop->wake_by <= now ? 0 : (loop->wake_by - now < ms ? loop->wake_by - now : ms);
    }
    loop->wake_by = INT64_MAX;
    return (int)ms;
}

/* Serve libcoap: what is ready on its sockets and its timers, in one dispatch. The gate
 * (compat/rd_gate.c) sees each datagram first, from inside libcoap's read, and repeats the
 * events of ready UDP sockets so that the dispatch reads up to STEP_BATCH datagrams of each:
 * libcoap's own coap_io_process() reads one, then walks every session it keeps. */
static int
serve_coap(struct rd_server *srv)
{
    struct epoll_event ev[COAP_EVENTS + STEP_BATCH];
    int n = epoll_wait(srv->loop->coap_fd, ev, COAP_EVENTS, 0);

    if (n < 0) {
        if (errno != EINTR) {
            return RD_EINVAL;
        }
        n = 0;
    }
    n = rd__gate_repeat(srv, srv->loop->coap_fd, ev, n, n + STEP_BATCH - 1);
    /* Also with no event: what workers and timers made due (deferred answers, notifications,
     * retransmissions) goes out here, as coap_io_process() would send it. */
    coap_io_do_epoll(srv->ctx, ev, (size_t)n);
    if (rd__gate_repeat_end()) {
        rd__loop_wake_by(srv, 0);
    }
    return RD_OK;
}

/* Call the watch of each ready descriptor that is still watched by the same owner. */
static void
serve_watches(struct rd_server *srv, const struct epoll_event *ev, int n)
{
    struct rd_loop *loop = srv->loop;

    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)ev[i].data.u64;
        uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
        struct loop_watch *w;

        if (ev[i].data.u64 == UINT64_MAX || (size_t)fd >= loop->nwatch) {
            continue;
        }
        w = &loop->watch[fd];
        if (w->fn && w->gen == gen) {
            w->fn(srv, w->arg, fd, from_epoll(ev[i].events));
        }
    }
}

/* A busy loop found a worker on its own CPU with a snapshot open (rd__loop_stretches()): the
 * worker began that stretch while the loop was idle, and runs only in the loop's gaps, which a
 * busy loop hardly has, so it would hold its snapshot (and the writes could reuse none of the
 * pages it holds) for as long as the load lasts. Sleep a little, up to GIVE_WAY_US in all, so
 * that it reaches its stretch's end (long past) and lets the snapshot go; it then waits for
 * the loop without one. */
static int64_t
give_way(struct rd_loop *loop)
{
    int64_t start = rd__now_us();
    int64_t now = start;

    while (atomic_load_explicit(&loop->stretches, memory_order_relaxed) > 0 &&
           now - start < GIVE_WAY_US) {
        struct timespec ts = { 0, 50000 };

        nanosleep(&ts, NULL);
        now = rd__now_us();
    }
    return now - start;
}

/* Count a wait from @p t0 to @p t1 (µs); at the end of a busy window, tell the workers for the
 * next two, and give way to a worker stuck on this CPU with its snapshot open. */
static void
measure_busy(struct rd_server *srv, int64_t t0, int64_t t1)
{
    struct rd_loop *loop = srv->loop;
    int64_t span = t1 - loop->win_start_us;
    int64_t napped = 0;
    uint64_t passed;

    loop->win_idle_us += t1 - t0;
    if (span < BUSY_WINDOW_US) {
        return;
    }
    passed = rd__gate_passed(srv);
    if (loop->win_idle_us * 2 < span || passed - loop->win_passed >= BUSY_DATAGRAMS) {
        atomic_store_explicit(&loop->busy_ms, rd__now_ms() + 2 * BUSY_WINDOW_US / 1000,
                              memory_order_relaxed);
        atomic_store_explicit(&loop->cpu, sched_getcpu(), memory_order_relaxed);
        if (atomic_load_explicit(&loop->stretches, memory_order_relaxed) > 0) {
            napped = give_way(loop);
        }
    }
    /* A nap is no work: counted as such, it would keep the loop busy, and its workers waiting,
     * for the naps it takes to let them go. */
    loop->win_start_us = t1;
    loop->win_idle_us = napped;
    loop->win_passed = passed;
}

int
rd__loop_step(struct rd_server *srv, unsigned wait_ms)
{
    struct rd_loop *loop = srv->loop;
    struct epoll_event ev[LOOP_EVENTS];
    int64_t t0;
    int64_t now;
    int rc;
    int n;

    /* 1. Housekeeping: expiry sweep, coalesced notifications, flushes (rd_server.c). */
    rd__server_housekeeping(srv, &wait_ms);
    /* 2. Wait for any descriptor, libcoap's timers or a module's deadline. */
    t0 = rd__now_us();
    n = epoll_wait(loop->epfd, ev, LOOP_EVENTS, turn_timeout(srv, wait_ms));
    measure_busy(srv, t0, rd__now_us());
    if (n < 0) {
        if (errno != EINTR) {
            return RD_EINVAL;
        }
        n = 0;
    }
    /* 3. CoAP over every transport, gated datagrams first. The writes of the turn share one
     * commit, and the datagrams sent meanwhile wait for it (rd_batch.h). */
    rd__batch_begin(srv);
    rc = serve_coap(srv);
    rd__batch_end(srv);
    if (rc) {
        return RD_EINVAL;
    }
    /* 4. Every other ready descriptor: HTTP, cluster client, workers' notifiers. */
    serve_watches(srv, ev, n);
    /* 5. Modules' timers. */
    now = rd__now_ms();
    for (size_t i = 0; i < loop->nticks; i++) {
        loop->ticks[i].fn(srv, loop->ticks[i].arg, now);
    }
    return RD_OK;
}
