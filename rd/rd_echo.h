/* What rd_echo.c offers the rest of rd/. Source address verification with the Echo option (RFC
 * 9175 section 2.4). */
#ifndef RD_ECHO_H
#define RD_ECHO_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;
struct sockaddr;

/** Draw the key Echo values are made with. @return RD_OK or RD_EINVAL. */
int rd__echo_init(struct rd_server *srv);

/* What an Echo value is bound to: the peer's address (enough to show it receives, and a client
 * may repeat from another port), or its address and port (simple registration fetches from
 * exactly there). */
enum rd_echo_scope {
    RD_ECHO_ADDRESS,
    RD_ECHO_ENDPOINT
};

/** 1 when @p request carries an Echo value this server gave the same peer recently. */
int rd__echo_verified(const struct rd_server *srv, const coap_session_t *session,
                      const coap_pdu_t *request, enum rd_echo_scope scope, int64_t now);

/** 1 when @p value (@p len bytes) is an Echo value this server gave @p peer recently. */
int rd__echo_check(const struct rd_server *srv, const struct sockaddr *peer,
                   enum rd_echo_scope scope, const uint8_t *value, size_t len, int64_t now);

/** Add a fresh Echo value for the peer to @p response, for the client to send back with its next
 * request (RFC 9175 section 2.3). */
void rd__echo_add(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response,
                  enum rd_echo_scope scope, int64_t now);

/** Answer 4.01 Unauthorized with a fresh Echo value for the peer (RFC 9175 section 2.4). */
void rd__echo_challenge(const struct rd_server *srv, const coap_session_t *session,
                        coap_pdu_t *response, enum rd_echo_scope scope, int64_t now);

#endif
