/* Registration parameters in the Uri-Query options of registration requests (RFC 9176 sections
 * 5, 5.1 and 5.3.1): ep, d, lt, base, extra attributes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Longest extra attribute name and value we store, in bytes. Names follow ep's limit; values
 * are bounded so that a registration's attributes stay small in the store and in lookups. */
#define LOOKUP_ATTR_NAME_MAX  63
#define LOOKUP_ATTR_VALUE_MAX 255

/* Registration parameter names compare exactly, in the lower case RFC 9176 gives them. */
static int
key_equals(const struct lookup_qparam *q, const char *name)
{
    size_t n = strlen(name);

    return q->key_len == n && memcmp(q->key, name, n) == 0;
}

/* Why check_text() refused a string. */
enum text_error {
    LOOKUP_TEXT_OK = 0,
    LOOKUP_TEXT_UTF8,
    LOOKUP_TEXT_CONTROL,
};

/* Checks that a string is UTF-8 without control characters: code points 0-31 and 127-159 (RFC
 * 9176 section 5 for ep and d; the C0 and C1 controls of Unicode for everything else). */
static enum text_error
check_text(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    size_t n;

    while (i < len) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return LOOKUP_TEXT_CONTROL;
        }
        n = lookup__utf8_seq(s + i, len - i);
        if (n == 0) {
            return LOOKUP_TEXT_UTF8;
        }
        /* U+0080..U+009F are encoded as C2 80..C2 9F. */
        if (n == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f) {
            return LOOKUP_TEXT_CONTROL;
        }
        i += n;
    }
    return LOOKUP_TEXT_OK;
}

static int
check_name(const struct lookup_qparam *q, const char *what, char *diag, size_t diag_size)
{
    enum text_error e;

    if (!q->value || q->value_len == 0) {
        lookup__diag(diag, diag_size, "%s: missing value", what);
        return RD_EINVAL;
    }
    if (q->value_len > LOOKUP_NAME_MAX) {
        lookup__diag(diag, diag_size, "%s: longer than %d bytes", what, LOOKUP_NAME_MAX);
        return RD_EINVAL;
    }
    e = check_text(q->value, q->value_len);
    if (e == LOOKUP_TEXT_UTF8) {
        lookup__diag(diag, diag_size, "%s: invalid UTF-8", what);
        return RD_EINVAL;
    }
    if (e == LOOKUP_TEXT_CONTROL) {
        lookup__diag(diag, diag_size, "%s: control character", what);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Parses a decimal lifetime without sign, spaces or exponent: strtoul would accept all three. */
static int
parse_lt(const struct lookup_qparam *q, uint32_t *lt, char *diag, size_t diag_size)
{
    uint64_t v = 0;

    if (!q->value || q->value_len == 0) {
        goto bad;
    }
    for (size_t i = 0; i < q->value_len; i++) {
        unsigned char c = (unsigned char)q->value[i];

        if (c < '0' || c > '9') {
            goto bad;
        }
        v = v * 10 + (uint64_t)(c - '0');
        if (v > UINT32_MAX) {
            goto bad;
        }
    }
    if (v == 0) {
        goto bad;
    }
    *lt = (uint32_t)v;
    return RD_OK;
bad:
    lookup__diag(diag, diag_size, "lt: expected 1..4294967295");
    return RD_EINVAL;
}

static int
check_extra(const struct lookup_qparam *q, char *diag, size_t diag_size)
{
    enum text_error e;

    if (q->key_len > LOOKUP_ATTR_NAME_MAX) {
        lookup__diag(diag, diag_size, "parameter name longer than %d bytes", LOOKUP_ATTR_NAME_MAX);
        return RD_EINVAL;
    }
    for (size_t i = 0; i < q->key_len; i++) {
        if (!lookup__is_tchar((unsigned char)q->key[i])) {
            lookup__diag(diag, diag_size, "invalid character in parameter name");
            return RD_EINVAL;
        }
    }
    if (!q->value) {
        return RD_OK;
    }
    /* The key is known to be short and printable here, so it can go into the diagnostic. */
    if (q->value_len > LOOKUP_ATTR_VALUE_MAX) {
        lookup__diag(diag, diag_size, "%.*s: longer than %d bytes", (int)q->key_len, q->key,
                     LOOKUP_ATTR_VALUE_MAX);
        return RD_EINVAL;
    }
    e = check_text(q->value, q->value_len);
    if (e == LOOKUP_TEXT_UTF8) {
        lookup__diag(diag, diag_size, "%.*s: invalid UTF-8", (int)q->key_len, q->key);
        return RD_EINVAL;
    }
    if (e == LOOKUP_TEXT_CONTROL) {
        lookup__diag(diag, diag_size, "%.*s: control character", (int)q->key_len, q->key);
        return RD_EINVAL;
    }
    return RD_OK;
}

static char *
copy_str(char **cursor, const char *s, size_t len)
{
    char *dst = *cursor;

    if (len) {
        memcpy(dst, s, len);
    }
    dst[len] = '\0';
    *cursor = dst + len + 1;
    return dst;
}

/* The options that lookup_regparams_parse() recognised, and the size of the copies to make. */
struct scan {
    const struct lookup_qparam *ep;
    const struct lookup_qparam *d;
    const struct lookup_qparam *base;
    const struct lookup_qparam *lt;
    uint32_t lt_value;
    size_t nattrs;
    size_t nbytes; /**< string bytes to copy, NULs included */
};

/* Validates one option and records it in @p sc. */
static int
scan_param(struct scan *sc, enum lookup_reg_op op, const struct lookup_qparam *q, char *diag,
           size_t diag_size)
{
    /* Lookup's own parameters, and link attributes that resource lookup would otherwise match
     * against every link of the registration. */
    static const char *const refused[] = { "page", "count", "href", "anchor", "rt", "if", "ct" };
    const struct lookup_qparam **slot;
    const char *what;
    int rc;

    if (q->key_len == 0) {
        lookup__diag(diag, diag_size, "empty parameter name");
        return RD_EINVAL;
    }
    for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
        /* In any case: lookup reads these names without case (lookup_filter.c). */
        if (lookup__name_is(q->key, q->key_len, refused[k])) {
            lookup__diag(diag, diag_size, "%s is not a registration parameter", refused[k]);
            return RD_EINVAL;
        }
    }
    if (key_equals(q, "ep") || key_equals(q, "d")) {
        what = q->key_len == 1 ? "d" : "ep";
        slot = q->key_len == 1 ? &sc->d : &sc->ep;
        if (op == LOOKUP_REG_UPDATE) {
            /* RFC 9176 section 5.3.1: the identity of a registration is fixed. */
            lookup__diag(diag, diag_size, "%s cannot change", what);
            return RD_EINVAL;
        }
        if (*slot) {
            lookup__diag(diag, diag_size, "duplicate %s", what);
            return RD_EINVAL;
        }
        rc = check_name(q, what, diag, diag_size);
        if (rc) {
            return rc;
        }
        *slot = q;
        sc->nbytes += q->value_len + 1;
        return RD_OK;
    }
    if (key_equals(q, "lt")) {
        if (sc->lt) {
            lookup__diag(diag, diag_size, "duplicate lt");
            return RD_EINVAL;
        }
        rc = parse_lt(q, &sc->lt_value, diag, diag_size);
        if (rc) {
            return rc;
        }
        sc->lt = q;
        return RD_OK;
    }
    if (key_equals(q, "base")) {
        if (op == LOOKUP_REG_SIMPLE) {
            /* RFC 9176 section 5.1: the base is the requester's address. */
            lookup__diag(diag, diag_size, "base is not allowed in simple registration");
            return RD_EINVAL;
        }
        if (sc->base) {
            lookup__diag(diag, diag_size, "duplicate base");
            return RD_EINVAL;
        }
        if (!q->value) {
            lookup__diag(diag, diag_size, "base: missing value");
            return RD_EINVAL;
        }
        rc = lookup_uri_check_base(q->value, q->value_len, diag, diag_size);
        if (rc) {
            return rc;
        }
        sc->base = q;
        sc->nbytes += q->value_len + 1;
        return RD_OK;
    }
    rc = check_extra(q, diag, diag_size);
    if (rc) {
        return rc;
    }
    sc->nattrs++;
    sc->nbytes += q->key_len + 1 + (q->value ? q->value_len + 1 : 0);
    return RD_OK;
}

int
lookup_regparams_parse(struct lookup_regparams *out, enum lookup_reg_op op,
                       const struct lookup_qparam *q, size_t nq, char *diag, size_t diag_size)
{
    struct lookup_regparams r;
    struct scan sc;
    size_t attrs_size;
    char *mem = NULL;
    char *cursor = NULL;
    int rc = RD_OK;

    memset(&r, 0, sizeof(r));
    memset(&sc, 0, sizeof(sc));
    for (size_t i = 0; i < nq; i++) {
        rc = scan_param(&sc, op, &q[i], diag, diag_size);
        if (rc) {
            goto out;
        }
    }
    if (!sc.ep && op != LOOKUP_REG_UPDATE) {
        lookup__diag(diag, diag_size, "missing ep");
        rc = RD_EINVAL;
        goto out;
    }
    /* Every byte counted is bounded by the length of an option the caller holds in memory, so
     * the sum cannot overflow. */
    attrs_size = sc.nattrs * sizeof(struct lookup_attr);
    if (attrs_size + sc.nbytes > 0) {
        mem = malloc(attrs_size + sc.nbytes);
        if (!mem) {
            rc = RD_ENOMEM;
            goto out;
        }
        cursor = mem + attrs_size;
    }
    r.attrs = sc.nattrs ? (struct lookup_attr *)(void *)mem : NULL;
    r.lt = sc.lt ? sc.lt_value : 0;
    if (sc.ep) {
        r.ep = copy_str(&cursor, sc.ep->value, sc.ep->value_len);
    }
    if (sc.d) {
        r.d = copy_str(&cursor, sc.d->value, sc.d->value_len);
    }
    if (sc.base) {
        r.base = copy_str(&cursor, sc.base->value, sc.base->value_len);
    }
    for (size_t i = 0; i < nq && r.nattrs < sc.nattrs; i++) {
        const struct lookup_qparam *p = &q[i];

        if (p == sc.ep || p == sc.d || p == sc.base || p == sc.lt) {
            continue;
        }
        r.attrs[r.nattrs].name = copy_str(&cursor, p->key, p->key_len);
        r.attrs[r.nattrs].value = p->value ? copy_str(&cursor, p->value, p->value_len) : NULL;
        r.attrs[r.nattrs].quoted = 0;
        r.nattrs++;
    }
    r.mem = mem;
    mem = NULL;
    *out = r;
out:
    free(mem);
    return rc;
}

void
lookup_regparams_cleanup(struct lookup_regparams *p)
{
    if (!p) {
        return;
    }
    free(p->mem);
    memset(p, 0, sizeof(*p));
}
