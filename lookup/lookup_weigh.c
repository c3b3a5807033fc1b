/* The weights of all index terms of a registration at once (RFC 9176 section 6.2, paging). */
#include <stdint.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Longest term value this file weighs; other terms go to lookup_term_weights(). A criterion
 * on a term name (enum lookup__term_name) matches a registration or a link only through an
 * attribute of that name (or, for ep and d, the registration's own), never through href,
 * anchor, base or lt, which is what lets a value find its term by itself. */
#define WEIGH_VALUE_MAX 255

/* What a term's eps slot holds while links are counted: the last link (plus one) that matched
 * it, so that a link counts once, or this, when the registration itself matches. */
#define WEIGH_REG UINT32_MAX

/* Bytewise order of terms, as lookup_reg_terms() sorts them. */
static int
term_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c) {
        return c;
    }
    return (alen > blen) - (alen < blen);
}

/* The sorted terms to weigh, and where each name's terms lie among them (they are contiguous:
 * all terms of a name share the prefix "name="). */
struct wterms {
    const struct lookup_term *t;
    size_t n;
    size_t lo[LOOKUP__TN_NONE];
    size_t hi[LOOKUP__TN_NONE];
};

/* The name of term @p t when this file can weigh it: `name=value` and a NUL, with a lower-case
 * name of enum lookup__term_name and a value of 1 to WEIGH_VALUE_MAX bytes; else
 * LOOKUP__TN_NONE. */
static enum lookup__term_name
simple_name(const struct lookup_term *t)
{
    const char *eq;
    size_t nlen;

    if (t->len < 4 || t->data[t->len - 1] != '\0') {
        return LOOKUP__TN_NONE;
    }
    eq = memchr(t->data, '=', t->len - 1);
    if (!eq || eq == t->data) {
        return LOOKUP__TN_NONE;
    }
    nlen = (size_t)(eq - t->data);
    if (t->len - nlen - 2 > WEIGH_VALUE_MAX || t->len - nlen - 2 == 0) {
        return LOOKUP__TN_NONE;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (t->data[i] >= 'A' && t->data[i] <= 'Z') {
            return LOOKUP__TN_NONE;
        }
    }
    return lookup__term_name(t->data, '=');
}

/* Whether @p terms are all simple and strictly ascending, so that find() can search them; if
 * so, notes where each name's terms are in @p w. */
static int
index_terms(struct wterms *w, const struct lookup_term *terms, size_t nterms)
{
    memset(w, 0, sizeof(*w));
    w->t = terms;
    w->n = nterms;
    for (size_t k = 0; k < nterms; k++) {
        enum lookup__term_name n = simple_name(&terms[k]);

        if (n == LOOKUP__TN_NONE ||
            (k > 0 && term_cmp(terms[k - 1].data, terms[k - 1].len, terms[k].data,
                               terms[k].len) >= 0)) {
            return 0;
        }
        if (w->hi[n] == 0) {
            w->lo[n] = k;
        }
        w->hi[n] = k + 1;
    }
    return 1;
}

/* Index of the term of name @p n and value @p v, or -1. */
static long
find(const struct wterms *w, enum lookup__term_name n, const char *v, size_t vlen)
{
    size_t off = strlen(lookup__term_name_str(n)) + 1;
    size_t lo = w->lo[n];
    size_t hi = w->hi[n];

    if (vlen == 0 || vlen > WEIGH_VALUE_MAX) {
        return -1;
    }
    /* Within one name, terms compare as their values do. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = term_cmp(v, vlen, w->t[mid].data + off, w->t[mid].len - off - 1);

        if (c == 0) {
            return (long)mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return -1;
}

/* Marks with @p stamp, in @p seen, every term that attribute @p a satisfies (as
 * value_matches() splits its value), unless the registration already matches it; counts, in
 * @p count unless it is NULL, the terms that had another mark. */
static void
mark_attr(const struct wterms *w, const struct lookup_attr *a, uint32_t stamp, uint32_t *seen,
          uint32_t *count)
{
    enum lookup__term_name n = lookup__term_name(a->name, '\0');
    const char *tok;
    size_t tok_len;
    size_t pos = 0;
    size_t len;
    long k;

    if (n == LOOKUP__TN_NONE || !a->value || w->lo[n] == w->hi[n]) {
        return;
    }
    len = strlen(a->value);
    if (n != LOOKUP__TN_IF && n != LOOKUP__TN_RT) {
        tok = a->value;
        tok_len = len;
        pos = len + 1;
    } else if (!lookup__next_token(a->value, len, &pos, &tok, &tok_len)) {
        return;
    }
    do {
        k = find(w, n, tok, tok_len);
        if (k < 0 || seen[k] == WEIGH_REG || seen[k] == stamp) {
            continue;
        }
        seen[k] = stamp;
        if (count) {
            count[k]++;
        }
    } while (lookup__next_token(a->value, len, &pos, &tok, &tok_len));
}

/* Marks the term of name @p n whose value is @p s, if there is one, as the registration's. */
static void
mark_value(const struct wterms *w, enum lookup__term_name n, const char *s, uint32_t *seen)
{
    long k = s ? find(w, n, s, strlen(s)) : -1;

    if (k >= 0) {
        seen[k] = WEIGH_REG;
    }
}

/* The registration's own matches: ep, a non-empty d, and its extra attributes. */
static void
mark_reg(const struct wterms *w, const struct lookup_regview *r, uint32_t *seen)
{
    mark_value(w, LOOKUP__TN_EP, r->ep, seen);
    if (r->d && r->d[0] != '\0') {
        mark_value(w, LOOKUP__TN_D, r->d, seen);
    }
    for (size_t i = 0; i < r->rec->nattrs; i++) {
        mark_attr(w, &r->rec->attrs[i], WEIGH_REG, seen, NULL);
    }
}

void
lookup_terms_weigh(const struct lookup_regview *r, const struct lookup_term *terms, size_t nterms,
                   uint32_t *eps, uint32_t *links)
{
    const struct lookup_reg *rec = r->rec;
    struct wterms w;

    if (!index_terms(&w, terms, nterms)) {
        for (size_t k = 0; k < nterms; k++) {
            lookup_term_weights(r, &terms[k], &eps[k], &links[k]);
        }
        return;
    }
    /* One pass over the attributes instead of one per term: each value finds its term, and a
     * term counts each link once, however many of its attributes match. */
    memset(eps, 0, nterms * sizeof(*eps));
    memset(links, 0, nterms * sizeof(*links));
    mark_reg(&w, r, eps);
    for (size_t i = 0; i < rec->nlinks; i++) {
        for (size_t j = 0; j < rec->links[i].nattrs; j++) {
            mark_attr(&w, &rec->links[i].attrs[j], (uint32_t)i + 1, eps, links);
        }
    }
    for (size_t k = 0; k < nterms; k++) {
        if (eps[k] == WEIGH_REG) {
            eps[k] = 1;
            links[k] = (uint32_t)rec->nlinks;
            continue;
        }
        /* An endpoint lookup of rt=core.rd-ep finds every registration (section 6.3). */
        eps[k] = links[k] > 0 || (terms[k].len == sizeof("rt=core.rd-ep") &&
                                  memcmp(terms[k].data, "rt=core.rd-ep", terms[k].len) == 0);
    }
}
