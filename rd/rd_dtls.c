/* CoAPS (RFC 7252 section 9, DTLS) setup: libcoap's PSK and certificate setup over the tables
 * of rd_keyfiles.c, their reload, and the security identity of a session (RFC 9176 section 7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_dtls.h"
#include "rd_keyfiles.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

#define IDENTITY_NONE "none"

/** The live security tables, swapped whole on reload. */
struct rd_sec {
    struct rd_psk_table psk;
    struct rd_map_table map;
};

/* libcoap asks for the key of a PSK identity during the handshake; NULL refuses it. */
static const coap_bin_const_t *
psk_for_identity(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
    struct rd_server *srv = arg;
    const coap_bin_const_t *key;

    (void)session;
    key = srv->sec ? rd__psk_key(&srv->sec->psk, (const char *)identity->s, identity->length)
                   : NULL;
    if (!key) {
        rd__log(srv, RD_LOG_WARN, "DTLS: unknown PSK identity (%zu bytes) refused",
                identity->length);
    }
    return key;
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
        rc = rd__map_load(srv, c->identity_map, &srv->sec->map);
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
        rc = rd__psk_load(srv, c->psk_file, &srv->sec->psk);
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
    struct rd_psk_table psk = { NULL, 0 };
    struct rd_map_table map = { NULL, 0 };

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
    if (c->psk_file && rd__psk_load(srv, c->psk_file, &psk) == RD_OK) {
        rd__psk_free(&srv->sec->psk);
        srv->sec->psk = psk;
    } else if (conf->sec.psk_file && !c->psk_file) {
        rd__log(srv, RD_LOG_WARN, "reload: psk_file takes effect at restart (no PSK at start)");
    }
    if (!c->identity_map) {
        rd__map_free(&srv->sec->map);
    } else if (rd__map_load(srv, c->identity_map, &map) == RD_OK) {
        rd__map_free(&srv->sec->map);
        srv->sec->map = map;
    }
}

void
rd__dtls_cleanup(struct rd_server *srv)
{
    if (!srv->sec) {
        return;
    }
    rd__psk_free(&srv->sec->psk);
    rd__map_free(&srv->sec->map);
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

    _Static_assert(sizeof(IDENTITY_NONE) <= RD_IDENTITY_SIZE, "identity buffer too small");
    if (!rd__session_secure(session)) {
        /* Copied, not printed: every plain CoAP request asks. */
        memcpy(out, IDENTITY_NONE, sizeof(IDENTITY_NONE));
        return RD_OK;
    }
    psk = coap_session_get_psk_identity(session);
    if (psk && psk->length > 0) {
        /* The handshake only accepts identities from our table, which are printable text. */
        if (psk->length > RD_PSK_IDENTITY_MAX || memchr(psk->s, '\0', psk->length)) {
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
    return srv->sec && rd__psk_key(&srv->sec->psk, name, strlen(name)) != NULL;
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
    return srv->sec && rd__map_allows(&srv->sec->map, identity, ep, d);
}
