/* The stream gate: every CoAP-over-TCP and -TLS message is examined before libcoap parses it
 * (RFC 8323 sections 3.2, 5.4; RFC 7252 sections 5.4 and 5.8 as they apply there).
 *
 * libcoap 4.3.1 reads a connection's bytes with recv() (TCP) or SSL_read() (TLS, through
 * rd_gate_tls.c), called through its PLT; this file defines recv() and close() as rd_gate.c
 * defines recvmsg(). For a connection accepted on one of our TCP or TLS listeners, the bytes
 * read are cut into messages (rd_frame.c); a complete one is examined and passes to libcoap
 * (rewritten without the options to be ignored), or is answered or dropped here; an incomplete
 * one waits for its next bytes. libcoap receives only examined bytes, so it never parses
 * anything the gate has not seen. What the gate answers over a stream:
 *   - a Ping (7.02) gets a Pong with the Ping's token (RFC 8323 section 5.4: libcoap 4.3.1's
 *     Pong has no token);
 *   - an Empty message (0.00) is ignored (section 5.4), as libcoap would;
 *   - an unrecognized critical option gets 4.02 and an unknown method 4.05, with no option
 *     copied (libcoap echoed the request's options; sections 5.4.1 and 5.8 of RFC 7252).
 * Answers go out through coap_send(), so they queue behind whatever libcoap is still writing.
 *
 * The connections' state is a list keyed by SSL object (TLS) or descriptor (TCP), file-scope
 * for the reason rd_gate.c gives; it goes when libcoap frees the SSL object or closes the
 * descriptor. Only the loop's thread adds, changes or removes entries; recv() and close() are
 * called on other threads too, so adding and removing hold a lock that their searches hold as
 * well. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rd_frame.h"
#include "rd_gate.h"
#include "rd_gate_stream.h"
#include "rd_options.h"
#include "rd_status.h"

/* Bytes read from a connection at once, and reads in one call of libcoap's at most. */
#define CHUNK     4096
#define READS_MAX 16
/* The largest message libcoap 4.3.1 takes over TCP (COAP_DEFAULT_MAX_PDU_RX_SIZE): a longer one
 * passes unexamined, and libcoap refuses it itself. */
#define MESSAGE_MAX (8UL * 1024 * 1024 + 256)
/* TCP and TLS listeners of all servers in this process. */
#define LISTEN_MAX 32

typedef ssize_t (*recv_fn)(int fd, void *buf, size_t len, int flags);
typedef int (*close_fn)(int fd);

/* One connection: bytes of a message not yet complete, and examined bytes libcoap has yet to
 * read. */
struct stream {
    struct stream *next;
    void *key;               /* the SSL object; NULL for plain TCP */
    int fd;                  /* plain TCP: the descriptor */
    coap_session_t *session; /* libcoap's, which closes the connection before it goes */
    int raw;                 /* a message too long to examine came: the rest passes as it is */
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    uint8_t *out;
    size_t out_len;
    size_t out_off;
    size_t out_cap;
};

static struct stream *streams;
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;

static struct stream *
stream_find(void *key, int fd)
{
    for (struct stream *st = streams; st; st = st->next) {
        if (key ? st->key == key : (!st->key && st->fd == fd)) {
            return st;
        }
    }
    return NULL;
}

static struct stream *
stream_get(void *key, int fd)
{
    struct stream *st = stream_find(key, fd);

    if (st) {
        return st;
    }
    st = calloc(1, sizeof(*st));
    if (st) {
        st->key = key;
        st->fd = key ? -1 : fd;
        pthread_mutex_lock(&streams_lock);
        st->next = streams;
        streams = st;
        pthread_mutex_unlock(&streams_lock);
    }
    return st;
}

/* Append @p n bytes to the buffer @p *buf of @p *len bytes and capacity @p *cap. @return RD_OK;
 * RD_ENOMEM. */
static int
append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    if (*len + n > *cap) {
        size_t cap2 = *cap ? *cap : CHUNK;
        uint8_t *b;

        while (cap2 < *len + n) {
            cap2 *= 2;
        }
        b = realloc(*buf, cap2);
        if (!b) {
            return RD_ENOMEM;
        }
        *buf = b;
        *cap = cap2;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return RD_OK;
}

static int
pass(struct stream *st, const uint8_t *p, size_t n)
{
    return append(&st->out, &st->out_len, &st->out_cap, p, n);
}

/* Answer the message @p p (header @p f) on @p session with @p code, its token and the
 * diagnostic @p diag (may be ""), through libcoap's queue. A connection without a session (a
 * test's) gets no answer. */
static void
answer(coap_session_t *session, const uint8_t *p, const struct rd_frame *f, coap_pdu_code_t code,
       const char *diag)
{
    coap_pdu_t *pdu;

    if (!session) {
        return;
    }
    pdu = coap_pdu_init(COAP_MESSAGE_CON, code, 0, coap_session_max_pdu_size(session));
    if (!pdu || !coap_add_token(pdu, f->tkl, p + f->head) ||
        (diag[0] && !coap_add_data(pdu, strlen(diag), (const uint8_t *)diag))) {
        coap_delete_pdu(pdu);
        return;
    }
    coap_send(session, pdu);
}

/* Examine the complete message @p p (header @p f): pass it on, rewritten or not, or answer or
 * drop it. @return RD_OK; RD_ENOMEM. */
static int
examine(struct stream *st, coap_session_t *session, const uint8_t *p, const struct rd_frame *f)
{
    struct rd_msg_exam e;
    uint8_t *out;
    size_t n;
    char diag[48];
    int rc;

    if (f->code == 0) {
        /* RFC 8323 section 5.4: an Empty message is always ignored. */
        return RD_OK;
    }
    if (f->code == COAP_SIGNALING_CODE_PING) {
        /* RFC 8323 section 5.4: a Pong with the Ping's token, to every Ping. */
        answer(session, p, f, COAP_SIGNALING_CODE_PONG, "");
        return RD_OK;
    }
    if ((f->code >> 5) != 0) {
        /* Answers and the other signaling messages are libcoap's. */
        return pass(st, p, f->size);
    }
    out = malloc(f->size);
    if (!out) {
        return RD_ENOMEM;
    }
    rc = rd__frame_examine(p, f, out, f->size, &n, &e);
    if (rc == RD_EINVAL) {
        /* Not a well-formed request: libcoap deals with message format errors itself. */
        rc = pass(st, p, f->size);
    } else if (!rc && e.verdict == RD_MSG_BAD_OPTION) {
        snprintf(diag, sizeof(diag), "option %u not recognized", e.option);
        answer(session, p, f, COAP_RESPONSE_CODE_BAD_OPTION, diag);
    } else if (!rc && e.verdict == RD_MSG_BAD_METHOD) {
        snprintf(diag, sizeof(diag), "method 0.%02u not recognized", f->code & 0x1fu);
        answer(session, p, f, COAP_RESPONSE_CODE_NOT_ALLOWED, diag);
    } else if (!rc) {
        rc = pass(st, out, n);
    }
    free(out);
    return rc;
}

/* Cut the bytes read so far into messages and examine each complete one. @return RD_OK;
 * RD_ENOMEM. */
static int
cut(struct stream *st, coap_session_t *session)
{
    struct rd_frame f;
    size_t pos = 0;
    int rc = RD_OK;

    while (!rc && pos < st->in_len) {
        rc = rd__frame_header(st->in + pos, st->in_len - pos, &f);
        if (rc == RD_ENOTFOUND) {
            rc = RD_OK;
            break;
        }
        if (rc || f.size > MESSAGE_MAX) {
            /* libcoap refuses it and what follows (the stream has lost its framing). */
            st->raw = 1;
            rc = pass(st, st->in + pos, st->in_len - pos);
            pos = st->in_len;
            break;
        }
        if (st->in_len - pos < f.size) {
            break;
        }
        rc = examine(st, session, st->in + pos, &f);
        pos += f.size;
    }
    memmove(st->in, st->in + pos, st->in_len - pos);
    st->in_len -= pos;
    return rc;
}

ssize_t
rd__gate_stream_read(coap_session_t *session, void *key, int fd, rd_gate_read_fn read_fn,
                     uint8_t *buf, size_t len)
{
    struct stream *st = stream_get(key, fd);
    uint8_t chunk[CHUNK];
    size_t n;

    if (!st) {
        return read_fn(key, fd, buf, len);
    }
    st->session = session;
    for (int i = 0; i < READS_MAX && st->out_off == st->out_len; i++) {
        ssize_t got = read_fn(key, fd, st->raw ? buf : chunk, st->raw ? len : sizeof(chunk));

        if (got <= 0 || st->raw) {
            return got;
        }
        if (append(&st->in, &st->in_len, &st->in_cap, chunk, (size_t)got) || cut(st, session)) {
            errno = ENOMEM;
            return -1;
        }
        if ((size_t)got < sizeof(chunk)) {
            break;
        }
    }
    if (st->out_off == st->out_len) {
        /* Nothing examined for libcoap yet: the rest of a message is still to come. */
        errno = EAGAIN;
        return -1;
    }
    n = st->out_len - st->out_off < len ? st->out_len - st->out_off : len;
    memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out_len) {
        st->out_off = 0;
        st->out_len = 0;
    }
    return (ssize_t)n;
}

void
rd__gate_stream_forget(void *key, int fd)
{
    struct stream *gone = NULL;

    pthread_mutex_lock(&streams_lock);
    for (struct stream **at = &streams; *at; at = &(*at)->next) {
        if (key ? (*at)->key == key : (!(*at)->key && (*at)->fd == fd)) {
            gone = *at;
            *at = gone->next;
            break;
        }
    }
    pthread_mutex_unlock(&streams_lock);
    if (gone) {
        free(gone->in);
        free(gone->out);
        free(gone);
    }
}

#if RD_GATE_INTERPOSE

static struct listener {
    struct rd_server *srv;
    coap_context_t *ctx;
    coap_address_t addr;
    coap_proto_t proto;
} listeners[LISTEN_MAX];
static size_t nlisteners;

/* The recv() and close() libcoap would have called without us (libc's, or a sanitizer's
 * interceptor). */
static recv_fn
real_recv(void)
{
    static recv_fn fn;

    if (!fn) {
        rd__gate_next("recv", &fn, sizeof(fn));
    }
    return fn;
}

static close_fn
real_close(void)
{
    static close_fn fn;

    if (!fn) {
        rd__gate_next("close", &fn, sizeof(fn));
    }
    return fn;
}

/* The server whose plain TCP listener accepted connection @p fd, and the connection's session;
 * NULL when it is not one (any other descriptor of the process). */
static struct rd_server *
tcp_connection(int fd, coap_session_t **session)
{
    coap_address_t local;
    coap_address_t peer;
    int type = 0;
    socklen_t tlen = sizeof(type);

    if (nlisteners == 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
        type != SOCK_STREAM) {
        return NULL;
    }
    coap_address_init(&local);
    coap_address_init(&peer);
    if (getsockname(fd, &local.addr.sa, &local.size) != 0 ||
        getpeername(fd, &peer.addr.sa, &peer.size) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < nlisteners; i++) {
        if (listeners[i].proto != COAP_PROTO_TCP ||
            coap_address_get_port(&listeners[i].addr) != coap_address_get_port(&local) ||
            listeners[i].addr.addr.sa.sa_family != local.addr.sa.sa_family) {
            continue;
        }
        /* libcoap 4.3.1 makes a server session with interface index 0 at accept(). */
        *session = coap_session_get_by_peer(listeners[i].ctx, &peer, 0);
        if (*session && coap_session_get_proto(*session) == COAP_PROTO_TCP) {
            return listeners[i].srv;
        }
    }
    return NULL;
}

static ssize_t
tcp_read(void *key, int fd, void *buf, size_t len)
{
    (void)key;
    return real_recv()(fd, buf, len, 0);
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
    recv_fn real = real_recv();
    coap_session_t *session = NULL;
    struct stream *st;

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (flags != 0) {
        return real(fd, buf, len, flags);
    }
    /* A connection seen before keeps its session until libcoap closes it. Other threads read
     * their own sockets too (an HTTP client's): the search holds the lock. */
    pthread_mutex_lock(&streams_lock);
    st = stream_find(NULL, fd);
    pthread_mutex_unlock(&streams_lock);
    if (st) {
        session = st->session;
    } else if (!tcp_connection(fd, &session)) {
        return real(fd, buf, len, flags);
    }
    return rd__gate_stream_read(session, NULL, fd, tcp_read, buf, len);
}

int
close(int fd)
{
    close_fn real = real_close();

    rd__gate_stream_forget(NULL, fd);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd);
}

void
rd__gate_listen(struct rd_server *srv, coap_context_t *ctx, const coap_address_t *addr,
                coap_proto_t proto)
{
    if (nlisteners < LISTEN_MAX) {
        listeners[nlisteners].srv = srv;
        listeners[nlisteners].ctx = ctx;
        listeners[nlisteners].addr = *addr;
        listeners[nlisteners++].proto = proto;
    }
}

void
rd__gate_unlisten(struct rd_server *srv)
{
    size_t j = 0;

    for (size_t i = 0; i < nlisteners; i++) {
        if (listeners[i].srv != srv) {
            listeners[j++] = listeners[i];
        }
    }
    nlisteners = j;
}

struct rd_server *
rd__gate_server(const coap_context_t *ctx)
{
    struct rd_server *srv = ctx ? coap_get_app_data(ctx) : NULL;

    for (size_t i = 0; srv && i < nlisteners; i++) {
        if (listeners[i].srv == srv) {
            return srv;
        }
    }
    return NULL;
}

#else

void
rd__gate_listen(struct rd_server *srv, coap_context_t *ctx, const coap_address_t *addr,
                coap_proto_t proto)
{
    (void)srv;
    (void)ctx;
    (void)addr;
    (void)proto;
}

void
rd__gate_unlisten(struct rd_server *srv)
{
    (void)srv;
}

#endif /* RD_GATE_INTERPOSE */
