/* Lookup filters matched against registrations and links (RFC 9176 section 6.2); the query
 * they come from is parsed in lookup_query.c. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Where a URI has no "/" to insert, for uri_slash_at(). */
#define LOOKUP_NO_SLASH SIZE_MAX

int
lookup__name_is(const char *name, size_t len, const char *lit)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        }
        if (lit[i] == '\0' || c != (unsigned char)lit[i]) {
            return 0;
        }
    }
    return lit[i] == '\0';
}

int
lookup__is_multi(const char *name)
{
    size_t len = strlen(name);

    /* RFC 6690 section 2: rt, if and rel are relation-types, lists of space-separated values;
     * RFC 7252 section 7.2.1 lets ct carry a space-separated list too. */
    return lookup__name_is(name, len, "rt") || lookup__name_is(name, len, "if") ||
           lookup__name_is(name, len, "rel") || lookup__name_is(name, len, "ct");
}

int
lookup__next_token(const char *v, size_t len, size_t *pos, const char **tok, size_t *tok_len)
{
    size_t i = *pos;
    size_t start;

    if (i > len) {
        return 0;
    }
    while (i < len && v[i] == ' ') {
        i++;
    }
    if (i == len) {
        /* A value without any token stands for itself, so that an exact criterion with the
         * same bytes still matches it. *pos is 0 only before the first token. */
        if (*pos == 0) {
            *tok = v;
            *tok_len = len;
            *pos = len + 1;
            return 1;
        }
        *pos = len + 1;
        return 0;
    }
    start = i;
    while (i < len && v[i] != ' ') {
        i++;
    }
    *tok = v + start;
    *tok_len = i - start;
    *pos = i;
    return 1;
}

/* Whether the criterion asks only for the attribute to be there: `name` or `name=*`. */
static int
is_presence(const struct lookup_crit *c)
{
    return !c->value || (c->prefix && c->value_len == 0);
}

static int
crit_is(const struct lookup_crit *c, const char *lit)
{
    return lookup__name_is(c->name, c->name_len, lit);
}

/* Whether an attribute name equals the criterion's, ignoring ASCII case (RFC 8288 section 3). */
static int
crit_names(const struct lookup_crit *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->name_len; i++) {
        unsigned char x = (unsigned char)c->name[i];
        unsigned char y = (unsigned char)name[i];

        if (y == '\0') {
            return 0;
        }
        if (x >= 'A' && x <= 'Z') {
            x = (unsigned char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (unsigned char)(y - 'A' + 'a');
        }
        if (x != y) {
            return 0;
        }
    }
    return name[i] == '\0';
}

/* Compares the criterion's value with @p len bytes, exactly or as a prefix. Values are raw
 * UTF-8 on both sides (CoAP options and link-format are never percent-encoded). */
static int
bytes_match(const struct lookup_crit *c, const char *v, size_t len)
{
    if (c->prefix) {
        return len >= c->value_len && (c->value_len == 0 || memcmp(v, c->value, c->value_len) == 0);
    }
    return len == c->value_len && (len == 0 || memcmp(v, c->value, len) == 0);
}

/* Whether an attribute value (NULL when it has none) satisfies the criterion. */
static int
value_matches(const struct lookup_crit *c, const char *v, int multi)
{
    const char *tok;
    size_t tok_len;
    size_t pos = 0;
    size_t len;

    if (is_presence(c)) {
        return 1;
    }
    if (!v) {
        return 0;
    }
    len = strlen(v);
    if (!multi) {
        return bytes_match(c, v, len);
    }
    /* RFC 6690 section 4.1: a relation-type matches when any of its values does. */
    while (lookup__next_token(v, len, &pos, &tok, &tok_len)) {
        if (bytes_match(c, tok, tok_len)) {
            return 1;
        }
    }
    return 0;
}

/* Offset of the end of "scheme://authority" in @p s, or LOOKUP_NO_SLASH without one. */
static size_t
authority_end(const char *s, size_t len)
{
    size_t i = lookup__scheme_len(s, len);

    if (i == 0 || len - i < 3 || s[i + 1] != '/' || s[i + 2] != '/') {
        return LOOKUP_NO_SLASH;
    }
    i += 3;
    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#') {
        i++;
    }
    return i;
}

/* Where "/" belongs in a URI with an authority and an empty path, or LOOKUP_NO_SLASH: RFC 3986
 * section 6.2.3 makes "coap://h" and "coap://h/" the same resource. */
static size_t
uri_slash_at(const char *s, size_t len)
{
    size_t i = authority_end(s, len);

    if (i != LOOKUP_NO_SLASH && i < len && s[i] == '/') {
        return LOOKUP_NO_SLASH;
    }
    return i;
}

/* Byte @p k of @p s with a "/" inserted at @p at. */
static unsigned char
uri_byte(const char *s, size_t at, size_t k)
{
    if (at == LOOKUP_NO_SLASH || k < at) {
        return (unsigned char)s[k];
    }
    return k == at ? '/' : (unsigned char)s[k - 1];
}

/* Matches the criterion against a resolved URI (RFC 9176 section 6.2: href and anchor compare
 * resolved references). */
static int
uri_matches(const struct lookup_crit *c, const char *uri)
{
    size_t ulen = strlen(uri);
    size_t uat = uri_slash_at(uri, ulen);
    size_t cat;
    size_t n;

    if (is_presence(c)) {
        return 1;
    }
    if (c->prefix) {
        /* A prefix is not itself a URI, so only the stored URI is normalised, and either of
         * its spellings may match. */
        if (bytes_match(c, uri, ulen)) {
            return 1;
        }
        if (uat == LOOKUP_NO_SLASH || c->value_len > ulen + 1) {
            return 0;
        }
        for (size_t k = 0; k < c->value_len; k++) {
            if ((unsigned char)c->value[k] != uri_byte(uri, uat, k)) {
                return 0;
            }
        }
        return 1;
    }
    cat = uri_slash_at(c->value, c->value_len);
    n = c->value_len + (cat != LOOKUP_NO_SLASH);
    if (n != ulen + (uat != LOOKUP_NO_SLASH)) {
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (uri_byte(c->value, cat, k) != uri_byte(uri, uat, k)) {
            return 0;
        }
    }
    return 1;
}

/* Matches the criterion against a registration's base URI, both normalized (RFC 3986 section
 * 6.2.2 and 6.2.3: "COAP://H:5683" is "coap://h/"); bytes as they are when either is not a URI
 * or too long to normalize. */
static int
base_matches(const struct lookup_crit *c, const char *base)
{
    char value[LOOKUP_URI_MAX];
    char want[LOOKUP_URI_MAX];
    char have[LOOKUP_URI_MAX];
    struct lookup_crit norm;

    if (value_matches(c, base, 0)) {
        return 1;
    }
    if (c->value_len >= sizeof(value)) {
        return 0;
    }
    memcpy(value, c->value, c->value_len);
    value[c->value_len] = '\0';
    if (lookup_uri_normalize(value, c->prefix, want, sizeof(want)) ||
        lookup_uri_normalize(base, 0, have, sizeof(have))) {
        return 0;
    }
    norm = *c;
    norm.value = want;
    norm.value_len = strlen(want);
    return bytes_match(&norm, have, strlen(have));
}

/* Matches the criterion against a registration resource, given path-absolute. */
static int
href_matches(const struct lookup_crit *c, const char *href)
{
    struct lookup_crit path;
    size_t at;

    if (is_presence(c)) {
        return 1;
    }
    if (bytes_match(c, href, strlen(href))) {
        return 1;
    }
    /* RFC 9176 section 6.2: the RD SHOULD also recognise the full URI. Its scheme and
     * authority are the RD's own, which lookup/ does not know, so any are accepted, but only
     * for an exact value: a prefix such as "coap://h/" would otherwise name every
     * registration resource whenever a client asks for the links of host h. */
    at = c->prefix ? LOOKUP_NO_SLASH : authority_end(c->value, c->value_len);
    if (at == LOOKUP_NO_SLASH) {
        return 0;
    }
    path = *c;
    path.value = c->value + at;
    path.value_len = c->value_len - at;
    return bytes_match(&path, href, strlen(href));
}

static int
attr_matches(const struct lookup_crit *c, const struct lookup_attr *a)
{
    return crit_names(c, a->name) && value_matches(c, a->value, lookup__is_multi(a->name));
}

/* Whether the criterion matches the registration itself: its ep, d, base, lt, registration
 * resource and extra attributes. */
static int
reg_matches(const struct lookup_crit *c, const struct lookup_regview *r)
{
    const struct lookup_reg *rec = r->rec;
    char lt[16];

    if (crit_is(c, "ep")) {
        if (r->ep && value_matches(c, r->ep, 0)) {
            return 1;
        }
    } else if (crit_is(c, "d")) {
        if (r->d && r->d[0] != '\0' && value_matches(c, r->d, 0)) {
            return 1;
        }
    } else if (crit_is(c, "base")) {
        if (rec->base && base_matches(c, rec->base)) {
            return 1;
        }
    } else if (crit_is(c, "lt")) {
        snprintf(lt, sizeof(lt), "%" PRIu32, rec->lt);
        if (value_matches(c, lt, 0)) {
            return 1;
        }
    } else if (crit_is(c, "href")) {
        if (r->href && href_matches(c, r->href)) {
            return 1;
        }
    }
    for (size_t i = 0; i < rec->nattrs; i++) {
        if (attr_matches(c, &rec->attrs[i])) {
            return 1;
        }
    }
    return 0;
}

/* Whether the criterion matches the link itself: its attributes, with href standing for the
 * resolved target and anchor compared after resolution. */
static int
link_matches(const struct lookup_crit *c, const struct lookup_reg *rec, const struct lookup_link *l)
{
    char uri[LOOKUP_URI_MAX];
    int anchor;

    if (crit_is(c, "href")) {
        if (is_presence(c)) {
            return 1;
        }
        /* A target that cannot be resolved within LOOKUP_URI_MAX never matches. */
        return lookup_uri_resolve(rec->base, l->target, uri, sizeof(uri)) == RD_OK &&
               uri_matches(c, uri);
    }
    anchor = crit_is(c, "anchor");
    for (size_t j = 0; j < l->nattrs; j++) {
        const struct lookup_attr *a = &l->attrs[j];

        if (!crit_names(c, a->name)) {
            continue;
        }
        if (anchor && a->value && !is_presence(c)) {
            if (lookup_uri_resolve(rec->base, a->value, uri, sizeof(uri)) == RD_OK &&
                uri_matches(c, uri)) {
                return 1;
            }
            continue;
        }
        if (value_matches(c, a->value, lookup__is_multi(a->name))) {
            return 1;
        }
    }
    return 0;
}

int
lookup__crit_names_ep_link(const struct lookup_crit *c)
{
    return crit_is(c, "rt") && value_matches(c, "core.rd-ep", 0);
}

int
lookup_match_ep(const struct lookup_query *q, const struct lookup_regview *r)
{
    const struct lookup_reg *rec = r->rec;
    int found;

    /* Each criterion on its own: different links may satisfy different criteria. */
    for (size_t k = 0; k < q->ncrit; k++) {
        if (reg_matches(&q->crit[k], r) || lookup__crit_names_ep_link(&q->crit[k])) {
            continue;
        }
        found = 0;
        for (size_t i = 0; i < rec->nlinks && !found; i++) {
            found = link_matches(&q->crit[k], rec, &rec->links[i]);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

int
lookup_match_res(const struct lookup_query *q, const struct lookup_regview *r, size_t i)
{
    const struct lookup_reg *rec = r->rec;

    if (i >= rec->nlinks) {
        return 0;
    }
    for (size_t k = 0; k < q->ncrit; k++) {
        if (!link_matches(&q->crit[k], rec, &rec->links[i]) && !reg_matches(&q->crit[k], r)) {
            return 0;
        }
    }
    return 1;
}

int
lookup_match_link(const struct lookup_query *q, const struct lookup_link *l)
{
    for (size_t k = 0; k < q->ncrit; k++) {
        const struct lookup_crit *c = &q->crit[k];
        int found = 0;

        /* In /.well-known/core, href is the target as written (RFC 6690 section 4.1). */
        if (crit_is(c, "href")) {
            found = is_presence(c) || bytes_match(c, l->target, strlen(l->target));
        }
        for (size_t j = 0; j < l->nattrs && !found; j++) {
            found = attr_matches(c, &l->attrs[j]);
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/* 1 when registration @p r contributes to the answer of @p q: as an endpoint, or with a link. */
static int
contributes(const struct lookup_query *q, enum lookup_kind kind, const struct lookup_regview *r)
{
    if (!r) {
        return 0;
    }
    if (kind == LOOKUP_KIND_EP) {
        return lookup_match_ep(q, r);
    }
    for (size_t i = 0; i < r->rec->nlinks; i++) {
        if (lookup_match_res(q, r, i)) {
            return 1;
        }
    }
    return 0;
}

int
lookup_change_affects(const struct lookup_query *q, enum lookup_kind kind,
                      const struct lookup_regview *before, const struct lookup_regview *after)
{
    /* What a registration adds to an answer comes from it alone, so a change of one that
     * contributes neither before nor after leaves the answer as it was. A page is another
     * matter only in where it starts, and that moves only with a contributing registration. */
    return contributes(q, kind, before) || contributes(q, kind, after);
}
