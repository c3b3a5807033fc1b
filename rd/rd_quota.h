/* What rd_quota.c offers the rest of rd/: registration writes per address, and the
 * registrations an address and the directory may hold (RFC 9176 section 8). */
#ifndef RD_QUOTA_H
#define RD_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** The index term that records the requester's address on a registration (" src=ADDR").
 * @return RD_OK; RD_EINVAL (no address); RD_ETOOBIG (@p size too small). */
int rd__quota_source_term(const coap_session_t *session, char *out, size_t size);

/**
 * Check the total and per-address registration limits before (@p ep, @p d) is created; a
 * replacement of a live registration always passes. On refusal @p response holds 5.03 or 4.29
 * with Max-Age.
 *
 * @return RD_OK; RD_EFULL.
 */
int rd__quota_admit(struct rd_server *srv, const coap_session_t *session, const char *ep,
                         const char *d, coap_pdu_t *response);

#endif
