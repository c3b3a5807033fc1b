/* The PSK file and the identity map (RFC 9176 section 7): read, checked line by line and kept
 * as tables the DTLS setup (rd_dtls.c) swaps whole on reload. No OpenSSL session or libcoap
 * context here, only the files and their lookups. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "rd_conf.h"
#include "rd_dtls.h"
#include "rd_keyfiles.h"
#include "rd_log.h"
#include "rd_status.h"

/* Most entries of a key or map file (both are searched linearly), and its largest size. */
#define TABLE_MAX     10000
#define SEC_FILE_MAX  (8 * 1024 * 1024)

/* Read a whole small file into a NUL-terminated buffer (caller frees). */
static int
read_file(const char *path, char **out, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return RD_EINVAL;
    }
    buf = malloc(SEC_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return RD_ENOMEM;
    }
    n = fread(buf, 1, SEC_FILE_MAX, f);
    if (ferror(f) || n == SEC_FILE_MAX) {
        snprintf(err, err_size, "%s: unreadable or larger than %d bytes", path, SEC_FILE_MAX);
        fclose(f);
        free(buf);
        return RD_EINVAL;
    }
    fclose(f);
    if (memchr(buf, '\0', n)) {
        snprintf(err, err_size, "%s: contains a NUL byte", path);
        OPENSSL_cleanse(buf, n);
        free(buf);
        return RD_EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return RD_OK;
}

/* Split a line into at most @p max whitespace-separated fields, in place. @return the count,
 * or max + 1 when there are more. */
static size_t
split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            return n;
        }
        if (n == max) {
            return max + 1;
        }
        fields[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
            p++;
        }
        if (*p) {
            *p++ = '\0';
        }
    }
}

/* The lines of a file read into a buffer, cut in place one at a time. */
struct lines {
    char *next;      /* start of the next line; NULL after the last */
    const char *end; /* end of the buffer */
    size_t lineno;   /* number of the line last returned, from 1 */
};

/* Split the next line that has any fields (see split_fields()); 0 when none is left. */
static size_t
next_fields(struct lines *l, char **fields, size_t max)
{
    while (l->next && l->next < l->end) {
        char *line = l->next;
        char *nl = strchr(line, '\n');
        size_t nf;

        if (nl) {
            *nl = '\0';
        }
        l->next = nl ? nl + 1 : NULL;
        l->lineno++;
        nf = split_fields(line, fields, max);
        if (nf) {
            return nf;
        }
    }
    return 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* A key is "0x" and an even number of hex digits, or the text itself. */
static int
parse_key(const char *text, uint8_t *key, size_t *len)
{
    size_t n = strlen(text);

    if (n > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text += 2;
        n -= 2;
        if (n % 2 || n / 2 > RD_PSK_KEY_MAX) {
            return RD_EINVAL;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hex_value(text[2 * i]);
            int lo = hex_value(text[2 * i + 1]);

            if (hi < 0 || lo < 0) {
                return RD_EINVAL;
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
        *len = n / 2;
        return RD_OK;
    }
    if (n == 0 || n > RD_PSK_KEY_MAX) {
        return RD_EINVAL;
    }
    memcpy(key, text, n);
    *len = n;
    return RD_OK;
}

/* Printable ASCII without spaces: what an identity in these files may contain. */
static int
is_name(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

void
rd__psk_free(struct rd_psk_table *t)
{
    if (t->entries) {
        OPENSSL_cleanse(t->entries, t->n * sizeof(*t->entries));
    }
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}

/* The file buffer holds keys too. */
static void
buf_free(char *buf, size_t len)
{
    if (buf) {
        OPENSSL_cleanse(buf, len);
    }
    free(buf);
}

static int
psk_find(const struct rd_psk_table *t, const char *identity, size_t len)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->entries[i].identity) == len &&
            memcmp(t->entries[i].identity, identity, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Parse a PSK file: `identity key` lines. Bad lines are logged and skipped; a repeated
 * identity keeps its first key. */
static int
psk_parse(const struct rd_server *srv, const char *path, char *buf, size_t len,
          struct rd_psk_table *out)
{
    struct rd_psk_table t = { NULL, 0 };
    struct lines lines = { buf, buf + len, 0 };
    char *f[3];
    size_t nf;

    t.entries = calloc(1, sizeof(*t.entries));
    if (!t.entries) {
        return RD_ENOMEM;
    }
    while ((nf = next_fields(&lines, f, 2)) != 0) {
        size_t lineno = lines.lineno;
        size_t klen = 0;
        struct psk_entry e;

        memset(&e, 0, sizeof(e));
        if (nf != 2 || !is_name(f[0], RD_PSK_IDENTITY_MAX) || parse_key(f[1], e.key, &klen)) {
            rd__log(srv, RD_LOG_ERROR,
                    "%s:%zu: expected `identity key` (identity up to %d printable bytes, key "
                    "0x<hex> or text up to %d bytes); line ignored",
                    path, lineno, RD_PSK_IDENTITY_MAX, RD_PSK_KEY_MAX);
            continue;
        }
        if (psk_find(&t, f[0], strlen(f[0])) >= 0 || t.n == TABLE_MAX) {
            rd__log(srv, RD_LOG_ERROR, "%s:%zu: %s; line ignored", path, lineno,
                    t.n == TABLE_MAX ? "too many identities" : "identity given twice");
            continue;
        }
        {
            struct psk_entry *grown = realloc(t.entries, (t.n + 1) * sizeof(*t.entries));

            if (!grown) {
                rd__psk_free(&t);
                return RD_ENOMEM;
            }
            t.entries = grown;
        }
        memcpy(e.identity, f[0], strlen(f[0]) + 1);
        e.bin.length = klen;
        t.entries[t.n++] = e;
        OPENSSL_cleanse(&e, sizeof(e));
    }
    /* The entries moved while the array grew: point each key descriptor at its final place. */
    for (size_t i = 0; i < t.n; i++) {
        t.entries[i].bin.s = t.entries[i].key;
    }
    *out = t;
    return RD_OK;
}

/* A pattern is exact, or ends in '*' to match every name with that prefix. */
static int
pattern_ok(const char *p)
{
    const char *star = strchr(p, '*');

    return is_name(p, RD_MAP_PATTERN_MAX + 1) && (!star || star[1] == '\0');
}

static int
pattern_match(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);

    if (n && pattern[n - 1] == '*') {
        return strncmp(pattern, name, n - 1) == 0;
    }
    return strcmp(pattern, name) == 0;
}

/* Parse an identity map: `identity ep-pattern [d-pattern]` lines. */
static int
map_parse(const struct rd_server *srv, const char *path, char *buf, size_t len,
          struct rd_map_table *out)
{
    struct rd_map_table t = { NULL, 0 };
    struct lines lines = { buf, buf + len, 0 };
    char *f[3];
    size_t nf;

    t.entries = calloc(1, sizeof(*t.entries));
    if (!t.entries) {
        return RD_ENOMEM;
    }
    while ((nf = next_fields(&lines, f, 3)) != 0) {
        size_t lineno = lines.lineno;
        struct map_entry *grown;

        if (nf > 3 || nf < 2 || !is_name(f[0], RD_IDENTITY_SIZE - 1) || !pattern_ok(f[1]) ||
            (nf == 3 && !pattern_ok(f[2])) || t.n == TABLE_MAX) {
            rd__log(srv, RD_LOG_ERROR,
                    "%s:%zu: expected `identity ep-pattern [d-pattern]`; line ignored", path,
                    lineno);
            continue;
        }
        grown = realloc(t.entries, (t.n + 1) * sizeof(*t.entries));
        if (!grown) {
            free(t.entries);
            return RD_ENOMEM;
        }
        t.entries = grown;
        memset(&t.entries[t.n], 0, sizeof(t.entries[t.n]));
        snprintf(t.entries[t.n].identity, sizeof(t.entries[t.n].identity), "%s", f[0]);
        snprintf(t.entries[t.n].ep, sizeof(t.entries[t.n].ep), "%s", f[1]);
        snprintf(t.entries[t.n].d, sizeof(t.entries[t.n].d), "%s", nf == 3 ? f[2] : "");
        t.n++;
    }
    *out = t;
    return RD_OK;
}

static void
warn_if_readable(const struct rd_server *srv, const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && (st.st_mode & S_IROTH)) {
        rd__log(srv, RD_LOG_WARN,
                "%s is readable by every user; keys belong in a file only "
                "core-rd can read (chmod 600)",
                path);
    }
}

int
rd__psk_load(const struct rd_server *srv, const char *path, struct rd_psk_table *out)
{
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    int rc;

    rc = read_file(path, &buf, &len, err, sizeof(err));
    if (rc) {
        rd__log(srv, RD_LOG_ERROR, "psk_file %s", rc == RD_ENOMEM ? "out of memory" : err);
        return rc;
    }
    warn_if_readable(srv, path);
    rc = psk_parse(srv, path, buf, len, out);
    buf_free(buf, len);
    if (!rc) {
        rd__log(srv, RD_LOG_INFO, "psk_file %s: %zu identities", path, out->n);
    }
    return rc;
}

int
rd__map_load(const struct rd_server *srv, const char *path, struct rd_map_table *out)
{
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    int rc;

    rc = read_file(path, &buf, &len, err, sizeof(err));
    if (rc) {
        rd__log(srv, RD_LOG_ERROR, "identity_map %s", rc == RD_ENOMEM ? "out of memory" : err);
        return rc;
    }
    rc = map_parse(srv, path, buf, len, out);
    free(buf);
    if (!rc) {
        rd__log(srv, RD_LOG_INFO, "identity_map %s: %zu entries", path, out->n);
    }
    return rc;
}

const coap_bin_const_t *
rd__psk_key(const struct rd_psk_table *t, const char *identity, size_t len)
{
    int i = psk_find(t, identity, len);

    return i < 0 ? NULL : &t->entries[i].bin;
}

int
rd__map_allows(const struct rd_map_table *t, const char *identity, const char *ep, const char *d)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct map_entry *m = &t->entries[i];

        if (strcmp(m->identity, identity) == 0 && pattern_match(m->ep, ep) &&
            (!m->d[0] || pattern_match(m->d, d))) {
            return 1;
        }
    }
    return 0;
}

void
rd__map_free(struct rd_map_table *t)
{
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}
