/* What rd_conditional.c offers the rest of rd/. Conditional requests on the registration
 * interface. */
#ifndef RD_CONDITIONAL_H
#define RD_CONDITIONAL_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** The tag of a registration: a hash of @p ep, @p d and its stored record @p data (lt, base,
 * owner, attributes, links), so any change but a lifetime refresh changes it. GET /rd/<id>
 * carries it as its ETag, and If-Match on the registration resource compares against it.
 * @return A tag, never 0. */
uint64_t rd__reg_etag(const char *ep, const char *d, const void *data, size_t len);

/** The ETag option value of @p tag (RFC 7252 section 5.10.6), as core-rd sends it: the
 * shortest big-endian form. @return Its length, 1 to 8. */
size_t rd__etag_encode(uint64_t tag, uint8_t out[8]);

/** @return 1 when @p request carries If-Match or If-None-Match, else 0. */
int rd__cond_present(const coap_pdu_t *request);

/**
 * Evaluate the If-Match and If-None-Match options of @p request (RFC 7252 section 5.10.8)
 * against a resource that @p exists with tag @p tag. If-None-Match fails when it exists; any
 * If-Match fails unless it exists and one If-Match option is empty or equals the tag.
 *
 * @param why Written with a short reason (a static string) on failure.
 * @return RD_OK when the request may go on; RD_ECONFLICT when a precondition fails.
 */
int rd__cond_eval(const coap_pdu_t *request, int exists, uint64_t tag, const char **why);

/** The conditions of a request on the registration resource @p id, which exists when update
 * or removal would find it (live, or expired within expiry_grace). Reads the store only when
 * the request is conditional.
 * @return RD_OK; RD_ECONFLICT (4.12 with the reason set in @p response); RD_ESTORE (5.00 set). */
int rd__cond_reg(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response,
                 uint64_t id);

/** The conditions of POST /rd, judged against the live registration of (@p ep, @p d) that
 * the request would create or replace: If-None-Match registers only a new (ep, d).
 * @return RD_OK; RD_ECONFLICT (4.12 set in @p response); RD_ESTORE (5.00 set). */
int rd__cond_ep(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response,
                const char *ep, const char *d);

#endif
