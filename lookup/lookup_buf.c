/* Growable output buffer with a size cap, for lookup answers and records (RFC 9176 section 6). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "lookup_internal.h"

/* The first allocation; small enough for a one-link answer, large enough to avoid a few
 * reallocations for typical payloads. */
#define LOOKUP_BUF_MIN_CAP 256

void
lookup_buf_init(struct lookup_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
lookup_buf_cleanup(struct lookup_buf *b)
{
    if (!b) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int
lookup__buf_reserve(struct lookup_buf *b, size_t len)
{
    size_t need;
    size_t cap;
    char *p;

    if (b->len > b->max || len > b->max - b->len) {
        return RD_ETOOBIG;
    }
    /* The terminating NUL is not counted in len but needs room, so a buffer may hold max + 1
     * bytes; that cannot overflow unless max is SIZE_MAX. */
    need = b->len + len + 1;
    if (need == 0) {
        return RD_ETOOBIG;
    }
    if (need > b->cap) {
        cap = b->cap ? b->cap : LOOKUP_BUF_MIN_CAP;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) {
                cap = need;
                break;
            }
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (!p) {
            return RD_ENOMEM;
        }
        b->data = p;
        b->cap = cap;
    }
    return RD_OK;
}

void *
lookup__grow(void *arr, size_t cap, size_t size, const void *local)
{
    void *bigger;

    if (cap > SIZE_MAX / 2 / size) {
        return NULL;
    }
    if (arr != local) {
        return realloc(arr, 2 * cap * size);
    }
    bigger = malloc(2 * cap * size);
    if (bigger) {
        memcpy(bigger, arr, cap * size);
    }
    return bigger;
}

int
lookup_buf_append(struct lookup_buf *b, const void *data, size_t len)
{
    int rc = lookup__buf_reserve(b, len);

    if (rc) {
        return rc;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return RD_OK;
}
