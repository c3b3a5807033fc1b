/* The weights of all index terms of a registration at once (RFC 9176 section 6.2, paging). */
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Longest term name and value this file weighs; other terms go to lookup_term_weights(). A
 * criterion on a term name (enum lookup__term_name) matches a registration or a link only
 * through an attribute of that name (or, for ep and d, the registration's own), never through
 * href, anchor, base or lt, which is what lets a value find its term by itself. */
#define WEIGH_NAME_MAX  5
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

/* Whether this file can weigh term @p t: `name=value` and a NUL, with a lower-case name of
 * enum lookup__term_name and a value of 1 to WEIGH_VALUE_MAX bytes. */
static int
is_simple(const struct lookup_term *t)
{
    const char *eq;
    size_t nlen;

    if (t->len < 4 || t->data[t->len - 1] != '\0') {
        return 0;
    }
    eq = memchr(t->data, '=', t->len - 1);
    if (!eq || eq == t->data) {
        return 0;
    }
    nlen = (size_t)(eq - t->data);
    if (t->len - nlen - 2 > WEIGH_VALUE_MAX || t->len - nlen - 2 == 0) {
        return 0;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (t->data[i] >= 'A' && t->data[i] <= 'Z') {
            return 0;
        }
    }
    return lookup__term_name(t->data, nlen) != LOOKUP__TN_NONE;
}

/* Index of the term `name=value` (with its NUL) in the sorted @p terms, or -1. */
static long
find(const struct lookup_term *terms, size_t nterms, const char *name, size_t nlen,
     const char *v, size_t vlen)
{
    char key[WEIGH_NAME_MAX + 1 + WEIGH_VALUE_MAX + 1];
    size_t klen = nlen + vlen + 2;
    size_t lo = 0;
    size_t hi = nterms;

    if (vlen == 0 || vlen > WEIGH_VALUE_MAX) {
        return -1;
    }
    memcpy(key, name, nlen);
    key[nlen] = '=';
    memcpy(key + nlen + 1, v, vlen);
    key[klen - 1] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = term_cmp(key, klen, terms[mid].data, terms[mid].len);

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
mark_attr(const struct lookup_term *terms, size_t nterms, const struct lookup_attr *a,
          uint32_t stamp, uint32_t *seen, uint32_t *count)
{
    size_t nlen = strlen(a->name);
    enum lookup__term_name w = lookup__term_name(a->name, nlen);
    const char *tok;
    size_t tok_len;
    size_t pos = 0;
    size_t len;
    long k;

    if (w == LOOKUP__TN_NONE || !a->value) {
        return;
    }
    len = strlen(a->value);
    if (w != LOOKUP__TN_IF && w != LOOKUP__TN_RT) {
        tok = a->value;
        tok_len = len;
        pos = len + 1;
    } else if (!lookup__next_token(a->value, len, &pos, &tok, &tok_len)) {
        return;
    }
    do {
        k = find(terms, nterms, lookup__term_name_str(w), nlen, tok, tok_len);
        if (k < 0 || seen[k] == WEIGH_REG || seen[k] == stamp) {
            continue;
        }
        seen[k] = stamp;
        if (count) {
            count[k]++;
        }
    } while (lookup__next_token(a->value, len, &pos, &tok, &tok_len));
}

/* Whether the value of the term @p t equals @p s. */
static int
value_is(const struct lookup_term *t, size_t nlen, const char *s)
{
    size_t vlen = t->len - nlen - 2;

    return s && strlen(s) == vlen && memcmp(t->data + nlen + 1, s, vlen) == 0;
}

/* The registration's own matches: ep, a non-empty d, and its extra attributes. */
static void
mark_reg(const struct lookup_regview *r, const struct lookup_term *terms, size_t nterms,
         uint32_t *seen)
{
    for (size_t k = 0; k < nterms; k++) {
        size_t nlen = (size_t)((const char *)memchr(terms[k].data, '=', terms[k].len) -
                               terms[k].data);
        enum lookup__term_name w = lookup__term_name(terms[k].data, nlen);

        if ((w == LOOKUP__TN_EP && value_is(&terms[k], nlen, r->ep)) ||
            (w == LOOKUP__TN_D && r->d && r->d[0] != '\0' && value_is(&terms[k], nlen, r->d))) {
            seen[k] = WEIGH_REG;
        }
    }
    for (size_t i = 0; i < r->rec->nattrs; i++) {
        mark_attr(terms, nterms, &r->rec->attrs[i], WEIGH_REG, seen, NULL);
    }
}

/* Whether @p terms are all simple and strictly ascending, so that find() can search them. */
static int
all_simple(const struct lookup_term *terms, size_t nterms)
{
    for (size_t k = 0; k < nterms; k++) {
        if (!is_simple(&terms[k]) ||
            (k > 0 && term_cmp(terms[k - 1].data, terms[k - 1].len, terms[k].data,
                               terms[k].len) >= 0)) {
            return 0;
        }
    }
    return 1;
}

void
lookup_terms_weigh(const struct lookup_regview *r, const struct lookup_term *terms, size_t nterms,
                   uint32_t *eps, uint32_t *links)
{
    const struct lookup_reg *rec = r->rec;

    if (!all_simple(terms, nterms)) {
        for (size_t k = 0; k < nterms; k++) {
            lookup_term_weights(r, &terms[k], &eps[k], &links[k]);
        }
        return;
    }
    /* One pass over the attributes instead of one per term: each value finds its term, and a
     * term counts each link once, however many of its attributes match. */
    memset(eps, 0, nterms * sizeof(*eps));
    memset(links, 0, nterms * sizeof(*links));
    mark_reg(r, terms, nterms, eps);
    for (size_t i = 0; i < rec->nlinks; i++) {
        for (size_t j = 0; j < rec->links[i].nattrs; j++) {
            mark_attr(terms, nterms, &rec->links[i].attrs[j], (uint32_t)i + 1, eps, links);
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
