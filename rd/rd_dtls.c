/* CoAPS (RFC 7252 section 9, DTLS) setup: the PSK table and identity map, both reloadable, the
 * certificate setup, and the security identity of a session (RFC 9176 section 7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_dtls.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

/* Limits of one PSK file line: libcoap and OpenSSL take identities of up to 128 bytes, and
 * no sensible key is longer than 64 bytes. */
#define PSK_IDENTITY_MAX 128
#define PSK_KEY_MAX      64
/* Most entries of a key or map file (both are searched linearly), and its largest size. */
#define TABLE_MAX     10000
#define SEC_FILE_MAX  (8 * 1024 * 1024)
#define PATTERN_MAX   LOOKUP_NAME_MAX
#define IDENTITY_NONE "none"

struct psk_entry {
    char identity[PSK_IDENTITY_MAX + 1];
    uint8_t key[PSK_KEY_MAX];
    coap_bin_const_t bin; /* points into key; what the identity callback returns */
};

struct psk_table {
    struct psk_entry *entries;
    size_t n;
};

struct map_entry {
    char identity[RD_IDENTITY_SIZE];
    char ep[PATTERN_MAX + 2]; /* a pattern: exact, or a prefix followed by '*' */
    char d[PATTERN_MAX + 2];  /* "" when the line gave none: any sector */
};

struct map_table {
    struct map_entry *entries;
    size_t n;
};

/** The live security tables, swapped whole on reload. */
struct rd_sec {
    struct psk_table psk;
    struct map_table map;
};

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
        if (n % 2 || n / 2 > PSK_KEY_MAX) {
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
    if (n == 0 || n > PSK_KEY_MAX) {
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

/* Keys do not outlive their table in freed memory. */
static void
psk_free(struct psk_table *t)
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
psk_find(const struct psk_table *t, const char *identity, size_t len)
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
          struct psk_table *out)
{
    struct psk_table t = { NULL, 0 };
    size_t lineno = 0;
    char *line = buf;

    t.entries = calloc(1, sizeof(*t.entries));
    if (!t.entries) {
        return RD_ENOMEM;
    }
    while (line && line < buf + len) {
        char *nl = strchr(line, '\n');
        char *f[3];
        size_t nf;
        size_t klen = 0;
        struct psk_entry e;

        if (nl) {
            *nl = '\0';
        }
        lineno++;
        nf = split_fields(line, f, 2);
        line = nl ? nl + 1 : NULL;
        if (nf == 0) {
            continue;
        }
        memset(&e, 0, sizeof(e));
        if (nf != 2 || !is_name(f[0], PSK_IDENTITY_MAX) || parse_key(f[1], e.key, &klen)) {
            rd__log(srv, RD_LOG_ERROR,
                    "%s:%zu: expected `identity key` (identity up to %d printable bytes, key "
                    "0x<hex> or text up to %d bytes); line ignored",
                    path, lineno, PSK_IDENTITY_MAX, PSK_KEY_MAX);
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
                psk_free(&t);
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

    return is_name(p, PATTERN_MAX + 1) && (!star || star[1] == '\0');
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
          struct map_table *out)
{
    struct map_table t = { NULL, 0 };
    size_t lineno = 0;
    char *line = buf;

    t.entries = calloc(1, sizeof(*t.entries));
    if (!t.entries) {
        return RD_ENOMEM;
    }
    while (line && line < buf + len) {
        char *nl = strchr(line, '\n');
        char *f[3];
        size_t nf;
        struct map_entry *grown;

        if (nl) {
            *nl = '\0';
        }
        lineno++;
        nf = split_fields(line, f, 3);
        line = nl ? nl + 1 : NULL;
        if (nf == 0) {
            continue;
        }
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

static int
load_psk(const struct rd_server *srv, const char *path, struct psk_table *out)
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

static int
load_map(const struct rd_server *srv, const char *path, struct map_table *out)
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

/* libcoap asks for the key of a PSK identity during the handshake; NULL refuses it. */
static const coap_bin_const_t *
psk_for_identity(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
    struct rd_server *srv = arg;
    int i;

    (void)session;
    i = srv->sec ? psk_find(&srv->sec->psk, (const char *)identity->s, identity->length) : -1;
    if (i < 0) {
        rd__log(srv, RD_LOG_WARN, "DTLS: unknown PSK identity (%zu bytes) refused",
                identity->length);
        return NULL;
    }
    return &srv->sec->psk.entries[i].bin;
}

/* Called for each certificate of the client's chain once OpenSSL has checked it. */
static int
check_cn(const char *cn, const uint8_t *asn1_public_cert, size_t asn1_length,
         coap_session_t *session, unsigned depth, int validated, void *arg)
{
    struct rd_server *srv = arg;

    (void)asn1_public_cert;
    (void)asn1_length;
    (void)session;
    if (!validated) {
        rd__log(srv, RD_LOG_WARN, "DTLS: certificate \"%s\" (depth %u) refused", cn, depth);
    }
    return validated;
}

static int
setup_psk(struct rd_server *srv)
{
    coap_dtls_spsk_t psk;

    memset(&psk, 0, sizeof(psk));
    psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
    psk.validate_id_call_back = psk_for_identity;
    psk.id_call_back_arg = srv;
    psk.psk_info.hint.s = (const uint8_t *)"core-rd";
    psk.psk_info.hint.length = strlen("core-rd");
    if (!coap_context_set_psk2(srv->ctx, &psk)) {
        rd__log(srv, RD_LOG_ERROR, "DTLS: PSK setup failed");
        return RD_EINVAL;
    }
    return RD_OK;
}

static int
setup_pki(struct rd_server *srv)
{
    const struct rd_sec_conf *c = &srv->conf.sec;
    coap_dtls_pki_t pki;

    memset(&pki, 0, sizeof(pki));
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    /* Clients must show a certificate that chains to ca_file: it is their identity. */
    pki.verify_peer_cert = 1;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.validate_cn_call_back = check_cn;
    pki.cn_call_back_arg = srv;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    pki.pki_key.key.pem.public_cert = c->cert_file;
    pki.pki_key.key.pem.private_key = c->key_file;
    pki.pki_key.key.pem.ca_file = c->ca_file;
    /* The CA also goes into the trust store: with libcoap 4.3.1 the PEM ca_file alone left
     * OpenSSL refusing our own clients' certificates as signed by an unknown CA. */
    if (!coap_context_set_pki(srv->ctx, &pki) ||
        !coap_context_set_pki_root_cas(srv->ctx, c->ca_file, NULL)) {
        rd__log(srv, RD_LOG_ERROR, "DTLS: cannot use cert_file %s, key_file %s, ca_file %s",
                c->cert_file, c->key_file, c->ca_file);
        return RD_EINVAL;
    }
    return RD_OK;
}

int
rd__dtls_enabled(const struct rd_server *srv)
{
    return srv->conf.sec.psk_file || srv->conf.sec.cert_file;
}

int
rd__dtls_init(struct rd_server *srv)
{
    const struct rd_sec_conf *c = &srv->conf.sec;
    int rc;

    srv->sec = calloc(1, sizeof(*srv->sec));
    if (!srv->sec) {
        return RD_ENOMEM;
    }
    if (c->identity_map) {
        rc = load_map(srv, c->identity_map, &srv->sec->map);
        if (rc) {
            return rc;
        }
    }
    if (!rd__dtls_enabled(srv)) {
        if (c->ndtls_listen) {
            rd__log(srv, RD_LOG_ERROR, "dtls_listen needs psk_file or cert_file");
            return RD_EINVAL;
        }
        return RD_OK;
    }
    if (!coap_dtls_is_supported()) {
        rd__log(srv, RD_LOG_ERROR, "this libcoap has no DTLS support");
        return RD_EINVAL;
    }
    if (c->psk_file) {
        rc = load_psk(srv, c->psk_file, &srv->sec->psk);
        if (!rc) {
            rc = setup_psk(srv);
        }
        if (rc) {
            return rc;
        }
    }
    if (c->cert_file) {
        return setup_pki(srv);
    }
    return RD_OK;
}

void
rd__dtls_reload(struct rd_server *srv, const struct rd_conf *conf)
{
    struct rd_sec_conf *c = &srv->conf.sec;
    struct psk_table psk = { NULL, 0 };
    struct map_table map = { NULL, 0 };

    /* The listeners and certificates stay as they were started; policies and files reload. */
    if (conf->sec.plain_coap == RD_PLAIN_OFF && c->plain_coap != RD_PLAIN_OFF) {
        /* An open socket stays open: the strictest thing it can do until a restart is reads. */
        rd__log(srv, RD_LOG_WARN,
                "reload: plain_coap off takes effect at restart; the plain "
                "listener is lookup-only until then");
        c->plain_coap = RD_PLAIN_LOOKUP_ONLY;
    } else if (c->plain_coap != RD_PLAIN_OFF) {
        c->plain_coap = conf->sec.plain_coap;
    }
    c->ep_policy = conf->sec.ep_policy;
    c->lookup_authenticated = conf->sec.lookup_authenticated;
    c->max_regs_per_identity = conf->sec.max_regs_per_identity;
    if (rd__conf_string_set(&c->identity_map, conf->sec.identity_map) ||
        (c->psk_file && rd__conf_string_set(&c->psk_file, conf->sec.psk_file ? conf->sec.psk_file
                                                                             : c->psk_file))) {
        rd__log(srv, RD_LOG_ERROR, "reload: out of memory");
        return;
    }
    if (c->psk_file && load_psk(srv, c->psk_file, &psk) == RD_OK) {
        psk_free(&srv->sec->psk);
        srv->sec->psk = psk;
    } else if (conf->sec.psk_file && !c->psk_file) {
        rd__log(srv, RD_LOG_WARN, "reload: psk_file takes effect at restart (no PSK at start)");
    }
    if (!c->identity_map) {
        free(srv->sec->map.entries);
        memset(&srv->sec->map, 0, sizeof(srv->sec->map));
    } else if (load_map(srv, c->identity_map, &map) == RD_OK) {
        free(srv->sec->map.entries);
        srv->sec->map = map;
    }
}

void
rd__dtls_cleanup(struct rd_server *srv)
{
    if (!srv->sec) {
        return;
    }
    psk_free(&srv->sec->psk);
    free(srv->sec->map.entries);
    free(srv->sec);
    srv->sec = NULL;
}

/* The subject CN of the client's certificate, as UTF-8. */
static int
peer_cn(const coap_session_t *session, char *out, size_t size)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    SSL *ssl = coap_session_get_tls(session, &lib);
    X509 *cert;
    X509_NAME *name;
    unsigned char *utf8 = NULL;
    int idx;
    int n;
    int rc = RD_EINVAL;

    if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL) {
        return RD_EINVAL;
    }
    cert = SSL_get0_peer_certificate(ssl);
    name = cert ? X509_get_subject_name(cert) : NULL;
    idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (idx < 0) {
        return RD_EINVAL;
    }
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (n > 0 && (size_t)n < size && !memchr(utf8, '\0', (size_t)n)) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
        rc = RD_OK;
    }
    OPENSSL_free(utf8);
    return rc;
}

/* No control bytes in what we store and log. */
static int
printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int
rd__identity(const coap_session_t *session, char out[RD_IDENTITY_SIZE])
{
    const coap_bin_const_t *psk;
    char cn[RD_IDENTITY_SIZE - 5]; /* room for the "x509:" prefix */

    if (!rd__session_secure(session)) {
        snprintf(out, RD_IDENTITY_SIZE, "%s", IDENTITY_NONE);
        return RD_OK;
    }
    psk = coap_session_get_psk_identity(session);
    if (psk && psk->length > 0) {
        /* The handshake only accepts identities from our table, which are printable text. */
        if (psk->length > PSK_IDENTITY_MAX || memchr(psk->s, '\0', psk->length)) {
            return RD_EINVAL;
        }
        snprintf(out, RD_IDENTITY_SIZE, "psk:%.*s", (int)psk->length, (const char *)psk->s);
        return RD_OK;
    }
    if (peer_cn(session, cn, sizeof(cn)) || !printable(cn)) {
        return RD_EINVAL;
    }
    snprintf(out, RD_IDENTITY_SIZE, "x509:%s", cn);
    return RD_OK;
}

int
rd__identity_current(const struct rd_server *srv, const char *identity)
{
    const char *name = identity + strlen("psk:");

    if (strncmp(identity, "psk:", strlen("psk:")) != 0) {
        return 1;
    }
    return srv->sec && psk_find(&srv->sec->psk, name, strlen(name)) >= 0;
}

int
rd__identity_allows(const struct rd_server *srv, const char *identity, const char *ep,
                    const char *d)
{
    const char *colon = strchr(identity, ':');

    /* The name after the scheme prefix is the endpoint name the identity owns by right. */
    if (colon && strcmp(colon + 1, ep) == 0) {
        return 1;
    }
    if (!srv->sec) {
        return 0;
    }
    for (size_t i = 0; i < srv->sec->map.n; i++) {
        const struct map_entry *m = &srv->sec->map.entries[i];

        if (strcmp(m->identity, identity) == 0 && pattern_match(m->ep, ep) &&
            (!m->d[0] || pattern_match(m->d, d))) {
            return 1;
        }
    }
    return 0;
}
