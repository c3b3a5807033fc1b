/* Datagram guard: looks at each plain CoAP datagram before libcoap reads it. It drops
 * signaling messages, which libcoap 4.3.1 would take over UDP, and sees the Echo values clients
 * send back for the amplification limit. Block-wise transfer no longer needs it: libcoap's own
 * is off (rd_block1.c, rd_block2.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rd_internal.h"

/* Descriptors looked at when searching for libcoap's endpoint sockets. */
#define FD_SCAN_MAX 4096
/* Requests answered here per round at most, so a flood cannot hold the loop. */
#define GUARD_BATCH 64
/* libcoap reads at most this much of a datagram: look at exactly what it will see. */
#define DATAGRAM_MAX COAP_RXBUFFER_SIZE

/* What the guard needs from one request. */
struct guard_req {
    const uint8_t *echo; /* the Echo option's value, or NULL */
    size_t echo_len;
};

/* Read an option header's extended delta or length. @return the value, or -1 when truncated or
 * reserved. */
static long
ext_value(unsigned nibble, const uint8_t *p, size_t len, size_t *pos)
{
    if (nibble < 13) {
        return (long)nibble;
    }
    if (nibble == 13 && *pos + 1 <= len) {
        return 13 + (long)p[(*pos)++];
    }
    if (nibble == 14 && *pos + 2 <= len) {
        long v = 269 + ((long)p[*pos] << 8 | p[*pos + 1]);

        *pos += 2;
        return v;
    }
    return -1;
}

/* A signaling message: code class 7 in a CoAP-over-UDP header. */
static int
is_signaling(const uint8_t *p, size_t len)
{
    return len >= 4 && (p[0] >> 6) == 1 && (p[1] >> 5) == 7;
}

/* Find the Echo option of a request. @return RD_OK for a well-formed request; RD_EINVAL for
 * anything else, which is left to libcoap. */
static int
parse_request(const uint8_t *p, size_t len, struct guard_req *r)
{
    size_t pos;
    long number = 0;
    size_t tkl;

    memset(r, 0, sizeof(*r));
    if (len < 4 || (p[0] >> 6) != 1 || (p[0] & 0x0f) > 8) {
        return RD_EINVAL;
    }
    tkl = p[0] & 0x0f;
    if (p[1] == 0 || (p[1] >> 5) != 0 || 4 + tkl > len) {
        return RD_EINVAL;
    }
    pos = 4 + tkl;
    while (pos < len && p[pos] != 0xff) {
        unsigned d = p[pos] >> 4;
        unsigned l = p[pos] & 0x0f;
        long delta;
        long olen;

        pos++;
        delta = ext_value(d, p, len, &pos);
        olen = ext_value(l, p, len, &pos);
        if (delta < 0 || olen < 0 || pos + (size_t)olen > len) {
            return RD_EINVAL;
        }
        number += delta;
        if (number == COAP_OPTION_ECHO && !r->echo) {
            r->echo = p + pos;
            r->echo_len = (size_t)olen;
        }
        pos += (size_t)olen;
    }
    return RD_OK;
}

/* Take the datagram at the head of @p fd's queue off it: libcoap never sees it. */
static int
drop_head(int fd)
{
    uint8_t byte;

    return recv(fd, &byte, 1, MSG_DONTWAIT) < 0 ? RD_EINVAL : RD_OK;
}

/* Look at the datagrams at the head of one socket's queue, answering and dropping those libcoap
 * must not see, until one it may see (or none) is at the head. 1 when one it may see is. */
static int
guard_socket(struct rd_server *srv, int fd)
{
    uint8_t buf[DATAGRAM_MAX];
    struct sockaddr_storage from;
    struct guard_req r;

    for (int i = 0; i < GUARD_BATCH; i++) {
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT,
                             (struct sockaddr *)&from, &from_len);

        if (n < 0) {
            return 0;
        }
        if (is_signaling(buf, (size_t)n)) {
            /* Signaling (7.xx, RFC 8323) exists only over reliable transports, yet libcoap
             * 4.3.1 takes a CSM over UDP and sets the session's MTU from it. Dropped unseen, as
             * a message format error (RFC 7252 section 4.2) that needs no answer. */
            if (drop_head(fd)) {
                return 0;
            }
            continue;
        }
        if (parse_request(buf, (size_t)n, &r) == RD_OK && r.echo) {
            rd__limits_echo_seen(srv, (struct sockaddr *)&from, r.echo, r.echo_len);
        }
        return 1;
    }
    return 0;
}

/* Is @p fd an unconnected UDP socket bound to the family and port of @p want? */
static int
is_endpoint_socket(int fd, const coap_address_t *want)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0;
    socklen_t tlen = sizeof(type);
    struct stat st;

    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        ss.ss_family != want->addr.sa.sa_family) {
        return 0;
    }
    len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 || errno != ENOTCONN) {
        return 0;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        return ((struct sockaddr_in6 *)&ss)->sin6_port == want->addr.sin6.sin6_port;
    }
    return ((struct sockaddr_in *)&ss)->sin_port == want->addr.sin.sin_port;
}

int
rd__guard_add(struct rd_server *srv, const coap_address_t *addr)
{
    for (int fd = 0; fd < FD_SCAN_MAX && srv->nguard < RD_LISTEN_MAX; fd++) {
        int known = 0;

        for (size_t i = 0; i < srv->nguard; i++) {
            known |= srv->guard_fd[i] == fd;
        }
        if (!known && is_endpoint_socket(fd, addr)) {
            srv->guard_fd[srv->nguard++] = fd;
            return RD_OK;
        }
    }
    rd__log(srv, RD_LOG_WARN, "cannot find the endpoint's socket: Block1 requests go unchecked");
    return RD_ENOTFOUND;
}

int
rd__guard_wait(struct rd_server *srv, unsigned wait_ms)
{
    int epfd = coap_context_get_coap_fd(srv->ctx);
    struct pollfd pfd = { epfd, POLLIN, 0 };

    /* Wait here rather than in libcoap, so every datagram is looked at before libcoap reads
     * it; libcoap's own descriptor covers its sockets and its timers. */
    if (epfd >= 0 && wait_ms) {
        if (poll(&pfd, 1, (int)wait_ms) < 0 && errno != EINTR) {
            return RD_EINVAL;
        }
    }
    for (size_t i = 0; i < srv->nguard; i++) {
        guard_socket(srv, srv->guard_fd[i]);
    }
    return epfd >= 0 ? RD_OK : RD_ENOTFOUND;
}

int
rd__guard_pending(struct rd_server *srv)
{
    int pending = 0;

    for (size_t i = 0; i < srv->nguard; i++) {
        pending |= guard_socket(srv, srv->guard_fd[i]);
    }
    return pending;
}
