/* The value of a registration key in etcd: deadline, names, address term and the record. */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

/* Layout: "R1", 8-byte big-endian deadline, then ep, d and source each NUL-terminated, then the
 * record's bytes to the end. The version letters let a later layout be told apart. */
#define VALUE_MAGIC     "R1"
#define VALUE_MAGIC_LEN 2
#define VALUE_HEAD      (VALUE_MAGIC_LEN + 8)
#define NAME_MAX_LEN    63
#define SOURCE_MAX_LEN  255

int
cluster_value_encode(const struct cluster_value *v, unsigned char **out, size_t *out_len)
{
    size_t ep = strlen(v->ep);
    size_t d = strlen(v->d);
    size_t src = v->source ? strlen(v->source) : 0;
    size_t len = VALUE_HEAD + ep + d + src + 3 + v->rec_len;
    uint64_t t = (uint64_t)v->expires_at;
    unsigned char *p;
    unsigned char *buf;

    if (ep == 0 || ep > NAME_MAX_LEN || d > NAME_MAX_LEN || src > SOURCE_MAX_LEN) {
        return RD_EINVAL;
    }
    buf = malloc(len);
    if (!buf) {
        return RD_ENOMEM;
    }
    memcpy(buf, VALUE_MAGIC, VALUE_MAGIC_LEN);
    for (int i = 0; i < 8; i++) {
        buf[VALUE_MAGIC_LEN + i] = (unsigned char)(t >> (56 - 8 * i));
    }
    p = buf + VALUE_HEAD;
    memcpy(p, v->ep, ep + 1);
    p += ep + 1;
    memcpy(p, v->d, d + 1);
    p += d + 1;
    memcpy(p, v->source ? v->source : "", src + 1);
    p += src + 1;
    if (v->rec_len) {
        memcpy(p, v->rec, v->rec_len);
    }
    *out = buf;
    *out_len = len;
    return RD_OK;
}

/* The NUL-terminated string at *@p p of at most @p max bytes, moving *@p p past it. */
static const char *
take_string(const unsigned char **p, const unsigned char *end, size_t max)
{
    const unsigned char *nul = memchr(*p, '\0', (size_t)(end - *p));
    const char *s = (const char *)*p;

    if (!nul || (size_t)(nul - *p) > max) {
        return NULL;
    }
    *p = nul + 1;
    return s;
}

int
cluster_value_decode(const void *data, size_t len, struct cluster_value *v)
{
    const unsigned char *p = data;
    const unsigned char *end = p + len;
    uint64_t t = 0;
    struct cluster_value out;

    if (len < VALUE_HEAD || memcmp(p, VALUE_MAGIC, VALUE_MAGIC_LEN) != 0) {
        return RD_EINVAL;
    }
    for (int i = 0; i < 8; i++) {
        t = t << 8 | p[VALUE_MAGIC_LEN + i];
    }
    out.expires_at = (int64_t)t;
    p += VALUE_HEAD;
    out.ep = take_string(&p, end, NAME_MAX_LEN);
    out.d = out.ep ? take_string(&p, end, NAME_MAX_LEN) : NULL;
    out.source = out.d ? take_string(&p, end, SOURCE_MAX_LEN) : NULL;
    if (!out.source || out.ep[0] == '\0') {
        return RD_EINVAL;
    }
    out.rec = p;
    out.rec_len = (size_t)(end - p);
    *v = out;
    return RD_OK;
}
