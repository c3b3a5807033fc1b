/* The datagram gate: every CoAP-over-UDP datagram is examined before libcoap parses it
 * (RFC 7252 sections 4.2, 4.3, 5.4 and 5.8).
 *
 * Invariant: no UDP datagram reaches libcoap unexamined, whatever the rate. libcoap 4.3.1 has
 * no hook between its socket and its parser, but it reads its endpoints' datagrams with the libc
 * function recvmsg() (coap_socket_recv), called through its PLT. This file defines recvmsg():
 * the executable's definition comes first in the dynamic lookup, so libcoap's calls land here,
 * and the real one is the next definition (RTLD_NEXT: libc, or the sanitizer's interceptor).
 * For the endpoint sockets the gate knows, it reads a datagram, examines it, answers or drops
 * what libcoap must not see, and returns the first datagram that passes, rewritten when options
 * had to go. So a datagram is examined exactly when libcoap asks for one: none waits examined
 * for a read that might take another, and none is read past the gate. After GATE_REFUSED_MAX
 * refused datagrams in one call it returns "nothing read", so a flood cannot hold the loop; the
 * rest stay queued and are examined on the next call. Every other descriptor gets the plain
 * recvmsg(). DTLS records are examined after OpenSSL decrypts them (rd_gate_tls.c), by the
 * same rd__gate_examine().
 *
 * The gate state is a table from descriptor to server, file-scope because libcoap's call
 * carries no context of ours; only the loop's thread changes it or reads gated descriptors.
 * The server is an opaque handle here: what the gate learns reaches it only through the
 * struct rd_gate_policy it gave rd__gate_add(). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rd_gate.h"
#include "rd_gate_ring.h"
#include "rd_gate_stream.h"
#include "rd_gate_tls.h"
#include "rd_options.h"
#include "rd_status.h"

/* Descriptors looked at when searching for libcoap's endpoint sockets. */
#define FD_SCAN_MAX 4096
/* Datagrams answered or dropped in one recvmsg() call at most, before it returns nothing. */
#define GATE_REFUSED_MAX 64
/* Gated sockets of one server, and servers in this process (tests run several). */
#define GATE_FDS     16
#define GATE_SERVERS 16
/* Gated sockets of all servers in this process. */
#define GATE_MAX (4 * GATE_FDS)
/* libcoap reads at most this much of a datagram: examine exactly what it will see. */
#define DATAGRAM_MAX COAP_RXBUFFER_SIZE

typedef ssize_t (*recvmsg_fn)(int fd, struct msghdr *msg, int flags);
typedef int (*recvmmsg_fn)(int fd, struct mmsghdr *vec, unsigned vlen, int flags,
                           struct timespec *timeout);

/* What the gate keeps for one server. */
static struct gate_server {
    struct rd_server *srv; /* NULL: a free slot */
    struct rd_gate_policy policy;
    int fd[GATE_FDS];
    size_t nfd;
    uint16_t mid; /* message IDs of the gate's non-confirmable answers */
    uint64_t passed; /* datagrams handed to libcoap, for rd__gate_passed() */
} servers[GATE_SERVERS];

#if RD_GATE_INTERPOSE
static struct gate_entry {
    int fd;
    struct rd_server *srv;
    int dry;         /* within a dispatch: the socket was found empty, no read needed */
    int known;       /* 1: evdata is the data libcoap registered for fd; -1: not found */
    uint64_t evdata; /* libcoap's epoll data for this socket (its coap_socket_t) */
    struct rd_gate_ring *ring; /* read ahead within a dispatch; NULL: one datagram a read */
} gated[GATE_MAX];
static size_t ngated;
/* 1 between rd__gate_repeat() and rd__gate_repeat_end(): an empty socket stays dry. */
static int dispatching;
#endif

/* The slot of @p srv, or NULL. */
static const struct gate_server *
find_slot(const struct rd_server *srv)
{
    for (size_t i = 0; i < GATE_SERVERS; i++) {
        if (servers[i].srv == srv) {
            return &servers[i];
        }
    }
    return NULL;
}

/* The slot of @p srv; with @p make, a free one taken for it. NULL when there is none. */
static struct gate_server *
server_slot(struct rd_server *srv, int make)
{
    struct gate_server *free_slot = NULL;

    for (size_t i = 0; i < GATE_SERVERS; i++) {
        if (servers[i].srv == srv) {
            return &servers[i];
        }
        if (!servers[i].srv && !free_slot) {
            free_slot = &servers[i];
        }
    }
    if (!make || !free_slot) {
        return NULL;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->srv = srv;
    return free_slot;
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

#if RD_GATE_INTERPOSE

void
rd__gate_next(const char *name, void *fn, size_t size)
{
    void *sym = dlsym(RTLD_NEXT, name);

    /* ISO C has no conversion from an object pointer to a function pointer. */
    memcpy(fn, &sym, size);
}

/* The recvmsg() libcoap would have called without us. */
static recvmsg_fn
next_recvmsg(void)
{
    static recvmsg_fn fn;

    if (!fn) {
        rd__gate_next("recvmsg", &fn, sizeof(fn));
    }
    return fn;
}

/* The recvmmsg() of libc (or of a sanitizer). */
static recvmmsg_fn
next_recvmmsg(void)
{
    static recvmmsg_fn fn;

    if (!fn) {
        rd__gate_next("recvmmsg", &fn, sizeof(fn));
    }
    return fn;
}

/* One datagram of @p g's socket into @p msg, as recvmsg() reads it; within a dispatch, from
 * the datagrams read ahead. */
static ssize_t
read_one(struct gate_entry *g, recvmsg_fn real, struct msghdr *msg, int flags)
{
    recvmmsg_fn mm = next_recvmmsg();

    if (dispatching && g->ring && mm) {
        return rd__gate_ring_take(g->ring, g->fd, mm, msg);
    }
    return real(g->fd, msg, flags | MSG_DONTWAIT);
}

static struct gate_entry *
gated_entry(int fd)
{
    for (size_t i = 0; i < ngated; i++) {
        if (gated[i].fd == fd) {
            return &gated[i];
        }
    }
    return NULL;
}

static struct rd_server *
gated_server(int fd)
{
    struct gate_entry *g = gated_entry(fd);

    return g ? g->srv : NULL;
}

/* Was the datagram sent to a multicast group? (From the packet information libcoap asks for.)
 * Errors are not answered to a group (RFC 7252 section 8.2). */
static int
to_multicast(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;

            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            return IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr);
        }
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;

            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            return IN_MULTICAST(ntohl(pi.ipi_addr.s_addr));
        }
    }
    return 0;
}

/* Send the answer @p out (@p n bytes) back where @p from came from. */
static void
send_back(const struct rd_gate_from *from, const uint8_t *out, size_t n)
{
    if (from->ssl) {
        rd__gate_tls_write(from->ssl, out, n);
        return;
    }
    sendto(from->fd, out, n, 0, (const struct sockaddr *)from->msg->msg_name,
           from->msg->msg_namelen);
}

/* Answer request @p req without options: an ACK to a confirmable one, else a non-confirmable
 * message; a Reset (code 0) echoes only the message ID. */
static void
reply(struct rd_server *srv, const struct rd_gate_from *from, const uint8_t *req,
      coap_pdu_code_t code, const char *diag)
{
    uint8_t out[64];
    size_t tkl = code ? (req[0] & 0x0f) : 0;
    size_t dlen = strlen(diag);
    size_t n = 0;
    int con = ((req[0] >> 4) & 3) == COAP_MESSAGE_CON;
    unsigned type = code == 0 ? COAP_MESSAGE_RST : con ? COAP_MESSAGE_ACK : COAP_MESSAGE_NON;

    out[n++] = (uint8_t)(0x40 | type << 4 | tkl);
    out[n++] = (uint8_t)code;
    if (type == COAP_MESSAGE_NON) {
        struct gate_server *s = server_slot(srv, 0);
        uint16_t mid = s ? ++s->mid : 0;

        out[n++] = (uint8_t)(mid >> 8);
        out[n++] = (uint8_t)mid;
    } else {
        out[n++] = req[2];
        out[n++] = req[3];
    }
    memcpy(out + n, req + 4, tkl);
    n += tkl;
    if (dlen && n + 1 + dlen <= sizeof(out)) {
        out[n++] = 0xff;
        memcpy(out + n, diag, dlen);
        n += dlen;
    }
    send_back(from, out, n);
}

/* The peer of @p from, for the observers. */
static void
reset_seen(struct rd_server *srv, const struct rd_gate_from *from, uint16_t mid)
{
    const struct gate_server *s = find_slot(srv);
    const coap_address_t *peer;

    if (!s || !s->policy.reset_seen) {
        return;
    }
    if (from->msg) {
        s->policy.reset_seen(s->policy.arg, COAP_PROTO_UDP,
                             (const struct sockaddr *)from->msg->msg_name, from->msg->msg_namelen,
                             mid);
    } else if (from->session) {
        peer = coap_session_get_addr_remote(from->session);
        s->policy.reset_seen(s->policy.arg, COAP_PROTO_DTLS, &peer->addr.sa, peer->size, mid);
    }
}

int
rd__gate_examine(struct rd_server *srv, const struct rd_gate_from *from, uint8_t *buf, size_t *len)
{
    uint8_t out[DATAGRAM_MAX];
    struct rd_msg_exam e;
    char diag[48];
    size_t n;
    int con = *len >= 4 && ((buf[0] >> 4) & 3) == COAP_MESSAGE_CON;
    int group = from->msg && to_multicast(from->msg);

    if (*len >= 4 && (buf[0] >> 6) == 1 && (buf[1] >> 5) == 7) {
        /* Signaling (7.xx, RFC 8323) exists only over reliable transports, yet libcoap 4.3.1
         * takes a CSM over UDP and sets the session's MTU from it: a tiny one makes its next
         * Block2 answer spin for ever. Dropped unseen, as a message format error (RFC 7252
         * section 4.2) that needs no answer. */
        return 0;
    }
    if (*len == 4 && buf[0] == 0x70 && buf[1] == 0) {
        /* A Reset. To a non-confirmable notification it ends the observation (RFC 7641 section
         * 3.6), which libcoap 4.3.1 does not report; libcoap still sees it, for its own
         * confirmable messages. */
        reset_seen(srv, from, (uint16_t)(buf[2] << 8 | buf[3]));
        return 1;
    }
    if (*len == 4 && buf[0] == 0x40 && buf[1] == 0) {
        /* A CoAP ping (RFC 7252 section 4.3): every one gets its Reset. libcoap 4.3.1 sends at
         * most one Reset to an Empty message a session every quarter second (coap_dispatch, via
         * session->last_tx_rst), so of pings sent each on the previous one's Reset every
         * second went unanswered. A ping costs a 4-byte answer: no amplification to limit.
         * A confirmable message to a group is not CoAP (RFC 7252 section 8.1): no answer. */
        if (!group) {
            reply(srv, from, buf, 0, "");
        }
        return 0;
    }
    if (*len > sizeof(out) || rd__msg_examine(buf, *len, out, sizeof(out), &n, &e)) {
        /* Not a well-formed request: libcoap answers message format errors itself. */
        return 1;
    }
    if (e.verdict == RD_MSG_BAD_OPTION) {
        /* RFC 7252 section 5.4.1: 4.02 to a confirmable request; a non-confirmable one is
         * rejected, which is silence here (a Reset is optional, and a flood of them is not). */
        if (con && !group) {
            snprintf(diag, sizeof(diag), "option %u not recognized", e.option);
            reply(srv, from, buf, COAP_RESPONSE_CODE_BAD_OPTION, diag);
        }
        return 0;
    }
    if (e.verdict == RD_MSG_BAD_METHOD) {
        if (!group) {
            snprintf(diag, sizeof(diag), "method 0.%02u not recognized", buf[1] & 0x1fu);
            reply(srv, from, buf, COAP_RESPONSE_CODE_NOT_ALLOWED, diag);
        }
        return 0;
    }
    if (e.dropped) {
        memcpy(buf, out, n);
        *len = n;
    }
    if (e.echo_len && from->msg) {
        const struct gate_server *s = find_slot(srv);

        if (s && s->policy.echo_seen) {
            s->policy.echo_seen(s->policy.arg, (const struct sockaddr *)from->msg->msg_name,
                                buf + e.echo_off, e.echo_len);
        }
    }
    return 1;
}

/* libcoap's read on a gated socket: the first datagram that passes, or "nothing read". */
static ssize_t
gate_recv(struct gate_entry *g, recvmsg_fn real, struct msghdr *msg, int flags)
{
    struct rd_server *srv = g->srv;
    int fd = g->fd;
    socklen_t namelen = msg->msg_namelen;
    size_t controllen = msg->msg_controllen;
    uint8_t *buf = msg->msg_iov[0].iov_base;
    size_t size = msg->msg_iov[0].iov_len;
    struct rd_gate_from from = { -1, NULL, NULL, NULL };

    for (int i = 0; i < GATE_REFUSED_MAX && !g->dry; i++) {
        ssize_t got;
        size_t len;

        /* recvmsg() shortens these to what it wrote: each read starts from the caller's. */
        msg->msg_namelen = namelen;
        msg->msg_controllen = controllen;
        msg->msg_flags = 0;
        got = read_one(g, real, msg, flags);
        if (got < 0) {
            /* The rest of this dispatch's reads of the socket find it empty without asking. */
            g->dry = dispatching && (errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        len = (size_t)got < size ? (size_t)got : size;
        from.fd = fd;
        from.msg = msg;
        if (rd__gate_examine(srv, &from, buf, &len)) {
            struct gate_server *gs = server_slot(srv, 0);

            if (gs) {
                gs->passed++;
            }
            return (ssize_t)len;
        }
    }
    /* Nothing for libcoap. libcoap 4.3.1 (coap_socket_recv) logs EAGAIN as a failed read, twice
     * at warning level, on every call that finds the queue empty after refused datagrams; an
     * ECONNREFUSED (an ICMP error to an earlier answer, for it) is its quiet "nothing read". */
    errno = ECONNREFUSED;
    return -1;
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
    recvmsg_fn real = next_recvmsg();
    struct gate_entry *g;

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    g = gated_entry(fd);
    if (!g || !msg || msg->msg_iovlen != 1 || !msg->msg_name || (flags & MSG_PEEK)) {
        return real(fd, msg, flags);
    }
    return gate_recv(g, real, msg, flags);
}

/* Learn from the kernel's description of libcoap's epoll set (/proc/self/fdinfo) the data
 * libcoap registered for gated socket @p g: its events are known by it. */
static void
learn_evdata(struct gate_entry *g, int epfd)
{
    char path[64];
    char line[256];
    FILE *f;

    g->known = -1;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
    f = fopen(path, "re");
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        int tfd;
        unsigned events;
        unsigned long long data;

        if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 &&
            tfd == g->fd) {
            g->evdata = data;
            g->known = 1;
            break;
        }
    }
    fclose(f);
}

/* The index of @p g's event among the @p n of @p ev, appended (when room) if the socket has
 * datagrams read ahead but no event; -1 when it has neither. */
static int
event_of(const struct gate_entry *g, struct epoll_event *ev, int *n, int cap)
{
    for (int j = 0; j < *n; j++) {
        if (ev[j].data.u64 == g->evdata && (ev[j].events & EPOLLIN)) {
            return j;
        }
    }
    if (rd__gate_ring_count(g->ring) == 0 || *n >= cap) {
        return -1;
    }
    /* Left over from the last dispatch (refused datagrams take no read): the socket may be
     * empty now, so no event would come for them. */
    ev[*n].events = EPOLLIN;
    ev[*n].data.u64 = g->evdata;
    return (*n)++;
}

int
rd__gate_repeat(const struct rd_server *srv, int epfd, struct epoll_event *ev, int n, int cap)
{
    int ready[GATE_FDS];
    int nready = 0;

    dispatching = 1;
    for (size_t i = 0; i < ngated; i++) {
        struct gate_entry *g = &gated[i];
        int j;

        g->dry = 0;
        if (g->srv != srv) {
            continue;
        }
        if (!g->known) {
            learn_evdata(g, epfd);
        }
        j = g->known == 1 && nready < GATE_FDS ? event_of(g, ev, &n, cap) : -1;
        if (j >= 0) {
            ready[nready++] = j;
        }
    }
    /* Each copy is one more read of that socket within the same dispatch. */
    for (int k = 0; nready && n < cap; k++) {
        ev[n++] = ev[ready[k % nready]];
    }
    return n;
}

int
rd__gate_repeat_end(void)
{
    int left = 0;

    dispatching = 0;
    for (size_t i = 0; i < ngated; i++) {
        gated[i].dry = 0;
        left |= rd__gate_ring_count(gated[i].ring) > 0;
    }
    return left;
}

#else /* RD_GATE_INTERPOSE */

int
rd__gate_repeat(const struct rd_server *srv, int epfd, struct epoll_event *ev, int n, int cap)
{
    (void)srv;
    (void)epfd;
    (void)ev;
    (void)cap;
    return n;
}

int
rd__gate_repeat_end(void)
{
    return 0;
}

#endif /* RD_GATE_INTERPOSE */

int
rd__gate_add(struct rd_server *srv, const struct rd_gate_policy *policy,
             const coap_address_t *addr)
{
    struct gate_server *s = server_slot(srv, 1);

    if (!s) {
        return RD_ENOTFOUND;
    }
    s->policy = *policy;
#if RD_GATE_INTERPOSE
    for (int fd = 0; fd < FD_SCAN_MAX && s->nfd < GATE_FDS && ngated < GATE_MAX; fd++) {
        if (!gated_server(fd) && is_endpoint_socket(fd, addr)) {
            s->fd[s->nfd++] = fd;
            memset(&gated[ngated], 0, sizeof(gated[ngated]));
            gated[ngated].ring = rd__gate_ring_new(DATAGRAM_MAX);
            gated[ngated].fd = fd;
            gated[ngated++].srv = srv;
            return RD_OK;
        }
    }
    return RD_ENOTFOUND;
#else
    (void)addr;
    (void)is_endpoint_socket;
    return RD_ENOTFOUND;
#endif
}

void
rd__gate_remove(struct rd_server *srv)
{
    struct gate_server *s = server_slot(srv, 0);
#if RD_GATE_INTERPOSE
    size_t j = 0;

    for (size_t i = 0; i < ngated; i++) {
        if (gated[i].srv != srv) {
            gated[j++] = gated[i];
        } else {
            rd__gate_ring_free(gated[i].ring);
        }
    }
    ngated = j;
#endif
    rd__gate_unlisten(srv);
    if (s) {
        memset(s, 0, sizeof(*s));
    }
}

uint64_t
rd__gate_passed(const struct rd_server *srv)
{
    const struct gate_server *s = find_slot(srv);

    return s ? s->passed : 0;
}

size_t
rd__gate_sockets(const struct rd_server *srv)
{
    const struct gate_server *s = find_slot(srv);

    return s ? s->nfd : 0;
}

int
rd__gate_pending(const struct rd_server *srv)
{
    const struct gate_server *s = find_slot(srv);
    struct pollfd pfd[GATE_FDS];

    if (!s || !s->nfd) {
        return 0;
    }
#if RD_GATE_INTERPOSE
    for (size_t i = 0; i < s->nfd; i++) {
        const struct gate_entry *g = gated_entry(s->fd[i]);

        if (g && rd__gate_ring_count(g->ring)) {
            return 1;
        }
    }
#endif
    for (size_t i = 0; i < s->nfd; i++) {
        pfd[i].fd = s->fd[i];
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    return poll(pfd, s->nfd, 0) > 0;
}
