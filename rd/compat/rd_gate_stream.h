/* What rd_gate_stream.c offers the rest of rd/. The stream gate: CoAP over TCP and TLS
 * (RFC 8323), examined message by message before libcoap parses it. */
#ifndef RD_GATE_STREAM_H
#define RD_GATE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <coap3/coap.h>

struct rd_server;

/** Gate the connections (and, for DTLS, the records) of @p srv's listener at @p addr, of
 * transport @p proto (not plain UDP: rd__gate_add()). A full table is not an error: that
 * listener's messages then reach libcoap unexamined. */
void rd__gate_listen(struct rd_server *srv, coap_context_t *ctx, const coap_address_t *addr,
                     coap_proto_t proto);

/** Stop gating @p srv's listeners (rd__gate_remove() calls it). */
void rd__gate_unlisten(struct rd_server *srv);

/** @return the server of libcoap context @p ctx when it has gated listeners
 * (rd__gate_listen()); NULL for a context that has none (a client's, a test's). */
struct rd_server *rd__gate_server(const coap_context_t *ctx);

/** Reads up to @p len raw bytes from connection @p key or @p fd, as recv() does. */
typedef ssize_t (*rd_gate_read_fn)(void *key, int fd, void *buf, size_t len);

/**
 * Read from a CoAP-over-TCP or -TLS connection through the stream gate: each complete message
 * read is examined, and only what passes reaches @p buf; answers go out on @p session (none
 * when it is NULL).
 *
 * @param key the connection: its SSL object for TLS, else NULL (then @p fd names it)
 * @return bytes written to @p buf (> 0); else as @p read_fn returned (0: end of stream; -1 with
 *         errno), or -1 with EAGAIN when nothing examined is there yet; -1 with ENOMEM.
 */
ssize_t rd__gate_stream_read(coap_session_t *session, void *key, int fd, rd_gate_read_fn read_fn,
                             uint8_t *buf, size_t len);

/** Forget the stream state of connection @p key (TLS) or @p fd (TCP, @p key NULL). */
void rd__gate_stream_forget(void *key, int fd);

#endif
