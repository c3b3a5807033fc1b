/* Observe (RFC 7641) beyond the handler: the option of an answer, and Resets to notifications.
 * Used by the block layer (rd_block2.c) and the datagram gate (compat/rd_gate.c); needs
 * rd_internal.h. */
#ifndef RD_OBSERVE_H
#define RD_OBSERVE_H

#include <stdint.h>
#include <sys/socket.h>

#include <coap3/coap.h>

struct rd_server;

/**
 * Add the Observe option to @p response, an answer to @p request that is a success (2.xx),
 * when that request made (or renewed) an observation of a lookup on @p session: the first
 * answer and every notification. Called once the answer is known to be a success, before any
 * payload is added: a non-2.xx answer carries no Observe (RFC 7641 section 4.1 and 4.2).
 * Nothing is added for any other request or when no observer is kept for it.
 */
void rd__observe_option(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, coap_pdu_t *response);

/**
 * A Reset with message ID @p mid came from @p peer (borrowed; @p peer_len bytes) over @p proto
 * (COAP_PROTO_UDP or COAP_PROTO_DTLS). When it answers one of the recent non-confirmable
 * notifications sent to that peer over that transport, that observer goes at once (RFC 7641
 * section 3.6): libcoap 4.3.1 reports Resets only to confirmable messages.
 *
 * @return 1 when an observer was dropped; 0 otherwise.
 */
int rd__observe_reset(struct rd_server *srv, coap_proto_t proto, const struct sockaddr *peer,
                      socklen_t peer_len, uint16_t mid);

#endif
