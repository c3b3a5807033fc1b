/* What rd_amplification.c offers the rest of rd/: the amplification limit for addresses not
 * yet verified (RFC 7252 section 11.3, RFC 9175 section 2.4). */
#ifndef RD_AMPLIFICATION_H
#define RD_AMPLIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;
struct sockaddr;

/**
 * Decide whether a block of the answer may go to the requester (RFC 7252 section 11.3): always
 * to a verified address, or when the block stays within three times the request. Otherwise,
 * with amplification blocks, @p szx is lowered so the block stays within that limit and
 * @p response gets an Echo value the client may send back to be verified (1 is returned); where
 * that cannot help, or with amplification echo, @p response is set to 4.01 with an Echo value
 * (RFC 9175 section 2.4) and 0 is returned. A notification to an unverified observer leaves
 * confirmable, so an address that never acknowledges loses its observation (RFC 7641 4.5).
 *
 * @param remaining Answer bytes from the block's start to the end.
 * @return 1: send the block; 0: @p response was set to 4.01 with Echo instead.
 */
int rd__amp_block_ok(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, coap_pdu_t *response, size_t remaining,
                        int *szx);

/** 1 when the requester's address is verified for the amplification limit: over DTLS, with
 * amplification off, recently verified, or by an Echo value in @p request (may be NULL). */
int rd__amp_verified(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request);

/** Mark the requester's address verified: it has shown that it receives there (it answered a
 * request with a random token). */
void rd__amp_mark_verified(struct rd_server *srv, const coap_session_t *session);

/** A datagram from @p from carried Echo @p value: when this server gave it to that address,
 * the address is verified for the amplification limit (the gate sees every plain datagram). */
void rd__amp_echo_seen(struct rd_server *srv, const struct sockaddr *from, const uint8_t *value,
                          size_t len);

#endif
