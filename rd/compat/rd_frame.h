/* What rd_frame.c offers the rest of rd/. CoAP-over-TCP messages (RFC 8323 section 3.2) as the
 * stream gate reads them. */
#ifndef RD_FRAME_H
#define RD_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct rd_msg_exam;

/** The header of a CoAP-over-TCP/TLS message (RFC 8323 section 3.2). */
struct rd_frame {
    size_t size; /**< the whole message: length field, code, token, options and payload */
    size_t head; /**< bytes before the token: the length field and the code */
    size_t tkl;  /**< token length */
    uint8_t code;
};

/**
 * Read the header at the start of @p p (@p avail bytes).
 *
 * @return RD_OK with @p f written; RD_ENOTFOUND when @p avail does not hold the length field,
 *         code and token yet (read more); RD_EINVAL for a token length of 9 to 15 or a length
 *         beyond size_t (message format errors).
 */
int rd__frame_header(const uint8_t *p, size_t avail, struct rd_frame *f);

/**
 * rd__msg_examine() for the complete request @p p with header @p f: @p out receives the
 * message in the stream form without the options left out (at most f->size bytes).
 *
 * @param out_size at least f->size
 * @return RD_OK with @p out, @p out_len and @p exam written (exam->echo_off within @p out);
 *         RD_EINVAL as rd__msg_examine() (not a well-formed request); RD_ENOMEM.
 */
int rd__frame_examine(const uint8_t *p, const struct rd_frame *f, uint8_t *out, size_t out_size,
                      size_t *out_len, struct rd_msg_exam *exam);

#endif
