/* libFuzzer harness: the registration record codec; decode then encode gives the same bytes, and
 * a rebase gives the bytes of the same record encoded with the new base. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
rebase_check(const struct lookup_reg *reg, const uint8_t *data, size_t size)
{
    static const char base[] = "coap://192.0.2.7:61616";
    struct lookup_reg moved = *reg;
    struct lookup_buf want;
    struct lookup_buf got;
    int rc;

    lookup_buf_init(&got, size + sizeof(base) + 16);
    rc = lookup_reg_rebase(data, size, base, &got);
    if (reg->scope) {
        if (rc != RD_EINVAL) {
            abort();
        }
        lookup_buf_cleanup(&got);
        return;
    }
    moved.base = base;
    moved.base_explicit = 0;
    lookup_buf_init(&want, size + sizeof(base) + 16);
    if (rc != RD_OK || lookup_reg_encode(&moved, &want) != RD_OK || want.len != got.len ||
        memcmp(want.data, got.data, got.len) != 0) {
        abort();
    }
    lookup_buf_cleanup(&want);
    lookup_buf_cleanup(&got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lookup_reg reg;
    struct lookup_buf b;

    if (lookup_reg_decode(&reg, data, size) != RD_OK) {
        return 0;
    }
    if (!reg.base) {
        abort();
    }
    lookup_buf_init(&b, size);
    if (lookup_reg_encode(&reg, &b) != RD_OK || b.len != size || memcmp(b.data, data, size) != 0) {
        abort();
    }
    lookup_buf_cleanup(&b);
    rebase_check(&reg, data, size);
    /* Decoded links are well-formed C strings, so rendering them cannot fail for want of room
     * here. */
    lookup_buf_init(&b, 1u << 24);
    if (lookup_links_format(reg.links, reg.nlinks, &b) != RD_OK) {
        abort();
    }
    lookup_buf_cleanup(&b);
    lookup_reg_cleanup(&reg);
    return 0;
}
