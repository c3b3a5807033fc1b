/* The gate on every transport (rd_gate.c: UDP; rd_gate_tls.c: DTLS and TLS records;
 * rd_gate_stream.c: the CoAP-over-TCP/TLS byte stream; rd_frame.c: its messages). Shared by
 * those files only; needs rd_internal.h. */
#ifndef RD_GATE_H
#define RD_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <coap3/coap.h>

struct rd_server;
struct rd_msg_exam;

/** Where a message examined by rd__gate_examine() came from, and how an answer goes back. */
struct rd_gate_from {
    int fd;                  /**< plain UDP: the endpoint socket; else -1 */
    struct msghdr *msg;      /**< plain UDP: the datagram's header (peer, packet info) */
    void *ssl;               /**< DTLS: the record's SSL object (an SSL *), else NULL */
    coap_session_t *session; /**< DTLS: the session the record belongs to, else NULL */
};

/**
 * Examine one CoAP message in the datagram form (RFC 7252 section 3), of @p *len bytes in
 * @p buf, from @p from: answer a ping, drop signaling, hand a Reset to the observers, refuse
 * an unrecognized critical option (4.02) or method (4.05), and rewrite a request without the
 * options to be ignored.
 *
 * @return 1 when the message goes on to libcoap (@p buf and @p *len rewritten when options were
 *         left out); 0 when it was answered or dropped here.
 */
int rd__gate_examine(struct rd_server *srv, const struct rd_gate_from *from, uint8_t *buf,
                     size_t *len);

/** The server of libcoap context @p ctx when it asked for the gate (rd__gate_add()); NULL for a
 * context that did not (a client's, a test's). */
struct rd_server *rd__gate_server(const coap_context_t *ctx);

/** Gate the connections (and, for DTLS, the records) of @p srv's listener at @p addr, of
 * transport @p proto (not plain UDP: rd__gate_add()). A full table is not an error: that
 * listener's messages then reach libcoap unexamined. */
void rd__gate_listen(struct rd_server *srv, const coap_address_t *addr, coap_proto_t proto);

/** Stop gating @p srv's listeners (rd__gate_remove() calls it). */
void rd__gate_unlisten(struct rd_server *srv);

/** Reads up to @p len raw bytes from connection @p key or @p fd, as recv() does. */
typedef ssize_t (*rd_gate_read_fn)(void *key, int fd, void *buf, size_t len);

/**
 * Read from a CoAP-over-TCP or -TLS connection through the stream gate: each complete message
 * read is examined, and only what passes reaches @p buf; answers go out on @p session.
 *
 * @param key      the connection: its SSL object for TLS, else NULL (then @p fd names it)
 * @return bytes written to @p buf (> 0); else as @p read_fn returned (0: end of stream; -1 with
 *         errno), or -1 with EAGAIN when nothing examined is there yet.
 */
ssize_t rd__gate_stream_read(coap_session_t *session, void *key, int fd, rd_gate_read_fn read_fn,
                             uint8_t *buf, size_t len);

/** Write @p n bytes to the DTLS session of SSL object @p ssl, past the interposition. */
void rd__gate_tls_write(void *ssl, const uint8_t *p, size_t n);

/** Forget the stream state of connection @p key (TLS) or @p fd (TCP, @p key NULL). */
void rd__gate_stream_forget(void *key, int fd);

/** The header of a CoAP-over-TCP/TLS message (RFC 8323 section 3.2). */
struct rd_frame {
    size_t size; /**< the whole message: length field, code, token, options and payload */
    size_t head; /**< bytes before the token: the length field and the code */
    size_t tkl;  /**< token length */
    uint8_t code;
};

/**
 * Read the header at the start of @p p (@p avail bytes).
 *
 * @return RD_OK with @p f written; RD_ENOTFOUND when @p avail does not hold the length field,
 *         code and token yet (read more); RD_EINVAL for a token length of 9 to 15 or a length
 *         beyond size_t (message format errors).
 */
int rd__frame_header(const uint8_t *p, size_t avail, struct rd_frame *f);

/**
 * rd__msg_examine() for the complete request @p p with header @p f: @p out receives the
 * message in the stream form without the options left out (at most f->size bytes).
 *
 * @param out_size at least f->size
 * @return RD_OK with @p out, @p out_len and @p exam written (exam->echo_off within @p out);
 *         RD_EINVAL as rd__msg_examine() (not a well-formed request); RD_ENOMEM.
 */
int rd__frame_examine(const uint8_t *p, const struct rd_frame *f, uint8_t *out, size_t out_size,
                      size_t *out_len, struct rd_msg_exam *exam);

#endif
