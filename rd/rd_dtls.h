/* What rd_dtls.c offers the rest of rd/. CoAPS (RFC 7252 section 9, DTLS) setup. */
#ifndef RD_DTLS_H
#define RD_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_conf;
struct rd_server;

/** Longest identity string, "psk:" or "x509:" prefix included, with its NUL. */
#define RD_IDENTITY_SIZE (LOOKUP_OWNER_MAX + 1)

/**
 * Load the PSK file and the identity map and give the libcoap context its PSK and certificate
 * setup, before the DTLS endpoints open. Does nothing when no DTLS is configured.
 *
 * @return RD_OK; RD_EINVAL (unreadable file, bad certificate); RD_ENOMEM.
 */
int rd__dtls_init(struct rd_server *srv);

/** 1 when CoAPS listeners are to be opened. */
int rd__dtls_enabled(const struct rd_server *srv);

/**
 * Take the reloadable security directives of @p conf and re-read the PSK file and the identity
 * map. A file that cannot be read leaves the previous table in place.
 */
void rd__dtls_reload(struct rd_server *srv, const struct rd_conf *conf);

/** Release the tables. */
void rd__dtls_cleanup(struct rd_server *srv);

/**
 * The security identity of a request's session: "none" on plain CoAP, "psk:<identity>" for a
 * PSK session, "x509:<subject CN>" for a certificate.
 *
 * @return RD_OK; RD_EINVAL when the peer's name cannot be used (too long, control bytes).
 */
int rd__identity(const coap_session_t *session, char out[RD_IDENTITY_SIZE]);

/**
 * 1 unless @p identity is a PSK identity no longer in the PSK file: a DTLS session opened
 * before a reload removed it lives on until it closes, but is not trusted any more.
 * @return 1 or 0.
 */
int rd__identity_current(const struct rd_server *srv, const char *identity);

/** 1 when @p identity may register (@p d, @p ep) under the identity_map (ep_policy identity).
 */
int rd__identity_allows(const struct rd_server *srv, const char *identity, const char *ep,
                        const char *d);

#endif
