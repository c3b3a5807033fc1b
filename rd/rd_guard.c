/* Block1 guard: the part of the datagram gate (rd_gate.c) that answers the Block1 requests
 * (RFC 7959 section 2.5) that libcoap 4.3.1 must not see. Its reassembly allocates
 * the size a Size1 option announces and as far as a block number reaches, and a body whose
 * first block is empty (or whose buffer could not be allocated) makes it read a NULL body when
 * the last block comes: a crash for two datagrams. Without Size1 on the first block it builds
 * no body: each block reaches the handler alone, and a repeated last block crashes it the same
 * way. So here a Block1 request over max_payload gets 4.13 with Size1, a non-final block that
 * is not full gets 4.00, and the non-final blocks of a body without Size1 never reach libcoap:
 * rd_block1.c keeps them and the guard answers 2.31 itself. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rd_internal.h"

/* Options of our own answers are encoded by hand; their numbers need one extension byte. */
_Static_assert(COAP_OPTION_MAXAGE >= 13 && COAP_OPTION_SIZE1 - COAP_OPTION_MAXAGE >= 13 &&
                   COAP_OPTION_SIZE1 < 269,
               "option deltas need one extension byte");

/* What the guard needs from one request. */
struct guard_req {
    uint8_t type;
    uint8_t code;
    uint16_t mid;
    const uint8_t *token;
    size_t tkl;
    int has_block1;
    uint32_t num;
    int more;
    unsigned szx;
    int has_size1;
    uint64_t size1;
    int bad_option; /* Block1 or Size1 repeated or too long */
    size_t payload_len;
    const uint8_t *payload;
    uint64_t key; /* Uri-Path, Uri-Query and Request-Tag: names a Block1 transfer */
};

/* Read an option header's extended delta or length. @return the value, or -1 when truncated or
 * reserved. */
static long
ext_value(unsigned nibble, const uint8_t *p, size_t len, size_t *pos)
{
    if (nibble < 13) {
        return (long)nibble;
    }
    if (nibble == 13 && *pos + 1 <= len) {
        return 13 + (long)p[(*pos)++];
    }
    if (nibble == 14 && *pos + 2 <= len) {
        long v = 269 + ((long)p[*pos] << 8 | p[*pos + 1]);

        *pos += 2;
        return v;
    }
    return -1;
}

static uint64_t
uint_value(const uint8_t *p, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 0; i < len && i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Parse header, token, the options we care about and the payload length. @return RD_OK for a
 * well-formed request; RD_EINVAL for anything else, which is left to libcoap. */
static int
parse_request(const uint8_t *p, size_t len, struct guard_req *r)
{
    size_t pos;
    long number = 0;

    memset(r, 0, sizeof(*r));
    if (len < 4 || (p[0] >> 6) != 1 || (p[0] & 0x0f) > 8) {
        return RD_EINVAL;
    }
    r->type = (p[0] >> 4) & 3;
    r->tkl = p[0] & 0x0f;
    r->code = p[1];
    r->mid = (uint16_t)(p[2] << 8 | p[3]);
    if (r->code == 0 || (r->code >> 5) != 0 || 4 + r->tkl > len) {
        return RD_EINVAL;
    }
    r->token = p + 4;
    pos = 4 + r->tkl;
    while (pos < len && p[pos] != 0xff) {
        unsigned d = p[pos] >> 4;
        unsigned l = p[pos] & 0x0f;
        long delta;
        long olen;

        pos++;
        delta = ext_value(d, p, len, &pos);
        olen = ext_value(l, p, len, &pos);
        if (delta < 0 || olen < 0 || pos + (size_t)olen > len) {
            return RD_EINVAL;
        }
        number += delta;
        /* libcoap reads the first of repeated options; a second one, or one too long to be
         * read the same way by both, is refused rather than guessed at. */
        if (number == COAP_OPTION_BLOCK1) {
            uint64_t v = uint_value(p + pos, (size_t)olen);

            r->bad_option |= r->has_block1 || olen > 3;
            r->has_block1 = 1;
            r->num = (uint32_t)(v >> 4);
            r->more = (v >> 3) & 1;
            r->szx = v & 7;
        } else if (number == COAP_OPTION_SIZE1) {
            r->bad_option |= r->has_size1 || olen > 4;
            r->has_size1 = 1;
            r->size1 = uint_value(p + pos, (size_t)olen);
        }
        if (number == COAP_OPTION_URI_PATH || number == COAP_OPTION_URI_QUERY ||
            number == COAP_OPTION_RTAG) {
            rd__b1_key_add(&r->key, (unsigned)number, p + pos, (size_t)olen);
        }
        pos += (size_t)olen;
    }
    if (pos < len) {
        /* A payload marker must be followed by a payload (RFC 7252 section 3). */
        if (pos + 1 == len) {
            return RD_EINVAL;
        }
        r->payload_len = len - pos - 1;
        r->payload = p + pos + 1;
    }
    return RD_OK;
}

/* Why the request must not reach libcoap, or NULL. */
static const char *
refusal(const struct rd_server *srv, const struct guard_req *r, coap_pdu_code_t *code)
{
    uint64_t block;

    if (!r->has_block1) {
        return NULL;
    }
    *code = COAP_RESPONSE_CODE_BAD_REQUEST;
    if (r->bad_option) {
        return "Block1 or Size1 repeated or too long";
    }
    /* BERT (szx 7) exists only over reliable transports. */
    block = (uint64_t)16 << (r->szx < 7 ? r->szx : 6);
    *code = COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;
    if (r->has_size1 && r->size1 > srv->conf.max_payload) {
        return "payload too large";
    }
    if ((uint64_t)r->num * block + r->payload_len > srv->conf.max_payload) {
        return "payload too large";
    }
    *code = COAP_RESPONSE_CODE_BAD_REQUEST;
    if (r->szx == 7) {
        return "no BERT over UDP";
    }
    if (r->more && r->payload_len != block) {
        return "Block1 block not full";
    }
    /* libcoap reserves what Size1 announces: 0 would leave it without a body to fill. */
    if (r->num == 0 && r->more && r->has_size1 && r->size1 == 0) {
        return "Size1 0 on a body of several blocks";
    }
    return NULL;
}

/* Write an option header for @p number after option @p *last (deltas below 269). */
static size_t
option_head(uint8_t *out, unsigned *last, unsigned number, size_t len)
{
    unsigned delta = number - *last;
    size_t n = 0;

    *last = number;
    if (delta < 13) {
        out[n++] = (uint8_t)(delta << 4 | len);
    } else {
        out[n++] = (uint8_t)(0xd0 | len);
        out[n++] = (uint8_t)(delta - 13);
    }
    return n;
}

/* Answer as libcoap would: an ACK to a confirmable request, else a non-confirmable reply;
 * with a Block1 option of value @p block1 unless it is negative. */
static void
answer(struct rd_server *srv, int fd, const struct sockaddr *to, socklen_t to_len,
       const struct guard_req *r, coap_pdu_code_t code, const char *diag, uint32_t max_age,
       long block1)
{
    uint8_t out[64];
    size_t n = 0;
    size_t dlen = strlen(diag);
    uint8_t size1[4];
    size_t s1len;
    unsigned last = 0; /* option number, for the delta encoding */

    out[n++] = (uint8_t)(0x40 | ((r->type == COAP_MESSAGE_CON ? 2 : 1) << 4) | r->tkl);
    out[n++] = (uint8_t)code;
    if (r->type == COAP_MESSAGE_CON) {
        out[n++] = (uint8_t)(r->mid >> 8);
        out[n++] = (uint8_t)r->mid;
    } else {
        srv->guard_mid++;
        out[n++] = (uint8_t)(srv->guard_mid >> 8);
        out[n++] = (uint8_t)srv->guard_mid;
    }
    memcpy(out + n, r->token, r->tkl);
    n += r->tkl;
    if (max_age) {
        /* Max-Age (14): when the next request will be taken (RFC 8516 section 4). */
        s1len = coap_encode_var_safe(size1, sizeof(size1), max_age);
        n += option_head(out + n, &last, COAP_OPTION_MAXAGE, s1len);
        memcpy(out + n, size1, s1len);
        n += s1len;
    }
    if (block1 >= 0) {
        s1len = coap_encode_var_safe(size1, sizeof(size1), (unsigned)block1);
        n += option_head(out + n, &last, COAP_OPTION_BLOCK1, s1len);
        memcpy(out + n, size1, s1len);
        n += s1len;
    }
    if (code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE) {
        /* Size1 (60) tells the client the largest body we take (RFC 7959 section 4). */
        s1len = coap_encode_var_safe(size1, sizeof(size1), (unsigned)srv->conf.max_payload);
        n += option_head(out + n, &last, COAP_OPTION_SIZE1, s1len);
        memcpy(out + n, size1, s1len);
        n += s1len;
    }
    if (dlen && n + 1 + dlen <= sizeof(out)) {
        out[n++] = 0xff;
        memcpy(out + n, diag, dlen);
        n += dlen;
    }
    sendto(fd, out, n, 0, to, to_len);
}

static void
log_refusal(const struct rd_server *srv, const struct sockaddr *from, const char *diag)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (from->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, host, sizeof(host));
    } else if (from->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, host, sizeof(host));
    }
    rd__log(srv, RD_LOG_INFO, "limit: Block1 request from %s refused: %s", host, diag);
}

/* A non-final block of a body sent without Size1: its first block has none, and later ones
 * belong to a body rd_block1.c keeps. */
static int
without_size(struct rd_server *srv, const struct sockaddr *from, const struct guard_req *r)
{
    if (!r->has_block1 || !r->more) {
        return 0;
    }
    return r->num == 0 ? !r->has_size1 : rd__b1_pending(srv, from, r->key);
}

/* Keep the block and ask for the next one (2.31 Continue, RFC 7959 section 2.3), or say the
 * body cannot go on (4.08). */
static void
keep_block(struct rd_server *srv, int fd, const struct sockaddr *from, socklen_t from_len,
           const struct guard_req *r)
{
    int rc = rd__b1_put(srv, from, r->key, r->num, r->szx, r->payload, r->payload_len);

    if (rc == RD_OK) {
        answer(srv, fd, from, from_len, r, COAP_RESPONSE_CODE(231), "", 0,
               (long)(r->num << 4 | 1u << 3 | r->szx));
        return;
    }
    answer(srv, fd, from, from_len, r, COAP_RESPONSE_CODE_INCOMPLETE,
           rc == RD_ENOMEM ? "no memory for the body" : "Block1 block out of order", 0, -1);
}

int
rd__guard_block1(struct rd_server *srv, int fd, const uint8_t *msg, size_t len,
                 const struct sockaddr *from, socklen_t from_len)
{
    struct guard_req r;
    coap_pdu_code_t code = 0;
    uint32_t max_age = 0;
    const char *why;

    if (parse_request(msg, len, &r)) {
        return 0;
    }
    why = refusal(srv, &r, &code);
    /* libcoap answers non-final blocks itself: the rate limit counts them here. */
    if (!why && r.has_block1 && r.more) {
        max_age = rd__limits_charge_datagram(srv, from);
    }
    if (max_age) {
        why = "rate limit";
        code = COAP_RESPONSE_CODE(429);
    }
    if (!why && without_size(srv, from, &r)) {
        keep_block(srv, fd, from, from_len, &r);
        return 1;
    }
    if (!why) {
        return 0;
    }
    if (code != COAP_RESPONSE_CODE(429)) {
        log_refusal(srv, from, why);
    }
    answer(srv, fd, from, from_len, &r, code, why, max_age, -1);
    return 1;
}
