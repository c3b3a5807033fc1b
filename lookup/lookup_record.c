/* Registration record codec and endpoint attribute merge (RFC 9176 sections 5 and 5.3.1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* Record layout, version 1 (no owner) or 2 (with owner). A varint is unsigned LEB128 in its
 * shortest form; a string is a varint length and that many bytes, without NUL.
 *
 *   u8 version (1), u8 flags (bit 0: base_explicit, bit 1: scoped), varint lt,
 *   [scoped only: varint scope], string base,
 *   [version 2 only: string owner]
 *   varint nattrs, nattrs * attr,
 *   varint nlinks, nlinks * (string target, varint nattrs, nattrs * attr)
 *   attr = u8 kind (0: no value, 1: token value, 2: quoted value), string name [, string value]
 *
 * Every field has exactly one encoding, so decode followed by encode reproduces the input. */
#define LOOKUP_RECORD_VERSION       1
#define LOOKUP_RECORD_VERSION_OWNER 2
#define LOOKUP_RECORD_BASE_EXPLICIT 0x01
#define LOOKUP_RECORD_SCOPED        0x02
#define LOOKUP_ATTR_KIND_NO_VALUE   0
#define LOOKUP_ATTR_KIND_TOKEN      1
#define LOOKUP_ATTR_KIND_QUOTED     2
/* The smallest encoded attribute (kind, empty name) and link (empty target, no attributes). */
#define LOOKUP_ATTR_MIN_SIZE 2
#define LOOKUP_LINK_MIN_SIZE 2

/* The encoder walks a record twice with the same code: to size it, then, after one
 * reservation, to write it, without a check per field. Each step takes the buffer (NULL while
 * sizing) and the offset so far, and returns the next offset: kept in registers, not memory. */
static inline size_t
enc_bytes(unsigned char *p, size_t at, const void *src, size_t n)
{
    if (p && n) {
        memcpy(p + at, src, n);
    }
    return at + n;
}

static inline size_t
enc_varint(unsigned char *p, size_t at, uint64_t v)
{
    while (v >= 0x80) {
        if (p) {
            p[at] = (unsigned char)(v | 0x80);
        }
        at++;
        v >>= 7;
    }
    if (p) {
        p[at] = (unsigned char)v;
    }
    return at + 1;
}

static inline size_t
enc_str(unsigned char *p, size_t at, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return enc_bytes(p, enc_varint(p, at, n), s, n);
}

static size_t
enc_attrs(unsigned char *p, size_t at, const struct lookup_attr *attrs, size_t n)
{
    unsigned char kind;

    at = enc_varint(p, at, n);
    for (size_t i = 0; i < n; i++) {
        if (!attrs[i].value) {
            kind = LOOKUP_ATTR_KIND_NO_VALUE;
        } else {
            kind = attrs[i].quoted ? LOOKUP_ATTR_KIND_QUOTED : LOOKUP_ATTR_KIND_TOKEN;
        }
        at = enc_bytes(p, at, &kind, 1);
        at = enc_str(p, at, attrs[i].name);
        if (attrs[i].value) {
            at = enc_str(p, at, attrs[i].value);
        }
    }
    return at;
}

/* @return the record's size. */
static size_t
enc_record(unsigned char *p, const struct lookup_reg *reg)
{
    unsigned char head[2];
    size_t at;

    head[0] = reg->owner ? LOOKUP_RECORD_VERSION_OWNER : LOOKUP_RECORD_VERSION;
    head[1] = (reg->base_explicit ? LOOKUP_RECORD_BASE_EXPLICIT : 0) |
              (reg->scope ? LOOKUP_RECORD_SCOPED : 0);
    at = enc_bytes(p, 0, head, sizeof(head));
    at = enc_varint(p, at, reg->lt);
    if (reg->scope) {
        at = enc_varint(p, at, reg->scope);
    }
    at = enc_str(p, at, reg->base);
    if (reg->owner) {
        at = enc_str(p, at, reg->owner);
    }
    at = enc_attrs(p, at, reg->attrs, reg->nattrs);
    at = enc_varint(p, at, reg->nlinks);
    for (size_t i = 0; i < reg->nlinks; i++) {
        at = enc_str(p, at, reg->links[i].target);
        at = enc_attrs(p, at, reg->links[i].attrs, reg->links[i].nattrs);
    }
    return at;
}

int
lookup_reg_encode(const struct lookup_reg *reg, struct lookup_buf *out)
{
    size_t size = enc_record(NULL, reg);
    int rc;

    /* All or nothing: on failure the caller's buffer ends where it did, NUL included. */
    rc = lookup__buf_reserve(out, size);
    if (rc) {
        if (out->data) {
            out->data[out->len] = '\0';
        }
        return rc;
    }
    (void)enc_record((unsigned char *)out->data + out->len, reg);
    out->len += size;
    out->data[out->len] = '\0';
    return RD_OK;
}

/* Like the link-format parser, the decoder runs twice: once to validate and count, once to fill
 * a single allocation, with the same code. */
struct reader {
    const unsigned char *p;
    size_t len;
    size_t pos;
    size_t nlinks;             /**< links so far; the index of the next one in the fill pass */
    size_t nattrs;             /**< attributes so far, endpoint and link ones together */
    size_t nbytes;             /**< string bytes so far, NULs included */
    struct lookup_link *links; /**< NULL in the counting pass */
    struct lookup_attr *attrs;
    char *str;
};

static int
get_u8(struct reader *r, unsigned char *v)
{
    if (r->pos == r->len) {
        return RD_EINVAL;
    }
    *v = r->p[r->pos++];
    return RD_OK;
}

static int
get_varint(struct reader *r, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    unsigned char b;

    for (;;) {
        if (r->pos == r->len) {
            return RD_EINVAL;
        }
        b = r->p[r->pos++];
        /* Bits that would fall off the top of 64 make the record corrupt. */
        if (shift == 63 && b > 1) {
            return RD_EINVAL;
        }
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            break;
        }
        shift += 7;
        if (shift > 63) {
            return RD_EINVAL;
        }
    }
    /* A zero final byte after the first one is a longer-than-needed form; refusing it keeps
     * the encoding canonical. */
    if (b == 0 && shift > 0) {
        return RD_EINVAL;
    }
    *v = x;
    return RD_OK;
}

/* Reads a count of items of at least @p min_size bytes each; refuses counts the remaining bytes
 * cannot hold, before anything is sized from them. */
static int
get_count(struct reader *r, size_t min_size, size_t *n)
{
    uint64_t v;
    int rc;

    rc = get_varint(r, &v);
    if (rc) {
        return rc;
    }
    if (v > (r->len - r->pos) / min_size) {
        return RD_EINVAL;
    }
    *n = (size_t)v;
    return RD_OK;
}

static int
get_str(struct reader *r, const char **out)
{
    uint64_t n;
    int rc;

    rc = get_varint(r, &n);
    if (rc) {
        return rc;
    }
    if (n > r->len - r->pos) {
        return RD_EINVAL;
    }
    /* The counting pass has checked every string by the time the fill pass copies it. */
    if (!r->str && memchr(r->p + r->pos, '\0', (size_t)n)) {
        return RD_EINVAL;
    }
    if (r->str) {
        if (n) {
            memcpy(r->str + r->nbytes, r->p + r->pos, (size_t)n);
        }
        r->str[r->nbytes + n] = '\0';
        *out = r->str + r->nbytes;
    }
    r->pos += (size_t)n;
    r->nbytes += (size_t)n + 1;
    return RD_OK;
}

/* Reads an attribute list; in the fill pass points *first at its first element. */
static int
get_attrs(struct reader *r, const struct lookup_attr **first, size_t *count)
{
    struct lookup_attr *a;
    unsigned char kind;
    size_t n;
    int rc;

    rc = get_count(r, LOOKUP_ATTR_MIN_SIZE, &n);
    if (rc) {
        return rc;
    }
    if (r->attrs) {
        *first = n ? &r->attrs[r->nattrs] : NULL;
        *count = n;
    }
    for (size_t i = 0; i < n; i++) {
        a = r->attrs ? &r->attrs[r->nattrs] : NULL;
        rc = get_u8(r, &kind);
        if (rc) {
            return rc;
        }
        if (kind > LOOKUP_ATTR_KIND_QUOTED) {
            return RD_EINVAL;
        }
        rc = get_str(r, a ? &a->name : NULL);
        if (rc) {
            return rc;
        }
        if (a) {
            a->value = NULL;
            a->quoted = kind == LOOKUP_ATTR_KIND_QUOTED;
        }
        if (kind != LOOKUP_ATTR_KIND_NO_VALUE) {
            rc = get_str(r, a ? &a->value : NULL);
            if (rc) {
                return rc;
            }
        }
        r->nattrs++;
    }
    return RD_OK;
}

static int
read_record(struct reader *r, struct lookup_reg *reg)
{
    unsigned char version;
    unsigned char flags;
    uint64_t scope = 0;
    uint64_t lt;
    size_t nlinks;
    int rc;

    r->pos = 0;
    r->nlinks = 0;
    r->nattrs = 0;
    r->nbytes = 0;
    rc = get_u8(r, &version);
    if (rc || (version != LOOKUP_RECORD_VERSION && version != LOOKUP_RECORD_VERSION_OWNER)) {
        return RD_EINVAL;
    }
    rc = get_u8(r, &flags);
    if (rc || (flags & ~(LOOKUP_RECORD_BASE_EXPLICIT | LOOKUP_RECORD_SCOPED))) {
        return RD_EINVAL;
    }
    rc = get_varint(r, &lt);
    if (rc || lt > UINT32_MAX) {
        return RD_EINVAL;
    }
    if (flags & LOOKUP_RECORD_SCOPED) {
        /* 0 is "not scoped", which the flag says it is not. */
        rc = get_varint(r, &scope);
        if (rc || scope == 0 || scope > UINT32_MAX) {
            return RD_EINVAL;
        }
    }
    rc = get_str(r, &reg->base);
    if (rc) {
        return rc;
    }
    if (version == LOOKUP_RECORD_VERSION_OWNER) {
        rc = get_str(r, &reg->owner);
        if (rc) {
            return rc;
        }
    }
    rc = get_attrs(r, &reg->attrs, &reg->nattrs);
    if (rc) {
        return rc;
    }
    rc = get_count(r, LOOKUP_LINK_MIN_SIZE, &nlinks);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < nlinks; i++) {
        struct lookup_link *l = r->links ? &r->links[r->nlinks] : NULL;

        rc = get_str(r, l ? &l->target : NULL);
        if (rc) {
            return rc;
        }
        rc = get_attrs(r, l ? &l->attrs : NULL, l ? &l->nattrs : NULL);
        if (rc) {
            return rc;
        }
        r->nlinks++;
    }
    if (r->pos != r->len) {
        return RD_EINVAL;
    }
    reg->base_explicit = flags & LOOKUP_RECORD_BASE_EXPLICIT;
    reg->lt = (uint32_t)lt;
    reg->scope = (uint32_t)scope;
    reg->links = nlinks ? r->links : NULL;
    reg->nlinks = nlinks;
    return RD_OK;
}

/* Reads a string in place: *out points into the record, *out_len bytes, no NUL. */
static int
get_span(struct reader *r, const char **out, size_t *out_len)
{
    uint64_t n;
    int rc = get_varint(r, &n);

    if (rc || n > r->len - r->pos || memchr(r->p + r->pos, '\0', (size_t)n)) {
        return RD_EINVAL;
    }
    *out = (const char *)(r->p + r->pos);
    *out_len = (size_t)n;
    r->pos += (size_t)n;
    return RD_OK;
}

int
lookup_reg_head(const void *data, size_t len, struct lookup_reg_head *out)
{
    struct reader r;
    unsigned char version;
    unsigned char flags;
    uint64_t lt;
    uint64_t scope = 0;

    memset(&r, 0, sizeof(r));
    memset(out, 0, sizeof(*out));
    r.p = data;
    r.len = len;
    if (get_u8(&r, &version) ||
        (version != LOOKUP_RECORD_VERSION && version != LOOKUP_RECORD_VERSION_OWNER) ||
        get_u8(&r, &flags) || (flags & ~(LOOKUP_RECORD_BASE_EXPLICIT | LOOKUP_RECORD_SCOPED)) ||
        get_varint(&r, &lt) || lt > UINT32_MAX) {
        return RD_EINVAL;
    }
    if ((flags & LOOKUP_RECORD_SCOPED) &&
        (get_varint(&r, &scope) || scope == 0 || scope > UINT32_MAX)) {
        return RD_EINVAL;
    }
    if (get_span(&r, &out->base, &out->base_len)) {
        return RD_EINVAL;
    }
    if (version == LOOKUP_RECORD_VERSION_OWNER && get_span(&r, &out->owner, &out->owner_len)) {
        return RD_EINVAL;
    }
    out->base_explicit = flags & LOOKUP_RECORD_BASE_EXPLICIT;
    out->lt = (uint32_t)lt;
    out->scope = (uint32_t)scope;
    return RD_OK;
}

/* The head of a record up to its base: version, flags, lifetime and link. */
static size_t
enc_head(unsigned char *p, unsigned char version, unsigned char flags, uint32_t lt, uint32_t scope)
{
    unsigned char head[2] = { version, flags };
    size_t at = enc_bytes(p, 0, head, sizeof(head));

    at = enc_varint(p, at, lt);
    return scope ? enc_varint(p, at, scope) : at;
}

int
lookup_reg_rebase(const void *data, size_t len, const char *base, struct lookup_buf *out)
{
    const unsigned char *rec = data;
    struct lookup_reg_head h;
    unsigned char version;
    size_t rest;
    size_t size;
    unsigned char *p;
    int rc;

    if (!data || !base || lookup_reg_head(data, len, &h) != RD_OK || h.scope) {
        return RD_EINVAL;
    }
    /* lookup_reg_head() accepts canonical varints only, so the head re-encodes to its bytes. */
    version = rec[0];
    rest = (size_t)((const unsigned char *)h.base - rec) + h.base_len;
    size = enc_head(NULL, version, 0, h.lt, 0);
    size = enc_str(NULL, size, base) + (len - rest);
    rc = lookup__buf_reserve(out, size);
    if (rc) {
        return rc;
    }
    p = (unsigned char *)out->data + out->len;
    (void)enc_str(p, enc_head(p, version, 0, h.lt, 0), base);
    memcpy(p + size - (len - rest), rec + rest, len - rest);
    out->len += size;
    out->data[out->len] = '\0';
    return RD_OK;
}

int
lookup_reg_decode(struct lookup_reg *out, const void *data, size_t len)
{
    struct lookup_reg reg;
    struct reader r;
    size_t links_size;
    size_t attrs_size;
    char *mem = NULL;
    int rc;

    memset(&reg, 0, sizeof(reg));
    memset(&r, 0, sizeof(r));
    r.p = data;
    r.len = len;
    rc = read_record(&r, &reg);
    if (rc) {
        goto out;
    }
    /* Each link, attribute and string byte was backed by at least one input byte, so the size
     * is linear in len and cannot overflow. */
    links_size = r.nlinks * sizeof(struct lookup_link);
    attrs_size = r.nattrs * sizeof(struct lookup_attr);
    mem = malloc(links_size + attrs_size + r.nbytes);
    if (!mem) {
        rc = RD_ENOMEM;
        goto out;
    }
    r.links = (struct lookup_link *)(void *)mem;
    r.attrs = (struct lookup_attr *)(void *)(mem + links_size);
    r.str = mem + links_size + attrs_size;
    memset(&reg, 0, sizeof(reg));
    rc = read_record(&r, &reg);
    if (rc) {
        /* Unreachable: the fill pass reads the bytes the counting pass accepted. */
        goto out;
    }
    reg.mem = mem;
    mem = NULL;
    *out = reg;
out:
    free(mem);
    return rc;
}

void
lookup_reg_cleanup(struct lookup_reg *reg)
{
    if (!reg) {
        return;
    }
    free(reg->mem);
    memset(reg, 0, sizeof(*reg));
}

static int
has_name(const struct lookup_attr *attrs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(attrs[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
lookup_attrs_merge(const struct lookup_attr *old, size_t nold, const struct lookup_attr *upd,
                   size_t nupd, struct lookup_attr **out, size_t *nout)
{
    struct lookup_attr *m = NULL;
    size_t n = 0;

    if (nold + nupd > 0) {
        if (nold + nupd > SIZE_MAX / sizeof(*m)) {
            return RD_ENOMEM;
        }
        m = malloc((nold + nupd) * sizeof(*m));
        if (!m) {
            return RD_ENOMEM;
        }
    }
    /* Query keys are case-sensitive, so names compare exactly. A name in the update replaces
     * all its old values at once: this is how a repeated attribute such as et is changed. */
    for (size_t i = 0; i < nold; i++) {
        if (!has_name(upd, nupd, old[i].name)) {
            m[n++] = old[i];
        }
    }
    for (size_t i = 0; i < nupd; i++) {
        m[n++] = upd[i];
    }
    *out = m;
    *nout = n;
    return RD_OK;
}

void
lookup_attrs_free(struct lookup_attr *attrs)
{
    free(attrs);
}
