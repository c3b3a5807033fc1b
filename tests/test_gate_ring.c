/* Unit tests of the gate's read-ahead ring (compat/rd_gate_ring.c) over real UDP sockets on
 * loopback: datagrams come out one by one, in order, with their peer, packet information and
 * lengths as recvmsg() gives them; a short buffer gets MSG_TRUNC; an empty socket says EAGAIN. */
#define _GNU_SOURCE /* recvmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat/rd_gate_ring.h"

#define DATAGRAM_MAX 1472

struct pair {
    int rx; /* bound, IP_PKTINFO on: the socket the ring reads */
    int tx; /* connected to rx */
    struct sockaddr_in tx_addr;
};

static void
pair_open(struct pair *p)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int on = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(p->rx >= 0);
    assert_int_equal(setsockopt(p->rx, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)), 0);
    assert_int_equal(bind(p->rx, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(p->rx, (struct sockaddr *)&a, &len), 0);
    p->tx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(p->tx >= 0);
    assert_int_equal(connect(p->tx, (struct sockaddr *)&a, sizeof(a)), 0);
    len = sizeof(p->tx_addr);
    assert_int_equal(getsockname(p->tx, (struct sockaddr *)&p->tx_addr, &len), 0);
}

static void
pair_close(struct pair *p)
{
    close(p->rx);
    close(p->tx);
}

/* Wait until @p fd is readable (loopback delivers at once; the deadline is for a broken
 * system). */
static void
wait_readable(int fd)
{
    struct pollfd pfd = { fd, POLLIN, 0 };

    assert_int_equal(poll(&pfd, 1, 10000), 1);
}

/* A recvmsg() as libcoap makes it: one buffer, room for the peer and packet information. */
struct reader {
    uint8_t buf[DATAGRAM_MAX];
    struct sockaddr_storage name;
    char control[128];
    struct iovec iov;
    struct msghdr msg;
};

static void
reader_reset(struct reader *r, size_t room)
{
    memset(&r->msg, 0, sizeof(r->msg));
    r->iov.iov_base = r->buf;
    r->iov.iov_len = room;
    r->msg.msg_name = &r->name;
    r->msg.msg_namelen = sizeof(r->name);
    r->msg.msg_iov = &r->iov;
    r->msg.msg_iovlen = 1;
    r->msg.msg_control = r->control;
    r->msg.msg_controllen = sizeof(r->control);
}

static int
has_pktinfo(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;

            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            return pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK);
        }
    }
    return 0;
}

/* Twenty datagrams of different lengths: more than one recvmmsg() takes. */
static void
test_datagrams_in_order_with_peer_and_pktinfo(void **state)
{
    struct rd_gate_ring *ring = rd__gate_ring_new(DATAGRAM_MAX);
    struct reader r;
    struct pair p;
    char text[32];

    (void)state;
    assert_non_null(ring);
    pair_open(&p);
    for (int i = 0; i < 20; i++) {
        int n = snprintf(text, sizeof(text), "datagram %d%*s", i, i, "");

        assert_int_equal(send(p.tx, text, (size_t)n, 0), n);
    }
    wait_readable(p.rx);
    for (int i = 0; i < 20; i++) {
        int n = snprintf(text, sizeof(text), "datagram %d%*s", i, i, "");
        ssize_t got;

        reader_reset(&r, sizeof(r.buf));
        got = rd__gate_ring_take(ring, p.rx, recvmmsg, &r.msg);
        if (got < 0 && errno == EAGAIN) {
            /* The rest may still be on their way through loopback. */
            wait_readable(p.rx);
            reader_reset(&r, sizeof(r.buf));
            got = rd__gate_ring_take(ring, p.rx, recvmmsg, &r.msg);
        }
        assert_int_equal(got, n);
        assert_memory_equal(r.buf, text, (size_t)n);
        assert_int_equal(r.msg.msg_namelen, sizeof(struct sockaddr_in));
        assert_memory_equal(&((struct sockaddr_in *)&r.name)->sin_port, &p.tx_addr.sin_port, 2);
        assert_true(has_pktinfo(&r.msg));
        assert_int_equal(r.msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC), 0);
    }
    assert_int_equal(rd__gate_ring_count(ring), 0);
    reader_reset(&r, sizeof(r.buf));
    assert_int_equal(rd__gate_ring_take(ring, p.rx, recvmmsg, &r.msg), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    pair_close(&p);
    rd__gate_ring_free(ring);
}

/* A buffer shorter than the datagram gets its start and MSG_TRUNC, as from recvmsg(); the
 * datagrams read ahead with it stay for the next reads. */
static void
test_short_buffer_truncates_and_keeps_the_rest(void **state)
{
    struct rd_gate_ring *ring = rd__gate_ring_new(DATAGRAM_MAX);
    struct reader r;
    struct pair p;

    (void)state;
    pair_open(&p);
    assert_int_equal(send(p.tx, "0123456789", 10, 0), 10);
    assert_int_equal(send(p.tx, "abc", 3, 0), 3);
    wait_readable(p.rx);
    reader_reset(&r, 4);
    assert_int_equal(rd__gate_ring_take(ring, p.rx, recvmmsg, &r.msg), 4);
    assert_memory_equal(r.buf, "0123", 4);
    assert_true(r.msg.msg_flags & MSG_TRUNC);
    reader_reset(&r, sizeof(r.buf));
    if (rd__gate_ring_count(ring) == 0) {
        wait_readable(p.rx);
    }
    assert_int_equal(rd__gate_ring_take(ring, p.rx, recvmmsg, &r.msg), 3);
    assert_memory_equal(r.buf, "abc", 3);
    assert_int_equal(r.msg.msg_flags & MSG_TRUNC, 0);
    pair_close(&p);
    rd__gate_ring_free(ring);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datagrams_in_order_with_peer_and_pktinfo),
        cmocka_unit_test(test_short_buffer_truncates_and_keeps_the_rest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
