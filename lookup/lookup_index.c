/* Index terms of registrations and the index scan a lookup can use (RFC 9176 section 6.2). */
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Longest value kept in a term, in bytes. Longer values are indexed by their first bytes, so a
 * prefix criterion up to this long still finds them; exact criteria longer than this scan. */
#define LOOKUP_TERM_VALUE_MAX 255

/* The attribute names with terms, in the order lookup_query_index() prefers them (after exact
 * over prefix): the names that usually narrow a lookup most come first. The owner's term name
 * follows them; no attribute produces it and no query chooses it, so it serves counting
 * registrations per identity alone. */
#define LOOKUP_NINDEX_NAMES LOOKUP__TN_OWNER
#define LOOKUP_OWNER_TERM   "owner"
/* The identity of plain CoAP clients, which all share it and so are not counted. */
#define LOOKUP_OWNER_NONE "none"

const char *
lookup__term_name_str(enum lookup__term_name n)
{
    static const char *const names[] = { "ep", "d", "et", "if", "rt", LOOKUP_OWNER_TERM };

    return names[n];
}

static unsigned char
lower(char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* @p n when @p name, whose first letter matched, spells @p lit up to @p end. */
static enum lookup__term_name
spells(const char *name, char end, const char *lit, enum lookup__term_name n)
{
    size_t i;

    /* A mismatch stops at @p end at the latest: @p lit holds letters only. */
    for (i = 1; lit[i]; i++) {
        if (lower(name[i]) != (unsigned char)lit[i]) {
            return LOOKUP__TN_NONE;
        }
    }
    return name[i] == end ? n : LOOKUP__TN_NONE;
}

enum lookup__term_name
lookup__term_name(const char *name, char end)
{
    /* By the first letter: most attribute names are none of these, and this costs them one
     * test, where a length would cost a strlen. */
    switch (lower(name[0])) {
    case 'd':
        return spells(name, end, "d", LOOKUP__TN_D);
    case 'e':
        return lower(name[1]) == 'p' ? spells(name, end, "ep", LOOKUP__TN_EP)
                                     : spells(name, end, "et", LOOKUP__TN_ET);
    case 'i':
        return spells(name, end, "if", LOOKUP__TN_IF);
    case 'r':
        return spells(name, end, "rt", LOOKUP__TN_RT);
    case 'o':
        return spells(name, end, LOOKUP_OWNER_TERM, LOOKUP__TN_OWNER);
    default:
        return LOOKUP__TN_NONE;
    }
}

/* What a reference says for the weights of its term: nothing, the registration itself
 * matches it (ep, d, an extra attribute), or link i + 1 of it does. */
#define STAMP_NONE 0
#define STAMP_REG  UINT32_MAX

/* A term before it is written: its name and where its value lies in the registration. Once
 * duplicates went, the one kept also holds what all of them said for the term's weights. */
struct termref {
    const char *v;
    size_t len; /**< at most LOOKUP_TERM_VALUE_MAX */
    enum lookup__term_name name;
    uint32_t order; /**< place among the references gathered: ties keep it */
    uint32_t stamp; /**< STAMP_NONE, STAMP_REG or a link + 1 */
    unsigned char term;  /**< the term is written (an owner attribute only weighs) */
    unsigned char reg;   /**< the registration matches the term */
    uint32_t last_link;  /**< the last link (+ 1) counted */
    uint32_t links;      /**< links that match the term */
};

/* Terms gathered on the stack up to this many; more go to the heap. */
#define TERMGEN_LOCAL 64
/* Most terms sorted by insertion: its moves grow with the square of the distinct terms. */
#define TERMGEN_INSERTION_MAX 256

/* Gathers a registration's terms as references, sorts them and drops duplicates, so that only
 * the terms kept are written, into one allocation. */
struct termgen {
    struct termref local[TERMGEN_LOCAL];
    struct termref *refs; /**< local, or a heap array of cap */
    size_t n;
    size_t cap;
    int nomem;
};

/* Where "name=" sorts among the term names (bytewise: "d=" < "ep=" < "et=" < "if=" <
 * "owner=" < "rt="): terms of different names compare as these do. */
static unsigned
name_rank(enum lookup__term_name n)
{
    static const unsigned char rank[] = {
        [LOOKUP__TN_EP] = 1, [LOOKUP__TN_D] = 0,     [LOOKUP__TN_ET] = 2,
        [LOOKUP__TN_IF] = 3, [LOOKUP__TN_OWNER] = 4, [LOOKUP__TN_RT] = 5,
    };

    return rank[n];
}

/* Bytewise order of the terms "name=value" and a NUL; a term that is a prefix of another sorts
 * first (values hold no NUL). */
static int
cmp_ref(const void *pa, const void *pb)
{
    const struct termref *a = pa;
    const struct termref *b = pb;
    int c;

    if (a->name != b->name) {
        return name_rank(a->name) < name_rank(b->name) ? -1 : 1;
    }
    c = memcmp(a->v, b->v, a->len < b->len ? a->len : b->len);
    if (c) {
        return c;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* cmp_ref(), then the order gathered: equal terms stay in the order of their links. */
static int
cmp_ref_order(const void *pa, const void *pb)
{
    const struct termref *a = pa;
    const struct termref *b = pb;
    int c = cmp_ref(pa, pb);

    return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* Count what reference @p x says for the weights into @p u, its term's kept reference. As
 * lookup_terms_weigh() counts: a link counts once, and the registration's own match decides. */
static void
weigh_ref(struct termref *u, const struct termref *x)
{
    u->term |= x->term;
    if (x->stamp == STAMP_REG) {
        u->reg = 1;
    } else if (x->stamp != STAMP_NONE && u->last_link != x->stamp) {
        u->last_link = x->stamp;
        u->links++;
    }
}

/* Add a reference: @p term when it makes a term, @p stamp for what it says of the weights. A
 * value longer than LOOKUP_TERM_VALUE_MAX makes a term of its first bytes, but weighs nothing
 * (a lookup of the whole value is not that term). */
static void
add_ref(struct termgen *g, enum lookup__term_name name, const char *v, size_t len, int term,
        uint32_t stamp)
{
    struct termref *r;

    /* An empty value is never chosen by lookup_query_index(), so it needs no term. */
    if (len == 0 || g->nomem || (!term && len > LOOKUP_TERM_VALUE_MAX)) {
        return;
    }
    if (g->n == g->cap) {
        r = lookup__grow(g->refs, g->cap, sizeof(*r), g->local);
        if (!r) {
            g->nomem = 1;
            return;
        }
        g->refs = r;
        g->cap *= 2;
    }
    r = &g->refs[g->n];
    r->v = v;
    r->len = len > LOOKUP_TERM_VALUE_MAX ? LOOKUP_TERM_VALUE_MAX : len;
    r->name = name;
    r->order = (uint32_t)g->n++;
    r->stamp = len > LOOKUP_TERM_VALUE_MAX ? STAMP_NONE : stamp;
    r->term = (unsigned char)term;
    r->reg = 0;
    r->last_link = 0;
    r->links = 0;
}

/* Adds the terms of one attribute, split into values the way matching splits them, so that
 * every value a criterion can match has its term. */
static void
add_attr(struct termgen *g, const struct lookup_attr *a, uint32_t stamp)
{
    enum lookup__term_name name;
    const char *tok;
    size_t tok_len;
    size_t pos = 0;
    size_t len;
    int term;

    if (!a->value) {
        return;
    }
    name = lookup__term_name(a->name, '\0');
    if (name == LOOKUP__TN_NONE) {
        return;
    }
    /* Only the index names: an attribute called owner says nothing of the owner, but a lookup
     * of owner=X matches it, so it weighs the owner's term. */
    term = name != LOOKUP__TN_OWNER;
    len = strlen(a->value);
    if (name != LOOKUP__TN_IF && name != LOOKUP__TN_RT) {
        add_ref(g, name, a->value, len, term, stamp);
        return;
    }
    while (lookup__next_token(a->value, len, &pos, &tok, &tok_len)) {
        add_ref(g, name, tok, tok_len, term, stamp);
    }
}

/* Criteria on ep, d and et match at the registration and at the link level alike, so names
 * from both levels are indexed the same way. */
static void
collect(struct termgen *g, const char *ep, const char *d, const struct lookup_reg *rec)
{
    if (ep) {
        add_ref(g, LOOKUP__TN_EP, ep, strlen(ep), 1, STAMP_REG);
    }
    if (d) {
        add_ref(g, LOOKUP__TN_D, d, strlen(d), 1, STAMP_REG);
    }
    if (rec->owner && strcmp(rec->owner, LOOKUP_OWNER_NONE) != 0) {
        add_ref(g, LOOKUP__TN_OWNER, rec->owner, strlen(rec->owner), 1, STAMP_NONE);
    }
    for (size_t i = 0; i < rec->nattrs; i++) {
        add_attr(g, &rec->attrs[i], STAMP_REG);
    }
    for (size_t i = 0; i < rec->nlinks; i++) {
        for (size_t j = 0; j < rec->links[i].nattrs; j++) {
            add_attr(g, &rec->links[i].attrs[j], (uint32_t)i + 1);
        }
    }
}

/* Sorts the references and drops duplicates, each counted into the one kept (weigh_ref()).
 * A registration has few distinct terms, so insertion (by binary search, a duplicate never
 * inserted) beats qsort unless there are many. */
static size_t
sort_unique(struct termref *r, size_t n)
{
    size_t u = 0;

    if (n > TERMGEN_INSERTION_MAX) {
        qsort(r, n, sizeof(*r), cmp_ref_order);
        for (size_t i = 0; i < n; i++) {
            struct termref x = r[i]; /* r[u] may be r[i] itself */

            if (u == 0 || cmp_ref(&r[u - 1], &x) != 0) {
                r[u] = x;
                r[u].term = 0;
                u++;
            }
            weigh_ref(&r[u - 1], &x);
        }
        return u;
    }
    for (size_t i = 0; i < n; i++) {
        struct termref x = r[i];
        size_t lo = 0;
        size_t hi = u;
        int c = 1;

        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            c = cmp_ref(&x, &r[mid]);
            if (c == 0) {
                break;
            }
            if (c < 0) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if (c == 0 && lo < hi) {
            weigh_ref(&r[lo + (hi - lo) / 2], &x);
            continue;
        }
        memmove(&r[lo + 1], &r[lo], (u - lo) * sizeof(*r));
        r[lo] = x;
        r[lo].term = 0;
        weigh_ref(&r[lo], &x);
        u++;
    }
    return u;
}

/* Keeps the references that make a term (an owner attribute alone makes none). */
static size_t
keep_terms(struct termref *r, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (r[i].term) {
            r[k++] = r[i];
        }
    }
    return k;
}

/* The weights of a kept reference's term, as lookup_terms_weigh() gives them. */
static void
weights_of(const struct termref *r, size_t nlinks, uint32_t *eps, uint32_t *links)
{
    static const char core_rd_ep[] = "core.rd-ep";

    if (r->reg) {
        *eps = 1;
        *links = (uint32_t)nlinks;
        return;
    }
    /* An endpoint lookup of rt=core.rd-ep finds every registration (section 6.3). */
    *links = r->links;
    *eps = r->links > 0 || (r->name == LOOKUP__TN_RT && r->len == sizeof(core_rd_ep) - 1 &&
                            memcmp(r->v, core_rd_ep, r->len) == 0);
}

int
lookup_reg_terms(const char *ep, const char *d, const struct lookup_reg *rec,
                 struct lookup_terms *out)
{
    struct termgen g;
    struct lookup_term *terms;
    size_t arr;
    size_t nbytes = 0;
    size_t n;
    char *mem;
    char *p;
    int rc = RD_OK;

    g.refs = g.local;
    g.n = 0;
    g.cap = TERMGEN_LOCAL;
    g.nomem = 0;
    collect(&g, ep, d, rec);
    if (g.nomem) {
        rc = RD_ENOMEM;
        goto out;
    }
    n = keep_terms(g.refs, sort_unique(g.refs, g.n));
    if (n == 0) {
        memset(out, 0, sizeof(*out));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        nbytes += strlen(lookup__term_name_str(g.refs[i].name)) + g.refs[i].len + 2;
    }
    /* The counts are bounded by the bytes of the record, which is in memory, so the sum cannot
     * overflow. The term array holds pointers and sizes, so the weights after it need no more
     * alignment, nor the bytes after them. */
    arr = n * (sizeof(struct lookup_term) + 2 * sizeof(uint32_t));
    mem = malloc(arr + nbytes);
    if (!mem) {
        rc = RD_ENOMEM;
        goto out;
    }
    terms = (struct lookup_term *)(void *)mem;
    out->eps = (uint32_t *)(void *)(terms + n);
    out->links = out->eps + n;
    p = mem + arr;
    for (size_t i = 0; i < n; i++) {
        const char *name = lookup__term_name_str(g.refs[i].name);
        size_t nlen = strlen(name);

        weights_of(&g.refs[i], rec->nlinks, &out->eps[i], &out->links[i]);
        memcpy(p, name, nlen);
        p[nlen] = '=';
        memcpy(p + nlen + 1, g.refs[i].v, g.refs[i].len);
        p[nlen + 1 + g.refs[i].len] = '\0';
        terms[i].data = p;
        terms[i].len = nlen + g.refs[i].len + 2;
        p += terms[i].len;
    }
    out->terms = terms;
    out->nterms = n;
    out->mem = mem;
out:
    if (g.refs != g.local) {
        free(g.refs);
    }
    return rc;
}

void
lookup_terms_cleanup(struct lookup_terms *t)
{
    if (!t) {
        return;
    }
    free(t->mem);
    memset(t, 0, sizeof(*t));
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
            if (!lookup__name_is(c->name, c->name_len, lookup__term_name_str(k))) {
                continue;
            }
            rank = (c->prefix ? LOOKUP_NINDEX_NAMES : 0) + k;
            if (!best || rank < best_rank) {
                best = c;
                best_name = lookup__term_name_str(k);
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
