/* Request plumbing: Uri-Query options, the implicit base (RFC 9176 section 5), registration ids,
 * and the clock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rd_internal.h"

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
rd__refuse_conditional(const coap_pdu_t *request, coap_pdu_t *response)
{
    coap_opt_iterator_t oi;

    if (coap_check_option(request, COAP_OPTION_IF_MATCH, &oi) ||
        coap_check_option(request, COAP_OPTION_IF_NONE_MATCH, &oi)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_OPTION,
                          "If-Match and If-None-Match are not supported");
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

static void
release_buffer(coap_session_t *session, void *app_ptr)
{
    (void)session;
    free(app_ptr);
}

/* A Block2 request for a block that starts past the end of the answer (RFC 7959 section 2.4):
 * 4.00 with a diagnostic, where libcoap would set 4.00 and then fail the answer. */
static int
block_past_end(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response, size_t len)
{
    coap_block_b_t block;
    char diag[64];

    if (!coap_get_block_b(session, request, COAP_OPTION_BLOCK2, &block) || block.num == 0 ||
        (uint64_t)block.num * block.chunk_size < len) {
        return 0;
    }
    snprintf(diag, sizeof(diag), "block %u is past the end (%zu bytes)", block.num, len);
    rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
    return 1;
}

/* A strong ETag of the answer's bytes (RFC 7252 section 5.10.6): equal answers get equal tags,
 * so a client can revalidate a lookup (RFC 9176 section 6.2), and all Block2 blocks of one
 * answer carry one tag. Not cryptographic: a tag only has to change when the answer does. */
static uint64_t
answer_etag(const char *data, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    uint64_t w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&w, data + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    if (len > i) {
        memcpy(&w, data + i, len - i);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h ? h : 1;
}

uint64_t
rd__answer_etag(const char *data, size_t len)
{
    return answer_etag(data, len);
}

/* 1 when @p request names @p etag among its ETag options and asks for the whole answer: the
 * client's copy is current, and 2.03 Valid says so without the body. */
static int
etag_is_current(coap_session_t *session, const coap_pdu_t *request, uint64_t etag)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_block_b_t block;
    coap_opt_t *opt;
    uint8_t ours[8];
    size_t ours_len = coap_encode_var_safe8(ours, sizeof(ours), etag);

    if (coap_get_block_b(session, request, COAP_OPTION_BLOCK2, &block) && block.num != 0) {
        return 0;
    }
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_ETAG);
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        if (coap_opt_length(opt) == ours_len && memcmp(coap_opt_value(opt), ours, ours_len) == 0) {
            return 1;
        }
    }
    return 0;
}

void
rd__respond_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                 const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf,
                 uint16_t media_type)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    char *data = buf->data;
    size_t len = buf->len;
    uint64_t etag = answer_etag(data ? data : "", len);
    uint8_t tag[8];
    size_t tag_len = coap_encode_var_safe8(tag, sizeof(tag), etag);

    if (block_past_end(session, request, response, len)) {
        lookup_buf_cleanup(buf);
        return;
    }
    if (etag_is_current(session, request, etag)) {
        lookup_buf_cleanup(buf);
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_VALID);
        coap_add_option(response, COAP_OPTION_ETAG, tag_len, tag);
        return;
    }
    if (!rd__limits_answer_ok(srv, session, request, response, len)) {
        lookup_buf_cleanup(buf);
        return;
    }
    /* The buffer goes to libcoap, which frees it once the last Block2 block has left (or at
     * once, when it fails). */
    memset(buf, 0, sizeof(*buf));
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    if (media_type == COAP_MEDIATYPE_TEXT_PLAIN) {
        /* libcoap leaves Content-Format out for text/plain (0); say it, as RFC 7252 has no
         * default. */
        coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, 0, NULL);
    }
    /* libcoap tags a multi-block answer itself, with the same value. */
    coap_add_option(response, COAP_OPTION_ETAG, tag_len, tag);
    /* On failure libcoap sets the code and a reason phrase itself. */
    (void)coap_add_data_large_response(resource, session, request, response, query, media_type, -1,
                                       etag, len, (const uint8_t *)(data ? data : ""),
                                       release_buffer, data);
}

void
rd__respond_links(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                  const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf)
{
    rd__respond_body(resource, session, request, query, response, buf,
                     COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
}

int
rd__option_uint(const coap_pdu_t *request, uint16_t number, unsigned *value)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt = coap_check_option(request, number, &oi);

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
        inet_ntop(AF_INET, &addr->addr.sin.sin_addr, host, sizeof(host));
        port = ntohs(addr->addr.sin.sin_port);
    } else if (addr->addr.sa.sa_family == AF_INET6) {
        const struct in6_addr *a6 = &addr->addr.sin6.sin6_addr;

        port = ntohs(addr->addr.sin6.sin6_port);
        /* Dual-stack sockets show IPv4 peers as ::ffff:a.b.c.d; the base names them as IPv4.
         * inet_ntop never writes a zone identifier, which RFC 9176 forbids in bases. */
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            inet_ntop(AF_INET, &a6->s6_addr[12], host, sizeof(host));
        } else {
            inet_ntop(AF_INET6, a6, text, sizeof(text));
            snprintf(host, sizeof(host), "[%s]", text);
        }
    } else {
        return RD_EINVAL;
    }
    if (port == default_port) {
        len = snprintf(out, size, "%s://%s", scheme, host);
    } else {
        len = snprintf(out, size, "%s://%s:%u", scheme, host, (unsigned)port);
    }
    return (len < 0 || (size_t)len >= size) ? RD_ETOOBIG : RD_OK;
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

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t
rd__deadline(uint32_t lt)
{
    /* Deadlines are whole seconds: round up, so no registration lives shorter than its lt. */
    return rd__now() + (int64_t)lt + 1;
}

int64_t
rd__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
