/* What rd_options.c offers the rest of rd/. Examination of a request's options before libcoap
 * parses it (RFC 7252 sections 5.4 and 5.10). */
#ifndef RD_OPTIONS_H
#define RD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** What rd__msg_examine() found a request to need. */
enum rd_msg_verdict {
    RD_MSG_PASS = 0,   /* to libcoap, as rewritten */
    RD_MSG_BAD_OPTION, /* an unrecognized critical option: 4.02 to a CON, a NON is dropped */
    RD_MSG_BAD_METHOD, /* a method code libcoap does not know: 4.05 */
};

/** The examination of one request. */
struct rd_msg_exam {
    enum rd_msg_verdict verdict;
    unsigned option;  /**< RD_MSG_BAD_OPTION: the first critical option not recognized */
    unsigned dropped; /**< elective options left out (unrecognized: RFC 7252 section 5.4.1) */
    size_t echo_off;  /**< RD_MSG_PASS: where the Echo value starts in the output */
    size_t echo_len;  /**< its length; 0 when there is no Echo option */
};

/**
 * Examine the options of the CoAP-over-UDP request @p msg (@p len bytes) as RFC 7252 sections
 * 5.4.1 to 5.4.5 and 5.10 require: an elective option that is unknown is kept (libcoap ignores
 * it); one whose length is out of range, or repeated where it may not be, and an empty
 * Uri-Query, are left out of the copy written to @p out; such a critical option, or one not
 * recognized, makes the verdict RD_MSG_BAD_OPTION; a method code above 0.07 RD_MSG_BAD_METHOD.
 *
 * @param out      receives the request without the options left out; at least @p len bytes
 * @param out_len  receives the length written to @p out
 * @return RD_OK with @p out, @p out_len and @p exam written; RD_EINVAL when @p msg is not a
 *         well-formed request (an answer, an Empty or signaling message, a message format
 *         error, or @p out_size below @p len): nothing is written.
 */
int rd__msg_examine(const uint8_t *msg, size_t len, uint8_t *out, size_t out_size, size_t *out_len,
                    struct rd_msg_exam *exam);

#endif
