/* What rd_respond.c offers the rest of rd/: the CoAP answer for an rd_status, and error answers
 * with a diagnostic payload. */
#ifndef RD_RESPOND_H
#define RD_RESPOND_H

#include <coap3/coap.h>

/** The CoAP response code for an rd_status: the only such mapping. */
coap_pdu_code_t rd__status_to_coap(int rc);

/** Set @p code and a short diagnostic payload (RFC 7252 section 5.5.2) on @p response. */
void rd__respond_error(coap_pdu_t *response, coap_pdu_code_t code, const char *diag);

#endif
