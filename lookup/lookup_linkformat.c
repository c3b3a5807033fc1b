/* Link-format parser and writer (RFC 6690 section 2); Limited Link Format (RFC 9176 section 5). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* The parser reads a document once: it validates it, counts links, attributes and string
 * bytes, and notes where each string lies. After a single allocation, the strings are copied
 * from those notes, without a second look at the grammar. */
enum span_kind {
    SPAN_TARGET, /**< starts a link */
    SPAN_NAME,   /**< starts an attribute of the last link */
    SPAN_TOKEN,  /**< the value of the last attribute, as sent */
    SPAN_QUOTED, /**< the value of the last attribute, between the quotes, still escaped */
};

struct span {
    size_t off;
    size_t len;
    enum span_kind kind;
};

/* Notes kept on the stack: enough for some 40 links with two attributes each. */
#define PARSER_LOCAL_SPANS 128

struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t max_links;
    char *diag;
    size_t diag_size;
    size_t nlinks; /**< links seen so far */
    size_t nattrs; /**< attributes seen so far, over all links */
    size_t nbytes; /**< string bytes so far, NULs included */
    struct span *spans; /**< local, or a heap array of cap */
    size_t nspans;
    size_t cap;
    struct span local[PARSER_LOCAL_SPANS];
};

void
lookup__diag(char *diag, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (!diag || size == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(diag, size, fmt, ap);
    va_end(ap);
}

size_t
lookup__utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;

    if (c < 0x80) {
        return 1;
    }
    /* The ranges of the second byte follow RFC 3629 section 4, which excludes overlong forms,
     * surrogates and code points above U+10FFFF. */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* RFC 6690 ptokenchar: visible ASCII except DQUOTE, ',', ';' and backslash. */
static int
is_ptokenchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int
is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
skip_ws(struct parser *p)
{
    while (p->pos < p->len && is_ws(p->s[p->pos])) {
        p->pos++;
    }
}

/* Note a string of @p len bytes at @p off, which takes @p nbytes in the output with its NUL. */
static int
note(struct parser *p, enum span_kind kind, size_t off, size_t len, size_t nbytes)
{
    struct span *sp;

    if (p->nspans == p->cap) {
        sp = lookup__grow(p->spans, p->cap, sizeof(*sp), p->local);
        if (!sp) {
            return RD_ENOMEM;
        }
        p->spans = sp;
        p->cap *= 2;
    }
    sp = &p->spans[p->nspans++];
    sp->off = off;
    sp->len = len;
    sp->kind = kind;
    p->nbytes += nbytes;
    return RD_OK;
}

/* Sets of ASCII characters, a bit each, so that the loops over runs of plain characters cost
 * one test per byte. VISIBLE is 0x21 to 0x7e. */
#define BIT(c)       (1ull << ((c) & 63))
#define VISIBLE_LO   (~0ull << 0x21)
#define VISIBLE_HI   (~0ull >> 1)

/* What continues a target without a closer look: visible, not '<', '"' or the closing '>'. */
static const uint64_t target_run[2] = { VISIBLE_LO & ~(BIT('<') | BIT('"') | BIT('>')),
                                        VISIBLE_HI };
/* What continues a quoted string without a closer look: visible, space or tab, not '"' or
 * the backslash. */
static const uint64_t quoted_run[2] = { (VISIBLE_LO | BIT(' ') | BIT('\t')) & ~BIT('"'),
                                        VISIBLE_HI & ~BIT('\\') };

static int
in_set(const uint64_t set[2], unsigned char c)
{
    return c < 128 && (set[c >> 6] >> (c & 63)) & 1;
}

/* Step over the UTF-8 sequence at the parser's position, which is not ASCII. */
static int
skip_utf8(struct parser *p)
{
    size_t n = lookup__utf8_seq(p->s + p->pos, p->len - p->pos);

    if (n == 0) {
        lookup__diag(p->diag, p->diag_size, "link-format: invalid UTF-8 at offset %zu", p->pos);
        return RD_EINVAL;
    }
    p->pos += n;
    return RD_OK;
}

/* Whether byte @p c may stand in a target. RFC 9176 appendix B.4: link-format is UTF-8 and
 * never percent-decoded, so any visible character is kept as sent; only what cannot be part of
 * a URI-reference in any form is refused. */
static int
is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '<' && c != '"';
}

static int
parse_target(struct parser *p)
{
    size_t start = p->pos;
    unsigned char c;

    p->pos++; /* '<' */
    for (;;) {
        /* The ASCII run first: a target is copied as sent, in one piece at the '>'. */
        while (p->pos < p->len && in_set(target_run, p->s[p->pos])) {
            p->pos++;
        }
        if (p->pos == p->len) {
            lookup__diag(p->diag, p->diag_size, "link-format: unterminated '<' at offset %zu",
                         start);
            return RD_EINVAL;
        }
        c = p->s[p->pos];
        if (c == '>') {
            break;
        }
        if (!is_target_char(c)) {
            lookup__diag(p->diag, p->diag_size,
                         "link-format: invalid character 0x%02x in target at offset %zu",
                         (unsigned)c, p->pos);
            return RD_EINVAL;
        }
        if (skip_utf8(p)) {
            return RD_EINVAL;
        }
    }
    p->pos++; /* '>' */
    return note(p, SPAN_TARGET, start + 1, p->pos - start - 2, p->pos - start - 1);
}

static int
is_quoted_char(unsigned char c)
{
    return (c >= 0x20 || c == '\t') && c != 0x7f;
}

static int
parse_quoted(struct parser *p)
{
    size_t start = p->pos;
    size_t escapes = 0;
    unsigned char c;

    p->pos++; /* '"' */
    for (;;) {
        /* Runs of plain ASCII are checked in one loop; a backslash or anything else stops it. */
        while (p->pos < p->len && in_set(quoted_run, p->s[p->pos])) {
            p->pos++;
        }
        if (p->pos == p->len) {
            goto unterminated;
        }
        c = p->s[p->pos];
        if (c == '"') {
            break;
        }
        if (c == '\\') {
            /* A quoted-pair stands for the character after the backslash, whatever it is;
             * the checks below still apply to it. */
            escapes++;
            p->pos++;
            if (p->pos == p->len) {
                goto unterminated;
            }
            c = p->s[p->pos];
        }
        if (!is_quoted_char(c)) {
            lookup__diag(p->diag, p->diag_size,
                         "link-format: control character 0x%02x in quoted string at offset %zu",
                         (unsigned)c, p->pos);
            return RD_EINVAL;
        }
        if (c < 0x80) {
            p->pos++;
        } else if (skip_utf8(p)) {
            return RD_EINVAL;
        }
    }
    p->pos++; /* '"' */
    return note(p, SPAN_QUOTED, start + 1, p->pos - start - 2, p->pos - start - 1 - escapes);
unterminated:
    lookup__diag(p->diag, p->diag_size, "link-format: unterminated quoted string at offset %zu",
                 start);
    return RD_EINVAL;
}

/* Parses one link-param after its ';' and any whitespace. */
static int
parse_param(struct parser *p)
{
    size_t start = p->pos;
    int rc;

    while (p->pos < p->len && lookup__is_tchar(p->s[p->pos])) {
        p->pos++;
    }
    if (p->pos == start) {
        lookup__diag(p->diag, p->diag_size, "link-format: expected parameter name at offset %zu",
                     start);
        return RD_EINVAL;
    }
    rc = note(p, SPAN_NAME, start, p->pos - start, p->pos - start + 1);
    if (rc) {
        return rc;
    }
    p->nattrs++;
    if (p->pos == p->len || p->s[p->pos] != '=') {
        return RD_OK;
    }
    p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '"') {
        return parse_quoted(p);
    }
    start = p->pos;
    while (p->pos < p->len && is_ptokenchar(p->s[p->pos])) {
        p->pos++;
    }
    if (p->pos == start) {
        lookup__diag(p->diag, p->diag_size, "link-format: expected value at offset %zu", start);
        return RD_EINVAL;
    }
    return note(p, SPAN_TOKEN, start, p->pos - start, p->pos - start + 1);
}

/* Parses one link-value with its parameters, and the ',' after it if there is one. Sets *more
 * when a ',' was consumed. */
static int
parse_link(struct parser *p, int *more)
{
    int rc;

    *more = 0;
    if (p->nlinks == p->max_links) {
        lookup__diag(p->diag, p->diag_size, "link-format: more than %zu links", p->max_links);
        return RD_ETOOBIG;
    }
    if (p->pos == p->len || p->s[p->pos] != '<') {
        lookup__diag(p->diag, p->diag_size, "link-format: expected '<' at offset %zu", p->pos);
        return RD_EINVAL;
    }
    rc = parse_target(p);
    if (rc) {
        return rc;
    }
    for (;;) {
        skip_ws(p);
        if (p->pos == p->len) {
            break;
        }
        if (p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            *more = 1;
            break;
        }
        if (p->s[p->pos] != ';') {
            lookup__diag(p->diag, p->diag_size, "link-format: expected ',' or ';' at offset %zu",
                         p->pos);
            return RD_EINVAL;
        }
        p->pos++;
        skip_ws(p);
        rc = parse_param(p);
        if (rc) {
            return rc;
        }
    }
    p->nlinks++;
    return RD_OK;
}

static int
parse_doc(struct parser *p)
{
    int more = 1;
    int rc;

    skip_ws(p);
    if (p->pos == p->len) {
        return RD_OK;
    }
    /* A ',' always promises another link, so "a,,b" and a trailing "," fail at the '<'. */
    while (more) {
        rc = parse_link(p, &more);
        if (rc) {
            return rc;
        }
    }
    return RD_OK;
}

/* Copy @p len bytes and a NUL to @p dst. @return where the next string goes. */
static char *
copy_str(char *dst, const unsigned char *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
    return dst + len + 1;
}

/* Copy a quoted-string's content without its escapes: a backslash stands for the byte after
 * it, which the parser has seen is there. */
static char *
copy_unescaped(char *dst, const unsigned char *src, size_t len)
{
    const unsigned char *end = src + len;

    while (src < end) {
        const unsigned char *bs = memchr(src, '\\', (size_t)(end - src));
        size_t run = bs ? (size_t)(bs - src) : (size_t)(end - src);

        memcpy(dst, src, run);
        dst += run;
        src += run;
        if (bs) {
            *dst++ = (char)bs[1];
            src = bs + 2;
        }
    }
    *dst = '\0';
    return dst + 1;
}

/* Fill the links, attributes and strings of a parsed document from the parser's notes. */
static void
build(const struct parser *p, struct lookup_link *links, struct lookup_attr *attrs, char *str)
{
    struct lookup_link *l = NULL;
    struct lookup_attr *a = NULL;
    size_t nl = 0;
    size_t na = 0;

    for (size_t i = 0; i < p->nspans; i++) {
        const struct span *sp = &p->spans[i];
        const unsigned char *src = p->s + sp->off;
        char *at = str;

        switch (sp->kind) {
        case SPAN_TARGET:
            l = &links[nl++];
            l->target = at;
            l->attrs = NULL;
            l->nattrs = 0;
            str = copy_str(str, src, sp->len);
            break;
        case SPAN_NAME:
            a = &attrs[na++];
            a->name = at;
            a->value = NULL;
            a->quoted = 0;
            if (l->nattrs++ == 0) {
                l->attrs = a;
            }
            str = copy_str(str, src, sp->len);
            break;
        case SPAN_TOKEN:
            a->value = at;
            str = copy_str(str, src, sp->len);
            break;
        case SPAN_QUOTED:
            a->value = at;
            a->quoted = 1;
            str = copy_unescaped(str, src, sp->len);
            break;
        }
    }
}

int
lookup_links_parse(struct lookup_links *out, const char *s, size_t len, size_t max_links,
                   char *diag, size_t diag_size)
{
    struct parser p;
    size_t links_size;
    size_t attrs_size;
    char *mem;
    int rc;

    p.s = (const unsigned char *)s;
    p.len = len;
    p.pos = 0;
    p.max_links = max_links;
    p.diag = diag;
    p.diag_size = diag_size;
    p.nlinks = 0;
    p.nattrs = 0;
    p.nbytes = 0;
    p.spans = p.local;
    p.nspans = 0;
    p.cap = PARSER_LOCAL_SPANS;
    rc = parse_doc(&p);
    if (rc) {
        goto out;
    }
    if (p.nlinks == 0) {
        out->links = NULL;
        out->nlinks = 0;
        out->mem = NULL;
        goto out;
    }
    /* Every link, attribute and string byte came from at least one input byte, so these sums
     * are bounded by a small multiple of len and cannot overflow. Both structs hold only
     * pointers and sizes, so the attribute array is suitably aligned after the link array. */
    links_size = p.nlinks * sizeof(struct lookup_link);
    attrs_size = p.nattrs * sizeof(struct lookup_attr);
    mem = malloc(links_size + attrs_size + p.nbytes);
    if (!mem) {
        rc = RD_ENOMEM;
        goto out;
    }
    build(&p, (struct lookup_link *)(void *)mem,
          (struct lookup_attr *)(void *)(mem + links_size), mem + links_size + attrs_size);
    out->links = (struct lookup_link *)(void *)mem;
    out->nlinks = p.nlinks;
    out->mem = mem;
out:
    if (p.spans != p.local) {
        free(p.spans);
    }
    return rc;
}

void
lookup_links_cleanup(struct lookup_links *l)
{
    if (!l) {
        return;
    }
    free(l->mem);
    l->links = NULL;
    l->nlinks = 0;
    l->mem = NULL;
}

static int
is_ptoken(const char *v)
{
    if (*v == '\0') {
        return 0;
    }
    for (; *v; v++) {
        if (!is_ptokenchar((unsigned char)*v)) {
            return 0;
        }
    }
    return 1;
}

static int
append_str(struct lookup_buf *out, const char *s)
{
    return lookup_buf_append(out, s, strlen(s));
}

int
lookup__append_quoted(struct lookup_buf *out, const char *v)
{
    const char *run = v;
    int rc;

    rc = lookup_buf_append(out, "\"", 1);
    if (rc) {
        return rc;
    }
    /* Copy runs between the characters that need a backslash, so that the common value costs
     * one append. */
    for (; *v; v++) {
        if (*v != '"' && *v != '\\') {
            continue;
        }
        rc = lookup_buf_append(out, run, (size_t)(v - run));
        if (rc) {
            return rc;
        }
        rc = lookup_buf_append(out, "\\", 1);
        if (rc) {
            return rc;
        }
        run = v;
    }
    rc = lookup_buf_append(out, run, (size_t)(v - run));
    if (rc) {
        return rc;
    }
    return lookup_buf_append(out, "\"", 1);
}

int
lookup__format_attr(const struct lookup_attr *a, struct lookup_buf *out)
{
    int rc;

    rc = lookup_buf_append(out, ";", 1);
    if (rc) {
        return rc;
    }
    rc = append_str(out, a->name);
    if (rc || !a->value) {
        return rc;
    }
    rc = lookup_buf_append(out, "=", 1);
    if (rc) {
        return rc;
    }
    /* An unquoted value that is not a ptoken (an empty one, or one with spaces, commas or
     * UTF-8) would not parse back, so it is quoted. */
    if (a->quoted || !is_ptoken(a->value)) {
        return lookup__append_quoted(out, a->value);
    }
    return append_str(out, a->value);
}

int
lookup_links_format(const struct lookup_link *links, size_t nlinks, struct lookup_buf *out)
{
    int rc = RD_OK;

    for (size_t i = 0; i < nlinks; i++) {
        if (i > 0) {
            rc = lookup_buf_append(out, ",", 1);
            if (rc) {
                goto out;
            }
        }
        rc = lookup_buf_append(out, "<", 1);
        if (rc) {
            goto out;
        }
        rc = append_str(out, links[i].target);
        if (rc) {
            goto out;
        }
        rc = lookup_buf_append(out, ">", 1);
        if (rc) {
            goto out;
        }
        for (size_t j = 0; j < links[i].nattrs; j++) {
            rc = lookup__format_attr(&links[i].attrs[j], out);
            if (rc) {
                goto out;
            }
        }
    }
out:
    return rc;
}


static int
has_scheme(const char *s)
{
    return lookup__scheme_len(s, strlen(s)) > 0;
}

static int
is_limited_ref(const char *s)
{
    if (s[0] == '/') {
        return s[1] != '/';
    }
    return has_scheme(s);
}

static int
is_hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Why @p s is not an RFC 3986 URI-reference (section 4.1), or NULL. Limited Link Format has
 * already made it a full URI or path-absolute; this checks what the characters may be: ASCII
 * (RFC 3986 section 2: other characters are percent-encoded), unreserved, reserved or a whole
 * pct-encoded triplet, one '#' at most, and '[' ']' only around an IP literal in the authority
 * (section 3.2.2). A target that is not a URI cannot be resolved or matched reliably. */
static const char *
uri_ref_error(const char *s)
{
    static const char allowed[] = "-._~:/?#[]@!$&'()*+,;=";
    const unsigned char *u = (const unsigned char *)s;
    size_t authority_end = 0; /* offset past the authority, 0 when there is none */
    int fragment = 0;

    if (s[0] != '/') {
        const char *colon = strchr(s, ':');

        if (colon && colon[1] == '/' && colon[2] == '/') {
            authority_end = (size_t)(colon + 3 - s) + strcspn(colon + 3, "/?#");
        }
    }
    for (size_t i = 0; u[i]; i++) {
        if (u[i] == '%') {
            if (!is_hex_digit(u[i + 1]) || !is_hex_digit(u[i + 2])) {
                return "bad percent-encoding";
            }
            i += 2;
            continue;
        }
        if (u[i] >= 0x80 || u[i] <= 0x20 || u[i] == 0x7f) {
            return "a character that must be percent-encoded";
        }
        if (!lookup__is_alpha(u[i]) && !(u[i] >= '0' && u[i] <= '9') && !strchr(allowed, u[i])) {
            return "a character that must be percent-encoded";
        }
        if ((u[i] == '[' || u[i] == ']') && i >= authority_end) {
            return "'[' or ']' outside an IP literal";
        }
        if (u[i] == '#' && fragment++) {
            return "'#' in the fragment";
        }
    }
    return NULL;
}

static int
is_anchor_name(const char *name)
{
    static const char anchor[] = "anchor";
    size_t i;

    /* RFC 8288 section 3: parameter names are case-insensitive. */
    for (i = 0; anchor[i]; i++) {
        char c = name[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != anchor[i]) {
            return 0;
        }
    }
    return name[i] == '\0';
}

int
lookup_links_check_limited(const struct lookup_link *links, size_t nlinks, char *diag,
                           size_t diag_size)
{
    for (size_t i = 0; i < nlinks; i++) {
        const char *why;
        int anchors = 0;

        if (!is_limited_ref(links[i].target)) {
            lookup__diag(diag, diag_size,
                         "limited link format: link %zu: target is neither a full URI nor "
                         "path-absolute",
                         i);
            return RD_EINVAL;
        }
        why = uri_ref_error(links[i].target);
        if (why) {
            lookup__diag(diag, diag_size, "link %zu: target is not a URI: %s", i, why);
            return RD_EINVAL;
        }
        for (size_t j = 0; j < links[i].nattrs; j++) {
            const struct lookup_attr *a = &links[i].attrs[j];

            if (!is_anchor_name(a->name)) {
                continue;
            }
            /* One context per link: with two anchors, which one the RD resolves against, and
             * which one a lookup's anchor filter sees, would be a guess (RFC 8288 section 3.2
             * gives the link one context IRI). */
            if (anchors++) {
                lookup__diag(diag, diag_size, "link %zu: anchor repeated", i);
                return RD_EINVAL;
            }
            if (!a->value) {
                lookup__diag(diag, diag_size, "limited link format: link %zu: anchor without value",
                             i);
                return RD_EINVAL;
            }
            /* RFC 9176 section 5 allows an empty anchor: it stands for the base URI. */
            if (a->value[0] != '\0' && !is_limited_ref(a->value)) {
                lookup__diag(diag, diag_size,
                             "limited link format: link %zu: anchor is neither a full URI nor "
                             "path-absolute",
                             i);
                return RD_EINVAL;
            }
            why = uri_ref_error(a->value);
            if (why) {
                lookup__diag(diag, diag_size, "link %zu: anchor is not a URI: %s", i, why);
                return RD_EINVAL;
            }
        }
    }
    return RD_OK;
}
