/* What rd_gate.c offers the rest of rd/. The datagram gate, and its examination of a message
 * in the datagram form, which the DTLS record gate (rd_gate_tls.c) shares. */
#ifndef RD_GATE_H
#define RD_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <coap3/coap.h>

struct rd_server;

/* libcoap 4.3.1 has no hook between its socket and its parser: the gate interposes recvmsg()
 * (rd_gate.c), SSL_read() (rd_gate_tls.c) and recv() (rd_gate_stream.c). A libcoap that offers
 * such a hook builds without the interposition; -DRD_GATE_INTERPOSE=0 (CMake option
 * RD_COMPAT=OFF) builds so against 4.3.1 too, to check that the workarounds compile out. */
#ifndef RD_GATE_INTERPOSE
#define RD_GATE_INTERPOSE (LIBCOAP_VERSION <= 4003001U)
#endif

/** What the gate tells its server, and the only way it reaches it (the server is an opaque
 * handle to the gate). Called on the loop's thread, from inside libcoap's read. */
struct rd_gate_policy {
    void *arg; /**< passed to each function */
    /** A plain datagram from @p from carried Echo @p value (the amplification limit may take
     * the address as verified). NULL: not told. */
    void (*echo_seen)(void *arg, const struct sockaddr *from, const uint8_t *value, size_t len);
    /** A Reset with message ID @p mid came from @p peer over @p proto (plain or DTLS): an
     * observation it answers ends (RFC 7641 section 3.6). NULL: not told. */
    void (*reset_seen)(void *arg, coap_proto_t proto, const struct sockaddr *peer,
                       socklen_t peer_len, uint16_t mid);
};

/** Find the socket libcoap opened for the endpoint at @p addr and examine each of its datagrams
 * before libcoap parses it, from now on, telling @p policy (copied) what it sees.
 * @return RD_OK; RD_ENOTFOUND (no such socket, or a libcoap that needs no gate: the server
 * runs without it, and says so). */
int rd__gate_add(struct rd_server *srv, const struct rd_gate_policy *policy,
                 const coap_address_t *addr);

/** Plain datagrams of @p srv handed to libcoap so far (a count that only grows). */
uint64_t rd__gate_passed(const struct rd_server *srv);

/** Plain CoAP sockets gated for @p srv: 0 when its datagrams are not examined. */
size_t rd__gate_sockets(const struct rd_server *srv);

/** Stop examining @p srv's sockets (before they close). */
void rd__gate_remove(struct rd_server *srv);

/** 1 when a datagram waits on one of @p srv's plain CoAP sockets: libcoap may read again without
 * waiting. */
int rd__gate_pending(const struct rd_server *srv);

struct epoll_event;

/**
 * Make one dispatch of libcoap's ready events read every waiting datagram, up to a bound.
 * libcoap 4.3.1 reads one datagram per endpoint event, and each call that dispatches events
 * (coap_io_process(), coap_io_do_epoll()) ends by walking every session it keeps to set its
 * timer: thousands of recent peers made that walk the largest cost of a datagram. So the loop
 * reads libcoap's epoll set itself (@p epfd) and dispatches once a turn; this appends, to the
 * @p n events in @p ev (room for @p cap), copies of each gated socket's event, each one more
 * read of that socket. Until rd__gate_repeat_end(), a socket found empty is not read again:
 * copies past the waiting datagrams cost nothing; and the waiting datagrams are read with one
 * recvmmsg() (rd_gate_ring.c), then handed to libcoap's reads one by one.
 *
 * @return The new number of events (@p n when no gated socket of @p srv is ready, or when its
 *         event cannot be told: then one datagram a dispatch, as libcoap reads).
 */
int rd__gate_repeat(const struct rd_server *srv, int epfd, struct epoll_event *ev, int n, int cap);

/** End the dispatch begun by rd__gate_repeat(): every read asks the socket again.
 * @return 1 when datagrams read ahead are left for the next dispatch (the loop must not wait
 *         for the socket then); else 0. */
int rd__gate_repeat_end(void);

/** Write to @p fn (a function pointer of @p size bytes) the definition of @p name that comes
 * after the executable's own (libc's, OpenSSL's or a sanitizer's): what libcoap would have
 * called without the interposition. NULL when there is none. */
void rd__gate_next(const char *name, void *fn, size_t size);

/** Where a message examined by rd__gate_examine() came from, and how an answer goes back. */
struct rd_gate_from {
    int fd;                  /**< plain UDP: the endpoint socket; else -1 */
    struct msghdr *msg;      /**< plain UDP: the datagram's header (peer, packet info) */
    void *ssl;               /**< DTLS: the record's SSL object (an SSL *), else NULL */
    coap_session_t *session; /**< DTLS: the session the record belongs to, else NULL */
};

/**
 * Examine one CoAP message in the datagram form (RFC 7252 section 3), of @p *len bytes in
 * @p buf, from @p from (plain UDP here, DTLS from rd_gate_tls.c): answer a ping, drop
 * signaling, hand a Reset to the observers, refuse an unrecognized critical option (4.02) or
 * method (4.05), and rewrite a request without the options to be ignored.
 *
 * @return 1 when the message goes on to libcoap (@p buf and @p *len rewritten when options were
 *         left out); 0 when it was answered or dropped here.
 */
int rd__gate_examine(struct rd_server *srv, const struct rd_gate_from *from, uint8_t *buf,
                     size_t *len);

#endif
