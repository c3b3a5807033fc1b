/* Source address verification with the Echo option (RFC 9175 section 2.4): a request from an
 * unverified address gets 4.01 with an Echo value bound to that address and the time; the
 * client repeats the request with it. Used before simple registration makes the RD act on a
 * request that may carry a forged source address (RFC 9176 sections 5.1 and 8.2). */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "rd_internal.h"

/* An Echo value stays valid for one to two of these periods. */
#define ECHO_PERIOD 30
#define ECHO_LEN    8

int
rd__echo_init(struct rd_server *srv)
{
    return RAND_bytes(srv->echo_key, sizeof(srv->echo_key)) == 1 ? RD_OK : RD_EINVAL;
}

/* HMAC-SHA-256 of the peer's address (and port), the scope and a time period, cut to ECHO_LEN
 * bytes: stateless, so any number of peers cost no memory. */
static void
echo_value(const struct rd_server *srv, const coap_session_t *session, enum rd_echo_scope scope,
           int64_t period, uint8_t out[ECHO_LEN])
{
    const coap_address_t *a = coap_session_get_addr_remote(session);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    uint8_t msg[1 + 16 + 2 + 8];
    size_t len = 0;

    msg[len++] = (uint8_t)scope;
    if (a && a->addr.sa.sa_family == AF_INET6) {
        memcpy(msg + len, &a->addr.sin6.sin6_addr, 16);
        len += 16;
    } else if (a && a->addr.sa.sa_family == AF_INET) {
        memcpy(msg + len, &a->addr.sin.sin_addr, 4);
        len += 4;
    }
    if (a && scope == RD_ECHO_ENDPOINT) {
        uint16_t port = coap_address_get_port(a);

        msg[len++] = (uint8_t)(port >> 8);
        msg[len++] = (uint8_t)port;
    }
    for (int i = 0; i < 8; i++) {
        msg[len++] = (uint8_t)((uint64_t)period >> (56 - 8 * i));
    }
    HMAC(EVP_sha256(), srv->echo_key, (int)sizeof(srv->echo_key), msg, len, mac, &mac_len);
    memcpy(out, mac, ECHO_LEN);
}

int
rd__echo_verified(const struct rd_server *srv, const coap_session_t *session,
                  const coap_pdu_t *request, enum rd_echo_scope scope, int64_t now)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt = coap_check_option(request, COAP_OPTION_ECHO, &oi);
    uint8_t want[ECHO_LEN];

    if (!opt || coap_opt_length(opt) != ECHO_LEN) {
        return 0;
    }
    /* The current period and the one before it: a value is good for 30 to 60 seconds. */
    for (int64_t back = 0; back < 2; back++) {
        echo_value(srv, session, scope, now / ECHO_PERIOD - back, want);
        if (CRYPTO_memcmp(want, coap_opt_value(opt), ECHO_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

void
rd__echo_challenge(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response,
                   enum rd_echo_scope scope, int64_t now)
{
    uint8_t value[ECHO_LEN];

    echo_value(srv, session, scope, now / ECHO_PERIOD, value);
    coap_add_option(response, COAP_OPTION_ECHO, ECHO_LEN, value);
    rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED, "repeat with the Echo option");
}
