/* Index terms of registrations and the index scan a lookup can use (RFC 9176 section 6.2). */
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Longest value kept in a term, in bytes. Longer values are indexed by their first bytes, so a
 * prefix criterion up to this long still finds them; exact criteria longer than this scan. */
#define LOOKUP_TERM_VALUE_MAX 255

/* The attribute names with terms, lower case, in the order lookup_query_index() prefers them
 * (after exact over prefix): the names that usually narrow a lookup most come first. */
static const char *const index_names[] = { "ep", "d", "et", "if", "rt" };

#define LOOKUP_NINDEX_NAMES (sizeof(index_names) / sizeof(index_names[0]))

/* The owner's term name. No attribute produces it (only index_names do) and no query chooses it,
 * so it serves counting registrations per identity alone. */
#define LOOKUP_OWNER_TERM "owner"
/* The identity of plain CoAP clients, which all share it and so are not counted. */
#define LOOKUP_OWNER_NONE "none"

/* Collects terms twice: counting them and their bytes, then, after one allocation, filling
 * them in, with the same code so that both passes agree. */
struct termgen {
    struct lookup_term *terms; /**< NULL in the counting pass */
    char *bytes;
    size_t nterms;
    size_t nbytes;
};

static void
add_term(struct termgen *g, const char *name, const char *v, size_t len)
{
    size_t nlen = strlen(name);
    char *p;

    /* An empty value is never chosen by lookup_query_index(), so it needs no term. */
    if (len == 0) {
        return;
    }
    if (len > LOOKUP_TERM_VALUE_MAX) {
        len = LOOKUP_TERM_VALUE_MAX;
    }
    if (g->terms) {
        p = g->bytes + g->nbytes;
        memcpy(p, name, nlen);
        p[nlen] = '=';
        memcpy(p + nlen + 1, v, len);
        p[nlen + 1 + len] = '\0';
        g->terms[g->nterms].data = p;
        g->terms[g->nterms].len = nlen + len + 2;
    }
    g->nterms++;
    g->nbytes += nlen + len + 2;
}

/* The lower-case spelling of an indexed attribute name, or NULL. */
static const char *
indexed_name(const char *name)
{
    size_t len = strlen(name);

    for (size_t k = 0; k < LOOKUP_NINDEX_NAMES; k++) {
        if (lookup__name_is(name, len, index_names[k])) {
            return index_names[k];
        }
    }
    return NULL;
}

/* Adds the terms of one attribute, split into values the way matching splits them, so that
 * every value a criterion can match has its term. */
static void
add_attr(struct termgen *g, const struct lookup_attr *a)
{
    const char *name = indexed_name(a->name);
    const char *tok;
    size_t tok_len;
    size_t pos = 0;
    size_t len;

    if (!name || !a->value) {
        return;
    }
    len = strlen(a->value);
    if (!lookup__is_multi(name)) {
        add_term(g, name, a->value, len);
        return;
    }
    while (lookup__next_token(a->value, len, &pos, &tok, &tok_len)) {
        add_term(g, name, tok, tok_len);
    }
}

/* Criteria on ep, d and et match at the registration and at the link level alike, so names
 * from both levels are indexed the same way. */
static void
collect(struct termgen *g, const char *ep, const char *d, const struct lookup_reg *rec)
{
    if (ep) {
        add_term(g, "ep", ep, strlen(ep));
    }
    if (d) {
        add_term(g, "d", d, strlen(d));
    }
    if (rec->owner && strcmp(rec->owner, LOOKUP_OWNER_NONE) != 0) {
        add_term(g, LOOKUP_OWNER_TERM, rec->owner, strlen(rec->owner));
    }
    for (size_t i = 0; i < rec->nattrs; i++) {
        add_attr(g, &rec->attrs[i]);
    }
    for (size_t i = 0; i < rec->nlinks; i++) {
        for (size_t j = 0; j < rec->links[i].nattrs; j++) {
            add_attr(g, &rec->links[i].attrs[j]);
        }
    }
}

/* Bytewise order; a term that is a prefix of another sorts first. */
static int
cmp_term(const void *pa, const void *pb)
{
    const struct lookup_term *a = pa;
    const struct lookup_term *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->data, b->data, n);

    if (c) {
        return c;
    }
    return (a->len > b->len) - (a->len < b->len);
}

int
lookup_reg_terms(const char *ep, const char *d, const struct lookup_reg *rec,
                 struct lookup_terms *out)
{
    struct termgen g = { NULL, NULL, 0, 0 };
    size_t arr;
    size_t n = 0;
    char *mem = NULL;
    int rc = RD_OK;

    collect(&g, ep, d, rec);
    if (g.nterms == 0) {
        out->terms = NULL;
        out->nterms = 0;
        out->mem = NULL;
        goto out;
    }
    /* The counts are bounded by the bytes of the record, which is in memory, so the sum cannot
     * overflow. The term array holds pointers and sizes, so the bytes after it need no more
     * alignment. */
    arr = g.nterms * sizeof(struct lookup_term);
    mem = malloc(arr + g.nbytes);
    if (!mem) {
        rc = RD_ENOMEM;
        goto out;
    }
    g.terms = (struct lookup_term *)(void *)mem;
    g.bytes = mem + arr;
    g.nterms = 0;
    g.nbytes = 0;
    collect(&g, ep, d, rec);
    qsort(g.terms, g.nterms, sizeof(g.terms[0]), cmp_term);
    for (size_t i = 0; i < g.nterms; i++) {
        if (n > 0 && cmp_term(&g.terms[n - 1], &g.terms[i]) == 0) {
            continue;
        }
        g.terms[n++] = g.terms[i];
    }
    out->terms = g.terms;
    out->nterms = n;
    out->mem = mem;
    mem = NULL;
out:
    free(mem);
    return rc;
}

void
lookup_terms_cleanup(struct lookup_terms *t)
{
    if (!t) {
        return;
    }
    free(t->mem);
    t->terms = NULL;
    t->nterms = 0;
    t->mem = NULL;
}

void
lookup_term_weights(const struct lookup_regview *r, const struct lookup_term *t, uint32_t *eps,
                    uint32_t *links)
{
    struct lookup_crit c;
    const char *eq;

    *eps = 0;
    *links = 0;
    if (t->len < 2 || t->data[t->len - 1] != '\0') {
        return;
    }
    eq = memchr(t->data, '=', t->len - 1);
    if (!eq || eq == t->data) {
        return;
    }
    /* The very criterion that lookup_query_index() maps to this term, matched the way a lookup
     * matches it, so the counts agree with what a walk finds. */
    memset(&c, 0, sizeof(c));
    c.name = t->data;
    c.name_len = (size_t)(eq - t->data);
    c.value = eq + 1;
    c.value_len = t->len - 1 - c.name_len - 1;
    lookup__crit_weights(&c, r, eps, links);
}

int
lookup_owner_term(const char *owner, char *out, size_t size, size_t *len)
{
    size_t olen = strlen(owner);
    size_t nlen = strlen(LOOKUP_OWNER_TERM);
    size_t n = nlen + olen + 2;

    if (olen == 0 || olen > LOOKUP_TERM_VALUE_MAX || strcmp(owner, LOOKUP_OWNER_NONE) == 0) {
        return RD_EINVAL;
    }
    if (n > size) {
        return RD_ETOOBIG;
    }
    memcpy(out, LOOKUP_OWNER_TERM, nlen);
    out[nlen] = '=';
    memcpy(out + nlen + 1, owner, olen);
    out[n - 1] = '\0';
    *len = n;
    return RD_OK;
}

static int
query_index(const struct lookup_query *q, int for_ep, char *out, size_t size, size_t *len)
{
    const struct lookup_crit *best = NULL;
    const char *best_name = NULL;
    size_t best_rank = 0;
    size_t rank;
    size_t nlen;
    size_t n;

    for (size_t i = 0; i < q->ncrit; i++) {
        const struct lookup_crit *c = &q->crit[i];

        /* Presence criteria have no term to look for. Values longer than a term, or with a
         * NUL byte (which no stored value has, and which would blur the exact/prefix marker),
         * are left to a scan. */
        if (!c->value || c->value_len == 0 || c->value_len > LOOKUP_TERM_VALUE_MAX ||
            memchr(c->value, '\0', c->value_len) || (for_ep && lookup__crit_names_ep_link(c))) {
            continue;
        }
        for (size_t k = 0; k < LOOKUP_NINDEX_NAMES; k++) {
            if (!lookup__name_is(c->name, c->name_len, index_names[k])) {
                continue;
            }
            rank = (c->prefix ? LOOKUP_NINDEX_NAMES : 0) + k;
            if (!best || rank < best_rank) {
                best = c;
                best_name = index_names[k];
                best_rank = rank;
            }
        }
    }
    if (!best) {
        return RD_ENOTFOUND;
    }
    nlen = strlen(best_name);
    n = nlen + 1 + best->value_len + (best->prefix ? 0 : 1);
    if (n > size) {
        return RD_ETOOBIG;
    }
    memcpy(out, best_name, nlen);
    out[nlen] = '=';
    memcpy(out + nlen + 1, best->value, best->value_len);
    if (!best->prefix) {
        out[n - 1] = '\0';
    }
    *len = n;
    return RD_OK;
}

int
lookup_query_index(const struct lookup_query *q, char *out, size_t size, size_t *len)
{
    return query_index(q, 0, out, size, len);
}

int
lookup_query_index_ep(const struct lookup_query *q, char *out, size_t size, size_t *len)
{
    return query_index(q, 1, out, size, len);
}
