/* Registration quotas (RFC 9176 section 8): registration writes per second per address, the
 * registrations one address and the whole directory may hold, and the index term that records
 * which address wrote a registration, by which the per-address count is made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_conf.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_metrics.h"
#include "rd_quota.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Max-Age of a refusal because the directory or the address has too many registrations. */
#define RETRY_AFTER 60

int
rd__quota_source_term(const coap_session_t *session, char *out, size_t size)
{
    static const char prefix[] = " src=";
    uint8_t addr[16];
    char text[RD_ADDR_TEXT_SIZE];
    size_t n;

    if (rd__peer_addr(session, addr)) {
        return RD_EINVAL;
    }
    rd__addr_text(addr, text);
    /* A space never starts an attribute name, so no lookup term can look like this one. Copied,
     * not printed: every registration makes this term. */
    n = sizeof(prefix) - 1 + strlen(text);
    if (n + 1 >= size) {
        return RD_ETOOBIG;
    }
    memcpy(out, prefix, sizeof(prefix) - 1);
    memcpy(out + sizeof(prefix) - 1, text, strlen(text) + 1);
    return RD_OK;
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

    if (!lc->write_rate_limit || rd__peer_addr(session, addr)) {
        return RD_OK;
    }
    p = rd__peer_get(srv, addr, now_ms);
    if (now_ms > p->wlast_ms) {
        uint64_t add = (uint64_t)(now_ms - p->wlast_ms) * lc->write_rate_limit;

        p->wtokens = (p->wtokens + add > cap || add > cap) ? cap : p->wtokens + add;
        p->wlast_ms = now_ms;
    }
    if (p->wtokens >= 1000) {
        p->wtokens -= 1000;
        return RD_OK;
    }
    rd__peer_text(session, who, sizeof(who));
    rd__log(srv, RD_LOG_DEBUG, "limit: %s over %lu registrations/s, refusing ep=%s", who,
            (unsigned long)lc->write_rate_limit, ep);
    rd__metrics_limited(srv, RD_BOUND_WRITE_RATE);
    rd__add_max_age(response, (uint32_t)((1000 - p->wtokens) / lc->write_rate_limit / 1000 + 1));
    rd__respond_error(response, COAP_RESPONSE_CODE(429), "too many registrations per second");
    return RD_EFULL;
}

int
rd__quota_admit(struct rd_server *srv, const coap_session_t *session, const char *ep,
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
    rd__peer_text(session, who, sizeof(who));
    if (lc->max_registrations && store_count(srv->store, &n) == RD_OK &&
        n >= lc->max_registrations) {
        rd__log(srv, RD_LOG_WARN,
                "limit: directory holds %zu registrations, refusing ep=%s from %s", n, ep, who);
        rd__add_max_age(response, RETRY_AFTER);
        snprintf(diag, sizeof(diag), "directory full: %zu registrations", lc->max_registrations);
        rd__respond_error(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, diag);
        return RD_EFULL;
    }
    c.max = lc->max_per_source;
    /* The count stops at the limit, so a busy address costs at most max_per_source reads. */
    if (lc->max_per_source && !rd__quota_source_term(session, term, sizeof(term)) &&
        store_term_foreach(srv->store, term, strlen(term) + 1, now, count_cb, &c) >= 0 &&
        c.n >= lc->max_per_source) {
        rd__log(srv, RD_LOG_WARN, "limit: %s holds %zu registrations, refusing ep=%s", who, c.n,
                ep);
        rd__add_max_age(response, RETRY_AFTER);
        snprintf(diag, sizeof(diag), "too many registrations from this address (%zu)",
                 lc->max_per_source);
        rd__respond_error(response, COAP_RESPONSE_CODE(429), diag);
        return RD_EFULL;
    }
    return RD_OK;
}
