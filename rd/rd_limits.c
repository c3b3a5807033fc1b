/* What a request may cost (RFC 9176 section 8): the table of what the server knows of each
 * source address, the request rate per address, and the lengths of queries, link targets and
 * attributes. The amplification limit (rd_amplification.c) and the registration quotas
 * (rd_quota.c) keep their state in the same table. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

/* Peers tracked at once, and the slots one address may land in: a fixed table, so any number
 * of peers (forged source addresses included) costs the same memory. */
#define PEER_SLOTS  4096
#define PEER_PROBES 8

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

int
rd__peer_addr(const coap_session_t *session, uint8_t out[16])
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

struct rd_peer *
rd__peer_get(struct rd_server *srv, const uint8_t addr[16], int64_t now_ms)
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

void
rd__peer_text(const coap_session_t *session, char *out, size_t size)
{
    if (rd__base_from_session(session, out, size)) {
        snprintf(out, size, "an unknown address");
    }
}

void
rd__add_max_age(coap_pdu_t *response, uint32_t seconds)
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
    struct rd_peer *p = rd__peer_get(srv, addr, now_ms);

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

    if (!srv->conf.limits.rate_limit || rd__peer_addr(session, addr)) {
        return RD_OK;
    }
    rd__peer_text(session, who, sizeof(who));
    wait = charge(srv, addr, who);
    if (!wait) {
        return RD_OK;
    }
    /* Max-Age says when the next request will be taken (RFC 8516 section 4). */
    rd__add_max_age(response, wait);
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
    rd__peer_text(session, who, sizeof(who));
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

