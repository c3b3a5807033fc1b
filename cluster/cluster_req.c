/* etcd v3 JSON gateway request bodies, and the base64 its keys and values travel in. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cluster.h"

int
cluster_b64_encode(const void *data, size_t len, char **out)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *s;

    if (len > INT32_MAX / 2) {
        return RD_ENOMEM;
    }
    s = malloc(cap);
    if (!s) {
        return RD_ENOMEM;
    }
    EVP_EncodeBlock((unsigned char *)s, data, (int)len);
    *out = s;
    return RD_OK;
}

int
cluster_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *buf;
    int n;
    size_t pad = 0;

    /* EVP_DecodeBlock() wants whole quads and counts padding as zero bytes. */
    if (len % 4 != 0 || len > INT32_MAX / 2) {
        return RD_EINVAL;
    }
    buf = malloc(len / 4 * 3 + 1);
    if (!buf) {
        return RD_ENOMEM;
    }
    n = len ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len) : 0;
    if (n < 0) {
        free(buf);
        return RD_EINVAL;
    }
    if (len >= 1 && s[len - 1] == '=') {
        pad++;
    }
    if (len >= 2 && s[len - 2] == '=') {
        pad++;
    }
    /* An '=' anywhere else decodes to garbage without complaint: refuse it. */
    if (memchr(s, '=', len - pad) || (size_t)n < pad) {
        free(buf);
        return RD_EINVAL;
    }
    *out_len = (size_t)n - pad;
    buf[*out_len] = '\0';
    *out = buf;
    return RD_OK;
}

/* Set @p name of @p obj to the base64 of @p data. */
static int
set_b64(json_t *obj, const char *name, const void *data, size_t len)
{
    char *s = NULL;
    int rc = cluster_b64_encode(data, len, &s);

    if (!rc && json_object_set_new(obj, name, json_string(s))) {
        rc = RD_ENOMEM;
    }
    free(s);
    return rc;
}

/* Set @p name of @p obj to the 64-bit @p v, written as the gateway wants it: a string. */
static int
set_i64(json_t *obj, const char *name, int64_t v)
{
    char text[24];

    snprintf(text, sizeof(text), "%" PRId64, v);
    return json_object_set_new(obj, name, json_string(text)) ? RD_ENOMEM : RD_OK;
}

/* Serialize @p root (taking it) into *@p out. */
static int
finish(json_t *root, int rc, char **out)
{
    if (!rc) {
        *out = json_dumps(root, JSON_COMPACT);
        rc = *out ? RD_OK : RD_ENOMEM;
    }
    json_decref(root);
    return rc;
}

static int
range_fields(json_t *obj, const void *key, size_t key_len, const void *end, size_t end_len)
{
    int rc;

    if (!obj) {
        return RD_ENOMEM;
    }
    rc = set_b64(obj, "key", key, key_len);
    if (!rc && end_len) {
        rc = set_b64(obj, "range_end", end, end_len);
    }
    return rc;
}

int
cluster_req_range(const void *key, size_t key_len, const void *end, size_t end_len,
                  int64_t revision, int64_t limit, char **out)
{
    json_t *root = json_object();
    int rc = range_fields(root, key, key_len, end, end_len);

    if (!rc && revision) {
        rc = set_i64(root, "revision", revision);
    }
    if (!rc && limit) {
        rc = set_i64(root, "limit", limit);
    }
    return finish(root, rc, out);
}

int
cluster_req_watch(const void *key, size_t key_len, const void *end, size_t end_len,
                  int64_t start_revision, char **out)
{
    json_t *root = json_object();
    json_t *create = json_object();
    int rc = range_fields(create, key, key_len, end, end_len);

    if (!rc && start_revision) {
        rc = set_i64(create, "start_revision", start_revision);
    }
    if (!rc && json_object_set_new(create, "progress_notify", json_true())) {
        rc = RD_ENOMEM;
    }
    if (!root || json_object_set(root, "create_request", create)) {
        rc = RD_ENOMEM;
    }
    json_decref(create);
    return finish(root, rc, out);
}

int
cluster_prefix_end(const void *prefix, size_t len, unsigned char **end, size_t *end_len)
{
    unsigned char *e;
    size_t n = len;

    e = malloc(len ? len : 1);
    if (!e) {
        return RD_ENOMEM;
    }
    memcpy(e, prefix, len);
    /* etcd's rule: drop trailing 0xff bytes, then add one to the last byte left. */
    while (n > 0 && e[n - 1] == 0xff) {
        n--;
    }
    if (n == 0) {
        free(e);
        return RD_EINVAL;
    }
    e[n - 1]++;
    *end = e;
    *end_len = n;
    return RD_OK;
}

static json_t *
op_json(const struct cluster_op *op)
{
    static const char *const names[] = { "request_put", "request_delete_range", "request_range" };
    json_t *wrap = json_object();
    json_t *body = json_object();
    int rc = wrap && body ? set_b64(body, "key", op->key, op->key_len) : RD_ENOMEM;

    if (!rc && op->type == CLUSTER_OP_PUT) {
        rc = set_b64(body, "value", op->value, op->value_len);
        if (!rc && op->lease) {
            rc = set_i64(body, "lease", op->lease);
        }
    }
    if (!rc && json_object_set(wrap, names[op->type], body)) {
        rc = RD_ENOMEM;
    }
    json_decref(body);
    if (rc) {
        json_decref(wrap);
        return NULL;
    }
    return wrap;
}

static int
add_ops(json_t *root, const char *name, const struct cluster_op *ops, size_t n)
{
    json_t *arr = json_array();
    int rc = arr ? RD_OK : RD_ENOMEM;

    for (size_t i = 0; !rc && i < n; i++) {
        if (json_array_append_new(arr, op_json(&ops[i]))) {
            rc = RD_ENOMEM;
        }
    }
    if (!rc && json_object_set(root, name, arr)) {
        rc = RD_ENOMEM;
    }
    json_decref(arr);
    return rc;
}

static json_t *
cmp_json(const struct cluster_cmp *c)
{
    json_t *obj = json_object();
    int create = c->target == CLUSTER_CMP_CREATE;
    int rc = obj ? set_b64(obj, "key", c->key, c->key_len) : RD_ENOMEM;

    if (!rc && json_object_set_new(obj, "target", json_string(create ? "CREATE" : "MOD"))) {
        rc = RD_ENOMEM;
    }
    if (!rc) {
        rc = set_i64(obj, create ? "create_revision" : "mod_revision", c->revision);
    }
    if (rc) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int
cluster_req_txn(const struct cluster_cmp *cmp, size_t ncmp, const struct cluster_op *success,
                size_t nsuccess, const struct cluster_op *failure, size_t nfailure, char **out)
{
    json_t *root = json_object();
    json_t *cmps = json_array();
    int rc = root && cmps ? RD_OK : RD_ENOMEM;

    /* "EQUAL" is the compare's default result and proto3 leaves defaults out. */
    for (size_t i = 0; !rc && i < ncmp; i++) {
        if (json_array_append_new(cmps, cmp_json(&cmp[i]))) {
            rc = RD_ENOMEM;
        }
    }
    if (!rc && json_object_set(root, "compare", cmps)) {
        rc = RD_ENOMEM;
    }
    json_decref(cmps);
    if (!rc) {
        rc = add_ops(root, "success", success, nsuccess);
    }
    if (!rc) {
        rc = add_ops(root, "failure", failure, nfailure);
    }
    return finish(root, rc, out);
}

int
cluster_req_lease_grant(int64_t ttl, char **out)
{
    json_t *root = json_object();
    int rc = root ? set_i64(root, "TTL", ttl) : RD_ENOMEM;

    return finish(root, rc, out);
}

int
cluster_req_lease_id(int64_t id, char **out)
{
    json_t *root = json_object();
    int rc = root ? set_i64(root, "ID", id) : RD_ENOMEM;

    return finish(root, rc, out);
}
