/* Hex text to bytes, for the raw test clients. */
#include <stdio.h>

#include "raw_hex.h"

int
raw_unhex(const char *hex, size_t n, unsigned char *out, size_t max, size_t *len)
{
    if (n % 2 || n / 2 > max) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}
