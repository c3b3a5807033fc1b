/* The fast paths of a registration in lookup/ against plain reference implementations, over
 * many generated payloads: the link-format parser (accepted documents, diagnostics), the index
 * terms, the weights of all terms at once against lookup_term_weights() term by term, and the
 * record encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lookup.h"

/* Generated cases per test: enough to reach every branch many times, quick under ASan. */
#define CASES     4000
#define MAX_LINKS 64
#define DUMP_SIZE 65536

/* xorshift64: the same cases on every run. */
static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *
pick(const char *const *v, size_t n)
{
    return v[rnd((uint32_t)n)];
}

#define PICK(v) pick((v), sizeof(v) / sizeof((v)[0]))

/* ---------------------------------------------------------------------------------------- */
/* Reference link-format parser: one byte at a time, straight from RFC 6690 section 2, writing
 * what it finds as text ("T<target>\n", "A<name>\n", "V<value>\n" or "Q<value>\n"). */

struct ref {
    const unsigned char *s;
    size_t len;
    size_t pos;
    char *dump;
    size_t n;
    char diag[LOOKUP_DIAG_SIZE];
};

static void
put(struct ref *r, const void *p, size_t n)
{
    assert_true(r->n + n < DUMP_SIZE);
    memcpy(r->dump + r->n, p, n);
    r->n += n;
}

static int
ref_fail(struct ref *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->diag, sizeof(r->diag), fmt, ap);
    va_end(ap);
    return RD_EINVAL;
}

/* Length of the well-formed UTF-8 character at the position, decoded and range-checked. */
static size_t
ref_utf8(const struct ref *r)
{
    const unsigned char *s = r->s + r->pos;
    size_t left = r->len - r->pos;
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    uint32_t cp;

    if (n == 0 || n > left || s[0] > 0xf4) {
        return 0;
    }
    cp = n == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> n));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

static int
ref_char(struct ref *r)
{
    size_t n = ref_utf8(r);

    if (n == 0) {
        return ref_fail(r, "link-format: invalid UTF-8 at offset %zu", r->pos);
    }
    put(r, r->s + r->pos, n);
    r->pos += n;
    return RD_OK;
}

static int
isalnum_ascii(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
ref_at(const struct ref *r, char c)
{
    return r->pos < r->len && r->s[r->pos] == (unsigned char)c;
}

static void
ref_ws(struct ref *r)
{
    while (r->pos < r->len && r->s[r->pos] && strchr(" \t\r\n", r->s[r->pos])) {
        r->pos++;
    }
}

static int
ref_quoted(struct ref *r)
{
    size_t start = r->pos++;

    put(r, "Q", 1);
    while (!ref_at(r, '"')) {
        unsigned char c;

        if (r->pos < r->len && r->s[r->pos] == '\\') {
            r->pos++;
        }
        if (r->pos == r->len) {
            return ref_fail(r, "link-format: unterminated quoted string at offset %zu", start);
        }
        c = r->s[r->pos];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return ref_fail(r, "link-format: control character 0x%02x in quoted string at offset %zu",
                        (unsigned)c, r->pos);
        }
        if (ref_char(r)) {
            return RD_EINVAL;
        }
    }
    r->pos++;
    put(r, "\n", 1);
    return RD_OK;
}

static int
ref_param(struct ref *r)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    size_t start = r->pos;

    put(r, "A", 1);
    while (r->pos < r->len && r->s[r->pos] &&
           (isalnum_ascii(r->s[r->pos]) || strchr(tchars, r->s[r->pos]))) {
        put(r, r->s + r->pos++, 1);
    }
    if (r->pos == start) {
        return ref_fail(r, "link-format: expected parameter name at offset %zu", start);
    }
    put(r, "\n", 1);
    if (!ref_at(r, '=')) {
        return RD_OK;
    }
    r->pos++;
    if (ref_at(r, '"')) {
        return ref_quoted(r);
    }
    start = r->pos;
    put(r, "V", 1);
    while (r->pos < r->len && r->s[r->pos] > 0x20 && r->s[r->pos] < 0x7f &&
           !strchr("\",;\\", r->s[r->pos])) {
        put(r, r->s + r->pos++, 1);
    }
    if (r->pos == start) {
        return ref_fail(r, "link-format: expected value at offset %zu", start);
    }
    put(r, "\n", 1);
    return RD_OK;
}

static int
ref_link(struct ref *r)
{
    size_t start = r->pos;

    if (!ref_at(r, '<')) {
        return ref_fail(r, "link-format: expected '<' at offset %zu", r->pos);
    }
    r->pos++;
    put(r, "T", 1);
    while (!ref_at(r, '>')) {
        unsigned char c;

        if (r->pos == r->len) {
            return ref_fail(r, "link-format: unterminated '<' at offset %zu", start);
        }
        c = r->s[r->pos];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '"') {
            return ref_fail(r, "link-format: invalid character 0x%02x in target at offset %zu",
                        (unsigned)c, r->pos);
        }
        if (ref_char(r)) {
            return RD_EINVAL;
        }
    }
    r->pos++;
    put(r, "\n", 1);
    for (;;) {
        ref_ws(r);
        if (r->pos == r->len || ref_at(r, ',')) {
            return RD_OK;
        }
        if (!ref_at(r, ';')) {
            return ref_fail(r, "link-format: expected ',' or ';' at offset %zu", r->pos);
        }
        r->pos++;
        ref_ws(r);
        if (ref_param(r)) {
            return RD_EINVAL;
        }
    }
}

static int
ref_parse(struct ref *r, size_t max_links)
{
    size_t nlinks = 0;

    ref_ws(r);
    if (r->pos == r->len) {
        return RD_OK;
    }
    for (;;) {
        if (nlinks == max_links) {
            snprintf(r->diag, sizeof(r->diag), "link-format: more than %zu links", max_links);
            return RD_ETOOBIG;
        }
        if (ref_link(r)) {
            return RD_EINVAL;
        }
        nlinks++;
        if (!ref_at(r, ',')) {
            return RD_OK;
        }
        r->pos++;
        ref_ws(r);
    }
}

/* The parse of @p links as the reference writes it. */
static size_t
dump_links(const struct lookup_links *links, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < links->nlinks; i++) {
        n += (size_t)sprintf(out + n, "T%s\n", links->links[i].target);
        for (size_t j = 0; j < links->links[i].nattrs; j++) {
            const struct lookup_attr *a = &links->links[i].attrs[j];

            n += (size_t)sprintf(out + n, "A%s\n", a->name);
            if (a->value) {
                n += (size_t)sprintf(out + n, "%c%s\n", a->quoted ? 'Q' : 'V', a->value);
            }
        }
    }
    return n;
}

/* Pieces of documents: valid ones and every character class the grammar tells apart. */
static const char *const pieces[] = {
    "</s>",  "<coap://h/x>", "<",     ">",     ";",     ",",   " ",      "\t",    "\r\n", "=",
    "\"",    "\\",           "\\\"",  "\\\\",  "rt",    "if",  "ct=0",   "obs",   "a-b",  "x y",
    "\x01",  "\x7f",         "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xed\xa0\x80",
    "\xc0\xaf", "\xf4\x90\x80\x80", "\xff", "@",  "{",   "\0",     "</a b>", "rt=\"t c\"",
    ";rt=\"a\\\"b\"", ",</t>;if=sensor", "\t;x=\"\\\x01\"", "==", "\"\"",
};

static size_t
gen_doc(char *out, size_t size)
{
    size_t n = 0;
    size_t k = 1 + rnd(24);

    for (size_t i = 0; i < k; i++) {
        const char *p = PICK(pieces);
        /* "\0" is the one piece whose length strlen() does not give. */
        size_t len = p[0] ? strlen(p) : 1;

        if (n + len >= size) {
            break;
        }
        memcpy(out + n, p, len);
        n += len;
    }
    return n;
}

/* A valid document of up to 40 links, then perhaps one byte changed. */
static size_t
gen_valid_doc(char *out, size_t size)
{
    static const char *const params[] = {
        ";rt=\"temperature-c\"", ";if=sensor", ";ct=0", ";obs", ";title=\"a \\\"b\\\" \\\\ c\"",
        ";rt=\"a  b c \"", ";sz=12", ";anchor=\"/x\"", ";RT=x", ";t=\"\xc3\xa9t\xc3\xa9\"",
    };
    size_t n = 0;
    size_t k = 1 + rnd(40);

    for (size_t i = 0; i < k && n + 200 < size; i++) {
        n += (size_t)snprintf(out + n, size - n, "%s</p/%zu>", i ? "," : "", i);
        for (uint32_t j = rnd(6); j > 0; j--) {
            n += (size_t)snprintf(out + n, size - n, "%s", PICK(params));
        }
    }
    if (n > 0 && rnd(2)) {
        out[rnd((uint32_t)n)] = (char)rnd(256);
    }
    return n;
}

/* @return what both parsers returned. */
static int
check_parse(const char *doc, size_t len, size_t max_links)
{
    static char want[DUMP_SIZE];
    static char have[DUMP_SIZE];
    struct lookup_links links;
    char diag[LOOKUP_DIAG_SIZE] = "";
    struct ref r;
    int rc;
    int ref_rc;

    memset(&r, 0, sizeof(r));
    r.s = (const unsigned char *)doc;
    r.len = len;
    r.dump = want;
    ref_rc = ref_parse(&r, max_links);
    rc = lookup_links_parse(&links, doc, len, max_links, diag, sizeof(diag));
    assert_int_equal(rc, ref_rc);
    if (rc) {
        assert_string_equal(diag, r.diag);
        return rc;
    }
    assert_int_equal(dump_links(&links, have), r.n);
    assert_memory_equal(have, want, r.n);
    lookup_links_cleanup(&links);
    return rc;
}

static void
test_parse_agrees_with_the_reference(void **state)
{
    char doc[4096];
    size_t accepted = 0;
    size_t refused = 0;

    (void)state;
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < CASES; i++) {
        size_t len = gen_doc(doc, sizeof(doc));
        int rc = check_parse(doc, len, 1 + rnd(8));

        accepted += rc == RD_OK;
        refused += rc != RD_OK;
        len = gen_valid_doc(doc, sizeof(doc));
        rc = check_parse(doc, len, MAX_LINKS);
        accepted += rc == RD_OK;
        refused += rc != RD_OK;
    }
    /* The cases reach both outcomes, often. */
    assert_true(accepted > CASES / 4);
    assert_true(refused > CASES / 4);
}

/* ---------------------------------------------------------------------------------------- */
/* Registrations: attribute names and values that collide, repeat, change case, hold spaces,
 * run past the 255 bytes a term keeps, or name the owner. */

#define LONG_A 300

static char long_a[LONG_A + 1];   /* LONG_A times 'a' */
static char long_a255[256];       /* 255 times 'a': the term of long_a */
static char long_ab[LONG_A + 1];  /* 255 times 'a', then 'b's */

static const char *const attr_names[] = { "rt", "RT", "if", "If", "et",    "ep",    "d",
                                          "D",  "owner", "Owner", "ct", "rel", "title", "x" };

static const char *
gen_value(void)
{
    static const char *const values[] = {
        "a", "b", "temp", "core.rd-ep", "sensor", "x y", " a", "a ", "  ", "", "a  b", "node1",
        "floor", "psk:x", "b a", NULL, NULL, NULL,
    };
    uint32_t k = rnd(sizeof(values) / sizeof(values[0]) + 3);

    if (k == sizeof(values) / sizeof(values[0])) {
        return long_a;
    }
    if (k == sizeof(values) / sizeof(values[0]) + 1) {
        return long_a255;
    }
    if (k == sizeof(values) / sizeof(values[0]) + 2) {
        return long_ab;
    }
    return values[k];
}

struct gen_reg {
    char doc[1 << 17]; /* room for MAX_LINKS links of 5 attributes of LONG_A bytes */
    struct lookup_attr attrs[6];
    struct lookup_links links;
    struct lookup_reg rec;
    struct lookup_regview view;
};

static void
gen_reg(struct gen_reg *g)
{
    static const char *const eps[] = { "node1", "a", "sensor" };
    static const char *const ds[] = { NULL, "", "a", "floor" };
    static const char *const owners[] = { NULL, "none", "a", "psk:x" };
    size_t n = 0;
    /* Now and then the most links, with many attributes: past the insertion sort of terms. */
    int big = rnd(16) == 0;
    size_t nlinks = big ? MAX_LINKS : rnd(4) ? rnd(12) : rnd(MAX_LINKS);

    memset(long_a, 'a', LONG_A);
    memset(long_a255, 'a', 255);
    memset(long_ab, 'b', LONG_A);
    memset(long_ab, 'a', 255);
    memset(g, 0, sizeof(*g));
    for (size_t i = 0; i < nlinks; i++) {
        n += (size_t)snprintf(g->doc + n, sizeof(g->doc) - n, "%s</l%zu>", i ? "," : "", i);
        for (uint32_t j = big ? 5 : rnd(5); j > 0; j--) {
            /* The first eight names are those of index terms. */
            const char *name = big ? attr_names[rnd(8)] : PICK(attr_names);
            const char *v = gen_value();

            n += (size_t)snprintf(g->doc + n, sizeof(g->doc) - n, ";%s%s%s%s", name,
                                  v ? "=\"" : "", v ? v : "", v ? "\"" : "");
        }
    }
    assert_int_equal(lookup_links_parse(&g->links, g->doc, n, MAX_LINKS, NULL, 0), RD_OK);
    g->rec.attrs = g->attrs;
    g->rec.nattrs = rnd(sizeof(g->attrs) / sizeof(g->attrs[0]) + 1);
    for (size_t i = 0; i < g->rec.nattrs; i++) {
        g->attrs[i].name = PICK(attr_names);
        g->attrs[i].value = gen_value();
    }
    g->rec.base = "coap://[2001:db8::1]";
    g->rec.lt = LOOKUP_LT_DEFAULT;
    g->rec.owner = PICK(owners);
    g->rec.links = g->links.links;
    g->rec.nlinks = g->links.nlinks;
    g->view.ep = PICK(eps);
    g->view.d = PICK(ds);
    g->view.href = "/rd/1";
    g->view.rec = &g->rec;
}

/* ---------------------------------------------------------------------------------------- */
/* Reference terms: every `name=value` written out, qsorted, duplicates dropped. */

struct ref_term {
    char s[272];
    size_t len; /**< with the NUL */
};

struct ref_terms {
    struct ref_term t[1024];
    size_t n;
    size_t raw; /**< terms before duplicates were dropped */
};

static int
strcasecmp_ascii(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
        int y = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;

        if (x != y || x == 0) {
            return x - y;
        }
    }
}

static void
ref_add(struct ref_terms *t, const char *name, const char *v, size_t len)
{
    if (len == 0) {
        return;
    }
    if (len > 255) {
        len = 255;
    }
    assert_true(t->n < 1024);
    t->t[t->n].len =
        (size_t)snprintf(t->t[t->n].s, sizeof(t->t[0].s), "%s=%.*s", name, (int)len, v) + 1;
    t->n++;
}

static void
ref_add_attr(struct ref_terms *t, const struct lookup_attr *a)
{
    static const char *const names[] = { "ep", "d", "et", "if", "rt" };
    const char *name = NULL;
    const char *v = a->value;
    int any = 0;

    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strcasecmp_ascii(a->name, names[k]) == 0) {
            name = names[k];
        }
    }
    if (!name || !v) {
        return;
    }
    if (strcmp(name, "rt") != 0 && strcmp(name, "if") != 0) {
        ref_add(t, name, v, strlen(v));
        return;
    }
    for (size_t i = 0; v[i];) {
        size_t j = i;

        while (v[j] && v[j] != ' ') {
            j++;
        }
        if (j > i) {
            ref_add(t, name, v + i, j - i);
            any = 1;
        }
        i = v[j] ? j + 1 : j;
    }
    /* A value of spaces only (or empty) is its own term. */
    if (!any) {
        ref_add(t, name, v, strlen(v));
    }
}

static int
cmp_ref_term(const void *pa, const void *pb)
{
    const struct ref_term *a = pa;
    const struct ref_term *b = pb;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void
ref_sort(struct ref_terms *t)
{
    size_t u = 0;

    qsort(t->t, t->n, sizeof(t->t[0]), cmp_ref_term);
    for (size_t i = 0; i < t->n; i++) {
        if (u == 0 || cmp_ref_term(&t->t[u - 1], &t->t[i]) != 0) {
            t->t[u++] = t->t[i];
        }
    }
    t->n = u;
}

static void
ref_reg_terms(const struct gen_reg *g, struct ref_terms *t)
{
    t->n = 0;
    ref_add(t, "ep", g->view.ep, strlen(g->view.ep));
    if (g->view.d) {
        ref_add(t, "d", g->view.d, strlen(g->view.d));
    }
    if (g->rec.owner && strcmp(g->rec.owner, "none") != 0) {
        ref_add(t, "owner", g->rec.owner, strlen(g->rec.owner));
    }
    for (size_t i = 0; i < g->rec.nattrs; i++) {
        ref_add_attr(t, &g->rec.attrs[i]);
    }
    for (size_t i = 0; i < g->rec.nlinks; i++) {
        for (size_t j = 0; j < g->rec.links[i].nattrs; j++) {
            ref_add_attr(t, &g->rec.links[i].attrs[j]);
        }
    }
    t->raw = t->n;
    ref_sort(t);
}

static void
test_terms_agree_with_the_reference(void **state)
{
    static struct gen_reg g;
    static struct ref_terms want;
    struct lookup_terms have;
    size_t most = 0;

    (void)state;
    rng_state = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < CASES; i++) {
        gen_reg(&g);
        ref_reg_terms(&g, &want);
        assert_int_equal(lookup_reg_terms(g.view.ep, g.view.d, &g.rec, &have), RD_OK);
        assert_int_equal(have.nterms, want.n);
        for (size_t k = 0; k < want.n; k++) {
            assert_int_equal(have.terms[k].len, want.t[k].len);
            assert_memory_equal(have.terms[k].data, want.t[k].s, want.t[k].len);
        }
        most = want.raw > most ? want.raw : most;
        lookup_terms_cleanup(&have);
        lookup_links_cleanup(&g.links);
    }
    /* Some registrations had many terms before duplicates went: more than lookup_reg_terms()
     * keeps on the stack (64) or sorts by insertion (256). */
    assert_true(most > 256);
}

/* ---------------------------------------------------------------------------------------- */
/* Weights of all terms at once against lookup_term_weights() one term at a time. */

static void
check_weights(const struct lookup_regview *view, const struct lookup_term *terms, size_t n)
{
    uint32_t eps[1100];
    uint32_t links[1100];

    assert_true(n <= 1100);
    lookup_terms_weigh(view, terms, n, eps, links);
    for (size_t k = 0; k < n; k++) {
        uint32_t e = 7;
        uint32_t l = 7;

        lookup_term_weights(view, &terms[k], &e, &l);
        assert_int_equal(eps[k], e);
        assert_int_equal(links[k], l);
    }
}

/* The weights lookup_reg_terms() makes with the terms are lookup_terms_weigh()'s. */
static void
check_made_weights(const struct lookup_regview *view, const struct lookup_terms *have)
{
    static uint32_t eps[1100];
    static uint32_t links[1100];

    assert_true(have->nterms <= 1100);
    lookup_terms_weigh(view, have->terms, have->nterms, eps, links);
    for (size_t k = 0; k < have->nterms; k++) {
        assert_int_equal(have->eps[k], eps[k]);
        assert_int_equal(have->links[k], links[k]);
    }
}

static void
test_weights_agree_term_by_term(void **state)
{
    /* Terms a registration may lack, and terms the one-pass weighing leaves to the term by term
     * one: upper case, empty and overlong values, other names, no '=' or NUL. */
    static const char *const extra[] = {
        "rt=core.rd-ep", "rt=zzz", "ep=node1", "d=a", "owner=a", "if=a", "et=a b",
        "RT=a",          "rt=",    "d=",       "x=a", "href=/l1", "rt",  "=a",
    };
    static struct gen_reg g;
    static struct ref_terms want;
    struct lookup_term terms[1100];
    size_t weighed = 0;

    (void)state;
    rng_state = 0xd1b54a32d192ed03ull;
    for (int i = 0; i < CASES; i++) {
        struct lookup_terms have;
        size_t n;

        gen_reg(&g);
        /* The registration's terms as rd_rank.c weighs them, then with some of those it lacks,
         * still sorted, then all in a shuffled order with the others. */
        assert_int_equal(lookup_reg_terms(g.view.ep, g.view.d, &g.rec, &have), RD_OK);
        check_weights(&g.view, have.terms, have.nterms);
        check_made_weights(&g.view, &have);
        ref_reg_terms(&g, &want);
        for (size_t k = 0; k < 7; k++) {
            want.t[want.n].len = strlen(extra[k]) + 1;
            memcpy(want.t[want.n].s, extra[k], want.t[want.n].len);
            want.n++;
        }
        ref_sort(&want);
        for (size_t k = 0; k < want.n; k++) {
            terms[k].data = want.t[k].s;
            terms[k].len = want.t[k].len;
        }
        check_weights(&g.view, terms, want.n);
        n = want.n;
        for (size_t k = 0; k < sizeof(extra) / sizeof(extra[0]); k++) {
            terms[n].data = extra[k];
            terms[n].len = strlen(extra[k]) + (k + 1 < sizeof(extra) / sizeof(extra[0]) - 1);
            n++;
        }
        for (size_t k = n - 1; k > 0; k--) {
            size_t j = rnd((uint32_t)k + 1);
            struct lookup_term x = terms[k];

            terms[k] = terms[j];
            terms[j] = x;
        }
        check_weights(&g.view, terms, n);
        weighed += have.nterms;
        lookup_terms_cleanup(&have);
        lookup_links_cleanup(&g.links);
    }
    assert_true(weighed > CASES);
}

/* ---------------------------------------------------------------------------------------- */
/* Reference record encoder: the layout of lookup_record.c, a byte at a time. */

static void
ref_varint(unsigned char *out, size_t *n, uint64_t v)
{
    while (v >= 0x80) {
        out[(*n)++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[(*n)++] = (unsigned char)v;
}

static void
ref_str(unsigned char *out, size_t *n, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    ref_varint(out, n, len);
    memcpy(out + *n, s ? s : "", len);
    *n += len;
}

static void
ref_attrs(unsigned char *out, size_t *n, const struct lookup_attr *a, size_t count)
{
    ref_varint(out, n, count);
    for (size_t i = 0; i < count; i++) {
        out[(*n)++] = !a[i].value ? 0 : a[i].quoted ? 2 : 1;
        ref_str(out, n, a[i].name);
        if (a[i].value) {
            ref_str(out, n, a[i].value);
        }
    }
}

static size_t
ref_encode(const struct lookup_reg *reg, unsigned char *out)
{
    size_t n = 0;

    out[n++] = reg->owner ? 2 : 1;
    out[n++] = (unsigned char)((reg->base_explicit ? 1 : 0) | (reg->scope ? 2 : 0));
    ref_varint(out, &n, reg->lt);
    if (reg->scope) {
        ref_varint(out, &n, reg->scope);
    }
    ref_str(out, &n, reg->base);
    if (reg->owner) {
        ref_str(out, &n, reg->owner);
    }
    ref_attrs(out, &n, reg->attrs, reg->nattrs);
    ref_varint(out, &n, reg->nlinks);
    for (size_t i = 0; i < reg->nlinks; i++) {
        ref_str(out, &n, reg->links[i].target);
        ref_attrs(out, &n, reg->links[i].attrs, reg->links[i].nattrs);
    }
    return n;
}

static void
test_record_agrees_with_the_reference(void **state)
{
    static const uint32_t lts[] = { 1, 127, 128, 90000, UINT32_MAX };
    static struct gen_reg g;
    static unsigned char want[65536];

    (void)state;
    rng_state = 0xbf58476d1ce4e5b9ull;
    for (int i = 0; i < CASES; i++) {
        struct lookup_buf b;
        size_t n;

        gen_reg(&g);
        g.rec.lt = lts[rnd(sizeof(lts) / sizeof(lts[0]))];
        g.rec.scope = rnd(3) ? 0 : 1 + rnd(300);
        g.rec.base_explicit = (unsigned char)rnd(2);
        n = ref_encode(&g.rec, want);
        /* A prefix already in the buffer stays; a cap one byte short refuses the record. */
        lookup_buf_init(&b, n + 2);
        assert_int_equal(lookup_buf_append(&b, "xy", 2), RD_OK);
        assert_int_equal(lookup_reg_encode(&g.rec, &b), RD_OK);
        assert_int_equal(b.len, n + 2);
        assert_memory_equal(b.data + 2, want, n);
        b.len = 2;
        b.max = n + 1;
        assert_int_equal(lookup_reg_encode(&g.rec, &b), RD_ETOOBIG);
        assert_int_equal(b.len, 2);
        assert_string_equal(b.data, "xy");
        lookup_buf_cleanup(&b);
        lookup_links_cleanup(&g.links);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_agrees_with_the_reference),
        cmocka_unit_test(test_terms_agree_with_the_reference),
        cmocka_unit_test(test_weights_agree_term_by_term),
        cmocka_unit_test(test_record_agrees_with_the_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
