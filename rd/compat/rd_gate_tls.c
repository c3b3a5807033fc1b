/* The record gate: CoAP over DTLS and over TLS are examined as plain CoAP is, after OpenSSL
 * decrypts and before libcoap parses (RFC 7252 sections 4.3, 5.4 and 5.8; RFC 8323 section 5.4).
 *
 * libcoap 4.3.1 (OpenSSL variant) reads the plaintext of a session with SSL_read(), called
 * through its PLT; this file defines SSL_read(), as rd_gate.c defines recvmsg(), and the real
 * one is the next definition. For a server session of a gated server (rd__gate_server()), a
 * DTLS record is one CoAP message in the datagram form: it goes through rd__gate_examine(), and
 * answers (a Reset to each ping, 4.02, 4.05) are written back with the real SSL_write() on the
 * same SSL object. A TLS session is a byte stream: it goes through the stream gate
 * (rd_gate_stream.c). When a message read is not for libcoap, SSL_read() returns -1 and
 * SSL_get_error() (also defined here) says SSL_ERROR_WANT_READ for that SSL object, which
 * libcoap takes as "nothing read". SSL_free() drops the stream state of a TLS session. */
#include <limits.h>

#include <openssl/ssl.h>

#include "rd_gate.h"
#include "rd_gate_stream.h"
#include "rd_gate_tls.h"

#if RD_GATE_INTERPOSE

typedef int (*ssl_read_fn)(SSL *ssl, void *buf, int num);
typedef int (*ssl_write_fn)(SSL *ssl, const void *buf, int num);
typedef int (*ssl_get_error_fn)(const SSL *ssl, int ret);
typedef void (*ssl_free_fn)(SSL *ssl);

/* The SSL object whose last SSL_read() returned -1 for a message the gate kept from libcoap:
 * OpenSSL itself read it, so only we know that "want read" is the answer, once. */
static const SSL *held;
/* What the real SSL_read() returned last for a TLS session: the stream gate's "nothing yet"
 * after bytes were read is ours to explain, a failure of OpenSSL's is OpenSSL's. */
static int tls_last;

static ssl_read_fn
real_read(void)
{
    static ssl_read_fn fn;

    if (!fn) {
        rd__gate_next("SSL_read", &fn, sizeof(fn));
    }
    return fn;
}

/* The stream gate's raw read of a TLS session. */
static ssize_t
tls_read(void *key, int fd, void *buf, size_t len)
{
    (void)fd;
    tls_last = real_read()(key, buf, len > INT_MAX ? INT_MAX : (int)len);
    return tls_last;
}

void
rd__gate_tls_write(void *ssl, const uint8_t *p, size_t n)
{
    static ssl_write_fn fn;

    if (!fn) {
        rd__gate_next("SSL_write", &fn, sizeof(fn));
    }
    if (fn) {
        fn(ssl, p, (int)n);
    }
}

/* One DTLS record: to libcoap when it passes the examination, else "nothing read". */
static int
dtls_read(struct rd_server *srv, coap_session_t *session, SSL *ssl, void *buf, int num)
{
    struct rd_gate_from from = { -1, NULL, ssl, session };
    int r = real_read()(ssl, buf, num);
    size_t len;

    if (r <= 0) {
        return r;
    }
    len = (size_t)r;
    if (rd__gate_examine(srv, &from, buf, &len)) {
        return (int)len;
    }
    held = ssl;
    return -1;
}

int
SSL_read(SSL *ssl, void *buf, int num)
{
    coap_session_t *session;
    struct rd_server *srv = NULL;
    ssize_t r;

    held = NULL;
    if (!real_read()) {
        return -1;
    }
    session = ssl ? SSL_get_app_data(ssl) : NULL;
    if (session && coap_session_get_type(session) == COAP_SESSION_TYPE_SERVER) {
        srv = rd__gate_server(coap_session_get_context(session));
    }
    if (!srv || num <= 0) {
        return real_read()(ssl, buf, num);
    }
    if (SSL_is_dtls(ssl)) {
        return dtls_read(srv, session, ssl, buf, num);
    }
    tls_last = 0;
    r = rd__gate_stream_read(session, ssl, -1, tls_read, buf, (size_t)num);
    if (r < 0 && tls_last > 0) {
        /* OpenSSL read bytes, but no whole message passed yet. */
        held = ssl;
    }
    return (int)r;
}

int
SSL_get_error(const SSL *ssl, int ret)
{
    static ssl_get_error_fn fn;

    if (ret <= 0 && ssl && ssl == held) {
        held = NULL;
        return SSL_ERROR_WANT_READ;
    }
    if (!fn) {
        rd__gate_next("SSL_get_error", &fn, sizeof(fn));
    }
    return fn ? fn(ssl, ret) : SSL_ERROR_SYSCALL;
}

void
SSL_free(SSL *ssl)
{
    static ssl_free_fn fn;

    if (ssl == held) {
        held = NULL;
    }
    rd__gate_stream_forget(ssl, -1);
    if (!fn) {
        rd__gate_next("SSL_free", &fn, sizeof(fn));
    }
    if (fn) {
        fn(ssl);
    }
}

#else

void
rd__gate_tls_write(void *ssl, const uint8_t *p, size_t n)
{
    (void)ssl;
    (void)p;
    (void)n;
}

#endif /* RD_GATE_INTERPOSE */
