/* Reference resolution against a base URI (RFC 3986 sections 5.2 and 5.3), and normalization
 * for comparison (sections 6.2.2 and 6.2.3). */
#include <stddef.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* The five components of a URI-reference (RFC 3986 appendix B). A NULL pointer marks an
 * undefined component, which is not the same as an empty one: "coap://h?" has an empty query. */
struct uri_parts {
    const char *scheme;
    size_t scheme_len;
    const char *auth;
    size_t auth_len;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
    const char *frag;
    size_t frag_len;
};

/* The fixed output buffer. Once something does not fit, everything after is dropped and the
 * whole resolution fails. */
struct out {
    char *buf;
    size_t cap; /**< bytes available before the NUL */
    size_t len;
    int overflow;
};

/* The path still to be cleaned by remove_dot_segments(): up to two pieces of the inputs (the
 * merged base path and the reference path), read in place, and a leading "/" that the
 * algorithm substitutes for a consumed "/." or "/..". */
struct path_in {
    const char *a;
    size_t na;
    const char *b;
    size_t nb;
    int slash;
};


static void
split_uri(const char *s, struct uri_parts *u)
{
    size_t n;

    memset(u, 0, sizeof(*u));
    n = lookup__scheme_len(s, strlen(s));
    if (n) {
        u->scheme = s;
        u->scheme_len = n;
        s += n + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        n = strcspn(s, "/?#");
        u->auth = s;
        u->auth_len = n;
        s += n;
    }
    n = strcspn(s, "?#");
    u->path = s;
    u->path_len = n;
    s += n;
    if (*s == '?') {
        s++;
        n = strcspn(s, "#");
        u->query = s;
        u->query_len = n;
        s += n;
    }
    if (*s == '#') {
        s++;
        u->frag = s;
        u->frag_len = strlen(s);
    }
}

static void
put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    if (n) {
        memcpy(o->buf + o->len, s, n);
    }
    o->len += n;
}

/* The byte @p k places into the remaining input, or -1 past its end. */
static int
peek(const struct path_in *in, size_t k)
{
    if (in->slash) {
        if (k == 0) {
            return '/';
        }
        k--;
    }
    if (k < in->na) {
        return (unsigned char)in->a[k];
    }
    k -= in->na;
    if (k < in->nb) {
        return (unsigned char)in->b[k];
    }
    return -1;
}

static void
skip(struct path_in *in, size_t n)
{
    if (n && in->slash) {
        in->slash = 0;
        n--;
    }
    if (n <= in->na) {
        in->a += n;
        in->na -= n;
        return;
    }
    n -= in->na;
    in->a += in->na;
    in->na = 0;
    in->b += n;
    in->nb -= n;
}

/* Removes the last segment and its preceding "/" (if any) from the path written since
 * @p start. */
static void
pop_segment(struct out *o, size_t start)
{
    while (o->len > start && o->buf[o->len - 1] != '/') {
        o->len--;
    }
    if (o->len > start) {
        o->len--;
    }
}

/* RFC 3986 section 5.2.4, step by step, reading the input in place and writing the output
 * straight into the result, so that nothing is allocated. The price: a segment that a later
 * ".." removes still needs room while it is there, so a path whose longest intermediate form
 * does not fit fails with RD_ETOOBIG even if its final form would. */
static void
remove_dot_segments(struct path_in *in, struct out *o)
{
    size_t start = o->len;
    int c0;
    int c1;
    int c2;
    int c3;

    while (!o->overflow) {
        c0 = peek(in, 0);
        if (c0 < 0) {
            break;
        }
        c1 = peek(in, 1);
        c2 = peek(in, 2);
        c3 = peek(in, 3);
        if (c0 == '.' && c1 == '.' && c2 == '/') {
            skip(in, 3); /* A: "../" */
        } else if (c0 == '.' && c1 == '/') {
            skip(in, 2); /* A: "./" */
        } else if (c0 == '/' && c1 == '.' && c2 == '/') {
            skip(in, 2); /* B: "/./" becomes "/" */
        } else if (c0 == '/' && c1 == '.' && c2 < 0) {
            skip(in, 2); /* B: a final "/." becomes "/" */
            in->slash = 1;
        } else if (c0 == '/' && c1 == '.' && c2 == '.' && c3 == '/') {
            skip(in, 3); /* C: "/../" becomes "/" and drops a segment */
            pop_segment(o, start);
        } else if (c0 == '/' && c1 == '.' && c2 == '.' && c3 < 0) {
            skip(in, 3); /* C: a final "/.." becomes "/" and drops a segment */
            in->slash = 1;
            pop_segment(o, start);
        } else if (c0 == '.' && (c1 < 0 || (c1 == '.' && c2 < 0))) {
            break; /* D: the input is "." or ".." */
        } else {
            /* E: move one segment, with its leading "/" if it has one. */
            do {
                char c = (char)c0;

                put(o, &c, 1);
                skip(in, 1);
                c0 = peek(in, 0);
            } while (c0 >= 0 && c0 != '/' && !o->overflow);
        }
    }
}

static void
put_clean_path(struct out *o, const char *a, size_t na, const char *b, size_t nb)
{
    struct path_in in = { a, na, b, nb, 0 };

    remove_dot_segments(&in, o);
}

int
lookup_uri_resolve(const char *base, const char *ref, char *out, size_t size)
{
    struct uri_parts b;
    struct uri_parts r;
    struct out o = { out, size ? size - 1 : 0, 0, size == 0 };
    const struct uri_parts *query = &r;
    const char *slash;
    int rc = RD_OK;

    split_uri(ref, &r);
    if (r.scheme) {
        /* RFC 3986 section 5.2.2, strict: a reference with a scheme ignores the base. */
        put(&o, r.scheme, r.scheme_len);
        put(&o, ":", 1);
        if (r.auth) {
            put(&o, "//", 2);
            put(&o, r.auth, r.auth_len);
        }
        put_clean_path(&o, r.path, r.path_len, NULL, 0);
        goto tail;
    }
    if (!base) {
        rc = RD_EINVAL;
        goto out;
    }
    split_uri(base, &b);
    if (!b.scheme) {
        rc = RD_EINVAL;
        goto out;
    }
    put(&o, b.scheme, b.scheme_len);
    put(&o, ":", 1);
    if (r.auth) {
        put(&o, "//", 2);
        put(&o, r.auth, r.auth_len);
        put_clean_path(&o, r.path, r.path_len, NULL, 0);
        goto tail;
    }
    if (b.auth) {
        put(&o, "//", 2);
        put(&o, b.auth, b.auth_len);
    }
    if (r.path_len == 0) {
        /* The base path is taken as it is, dot segments and all. */
        put(&o, b.path, b.path_len);
        if (!r.query) {
            query = &b;
        }
    } else if (r.path[0] == '/') {
        put_clean_path(&o, r.path, r.path_len, NULL, 0);
    } else if (b.auth && b.path_len == 0) {
        /* Section 5.2.3: merging with an empty base path under an authority gives "/" first. */
        put_clean_path(&o, "/", 1, r.path, r.path_len);
    } else {
        /* Section 5.2.3: all but the last segment of the base path, then the reference. */
        slash = b.path + b.path_len;
        while (slash > b.path && slash[-1] != '/') {
            slash--;
        }
        put_clean_path(&o, b.path, (size_t)(slash - b.path), r.path, r.path_len);
    }
tail:
    /* Section 5.3: recomposition, keeping empty but defined components. */
    if (query->query) {
        put(&o, "?", 1);
        put(&o, query->query, query->query_len);
    }
    if (r.frag) {
        put(&o, "#", 1);
        put(&o, r.frag, r.frag_len);
    }
    if (o.overflow) {
        rc = RD_ETOOBIG;
        goto out;
    }
    out[o.len] = '\0';
out:
    if (rc && size > 0) {
        out[0] = '\0';
    }
    return rc;
}

static int
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned
hex_value(unsigned char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static char
to_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copy @p n bytes with percent-encoding normalized (RFC 3986 section 6.2.2.2: an encoded
 * unreserved character decoded, other triplets with upper-case hex, section 6.2.2.1), and
 * letters in lower case when @p lower (the case-insensitive scheme and host). */
static void
put_normal(struct out *o, const char *s, size_t n, int lower)
{
    static const char unreserved_marks[] = "-._~";

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%' && n - i > 2 && is_hex((unsigned char)s[i + 1]) &&
            is_hex((unsigned char)s[i + 2])) {
            static const char hex[] = "0123456789ABCDEF";
            unsigned v =
                hex_value((unsigned char)s[i + 1]) << 4 | hex_value((unsigned char)s[i + 2]);
            char triplet[3] = { '%', hex[v >> 4], hex[v & 15] };

            i += 2;
            c = (char)v;
            if (lookup__is_alpha((unsigned char)c) || (c >= '0' && c <= '9') ||
                (c && strchr(unreserved_marks, c))) {
                c = lower ? to_lower(c) : c;
                put(o, &c, 1);
            } else {
                put(o, triplet, 3);
            }
            continue;
        }
        c = lower ? to_lower(c) : c;
        put(o, &c, 1);
    }
}

/* The port a scheme implies (RFC 7252 section 6, RFC 8323 section 8, RFC 9110 section 4.2), or
 * NULL. */
static const char *
default_port(const char *scheme, size_t len)
{
    static const struct {
        const char *scheme;
        const char *port;
    } ports[] = { { "coap", "5683" },      { "coaps", "5684" }, { "coap+tcp", "5683" },
                  { "coaps+tcp", "5684" }, { "coap+ws", "80" }, { "coaps+ws", "443" },
                  { "http", "80" },        { "https", "443" } };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        size_t k = 0;

        while (k < len && ports[i].scheme[k] && to_lower(scheme[k]) == ports[i].scheme[k]) {
            k++;
        }
        if (k == len && ports[i].scheme[k] == '\0') {
            return ports[i].port;
        }
    }
    return NULL;
}

/* The authority, normalized: userinfo as it is but for percent-encoding, the host in lower case,
 * and no port when it is empty or the scheme's default (section 6.2.3), unless @p keep_port. */
static void
put_authority(struct out *o, const struct uri_parts *u, int keep_port)
{
    const char *a = u->auth;
    size_t n = u->auth_len;
    const char *at = memchr(a, '@', n);
    const char *host;
    const char *colon = NULL;
    const char *dflt;
    size_t host_len;
    size_t from = 0;

    if (at) {
        put_normal(o, a, (size_t)(at - a) + 1, 0);
        n -= (size_t)(at - a) + 1;
        a = at + 1;
    }
    host = a;
    /* An IP literal's colons are inside its brackets. */
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);

        from = close ? (size_t)(close - a) : n;
    }
    for (size_t i = from; i < n; i++) {
        if (a[i] == ':') {
            colon = a + i;
        }
    }
    host_len = colon ? (size_t)(colon - host) : n;
    put_normal(o, host, host_len, 1);
    if (!colon) {
        return;
    }
    dflt = default_port(u->scheme, u->scheme_len);
    if (!keep_port && (colon + 1 == a + n || (dflt && strlen(dflt) == (size_t)(a + n - colon - 1) &&
                                              memcmp(dflt, colon + 1, strlen(dflt)) == 0))) {
        return;
    }
    put(o, colon, (size_t)(a + n - colon));
}

int
lookup_uri_normalize(const char *uri, int prefix, char *out, size_t size)
{
    struct uri_parts u;
    struct out o = { out, size ? size - 1 : 0, 0, size == 0 };
    char path[LOOKUP_URI_MAX];
    struct out p = { path, sizeof(path), 0, 0 };
    int rc = RD_OK;

    split_uri(uri, &u);
    if (!u.scheme) {
        rc = RD_EINVAL;
        goto out;
    }
    put_normal(&o, u.scheme, u.scheme_len, 1);
    put(&o, ":", 1);
    if (u.auth) {
        /* A prefix may stop inside the port: "coap://h:56" is not "coap://h". */
        put(&o, "//", 2);
        put_authority(&o, &u, prefix && u.auth[u.auth_len] == '\0');
    }
    put_normal(&p, u.path, u.path_len, 0);
    if (p.overflow) {
        rc = RD_ETOOBIG;
        goto out;
    }
    if (prefix) {
        /* A prefix is not a URI: its last segment may be cut short, so dots stay. */
        put(&o, path, p.len);
    } else if (u.auth && p.len == 0) {
        put(&o, "/", 1);
    } else {
        put_clean_path(&o, path, p.len, NULL, 0);
    }
    if (u.query) {
        put(&o, "?", 1);
        put_normal(&o, u.query, u.query_len, 0);
    }
    if (u.frag) {
        put(&o, "#", 1);
        put_normal(&o, u.frag, u.frag_len, 0);
    }
    if (o.overflow) {
        rc = RD_ETOOBIG;
        goto out;
    }
    out[o.len] = '\0';
out:
    if (rc && size > 0) {
        out[0] = '\0';
    }
    return rc;
}
