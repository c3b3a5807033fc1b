/* Abuse resistance: request rate and registrations per source address, query and attribute
 * lengths, total registrations, and the amplification limit for unverified addresses
 * (RFC 9175 section 2.4, RFC 9176 section 8). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_echo.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_metrics.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Peers tracked at once, and the slots one address may land in: a fixed table, so any number
 * of peers (forged source addresses included) costs the same memory. */
#define PEER_SLOTS  4096
#define PEER_PROBES 8
/* How long an address stays verified after its last verified request. */
#define VERIFIED_SECONDS 3600
/* RFC 9175 section 2.4: answer an unverified address with at most three times its request. */
#define AMPLIFICATION_FACTOR 3
/* Header, Content-Format, Block2, Size2 and ETag of a link-format answer, at most. */
#define ANSWER_OVERHEAD 24
/* The Echo option a small first block carries (RFC 9175: option 252, 8-byte value). */
#define ECHO_OVERHEAD 11
/* Max-Age of a refusal because the directory or the address has too many registrations. */
#define RETRY_AFTER 60

/* What we know about one source address. */
struct rd_peer {
    uint8_t addr[16]; /* IPv6, or IPv4-mapped */
    uint8_t used;
    uint8_t limited;        /* over its rate: logged once until it is under again */
    uint64_t tokens;        /* thousandths of a request */
    int64_t last_ms;        /* monotonic milliseconds of the last refill */
    int64_t seen_ms;        /* monotonic milliseconds of the last request */
    int64_t verified_until; /* wall-clock second; 0: never verified */
    uint64_t wtokens;       /* thousandths of a registration write */
    int64_t wlast_ms;       /* monotonic milliseconds of the last refill of wtokens */
};

struct rd_limits {
    struct rd_peer *slots; /* PEER_SLOTS of them */
    uint64_t seed;         /* keys the slot hash so nobody can aim at one slot */
};

int
rd__limits_init(struct rd_server *srv)
{
    struct rd_limits *l = calloc(1, sizeof(*l));

    if (!l) {
        return RD_ENOMEM;
    }
    l->slots = calloc(PEER_SLOTS, sizeof(*l->slots));
    if (!l->slots) {
        free(l);
        return RD_ENOMEM;
    }
    memcpy(&l->seed, srv->echo_key + 8, sizeof(l->seed));
    srv->limits = l;
    /* Each peer costs libcoap a session; idle ones are dropped beyond this count and after
     * this time, and with them any Block1 body a peer left half-sent. */
    coap_context_set_max_idle_sessions(srv->ctx, (unsigned)srv->conf.limits.max_sessions);
    coap_context_set_session_timeout(srv->ctx, srv->conf.limits.session_timeout);
    return RD_OK;
}

void
rd__limits_cleanup(struct rd_server *srv)
{
    if (srv->limits) {
        free(srv->limits->slots);
        free(srv->limits);
        srv->limits = NULL;
    }
}

/* The peer's address as 16 bytes, IPv4 mapped into IPv6, so both families share one table. */
static int
peer_addr(const coap_session_t *session, uint8_t out[16])
{
    const coap_address_t *a = coap_session_get_addr_remote(session);
    uint16_t port;

    return a ? rd__sockaddr_key(&a->addr.sa, out, &port) : RD_EINVAL;
}

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int
better_victim(const struct rd_peer *p, const struct rd_peer *v)
{
    if (!v) {
        return 1;
    }
    if (!v->used) {
        return 0;
    }
    if (!p->used) {
        return 1;
    }
    if ((p->verified_until == 0) != (v->verified_until == 0)) {
        return p->verified_until == 0;
    }
    return p->seen_ms < v->seen_ms;
}

/* Find the peer's entry or take one over: a free slot, else the longest idle unverified one,
 * else the longest idle one. Forged addresses never become verified, so a flood of them
 * evicts each other before it evicts a verified peer. */
static struct rd_peer *
peer_get(struct rd_server *srv, const uint8_t addr[16], int64_t now_ms)
{
    struct rd_limits *l = srv->limits;
    struct rd_peer *victim = NULL;
    uint64_t a;
    uint64_t b;
    uint64_t h;

    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    h = mix(mix(a ^ l->seed) ^ b);
    for (size_t i = 0; i < PEER_PROBES; i++) {
        struct rd_peer *p = &l->slots[(h + i) % PEER_SLOTS];

        if (p->used && memcmp(p->addr, addr, 16) == 0) {
            p->seen_ms = now_ms;
            return p;
        }
        if (better_victim(p, victim)) {
            victim = p;
        }
    }
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->addr, addr, 16);
    victim->used = 1;
    victim->tokens = (uint64_t)srv->conf.limits.rate_burst * 1000;
    victim->wtokens = (uint64_t)srv->conf.limits.write_rate_burst * 1000;
    victim->wlast_ms = now_ms;
    victim->last_ms = victim->seen_ms = now_ms;
    return victim;
}

static void
peer_text(const coap_session_t *session, char *out, size_t size)
{
    if (rd__base_from_session(session, out, size)) {
        snprintf(out, size, "an unknown address");
    }
}

static void
add_max_age(coap_pdu_t *response, uint32_t seconds)
{
    uint8_t buf[4];

    coap_add_option(response, COAP_OPTION_MAXAGE, coap_encode_var_safe(buf, sizeof(buf), seconds),
                    buf);
}

/* Token bucket per address: rate_limit requests per second, rate_burst at once. @return 0 when
 * the request is taken, else the seconds until the next one will be (for Max-Age). */
static uint32_t
charge(struct rd_server *srv, const uint8_t addr[16], const char *who)
{
    const struct rd_limits_conf *lc = &srv->conf.limits;
    uint64_t cap = (uint64_t)lc->rate_burst * 1000;
    int64_t now_ms = rd__now_ms();
    struct rd_peer *p = peer_get(srv, addr, now_ms);

    if (now_ms > p->last_ms) {
        /* rate_limit requests per second is rate_limit thousandths per millisecond. */
        uint64_t add = (uint64_t)(now_ms - p->last_ms) * lc->rate_limit;

        p->tokens = (p->tokens + add > cap || add > cap) ? cap : p->tokens + add;
        p->last_ms = now_ms;
    }
    if (p->tokens >= 1000) {
        p->tokens -= 1000;
        p->limited = 0;
        return 0;
    }
    if (!p->limited) {
        p->limited = 1;
        rd__log(srv, RD_LOG_WARN, "limit: %s over %lu requests/s, answering 4.29", who,
                (unsigned long)lc->rate_limit);
    }
    return (uint32_t)((1000 - p->tokens) / lc->rate_limit / 1000 + 1);
}

static int
admit_rate(struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response)
{
    uint32_t wait;
    uint8_t addr[16];
    char diag[64];
    char who[RD_BASE_SIZE];

    if (!srv->conf.limits.rate_limit || peer_addr(session, addr)) {
        return RD_OK;
    }
    peer_text(session, who, sizeof(who));
    wait = charge(srv, addr, who);
    if (!wait) {
        return RD_OK;
    }
    /* Max-Age says when the next request will be taken (RFC 8516 section 4). */
    add_max_age(response, wait);
    snprintf(diag, sizeof(diag), "rate limit: %lu requests/s",
             (unsigned long)srv->conf.limits.rate_limit);
    rd__respond_error(response, COAP_RESPONSE_CODE(429), diag);
    return RD_EFULL;
}

int
rd__sockaddr_key(const struct sockaddr *from, uint8_t addr[16], uint16_t *port)
{
    if (from->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)from;

        memcpy(addr, &a6->sin6_addr, 16);
        *port = ntohs(a6->sin6_port);
        return RD_OK;
    }
    if (from->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)from;

        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &a4->sin_addr, 4);
        *port = ntohs(a4->sin_port);
        return RD_OK;
    }
    return RD_EINVAL;
}

void
rd__limits_echo_seen(struct rd_server *srv, const struct sockaddr *from, const uint8_t *value,
                     size_t len)
{
    int64_t now = rd__now();
    uint8_t addr[16];
    uint16_t port;

    if (srv->conf.limits.amplification == RD_AMP_OFF || rd__sockaddr_key(from, addr, &port) ||
        !rd__echo_check(srv, from, RD_ECHO_ADDRESS, value, len, now)) {
        return;
    }
    peer_get(srv, addr, rd__now_ms())->verified_until = now + VERIFIED_SECONDS;
}

uint32_t
rd__limits_charge_datagram(struct rd_server *srv, const struct sockaddr *from)
{
    uint8_t addr[16];
    uint16_t port;
    char who[INET6_ADDRSTRLEN + 16];
    char text[INET6_ADDRSTRLEN];

    if (!srv->conf.limits.rate_limit || rd__sockaddr_key(from, addr, &port)) {
        return 0;
    }
    if (!inet_ntop(AF_INET6, addr, text, sizeof(text))) {
        snprintf(text, sizeof(text), "?");
    }
    snprintf(who, sizeof(who), "[%s]", text);
    return charge(srv, addr, who);
}

/* Every Uri-Query option is at most max_attr_len bytes and all of them max_query_len. */
static int
admit_query(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
            coap_pdu_t *response)
{
    const struct rd_limits_conf *lc = &srv->conf.limits;
    coap_opt_filter_t filter;
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    size_t total = 0;
    char diag[80];
    char who[RD_BASE_SIZE];

    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
    coap_option_iterator_init(request, &oi, &filter);
    diag[0] = '\0';
    while ((opt = coap_option_next(&oi)) != NULL) {
        size_t len = coap_opt_length(opt);

        total += len;
        if (len > lc->max_attr_len) {
            snprintf(diag, sizeof(diag), "query parameter longer than %zu bytes", lc->max_attr_len);
            break;
        }
        if (total > lc->max_query_len) {
            snprintf(diag, sizeof(diag), "query longer than %zu bytes", lc->max_query_len);
            break;
        }
    }
    if (!diag[0]) {
        return RD_OK;
    }
    peer_text(session, who, sizeof(who));
    rd__log(srv, RD_LOG_INFO, "limit: %s from %s", diag, who);
    rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
    return RD_EINVAL;
}

int
rd__limits_admit(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                 coap_pdu_t *response)
{
    int rc = admit_rate(srv, session, response);

    if (!rc) {
        rc = admit_query(srv, session, request, response);
    }
    return rc;
}

int
rd__limits_check_links(const struct rd_server *srv, const struct lookup_links *links, char *diag,
                       size_t diag_size)
{
    size_t max = srv->conf.limits.max_attr_len;

    for (size_t i = 0; i < links->nlinks; i++) {
        const struct lookup_link *ln = &links->links[i];

        if (strlen(ln->target) > max) {
            snprintf(diag, diag_size, "link %zu: target longer than %zu bytes", i + 1, max);
            return RD_EINVAL;
        }
        for (size_t j = 0; j < ln->nattrs; j++) {
            if (ln->attrs[j].value && strlen(ln->attrs[j].value) > max) {
                snprintf(diag, diag_size, "link %zu: %s longer than %zu bytes", i + 1,
                         ln->attrs[j].name, max);
                return RD_EINVAL;
            }
        }
    }
    return RD_OK;
}

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
rd__limits_block_ok(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
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
        is_multicast(session) || peer_addr(session, addr)) {
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
    p = peer_get(srv, addr, rd__now_ms());
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
    peer_text(session, who, sizeof(who));
    rd__log(srv, RD_LOG_DEBUG, "limit: %zu-byte block to unverified %s, asking for Echo", block,
            who);
    rd__echo_challenge(srv, session, response, RD_ECHO_ADDRESS, now);
    return 0;
}

int
rd__limits_source_term(const coap_session_t *session, char *out, size_t size)
{
    uint8_t addr[16];
    char text[INET6_ADDRSTRLEN];
    int n;

    if (peer_addr(session, addr) || !inet_ntop(AF_INET6, addr, text, sizeof(text))) {
        return RD_EINVAL;
    }
    /* A space never starts an attribute name, so no lookup term can look like this one. */
    n = snprintf(out, size, " src=%s", text);
    return (n < 0 || (size_t)n + 1 >= size) ? RD_ETOOBIG : RD_OK;
}

/* Counts registrations up to a limit, then stops the scan. */
struct counter {
    size_t n;
    size_t max;
};

static int
count_cb(void *arg, const struct store_reg *reg)
{
    struct counter *c = arg;

    (void)reg;
    return ++c->n >= c->max;
}

static int
stop_cb(void *arg, const struct store_reg *reg)
{
    (void)arg;
    (void)reg;
    return 1;
}

/* Registration writes per address (write_rate_limit a second, write_rate_burst at once): every
 * registration, re-registration and simple registration costs a disk write, and new ones fill
 * the store. @return RD_OK or RD_EFULL with 4.29 and Max-Age in @p response. */
static int
admit_write(struct rd_server *srv, const coap_session_t *session, const char *ep,
            coap_pdu_t *response)
{
    const struct rd_limits_conf *lc = &srv->conf.limits;
    uint64_t cap = (uint64_t)lc->write_rate_burst * 1000;
    int64_t now_ms = rd__now_ms();
    struct rd_peer *p;
    uint8_t addr[16];
    char who[RD_BASE_SIZE];

    if (!lc->write_rate_limit || peer_addr(session, addr)) {
        return RD_OK;
    }
    p = peer_get(srv, addr, now_ms);
    if (now_ms > p->wlast_ms) {
        uint64_t add = (uint64_t)(now_ms - p->wlast_ms) * lc->write_rate_limit;

        p->wtokens = (p->wtokens + add > cap || add > cap) ? cap : p->wtokens + add;
        p->wlast_ms = now_ms;
    }
    if (p->wtokens >= 1000) {
        p->wtokens -= 1000;
        return RD_OK;
    }
    peer_text(session, who, sizeof(who));
    rd__log(srv, RD_LOG_DEBUG, "limit: %s over %lu registrations/s, refusing ep=%s", who,
            (unsigned long)lc->write_rate_limit, ep);
    rd__metrics_limited(srv, RD_BOUND_WRITE_RATE);
    add_max_age(response, (uint32_t)((1000 - p->wtokens) / lc->write_rate_limit / 1000 + 1));
    rd__respond_error(response, COAP_RESPONSE_CODE(429), "too many registrations per second");
    return RD_EFULL;
}

int
rd__limits_reg_admit(struct rd_server *srv, const coap_session_t *session, const char *ep,
                     const char *d, coap_pdu_t *response)
{
    const struct rd_limits_conf *lc = &srv->conf.limits;
    int64_t now = rd__now();
    char term[64];
    char diag[80];
    char who[RD_BASE_SIZE];
    struct counter c = { 0, 0 };
    size_t n = 0;

    if (admit_write(srv, session, ep, response)) {
        return RD_EFULL;
    }
    if (!lc->max_registrations && !lc->max_per_source) {
        return RD_OK;
    }
    /* Replacing a live registration adds none. */
    if (store_reg_find(srv->store, d, ep, now, stop_cb, NULL) > 0) {
        return RD_OK;
    }
    peer_text(session, who, sizeof(who));
    if (lc->max_registrations && store_count(srv->store, &n) == RD_OK &&
        n >= lc->max_registrations) {
        rd__log(srv, RD_LOG_WARN,
                "limit: directory holds %zu registrations, refusing ep=%s from %s", n, ep, who);
        add_max_age(response, RETRY_AFTER);
        snprintf(diag, sizeof(diag), "directory full: %zu registrations", lc->max_registrations);
        rd__respond_error(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, diag);
        return RD_EFULL;
    }
    c.max = lc->max_per_source;
    /* The count stops at the limit, so a busy address costs at most max_per_source reads. */
    if (lc->max_per_source && !rd__limits_source_term(session, term, sizeof(term)) &&
        store_term_foreach(srv->store, term, strlen(term) + 1, now, count_cb, &c) >= 0 &&
        c.n >= lc->max_per_source) {
        rd__log(srv, RD_LOG_WARN, "limit: %s holds %zu registrations, refusing ep=%s", who, c.n,
                ep);
        add_max_age(response, RETRY_AFTER);
        snprintf(diag, sizeof(diag), "too many registrations from this address (%zu)",
                 lc->max_per_source);
        rd__respond_error(response, COAP_RESPONSE_CODE(429), diag);
        return RD_EFULL;
    }
    return RD_OK;
}

int
rd__limits_verified(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request)
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
    if (peer_addr(session, addr)) {
        return 0;
    }
    p = peer_get(srv, addr, rd__now_ms());
    if (p->verified_until > now ||
        (request && rd__echo_verified(srv, session, request, RD_ECHO_ADDRESS, now))) {
        p->verified_until = now + VERIFIED_SECONDS;
        return 1;
    }
    return 0;
}

void
rd__limits_mark_verified(struct rd_server *srv, const coap_session_t *session)
{
    uint8_t addr[16];

    if (!peer_addr(session, addr)) {
        peer_get(srv, addr, rd__now_ms())->verified_until = rd__now() + VERIFIED_SECONDS;
    }
}
