/* Request plumbing: Uri-Query options, the implicit base (RFC 9176 section 5), registration ids,
 * and the clock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lookup.h"
#include "rd_conditional.h"
#include "rd_metrics.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_status.h"

int
rd__query_params(const coap_pdu_t *request, struct lookup_qparam *out, size_t max, size_t *n)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    size_t count = 0;

    /* Each Uri-Query option is one parameter: libcoap's joined query string would make a value
     * containing '&' ambiguous and percent-encodes UTF-8 names. */
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        if (count == max) {
            return RD_ETOOBIG;
        }
        lookup_qparam_split(&out[count], (const char *)coap_opt_value(opt), coap_opt_length(opt));
        count++;
    }
    *n = count;
    return RD_OK;
}

int
rd__refuse_conditional(int iface, const coap_pdu_t *request, coap_pdu_t *response)
{
    if (iface == RD_IF_REGISTRATION || iface == RD_IF_REG_RESOURCE) {
        return RD_OK;
    }
    if (rd__cond_present(request)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_OPTION,
                          "If-Match and If-None-Match apply to registrations only");
        return RD_EINVAL;
    }
    return RD_OK;
}

int
rd__check_accept(const coap_pdu_t *request, coap_pdu_t *response)
{
    unsigned accept;

    if (rd__option_uint(request, COAP_OPTION_ACCEPT, &accept) &&
        accept != COAP_MEDIATYPE_APPLICATION_LINK_FORMAT) {
        rd__respond_error(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE,
                          "only application/link-format (40)");
        return RD_EINVAL;
    }
    return RD_OK;
}

/* The options of the request being handled: a bit per number below 64, and for the others
 * (Echo, No-Response, Request-Tag, ...) a bit per number modulo 64. */
static __thread const coap_pdu_t *noted;
static __thread uint64_t noted_low;
static __thread uint64_t noted_high;
/* rd__now() as the request's handler first asked it; 0: not yet. A registration asked half a
 * dozen times (quota, owner, deadline, observers), each a clock read. */
static __thread int64_t noted_now;

void
rd__request_begin(const coap_pdu_t *request)
{
    coap_opt_iterator_t oi;

    noted_low = 0;
    noted_high = 0;
    noted_now = 0;
    coap_option_iterator_init(request, &oi, COAP_OPT_ALL);
    while (coap_option_next(&oi) != NULL) {
        if (oi.number < 64) {
            noted_low |= (uint64_t)1 << oi.number;
        } else {
            noted_high |= (uint64_t)1 << (oi.number & 63);
        }
    }
    noted = request;
}

void
rd__request_done(void)
{
    noted = NULL;
    noted_now = 0;
}

int
rd__option_absent(const coap_pdu_t *pdu, uint16_t number)
{
    uint64_t bit = (uint64_t)1 << (number & 63);

    if (pdu != noted || !pdu) {
        return 0;
    }
    return !((number < 64 ? noted_low : noted_high) & bit);
}

int
rd__option_uint(const coap_pdu_t *request, uint16_t number, unsigned *value)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt;

    if (rd__option_absent(request, number)) {
        return 0;
    }
    opt = coap_check_option(request, number, &oi);

    if (!opt) {
        return 0;
    }
    *value = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    return 1;
}

static void
scheme_of(const coap_session_t *session, const char **scheme, uint16_t *default_port)
{
    switch (coap_session_get_proto(session)) {
    case COAP_PROTO_DTLS:
        *scheme = "coaps";
        *default_port = 5684;
        break;
    case COAP_PROTO_TCP:
        *scheme = "coap+tcp";
        *default_port = 5683;
        break;
    case COAP_PROTO_TLS:
        *scheme = "coaps+tcp";
        *default_port = 5684;
        break;
    default:
        *scheme = "coap";
        *default_port = 5683;
        break;
    }
}

int
rd__session_secure(const coap_session_t *session)
{
    coap_proto_t proto = coap_session_get_proto(session);

    return proto == COAP_PROTO_DTLS || proto == COAP_PROTO_TLS;
}

/* Write the dotted quad of IPv4 address @p a (network order) to @p out: inet_ntop() formats it
 * with sprintf(), which every registration and update paid. */
static void
ipv4_text(const unsigned char a[4], char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];

        if (v >= 100) {
            *out++ = (char)('0' + v / 100);
        }
        if (v >= 10) {
            *out++ = (char)('0' + v / 10 % 10);
        }
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

void
rd__addr_text(const uint8_t a[16], char out[RD_ADDR_TEXT_SIZE])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    /* The form glibc's inet_ntop() gives a mapped address, without its sprintf() per byte. */
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        memcpy(out, "::ffff:", 7);
        ipv4_text(a + 12, out + 7);
        return;
    }
    if (!inet_ntop(AF_INET6, a, out, RD_ADDR_TEXT_SIZE)) {
        out[0] = '\0';
    }
}

/* Write "scheme://host" and ":port" unless @p port is 0 into @p out of @p size bytes.
 * @return the length written; -1 when it does not fit. */
static int
join_base(char *out, size_t size, const char *scheme, const char *host, uint16_t port)
{
    char digits[6];
    size_t nd = 0;
    size_t ls = strlen(scheme);
    size_t lh = strlen(host);
    size_t n;

    for (unsigned p = port; p; p /= 10) {
        digits[nd++] = (char)('0' + p % 10);
    }
    n = ls + 3 + lh + (nd ? nd + 1 : 0);
    if (n >= size) {
        return -1;
    }
    memcpy(out, scheme, ls);
    memcpy(out + ls, "://", 3);
    memcpy(out + ls + 3, host, lh);
    if (nd) {
        char *q = out + ls + 3 + lh;

        *q++ = ':';
        while (nd) {
            *q++ = digits[--nd];
        }
    }
    out[n] = '\0';
    return (int)n;
}

int
rd__base_from_session(const coap_session_t *session, char *out, size_t size)
{
    const coap_address_t *addr = coap_session_get_addr_remote(session);
    const char *scheme;
    uint16_t default_port;
    uint16_t port;
    char host[INET6_ADDRSTRLEN + 2];
    char text[INET6_ADDRSTRLEN];
    int len;

    scheme_of(session, &scheme, &default_port);
    if (addr->addr.sa.sa_family == AF_INET) {
        ipv4_text((const unsigned char *)&addr->addr.sin.sin_addr, host);
        port = ntohs(addr->addr.sin.sin_port);
    } else if (addr->addr.sa.sa_family == AF_INET6) {
        const struct in6_addr *a6 = &addr->addr.sin6.sin6_addr;

        port = ntohs(addr->addr.sin6.sin6_port);
        /* Dual-stack sockets show IPv4 peers as ::ffff:a.b.c.d; the base names them as IPv4.
         * inet_ntop never writes a zone identifier, which RFC 9176 forbids in bases. */
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            ipv4_text(&a6->s6_addr[12], host);
        } else {
            inet_ntop(AF_INET6, a6, text, sizeof(text));
            host[0] = '[';
            len = (int)strlen(text);
            memcpy(host + 1, text, (size_t)len);
            host[len + 1] = ']';
            host[len + 2] = '\0';
        }
    } else {
        return RD_EINVAL;
    }
    /* Put together by hand: every registration and update asks, and snprintf() cost more than
     * the rest of it. */
    len = join_base(out, size, scheme, host, port == default_port ? 0 : port);
    return len < 0 ? RD_ETOOBIG : RD_OK;
}

/* Crockford's base32 alphabet, lower case: no i, l, o or u to misread. */
static const char id_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

void
rd__id_format(uint64_t id, char out[RD_ID_SIZE])
{
    for (int i = RD_ID_SIZE - 2; i >= 0; i--) {
        out[i] = id_alphabet[id & 31];
        id >>= 5;
    }
    out[RD_ID_SIZE - 1] = '\0';
}

int
rd__id_parse(const char *s, size_t len, uint64_t *id)
{
    uint64_t v = 0;

    if (len != RD_ID_SIZE - 1) {
        return RD_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        const char *p = s[i] ? strchr(id_alphabet, s[i]) : NULL;

        if (!p) {
            return RD_EINVAL;
        }
        v = (v << 5) | (uint64_t)(p - id_alphabet);
    }
    *id = v;
    return RD_OK;
}

int64_t
rd__now(void)
{
    struct timespec ts;

    /* Whole seconds: a request's handler runs well within one, so it reads the clock once. */
    if (noted && noted_now) {
        return noted_now;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    if (noted) {
        noted_now = (int64_t)ts.tv_sec;
    }
    return (int64_t)ts.tv_sec;
}

int64_t
rd__deadline(uint32_t lt)
{
    struct timespec ts;

    /* Deadlines are whole seconds: round up, so no registration lives shorter than its lt. The
     * clock itself, not the request's first reading: that may be a second behind by now. */
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec + (int64_t)lt + 1;
}

int64_t
rd__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
rd__now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
rd__base_scope(const coap_session_t *session, const char *base, uint32_t *scope,
               coap_pdu_t *response)
{
    int ifindex;

    *scope = 0;
    if (!lookup_uri_is_link_local(base)) {
        return RD_OK;
    }
    ifindex = coap_session_get_ifindex(session);
    if (ifindex <= 0) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST,
                          "base: link-local, but the request's link is unknown");
        return RD_EINVAL;
    }
    *scope = (uint32_t)ifindex;
    return RD_OK;
}
