/* CoAP over TCP and TLS messages as the stream gate reads them (RFC 8323 section 3.2): the
 * length, code and token of a message at the start of a byte stream, and the examination of
 * its options by the same rules as a datagram's (rd_options.c). Pure: bytes in, bytes out. */
#include <stdlib.h>
#include <string.h>

#include "rd_frame.h"
#include "rd_options.h"
#include "rd_status.h"

/* Added to the Len nibble's extension for each of its extended forms (RFC 8323 section 3.2). */
#define LEN_EXT1 13u
#define LEN_EXT2 269u
#define LEN_EXT4 65805u

int
rd__frame_header(const uint8_t *p, size_t avail, struct rd_frame *f)
{
    static const size_t ext_bytes[4] = { 1, 2, 4, 0 };
    unsigned nibble;
    size_t ext;
    uint64_t body = 0;

    if (avail < 1) {
        return RD_ENOTFOUND;
    }
    nibble = p[0] >> 4;
    ext = nibble < 13 ? 0 : ext_bytes[nibble - 13];
    if ((p[0] & 0x0f) > 8) {
        /* Token lengths 9 to 15 are reserved: a message format error. */
        return RD_EINVAL;
    }
    if (avail < 1 + ext + 1) {
        return RD_ENOTFOUND;
    }
    for (size_t i = 0; i < ext; i++) {
        body = body << 8 | p[1 + i];
    }
    body += nibble < 13 ? nibble : nibble == 13 ? LEN_EXT1 : nibble == 14 ? LEN_EXT2 : LEN_EXT4;
    f->head = 1 + ext + 1;
    f->code = p[1 + ext];
    f->tkl = p[0] & 0x0f;
    if (body > SIZE_MAX - f->head - f->tkl) {
        return RD_EINVAL;
    }
    f->size = f->head + f->tkl + (size_t)body;
    return avail < f->head + f->tkl ? RD_ENOTFOUND : RD_OK;
}

/* Write the length field of a message with @p body bytes after its token, and its first byte's
 * token length @p tkl. @return bytes written (at most 5). */
static size_t
len_write(size_t body, size_t tkl, uint8_t out[5])
{
    size_t ext;
    uint64_t v;

    if (body < LEN_EXT1) {
        out[0] = (uint8_t)(body << 4 | tkl);
        return 1;
    }
    if (body < LEN_EXT2) {
        out[0] = (uint8_t)(13 << 4 | tkl);
        v = body - LEN_EXT1;
        ext = 1;
    } else if (body < LEN_EXT4) {
        out[0] = (uint8_t)(14 << 4 | tkl);
        v = body - LEN_EXT2;
        ext = 2;
    } else {
        out[0] = (uint8_t)(15 << 4 | tkl);
        v = body - LEN_EXT4;
        ext = 4;
    }
    for (size_t i = 0; i < ext; i++) {
        out[ext - i] = (uint8_t)(v >> (8 * i));
    }
    return 1 + ext;
}

int
rd__frame_examine(const uint8_t *p, const struct rd_frame *f, uint8_t *out, size_t out_size,
                  size_t *out_len, struct rd_msg_exam *exam)
{
    size_t body = f->size - f->head - f->tkl;
    size_t dlen = 4 + f->tkl + body;
    uint8_t *dgram = NULL;
    uint8_t *examined = NULL;
    struct rd_msg_exam e;
    uint8_t lenf[5];
    size_t n;
    size_t ln;
    int rc = RD_EINVAL;

    if (out_size < f->size) {
        return RD_EINVAL;
    }
    /* The same message in the datagram form (RFC 7252 section 3), as a confirmable one: over a
     * reliable transport every request is answered. */
    dgram = malloc(dlen);
    examined = malloc(dlen);
    if (!dgram || !examined) {
        rc = RD_ENOMEM;
        goto out;
    }
    dgram[0] = (uint8_t)(0x40 | f->tkl);
    dgram[1] = f->code;
    dgram[2] = 0;
    dgram[3] = 0;
    memcpy(dgram + 4, p + f->head, f->tkl + body);
    rc = rd__msg_examine(dgram, dlen, examined, dlen, &n, &e);
    if (rc) {
        goto out;
    }
    /* Back to the stream form: leaving options out never lengthens the length field. */
    ln = len_write(n - 4 - f->tkl, f->tkl, lenf);
    memcpy(out, lenf, ln);
    out[ln] = f->code;
    memcpy(out + ln + 1, examined + 4, n - 4);
    if (e.echo_len) {
        e.echo_off = e.echo_off - 4 + ln + 1;
    }
    *out_len = ln + 1 + n - 4;
    *exam = e;
out:
    free(dgram);
    free(examined);
    return rc;
}
