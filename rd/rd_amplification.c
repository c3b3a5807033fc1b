/* The amplification limit (RFC 7252 section 11.3, RFC 9175 section 2.4): an answer to an
 * address not yet shown to receive there stays within three times its request, by a small
 * first block with an Echo value or by a 4.01 Echo challenge; an address that sends a given
 * Echo value back, or finishes a DTLS handshake, is verified for an hour. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_amplification.h"
#include "rd_conf.h"
#include "rd_echo.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_server.h"

/* RFC 9175 section 2.4: answer an unverified address with at most three times its request. */
#define AMPLIFICATION_FACTOR 3
/* Header, Content-Format, Block2, Size2 and ETag of a link-format answer, at most. */
#define ANSWER_OVERHEAD 24
/* The Echo option a small first block carries (RFC 9175: option 252, 8-byte value). */
#define ECHO_OVERHEAD 11
/* How long an address stays verified after its last verified request. */
#define VERIFIED_SECONDS 3600

/* Bytes the request took on the wire: header, token, options, payload. */
static size_t
request_size(const coap_pdu_t *request)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    coap_bin_const_t token = coap_pdu_get_token(request);
    const uint8_t *data;
    size_t len = 0;
    size_t size = 4 + token.length;

    coap_option_iterator_init(request, &oi, COAP_OPT_ALL);
    while ((opt = coap_option_next(&oi)) != NULL) {
        size += coap_opt_size(opt);
    }
    if (coap_get_data(request, &len, &data) && len) {
        size += 1 + len;
    }
    return size;
}

/* A group request: answered after a leisure, if at all, and never with a challenge
 * (RFC 7252 section 8.2: no error answers to multicast). */
static int
is_multicast(const coap_session_t *session)
{
    const coap_address_t *a = coap_session_get_addr_local(session);

    if (!a) {
        return 0;
    }
    if (a->addr.sa.sa_family == AF_INET6) {
        const struct in6_addr *a6 = &a->addr.sin6.sin6_addr;

        /* A dual-stack socket shows an IPv4 group as ::ffff:224.x.y.z. */
        return IN6_IS_ADDR_MULTICAST(a6) ||
               (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] >= 224 && a6->s6_addr[12] <= 239);
    }
    if (a->addr.sa.sa_family == AF_INET) {
        return IN_MULTICAST(ntohl(a->addr.sin.sin_addr.s_addr));
    }
    return 0;
}

/* The largest Block2 size exponent whose block, with the answer's header and options, stays
 * within the amplification factor of @p request; -1 when not even 16 bytes do. */
static int
small_block_szx(const coap_pdu_t *request)
{
    size_t budget = AMPLIFICATION_FACTOR * request_size(request);
    size_t overhead = ANSWER_OVERHEAD + ECHO_OVERHEAD + coap_pdu_get_token(request).length;

    for (int szx = 6; szx >= 0; szx--) {
        if (((size_t)16 << szx) + overhead <= budget) {
            return szx;
        }
    }
    return -1;
}

int
rd__amp_block_ok(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                    coap_pdu_t *response, size_t remaining, int *szx)
{
    int mode = srv->conf.limits.amplification;
    coap_opt_iterator_t oi;
    size_t block = (size_t)16 << *szx;
    int64_t now = rd__now();
    struct rd_peer *p;
    uint8_t addr[16];
    char who[RD_BASE_SIZE];
    int observe, small, fits;

    if (mode == RD_AMP_OFF || coap_session_get_proto(session) != COAP_PROTO_UDP ||
        is_multicast(session) || rd__peer_addr(session, addr)) {
        return 1;
    }
    if (remaining < block) {
        block = remaining;
    }
    observe = coap_check_option(request, COAP_OPTION_OBSERVE, &oi) != NULL;
    fits = block + ANSWER_OVERHEAD + coap_pdu_get_token(request).length <=
           AMPLIFICATION_FACTOR * request_size(request);
    if (fits && !observe) {
        return 1;
    }
    p = rd__peer_get(srv, addr, rd__now_ms());
    if (p->verified_until > now || rd__echo_verified(srv, session, request, RD_ECHO_ADDRESS, now)) {
        p->verified_until = now + VERIFIED_SECONDS;
        return 1;
    }
    if (observe && coap_pdu_get_type(response) == COAP_MESSAGE_NON) {
        /* A notification to an address never shown to receive: confirmable, so one that is not
         * acknowledged ends the observation (RFC 7641 section 4.5). */
        coap_pdu_set_type(response, COAP_MESSAGE_CON);
    }
    if (fits) {
        return 1;
    }
    small = small_block_szx(request);
    if (mode == RD_AMP_BLOCKS && small >= 0) {
        /* A block small enough for the limit; the rest only when asked, block by block, each
         * within the factor (RFC 7252 section 11.3 names the block-wise mode as the remedy).
         * The Echo value lets a client that sends it back be verified, and its later blocks go
         * out at full size. */
        if (small < *szx) {
            *szx = small;
        }
        rd__echo_add(srv, session, response, RD_ECHO_ADDRESS, now);
        return 1;
    }
    rd__peer_text(session, who, sizeof(who));
    rd__log(srv, RD_LOG_DEBUG, "limit: %zu-byte block to unverified %s, asking for Echo", block,
            who);
    rd__echo_challenge(srv, session, response, RD_ECHO_ADDRESS, now);
    return 0;
}

int
rd__amp_verified(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request)
{
    int64_t now = rd__now();
    struct rd_peer *p;
    uint8_t addr[16];

    /* A DTLS peer has finished a handshake from its address; with the limit off every address
     * counts as verified. */
    if (srv->conf.limits.amplification == RD_AMP_OFF ||
        coap_session_get_proto(session) != COAP_PROTO_UDP) {
        return 1;
    }
    if (rd__peer_addr(session, addr)) {
        return 0;
    }
    p = rd__peer_get(srv, addr, rd__now_ms());
    if (p->verified_until > now ||
        (request && rd__echo_verified(srv, session, request, RD_ECHO_ADDRESS, now))) {
        p->verified_until = now + VERIFIED_SECONDS;
        return 1;
    }
    return 0;
}

void
rd__amp_mark_verified(struct rd_server *srv, const coap_session_t *session)
{
    uint8_t addr[16];

    if (!rd__peer_addr(session, addr)) {
        rd__peer_get(srv, addr, rd__now_ms())->verified_until = rd__now() + VERIFIED_SECONDS;
    }
}

void
rd__amp_echo_seen(struct rd_server *srv, const struct sockaddr *from, const uint8_t *value,
                     size_t len)
{
    int64_t now = rd__now();
    uint8_t addr[16];
    uint16_t port;

    if (srv->conf.limits.amplification == RD_AMP_OFF || rd__sockaddr_key(from, addr, &port) ||
        !rd__echo_check(srv, from, RD_ECHO_ADDRESS, value, len, now)) {
        return;
    }
    rd__peer_get(srv, addr, rd__now_ms())->verified_until = now + VERIFIED_SECONDS;
}
