/* What rd_limits.c offers the rest of rd/. Abuse resistance. */
#ifndef RD_LIMITS_H
#define RD_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_server;
struct sockaddr;

/** Allocate the per-address table and apply the session limits to the context.
 * @return RD_OK; RD_ENOMEM. */
int rd__limits_init(struct rd_server *srv);

/** Release what rd__limits_init() allocated. Accepts a server without it. */
void rd__limits_cleanup(struct rd_server *srv);

/**
 * Take a request under the rate and query length limits; on refusal @p response holds 4.29
 * (with Max-Age) or 4.00, with a diagnostic, and the handler must return.
 *
 * @return RD_OK; RD_EFULL (rate); RD_EINVAL (query).
 */
int rd__limits_admit(struct rd_server *srv, const coap_session_t *session,
                     const coap_pdu_t *request, coap_pdu_t *response);

/** Charge a datagram from @p from that no handler will see (a non-final Block1 block) to the
 * address's rate. @return 0 when taken, else seconds until the next one is (4.29, Max-Age). */
uint32_t rd__limits_charge_datagram(struct rd_server *srv, const struct sockaddr *from);

/** Check link targets and attribute values against max_attr_len. @return RD_OK or RD_EINVAL. */
int rd__limits_check_links(const struct rd_server *srv, const struct lookup_links *links,
                           char *diag, size_t diag_size);

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
int rd__limits_block_ok(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, coap_pdu_t *response, size_t remaining,
                        int *szx);

/** The address of @p from as 16 bytes (IPv4 mapped into IPv6) and its port: the key under
 * which per-peer state is kept. @return RD_OK; RD_EINVAL for another family. */
int rd__sockaddr_key(const struct sockaddr *from, uint8_t addr[16], uint16_t *port);

/** A datagram from @p from carried Echo @p value: when this server gave it to that address,
 * the address is verified for the amplification limit (the gate sees every plain datagram). */
void rd__limits_echo_seen(struct rd_server *srv, const struct sockaddr *from, const uint8_t *value,
                          size_t len);

/** The index term that records the requester's address on a registration (" src=ADDR").
 * @return RD_OK; RD_EINVAL (no address); RD_ETOOBIG (@p size too small). */
int rd__limits_source_term(const coap_session_t *session, char *out, size_t size);

/**
 * Check the total and per-address registration limits before (@p ep, @p d) is created; a
 * replacement of a live registration always passes. On refusal @p response holds 5.03 or 4.29
 * with Max-Age.
 *
 * @return RD_OK; RD_EFULL.
 */
int rd__limits_reg_admit(struct rd_server *srv, const coap_session_t *session, const char *ep,
                         const char *d, coap_pdu_t *response);

/** 1 when the requester's address is verified for the amplification limit: over DTLS, with
 * amplification off, recently verified, or by an Echo value in @p request (may be NULL). */
int rd__limits_verified(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request);

/** Mark the requester's address verified: it has shown that it receives there (it answered a
 * request with a random token). */
void rd__limits_mark_verified(struct rd_server *srv, const coap_session_t *session);

#endif
