/* rd_status to CoAP response code (RFC 7252 section 5.9, RFC 9176 section 5): the only mapping. */
#include <string.h>

#include "rd_respond.h"
#include "rd_status.h"

coap_pdu_code_t
rd__status_to_coap(int rc)
{
    switch (rc) {
    case RD_OK:
        return COAP_RESPONSE_CODE_CONTENT;
    case RD_EINVAL:
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    case RD_ENOTFOUND:
        return COAP_RESPONSE_CODE_NOT_FOUND;
    case RD_ECONFLICT:
        return COAP_RESPONSE_CODE_CONFLICT;
    case RD_ETOOBIG:
        return COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;
    case RD_EFULL:
        return COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
    case RD_ENOMEM:
    case RD_ESTORE:
    default:
        return COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
}

void
rd__respond_error(coap_pdu_t *response, coap_pdu_code_t code, const char *diag)
{
    coap_pdu_set_code(response, code);
    if (diag && diag[0]) {
        coap_add_data(response, strlen(diag), (const uint8_t *)diag);
    }
}
