/* Endpoint and resource lookup results as link-format (RFC 9176 sections 6.1 and 6.4). */
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

static int
append_str(struct lookup_buf *out, const char *s)
{
    return lookup_buf_append(out, s, strlen(s));
}

/* Appends `;name="value"`. */
static int
append_quoted_param(struct lookup_buf *out, const char *name, const char *value)
{
    int rc;

    rc = append_str(out, name);
    if (rc) {
        return rc;
    }
    return lookup__append_quoted(out, value);
}

/* Takes back a partly written link, so that a failed call leaves the buffer as it was. */
static void
truncate_to(struct lookup_buf *out, size_t len)
{
    if (out->data) {
        out->len = len;
        out->data[len] = '\0';
    }
}

/* Resolves @p ref against the registration's base into @p uri (LOOKUP_URI_MAX bytes) and
 * points @p res at what to show. */
static int
resolve(const struct lookup_reg *rec, const char *ref, char *uri, const char **res)
{
    int rc = lookup_uri_resolve(rec->base, ref, uri, LOOKUP_URI_MAX);

    if (rc == RD_EINVAL) {
        /* Only a record without a usable base gets here; the reference as registered says
         * more than no link at all. */
        *res = ref;
        return RD_OK;
    }
    *res = uri;
    return rc;
}

int
lookup_format_ep(const struct lookup_regview *r, struct lookup_buf *out)
{
    const struct lookup_reg *rec = r->rec;
    size_t start = out->len;
    int rc;

    rc = lookup_buf_append(out, "<", 1);
    if (rc) {
        goto out;
    }
    rc = append_str(out, r->href);
    if (rc) {
        goto out;
    }
    rc = lookup_buf_append(out, ">", 1);
    if (rc) {
        goto out;
    }
    /* ep, d and base are always quoted: they are free text or URIs, and RFC 9176 section 6.4
     * shows them quoted. */
    if (r->ep) {
        rc = append_quoted_param(out, ";ep=", r->ep);
        if (rc) {
            goto out;
        }
    }
    if (r->d && r->d[0] != '\0') {
        rc = append_quoted_param(out, ";d=", r->d);
        if (rc) {
            goto out;
        }
    }
    /* The base is shown even when the RD derived it from the source address (section 6.4). */
    if (rec->base) {
        rc = append_quoted_param(out, ";base=", rec->base);
        if (rc) {
            goto out;
        }
    }
    for (size_t i = 0; i < rec->nattrs; i++) {
        rc = lookup__format_attr(&rec->attrs[i], out);
        if (rc) {
            goto out;
        }
    }
    rc = append_str(out, ";rt=core.rd-ep");
out:
    if (rc) {
        truncate_to(out, start);
    }
    return rc;
}

int
lookup_format_res(const struct lookup_regview *r, size_t i, struct lookup_buf *out)
{
    const struct lookup_reg *rec = r->rec;
    const struct lookup_link *l;
    struct lookup_attr anchor;
    char uri[LOOKUP_URI_MAX];
    const char *shown;
    size_t start = out->len;
    int rc;

    if (i >= rec->nlinks) {
        rc = RD_EINVAL;
        goto out;
    }
    l = &rec->links[i];
    rc = resolve(rec, l->target, uri, &shown);
    if (rc) {
        goto out;
    }
    rc = lookup_buf_append(out, "<", 1);
    if (rc) {
        goto out;
    }
    rc = append_str(out, shown);
    if (rc) {
        goto out;
    }
    rc = lookup_buf_append(out, ">", 1);
    if (rc) {
        goto out;
    }
    /* RFC 9176 section 6.1: the same attributes in the same order; only an anchor the device
     * gave is resolved, and none is added where it gave none. */
    for (size_t j = 0; j < l->nattrs; j++) {
        const struct lookup_attr *a = &l->attrs[j];

        if (a->value && lookup__name_is(a->name, strlen(a->name), "anchor")) {
            rc = resolve(rec, a->value, uri, &shown);
            if (rc) {
                goto out;
            }
            anchor.name = a->name;
            anchor.value = shown;
            anchor.quoted = 1;
            a = &anchor;
        }
        rc = lookup__format_attr(a, out);
        if (rc) {
            goto out;
        }
    }
out:
    if (rc) {
        truncate_to(out, start);
    }
    return rc;
}
