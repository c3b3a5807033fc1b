/* libFuzzer harness: link-format parse and format round trip (RFC 6690 section 2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
attrs_equal(const struct lookup_attr *a, const struct lookup_attr *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || a[i].quoted != b[i].quoted ||
            !a[i].value != !b[i].value) {
            return 0;
        }
        if (a[i].value && strcmp(a[i].value, b[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}

static int
links_equal(const struct lookup_links *a, const struct lookup_links *b)
{
    if (a->nlinks != b->nlinks) {
        return 0;
    }
    for (size_t i = 0; i < a->nlinks; i++) {
        if (strcmp(a->links[i].target, b->links[i].target) != 0 ||
            a->links[i].nattrs != b->links[i].nattrs ||
            !attrs_equal(a->links[i].attrs, b->links[i].attrs, a->links[i].nattrs)) {
            return 0;
        }
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lookup_links l1 = { NULL, 0, NULL };
    struct lookup_links l2 = { NULL, 0, NULL };
    struct lookup_buf b1;
    struct lookup_buf b2;
    char diag[LOOKUP_DIAG_SIZE];
    int rc;

    lookup_buf_init(&b1, 1u << 24);
    lookup_buf_init(&b2, 1u << 24);
    diag[0] = '\0';
    rc = lookup_links_parse(&l1, (const char *)data, size, 256, diag, sizeof(diag));
    if (rc == RD_EINVAL && (diag[0] == '\0' || strlen(diag) >= sizeof(diag))) {
        abort(); /* every refusal explains itself */
    }
    if (rc) {
        goto out;
    }
    (void)lookup_links_check_limited(l1.links, l1.nlinks, diag, sizeof(diag));
    if (lookup_links_format(l1.links, l1.nlinks, &b1) != RD_OK) {
        abort();
    }
    /* parse(format(parse(x))) == parse(x), and formatting is then a fixed point. */
    if (lookup_links_parse(&l2, b1.data ? b1.data : "", b1.len, 256, NULL, 0) != RD_OK) {
        abort();
    }
    if (!links_equal(&l1, &l2)) {
        abort();
    }
    if (lookup_links_format(l2.links, l2.nlinks, &b2) != RD_OK || b1.len != b2.len ||
        (b1.len && memcmp(b1.data, b2.data, b1.len) != 0)) {
        abort();
    }
    /* Simple registration's conversion: what it writes parses again, link for link. */
    lookup_buf_cleanup(&b2);
    lookup_buf_init(&b2, 1u << 24);
    if (lookup_links_to_limited(&l1, "coap://[2001:db8::1]:61616/.well-known/core", &b2) == RD_OK) {
        struct lookup_links l3 = { 0 };

        if (lookup_links_parse(&l3, b2.data ? b2.data : "", b2.len, 256, NULL, 0) != RD_OK ||
            l3.nlinks != l1.nlinks) {
            abort();
        }
        lookup_links_cleanup(&l3);
    }
    /* A buffer one byte too small must refuse the output. */
    if (b1.len > 0) {
        lookup_buf_cleanup(&b2);
        lookup_buf_init(&b2, b1.len - 1);
        if (lookup_links_format(l1.links, l1.nlinks, &b2) != RD_ETOOBIG || b2.len >= b1.len) {
            abort();
        }
    }
out:
    lookup_buf_cleanup(&b2);
    lookup_buf_cleanup(&b1);
    lookup_links_cleanup(&l2);
    lookup_links_cleanup(&l1);
    return 0;
}
