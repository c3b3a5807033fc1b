/* Validation of registration base URIs (RFC 3986 sections 3 and 4.3, RFC 9176 section 5). */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"


static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
is_unreserved(unsigned char c)
{
    return lookup__is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
is_sub_delim(unsigned char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* RFC 3986 dec-octet: 0 to 255 without leading zeros. Returns the digits used, 0 if none fit. */
static size_t
dec_octet(const unsigned char *s, size_t n)
{
    size_t i = 0;
    unsigned v = 0;

    while (i < n && i < 3 && is_digit(s[i])) {
        v = v * 10 + (unsigned)(s[i] - '0');
        i++;
    }
    if (i == 0 || v > 255 || (i > 1 && s[0] == '0')) {
        return 0;
    }
    return i;
}

static int
is_ipv4(const unsigned char *s, size_t n)
{
    size_t i = 0;
    size_t k;

    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (i == n || s[i] != '.') {
                return 0;
            }
            i++;
        }
        k = dec_octet(s + i, n - i);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    return i == n;
}

/* RFC 3986 IPv6address: eight 16-bit groups, at most one "::" standing for one or more zero
 * groups, and optionally a dotted IPv4 address in place of the last two groups. */
static int
is_ipv6(const unsigned char *s, size_t n)
{
    size_t i = 0;
    size_t h;
    int groups = 0;
    int elided = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        elided = 1;
        i = 2;
    }
    while (i < n) {
        h = 0;
        while (i + h < n && is_hex(s[i + h])) {
            h++;
        }
        if (i + h < n && s[i + h] == '.') {
            if (!is_ipv4(s + i, n - i)) {
                return 0;
            }
            groups += 2;
            break;
        }
        if (h == 0 || h > 4) {
            return 0;
        }
        groups++;
        i += h;
        if (i == n) {
            break;
        }
        if (s[i] != ':') {
            return 0;
        }
        i++;
        if (i < n && s[i] == ':') {
            if (elided) {
                return 0;
            }
            elided = 1;
            i++;
        } else if (i == n) {
            return 0;
        }
    }
    return elided ? groups <= 7 : groups == 8;
}

/* Checks pct-encoded at s[i] ('%' HEXDIG HEXDIG) and returns its length, or 0. */
static size_t
pct_encoded(const unsigned char *s, size_t i, size_t len)
{
    if (s[i] != '%' || len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
        return 0;
    }
    return 3;
}

static int
check_host_port(const unsigned char *s, size_t start, size_t end, char *diag, size_t diag_size)
{
    size_t i = start;
    size_t k;
    unsigned long port = 0;
    const unsigned char *close;

    if (memchr(s + start, '@', end - start)) {
        /* CoAP URIs (RFC 7252 section 6) have no userinfo, and credentials in a base would be
         * published to every lookup client. */
        lookup__diag(diag, diag_size, "base: userinfo not allowed");
        return RD_EINVAL;
    }
    if (i < end && s[i] == '[') {
        close = memchr(s + i, ']', end - i);
        if (!close) {
            lookup__diag(diag, diag_size, "base: unterminated IP literal");
            return RD_EINVAL;
        }
        k = (size_t)(close - s);
        /* RFC 9176 section 5: a link-local base carries no zone identifier (RFC 6874 "%25"). */
        if (memchr(s + i, '%', k - i)) {
            lookup__diag(diag, diag_size, "base: zone identifier not allowed");
            return RD_EINVAL;
        }
        if (!is_ipv6(s + i + 1, k - i - 1)) {
            lookup__diag(diag, diag_size, "base: invalid IPv6 literal");
            return RD_EINVAL;
        }
        i = k + 1;
    } else {
        while (i < end && s[i] != ':') {
            if (is_unreserved(s[i]) || is_sub_delim(s[i])) {
                i++;
                continue;
            }
            k = pct_encoded(s, i, end);
            if (k == 0) {
                lookup__diag(diag, diag_size,
                             "base: invalid character 0x%02x in host at offset %zu", (unsigned)s[i],
                             i);
                return RD_EINVAL;
            }
            i += k;
        }
        if (i == start) {
            lookup__diag(diag, diag_size, "base: empty host");
            return RD_EINVAL;
        }
    }
    if (i == end) {
        return RD_OK;
    }
    if (s[i] != ':') {
        lookup__diag(diag, diag_size, "base: expected ':' or '/' at offset %zu", i);
        return RD_EINVAL;
    }
    i++;
    if (i == end) {
        lookup__diag(diag, diag_size, "base: empty port");
        return RD_EINVAL;
    }
    for (; i < end; i++) {
        if (!is_digit(s[i])) {
            lookup__diag(diag, diag_size, "base: port: expected 1..65535");
            return RD_EINVAL;
        }
        port = port * 10 + (unsigned long)(s[i] - '0');
        if (port > 65535) {
            lookup__diag(diag, diag_size, "base: port: expected 1..65535");
            return RD_EINVAL;
        }
    }
    if (port == 0) {
        lookup__diag(diag, diag_size, "base: port: expected 1..65535");
        return RD_EINVAL;
    }
    return RD_OK;
}

size_t
lookup__scheme_len(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 1;

    if (len == 0 || !lookup__is_alpha(s[0])) {
        return 0;
    }
    while (i < len &&
           (lookup__is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
        i++;
    }
    return i < len && s[i] == ':' ? i : 0;
}

int
lookup_uri_check_base(const char *str, size_t len, char *diag, size_t diag_size)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    size_t auth;
    size_t k;
    int rc;

    i = lookup__scheme_len(str, len);
    if (i == 0) {
        lookup__diag(diag, diag_size, "base: missing scheme");
        return RD_EINVAL;
    }
    i++;
    if (len - i < 2 || s[i] != '/' || s[i + 1] != '/') {
        lookup__diag(diag, diag_size, "base: expected '//' after the scheme");
        return RD_EINVAL;
    }
    i += 2;
    auth = i;
    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#') {
        i++;
    }
    rc = check_host_port(s, auth, i, diag, diag_size);
    if (rc) {
        return rc;
    }
    /* path-abempty: *( "/" segment ), with pchar = unreserved / pct-encoded / sub-delims / ":" /
     * "@". */
    while (i < len) {
        if (s[i] == '?') {
            lookup__diag(diag, diag_size, "base: query not allowed");
            return RD_EINVAL;
        }
        if (s[i] == '#') {
            lookup__diag(diag, diag_size, "base: fragment not allowed");
            return RD_EINVAL;
        }
        if (is_unreserved(s[i]) || is_sub_delim(s[i]) || s[i] == '/' || s[i] == ':' ||
            s[i] == '@') {
            i++;
            continue;
        }
        k = pct_encoded(s, i, len);
        if (k == 0) {
            lookup__diag(diag, diag_size, "base: invalid character 0x%02x at offset %zu",
                         (unsigned)s[i], i);
            return RD_EINVAL;
        }
        i += k;
    }
    return RD_OK;
}

/* Whether the address literal @p h (@p n bytes) can be link-local at all, by its first bytes:
 * every registration asks of its base, and inet_pton() costs more than the rest. An fe80::/10
 * address starts with a group of four hex digits fe8 to feb (inet_pton() takes no more than
 * four), a 169.254/16 one with "169.254." (no leading zeros either). */
static int
may_be_link_local(const char *h, size_t n)
{
    if (n >= 5 && h[4] == ':' && (h[0] == 'f' || h[0] == 'F') && (h[1] == 'e' || h[1] == 'E')) {
        return strchr("89abAB", h[2]) != NULL && h[2] != '\0';
    }
    return n > 8 && memcmp(h, "169.254.", 8) == 0;
}

int
lookup_uri_is_link_local(const char *uri)
{
    const char *host = uri ? strstr(uri, "://") : NULL;
    unsigned char a[16];
    char lit[INET6_ADDRSTRLEN + 1];
    size_t n;

    if (!host) {
        return 0;
    }
    host += 3;
    if (host[0] == '[') {
        host++;
        n = strcspn(host, "]");
    } else {
        n = strcspn(host, ":/?#");
    }
    if (n == 0 || n >= sizeof(lit) || !may_be_link_local(host, n)) {
        return 0;
    }
    memcpy(lit, host, n);
    lit[n] = '\0';
    if (inet_pton(AF_INET6, lit, a) == 1) {
        return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
    }
    return inet_pton(AF_INET, lit, a) == 1 && a[0] == 169 && a[1] == 254;
}
