/* Unit tests of the one I/O loop (rd_loop.c) and of deferred answers (rd_defer.c), on a real
 * server listening on a loopback port with a temporary store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rd.h"
#include "rd_conf.h"
#include "rd_defer.h"
#include "rd_loop.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "test_server.h"

struct fixture {
    struct test_server t;
    struct rd_server *srv; /* t.srv */
};

/* What a callback saw. */
struct seen {
    int calls;
    unsigned events;
    int unwatch_fd; /* a descriptor the callback stops watching; -1: none */
    int64_t ticks;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    test_server_start(&f->t, NULL);
    f->srv = f->t.srv;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    test_server_stop(&f->t);
    free(f);
    return 0;
}

static void
on_ready(struct rd_server *srv, void *arg, int fd, unsigned events)
{
    struct seen *s = arg;
    char buf[16];

    s->calls++;
    s->events |= events;
    (void)!read(fd, buf, sizeof(buf));
    if (s->unwatch_fd >= 0) {
        rd__loop_unwatch(srv, s->unwatch_fd);
    }
}

static void
test_watch_calls_back_only_when_ready(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0, 0, -1, 0 };
    int p[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(rd__loop_watch(f->srv, p[0], RD_LOOP_IN, on_ready, &s), RD_OK);
    assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
    assert_int_equal(s.calls, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(rd__loop_step(f->srv, 1000), RD_OK);
    assert_int_equal(s.calls, 1);
    assert_true(s.events & RD_LOOP_IN);
    /* Unwatched, it is never called again, ready or not. */
    rd__loop_unwatch(f->srv, p[0]);
    assert_int_equal(write(p[1], "y", 1), 1);
    assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
    assert_int_equal(s.calls, 1);
    close(p[0]);
    close(p[1]);
}

static void
test_unwatch_inside_a_callback_drops_events_already_read(void **state)
{
    struct fixture *f = *state;
    struct seen a = { 0, 0, -1, 0 };
    struct seen b = { 0, 0, -1, 0 };
    int pa[2];
    int pb[2];

    assert_int_equal(pipe(pa), 0);
    assert_int_equal(pipe(pb), 0);
    a.unwatch_fd = pb[0];
    b.unwatch_fd = pa[0];
    assert_int_equal(rd__loop_watch(f->srv, pa[0], RD_LOOP_IN, on_ready, &a), RD_OK);
    assert_int_equal(rd__loop_watch(f->srv, pb[0], RD_LOOP_IN, on_ready, &b), RD_OK);
    assert_int_equal(write(pa[1], "x", 1), 1);
    assert_int_equal(write(pb[1], "x", 1), 1);
    /* Both are ready in the same wait; whichever runs first unwatches the other. */
    assert_int_equal(rd__loop_step(f->srv, 1000), RD_OK);
    assert_int_equal(a.calls + b.calls, 1);
    rd__loop_unwatch(f->srv, pa[0]);
    rd__loop_unwatch(f->srv, pb[0]);
    close(pa[0]);
    close(pa[1]);
    close(pb[0]);
    close(pb[1]);
}

static void
on_wake(struct rd_server *srv, void *arg)
{
    (void)srv;
    ((struct seen *)arg)->calls++;
}

static void *
notify_thread(void *arg)
{
    rd__loop_notify(arg);
    return NULL;
}

static void
test_notify_from_a_thread_wakes_the_loop_once(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0, 0, -1, 0 };
    struct rd_loop_notifier *n;
    pthread_t t;
    int64_t start;

    assert_int_equal(rd__loop_notifier(f->srv, on_wake, &s, &n), RD_OK);
    assert_int_equal(pthread_create(&t, NULL, notify_thread, n), 0);
    /* The wait would last 30 s without the notification; the loop goes on until it came. */
    start = rd__now_ms();
    while (s.calls == 0 && rd__now_ms() - start < 30000) {
        assert_int_equal(rd__loop_step(f->srv, 30000), RD_OK);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(s.calls, 1);
    /* Notifications before the loop looks are one call. */
    rd__loop_notify(n);
    rd__loop_notify(n);
    rd__loop_notify(n);
    assert_int_equal(rd__loop_step(f->srv, 1000), RD_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
    assert_int_equal(s.calls, 2);
}

static void
on_tick(struct rd_server *srv, void *arg, int64_t now_ms)
{
    struct seen *s = arg;

    (void)srv;
    s->calls++;
    s->ticks = now_ms;
}

static void
test_tick_runs_every_turn_and_wake_by_bounds_the_wait(void **state)
{
    struct fixture *f = *state;
    struct seen s = { 0, 0, -1, 0 };
    int64_t start;

    assert_int_equal(rd__loop_on_tick(f->srv, on_tick, &s), RD_OK);
    assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
    assert_int_equal(s.calls, 1);
    /* Without wake_by this turn would wait a minute: a margin no slow machine comes near. */
    start = rd__now_ms();
    rd__loop_wake_by(f->srv, start + 10);
    assert_int_equal(rd__loop_step(f->srv, 60000), RD_OK);
    assert_int_equal(s.calls, 2);
    assert_true(s.ticks - start < 30000);
}

/* A tick that keeps the loop working: it spins SPIN_MS a turn, and at its end (when the next
 * wait is about to be measured) looks whether the loop's busy verdict still holds. */
#define SPIN_MS 3
struct spin {
    int64_t start_ms; /* the first tick */
    int64_t last_ms;  /* the end of the previous tick */
    int checks;       /* verdicts looked at */
    int gaps;         /* of them, ones already run out */
};

static void
on_spin_tick(struct rd_server *srv, void *arg, int64_t now_ms)
{
    struct spin *s = arg;
    int64_t t0 = rd__now_ms();
    int64_t t1 = t0;

    (void)now_ms;
    if (!s->start_ms) {
        s->start_ms = t0;
    }
    while (t1 - t0 < SPIN_MS) {
        t1 = rd__now_ms();
    }
    /* Past the first verdicts, and only after a turn of normal length: a turn stretched by a
     * preempted test process is no gap of the loop's. */
    if (t1 - s->start_ms > 40 && s->last_ms && t1 - s->last_ms < 3 * SPIN_MS) {
        s->checks++;
        s->gaps += atomic_load(rd__loop_busy(srv)) <= t1;
    }
    s->last_ms = t1;
}

/* Workers on the loop's CPU wait while the loop counts as busy. A verdict that ran out a turn
 * before the next one left a gap each window, in which a worker began a walk and was preempted
 * with its snapshot open for as long as the load lasted. */
static void
test_busy_verdict_lasts_until_the_next_one(void **state)
{
    struct fixture *f = *state;
    struct spin s = { 0, 0, 0, 0 };
    int64_t start = rd__now_ms();

    assert_int_equal(rd__loop_on_tick(f->srv, on_spin_tick, &s), RD_OK);
    while (rd__now_ms() - start < 2000 && s.checks < 60) {
        assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
    }
    assert_true(s.checks >= 20);
    assert_int_equal(s.gaps, 0);
}

/* A stretch counted and never let go (a stand-in for a worker the loop preempted): each busy
 * verdict makes the loop sleep for it, up to its bound, so that such a worker gets the CPU. */
static void
test_busy_loop_gives_way_to_a_counted_stretch(void **state)
{
    struct fixture *f = *state;
    struct spin s = { 0, 0, 0, 0 };
    int64_t start = rd__now_ms();
    int long_turns = 0;
    int turns = 0;

    assert_int_equal(rd__loop_on_tick(f->srv, on_spin_tick, &s), RD_OK);
    atomic_store(rd__loop_stretches(f->srv), 1);
    while (rd__now_ms() - start < 2000 && long_turns < 5) {
        int64_t t0 = rd__now_us();

        assert_int_equal(rd__loop_step(f->srv, 0), RD_OK);
        turns++;
        /* The spin, then up to 2 ms of sleep. */
        long_turns += rd__now_us() - t0 >= SPIN_MS * 1000 + 1500;
    }
    atomic_store(rd__loop_stretches(f->srv), 0);
    assert_true(turns > long_turns);
    assert_true(long_turns >= 5);
}

static int frees;

static void
count_free(void *result)
{
    frees++;
    free(result);
}

static coap_pdu_t *
request(coap_session_t *session, uint8_t tok)
{
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 7, 256);

    assert_non_null(pdu);
    assert_int_equal(coap_add_token(pdu, 1, &tok), 1);
    (void)session;
    return pdu;
}

/* A session towards the discard port of loopback: the tests park its requests, never send. */
static coap_session_t *
loopback_session(struct rd_server *srv)
{
    coap_address_t dst;
    coap_session_t *session;

    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(9);
    dst.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
    dst.size = sizeof(dst.addr.sin);
    session = coap_new_client_session(srv->ctx, NULL, &dst, COAP_PROTO_UDP);
    assert_non_null(session);
    return session;
}

static void
test_defer_hands_a_result_to_the_second_call_only(void **state)
{
    struct fixture *f = *state;
    coap_session_t *session;
    coap_pdu_t *req;
    uint64_t id;
    uint64_t id2;
    int *result = malloc(sizeof(int));

    assert_non_null(result);
    *result = 42;
    frees = 0;
    session = loopback_session(f->srv);
    req = request(session, 0x5a);
    assert_null(rd__defer_resumed(f->srv, session, req));
    assert_int_equal(rd__defer_park(f->srv, session, req, &id), RD_OK);
    assert_int_equal(rd__defer_pending(f->srv), 1);
    /* Parked twice: refused, the first stays. */
    assert_int_equal(rd__defer_park(f->srv, session, req, &id2), RD_EINVAL);
    /* Not completed yet: the handler's call is a fresh one. */
    assert_null(rd__defer_resumed(f->srv, session, req));
    assert_int_equal(rd__defer_complete(f->srv, id, result, count_free), RD_OK);
    assert_ptr_equal(rd__defer_resumed(f->srv, session, req), result);
    assert_int_equal(rd__defer_pending(f->srv), 0);
    assert_int_equal(frees, 0);
    /* A ticket answered, or unknown, frees what it is handed. */
    assert_int_equal(rd__defer_complete(f->srv, id, malloc(1), count_free), RD_EINVAL);
    assert_int_equal(frees, 1);
    /* The first result lives until the next call into the module. */
    assert_null(rd__defer_resumed(f->srv, session, req));
    assert_int_equal(frees, 2);
    coap_delete_pdu(req);
    coap_session_release(session);
}

static void
test_defer_cleanup_frees_results_of_parked_requests(void **state)
{
    struct fixture *f = *state;
    coap_session_t *session;
    coap_pdu_t *req;
    uint64_t id;

    frees = 0;
    session = loopback_session(f->srv);
    req = request(session, 0x11);
    assert_int_equal(rd__defer_park(f->srv, session, req, &id), RD_OK);
    assert_int_equal(rd__defer_complete(f->srv, id, malloc(8), count_free), RD_OK);
    coap_delete_pdu(req);
    coap_session_release(session);
    rd__defer_cleanup(f->srv);
    assert_int_equal(frees, 1);
    assert_int_equal(rd__defer_pending(f->srv), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_calls_back_only_when_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwatch_inside_a_callback_drops_events_already_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_from_a_thread_wakes_the_loop_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tick_runs_every_turn_and_wake_by_bounds_the_wait,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_verdict_lasts_until_the_next_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_busy_loop_gives_way_to_a_counted_stretch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_defer_hands_a_result_to_the_second_call_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_defer_cleanup_frees_results_of_parked_requests,
                                        setup, teardown),
    };

    coap_startup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
