/* libFuzzer harness: registration query parameters and base URIs (RFC 9176 section 5). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPTIONS 64

/* Everything regparams accepts must survive being shown in an endpoint lookup: rendered as
 * link-format and parsed back, names and values are unchanged. */
static void
check_renders(const struct lookup_regparams *p)
{
    struct lookup_link link = { "/rd/1", p->attrs, p->nattrs };
    struct lookup_links back = { NULL, 0, NULL };
    struct lookup_buf b;

    lookup_buf_init(&b, 1u << 20);
    if (lookup_links_format(&link, 1, &b) != RD_OK) {
        abort();
    }
    if (lookup_links_parse(&back, b.data, b.len, 1, NULL, 0) != RD_OK || back.nlinks != 1 ||
        back.links[0].nattrs != p->nattrs) {
        abort();
    }
    for (size_t i = 0; i < p->nattrs; i++) {
        const struct lookup_attr *a = &back.links[0].attrs[i];

        if (strcmp(a->name, p->attrs[i].name) != 0 || !a->value != !p->attrs[i].value ||
            (a->value && strcmp(a->value, p->attrs[i].value) != 0)) {
            abort();
        }
    }
    lookup_links_cleanup(&back);
    lookup_buf_cleanup(&b);
}

static void
check_merge(const struct lookup_regparams *p)
{
    struct lookup_attr *m = NULL;
    size_t half = p->nattrs / 2;
    /* With no attributes, attrs is NULL and must not be offset. */
    const struct lookup_attr *upd = p->attrs ? p->attrs + half : NULL;
    size_t n = 0;

    if (lookup_attrs_merge(p->attrs, half, upd, p->nattrs - half, &m, &n) != RD_OK) {
        abort();
    }
    if (n > p->nattrs || n < p->nattrs - half) {
        abort();
    }
    /* The update's attributes come last, in order. */
    for (size_t i = 0; i < p->nattrs - half; i++) {
        if (m[n - (p->nattrs - half) + i].name != p->attrs[half + i].name) {
            abort();
        }
    }
    lookup_attrs_free(m);
}

/* The first byte picks the operation; the rest is one Uri-Query option per line, so that '&'
 * and '=' inside values stay reachable, as they are in real CoAP options. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lookup_qparam q[MAX_OPTIONS];
    struct lookup_regparams p;
    char diag[LOOKUP_DIAG_SIZE];
    enum lookup_reg_op op;
    const char *s;
    const char *nl;
    size_t len;
    size_t n;
    size_t nq = 0;
    int rc;

    if (size == 0) {
        return 0;
    }
    op = (enum lookup_reg_op)(data[0] % 3);
    s = (const char *)data + 1;
    len = size - 1;
    if (len > 0 && s[0] == '\n') {
        s++;
        len--;
    }
    /* The same bytes also make a candidate base URI. */
    (void)lookup_uri_check_base(s, len, diag, sizeof(diag));
    while (len > 0 && nq < MAX_OPTIONS) {
        nl = memchr(s, '\n', len);
        n = nl ? (size_t)(nl - s) : len;
        lookup_qparam_split(&q[nq++], s, n);
        s += n;
        len -= n;
        if (nl) {
            s++;
            len--;
        }
    }
    memset(&p, 0, sizeof(p));
    diag[0] = '\0';
    rc = lookup_regparams_parse(&p, op, q, nq, diag, sizeof(diag));
    if (rc == RD_EINVAL && diag[0] == '\0') {
        abort();
    }
    if (rc) {
        return 0;
    }
    if (op != LOOKUP_REG_UPDATE && (!p.ep || strlen(p.ep) > LOOKUP_NAME_MAX)) {
        abort();
    }
    if (op == LOOKUP_REG_UPDATE && (p.ep || p.d)) {
        abort();
    }
    if (p.base && lookup_uri_check_base(p.base, strlen(p.base), NULL, 0) != RD_OK) {
        abort();
    }
    check_renders(&p);
    check_merge(&p);
    lookup_regparams_cleanup(&p);
    return 0;
}
