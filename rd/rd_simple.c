/* Simple registration (RFC 9176 section 5.1): POST /.well-known/rd?ep=... with an empty body.
 * The request waits (empty ACK, then a separate response) while the RD, as a client on the
 * same context, fetches the endpoint's /.well-known/core; then it registers those links and
 * answers 2.04. */
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lookup.h"
#include "rd_amplification.h"
#include "rd_auth.h"
#include "rd_block.h"
#include "rd_cluster.h"
#include "rd_conf.h"
#include "rd_dtls.h"
#include "rd_echo.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_metrics.h"
#include "rd_observe.h"
#include "rd_quota.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_simple.h"
#include "rd_status.h"

#define SIMPLE_PATH ".well-known/rd"
/* Fetched discovery documents kept for a retried POST (RFC 9176 section 5.1 SHOULD). */
#define CACHE_SLOTS 128
/* RFC 7252 section 5.10.5: Max-Age defaults to 60 s. */
#define DEFAULT_MAX_AGE 60
#define QPARAM_MAX      64

/* One simple registration in progress. Owned by the server's list until finished. */
struct rd_fetch {
    struct rd_fetch *next;
    coap_async_t *async;    /* the waiting request; libcoap frees it after the answer */
    coap_session_t *client; /* our session to the endpoint; released when finished */
    uint8_t token[8];       /* token of our GET */
    size_t token_len;
    struct lookup_regparams params;
    char base[RD_BASE_SIZE];      /* the requester's address: the registration's base */
    uint32_t scope;               /* its link, when the address is link-local */
    char owner[RD_IDENTITY_SIZE]; /* the requester's security identity */
    uint8_t src[16];              /* the requester's address, IPv4 mapped: the per-source key */
    int unverified; /* the address has not shown it receives: one GET, no retransmission */
    int64_t deadline_ms;
    coap_pdu_code_t result; /* 0 while the fetch runs */
    char diag[LOOKUP_DIAG_SIZE];
    char *doc; /* the document's blocks so far (owned) */
    size_t doc_len;
};

struct rd_simple_cache {
    char base[RD_BASE_SIZE];
    uint32_t scope;
    char *doc;
    size_t len;
    int64_t expires_ms;
};

static struct rd_server *
server_of(coap_session_t *session)
{
    return coap_get_app_data(coap_session_get_context(session));
}

static struct rd_simple_cache *
cache_slot(struct rd_server *srv, const char *base)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = base; *p; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    return &srv->simple_cache[h % CACHE_SLOTS];
}

/* Two devices on two links may share a link-local address: the link is part of the key. */
static const struct rd_simple_cache *
cache_find(struct rd_server *srv, const char *base, uint32_t scope, int64_t now_ms)
{
    const struct rd_simple_cache *c = cache_slot(srv, base);

    return (c->doc && c->expires_ms > now_ms && c->scope == scope && strcmp(c->base, base) == 0)
               ? c
               : NULL;
}

static void
cache_put(struct rd_server *srv, const char *base, uint32_t scope, const char *doc, size_t len,
          unsigned max_age)
{
    struct rd_simple_cache *c = cache_slot(srv, base);
    char *copy = malloc(len ? len : 1);

    if (!copy) {
        return;
    }
    if (len) {
        memcpy(copy, doc, len);
    }
    free(c->doc);
    snprintf(c->base, sizeof(c->base), "%s", base);
    c->scope = scope;
    c->doc = copy;
    c->len = len;
    c->expires_ms = rd__now_ms() + (int64_t)max_age * 1000;
}

/* The endpoint's document as RFC 9176 section 5.1 asks: its links are relative to the
 * /.well-known/core it came from (RFC 6690 section 2.1), and are registered in the Limited Link
 * Format, relative to the registration's base. */
static int
limited_links(struct rd_server *srv, const char *base, const char *doc, size_t len,
              struct lookup_links *links, char *diag, size_t diag_size)
{
    struct lookup_links fetched = { 0 };
    struct lookup_buf limited;
    char doc_uri[RD_BASE_SIZE + 32];
    int rc = lookup_links_parse(&fetched, doc, len, srv->conf.max_links, diag, diag_size);

    lookup_buf_init(&limited, srv->conf.max_payload * 2 + 4096);
    snprintf(doc_uri, sizeof(doc_uri), "%s/.well-known/core", base);
    if (!rc) {
        rc = lookup_links_to_limited(&fetched, doc_uri, &limited);
        if (rc) {
            snprintf(diag, diag_size, "endpoint's links cannot be made relative to its base");
        }
    }
    if (!rc) {
        rc = lookup_links_parse(links, limited.data ? limited.data : "", limited.len,
                                srv->conf.max_links, diag, diag_size);
    }
    if (!rc) {
        rc = lookup_links_check_limited(links->links, links->nlinks, diag, diag_size);
    }
    if (rc) {
        lookup_links_cleanup(links);
    }
    lookup_links_cleanup(&fetched);
    lookup_buf_cleanup(&limited);
    return rc;
}

/* Register the links of a fetched discovery document under the requester's address. */
static coap_pdu_code_t
register_doc(struct rd_server *srv, const struct lookup_regparams *p, const char *base,
             uint32_t scope, const char *owner, const char *doc, size_t len, char *diag,
             size_t diag_size)
{
    struct rd_verdict verdict;
    struct lookup_links links = { 0 };
    struct lookup_reg rec = { 0 };
    struct rd_reg_write w = { 0 };
    uint64_t id = 0;
    int created = 0;
    int rc;

    rc = limited_links(srv, base, doc, len, &links, diag, diag_size);
    if (rc) {
        return COAP_RESPONSE_CODE_BAD_GATEWAY;
    }
    rec.base = base;
    rec.scope = scope;
    rec.lt = p->lt ? p->lt : LOOKUP_LT_DEFAULT;
    rec.owner = owner;
    rec.attrs = p->attrs;
    rec.nattrs = p->nattrs;
    rec.links = links.links;
    rec.nlinks = links.nlinks;
    w.ep = p->ep;
    w.d = p->d ? p->d : srv->conf.default_sector;
    w.rec = &rec;
    w.expires_at = rd__deadline(rec.lt);
    /* Checked again at the write: the name may have been taken while the fetch ran. */
    if (rd__auth_register(srv, owner, w.ep, w.d, &verdict)) {
        lookup_links_cleanup(&links);
        snprintf(diag, diag_size, "%s", verdict.diag);
        return verdict.code;
    }
    w.source = NULL;
    rc = rd__reg_save(srv, &w, 0, &id, &created);
    lookup_links_cleanup(&links);
    if (rc) {
        snprintf(diag, diag_size, "%s", rd_strerror(rc));
        return rd__status_to_coap(rc);
    }
    rd__log(srv, RD_LOG_INFO, "simple %s ep=%s d=%s base=%s lt=%lu links=%zu",
            created ? "registration" : "re-registration", w.ep, w.d, base, (unsigned long)rec.lt,
            rec.nlinks);
    return COAP_RESPONSE_CODE_CHANGED;
}

static void
fetch_free(struct rd_fetch *f)
{
    free(f->doc);
    if (f->client) {
        coap_session_release(f->client);
    }
    lookup_regparams_cleanup(&f->params);
    free(f);
}

/* End a fetch: remember the answer and wake the waiting request up. */
static void
fetch_done(struct rd_server *srv, struct rd_fetch *f, coap_pdu_code_t code, const char *diag)
{
    f->result = code;
    snprintf(f->diag, sizeof(f->diag), "%s", diag ? diag : "");
    if (code != COAP_RESPONSE_CODE_CHANGED) {
        rd__log(srv, RD_LOG_WARN, "simple registration of ep=%s from %s failed: %s", f->params.ep,
                f->base, f->diag);
    }
    coap_async_trigger(f->async);
}

static struct rd_fetch *
fetch_by_session(struct rd_server *srv, const coap_session_t *client, coap_bin_const_t token)
{
    for (struct rd_fetch *f = srv->fetches; f; f = f->next) {
        if (f->client == client && f->result == 0 && token.length == f->token_len &&
            memcmp(token.s, f->token, token.length) == 0) {
            return f;
        }
    }
    return NULL;
}

static unsigned
max_age_of(const coap_pdu_t *pdu)
{
    unsigned max_age;

    return rd__option_uint(pdu, COAP_OPTION_MAXAGE, &max_age) ? max_age : DEFAULT_MAX_AGE;
}

static int send_get(struct rd_fetch *f, const struct rd_block *block);

/* Add one answer of the endpoint to its document, block by block (RFC 7959 section 2.4: our
 * block mode is off, and the device is not trusted to send sane blocks). @return 1 when the
 * next block was asked for; 0 when the document is whole; -1 when the fetch failed. */
static int
collect(struct rd_server *srv, struct rd_fetch *f, const coap_pdu_t *received)
{
    struct rd_block block;
    const uint8_t *data = NULL;
    size_t len = 0;
    int has = rd__block_option(received, COAP_OPTION_BLOCK2, &block);
    const char *why = NULL;
    char *grown;

    if (!coap_get_data(received, &len, &data)) {
        len = 0;
    }
    if (has < 0 || (has && block.szx == 7)) {
        why = "endpoint sent a bad Block2 option";
    } else if (has && (uint64_t)block.num << (block.szx + 4) != f->doc_len) {
        why = "endpoint's blocks out of order";
    } else if (f->doc_len + len > srv->conf.max_payload) {
        why = "endpoint's links too large";
    } else if (has && block.more && len != (size_t)16 << block.szx) {
        why = "endpoint sent a block that is not full";
    }
    if (why) {
        fetch_done(srv, f, COAP_RESPONSE_CODE_BAD_GATEWAY, why);
        return -1;
    }
    grown = realloc(f->doc, f->doc_len + len + 1);
    if (!grown) {
        fetch_done(srv, f, COAP_RESPONSE_CODE_INTERNAL_ERROR, "no memory for the document");
        return -1;
    }
    memcpy(grown + f->doc_len, data ? data : (const uint8_t *)"", len);
    f->doc = grown;
    f->doc_len += len;
    if (has && block.more) {
        block.num++;
        block.more = 0;
        if (send_get(f, &block)) {
            fetch_done(srv, f, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot ask for the next block");
            return -1;
        }
        return 1;
    }
    return 0;
}

/* A cluster's commit of a simple registration (rd_cluster.h): answer the waiting request. */
static void
committed(struct rd_server *srv, void *arg, coap_pdu_code_t code, const char *diag)
{
    struct rd_fetch *f = arg;

    fetch_done(srv, f, code == COAP_RESPONSE_CODE_CREATED ? COAP_RESPONSE_CODE_CHANGED : code,
               diag);
}

/* The endpoint answered our GET /.well-known/core. */
static coap_response_t
hnd_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
             const coap_mid_t mid)
{
    struct rd_server *srv = server_of(session);
    struct rd_fetch *f = fetch_by_session(srv, session, coap_pdu_get_token(received));
    coap_pdu_code_t code = coap_pdu_get_code(received);
    char diag[LOOKUP_DIAG_SIZE];

    (void)sent;
    (void)mid;
    if (!f) {
        return COAP_RESPONSE_OK;
    }
    /* It answered our random token: the address receives, later answers may be larger. */
    rd__amp_mark_verified(srv, session);
    if (code != COAP_RESPONSE_CODE_CONTENT) {
        snprintf(diag, sizeof(diag), "endpoint answered %u.%02u", code >> 5, code & 0x1f);
        fetch_done(srv, f, COAP_RESPONSE_CODE_BAD_GATEWAY, diag);
        return COAP_RESPONSE_OK;
    }
    if (collect(srv, f, received) != 0) {
        return COAP_RESPONSE_OK;
    }
    /* In a cluster the answer waits for etcd's commit: committed() gives it. */
    rd__cluster_then(srv, committed, f);
    /* An endpoint with no resources answers with an empty document: zero links. */
    code = register_doc(srv, &f->params, f->base, f->scope, f->owner, f->doc ? f->doc : "",
                        f->doc_len, diag, sizeof(diag));
    rd__cluster_then(srv, NULL, NULL);
    if (code == COAP_RESPONSE_CODE_CHANGED) {
        cache_put(srv, f->base, f->scope, f->doc ? f->doc : "", f->doc_len, max_age_of(received));
    }
    if (code == COAP_RESPONSE_CODE_CHANGED && srv->cluster) {
        /* Not 0 any more: the deadline and a late NACK leave the fetch to committed(). */
        f->result = code;
        return COAP_RESPONSE_OK;
    }
    fetch_done(srv, f, code, diag);
    return COAP_RESPONSE_OK;
}

static void
hnd_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
         const coap_mid_t mid)
{
    struct rd_server *srv = server_of(session);
    struct rd_fetch *f = sent ? fetch_by_session(srv, session, coap_pdu_get_token(sent)) : NULL;

    (void)mid;
    rd__observe_nack(srv, session, sent, reason);
    if (coap_session_get_max_retransmit(session) < COAP_DEFAULT_MAX_RETRANSMIT) {
        coap_session_set_max_retransmit(session, COAP_DEFAULT_MAX_RETRANSMIT);
    }
    if (f) {
        fetch_done(srv, f, COAP_RESPONSE_CODE_GATEWAY_TIMEOUT,
                   reason == COAP_NACK_RST ? "endpoint refused the request"
                                           : "endpoint did not answer");
    }
}

/* Send GET /.well-known/core, for @p block when not NULL, on the fetch's session. */
static int
send_get(struct rd_fetch *f, const struct rd_block *block)
{
    /* To an address that has not shown it receives, the GET goes once, non-confirmable (RFC
     * 7252 section 11.3): a forged request then reflects one GET, not five, and the answer to
     * it stays within three times the request. A real device answers a NON request too. */
    coap_pdu_t *pdu = coap_new_pdu(f->unverified ? COAP_MESSAGE_NON : COAP_MESSAGE_CON,
                                   COAP_REQUEST_CODE_GET, f->client);
    uint8_t value[4];

    if (!pdu) {
        return RD_ENOMEM;
    }
    coap_add_token(pdu, f->token_len, f->token);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 11, (const uint8_t *)".well-known");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 4, (const uint8_t *)"core");
    coap_add_option(
        pdu, COAP_OPTION_ACCEPT,
        coap_encode_var_safe(value, sizeof(value), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), value);
    if (block) {
        coap_add_option(pdu, COAP_OPTION_BLOCK2,
                        coap_encode_var_safe(value, sizeof(value), block->num << 4 | block->szx),
                        value);
    }
    return coap_send(f->client, pdu) == COAP_INVALID_MID ? RD_EINVAL : RD_OK;
}

/* Send GET /.well-known/core to the requester's address and port. */
static int
start_fetch(struct rd_server *srv, coap_session_t *session, struct rd_fetch *f)
{
    /* The GET leaves from the port the request came to, on the requester's own session: a
     * device (or its NAT) expects answers from there, and may refuse any other source. */
    (void)srv;
    f->client = coap_session_reference(session);
    /* A random token (RFC 7252 section 5.3.1): whoever forges the device's address must also
     * guess it to slip links into the directory. */
    f->token_len = sizeof(f->token);
    if (RAND_bytes(f->token, (int)f->token_len) != 1) {
        return RD_EINVAL;
    }
    return send_get(f, NULL);
}

/* The delayed call of the handler: answer with what the fetch found, and forget the fetch. */
static void
finish(struct rd_server *srv, coap_async_t *async, coap_pdu_t *response)
{
    struct rd_fetch *f = coap_async_get_app_data(async);
    struct rd_fetch **pp = &srv->fetches;

    if (!f) {
        rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "lost fetch");
        return;
    }
    /* No diagnostic to an address that never answered: whoever forged it gets no more bytes. */
    rd__respond_error(response, f->result,
                      f->result == COAP_RESPONSE_CODE_CHANGED ||
                              (f->unverified && f->result == COAP_RESPONSE_CODE_GATEWAY_TIMEOUT)
                          ? NULL
                          : f->diag);
    if (f->result == COAP_RESPONSE_CODE_GATEWAY_TIMEOUT) {
        /* Our GET to the silent device still waits for its ACK, and libcoap sends one
         * confirmable message at a time to a peer (NSTART 1, RFC 7252 section 4.7): a
         * confirmable answer would wait behind it for the whole retransmission span. */
        coap_pdu_set_type(response, COAP_MESSAGE_NON);
    }
    while (*pp && *pp != f) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = f->next;
    }
    srv->nfetches--;
    coap_async_set_app_data(async, NULL);
    fetch_free(f);
}

static int
parse_simple(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
             struct lookup_regparams *p, coap_pdu_t *response)
{
    size_t len = 0;
    const uint8_t *data;

    if (coap_get_data(request, &len, &data) && len > 0) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST,
                          "simple registration takes no payload");
        return RD_EINVAL;
    }
    return rd__parse_regparams(srv, session, request, LOOKUP_REG_SIMPLE, p, response);
}

/* 1 when @p key is the (IPv4-mapped) address of a loopback, unspecified or local interface. */
static int
address_is_ours(const uint8_t key[16], const coap_session_t *session)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t zero[16] = { 0 };
    static const uint8_t loop6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    const coap_address_t *local = coap_session_get_addr_local(session);
    struct ifaddrs *ifs = NULL;
    uint8_t other[16];
    uint16_t port;
    int ours = 0;

    if (memcmp(key, zero, 16) == 0 || memcmp(key, loop6, 16) == 0 ||
        (memcmp(key, v4mapped, 12) == 0 && (key[12] == 127 || key[12] == 0))) {
        return 1;
    }
    if (local && !rd__sockaddr_key(&local->addr.sa, other, &port) && memcmp(key, other, 16) == 0) {
        return 1;
    }
    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    for (const struct ifaddrs *i = ifs; i && !ours; i = i->ifa_next) {
        ours = i->ifa_addr && !rd__sockaddr_key(i->ifa_addr, other, &port) &&
               memcmp(key, other, 16) == 0;
    }
    freeifaddrs(ifs);
    return ours;
}

/* 1 when one of @p specs ("HOST:PORT") names @p port; @p dflt is the port of an empty list. */
static int
port_listed(char *const *specs, size_t n, const char *dflt, uint16_t port)
{
    char text[8];

    snprintf(text, sizeof(text), "%u", (unsigned)port);
    if (n == 0) {
        return strcmp(text, dflt) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *colon = strrchr(specs[i], ':');

        if (colon && strcmp(colon + 1, text) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A request whose source is one of our own listeners can only be forged: fetching from there
 * would make the RD register itself, or talk to itself in circles. */
static int
from_ourselves(const struct rd_server *srv, const coap_session_t *session, const uint8_t key[16],
               uint16_t port)
{
    const coap_address_t *local = coap_session_get_addr_local(session);
    uint8_t addr[16];
    uint16_t local_port = 0;
    int our_port;

    if (local) {
        rd__sockaddr_key(&local->addr.sa, addr, &local_port);
    }
    our_port = port == local_port ||
               port_listed(srv->conf.listen, srv->conf.nlisten, "5683", port) ||
               (rd__dtls_enabled(srv) &&
                port_listed(srv->conf.sec.dtls_listen, srv->conf.sec.ndtls_listen, "5684", port));
    return our_port && address_is_ours(key, session);
}

/* Simple registrations in progress from the address @p key. */
static size_t
fetches_from(const struct rd_server *srv, const uint8_t key[16])
{
    size_t n = 0;

    for (const struct rd_fetch *f = srv->fetches; f; f = f->next) {
        n += f->result == 0 && memcmp(f->src, key, 16) == 0;
    }
    return n;
}

static void
busy(coap_pdu_t *response, const char *why)
{
    uint8_t age[1] = { 5 };

    /* Tell the client when to retry (RFC 9176 section 4: clients retry after Max-Age). */
    coap_add_option(response, COAP_OPTION_MAXAGE, 1, age);
    rd__respond_error(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, why);
}

static void
hnd_post_simple(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = server_of(session);
    coap_async_t *async = coap_find_async(session, coap_pdu_get_token(request));
    struct rd_fetch *f = NULL;
    const struct rd_simple_cache *cached;
    char diag[LOOKUP_DIAG_SIZE];
    uint16_t port = 0;

    (void)resource;
    (void)query;
    if (async) {
        finish(srv, async, response);
        return;
    }
    if (rd__limits_admit(srv, session, request, response)) {
        return;
    }
    /* A forged source address would make us fetch and publish a victim's links. */
    if (srv->conf.simple_echo &&
        !rd__echo_verified(srv, session, request, RD_ECHO_ENDPOINT, rd__now())) {
        rd__echo_challenge(srv, session, response, RD_ECHO_ENDPOINT, rd__now());
        return;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        busy(response, "out of memory");
        return;
    }
    if (rd__sockaddr_key(&coap_session_get_addr_remote(session)->addr.sa, f->src, &port)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "no usable source address");
        free(f);
        return;
    }
    if (from_ourselves(srv, session, f->src, port)) {
        rd__log(srv, RD_LOG_WARN, "simple registration from one of our own addresses refused");
        rd__metrics_limited(srv, RD_BOUND_SIMPLE_SELF);
        rd__respond_error(response, COAP_RESPONSE_CODE_FORBIDDEN,
                          "source is this directory's own address");
        free(f);
        return;
    }
    if (rd__auth_write(srv, session, f->owner, response) ||
        parse_simple(srv, session, request, &f->params, response)) {
        free(f);
        return;
    }
    {
        struct rd_verdict verdict;

        if (rd__auth_register(srv, f->owner, f->params.ep,
                              f->params.d ? f->params.d : srv->conf.default_sector, &verdict)) {
            rd__auth_respond(&verdict, response);
            fetch_free(f);
            return;
        }
    }
    if (rd__quota_admit(srv, session, f->params.ep,
                             f->params.d ? f->params.d : srv->conf.default_sector, response)) {
        fetch_free(f);
        return;
    }
    if (rd__base_from_session(session, f->base, sizeof(f->base))) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "no usable source address");
        fetch_free(f);
        return;
    }
    if (rd__base_scope(session, f->base, &f->scope, response)) {
        fetch_free(f);
        return;
    }
    /* In a cluster a write is answered after etcd's commit, which the handler cannot wait
     * for here: the document is fetched again instead (RFC 9176 section 5.1 has the cache as a
     * SHOULD). */
    cached = srv->cluster ? NULL : cache_find(srv, f->base, f->scope, rd__now_ms());
    if (cached) {
        coap_pdu_code_t code = register_doc(srv, &f->params, f->base, f->scope, f->owner,
                                            cached->doc, cached->len, diag, sizeof(diag));

        rd__respond_error(response, code, code == COAP_RESPONSE_CODE_CHANGED ? NULL : diag);
        fetch_free(f);
        return;
    }
    if (srv->nfetches >= srv->conf.simple_fetches) {
        rd__metrics_limited(srv, RD_BOUND_SIMPLE_FETCHES);
        busy(response, "too many simple registrations in progress");
        fetch_free(f);
        return;
    }
    /* One address cannot take every slot and lock real devices out. */
    if (fetches_from(srv, f->src) >= srv->conf.simple_fetches_per_source) {
        rd__metrics_limited(srv, RD_BOUND_SIMPLE_PER_SOURCE);
        busy(response, "too many simple registrations from this address");
        fetch_free(f);
        return;
    }
    f->unverified = !rd__amp_verified(srv, session, request);
    f->deadline_ms = rd__now_ms() + (int64_t)srv->conf.simple_timeout * 1000;
    async = start_fetch(srv, session, f) ? NULL : coap_register_async(session, request, 0);
    if (!async) {
        busy(response, "cannot reach the endpoint now");
        fetch_free(f);
        return;
    }
    f->async = async;
    coap_async_set_app_data(async, f);
    f->next = srv->fetches;
    srv->fetches = f;
    srv->nfetches++;
    /* No response code: libcoap sends an empty ACK and the answer follows separately. */
}

void
rd__simple_tick(struct rd_server *srv, int64_t now_ms)
{
    for (struct rd_fetch *f = srv->fetches; f; f = f->next) {
        if (f->result == 0 && now_ms >= f->deadline_ms) {
            /* Our GET is given up: let libcoap stop retransmitting it at its next timeout
             * rather than for the rest of its span. hnd_nack() restores the default. */
            coap_session_set_max_retransmit(f->client, 1);
            fetch_done(srv, f, COAP_RESPONSE_CODE_GATEWAY_TIMEOUT, "endpoint did not answer");
        }
    }
}

int
rd__simple_init(struct rd_server *srv)
{
    coap_resource_t *r;

    srv->simple_cache = calloc(CACHE_SLOTS, sizeof(*srv->simple_cache));
    if (!srv->simple_cache) {
        return RD_ENOMEM;
    }
    coap_register_response_handler(srv->ctx, hnd_response);
    coap_register_nack_handler(srv->ctx, hnd_nack);
    if (!srv->conf.simple_registration) {
        return RD_OK;
    }
    /* The path is fixed by RFC 9176 section 9.6, not discovered. */
    r = coap_resource_init(coap_make_str_const(SIMPLE_PATH), 0);
    if (!r) {
        return RD_ENOMEM;
    }
    rd__handler_add(srv, r, COAP_REQUEST_POST, hnd_post_simple, RD_IF_SIMPLE);
    coap_add_resource(srv->ctx, r);
    return RD_OK;
}

void
rd__simple_cleanup(struct rd_server *srv)
{
    while (srv->fetches) {
        struct rd_fetch *f = srv->fetches;

        srv->fetches = f->next;
        fetch_free(f);
    }
    for (size_t i = 0; srv->simple_cache && i < CACHE_SLOTS; i++) {
        free(srv->simple_cache[i].doc);
    }
    free(srv->simple_cache);
    srv->simple_cache = NULL;
}
