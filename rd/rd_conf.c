/* Configuration: defaults, `key value` parsing from a buffer and file loading, all through the
 * directive table of rd_conf_table.c (settings of the RFC 9176 directory; no section defines
 * them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rd_conf.h"
#include "rd_conf_table.h"
#include "rd_status.h"

/* Longest config file we read: a config is a few hundred bytes, anything larger is a mistake. */
#define CONF_FILE_MAX (1024 * 1024)

int
rd__conf_string_set(char **dst, const char *value)
{
    char *copy = NULL;

    /* Copy before freeing: @p value may be *dst itself. */
    if (value) {
        copy = strdup(value);
        if (!copy) {
            return RD_ENOMEM;
        }
    }
    free(*dst);
    *dst = copy;
    return RD_OK;
}

/* The field of @p d in @p conf. */
static void *
field(const struct rd_conf *conf, const struct rd_conf_directive *d)
{
    return (char *)(uintptr_t)conf + d->offset;
}

/* The count of a list directive. */
static size_t *
list_count(const struct rd_conf *conf, const struct rd_conf_directive *d)
{
    return (size_t *)(void *)((char *)(uintptr_t)conf + d->count_offset);
}

/* Parse a decimal unsigned integer in [min, max]; the whole string must be digits. */
static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9') {
        return RD_EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return RD_EINVAL;
    }
    *out = v;
    return RD_OK;
}

static int
set_uint(struct rd_conf *conf, const struct rd_conf_directive *d, const char *value, char *err,
         size_t err_size)
{
    uint64_t v;
    uint32_t v32;

    if (parse_u64(value, d->min, d->max, &v)) {
        snprintf(err, err_size, "%s: expected %s from %llu to %llu, got \"%s\"", d->name, d->unit,
                 (unsigned long long)d->min, (unsigned long long)d->max, value);
        return RD_EINVAL;
    }
    /* The table keeps max * scale within the field; a narrower field is uint32_t. */
    v *= d->scale;
    if (d->size == sizeof(uint32_t)) {
        v32 = (uint32_t)v;
        memcpy(field(conf, d), &v32, sizeof(v32));
    } else {
        memcpy(field(conf, d), &v, sizeof(v));
    }
    return RD_OK;
}

/* Index of @p value among the words of an enum directive, or -1. */
static int
enum_index(const struct rd_conf_directive *d, const char *value)
{
    for (int i = 0; d->names[i]; i++) {
        if ((d->nocase ? strcasecmp(value, d->names[i]) : strcmp(value, d->names[i])) == 0) {
            return i;
        }
    }
    return -1;
}

static int
set_enum(struct rd_conf *conf, const struct rd_conf_directive *d, const char *value, char *err,
         size_t err_size)
{
    int i = enum_index(d, value);

    if (i < 0) {
        if (d->expected) {
            snprintf(err, err_size, "%s: expected %s, got \"%s\"", d->name, d->expected, value);
        } else {
            snprintf(err, err_size, "%s: unexpected \"%s\"", d->name, value);
        }
        return RD_EINVAL;
    }
    memcpy(field(conf, d), &d->values[i], sizeof(int));
    return RD_OK;
}

static int
set_flag(struct rd_conf *conf, const struct rd_conf_directive *d, const char *value, char *err,
         size_t err_size)
{
    int on;

    if (strcmp(value, "on") == 0) {
        on = 1;
    } else if (strcmp(value, "off") == 0) {
        on = 0;
    } else {
        snprintf(err, err_size, "%s: expected on or off, got \"%s\"", d->name, value);
        return RD_EINVAL;
    }
    memcpy(field(conf, d), &on, sizeof(on));
    return RD_OK;
}

static int
add_to_list(struct rd_conf *conf, const struct rd_conf_directive *d, const char *value, char *err,
            size_t err_size)
{
    char **list = field(conf, d);
    size_t *n = list_count(conf, d);

    /* The count is checked before the value, so a full list says so whatever comes next. */
    if (*n >= d->max) {
        snprintf(err, err_size, "%s: at most %llu%s", d->name, (unsigned long long)d->max, d->unit);
        return RD_EINVAL;
    }
    if (d->check && d->check(d->name, &value, err, err_size)) {
        return RD_EINVAL;
    }
    list[*n] = strdup(value);
    if (!list[*n]) {
        return RD_ENOMEM;
    }
    (*n)++;
    return RD_OK;
}

/* Apply one directive of the table. */
static int
set_directive(struct rd_conf *conf, const struct rd_conf_directive *d, const char *value, char *err,
              size_t err_size)
{
    switch (d->type) {
    case RD_CONF_UINT:
        return set_uint(conf, d, value, err, err_size);
    case RD_CONF_FLAG:
        return set_flag(conf, d, value, err, err_size);
    case RD_CONF_ENUM:
        return set_enum(conf, d, value, err, err_size);
    case RD_CONF_LIST:
        return add_to_list(conf, d, value, err, err_size);
    case RD_CONF_STRING:
    case RD_CONF_PATH:
        break;
    }
    if (d->check && d->check(d->name, &value, err, err_size)) {
        return RD_EINVAL;
    }
    return rd__conf_string_set(field(conf, d), value);
}

static int
is_owned(const struct rd_conf_directive *d)
{
    return d->type == RD_CONF_STRING || d->type == RD_CONF_PATH;
}

int
rd_conf_init(struct rd_conf *conf)
{
    char err[256];
    int rc;

    memset(conf, 0, sizeof(*conf));
    for (size_t i = 0; i < rd_conf_ndirectives; i++) {
        const struct rd_conf_directive *d = &rd_conf_directives[i];

        if (!d->def) {
            continue;
        }
        /* A default the parser refuses is a bug in the table, which unit-rd catches. */
        rc = set_directive(conf, d, d->def, err, sizeof(err));
        if (rc) {
            rd_conf_cleanup(conf);
            return rc;
        }
    }
    return RD_OK;
}

void
rd_conf_cleanup(struct rd_conf *conf)
{
    if (!conf) {
        return;
    }
    for (size_t i = 0; i < rd_conf_ndirectives; i++) {
        const struct rd_conf_directive *d = &rd_conf_directives[i];

        if (is_owned(d)) {
            free(*(char **)field(conf, d));
        } else if (d->type == RD_CONF_LIST) {
            char **list = field(conf, d);

            for (size_t j = 0; j < *list_count(conf, d); j++) {
                free(list[j]);
            }
        }
    }
    memset(conf, 0, sizeof(*conf));
}

int
rd_conf_copy(struct rd_conf *dst, const struct rd_conf *src)
{
    *dst = *src;
    /* First forget every pointer of src, so a failure half-way frees only dst's own copies. */
    for (size_t i = 0; i < rd_conf_ndirectives; i++) {
        const struct rd_conf_directive *d = &rd_conf_directives[i];

        if (is_owned(d)) {
            *(char **)field(dst, d) = NULL;
        } else if (d->type == RD_CONF_LIST) {
            *list_count(dst, d) = 0;
        }
    }
    for (size_t i = 0; i < rd_conf_ndirectives; i++) {
        const struct rd_conf_directive *d = &rd_conf_directives[i];
        const char *s = is_owned(d) ? *(char **)field(src, d) : NULL;

        if (s && rd__conf_string_set(field(dst, d), s)) {
            rd_conf_cleanup(dst);
            return RD_ENOMEM;
        }
        if (d->type != RD_CONF_LIST) {
            continue;
        }
        for (size_t j = 0; j < *list_count(src, d); j++) {
            char **from = field(src, d);
            char **to = field(dst, d);

            to[j] = strdup(from[j]);
            if (!to[j]) {
                rd_conf_cleanup(dst);
                return RD_ENOMEM;
            }
            (*list_count(dst, d))++;
        }
    }
    return RD_OK;
}

int
rd_conf_log_level(const char *s, enum rd_log_level *out)
{
    const struct rd_conf_directive *d = rd_conf_directive_find("log_level");
    int i = enum_index(d, s);

    if (i < 0) {
        return RD_EINVAL;
    }
    *out = (enum rd_log_level)d->values[i];
    return RD_OK;
}

int
rd_conf_set(struct rd_conf *conf, const char *key, const char *value, char *err, size_t err_size)
{
    const struct rd_conf_directive *d = rd_conf_directive_find(key);

    if (!d) {
        snprintf(err, err_size, "%s: unknown directive", key);
        return RD_EINVAL;
    }
    return set_directive(conf, d, value, err, err_size);
}

/* Check relations between directives once the whole file is read. */
static int
check_conf(const struct rd_conf *conf, char *err, size_t err_size)
{
    if (conf->lifetime_min > conf->lifetime_max) {
        snprintf(err, err_size, "lifetime_min: larger than lifetime_max");
        return RD_EINVAL;
    }
    return rd__conf_sec_check(&conf->sec, err, err_size);
}

/* Trim spaces and tabs at both ends of [*s, *s + *len). */
static void
trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t' || **s == '\r')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r')) {
        (*len)--;
    }
}

static int
parse_line(struct rd_conf *conf, const char *line, size_t len, char *err, size_t err_size)
{
    char key[64];
    char value[1024];
    size_t klen = 0;

    trim(&line, &len);
    if (len == 0 || line[0] == '#') {
        return RD_OK;
    }
    while (klen < len && line[klen] != ' ' && line[klen] != '\t') {
        klen++;
    }
    if (klen >= sizeof(key)) {
        snprintf(err, err_size, "directive name too long");
        return RD_EINVAL;
    }
    memcpy(key, line, klen);
    key[klen] = '\0';
    line += klen;
    len -= klen;
    trim(&line, &len);
    if (len == 0 || len >= sizeof(value) || memchr(line, '\0', len)) {
        snprintf(err, err_size, "%s: %s", key, len ? "bad value" : "missing value");
        return RD_EINVAL;
    }
    memcpy(value, line, len);
    value[len] = '\0';
    return rd_conf_set(conf, key, value, err, err_size);
}

int
rd_conf_parse(struct rd_conf *conf, const char *buf, size_t len, const char *name, char *err,
              size_t err_size)
{
    char msg[512];
    size_t lineno = 0;
    size_t pos = 0;
    int rc;

    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;

        lineno++;
        rc = parse_line(conf, buf + pos, end - pos, msg, sizeof(msg));
        if (rc) {
            snprintf(err, err_size, "%s:%zu: %s", name, lineno, msg);
            return rc;
        }
        pos = end + 1;
    }
    rc = check_conf(conf, msg, sizeof(msg));
    if (rc) {
        snprintf(err, err_size, "%s: %s", name, msg);
    }
    return rc;
}

int
rd_conf_load(struct rd_conf *conf, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int rc = RD_EINVAL;

    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return RD_EINVAL;
    }
    buf = malloc(CONF_FILE_MAX);
    if (!buf) {
        rc = RD_ENOMEM;
        goto out;
    }
    len = fread(buf, 1, CONF_FILE_MAX, f);
    if (ferror(f) || len == CONF_FILE_MAX) {
        snprintf(err, err_size, "%s: unreadable or larger than %d bytes", path, CONF_FILE_MAX);
        goto out;
    }
    rc = rd_conf_parse(conf, buf, len, path, err, err_size);
out:
    free(buf);
    fclose(f);
    return rc;
}
