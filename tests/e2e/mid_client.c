/* Test tool: one registration request (RFC 9176 section 5.3) with a chosen message ID from a
 * chosen local port, over plain CoAP or CoAPS with a PSK, so a test can send two requests of two
 * different peers that share address, port and message ID (RFC 7252 section 4.5).
 *
 * Usage: mid_client HOST PORT LOCAL_PORT MID QUERY [IDENTITY KEY]
 *   With IDENTITY and KEY the request goes over DTLS, else over plain UDP.
 * Prints "CODE LOCATION" of the answer (LOCATION "-" when there is none), or "timeout". */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

static int done;
static char answer[300];

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
            const coap_mid_t mid)
{
    coap_pdu_code_t code = coap_pdu_get_code(received);
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    size_t pos = 0;
    char loc[256] = "-";

    (void)session;
    (void)sent;
    (void)mid;
    coap_option_iterator_init(received, &oi, COAP_OPT_ALL);
    while ((opt = coap_option_next(&oi)) != NULL) {
        if (oi.number != COAP_OPTION_LOCATION_PATH) {
            continue;
        }
        pos += (size_t)snprintf(loc + pos, pos < sizeof(loc) ? sizeof(loc) - pos : 0, "%s%.*s",
                                pos ? "/" : "", (int)coap_opt_length(opt),
                                (const char *)coap_opt_value(opt));
        if (pos >= sizeof(loc)) {
            break;
        }
    }
    snprintf(answer, sizeof(answer), "%u.%02u %s", (unsigned)(code >> 5), (unsigned)(code & 0x1f),
             loc);
    done = 1;
    return COAP_RESPONSE_OK;
}

static int
resolve(const char *host, const char *port, coap_address_t *out)
{
    struct addrinfo hints;
    struct addrinfo *ai = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        return -1;
    }
    coap_address_init(out);
    out->size = ai->ai_addrlen;
    memcpy(&out->addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

int
main(int argc, char **argv)
{
    static const char payload[] = "</x>";
    coap_context_t *ctx = NULL;
    coap_session_t *session = NULL;
    coap_dtls_cpsk_t psk;
    coap_address_t server;
    coap_address_t local;
    coap_pdu_t *pdu;
    uint8_t buf[4];
    long mid;
    int rc = 2;

    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: mid_client HOST PORT LOCAL_PORT MID QUERY [IDENTITY KEY]\n");
        return 2;
    }
    mid = strtol(argv[4], NULL, 10);
    if (mid < 0 || mid > 0xffff || resolve(argv[1], argv[2], &server) ||
        resolve(argv[1], argv[3], &local)) {
        fprintf(stderr, "mid_client: bad address, port or message ID\n");
        return 2;
    }
    coap_startup();
    ctx = coap_new_context(NULL);
    if (!ctx) {
        goto out;
    }
    coap_register_response_handler(ctx, on_response);
    if (argc == 8) {
        memset(&psk, 0, sizeof(psk));
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.psk_info.identity.s = (const uint8_t *)argv[6];
        psk.psk_info.identity.length = strlen(argv[6]);
        psk.psk_info.key.s = (const uint8_t *)argv[7];
        psk.psk_info.key.length = strlen(argv[7]);
        session = coap_new_client_session_psk2(ctx, &local, &server, COAP_PROTO_DTLS, &psk);
    } else {
        session = coap_new_client_session(ctx, &local, &server, COAP_PROTO_UDP);
    }
    if (!session) {
        fprintf(stderr, "mid_client: no session\n");
        goto out;
    }
    pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, (coap_mid_t)mid,
                        coap_session_max_pdu_size(session));
    if (!pdu) {
        goto out;
    }
    coap_add_token(pdu, 2, (const uint8_t *)"mc");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof(buf), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT),
                    buf);
    coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(argv[5]), (const uint8_t *)argv[5]);
    coap_add_data(pdu, sizeof(payload) - 1, (const uint8_t *)payload);
    if (coap_send(session, pdu) == COAP_INVALID_MID) {
        fprintf(stderr, "mid_client: send failed\n");
        goto out;
    }
    /* At most ten seconds, in rounds of a tenth. */
    for (int i = 0; i < 100 && !done; i++) {
        coap_io_process(ctx, 100);
    }
    printf("%s\n", done ? answer : "timeout");
    rc = 0;
out:
    coap_session_release(session);
    coap_free_context(ctx);
    coap_cleanup();
    return rc;
}
