/* Datagrams read ahead for the gate (rd_gate.c): one recvmmsg() fills a ring that the gate's
 * reads on behalf of libcoap then take one at a time. Used only by rd_gate.c, on the loop's
 * thread. */
#ifndef RD_GATE_RING_H
#define RD_GATE_RING_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct rd_gate_ring;

/** A ring for datagrams of up to @p datagram_max bytes. NULL: out of memory (the gate then
 * reads one datagram a call). Release it with rd__gate_ring_free(). */
struct rd_gate_ring *rd__gate_ring_new(size_t datagram_max);

void rd__gate_ring_free(struct rd_gate_ring *ring);

/** Datagrams read ahead and not yet taken. */
size_t rd__gate_ring_count(const struct rd_gate_ring *ring);

/**
 * Take the next datagram of socket @p fd into @p msg as recvmsg() would write it (data, peer,
 * packet information, flags), reading the waiting ones with one recvmmsg() (through @p real,
 * the recvmmsg() libc offers) when none is read ahead.
 *
 * @return The datagram's length (cut to the caller's buffer, MSG_TRUNC then set); -1 with errno
 *         as recvmmsg() set it (EAGAIN: nothing waits).
 */
ssize_t rd__gate_ring_take(struct rd_gate_ring *ring, int fd,
                           int (*real)(int, struct mmsghdr *, unsigned, int, struct timespec *),
                           struct msghdr *msg);

#endif
