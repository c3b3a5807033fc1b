/* Bearer tokens of the HTTP listener (RFC 6750 section 2.1): the token file and the check of
 * the Authorization header, in constant time. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "rd_conf.h"
#include "rd_log.h"
#include "rd_server.h"
#include "rd_status.h"
#include "rd_token.h"

/* A token file larger than this is a mistake, not a list of tokens. */
#define TOKEN_FILE_MAX (1024 * 1024)

struct rd_tokens {
    unsigned char (*digest)[SHA256_DIGEST_LENGTH];
    size_t n;
};

/* RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=". */
static int
b64token(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && (isalnum((unsigned char)s[i]) || (s[i] && strchr("-._~+/", s[i])))) {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    while (i < len && s[i] == '=') {
        i++;
    }
    return i == len;
}

static int
add(struct rd_tokens *t, const char *tok, size_t len)
{
    unsigned char(*grown)[SHA256_DIGEST_LENGTH] = realloc(t->digest, (t->n + 1) * sizeof(*grown));

    if (!grown) {
        return RD_ENOMEM;
    }
    t->digest = grown;
    SHA256((const unsigned char *)tok, len, t->digest[t->n]);
    t->n++;
    return RD_OK;
}

int
rd__tokens_parse(const char *buf, size_t len, const char *name, struct rd_tokens **out, char *err,
                 size_t err_size)
{
    struct rd_tokens *t = calloc(1, sizeof(*t));
    size_t pos = 0;
    unsigned line = 0;
    int rc = RD_OK;

    if (!t) {
        return RD_ENOMEM;
    }
    while (pos < len && !rc) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t a = pos;
        size_t b = end;

        line++;
        while (a < b && isspace((unsigned char)buf[a])) {
            a++;
        }
        while (b > a && isspace((unsigned char)buf[b - 1])) {
            b--;
        }
        pos = end + 1;
        if (a == b || buf[a] == '#') {
            continue;
        }
        if (b - a > RD_TOKEN_MAX) {
            snprintf(err, err_size, "%s:%u: token longer than %d bytes", name, line, RD_TOKEN_MAX);
            rc = RD_EINVAL;
        } else if (!b64token(buf + a, b - a)) {
            snprintf(err, err_size,
                     "%s:%u: not a bearer token (letters, digits and -._~+/ then '=')", name, line);
            rc = RD_EINVAL;
        } else {
            rc = add(t, buf + a, b - a);
        }
    }
    if (!rc && t->n == 0) {
        snprintf(err, err_size, "%s: no token", name);
        rc = RD_EINVAL;
    }
    if (rc) {
        rd__tokens_free(t);
        return rc;
    }
    *out = t;
    return RD_OK;
}

size_t
rd__tokens_count(const struct rd_tokens *t)
{
    return t ? t->n : 0;
}

void
rd__tokens_free(struct rd_tokens *t)
{
    if (t) {
        OPENSSL_cleanse(t->digest, t->n * sizeof(*t->digest));
        free(t->digest);
        free(t);
    }
}

int
rd__tokens_accept(const struct rd_tokens *t, const char *header)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    const char *tok;
    int ok = 0;

    if (!t || !header || strncasecmp(header, "Bearer ", 7) != 0) {
        return 0;
    }
    tok = header + 7;
    while (*tok == ' ') {
        tok++;
    }
    /* Digests have one length whatever the token's, and every one is compared in full: the
     * time says neither which token matched nor how much of one. */
    SHA256((const unsigned char *)tok, strlen(tok), d);
    for (size_t i = 0; i < t->n; i++) {
        ok |= CRYPTO_memcmp(d, t->digest[i], sizeof(d)) == 0;
    }
    return ok;
}

/* Read the whole of @p path (at most TOKEN_FILE_MAX bytes) and parse it. */
static int
load(const struct rd_server *srv, const char *path, struct rd_tokens **out)
{
    char err[512];
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    FILE *f = fopen(path, "rb");
    int rc = RD_EINVAL;

    if (!f) {
        rd__log(srv, RD_LOG_ERROR, "http_token_file %s: cannot open", path);
        return RD_EINVAL;
    }
    if (fstat(fileno(f), &st) != 0 || st.st_size > TOKEN_FILE_MAX) {
        rd__log(srv, RD_LOG_ERROR, "http_token_file %s: unreadable or over %d bytes", path,
                TOKEN_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = RD_ENOMEM;
        goto out;
    }
    len = fread(buf, 1, (size_t)st.st_size, f);
    if (st.st_mode & S_IROTH) {
        rd__log(srv, RD_LOG_WARN,
                "%s is readable by every user; tokens belong in a file only core-rd can read "
                "(chmod 600)",
                path);
    }
    rc = rd__tokens_parse(buf, len, path, out, err, sizeof(err));
    if (rc == RD_EINVAL) {
        rd__log(srv, RD_LOG_ERROR, "http_token_file %s", err);
    } else if (rc == RD_OK) {
        rd__log(srv, RD_LOG_INFO, "http_token_file %s: %zu tokens", path, (*out)->n);
    }
out:
    if (buf) {
        OPENSSL_cleanse(buf, len);
    }
    free(buf);
    fclose(f);
    return rc;
}

int
rd__token_init(struct rd_server *srv)
{
    const char *path = srv->conf.http_token_file;

    if (!path || !path[0]) {
        return RD_OK;
    }
    return load(srv, path, &srv->tokens);
}

void
rd__token_reload(struct rd_server *srv, const struct rd_conf *conf)
{
    const char *path = conf->http_token_file;
    struct rd_tokens *fresh = NULL;

    if (!srv->http) {
        return;
    }
    /* Turning tokens on or off changes what the listener may bind: only a restart does that. */
    if (!srv->tokens || !path || !path[0]) {
        if (!srv->tokens != !(path && path[0])) {
            rd__log(srv, RD_LOG_WARN,
                    "reload: http_token_file set or unset takes effect at "
                    "restart");
        }
        return;
    }
    if (load(srv, path, &fresh) == RD_OK) {
        rd__tokens_free(srv->tokens);
        srv->tokens = fresh;
    }
}

void
rd__token_cleanup(struct rd_server *srv)
{
    rd__tokens_free(srv->tokens);
    srv->tokens = NULL;
}
