/* A fetched discovery document brought to the Limited Link Format (RFC 9176 sections 5 and 5.1,
 * RFC 6690 section 2.1). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lookup.h"

/* Length of "scheme://authority" at the start of the absolute URI @p uri; 0 when it has no
 * authority. */
static size_t
origin_len(const char *uri)
{
    const char *p = strchr(uri, ':');

    if (!p || p[1] != '/' || p[2] != '/') {
        return 0;
    }
    p += 3;
    p += strcspn(p, "/?#");
    return (size_t)(p - uri);
}

/* @p ref resolved against @p doc_uri, the URI the document came from; written path-absolute
 * when it stays on that URI's origin (the registration's base), else as the full URI. */
static int
limit_ref(const char *doc_uri, const char *ref, char *out, size_t size)
{
    char abs[LOOKUP_URI_MAX + 1];
    size_t o = origin_len(doc_uri);
    const char *keep = abs;
    size_t len;
    int rc = lookup_uri_resolve(doc_uri, ref, abs, sizeof(abs));

    if (rc) {
        return rc;
    }
    if (o && strncmp(abs, doc_uri, o) == 0 && (abs[o] == '/' || abs[o] == '\0')) {
        keep = abs[o] ? abs + o : "/";
    }
    len = strlen(keep);
    if (len >= size) {
        return RD_ETOOBIG;
    }
    memcpy(out, keep, len + 1);
    return RD_OK;
}

/* Append link @p ln with its target and anchor brought to the Limited Link Format. */
static int
append_limited(const struct lookup_link *ln, const char *doc_uri, struct lookup_buf *out)
{
    char target[LOOKUP_URI_MAX + 1];
    char anchor[LOOKUP_URI_MAX + 1];
    struct lookup_attr *attrs = NULL;
    struct lookup_link one;
    int rc = limit_ref(doc_uri, ln->target, target, sizeof(target));

    if (rc) {
        return rc;
    }
    if (ln->nattrs) {
        attrs = malloc(ln->nattrs * sizeof(*attrs));
        if (!attrs) {
            return RD_ENOMEM;
        }
        memcpy(attrs, ln->attrs, ln->nattrs * sizeof(*attrs));
    }
    for (size_t j = 0; j < ln->nattrs && !rc; j++) {
        /* An empty anchor names the registration's base itself (RFC 9176 section 5): kept. */
        if (strcasecmp(attrs[j].name, "anchor") == 0 && attrs[j].value && attrs[j].value[0]) {
            rc = limit_ref(doc_uri, attrs[j].value, anchor, sizeof(anchor));
            attrs[j].value = anchor;
            attrs[j].quoted = 1;
        }
    }
    one.target = target;
    one.attrs = attrs;
    one.nattrs = ln->nattrs;
    if (!rc) {
        rc = lookup_links_format(&one, 1, out);
    }
    free(attrs);
    return rc;
}

int
lookup_links_to_limited(const struct lookup_links *in, const char *doc_uri, struct lookup_buf *out)
{
    int rc = RD_OK;

    for (size_t i = 0; i < in->nlinks && !rc; i++) {
        if (i > 0) {
            rc = lookup_buf_append(out, ",", 1);
        }
        if (!rc) {
            rc = append_limited(&in->links[i], doc_uri, out);
        }
    }
    return rc;
}
