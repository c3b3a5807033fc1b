/* Registration interface (RFC 9176 section 5): POST to the directory resource, and update
 * (5.3.1), removal (5.3.2) and reading of registration resources. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_auth.h"
#include "rd_batch.h"
#include "rd_block.h"
#include "rd_cluster.h"
#include "rd_conditional.h"
#include "rd_conf.h"
#include "rd_dedup.h"
#include "rd_dtls.h"
#include "rd_feed.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_metrics.h"
#include "rd_observe.h"
#include "rd_quota.h"
#include "rd_rank.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* The directory resource's path; registration resources live below it as "rd/<id>". */
#define DIR_PATH "rd"
/* More Uri-Query options than this in one request are refused. */
#define QPARAM_MAX 64

/* A registration read back from the store, owned here. */
struct loaded_reg {
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    int64_t expires_at;
    int want_etag; /* set by the caller: the tag is computed only for a reading */
    int loaded;    /* filled by refresh(), which found the base about to change */
    uint64_t etag; /* rd__reg_etag() of the stored record, when wanted */
    struct lookup_reg rec;
    int rc; /* decode result */
};

static struct rd_server *
server_of(coap_session_t *session)
{
    return coap_get_app_data(coap_session_get_context(session));
}

/* One log line per refused request, naming the limit and the requester. */
static void __attribute__((format(printf, 3, 4)))
log_limit(const struct rd_server *srv, const coap_session_t *session, const char *fmt, ...)
{
    char who[RD_BASE_SIZE];
    char what[LOOKUP_DIAG_SIZE + 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (rd__base_from_session(session, who, sizeof(who))) {
        snprintf(who, sizeof(who), "an unknown address");
    }
    rd__log(srv, RD_LOG_INFO, "limit: %s from %s", what, who);
}

/* Content-Format must be link-format when given; a missing one is taken as link-format, which is
 * what every registrant means. */
static int
check_content_format(const coap_pdu_t *request, coap_pdu_t *response)
{
    unsigned cf;

    if (rd__option_uint(request, COAP_OPTION_CONTENT_FORMAT, &cf) &&
        cf != COAP_MEDIATYPE_APPLICATION_LINK_FORMAT) {
        rd__respond_error(response, COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT,
                          "expected application/link-format (40)");
        return RD_EINVAL;
    }
    return RD_OK;
}

/* The whole request body, or an empty one (rd_block1.c puts Block1 bodies together). Nonzero
 * when the handler must stop: an error is set, or a non-final block was answered with 2.31. */
static int
read_body(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
          coap_pdu_t *response, const char **data, size_t *len)
{
    int done = 1;
    int rc = rd__block1_read(srv, session, request, response, data, len, &done);

    if (rc == RD_ETOOBIG) {
        log_limit(srv, session, "%zu-byte body over max_payload %zu", rd__block1_announced(request),
                  srv->conf.max_payload);
    }
    return rc ? rc : !done;
}

/* RFC 9176 section 5: ep may be left out when the RD can tell it from the security context.
 * Under ep_policy identity it can: the name of the client's PSK identity or certificate. */
static void
default_ep(const struct rd_server *srv, const coap_session_t *session, struct lookup_qparam *q,
           size_t *nq, char identity[RD_IDENTITY_SIZE])
{
    const char *name;

    for (size_t i = 0; i < *nq; i++) {
        if (q[i].key_len == 2 && memcmp(q[i].key, "ep", 2) == 0) {
            return;
        }
    }
    if (srv->conf.sec.ep_policy != RD_EP_IDENTITY || rd__identity(session, identity) ||
        !(name = strchr(identity, ':')) || name[1] == '\0') {
        return;
    }
    q[*nq].key = "ep";
    q[*nq].key_len = 2;
    q[*nq].value = name + 1;
    q[*nq].value_len = strlen(name + 1);
    (*nq)++;
}

int
rd__parse_regparams(const struct rd_server *srv, const coap_session_t *session,
                    const coap_pdu_t *request, enum lookup_reg_op op, struct lookup_regparams *p,
                    coap_pdu_t *response)
{
    struct lookup_qparam q[QPARAM_MAX + 1];
    char diag[LOOKUP_DIAG_SIZE];
    char identity[RD_IDENTITY_SIZE];
    size_t nq = 0;
    int rc;

    if (rd__query_params(request, q, QPARAM_MAX, &nq)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "too many query parameters");
        return RD_EINVAL;
    }
    if (op != LOOKUP_REG_UPDATE) {
        default_ep(srv, session, q, &nq, identity);
    }
    rc = lookup_regparams_parse(p, op, q, nq, diag, sizeof(diag));
    if (rc) {
        rd__respond_error(response, rd__status_to_coap(rc), rc == RD_EINVAL ? diag : NULL);
        return rc;
    }
    if (p->lt && (p->lt < srv->conf.lifetime_min || p->lt > srv->conf.lifetime_max)) {
        snprintf(diag, sizeof(diag), "lt: expected %lu..%lu", (unsigned long)srv->conf.lifetime_min,
                 (unsigned long)srv->conf.lifetime_max);
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
        log_limit(srv, session, "%s", diag);
        lookup_regparams_cleanup(p);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Parse a registration body: strict link-format in Limited Link Format (RFC 9176 section 5). */
static int
parse_links(const struct rd_server *srv, const coap_session_t *session, const char *body,
            size_t len, struct lookup_links *links, coap_pdu_t *response)
{
    char diag[LOOKUP_DIAG_SIZE];
    int limit = 0;
    int rc;

    rc = lookup_links_parse(links, body, len, srv->conf.max_links, diag, sizeof(diag));
    if (rc == RD_ETOOBIG) {
        snprintf(diag, sizeof(diag), "more than %zu links", srv->conf.max_links);
        rc = RD_EINVAL;
        limit = 1;
    }
    if (!rc) {
        rc = lookup_links_check_limited(links->links, links->nlinks, diag, sizeof(diag));
        if (!rc) {
            rc = rd__limits_check_links(srv, links, diag, sizeof(diag));
            limit = rc != RD_OK;
        }
        if (rc) {
            lookup_links_cleanup(links);
        }
    }
    if (limit) {
        log_limit(srv, session, "%s", diag);
    }
    if (rc) {
        rd__respond_error(response, rd__status_to_coap(rc), rc == RD_EINVAL ? diag : NULL);
    }
    return rc;
}

/* A replace whose index terms are the stored ones keeps them: working out terms and weights
 * costs more than the write. @return what store_reg_rewrite() returns; RD_ECONFLICT also when
 * the terms may differ, for the caller to write them. */
static int
rewrite(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id,
        const struct lookup_buf *buf)
{
    struct store_term src;
    struct store_reg sreg;

    if (!replace_id || !w->same_terms || !w->source) {
        return RD_ECONFLICT;
    }
    memset(&sreg, 0, sizeof(sreg));
    sreg.ep = w->ep;
    sreg.d = w->d;
    sreg.expires_at = w->expires_at;
    sreg.data = buf->data;
    sreg.data_len = buf->len;
    /* As reg_save() lists it: the terms must count the registration under this address. */
    src.data = w->source;
    src.len = strlen(w->source) + 1;
    rd__feed_stage_save(srv, replace_id, w->ep, w->d, w->rec, buf->data, buf->len);
    return store_reg_rewrite(srv->store, replace_id, &sreg, &src);
}

/* Write @p w: by name, or in place of @p replace_id; or, with @p at_id, under that id as a
 * cluster's change of @p revision. In cluster mode a write of this node goes to etcd instead
 * and comes back through the watch. */
static int
reg_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id, uint64_t at_id,
         int64_t revision, uint64_t *id, int *created)
{
    struct lookup_buf buf;
    struct lookup_terms terms = { 0 };
    struct store_term *sterms = NULL;
    struct store_reg sreg;
    struct rd_lookup_reg before = { 0 };
    uint64_t new_id = replace_id;
    int rc;

    lookup_buf_init(&buf, srv->conf.max_payload * 2 + 4096);
    rc = lookup_reg_encode(w->rec, &buf);
    if (!rc && srv->cluster && !at_id) {
        rc = rd__cluster_save(srv, w, replace_id, buf.data, buf.len);
        goto out;
    }
    if (rc) {
        goto out;
    }
    if (!w->refresh_only) {
        /* Observers are told what this write can change for them: from what to what. */
        rd__lookup_before(srv, replace_id, w->ep, w->d, &before);
    }
    rc = at_id ? RD_ECONFLICT : rewrite(srv, w, replace_id, &buf);
    if (rc != RD_ECONFLICT) {
        goto done;
    }
    rc = lookup_reg_terms(w->ep, w->d, w->rec, &terms);
    if (rc) {
        goto out;
    }
    /* The index terms let selective lookups skip the registrations they cannot match. */
    sterms = calloc(terms.nterms + 2, sizeof(*sterms));
    if (!sterms) {
        rc = RD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < terms.nterms; i++) {
        sterms[i].data = terms.terms[i].data;
        sterms[i].len = terms.terms[i].len;
        sterms[i].eps = terms.eps[i];
        sterms[i].links = terms.links[i];
    }
    memset(&sreg, 0, sizeof(sreg));
    sreg.ep = w->ep;
    sreg.d = w->d;
    sreg.expires_at = w->expires_at;
    sreg.data = buf.data;
    sreg.data_len = buf.len;
    sreg.terms = sterms;
    sreg.nterms = terms.nterms;
    /* The weights let a lookup reach any page without walking the ones before it. */
    rd__rank_weights(sterms, terms.nterms);
    sreg.nlinks = (uint32_t)w->rec->nlinks;
    sreg.weighed = 1;
    if (w->source) {
        /* Counted by the per-address registration limit. */
        sterms[sreg.nterms].data = w->source;
        sterms[sreg.nterms].len = strlen(w->source) + 1;
        sreg.nterms++;
    }
    if (w->rec->scope) {
        /* Hidden from clients on other links: while any such registration is stored, paging
         * walks (the counts cannot tell who sees it). */
        sterms[sreg.nterms].data = RD_RANK_SCOPED;
        sterms[sreg.nterms].len = sizeof(RD_RANK_SCOPED);
        sterms[sreg.nterms].eps = 1;
        sreg.nterms++;
    }
    rd__feed_stage_save(srv, replace_id, w->ep, w->d, w->rec, buf.data, buf.len);
    if (at_id) {
        store_remote_stage(srv->store, revision);
        rc = store_reg_put_at(srv->store, at_id, &sreg, created);
        new_id = at_id;
    } else if (replace_id) {
        rc = store_reg_replace(srv->store, replace_id, &sreg);
    } else {
        rc = store_reg_put(srv->store, &sreg, &new_id, created);
    }
done:
    if (rc == RD_ESTORE) {
        rd__log(srv, RD_LOG_ERROR, "store: %s", store_errmsg(srv->store));
    } else if (rc == RD_EFULL) {
        rd__log(srv, RD_LOG_ERROR, "store full: registration of ep=%s d=%s refused", w->ep, w->d);
    }
    if (!rc) {
        srv->dirty = 1;
        rd__feed_committed(srv);
        if (id && !replace_id) {
            *id = new_id;
        }
        if (w->refresh_only) {
            rd__lookup_refreshed(srv, w->expires_at);
        } else {
            rd__lookup_written(srv, &before, w->ep, w->d, w->rec, new_id, w->expires_at);
        }
    }
out:
    rd__lookup_reg_cleanup(&before);
    free(sterms);
    lookup_terms_cleanup(&terms);
    lookup_buf_cleanup(&buf);
    return rc;
}

int
rd__reg_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id, uint64_t *id,
             int *created)
{
    return reg_save(srv, w, replace_id, 0, 0, id, created);
}

int
rd__reg_apply(struct rd_server *srv, const struct rd_reg_write *w, uint64_t id, int64_t revision)
{
    return reg_save(srv, w, 0, id, revision, NULL, NULL);
}

void
rd__respond_store_error(coap_pdu_t *response, int rc)
{
    static const char *const msgs[] = { [-RD_EFULL] = "directory full",
                                        [-RD_ESTORE] = "storage failure",
                                        [-RD_ENOMEM] = "out of memory",
                                        [-RD_ENOTFOUND] = "no such registration" };
    const char *msg = (rc < 0 && -rc < (int)(sizeof(msgs) / sizeof(msgs[0]))) ? msgs[-rc] : NULL;

    rd__respond_error(response, rd__status_to_coap(rc), msg);
}

static void
add_location(coap_pdu_t *response, uint64_t id)
{
    char text[RD_ID_SIZE];

    rd__id_format(id, text);
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, strlen(DIR_PATH),
                    (const uint8_t *)DIR_PATH);
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, RD_ID_SIZE - 1, (const uint8_t *)text);
}

/* POST /rd?ep=...: register, or re-register the same (ep, d) in place (RFC 9176 section 5). */
static void
register_ep(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
            coap_pdu_t *response)
{
    struct lookup_regparams p = { 0 };
    struct lookup_links links = { 0 };
    struct lookup_reg rec = { 0 };
    struct rd_reg_write w = { 0 };
    struct rd_verdict verdict;
    char implicit_base[RD_BASE_SIZE];
    char identity[RD_IDENTITY_SIZE];
    char source[64];
    const char *body;
    size_t body_len;
    uint64_t id = 0;
    int created = 0;
    int rc;

    if (rd__auth_write(srv, session, identity, response) ||
        check_content_format(request, response) ||
        read_body(srv, session, request, response, &body, &body_len) ||
        rd__parse_regparams(srv, session, request, LOOKUP_REG_CREATE, &p, response)) {
        return;
    }
    if (parse_links(srv, session, body, body_len, &links, response)) {
        goto out;
    }
    rec.base = p.base;
    rec.base_explicit = p.base != NULL;
    if (!p.base) {
        if (rd__base_from_session(session, implicit_base, sizeof(implicit_base))) {
            rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "no usable source address");
            goto out;
        }
        rec.base = implicit_base;
    }
    if (rd__base_scope(session, rec.base, &rec.scope, response)) {
        goto out;
    }
    rec.lt = p.lt ? p.lt : LOOKUP_LT_DEFAULT;
    rec.owner = identity;
    rec.attrs = p.attrs;
    rec.nattrs = p.nattrs;
    rec.links = links.links;
    rec.nlinks = links.nlinks;
    w.ep = p.ep;
    w.d = p.d ? p.d : srv->conf.default_sector;
    w.rec = &rec;
    /* Authorization is decided before anything is written. */
    if (rd__auth_register(srv, identity, w.ep, w.d, &verdict)) {
        rd__auth_respond(&verdict, response);
        goto out;
    }
    if (rd__cond_ep(srv, request, response, w.ep, w.d)) {
        goto out;
    }
    w.expires_at = rd__deadline(rec.lt);
    w.source = rd__quota_source_term(session, source, sizeof(source)) ? NULL : source;
    if (rd__quota_admit(srv, session, w.ep, w.d, response)) {
        goto out;
    }
    rc = rd__reg_save(srv, &w, 0, &id, &created);
    if (rc == RD_CLUSTER_PARKED) {
        goto out;
    }
    if (rc) {
        rd__respond_store_error(response, rc);
        goto out;
    }
    {
        char text[RD_ID_SIZE];

        rd__id_format(id, text);
        rd__log(srv, RD_LOG_INFO,
                "%s ep=%s d=%s location=/%s/%s base=%s lt=%lu links=%zu identity=%s",
                created ? "registered" : "re-registered", w.ep, w.d, DIR_PATH, text, rec.base,
                (unsigned long)rec.lt, links.nlinks, identity);
    }
    /* Re-registration answers exactly like the first registration: 2.01, same location. */
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CREATED);
    add_location(response, id);
out:
    lookup_links_cleanup(&links);
    lookup_regparams_cleanup(&p);
}

static void
hnd_post_rd(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
            const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = server_of(session);
    int64_t now = rd__now();
    int paused;

    (void)resource;
    (void)query;
    if (rd__cluster_resume(srv, session, request, response)) {
        rd__dedup_remember(&srv->dedup, session, request, response, now);
        return;
    }
    if (rd__dedup_replay(&srv->dedup, session, request, response, now) ||
        rd__limits_admit(srv, session, request, response)) {
        rd__cluster_request_done(srv);
        return;
    }
    paused = rd__batch_pause(srv, session);
    register_ep(srv, session, request, response);
    rd__batch_resume(srv, paused);
    if (!rd__cluster_request_done(srv)) {
        rd__dedup_remember(&srv->dedup, session, request, response, now);
    }
}

/* Copy @p src into @p dst of @p size bytes, cut short if it must be. */
static void
copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int
load_cb(void *arg, const struct store_reg *reg)
{
    struct loaded_reg *lr = arg;

    copy_str(lr->ep, sizeof(lr->ep), reg->ep);
    copy_str(lr->d, sizeof(lr->d), reg->d);
    lr->expires_at = reg->expires_at;
    if (lr->want_etag) {
        lr->etag = rd__reg_etag(reg->ep, reg->d, reg->data, reg->data_len);
    }
    lr->rc = lookup_reg_decode(&lr->rec, reg->data, reg->data_len);
    return 0;
}

/* A registration decoded into @p lr: RD_OK, or RD_ESTORE (logged) when it did not decode. */
static int
loaded_check(struct rd_server *srv, uint64_t id, const struct loaded_reg *lr)
{
    if (lr->rc) {
        rd__log(srv, RD_LOG_ERROR, "registration %llx: corrupt record (%s)", (unsigned long long)id,
                rd_strerror(lr->rc));
        return RD_ESTORE;
    }
    return RD_OK;
}

/* The store's failure @p rc to read a registration, logged when it is the store's own. */
static int
load_failed(struct rd_server *srv, int rc)
{
    if (rc == RD_ESTORE) {
        rd__log(srv, RD_LOG_ERROR, "store: %s", store_errmsg(srv->store));
    }
    return rc;
}

/* Load registration @p id into @p lr; with @p want_etag, its tag too. */
static int
load_reg(struct rd_server *srv, uint64_t id, unsigned flags, int want_etag,
         struct loaded_reg *lr)
{
    int rc;

    memset(lr, 0, sizeof(*lr));
    lr->want_etag = want_etag;
    rc = store_reg_get(srv->store, id, rd__now(), flags, load_cb, lr);
    return rc == RD_OK ? loaded_check(srv, id, lr) : load_failed(srv, rc);
}

static int
same_base(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* What a lifetime refresh needs of a stored registration, copied out of the store's view. */
struct reg_head {
    int rc;
    int64_t expires_at;
    struct lookup_reg_head h;
    char base[RD_BASE_SIZE];
    char owner[RD_IDENTITY_SIZE];
    /* When the base would change, the full update follows: the record is decoded into @c full
     * in the same read, rather than looked up again (@c full->loaded then set). Or, with
     * @c want_raw, copied as it is into @c raw, for rebase(). */
    const coap_session_t *session;
    struct loaded_reg *full;
    int want_raw;
    unsigned char *raw;
    size_t raw_len;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
};

/* Copy the stored record of @p reg into @p rh for rebase(). @return 0 (the read goes on). */
static int
keep_raw(struct reg_head *rh, const struct store_reg *reg)
{
    size_t ep_len = reg->ep ? strlen(reg->ep) : 0;
    size_t d_len = reg->d ? strlen(reg->d) : 0;

    if (ep_len > LOOKUP_NAME_MAX || d_len > LOOKUP_NAME_MAX || !reg->data_len) {
        return 0;
    }
    rh->raw = malloc(reg->data_len);
    if (!rh->raw) {
        return 0;
    }
    memcpy(rh->raw, reg->data, reg->data_len);
    rh->raw_len = reg->data_len;
    memcpy(rh->ep, reg->ep ? reg->ep : "", ep_len + 1);
    memcpy(rh->d, reg->d ? reg->d : "", d_len + 1);
    return 0;
}

static int base_unchanged(const coap_session_t *session, const struct reg_head *rh);

static int
head_cb(void *arg, const struct store_reg *reg)
{
    struct reg_head *rh = arg;

    rh->expires_at = reg->expires_at;
    rh->rc = lookup_reg_head(reg->data, reg->data_len, &rh->h);
    if (rh->rc || rh->h.base_len >= sizeof(rh->base) || rh->h.owner_len >= sizeof(rh->owner)) {
        rh->rc = RD_EINVAL;
        return 0;
    }
    memcpy(rh->base, rh->h.base, rh->h.base_len);
    rh->base[rh->h.base_len] = '\0';
    memcpy(rh->owner, rh->h.owner ? rh->h.owner : "", rh->h.owner_len);
    rh->owner[rh->h.owner_len] = '\0';
    if (rh->full && !base_unchanged(rh->session, rh)) {
        if (rh->want_raw) {
            return keep_raw(rh, reg);
        }
        rh->full->loaded = 1;
        return load_cb(rh->full, reg);
    }
    return 0;
}

/* Whether @p rh's base and its link would stay as they are after an update over @p session. */
static int
base_unchanged(const coap_session_t *session, const struct reg_head *rh)
{
    char implicit[RD_BASE_SIZE];
    int ifindex;

    if (!rh->h.base_explicit && (rd__base_from_session(session, implicit, sizeof(implicit)) ||
                                 strcmp(implicit, rh->base) != 0)) {
        return 0;
    }
    if (!lookup_uri_is_link_local(rh->base)) {
        return rh->h.scope == 0;
    }
    ifindex = coap_session_get_ifindex(session);
    return ifindex > 0 && (uint32_t)ifindex == rh->h.scope;
}

/* After the write of a rebase() or a refresh(): an error answered (RD_ECONFLICT is left to the
 * caller, which runs the full update), or the change made known. */
static int
written(struct rd_server *srv, int rc, coap_pdu_t *response)
{
    if (rc == RD_ECONFLICT) {
        return rc;
    }
    if (rc) {
        if (rc == RD_ESTORE) {
            rd__log(srv, RD_LOG_ERROR, "store: %s", store_errmsg(srv->store));
        }
        rd__respond_store_error(response, rc);
        return rc;
    }
    srv->dirty = 1;
    rd__feed_committed(srv);
    return RD_OK;
}

/* An update without body or parameters from a device whose address changed: its implicit base
 * follows, and nothing else changes. When no observer and no change feed needs the registration
 * decoded, the stored record is rewritten with the new base spliced in (lookup_reg_rebase()):
 * decoding and re-encoding the links cost most of such an update. @return RD_OK or an error
 * already in @p response; RD_ECONFLICT when the full update must run. */
static int
rebase(struct rd_server *srv, coap_session_t *session, uint64_t id, const struct reg_head *rh,
       const char *source, coap_pdu_t *response)
{
    char implicit[RD_BASE_SIZE];
    struct rd_reg_write w;
    struct rd_lookup_reg none = { 0 };
    struct lookup_buf buf;
    int rc;

    if (!rh->raw || rh->h.base_explicit || rh->h.scope ||
        rd__base_from_session(session, implicit, sizeof(implicit)) ||
        lookup_uri_is_link_local(implicit)) {
        return RD_ECONFLICT;
    }
    lookup_buf_init(&buf, srv->conf.max_payload * 2 + 4096);
    if (lookup_reg_rebase(rh->raw, rh->raw_len, implicit, &buf) != RD_OK) {
        lookup_buf_cleanup(&buf);
        return RD_ECONFLICT;
    }
    memset(&w, 0, sizeof(w));
    w.ep = rh->ep;
    w.d = rh->d;
    w.expires_at = rd__deadline(rh->h.lt);
    w.source = source;
    w.same_terms = 1;
    rc = rewrite(srv, &w, id, &buf);
    lookup_buf_cleanup(&buf);
    rc = written(srv, rc, response);
    if (rc) {
        return rc;
    }
    rd__lookup_written(srv, &none, w.ep, w.d, NULL, id, w.expires_at);
    rd__log(srv, RD_LOG_DEBUG, "updated ep=%s d=%s base=%s", w.ep, w.d, implicit);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
    return RD_OK;
}

/* An update without body or parameters that changes nothing but the deadline: the most
 * frequent request of a directory, answered without decoding or re-encoding the registration.
 * @return RD_OK or an error already in @p response; RD_ECONFLICT when the full update must run
 * (the base or the address the registration is counted under would change). */
static int
refresh(struct rd_server *srv, coap_session_t *session, const char *identity, uint64_t id,
        coap_pdu_t *response, struct loaded_reg *full)
{
    struct reg_head rh;
    struct store_term src;
    char source[64];
    char text[RD_ID_SIZE];
    int64_t now = rd__now();
    int64_t expires_at;
    int rc;

    memset(&rh, 0, sizeof(rh));
    rh.session = session;
    rh.full = full;
    rh.want_raw = !srv->feed && !rd__observe_any(srv);
    rc = store_reg_get(srv->store, id, now, STORE_GET_EXPIRED, head_cb, &rh);
    if (rc == RD_OK && rh.rc) {
        free(rh.raw);
        return RD_ECONFLICT; /* the full update reports the damage */
    }
    /* Past the grace period a registration is gone, whether or not the sweep has run yet. */
    if (rc == RD_OK && rh.expires_at < now - (int64_t)srv->conf.expiry_grace) {
        rc = RD_ENOTFOUND;
    }
    if (rc) {
        free(rh.raw);
        rd__respond_store_error(response, rc);
        return rc;
    }
    if (rd__auth_owner(srv, identity, rh.h.owner ? rh.owner : NULL, response)) {
        free(rh.raw);
        return RD_EINVAL;
    }
    if (rd__quota_source_term(session, source, sizeof(source))) {
        free(rh.raw);
        return RD_ECONFLICT;
    }
    if (!base_unchanged(session, &rh)) {
        rc = rebase(srv, session, id, &rh, source, response);
        free(rh.raw);
        return rc;
    }
    src.data = source;
    src.len = strlen(source) + 1;
    expires_at = rd__deadline(rh.h.lt);
    rd__feed_stage_refresh(srv, id);
    rc = store_reg_touch(srv->store, id, expires_at, &src);
    rc = written(srv, rc, response);
    if (rc) {
        return rc;
    }
    /* Reviving an expired registration changes lookup results; a refresh does not. */
    if (rh.expires_at > now) {
        rd__lookup_refreshed(srv, expires_at);
    } else {
        struct rd_lookup_reg hidden = { 0 };
        struct rd_lookup_reg revived;

        rd__lookup_before(srv, id, NULL, NULL, &revived);
        rd__lookup_written(srv, &hidden, revived.ep, revived.d,
                           revived.present ? &revived.rec : NULL, id, expires_at);
        rd__lookup_reg_cleanup(&revived);
    }
    rd__id_format(id, text);
    rd__log(srv, RD_LOG_DEBUG, "refreshed location=/%s/%s lt=%lu", DIR_PATH, text,
            (unsigned long)rh.h.lt);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
    return RD_OK;
}

/* POST /rd/<id>: refresh the lifetime and update lt, base and extra attributes (RFC 9176
 * section 5.3.1). An expired registration still in its grace period is revived. A link-format
 * body, which LwM2M clients send, replaces the links. */
static void
update_reg(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
           coap_pdu_t *response, uint64_t id)
{
    struct lookup_regparams p = { 0 };
    struct lookup_links links = { 0 };
    struct loaded_reg old;
    struct lookup_reg rec = { 0 };
    struct lookup_attr *attrs = NULL;
    struct rd_reg_write w = { 0 };
    char implicit_base[RD_BASE_SIZE];
    char identity[RD_IDENTITY_SIZE];
    char source[64];
    const char *body;
    size_t body_len;
    int have_links = 0;
    int rc;

    memset(&old, 0, sizeof(old));
    if (rd__auth_write(srv, session, identity, response) ||
        rd__cond_reg(srv, request, response, id) || check_content_format(request, response) ||
        read_body(srv, session, request, response, &body, &body_len) ||
        rd__parse_regparams(srv, session, request, LOOKUP_REG_UPDATE, &p, response)) {
        return;
    }
    /* In a cluster a refresh is a put of the whole value: the full update makes it. */
    if (body_len == 0 && !p.base && p.lt == 0 && p.nattrs == 0 && !srv->cluster &&
        refresh(srv, session, identity, id, response, &old) != RD_ECONFLICT) {
        goto out;
    }
    if (body_len > 0) {
        if (parse_links(srv, session, body, body_len, &links, response)) {
            goto out;
        }
        have_links = 1;
    }
    rc = old.loaded ? loaded_check(srv, id, &old) : load_reg(srv, id, STORE_GET_EXPIRED, 0, &old);
    /* Past the grace period a registration is gone, whether or not the sweep has run yet. */
    if (!rc && old.expires_at < rd__now() - (int64_t)srv->conf.expiry_grace) {
        rc = RD_ENOTFOUND;
    }
    if (rc) {
        rd__respond_store_error(response, rc);
        goto out;
    }
    if (rd__auth_owner(srv, identity, old.rec.owner, response)) {
        goto out;
    }
    rec.owner = old.rec.owner;
    rc = lookup_attrs_merge(old.rec.attrs, old.rec.nattrs, p.attrs, p.nattrs, &attrs, &rec.nattrs);
    if (rc) {
        rd__respond_store_error(response, rc);
        goto out;
    }
    rec.attrs = attrs;
    /* An explicit base stays until replaced; an implicit one follows the device's address. */
    if (p.base) {
        rec.base = p.base;
        rec.base_explicit = 1;
    } else if (old.rec.base_explicit) {
        rec.base = old.rec.base;
        rec.base_explicit = 1;
    } else {
        if (rd__base_from_session(session, implicit_base, sizeof(implicit_base))) {
            rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "no usable source address");
            goto out;
        }
        rec.base = implicit_base;
    }
    if (rd__base_scope(session, rec.base, &rec.scope, response)) {
        goto out;
    }
    rec.lt = p.lt ? p.lt : old.rec.lt;
    rec.links = have_links ? links.links : old.rec.links;
    rec.nlinks = have_links ? links.nlinks : old.rec.nlinks;
    w.ep = old.ep;
    w.d = old.d;
    w.rec = &rec;
    w.expires_at = rd__deadline(rec.lt);
    /* Lookups never show the time left, so a refresh that changes nothing else leaves every
     * lookup result as it was; reviving an expired registration does not. */
    w.refresh_only = !have_links && p.nattrs == 0 && rec.lt == old.rec.lt &&
                     old.expires_at > rd__now() && same_base(rec.base, old.rec.base) &&
                     rec.scope == old.rec.scope;
    w.source = rd__quota_source_term(session, source, sizeof(source)) ? NULL : source;
    w.same_terms = !have_links && p.nattrs == 0 && rec.scope == old.rec.scope;
    rc = rd__reg_save(srv, &w, id, NULL, NULL);
    if (rc == RD_CLUSTER_PARKED) {
        goto out;
    }
    if (rc) {
        rd__respond_store_error(response, rc);
        goto out;
    }
    rd__log(srv, RD_LOG_DEBUG, "updated ep=%s d=%s lt=%lu base=%s", w.ep, w.d,
            (unsigned long)rec.lt, rec.base);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
out:
    lookup_attrs_free(attrs);
    lookup_reg_cleanup(&old.rec);
    lookup_links_cleanup(&links);
    lookup_regparams_cleanup(&p);
}

/* GET /rd/<id>: the registered links as the device sent them. RFC 9176 leaves reading a
 * registration resource undefined (section 5.3.3); returning its links is the useful answer. */
static void
get_reg(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
        coap_pdu_t *response, uint64_t id)
{
    struct loaded_reg lr;
    struct lookup_buf buf;
    int rc;

    if (rd__auth_read(srv, session, response) || rd__cond_reg(srv, request, response, id) ||
        rd__check_accept(request, response)) {
        return;
    }
    lookup_buf_init(&buf, srv->conf.max_payload * 2 + 4096);
    rc = load_reg(srv, id, 0, 1, &lr);
    if (!rc) {
        rc = lookup_links_format(lr.rec.links, lr.rec.nlinks, &buf);
    }
    lookup_reg_cleanup(&lr.rec);
    if (rc) {
        lookup_buf_cleanup(&buf);
        rd__respond_store_error(response, rc);
        return;
    }
    /* The registration's tag, not the links' hash: a client may GET and then update or remove
     * with If-Match, which must fail after any change (RFC 7252 section 5.10.8.1). */
    rd__respond_tagged(session, request, response, &buf, lr.etag,
                       COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
}

/* DELETE /rd/<id> (RFC 9176 section 5.3.2): 2.02, or 4.04 when it is already gone. */
static void
delete_reg(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
           coap_pdu_t *response, uint64_t id)
{
    char identity[RD_IDENTITY_SIZE];
    char text[RD_ID_SIZE];
    struct loaded_reg old;
    struct rd_lookup_reg before;
    int rc;

    if (rd__auth_write(srv, session, identity, response) ||
        rd__cond_reg(srv, request, response, id)) {
        return;
    }
    /* Only the identity that created a registration may remove it. */
    rc = load_reg(srv, id, STORE_GET_EXPIRED, 0, &old);
    if (rc) {
        rd__respond_store_error(response, rc);
        return;
    }
    rc = rd__auth_owner(srv, identity, old.rec.owner, response);
    lookup_reg_cleanup(&old.rec);
    if (rc) {
        return;
    }
    if (srv->cluster) {
        rc = rd__cluster_remove(srv, id, old.ep, old.d);
        if (rc && rc != RD_CLUSTER_PARKED) {
            rd__respond_store_error(response, rc);
        }
        return;
    }
    rd__lookup_before(srv, id, NULL, NULL, &before);
    rd__feed_stage_removal(srv, id);
    rc = store_reg_delete(srv->store, id);
    if (rc) {
        rd__lookup_reg_cleanup(&before);
        if (rc == RD_ESTORE) {
            rd__log(srv, RD_LOG_ERROR, "store: %s", store_errmsg(srv->store));
        }
        rd__respond_store_error(response, rc);
        return;
    }
    srv->dirty = 1;
    rd__feed_committed(srv);
    rd__lookup_written(srv, &before, NULL, NULL, NULL, id, INT64_MAX);
    rd__id_format(id, text);
    rd__log(srv, RD_LOG_INFO, "removed location=/%s/%s", DIR_PATH, text);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_DELETED);
}

/* Registration resources are not libcoap resources: they would show up in /.well-known/core and
 * cannot be deleted from their own handler. Every path libcoap does not know lands here. */
static void
hnd_unknown(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
            const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = server_of(session);
    coap_string_t *path = coap_get_uri_path(request);
    const size_t prefix = strlen(DIR_PATH) + 1;
    int64_t now = rd__now();
    uint64_t id = 0;
    int paused;

    (void)resource;
    (void)query;
    if (!path || path->length <= prefix || memcmp(path->s, DIR_PATH "/", prefix) != 0 ||
        rd__id_parse((const char *)path->s + prefix, path->length - prefix, &id)) {
        coap_delete_string(path);
        rd__respond_error(response, COAP_RESPONSE_CODE_NOT_FOUND, "no such resource");
        return;
    }
    coap_delete_string(path);
    if (rd__cluster_resume(srv, session, request, response)) {
        rd__dedup_remember(&srv->dedup, session, request, response, now);
        return;
    }
    if (rd__dedup_replay(&srv->dedup, session, request, response, now) ||
        rd__limits_admit(srv, session, request, response)) {
        rd__cluster_request_done(srv);
        return;
    }
    paused = rd__batch_pause(srv, session);
    switch (coap_pdu_get_code(request)) {
    case COAP_REQUEST_CODE_GET:
        get_reg(srv, session, request, response, id);
        break;
    case COAP_REQUEST_CODE_POST:
        update_reg(srv, session, request, response, id);
        break;
    case COAP_REQUEST_CODE_DELETE:
        delete_reg(srv, session, request, response, id);
        break;
    default:
        rd__respond_error(response, COAP_RESPONSE_CODE_NOT_ALLOWED, "use GET, POST or DELETE");
        break;
    }
    rd__batch_resume(srv, paused);
    if (!rd__cluster_request_done(srv)) {
        rd__dedup_remember(&srv->dedup, session, request, response, now);
    }
}

int
rd__registration_init(struct rd_server *srv)
{
    static const coap_request_t methods[] = { COAP_REQUEST_GET,    COAP_REQUEST_POST,
                                              COAP_REQUEST_DELETE, COAP_REQUEST_FETCH,
                                              COAP_REQUEST_PATCH,  COAP_REQUEST_IPATCH };
    coap_resource_t *dir = coap_resource_init(coap_make_str_const(DIR_PATH), 0);
    coap_resource_t *unknown = coap_resource_unknown_init2(hnd_unknown, 0);

    if (!dir || !unknown) {
        coap_delete_resource(NULL, dir);
        coap_delete_resource(NULL, unknown);
        return RD_ENOMEM;
    }
    rd__handler_add(srv, dir, COAP_REQUEST_POST, hnd_post_rd, RD_IF_REGISTRATION);
    coap_add_resource(srv->ctx, dir);
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        rd__handler_add(srv, unknown, methods[i], hnd_unknown, RD_IF_REG_RESOURCE);
    }
    coap_add_resource(srv->ctx, unknown);
    return RD_OK;
}
