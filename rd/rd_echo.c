/* Source address verification with the Echo option (RFC 9175 section 2.4): a request from an
 * unverified address gets 4.01 with an Echo value bound to that address and the time; the
 * client repeats the request with it. Used before simple registration makes the RD act on a
 * request that may carry a forged source address (RFC 9176 sections 5.1 and 8.2), and by the
 * amplification limit, whose small first blocks carry a value too: a client that sends it back
 * with its next request has shown it receives at its address. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "rd_echo.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

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
echo_value(const struct rd_server *srv, const struct sockaddr *sa, enum rd_echo_scope scope,
           int64_t period, uint8_t out[ECHO_LEN])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    uint8_t msg[1 + 16 + 2 + 8];
    size_t len = 0;
    uint16_t port = 0;

    msg[len++] = (uint8_t)scope;
    if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)sa;

        memcpy(msg + len, &a6->sin6_addr, 16);
        len += 16;
        port = ntohs(a6->sin6_port);
    } else if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)sa;

        memcpy(msg + len, &a4->sin_addr, 4);
        len += 4;
        port = ntohs(a4->sin_port);
    }
    if (scope == RD_ECHO_ENDPOINT) {
        msg[len++] = (uint8_t)(port >> 8);
        msg[len++] = (uint8_t)port;
    }
    for (int i = 0; i < 8; i++) {
        msg[len++] = (uint8_t)((uint64_t)period >> (56 - 8 * i));
    }
    HMAC(EVP_sha256(), srv->echo_key, (int)sizeof(srv->echo_key), msg, len, mac, &mac_len);
    memcpy(out, mac, ECHO_LEN);
}

static const struct sockaddr *
remote_of(const coap_session_t *session)
{
    const coap_address_t *a = coap_session_get_addr_remote(session);

    return a ? &a->addr.sa : NULL;
}

int
rd__echo_check(const struct rd_server *srv, const struct sockaddr *peer, enum rd_echo_scope scope,
               const uint8_t *value, size_t len, int64_t now)
{
    uint8_t want[ECHO_LEN];

    if (!value || len != ECHO_LEN) {
        return 0;
    }
    /* The current period and the one before it: a value is good for 30 to 60 seconds. */
    for (int64_t back = 0; back < 2; back++) {
        echo_value(srv, peer, scope, now / ECHO_PERIOD - back, want);
        if (CRYPTO_memcmp(want, value, ECHO_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

int
rd__echo_verified(const struct rd_server *srv, const coap_session_t *session,
                  const coap_pdu_t *request, enum rd_echo_scope scope, int64_t now)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt = rd__option_absent(request, COAP_OPTION_ECHO)
                          ? NULL
                          : coap_check_option(request, COAP_OPTION_ECHO, &oi);

    return opt && rd__echo_check(srv, remote_of(session), scope, coap_opt_value(opt),
                                 coap_opt_length(opt), now);
}

void
rd__echo_add(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response,
             enum rd_echo_scope scope, int64_t now)
{
    uint8_t value[ECHO_LEN];

    echo_value(srv, remote_of(session), scope, now / ECHO_PERIOD, value);
    coap_add_option(response, COAP_OPTION_ECHO, ECHO_LEN, value);
}

void
rd__echo_challenge(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response,
                   enum rd_echo_scope scope, int64_t now)
{
    rd__echo_add(srv, session, response, scope, now);
    rd__respond_error(response, COAP_RESPONSE_CODE_UNAUTHORIZED, "repeat with the Echo option");
}
