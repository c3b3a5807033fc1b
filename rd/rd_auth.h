/* What rd_auth.c offers the rest of rd/. Authorization of registration and lookup requests by
 * security identity (RFC 9176 section 7). */
#ifndef RD_AUTH_H
#define RD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "rd_dtls.h"

struct rd_server;

/** An authorization decision: 0 (allowed) or the response code, with a diagnostic. */
struct rd_verdict {
    coap_pdu_code_t code;
    uint32_t max_age; /**< seconds, with 5.03; 0 for none */
    char diag[96];
};

/**
 * May the requester (@p session) read: lookups, GET of a registration.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.01.
 */
int rd__auth_read(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response);

/**
 * May the requester use the registration interface at all, and with which identity.
 * @param identity Written with the requester's identity on success.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.01 or 4.03.
 */
int rd__auth_write(const struct rd_server *srv, const coap_session_t *session,
                   char identity[RD_IDENTITY_SIZE], coap_pdu_t *response);

/**
 * May @p identity create or re-register (@p d, @p ep): ep_policy, ownership of a live
 * registration of that name, max_regs_per_identity. Decides before anything is written.
 * @return RD_OK, or RD_EINVAL with @p v filled.
 */
int rd__auth_register(struct rd_server *srv, const char *identity, const char *ep, const char *d,
                      struct rd_verdict *v);

/**
 * May @p identity update or delete a registration created by @p owner (NULL: "none").
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.03.
 */
int rd__auth_owner(const struct rd_server *srv, const char *identity, const char *owner,
                   coap_pdu_t *response);

/** Answer with a verdict of rd__auth_register(). */
void rd__auth_respond(const struct rd_verdict *v, coap_pdu_t *response);

#endif
