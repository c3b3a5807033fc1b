/* Write batches of the I/O loop (rd_batch.h): one store transaction per turn, and the turn's
 * datagrams held until it commits.
 *
 * libcoap 4.3.1 sends every datagram of a plain UDP endpoint with the libc function sendmsg()
 * (coap_socket_send), called through its PLT, and offers no hook between building a response
 * and sending it. This file defines sendmsg(), as rd_gate.c defines recvmsg(): while the loop's
 * thread holds, the datagram is copied aside and reported sent; rd__batch_end() commits and
 * then sends them all, in order, with sendmmsg(). Every other call, and every call while
 * nothing is held, goes to the real sendmsg() (RTLD_NEXT: libc, or the sanitizer's). The
 * holding batch is file-scope because libcoap's call carries no context of ours. */
#define _GNU_SOURCE /* RTLD_NEXT, sendmmsg() */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rd_batch.h"
#include "rd_dedup.h"
#include "rd_feed.h"
#include "rd_log.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Datagrams and bytes held in one turn at most; more commit the batch early and send. */
#define HELD_MAX       128
#define HELD_BYTES_MAX ((size_t)256 << 10)
/* Ancillary data of one datagram kept at most (IPv6 packet info takes 40 bytes). */
#define CONTROL_MAX 128

typedef ssize_t (*sendmsg_fn)(int fd, const struct msghdr *msg, int flags);

struct held {
    int fd;
    int flags;
    socklen_t namelen;
    size_t controllen;
    size_t off; /* of its bytes in rd_batch.bytes */
    size_t len;
    struct sockaddr_storage name;
    unsigned char control[CONTROL_MAX] __attribute__((aligned(8)));
};

struct rd_batch {
    int holding;
    pthread_t thread;   /* the loop's: only its sends are held */
    uint64_t dedup_seq; /* rd__dedup_seq() when the turn began */
    uint64_t lookup_gen; /* srv->lookup_gen when the turn began */
    struct held held[HELD_MAX];
    size_t nheld;
    unsigned char bytes[HELD_BYTES_MAX];
    size_t nbytes;
    struct rd_server *srv;
};

/* The batch that holds, if any. */
static struct rd_batch *holder;

static sendmsg_fn
next_sendmsg(void)
{
    static sendmsg_fn fn;

    if (!fn) {
        void *sym = dlsym(RTLD_NEXT, "sendmsg");

        memcpy(&fn, &sym, sizeof(fn));
    }
    return fn;
}

/* Send the held datagrams, in order: one sendmmsg() per run of the same descriptor. */
static void
flush(struct rd_batch *b)
{
    struct mmsghdr mm[HELD_MAX];
    struct iovec iov[HELD_MAX];
    size_t i = 0;

    while (i < b->nheld) {
        size_t n = 0;
        int sent;

        while (i + n < b->nheld && b->held[i + n].fd == b->held[i].fd &&
               b->held[i + n].flags == b->held[i].flags) {
            struct held *h = &b->held[i + n];

            iov[n].iov_base = b->bytes + h->off;
            iov[n].iov_len = h->len;
            memset(&mm[n], 0, sizeof(mm[n]));
            mm[n].msg_hdr.msg_name = h->namelen ? &h->name : NULL;
            mm[n].msg_hdr.msg_namelen = h->namelen;
            mm[n].msg_hdr.msg_iov = &iov[n];
            mm[n].msg_hdr.msg_iovlen = 1;
            mm[n].msg_hdr.msg_control = h->controllen ? h->control : NULL;
            mm[n].msg_hdr.msg_controllen = h->controllen;
            n++;
        }
        sent = sendmmsg(b->held[i].fd, mm, (unsigned)n, b->held[i].flags);
        /* A datagram the kernel refuses is lost, as libcoap's own failed send would be; the
         * ones after it still go. */
        i += sent > 0 ? (size_t)sent : 1;
    }
    b->nheld = 0;
    b->nbytes = 0;
}

int
rd__batch_init(struct rd_server *srv)
{
    srv->batch = calloc(1, sizeof(*srv->batch));
    if (!srv->batch) {
        return RD_ENOMEM;
    }
    srv->batch->srv = srv;
    return RD_OK;
}

void
rd__batch_cleanup(struct rd_server *srv)
{
    if (!srv->batch) {
        return;
    }
    rd__batch_end(srv);
    free(srv->batch);
    srv->batch = NULL;
}

void
rd__batch_begin(struct rd_server *srv)
{
    struct rd_batch *b = srv->batch;

    if (!b || b->holding || holder || store_batch_begin(srv->store)) {
        return;
    }
    b->holding = 1;
    b->thread = pthread_self();
    b->dedup_seq = rd__dedup_seq(&srv->dedup);
    b->lookup_gen = srv->lookup_gen;
    holder = b;
}

/* The batch is lost: drop what it held. */
static void
drop(struct rd_server *srv, struct rd_batch *b)
{
    rd__log(srv, RD_LOG_ERROR, "store: %s: %zu answers held for it dropped",
            store_errmsg(srv->store), b->nheld);
    b->nheld = 0;
    b->nbytes = 0;
    /* Their duplicates must run again rather than get an answer for a change that is gone, and
     * lookups must not keep what they saw of it. */
    rd__dedup_forget_since(&srv->dedup, b->dedup_seq);
    srv->lookup_gen++;
    srv->lookup_dirty = 1;
}

void
rd__batch_end(struct rd_server *srv)
{
    struct rd_batch *b = srv->batch;

    if (!b || !b->holding) {
        return;
    }
    b->holding = 0;
    holder = NULL;
    if (store_batch_commit(srv->store) == RD_OK) {
        /* A lookup later in the turn than a write read the store as it was before the batch
         * (its snapshot sees only commits), yet took the generation the write had already
         * moved on: what it remembered must not outlive the commit. */
        if (srv->lookup_gen != b->lookup_gen) {
            srv->lookup_gen++;
        }
        flush(b);
        rd__feed_committed(srv);
    } else {
        drop(srv, b);
    }
}

int
rd__batch_holding(const struct rd_server *srv)
{
    return srv->batch && srv->batch->holding;
}

int
rd__batch_pause(struct rd_server *srv, const coap_session_t *session)
{
    if (!srv->batch || !srv->batch->holding || coap_session_get_proto(session) == COAP_PROTO_UDP) {
        return 0;
    }
    rd__batch_end(srv);
    return 1;
}

void
rd__batch_resume(struct rd_server *srv, int paused)
{
    struct rd_batch *b = srv->batch;

    if (paused) {
        rd__batch_begin(srv);
        return;
    }
    /* A write of this handler lost the batch: the answers held so far are for lost writes, but
     * this handler's own (its error) and the turn's later ones go out after a fresh batch. */
    if (b && b->holding && store_batch_lost(srv->store)) {
        rd__batch_end(srv);
        rd__batch_begin(srv);
    }
}

/* Copy @p msg aside; 0 when it does not fit (nothing copied). */
static int
hold(struct rd_batch *b, int fd, const struct msghdr *msg, int flags, size_t len)
{
    struct held *h;

    if (b->nheld == HELD_MAX || len > HELD_BYTES_MAX - b->nbytes ||
        msg->msg_namelen > sizeof(h->name) || msg->msg_controllen > CONTROL_MAX) {
        return 0;
    }
    h = &b->held[b->nheld];
    h->fd = fd;
    h->flags = flags;
    h->namelen = msg->msg_name ? msg->msg_namelen : 0;
    h->controllen = msg->msg_control ? msg->msg_controllen : 0;
    h->off = b->nbytes;
    h->len = len;
    if (h->namelen) {
        memcpy(&h->name, msg->msg_name, h->namelen);
    }
    if (h->controllen) {
        memcpy(h->control, msg->msg_control, h->controllen);
    }
    for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++) {
        memcpy(b->bytes + b->nbytes, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
        b->nbytes += msg->msg_iov[i].iov_len;
    }
    b->nheld++;
    return 1;
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    sendmsg_fn real = next_sendmsg();
    struct rd_batch *b = holder;
    size_t len = 0;

    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!b || !msg || !pthread_equal(b->thread, pthread_self())) {
        return real(fd, msg, flags);
    }
    for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++) {
        len += msg->msg_iov[i].iov_len;
    }
    if (hold(b, fd, msg, flags, len)) {
        return (ssize_t)len;
    }
    /* Full: what is held goes now, after its commit, and this datagram with it. */
    rd__batch_end(b->srv);
    rd__batch_begin(b->srv);
    if (holder && hold(holder, fd, msg, flags, len)) {
        return (ssize_t)len;
    }
    return real(fd, msg, flags);
}
