/* Security directives: CoAPS listeners, PSK and certificate files, plain CoAP access, endpoint
 * name policy, lookup access and the per-identity registration limit (RFC 9176 section 7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_internal.h"

static int
set_string(char **dst, const char *value)
{
    char *copy = strdup(value);

    if (!copy) {
        return RD_ENOMEM;
    }
    free(*dst);
    *dst = copy;
    return RD_OK;
}

/* One keyword out of a list; @p names[i] sets the value i. */
static int
set_keyword(int *out, const char *const *names, size_t n, const char *key, const char *value,
            char *err, size_t err_size)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = (int)i;
            return RD_OK;
        }
    }
    snprintf(err, err_size, "%s: unexpected \"%s\"", key, value);
    return RD_EINVAL;
}

static int
set_max_regs(struct rd_sec_conf *sec, const char *value, char *err, size_t err_size)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || errno || *end != '\0' || v > UINT32_MAX) {
        snprintf(err, err_size,
                 "max_regs_per_identity: expected a count from 0 to 4294967295, got \"%s\"", value);
        return RD_EINVAL;
    }
    sec->max_regs_per_identity = (uint32_t)v;
    return RD_OK;
}

int
rd__conf_sec_set(struct rd_sec_conf *sec, const char *key, const char *value, char *err,
                 size_t err_size)
{
    static const char *const plain[] = { "on", "off", "lookup-only" };
    static const char *const policy[] = { "first-come-first-remembered", "identity" };
    static const char *const access[] = { "open", "authenticated" };
    int k = 0;
    int rc;

    if (strcmp(key, "dtls_listen") == 0) {
        return rd__conf_add_listen(sec->dtls_listen, &sec->ndtls_listen, key, value, err, err_size);
    }
    if (strcmp(key, "psk_file") == 0) {
        return set_string(&sec->psk_file, value);
    }
    if (strcmp(key, "cert_file") == 0) {
        return set_string(&sec->cert_file, value);
    }
    if (strcmp(key, "key_file") == 0) {
        return set_string(&sec->key_file, value);
    }
    if (strcmp(key, "ca_file") == 0) {
        return set_string(&sec->ca_file, value);
    }
    if (strcmp(key, "identity_map") == 0) {
        return set_string(&sec->identity_map, value);
    }
    if (strcmp(key, "max_regs_per_identity") == 0) {
        return set_max_regs(sec, value, err, err_size);
    }
    if (strcmp(key, "plain_coap") == 0) {
        rc = set_keyword(&k, plain, 3, key, value, err, err_size);
        sec->plain_coap = rc ? sec->plain_coap : (enum rd_plain)k;
        return rc;
    }
    if (strcmp(key, "ep_policy") == 0) {
        rc = set_keyword(&k, policy, 2, key, value, err, err_size);
        sec->ep_policy = rc ? sec->ep_policy : (enum rd_ep_policy)k;
        return rc;
    }
    if (strcmp(key, "lookup_access") == 0) {
        rc = set_keyword(&k, access, 2, key, value, err, err_size);
        sec->lookup_authenticated = rc ? sec->lookup_authenticated : k;
        return rc;
    }
    return RD_ENOTFOUND;
}

int
rd__conf_sec_check(const struct rd_sec_conf *sec, char *err, size_t err_size)
{
    if ((sec->cert_file != NULL) != (sec->key_file != NULL)) {
        snprintf(err, err_size, "cert_file and key_file: give both or neither");
        return RD_EINVAL;
    }
    if (sec->cert_file && !sec->ca_file) {
        snprintf(err, err_size, "cert_file: needs ca_file, the CA of the client certificates");
        return RD_EINVAL;
    }
    if (sec->ca_file && !sec->cert_file) {
        snprintf(err, err_size, "ca_file: needs cert_file and key_file");
        return RD_EINVAL;
    }
    if (sec->ndtls_listen && !sec->psk_file && !sec->cert_file) {
        snprintf(err, err_size, "dtls_listen: needs psk_file or cert_file");
        return RD_EINVAL;
    }
    if (sec->plain_coap == RD_PLAIN_OFF && !sec->psk_file && !sec->cert_file) {
        snprintf(err, err_size, "plain_coap: off leaves no listener without psk_file or cert_file");
        return RD_EINVAL;
    }
    return RD_OK;
}

int
rd__conf_sec_copy(struct rd_sec_conf *dst, const struct rd_sec_conf *src)
{
    char **const dst_str[] = { &dst->psk_file, &dst->cert_file, &dst->key_file, &dst->ca_file,
                               &dst->identity_map };
    char *const src_str[] = { src->psk_file, src->cert_file, src->key_file, src->ca_file,
                              src->identity_map };

    *dst = *src;
    dst->ndtls_listen = 0;
    for (size_t i = 0; i < sizeof(dst_str) / sizeof(dst_str[0]); i++) {
        *dst_str[i] = NULL;
    }
    for (size_t i = 0; i < sizeof(dst_str) / sizeof(dst_str[0]); i++) {
        if (src_str[i] && set_string(dst_str[i], src_str[i])) {
            rd__conf_sec_cleanup(dst);
            return RD_ENOMEM;
        }
    }
    for (size_t i = 0; i < src->ndtls_listen; i++) {
        dst->dtls_listen[i] = strdup(src->dtls_listen[i]);
        if (!dst->dtls_listen[i]) {
            rd__conf_sec_cleanup(dst);
            return RD_ENOMEM;
        }
        dst->ndtls_listen++;
    }
    return RD_OK;
}

void
rd__conf_sec_cleanup(struct rd_sec_conf *sec)
{
    if (!sec) {
        return;
    }
    for (size_t i = 0; i < sec->ndtls_listen; i++) {
        free(sec->dtls_listen[i]);
    }
    free(sec->psk_file);
    free(sec->cert_file);
    free(sec->key_file);
    free(sec->ca_file);
    free(sec->identity_map);
    memset(sec, 0, sizeof(*sec));
}
