/* etcd v3 JSON gateway answers and watch messages, parsed (keys and values are base64, 64-bit
 * numbers are JSON strings). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster.h"

/* A 64-bit number as the gateway writes it: a decimal string, or (seldom) a JSON integer.
 * Absent means 0, as proto3 leaves zero fields out. */
static int
get_i64(const json_t *obj, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    const char *s;
    char *end;
    long long n;

    *out = 0;
    if (!v) {
        return RD_OK;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return RD_OK;
    }
    if (!json_is_string(v)) {
        return RD_EINVAL;
    }
    s = json_string_value(v);
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0') {
        return RD_EINVAL;
    }
    *out = n;
    return RD_OK;
}

static int
get_b64(const json_t *obj, const char *name, unsigned char **out, size_t *len)
{
    const json_t *v = json_object_get(obj, name);

    if (!v) {
        *out = calloc(1, 1);
        *len = 0;
        return *out ? RD_OK : RD_ENOMEM;
    }
    if (!json_is_string(v)) {
        return RD_EINVAL;
    }
    return cluster_b64_decode(json_string_value(v), json_string_length(v), out, len);
}

static void
kv_cleanup(struct cluster_kv *kv)
{
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

static int
kv_parse(const json_t *obj, struct cluster_kv *kv)
{
    int rc;

    memset(kv, 0, sizeof(*kv));
    if (!json_is_object(obj)) {
        return RD_EINVAL;
    }
    rc = get_b64(obj, "key", &kv->key, &kv->key_len);
    if (!rc) {
        rc = get_b64(obj, "value", &kv->value, &kv->value_len);
    }
    if (!rc) {
        rc = get_i64(obj, "create_revision", &kv->create_revision);
    }
    if (!rc) {
        rc = get_i64(obj, "mod_revision", &kv->mod_revision);
    }
    if (!rc) {
        rc = get_i64(obj, "lease", &kv->lease);
    }
    if (rc) {
        kv_cleanup(kv);
    }
    return rc;
}

/* The length of the JSON array @p arr, 0 when it is absent. @return RD_OK; RD_EINVAL (not an
 * array). */
static int
array_len(const json_t *arr, size_t *n)
{
    *n = 0;
    if (!arr) {
        return RD_OK;
    }
    if (!json_is_array(arr)) {
        return RD_EINVAL;
    }
    *n = json_array_size(arr);
    return RD_OK;
}

/* Append the kvs array @p arr (may be NULL) to @p r. */
static int
add_kvs(struct cluster_resp *r, const json_t *arr)
{
    struct cluster_kv *grown;
    size_t n;
    int rc = array_len(arr, &n);

    if (rc || n == 0) {
        return rc;
    }
    grown = realloc(r->kvs, (r->nkvs + n) * sizeof(*grown));
    if (!grown) {
        return RD_ENOMEM;
    }
    r->kvs = grown;
    for (size_t i = 0; i < n; i++) {
        rc = kv_parse(json_array_get(arr, i), &r->kvs[r->nkvs]);
        if (rc) {
            return rc;
        }
        r->nkvs++;
    }
    return RD_OK;
}

static void
copy_error(char *dst, size_t size, const json_t *v)
{
    const json_t *msg = json_is_object(v) ? json_object_get(v, "message") : v;

    snprintf(dst, size, "%s", json_is_string(msg) ? json_string_value(msg) : "error");
}

/* The ranges a transaction ran: responses[*].response_range.kvs. */
static int
add_txn_ranges(struct cluster_resp *r, const json_t *responses)
{
    size_t n;
    int rc = array_len(responses, &n);

    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *range = json_object_get(json_array_get(responses, i), "response_range");

        if (range) {
            rc = add_kvs(r, json_object_get(range, "kvs"));
        }
    }
    return rc;
}

static int
resp_fields(const json_t *root, struct cluster_resp *out)
{
    const json_t *header = json_object_get(root, "header");
    int rc;

    if (json_object_get(root, "error")) {
        copy_error(out->error, sizeof(out->error), json_object_get(root, "error"));
        return RD_OK;
    }
    if (header && !json_is_object(header)) {
        return RD_EINVAL;
    }
    rc = header ? get_i64(header, "revision", &out->revision) : RD_OK;
    if (!rc) {
        rc = get_i64(root, "deleted", &out->deleted);
    }
    if (!rc) {
        rc = get_i64(root, "ID", &out->lease_id);
    }
    if (!rc) {
        rc = get_i64(root, "TTL", &out->lease_ttl);
    }
    if (!rc) {
        rc = add_kvs(out, json_object_get(root, "kvs"));
    }
    if (!rc) {
        rc = add_txn_ranges(out, json_object_get(root, "responses"));
    }
    out->succeeded = json_is_true(json_object_get(root, "succeeded"));
    out->more = json_is_true(json_object_get(root, "more"));
    return rc;
}

int
cluster_resp_parse(const char *json, size_t len, struct cluster_resp *out)
{
    json_t *root;
    const json_t *result;
    int rc;

    memset(out, 0, sizeof(*out));
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return RD_EINVAL;
    }
    /* A keepalive answers as a stream message: {"result": {...}}. */
    result = json_object_get(root, "result");
    rc = resp_fields(json_is_object(result) ? result : root, out);
    json_decref(root);
    return rc;
}

void
cluster_resp_cleanup(struct cluster_resp *r)
{
    for (size_t i = 0; i < r->nkvs; i++) {
        kv_cleanup(&r->kvs[i]);
    }
    free(r->kvs);
    memset(r, 0, sizeof(*r));
}

static int
event_parse(const json_t *obj, struct cluster_event *ev)
{
    const json_t *type = json_object_get(obj, "type");

    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(obj)) {
        return RD_EINVAL;
    }
    if (!type || (json_is_string(type) && strcmp(json_string_value(type), "PUT") == 0)) {
        ev->type = CLUSTER_PUT;
    } else if (json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0) {
        ev->type = CLUSTER_DELETE;
    } else {
        return RD_EINVAL;
    }
    return kv_parse(json_object_get(obj, "kv"), &ev->kv);
}

static int
watch_events(const json_t *arr, struct cluster_watch_msg *m)
{
    size_t n;
    int rc = array_len(arr, &n);

    if (rc || n == 0) {
        return rc;
    }
    m->events = calloc(n, sizeof(*m->events));
    if (!m->events) {
        return RD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        rc = event_parse(json_array_get(arr, i), &m->events[i]);
        if (rc) {
            return rc;
        }
        m->nevents++;
    }
    return RD_OK;
}

static int
watch_fields(const json_t *res, struct cluster_watch_msg *m)
{
    const json_t *header = json_object_get(res, "header");
    const json_t *reason = json_object_get(res, "cancel_reason");
    int rc;

    if (header && !json_is_object(header)) {
        return RD_EINVAL;
    }
    rc = header ? get_i64(header, "revision", &m->revision) : RD_OK;
    if (!rc) {
        rc = get_i64(res, "compact_revision", &m->compact_revision);
    }
    if (rc) {
        return rc;
    }
    m->created = json_is_true(json_object_get(res, "created"));
    m->canceled = json_is_true(json_object_get(res, "canceled"));
    if (json_is_string(reason)) {
        snprintf(m->error, sizeof(m->error), "%s", json_string_value(reason));
    }
    return watch_events(json_object_get(res, "events"), m);
}

int
cluster_watch_msg_parse(const char *json, size_t len, struct cluster_watch_msg *out)
{
    json_t *root;
    const json_t *res;
    int rc = RD_EINVAL;

    memset(out, 0, sizeof(*out));
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return RD_EINVAL;
    }
    res = json_object_get(root, "result");
    if (json_is_object(res)) {
        rc = watch_fields(res, out);
    } else if (json_object_get(root, "error")) {
        copy_error(out->error, sizeof(out->error), json_object_get(root, "error"));
        out->canceled = 1;
        rc = RD_OK;
    }
    json_decref(root);
    return rc;
}

void
cluster_watch_msg_cleanup(struct cluster_watch_msg *m)
{
    for (size_t i = 0; i < m->nevents; i++) {
        kv_cleanup(&m->events[i].kv);
    }
    free(m->events);
    memset(m, 0, sizeof(*m));
}
