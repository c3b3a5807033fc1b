/* Uri-Query options: split into parameters, and a lookup query's page, count and filters
 * (RFC 9176 section 6). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

void
lookup_qparam_split(struct lookup_qparam *out, const char *opt, size_t len)
{
    const char *eq = len ? memchr(opt, '=', len) : NULL;

    out->key = opt;
    if (!eq) {
        out->key_len = len;
        out->value = NULL;
        out->value_len = 0;
        return;
    }
    out->key_len = (size_t)(eq - opt);
    out->value = eq + 1;
    out->value_len = len - out->key_len - 1;
}

/* Whether the parameter is lookup's own @p name (lower case), in any case. RFC 9176 section 6
 * makes every other lookup parameter a filter named after an attribute, and attribute names
 * compare without case (RFC 8288 section 3, which RFC 6690 follows): "Page" as a filter would be
 * the filter "page", which cannot exist beside the parameter. So the query's names form one
 * case-insensitive space, and "Page=2&COUNT=5" pages as the lower-case spelling does. */
static int
key_is(const struct lookup_qparam *q, const char *name)
{
    return lookup__name_is(q->key, q->key_len, name);
}

/* Parses a decimal 0..4294967295 without sign, spaces or exponent, which strtoul would take. */
static int
parse_u32(const struct lookup_qparam *q, uint32_t *out)
{
    uint64_t v = 0;

    if (!q->value || q->value_len == 0) {
        return RD_EINVAL;
    }
    for (size_t i = 0; i < q->value_len; i++) {
        unsigned char c = (unsigned char)q->value[i];

        if (c < '0' || c > '9') {
            return RD_EINVAL;
        }
        v = v * 10 + (uint64_t)(c - '0');
        if (v > UINT32_MAX) {
            return RD_EINVAL;
        }
    }
    *out = (uint32_t)v;
    return RD_OK;
}

int
lookup_query_parse(struct lookup_query *out, const struct lookup_qparam *q, size_t nq, char *diag,
                   size_t diag_size)
{
    struct lookup_query r;
    struct lookup_crit *c;
    int has_page = 0;
    int rc = RD_OK;

    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < nq; i++) {
        if (key_is(&q[i], "page")) {
            if (has_page) {
                lookup__diag(diag, diag_size, "repeated page");
                rc = RD_EINVAL;
                goto out;
            }
            if (parse_u32(&q[i], &r.page)) {
                lookup__diag(diag, diag_size, "page: expected 0..4294967295");
                rc = RD_EINVAL;
                goto out;
            }
            has_page = 1;
            continue;
        }
        if (key_is(&q[i], "count")) {
            if (r.has_count) {
                lookup__diag(diag, diag_size, "repeated count");
                rc = RD_EINVAL;
                goto out;
            }
            if (parse_u32(&q[i], &r.count)) {
                lookup__diag(diag, diag_size, "count: expected 0..4294967295");
                rc = RD_EINVAL;
                goto out;
            }
            r.has_count = 1;
            continue;
        }
        if (q[i].key_len == 0) {
            lookup__diag(diag, diag_size, "empty parameter name");
            rc = RD_EINVAL;
            goto out;
        }
        if (r.ncrit == LOOKUP_CRIT_MAX) {
            lookup__diag(diag, diag_size, "more than %d search criteria", LOOKUP_CRIT_MAX);
            rc = RD_EINVAL;
            goto out;
        }
        c = &r.crit[r.ncrit++];
        c->name = q[i].key;
        c->name_len = q[i].key_len;
        c->value = q[i].value;
        c->value_len = q[i].value ? q[i].value_len : 0;
        c->prefix = 0;
        if (c->value && c->value_len > 0 && c->value[c->value_len - 1] == '*') {
            c->prefix = 1;
            c->value_len--;
        }
    }
    /* RFC 9176 section 6.2: a page has no size without count. */
    if (has_page && !r.has_count) {
        lookup__diag(diag, diag_size, "page needs count");
        rc = RD_EINVAL;
        goto out;
    }
    *out = r;
out:
    return rc;
}
