/* Datagrams read ahead for the gate (see rd_gate_ring.h). A turn of the loop reads up to 24
 * datagrams of a socket (rd_loop.c); one recvmmsg() takes them from the kernel for the price of
 * about one recvmsg(). */
#define _GNU_SOURCE /* recvmmsg */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "rd_gate_ring.h"

/* Datagrams one recvmmsg() takes at most: a turn's reads of one socket. */
#define RING_MAX 24
/* Packet information of either family. */
#define CONTROL_MAX (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)))

struct rd_gate_ring {
    size_t datagram_max;
    size_t head;  /* next to take */
    size_t count; /* read ahead, not taken */
    struct mmsghdr mm[RING_MAX];
    struct iovec iov[RING_MAX];
    struct sockaddr_storage name[RING_MAX];
    union {
        size_t align; /* a cmsghdr's alignment: its first member is a size_t */
        char bytes[CONTROL_MAX];
    } control[RING_MAX];
    unsigned char *data; /* RING_MAX buffers of datagram_max bytes */
};

struct rd_gate_ring *
rd__gate_ring_new(size_t datagram_max)
{
    struct rd_gate_ring *ring = calloc(1, sizeof(*ring));

    if (!ring) {
        return NULL;
    }
    ring->data = malloc(RING_MAX * datagram_max);
    if (!ring->data) {
        free(ring);
        return NULL;
    }
    ring->datagram_max = datagram_max;
    return ring;
}

void
rd__gate_ring_free(struct rd_gate_ring *ring)
{
    if (ring) {
        free(ring->data);
        free(ring);
    }
}

size_t
rd__gate_ring_count(const struct rd_gate_ring *ring)
{
    return ring ? ring->count : 0;
}

/* Read what waits on @p fd, up to RING_MAX datagrams. @return as recvmmsg(). */
static int
fill(struct rd_gate_ring *ring, int fd,
     int (*real)(int, struct mmsghdr *, unsigned, int, struct timespec *))
{
    int n;

    /* recvmmsg() shortens the lengths to what it wrote: each read starts from full ones. */
    for (size_t i = 0; i < RING_MAX; i++) {
        struct msghdr *h = &ring->mm[i].msg_hdr;

        ring->iov[i].iov_base = ring->data + i * ring->datagram_max;
        ring->iov[i].iov_len = ring->datagram_max;
        memset(h, 0, sizeof(*h));
        h->msg_name = &ring->name[i];
        h->msg_namelen = sizeof(ring->name[i]);
        h->msg_iov = &ring->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = ring->control[i].bytes;
        h->msg_controllen = sizeof(ring->control[i].bytes);
    }
    n = real(fd, ring->mm, RING_MAX, MSG_DONTWAIT, NULL);
    if (n > 0) {
        ring->head = 0;
        ring->count = (size_t)n;
    }
    return n;
}

/* Copy @p n bytes of @p src to @p dst of @p room bytes; 1 when they were cut. */
static int
copy_cut(void *dst, size_t room, const void *src, size_t n)
{
    memcpy(dst, src, n < room ? n : room);
    return n > room;
}

ssize_t
rd__gate_ring_take(struct rd_gate_ring *ring, int fd,
                   int (*real)(int, struct mmsghdr *, unsigned, int, struct timespec *),
                   struct msghdr *msg)
{
    const struct mmsghdr *m;
    size_t len;

    if (ring->count == 0 && fill(ring, fd, real) <= 0) {
        return -1;
    }
    m = &ring->mm[ring->head++];
    ring->count--;
    len = m->msg_len;
    msg->msg_flags = m->msg_hdr.msg_flags;
    if (copy_cut(msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len, m->msg_hdr.msg_iov[0].iov_base,
                 len)) {
        msg->msg_flags |= MSG_TRUNC;
        len = msg->msg_iov[0].iov_len;
    }
    copy_cut(msg->msg_name, msg->msg_namelen, m->msg_hdr.msg_name, m->msg_hdr.msg_namelen);
    msg->msg_namelen = m->msg_hdr.msg_namelen;
    if (copy_cut(msg->msg_control, msg->msg_controllen, m->msg_hdr.msg_control,
                 m->msg_hdr.msg_controllen)) {
        msg->msg_flags |= MSG_CTRUNC;
    } else {
        msg->msg_controllen = m->msg_hdr.msg_controllen;
    }
    /* What recvmsg() leaves in a buffer too small for the packet information: the cut part. */
    return (ssize_t)len;
}
