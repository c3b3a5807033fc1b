/* What rd_limits.c offers the rest of rd/: the limits on a request's rate and lengths, and the
 * table of source addresses that rd_amplification.c and rd_quota.c keep their state in. */
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

/** Check link targets and attribute values against max_attr_len. @return RD_OK or RD_EINVAL. */
int rd__limits_check_links(const struct rd_server *srv, const struct lookup_links *links,
                           char *diag, size_t diag_size);

/** What the server knows of one source address: one slot of a fixed table (rd_limits.c). */
struct rd_peer {
    uint8_t addr[16]; /**< IPv6, or IPv4-mapped */
    uint8_t used;
    uint8_t limited;        /**< over its rate: logged once until it is under again */
    uint64_t tokens;        /**< thousandths of a request */
    int64_t last_ms;        /**< monotonic milliseconds of the last refill */
    int64_t seen_ms;        /**< monotonic milliseconds of the last request */
    int64_t verified_until; /**< wall-clock second; 0: never verified (rd_amplification.c) */
    uint64_t wtokens;       /**< thousandths of a registration write (rd_quota.c) */
    int64_t wlast_ms;       /**< monotonic milliseconds of the last refill of wtokens */
};

/**
 * The entry of @p addr, found or taken over: a free slot, else the longest idle unverified
 * one, else the longest idle one. Forged addresses never become verified, so a flood of them
 * evicts each other before it evicts a verified peer. Owned by the table; valid until the next
 * call. Never NULL.
 */
struct rd_peer *rd__peer_get(struct rd_server *srv, const uint8_t addr[16], int64_t now_ms);

/** The peer's address of @p session as 16 bytes, IPv4 mapped into IPv6, so both families
 * share one table. @return RD_OK; RD_EINVAL (no address, another family). */
int rd__peer_addr(const coap_session_t *session, uint8_t out[16]);

/** The peer's address of @p session as text for a log line; "an unknown address" without. */
void rd__peer_text(const coap_session_t *session, char *out, size_t size);

/** Add Max-Age @p seconds to a refusal: when to try again (RFC 8516 section 4). */
void rd__add_max_age(coap_pdu_t *response, uint32_t seconds);

/** The address of @p from as 16 bytes (IPv4 mapped into IPv6) and its port: the key under
 * which per-peer state is kept. @return RD_OK; RD_EINVAL for another family. */
int rd__sockaddr_key(const struct sockaddr *from, uint8_t addr[16], uint16_t *port);

#endif
