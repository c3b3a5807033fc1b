/* libFuzzer harness: lookup queries, matching, resolution, output and index terms (RFC 9176
 * section 6, RFC 3986 section 5). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPTIONS 48
#define MAX_LINKS   32
#define HREF        "/rd/fz0001"
#define BASE        "coap://[2001:db8::1]:5683"

/* Everything the harness builds from one input. */
struct input {
    struct lookup_query q;
    int q_ok;
    struct lookup_regparams params;
    struct lookup_links links;
    struct lookup_reg rec;
    struct lookup_regview view;
    struct lookup_terms terms;
};

static void
check(int ok)
{
    if (!ok) {
        abort();
    }
}

/* Splits @p len bytes at @p sep into Uri-Query options. */
static size_t
split_options(const char *s, size_t len, char sep, struct lookup_qparam *q)
{
    size_t n = 0;
    const char *end;
    size_t k;

    while (len > 0 && n < MAX_OPTIONS) {
        end = memchr(s, sep, len);
        k = end ? (size_t)(end - s) : len;
        lookup_qparam_split(&q[n++], s, k);
        s += k;
        len -= k;
        if (end) {
            s++;
            len--;
        }
    }
    return n;
}

static int
name_is(const char *name, const char *lower)
{
    size_t i;

    for (i = 0; name[i] && lower[i]; i++) {
        char c = name[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return 0;
        }
    }
    return name[i] == lower[i];
}

static int
is_multi(const char *name)
{
    return name_is(name, "rt") || name_is(name, "if") || name_is(name, "rel") ||
           name_is(name, "ct");
}

/* Whether the index prefix of @p q, if it has one, starts some term of the registration: the
 * prefix endpoint lookup uses when @p for_ep, resource lookup's otherwise. */
static void
check_index(const struct input *in, const struct lookup_query *q, int for_ep)
{
    char prefix[512];
    size_t len = 0;
    int rc = (for_ep ? lookup_query_index_ep : lookup_query_index)(q, prefix, sizeof(prefix), &len);
    int found = 0;

    if (rc == RD_ENOTFOUND) {
        return;
    }
    check(rc == RD_OK && len >= 3 && len <= sizeof(prefix));
    for (size_t i = 0; i < in->terms.nterms && !found; i++) {
        found = in->terms.terms[i].len >= len && memcmp(in->terms.terms[i].data, prefix, len) == 0;
    }
    check(found);
}

/* A query of one criterion built from a value the registration holds must find it, exactly and
 * by a prefix, through matching and through the index. */
static void
check_self_match(const struct input *in, const char *name, const char *value, size_t link)
{
    struct lookup_query q;
    size_t len = strlen(value);
    size_t start = 0;

    if (name_is(name, "href") || name_is(name, "anchor")) {
        return;
    }
    if (is_multi(name)) {
        /* The first space-separated value, or the whole value when it has none. */
        while (start < len && value[start] == ' ') {
            start++;
        }
        if (start == len) {
            start = 0;
        } else {
            len = strcspn(value + start, " ");
        }
    }
    memset(&q, 0, sizeof(q));
    q.ncrit = 1;
    q.crit[0].name = name;
    q.crit[0].name_len = strlen(name);
    q.crit[0].value = value + start;
    q.crit[0].value_len = len;
    for (int prefix = 0; prefix < 2; prefix++) {
        q.crit[0].prefix = (unsigned char)prefix;
        if (prefix) {
            q.crit[0].value_len = len / 2;
        }
        check(lookup_match_ep(&q, &in->view));
        check_index(in, &q, 1);
        if (link != SIZE_MAX) {
            check(lookup_match_res(&q, &in->view, link));
            check_index(in, &q, 0);
        }
    }
}

/* Resolution is idempotent for URIs with an authority, and ignores the base for them. An empty
 * path in the reference takes the base path as it is, dot segments and all, so only references
 * with a path of their own are checked that way. */
static void
check_resolve(const char *base, const char *ref)
{
    char r1[LOOKUP_URI_MAX];
    char r2[LOOKUP_URI_MAX];
    size_t len;
    const char *colon;

    if (lookup_uri_resolve(base, ref, r1, sizeof(r1)) != RD_OK) {
        return;
    }
    len = strlen(r1);
    check(lookup_uri_resolve(base, ref, r2, len) == RD_ETOOBIG);
    colon = strchr(r1, ':');
    check(colon != NULL);
    if (strncmp(colon, "://", 3) != 0 || ref[0] == '\0' || ref[0] == '?' || ref[0] == '#') {
        return;
    }
    check(lookup_uri_resolve(NULL, r1, r2, len + 1) == RD_OK && strcmp(r1, r2) == 0);
    check(lookup_uri_resolve("zz:/other", r1, r2, len + 1) == RD_OK && strcmp(r1, r2) == 0);
}

static void
check_terms(const struct lookup_terms *t)
{
    for (size_t i = 0; i < t->nterms; i++) {
        const struct lookup_term *a = &t->terms[i];
        const char *eq = memchr(a->data, '=', a->len);

        check(a->len >= 4 && a->data[a->len - 1] == '\0' && eq != NULL);
        check(memchr(a->data, '\0', a->len - 1) == NULL);
        check((size_t)(a->data + a->len - eq) - 2 <= 255);
        if (i > 0) {
            const struct lookup_term *p = &t->terms[i - 1];
            size_t n = p->len < a->len ? p->len : a->len;
            int c = memcmp(p->data, a->data, n);

            check(c < 0 || (c == 0 && p->len < a->len));
        }
    }
}

static void
check_format_ep(const struct input *in)
{
    struct lookup_buf b;
    struct lookup_links back = { NULL, 0, NULL };
    const struct lookup_link *l;
    size_t full;

    lookup_buf_init(&b, 1u << 20);
    check(lookup_format_ep(&in->view, &b) == RD_OK);
    full = b.len;
    check(lookup_links_parse(&back, b.data, b.len, 2, NULL, 0) == RD_OK && back.nlinks == 1);
    l = &back.links[0];
    check(strcmp(l->target, HREF) == 0 && l->nattrs >= 3);
    check(strcmp(l->attrs[0].name, "ep") == 0 && strcmp(l->attrs[0].value, in->view.ep) == 0);
    check(strcmp(l->attrs[l->nattrs - 1].name, "rt") == 0 &&
          strcmp(l->attrs[l->nattrs - 1].value, "core.rd-ep") == 0);
    for (size_t j = 0; j < l->nattrs; j++) {
        check(strcmp(l->attrs[j].name, "lt") != 0);
    }
    lookup_links_cleanup(&back);
    /* One byte short: refused, and the buffer left as it was. */
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, full - 1);
    check(lookup_format_ep(&in->view, &b) == RD_ETOOBIG && b.len == 0);
    lookup_buf_cleanup(&b);
}

static void
check_format_res(const struct input *in, size_t i)
{
    const struct lookup_link *orig = &in->rec.links[i];
    struct lookup_links back = { NULL, 0, NULL };
    char uri[LOOKUP_URI_MAX];
    struct lookup_buf b;
    size_t full;
    int rc;

    lookup_buf_init(&b, 1u << 20);
    rc = lookup_format_res(&in->view, i, &b);
    if (rc == RD_ETOOBIG) {
        check(b.len == 0);
        goto out;
    }
    check(rc == RD_OK);
    check(lookup_links_parse(&back, b.data, b.len, 2, NULL, 0) == RD_OK && back.nlinks == 1);
    check(lookup_uri_resolve(in->rec.base, orig->target, uri, sizeof(uri)) == RD_OK);
    check(strcmp(back.links[0].target, uri) == 0);
    check(back.links[0].nattrs == orig->nattrs);
    for (size_t j = 0; j < orig->nattrs; j++) {
        const struct lookup_attr *a = &back.links[0].attrs[j];
        const struct lookup_attr *o = &orig->attrs[j];

        check(strcmp(a->name, o->name) == 0 && !a->value == !o->value);
        if (o->value && !name_is(o->name, "anchor")) {
            check(strcmp(a->value, o->value) == 0 && a->quoted >= o->quoted);
        }
    }
    full = b.len;
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, full - 1);
    check(lookup_format_res(&in->view, i, &b) == RD_ETOOBIG && b.len == 0);
out:
    lookup_links_cleanup(&back);
    lookup_buf_cleanup(&b);
}

static void
check_lookup(const struct input *in)
{
    int any_res = 0;
    int ep;

    ep = lookup_match_ep(&in->q, &in->view);
    for (size_t i = 0; i < in->rec.nlinks; i++) {
        /* A link that matches makes its endpoint match: each criterion was met by it or by the
         * registration. */
        if (lookup_match_res(&in->q, &in->view, i)) {
            any_res = 1;
        }
    }
    check(!any_res || ep);
    check(!lookup_match_res(&in->q, &in->view, in->rec.nlinks));
    if (ep) {
        check_index(in, &in->q, 1);
    }
    if (any_res) {
        check_index(in, &in->q, 0);
    }
}

/* The weights of all terms at once are the weights of each term on its own. */
static void
check_weights(const struct input *in)
{
    uint32_t eps[64];
    uint32_t links[64];
    size_t n = in->terms.nterms < 64 ? in->terms.nterms : 64;

    lookup_terms_weigh(&in->view, in->terms.terms, n, eps, links);
    for (size_t k = 0; k < n; k++) {
        uint32_t e;
        uint32_t l;

        lookup_term_weights(&in->view, &in->terms.terms[k], &e, &l);
        check(e == eps[k] && l == links[k]);
        /* And those lookup_reg_terms() made along with the terms. */
        check(in->terms.eps[k] == eps[k] && in->terms.links[k] == links[k]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lookup_qparam qq[MAX_OPTIONS];
    struct lookup_qparam rq[MAX_OPTIONS];
    struct input in;
    char diag[LOOKUP_DIAG_SIZE];
    const char *s = (const char *)data;
    const char *nl;
    size_t len = size;
    size_t nqq;
    size_t nrq = 0;
    size_t n;

    /* Line 1: the lookup query, '&' between options. Line 2: registration parameters, the
     * same way. The rest: the registration's link-format payload. */
    memset(&in, 0, sizeof(in));
    nl = memchr(s, '\n', len);
    n = nl ? (size_t)(nl - s) : len;
    nqq = split_options(s, n, '&', qq);
    s += n;
    len -= n;
    if (nl) {
        s++;
        len--;
        nl = memchr(s, '\n', len);
        n = nl ? (size_t)(nl - s) : len;
        nrq = split_options(s, n, '&', rq);
        s += n;
        len -= n;
        if (nl) {
            s++;
            len--;
        }
    }
    diag[0] = '\0';
    in.q_ok = lookup_query_parse(&in.q, qq, nqq, diag, sizeof(diag)) == RD_OK;
    if (!in.q_ok) {
        check(diag[0] != '\0');
    } else {
        check(in.q.ncrit <= LOOKUP_CRIT_MAX && (in.q.page == 0 || in.q.has_count));
    }
    if (lookup_regparams_parse(&in.params, LOOKUP_REG_CREATE, rq, nrq, NULL, 0) != RD_OK) {
        memset(&in.params, 0, sizeof(in.params));
    }
    if (lookup_links_parse(&in.links, s, len, MAX_LINKS, NULL, 0) != RD_OK) {
        goto out;
    }
    in.rec.base = in.params.base ? in.params.base : BASE;
    in.rec.lt = in.params.lt ? in.params.lt : LOOKUP_LT_DEFAULT;
    in.rec.attrs = in.params.attrs;
    in.rec.nattrs = in.params.nattrs;
    in.rec.links = in.links.links;
    in.rec.nlinks = in.links.nlinks;
    in.view.ep = in.params.ep ? in.params.ep : "node";
    in.view.d = in.params.d ? in.params.d : "";
    in.view.href = HREF;
    in.view.rec = &in.rec;
    check(lookup_reg_terms(in.view.ep, in.view.d, &in.rec, &in.terms) == RD_OK);
    check_terms(&in.terms);
    check_weights(&in);
    if (in.q_ok) {
        check_lookup(&in);
    }
    check_self_match(&in, "ep", in.view.ep, SIZE_MAX);
    for (size_t j = 0; j < in.rec.nattrs; j++) {
        if (in.rec.attrs[j].value) {
            check_self_match(&in, in.rec.attrs[j].name, in.rec.attrs[j].value, SIZE_MAX);
        }
    }
    check_format_ep(&in);
    for (size_t i = 0; i < in.rec.nlinks; i++) {
        const struct lookup_link *l = &in.rec.links[i];

        check_resolve(in.rec.base, l->target);
        check_format_res(&in, i);
        for (size_t j = 0; j < l->nattrs; j++) {
            if (!l->attrs[j].value) {
                continue;
            }
            check_self_match(&in, l->attrs[j].name, l->attrs[j].value, i);
            if (name_is(l->attrs[j].name, "anchor")) {
                check_resolve(in.rec.base, l->attrs[j].value);
            }
        }
    }
out:
    lookup_terms_cleanup(&in.terms);
    lookup_links_cleanup(&in.links);
    lookup_regparams_cleanup(&in.params);
    return 0;
}
