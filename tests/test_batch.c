/* Unit tests of the write batches of the I/O loop (rd_batch.c): datagrams sent while a turn
 * holds leave only after its commit, and none of a lost batch leaves at all. On a real server
 * with a temporary store, and real UDP sockets on loopback, where a datagram sent is in the
 * receiver's queue when sendmsg() returns. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rd.h"
#include "rd_batch.h"
#include "rd_conf.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"
#include "test_server.h"

struct fixture {
    struct test_server t;
    struct rd_server *srv; /* t.srv */
    int tx; /* sends to rx */
    int rx; /* bound to 127.0.0.1, a port of the kernel's choice */
    struct sockaddr_in to;
};

static int
setup_map(void **state, const char *map_mib)
{
    struct fixture *f = calloc(1, sizeof(*f));
    socklen_t len = sizeof(f->to);
    const char *const kv[] = { "map_size", map_mib, NULL };

    assert_non_null(f);
    test_server_start(&f->t, kv);
    f->srv = f->t.srv;
    f->rx = socket(AF_INET, SOCK_DGRAM, 0);
    f->tx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(f->rx >= 0 && f->tx >= 0);
    memset(&f->to, 0, sizeof(f->to));
    f->to.sin_family = AF_INET;
    f->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->rx, (struct sockaddr *)&f->to, sizeof(f->to)), 0);
    assert_int_equal(getsockname(f->rx, (struct sockaddr *)&f->to, &len), 0);
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    return setup_map(state, "64");
}

static int
setup_small(void **state)
{
    return setup_map(state, "1");
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    close(f->tx);
    close(f->rx);
    test_server_stop(&f->t);
    free(f);
    return 0;
}

/* Send @p text to rx with sendmsg(), as libcoap sends a datagram. */
static void
send_text(struct fixture *f, const char *text)
{
    struct iovec iov = { (void *)(uintptr_t)text, strlen(text) };
    struct msghdr msg;

    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &f->to;
    msg.msg_namelen = sizeof(f->to);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    assert_int_equal(sendmsg(f->tx, &msg, 0), (ssize_t)strlen(text));
}

/* The next datagram waiting on rx, or "" when none is there. */
static const char *
next_text(struct fixture *f)
{
    static char buf[64];
    ssize_t n = recv(f->rx, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        n = 0;
    }
    buf[n] = '\0';
    return buf;
}

static int
put(struct rd_server *srv, const char *ep, size_t data_len)
{
    static char data[65536];
    struct store_reg reg;
    uint64_t id = 0;
    int created = 0;

    memset(data, 'z', sizeof(data));
    memset(&reg, 0, sizeof(reg));
    reg.ep = ep;
    reg.d = "";
    reg.expires_at = rd__now() + 3600;
    reg.data = data;
    reg.data_len = data_len < sizeof(data) ? data_len : sizeof(data);
    return store_reg_put(srv->store, &reg, &id, &created);
}

static int
found(void *arg, const struct store_reg *reg)
{
    (void)reg;
    (*(int *)arg)++;
    return 0;
}

static int
stored(struct rd_server *srv, const char *ep)
{
    int n = 0;

    return store_reg_find(srv->store, "", ep, rd__now(), found, &n) == RD_OK && n == 1;
}

/* Fill the store within the open batch until a write fails: the batch is lost. */
static void
lose_the_batch(struct rd_server *srv)
{
    char ep[16];
    int rc = RD_OK;

    for (int i = 0; i < 1000 && rc == RD_OK; i++) {
        snprintf(ep, sizeof(ep), "fill%d", i);
        rc = put(srv, ep, 60000);
    }
    assert_int_equal(rc, RD_EFULL);
    assert_int_equal(store_batch_lost(srv->store), 1);
}

static void
test_datagrams_wait_for_the_commit(void **state)
{
    struct fixture *f = *state;

    /* Outside a turn, a datagram goes at once. */
    send_text(f, "direct");
    assert_string_equal(next_text(f), "direct");
    rd__batch_begin(f->srv);
    assert_int_equal(put(f->srv, "a", 10), RD_OK);
    send_text(f, "answer a");
    send_text(f, "answer b");
    assert_string_equal(next_text(f), "");
    rd__batch_end(f->srv);
    assert_string_equal(next_text(f), "answer a");
    assert_string_equal(next_text(f), "answer b");
    assert_string_equal(next_text(f), "");
    assert_true(stored(f->srv, "a"));
    send_text(f, "after");
    assert_string_equal(next_text(f), "after");
}

static void
test_a_full_turn_commits_early_and_sends(void **state)
{
    struct fixture *f = *state;
    char text[16];
    int got = 0;

    rd__batch_begin(f->srv);
    /* More than a turn holds: the batch commits and its datagrams go, and holding goes on. */
    for (int i = 0; i < 200; i++) {
        snprintf(text, sizeof(text), "d%d", i);
        send_text(f, text);
    }
    while (next_text(f)[0] != '\0') {
        got++;
    }
    assert_true(got > 0 && got < 200);
    rd__batch_end(f->srv);
    while (next_text(f)[0] != '\0') {
        got++;
    }
    assert_int_equal(got, 200);
}

static void
test_a_lost_batch_sends_nothing_it_held(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(put(f->srv, "before", 10), RD_OK);
    rd__batch_begin(f->srv);
    assert_int_equal(put(f->srv, "lost", 10), RD_OK);
    send_text(f, "answer for lost");
    lose_the_batch(f->srv);
    rd__batch_end(f->srv);
    send_text(f, "marker");
    /* The marker went after the end of the turn; nothing held went before it. */
    assert_string_equal(next_text(f), "marker");
    assert_false(stored(f->srv, "lost"));
    assert_true(stored(f->srv, "before"));
}

static void
test_a_handler_that_loses_the_batch_still_answers(void **state)
{
    struct fixture *f = *state;

    rd__batch_begin(f->srv);
    assert_int_equal(put(f->srv, "earlier", 10), RD_OK);
    send_text(f, "answer for earlier");
    lose_the_batch(f->srv);
    /* What the handler calls after its write: the earlier answer is dropped, its own (the
     * error) is held in a fresh batch and leaves with the turn. */
    rd__batch_resume(f->srv, 0);
    assert_int_equal(store_batch_lost(f->srv->store), 0);
    send_text(f, "5.03 for the failing one");
    assert_string_equal(next_text(f), "");
    rd__batch_end(f->srv);
    assert_string_equal(next_text(f), "5.03 for the failing one");
    assert_string_equal(next_text(f), "");
    assert_false(stored(f->srv, "earlier"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_datagrams_wait_for_the_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_turn_commits_early_and_sends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_lost_batch_sends_nothing_it_held, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_that_loses_the_batch_still_answers,
                                        setup_small, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
