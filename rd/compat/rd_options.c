/* Examination of a request's options before libcoap parses it (RFC 7252 sections 5.4 and 5.10).
 * libcoap 4.3.1 refuses a whole message for one option whose length it does not expect (an
 * 18-byte ETag, a 4-byte Observe, an empty Uri-Query: a Reset, or nothing), where RFC 7252
 * section 5.4.3 makes such an option an unrecognized one, which is ignored when elective
 * (section 5.4.1). And to an unrecognized critical option it answers 4.02 with the request's
 * options copied back, unknown one included, so a strict client rejects the answer too. Here the
 * request is rewritten without what must be ignored, and what needs 4.02 or 4.05 is named. Pure:
 * bytes in, bytes and a verdict out. */
#include <string.h>

#include "rd_options.h"
#include "rd_status.h"

/* Largest option number and length a datagram can encode (RFC 7252 section 3.1). */
#define OPTION_NUMBER_MAX 65535u
/* Method codes libcoap 4.3.1 knows: GET to iPATCH (RFC 7252 section 12.1.1, RFC 8132). */
#define METHOD_MAX 7

/* An option this server recognizes: its number, permitted value lengths (RFC 7252 section 5.10,
 * RFC 7641, RFC 7959, RFC 7967, RFC 8768, RFC 9175) and whether it may repeat. The critical ones
 * are exactly those libcoap 4.3.1 processes without being told (coap_option_check_critical);
 * OSCORE (9) is not among them: this server does not speak it. */
struct known_option {
    uint16_t number;
    uint16_t min;
    uint16_t max;
    uint8_t repeatable;
};

static const struct known_option known[] = {
    { COAP_OPTION_IF_MATCH, 0, 8, 1 },
    { COAP_OPTION_URI_HOST, 1, 255, 0 },
    { COAP_OPTION_ETAG, 1, 8, 1 },
    { COAP_OPTION_IF_NONE_MATCH, 0, 0, 0 },
    { COAP_OPTION_OBSERVE, 0, 3, 0 },
    { COAP_OPTION_URI_PORT, 0, 2, 0 },
    { COAP_OPTION_LOCATION_PATH, 0, 255, 1 },
    { COAP_OPTION_URI_PATH, 0, 255, 1 },
    { COAP_OPTION_CONTENT_FORMAT, 0, 2, 0 },
    { COAP_OPTION_MAXAGE, 0, 4, 0 },
    { COAP_OPTION_URI_QUERY, 0, 255, 1 },
    { COAP_OPTION_HOP_LIMIT, 1, 1, 0 },
    { COAP_OPTION_ACCEPT, 0, 2, 0 },
    { COAP_OPTION_LOCATION_QUERY, 0, 255, 1 },
    { COAP_OPTION_BLOCK2, 0, 3, 0 },
    { COAP_OPTION_BLOCK1, 0, 3, 0 },
    { COAP_OPTION_SIZE2, 0, 4, 0 },
    { COAP_OPTION_PROXY_URI, 1, 1034, 0 },
    { COAP_OPTION_PROXY_SCHEME, 1, 255, 0 },
    { COAP_OPTION_SIZE1, 0, 4, 0 },
    { COAP_OPTION_ECHO, 1, 40, 0 },
    { COAP_OPTION_NORESPONSE, 0, 1, 0 },
    { COAP_OPTION_RTAG, 0, 8, 1 },
};

#define NKNOWN (sizeof(known) / sizeof(known[0]))

/* One option as found in the message. */
struct option {
    unsigned number;
    const uint8_t *value;
    size_t len;
};

/* Read an extended delta or length after nibble @p nibble. @return the value; -1 when the
 * nibble is the reserved 15 or the bytes run out. */
static long
ext_read(unsigned nibble, const uint8_t *p, size_t len, size_t *pos)
{
    long v;

    if (nibble < 13) {
        return (long)nibble;
    }
    if (nibble == 13 && *pos + 1 <= len) {
        return 13 + (long)p[(*pos)++];
    }
    if (nibble == 14 && *pos + 2 <= len) {
        v = 269 + ((long)p[*pos] << 8 | p[*pos + 1]);
        *pos += 2;
        return v;
    }
    return -1;
}

/* Read the option at @p *pos (not the payload marker) after option number @p last. @return
 * RD_OK; RD_EINVAL for a message format error. */
static int
option_read(const uint8_t *p, size_t len, size_t *pos, unsigned last, struct option *o)
{
    unsigned head = p[*pos];
    long delta;
    long olen;

    (*pos)++;
    delta = ext_read(head >> 4, p, len, pos);
    olen = ext_read(head & 0x0f, p, len, pos);
    if (delta < 0 || olen < 0 || (size_t)olen > len - *pos ||
        last + (unsigned long)delta > OPTION_NUMBER_MAX) {
        return RD_EINVAL;
    }
    o->number = last + (unsigned)delta;
    o->value = p + *pos;
    o->len = (size_t)olen;
    *pos += (size_t)olen;
    return RD_OK;
}

/* The nibble and extension bytes for @p v (a delta or a length). @return bytes written to
 * @p ext. */
static size_t
ext_write(unsigned v, unsigned *nibble, uint8_t ext[2])
{
    if (v < 13) {
        *nibble = v;
        return 0;
    }
    if (v < 269) {
        *nibble = 13;
        ext[0] = (uint8_t)(v - 13);
        return 1;
    }
    *nibble = 14;
    ext[0] = (uint8_t)((v - 269) >> 8);
    ext[1] = (uint8_t)(v - 269);
    return 2;
}

/* Append option @p o after option number @p last to @p out. @return RD_OK; RD_ETOOBIG when it
 * does not fit (cannot happen when out is as large as the message: leaving options out never
 * grows the rest by more than it saves). */
static int
option_write(uint8_t *out, size_t size, size_t *n, unsigned last, const struct option *o)
{
    uint8_t dext[2];
    uint8_t lext[2];
    unsigned dn;
    unsigned ln;
    size_t dl = ext_write(o->number - last, &dn, dext);
    size_t ll = ext_write((unsigned)o->len, &ln, lext);

    if (1 + dl + ll + o->len > size - *n) {
        return RD_ETOOBIG;
    }
    out[(*n)++] = (uint8_t)(dn << 4 | ln);
    memcpy(out + *n, dext, dl);
    *n += dl;
    memcpy(out + *n, lext, ll);
    *n += ll;
    memcpy(out + *n, o->value, o->len);
    *n += o->len;
    return RD_OK;
}

static const struct known_option *
known_find(unsigned number)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        if (known[i].number == number) {
            return &known[i];
        }
    }
    return NULL;
}

/* What to do with one option: 0 keep, 1 leave out, -1 refuse the request. @p seen has one bit a
 * known option, set at its first occurrence. */
static int
option_judge(const struct option *o, uint32_t *seen)
{
    const struct known_option *k = known_find(o->number);
    uint32_t bit;
    int critical = o->number & 1;

    if (!k) {
        /* libcoap 4.3.1 ignores an unknown elective option by itself. */
        return critical ? -1 : 0;
    }
    bit = (uint32_t)1 << (k - known);
    /* RFC 7252 section 5.4.5: an occurrence beyond the one allowed is unrecognized. Section
     * 5.4.3: so is a value of a length outside the option's range. */
    if (o->len < k->min || o->len > k->max || ((*seen & bit) && !k->repeatable)) {
        return critical ? -1 : 1;
    }
    *seen |= bit;
    /* An empty Uri-Query is in range (RFC 7252 section 5.10: 0-255 bytes), yet libcoap 4.3.1
     * refuses the message for it. It stands for an empty query component ("?a&&b", RFC 7252
     * section 6.5 step 8) that names no parameter: RFC 9176 defines its parameters and filters
     * all by name=value, and a filter or attribute with an empty name (RFC 6690 section 2 makes
     * a parameter name at least one character) matches nothing and registers nothing. So it is
     * ignored, as an empty segment between two '&' is in a URI query, rather than refused. */
    if (o->number == COAP_OPTION_URI_QUERY && o->len == 0) {
        return 1;
    }
    return 0;
}

int
rd__msg_examine(const uint8_t *msg, size_t len, uint8_t *out, size_t out_size, size_t *out_len,
                struct rd_msg_exam *exam)
{
    struct rd_msg_exam e;
    struct option o;
    uint32_t seen = 0;
    unsigned last_in = 0;
    unsigned last_out = 0;
    size_t pos;
    size_t n;
    size_t tkl;

    memset(&e, 0, sizeof(e));
    if (len < 4 || (msg[0] >> 6) != 1 || (msg[0] & 0x0f) > 8 || out_size < len) {
        return RD_EINVAL;
    }
    tkl = msg[0] & 0x0f;
    /* Requests only (code class 0, not Empty): answers and signaling are not examined. */
    if (msg[1] == 0 || (msg[1] >> 5) != 0 || 4 + tkl > len) {
        return RD_EINVAL;
    }
    memcpy(out, msg, 4 + tkl);
    n = 4 + tkl;
    pos = 4 + tkl;
    while (pos < len && msg[pos] != 0xff) {
        int verdict;

        if (option_read(msg, len, &pos, last_in, &o)) {
            return RD_EINVAL;
        }
        last_in = o.number;
        verdict = option_judge(&o, &seen);
        if (verdict < 0 && e.verdict == RD_MSG_PASS) {
            /* The first one is named; the rest is still read to tell a well-formed message
             * from a message format error, which stays libcoap's. */
            e.verdict = RD_MSG_BAD_OPTION;
            e.option = o.number;
        }
        if (verdict > 0) {
            e.dropped++;
            continue;
        }
        if (option_write(out, out_size, &n, last_out, &o)) {
            return RD_EINVAL;
        }
        last_out = o.number;
        if (o.number == COAP_OPTION_ECHO) {
            e.echo_off = n - o.len;
            e.echo_len = o.len;
        }
    }
    if (pos < len) {
        /* A payload marker must be followed by a payload (RFC 7252 section 3). */
        if (pos + 1 == len) {
            return RD_EINVAL;
        }
        memcpy(out + n, msg + pos, len - pos);
        n += len - pos;
    }
    /* RFC 7252 section 5.8: an unrecognized method code gets 4.05. libcoap 4.3.1 answers 4.04
     * instead when the path is not one of its resources (every /rd/<id> is not). Options come
     * first, as libcoap checks them before it looks at the method. */
    if (e.verdict == RD_MSG_PASS && msg[1] > METHOD_MAX) {
        e.verdict = RD_MSG_BAD_METHOD;
    }
    if (e.verdict != RD_MSG_PASS) {
        e.echo_len = 0;
        e.echo_off = 0;
    }
    *out_len = n;
    *exam = e;
    return RD_OK;
}
