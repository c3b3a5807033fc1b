/* Authorization of registration and lookup requests by security identity (RFC 9176 section 7):
 * plain CoAP access, endpoint-name policy, ownership of registrations and per-identity limits. */
#include <stdio.h>
#include <string.h>

#include "lookup.h"
#include "rd_auth.h"
#include "rd_conf.h"
#include "rd_dtls.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

#define IDENTITY_NONE "none"
/* Longest Max-Age we suggest to an identity at its registration limit, in seconds. */
#define LIMIT_RETRY_MAX 3600

int
rd__auth_read(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response)
{
    char identity[RD_IDENTITY_SIZE];

    if (rd__session_secure(session)) {
        /* A session outlives the reload that revoked its identity: reads end with it, as writes
         * do, whatever lookup_access says. */
        if (rd__identity(session, identity)) {
            rd__respond_error(response, COAP_RESPONSE_CODE_FORBIDDEN, "unusable client identity");
            return RD_EINVAL;
        }
        if (!rd__identity_current(srv, identity)) {
            rd__log(srv, RD_LOG_WARN, "request of %s refused: no longer in the PSK file", identity);
            rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED, "identity revoked");
            return RD_EINVAL;
        }
        return RD_OK;
    }
    if (srv->conf.sec.lookup_authenticated) {
        rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED,
                          "lookup needs an authenticated (coaps) client");
        return RD_EINVAL;
    }
    return RD_OK;
}

int
rd__auth_write(const struct rd_server *srv, const coap_session_t *session,
               char identity[RD_IDENTITY_SIZE], coap_pdu_t *response)
{
    if (srv->conf.sec.plain_coap == RD_PLAIN_LOOKUP_ONLY && !rd__session_secure(session)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED,
                          "registration needs an authenticated (coaps) client");
        return RD_EINVAL;
    }
    if (rd__identity(session, identity)) {
        rd__log(srv, RD_LOG_WARN, "request from a peer whose name cannot be an identity refused");
        rd__respond_error(response, COAP_RESPONSE_CODE_FORBIDDEN, "unusable client identity");
        return RD_EINVAL;
    }
    if (!rd__identity_current(srv, identity)) {
        rd__log(srv, RD_LOG_WARN, "request of %s refused: no longer in the PSK file", identity);
        rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED, "identity revoked");
        return RD_EINVAL;
    }
    return RD_OK;
}

/* The owner of the live registration of a name. */
struct owner_probe {
    char owner[RD_IDENTITY_SIZE];
    int found;
    int rc;
};

static int
owner_cb(void *arg, const struct store_reg *reg)
{
    struct owner_probe *p = arg;
    struct lookup_reg rec;

    p->found = 1;
    p->rc = lookup_reg_decode(&rec, reg->data, reg->data_len);
    if (!p->rc) {
        snprintf(p->owner, sizeof(p->owner), "%s", rec.owner ? rec.owner : IDENTITY_NONE);
        lookup_reg_cleanup(&rec);
    }
    return 0;
}

/* Registrations of one identity and the earliest of their deadlines. */
struct owner_count {
    size_t n;
    int64_t first_deadline;
};

static int
count_cb(void *arg, const struct store_reg *reg)
{
    struct owner_count *c = arg;

    c->n++;
    if (reg->expires_at < c->first_deadline) {
        c->first_deadline = reg->expires_at;
    }
    return 0;
}

static int
refuse(struct rd_verdict *v, coap_pdu_code_t code, const char *diag)
{
    v->code = code;
    v->max_age = 0;
    snprintf(v->diag, sizeof(v->diag), "%s", diag);
    return RD_EINVAL;
}

static int
check_limit(struct rd_server *srv, const char *identity, const char *ep, const char *d, int64_t now,
            struct rd_verdict *v)
{
    const uint32_t max = srv->conf.sec.max_regs_per_identity;
    struct owner_count c = { 0, INT64_MAX };
    char term[RD_IDENTITY_SIZE + 16];
    size_t len = 0;
    int64_t wait;

    /* Plain CoAP clients all share "none": one limit for them all would lock every device out. */
    if (max == 0 || strcmp(identity, IDENTITY_NONE) == 0) {
        return RD_OK;
    }
    if (lookup_owner_term(identity, term, sizeof(term), &len) ||
        store_term_foreach(srv->store, term, len, now, count_cb, &c)) {
        rd__log(srv, RD_LOG_ERROR, "counting registrations of %s failed", identity);
        return refuse(v, COAP_RESPONSE_CODE_INTERNAL_ERROR, "storage failure");
    }
    if (c.n < max) {
        return RD_OK;
    }
    rd__log(srv, RD_LOG_WARN,
            "registration of ep=%s d=%s refused: %s has %zu registrations "
            "(max_regs_per_identity %lu)",
            ep, d, identity, c.n, (unsigned long)max);
    refuse(v, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, "too many registrations for this identity");
    /* Retry when the first of them would expire, if it is not refreshed. */
    wait = c.first_deadline - now;
    v->max_age = (uint32_t)(wait < 1 ? 1 : wait > LIMIT_RETRY_MAX ? LIMIT_RETRY_MAX : wait);
    return RD_EINVAL;
}

int
rd__auth_register(struct rd_server *srv, const char *identity, const char *ep, const char *d,
                  struct rd_verdict *v)
{
    struct owner_probe probe;
    int64_t now = rd__now();
    int rc;

    memset(v, 0, sizeof(*v));
    if (srv->conf.sec.ep_policy == RD_EP_IDENTITY && !rd__identity_allows(srv, identity, ep, d)) {
        rd__log(srv, RD_LOG_WARN, "registration of ep=%s d=%s by %s refused: not its name", ep, d,
                identity);
        return refuse(v, COAP_RESPONSE_CODE_FORBIDDEN,
                      "endpoint name not allowed for this identity");
    }
    memset(&probe, 0, sizeof(probe));
    rc = store_reg_find(srv->store, d, ep, now, owner_cb, &probe);
    if ((rc && rc != RD_ENOTFOUND) || probe.rc) {
        rd__log(srv, RD_LOG_ERROR, "reading the owner of ep=%s d=%s failed", ep, d);
        return refuse(v, COAP_RESPONSE_CODE_INTERNAL_ERROR, "storage failure");
    }
    if (probe.found) {
        if (strcmp(probe.owner, identity) != 0) {
            rd__log(srv, RD_LOG_WARN, "registration of ep=%s d=%s by %s refused: owned by %s", ep,
                    d, identity, probe.owner);
            return refuse(v, COAP_RESPONSE_CODE_FORBIDDEN,
                          "registration owned by another identity");
        }
        /* Re-registration replaces in place: the count does not grow. */
        return RD_OK;
    }
    return check_limit(srv, identity, ep, d, now, v);
}

int
rd__auth_owner(const struct rd_server *srv, const char *identity, const char *owner,
               coap_pdu_t *response)
{
    const char *o = owner ? owner : IDENTITY_NONE;

    if (strcmp(o, identity) != 0) {
        rd__log(srv, RD_LOG_WARN, "change of a registration of %s by %s refused", o, identity);
        rd__respond_error(response, COAP_RESPONSE_CODE_FORBIDDEN,
                          "registration owned by another identity");
        return RD_EINVAL;
    }
    return RD_OK;
}

void
rd__auth_respond(const struct rd_verdict *v, coap_pdu_t *response)
{
    uint8_t age[4];

    if (v->max_age) {
        coap_add_option(response, COAP_OPTION_MAXAGE,
                        coap_encode_var_safe(age, sizeof(age), v->max_age), age);
    }
    rd__respond_error(response, v->code, v->diag);
}
