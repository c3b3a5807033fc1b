/* Conditional requests on the registration interface: If-Match and If-None-Match (RFC 7252
 * section 5.10.8) against the tag of a registration (RFC 9176 sections 5 and 5.3). */
#include <string.h>

#include "rd_conditional.h"
#include "rd_conf.h"
#include "rd_log.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* FNV-1a, 64 bits, over one more piece of input. */
static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t
rd__reg_etag(const char *ep, const char *d, const void *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    /* The terminating NULs keep ("ab", "c") and ("a", "bc") apart. The record holds lt, base,
     * owner, attributes and links, but not the deadline: a lifetime refresh keeps the tag. */
    h = fnv1a(h, ep, strlen(ep) + 1);
    h = fnv1a(h, d, strlen(d) + 1);
    h = fnv1a(h, data, len);
    return h ? h : 1;
}

size_t
rd__etag_encode(uint64_t tag, uint8_t out[8])
{
    return coap_encode_var_safe8(out, 8, tag);
}

int
rd__cond_present(const coap_pdu_t *request)
{
    coap_opt_iterator_t oi;

    if (rd__option_absent(request, COAP_OPTION_IF_MATCH) &&
        rd__option_absent(request, COAP_OPTION_IF_NONE_MATCH)) {
        return 0;
    }
    return coap_check_option(request, COAP_OPTION_IF_MATCH, &oi) != NULL ||
           coap_check_option(request, COAP_OPTION_IF_NONE_MATCH, &oi) != NULL;
}

int
rd__cond_eval(const coap_pdu_t *request, int exists, uint64_t tag, const char **why)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    uint8_t enc[8];
    size_t enc_len = rd__etag_encode(tag, enc);
    int if_match = 0;
    int matched = 0;

    if (!rd__cond_present(request)) {
        return RD_OK;
    }
    if (exists && coap_check_option(request, COAP_OPTION_IF_NONE_MATCH, &oi)) {
        *why = "If-None-Match: already registered";
        return RD_ECONFLICT;
    }
    /* Several If-Match options are alternatives; an empty one matches any existing resource
     * (RFC 7252 section 5.10.8.1). */
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_IF_MATCH);
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        size_t len = coap_opt_length(opt);

        if_match = 1;
        if (exists &&
            (len == 0 || (len == enc_len && memcmp(coap_opt_value(opt), enc, len) == 0))) {
            matched = 1;
        }
    }
    if (if_match && !matched) {
        *why = exists ? "If-Match: the registration has changed" : "If-Match: no such registration";
        return RD_ECONFLICT;
    }
    return RD_OK;
}

/* Refuse with 4.12 and the reason when the conditions of @p request do not hold. */
static int
check(const coap_pdu_t *request, coap_pdu_t *response, int exists, uint64_t tag)
{
    const char *why = NULL;

    if (rd__cond_eval(request, exists, tag, &why)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_PRECONDITION_FAILED, why);
        return RD_ECONFLICT;
    }
    return RD_OK;
}

/* What a condition needs of a stored registration. */
struct cond_probe {
    uint64_t tag;
    int64_t expires_at;
};

static int
probe_cb(void *arg, const struct store_reg *reg)
{
    struct cond_probe *p = arg;

    p->tag = rd__reg_etag(reg->ep, reg->d, reg->data, reg->data_len);
    p->expires_at = reg->expires_at;
    return 0;
}

/* Store failures are answered as the handlers answer them; not found means "does not exist". */
static int
probe_failed(struct rd_server *srv, coap_pdu_t *response, int rc)
{
    if (rc == RD_ESTORE) {
        rd__log(srv, RD_LOG_ERROR, "store: %s", store_errmsg(srv->store));
    }
    rd__respond_store_error(response, rc);
    return rc;
}

int
rd__cond_reg(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response, uint64_t id)
{
    struct cond_probe p = { 0, 0 };
    int64_t now;
    int rc;

    if (!rd__cond_present(request)) {
        return RD_OK;
    }
    now = rd__now();
    /* A registration in its grace period still exists for an update (which revives it) and a
     * removal, so it does for their conditions too; its tag survives the lapse. */
    rc = store_reg_get(srv->store, id, now, STORE_GET_EXPIRED, probe_cb, &p);
    if (rc == RD_OK && p.expires_at < now - (int64_t)srv->conf.expiry_grace) {
        rc = RD_ENOTFOUND;
    }
    if (rc && rc != RD_ENOTFOUND) {
        return probe_failed(srv, response, rc);
    }
    return check(request, response, rc == RD_OK, p.tag);
}

int
rd__cond_ep(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response, const char *ep,
            const char *d)
{
    struct cond_probe p = { 0, 0 };
    int rc;

    if (!rd__cond_present(request)) {
        return RD_OK;
    }
    rc = store_reg_find(srv->store, d, ep, rd__now(), probe_cb, &p);
    if (rc && rc != RD_ENOTFOUND) {
        return probe_failed(srv, response, rc);
    }
    return check(request, response, rc == RD_OK, p.tag);
}
