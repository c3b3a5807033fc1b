/* libFuzzer harness: the registration record codec; decode then encode gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    /* Decoded links are well-formed C strings, so rendering them cannot fail for want of room
     * here. */
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, 1u << 24);
    if (lookup_links_format(reg.links, reg.nlinks, &b) != RD_OK) {
        abort();
    }
    lookup_buf_cleanup(&b);
    lookup_reg_cleanup(&reg);
    return 0;
}
