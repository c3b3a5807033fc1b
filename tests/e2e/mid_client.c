/* Test tool: one request with a chosen message ID from a chosen local port, over plain CoAP or
 * CoAPS with a PSK, so a test can send two requests of two different peers that share address,
 * port and message ID (RFC 7252 section 4.5), or ask again on a DTLS session opened earlier.
 *
 * Usage: mid_client HOST PORT LOCAL_PORT MID METHOD PATH[?QUERY] [IDENTITY KEY]
 *   METHOD is get, post (a POST carries the link-format payload "</x>") or a method code in
 *   decimal (8 for an unknown method 0.08); with IDENTITY and KEY
 *   the request goes over DTLS, else over plain UDP. The query holds one parameter.
 *   With AGAIN_FILE set in the environment, after the answer it waits (ten seconds at most) until
 *   that file exists, then sends the request again on the same session with MID + 1.
 *   With OBSERVE_UNTIL set to a file, the GET registers an observation (Observe 0); after the
 *   answer, each notification is printed as "notified CODE" until that file exists (thirty
 *   seconds at most), and the first one is refused with a Reset (RFC 7641 section 3.6).
 *   With PINGS=N set, after the answer it sends N CoAP pings (RFC 7252 section 4.3) on the same
 *   session, each when the previous one's Reset came or after a second, printing "pong" or
 *   "timeout" for each.
 * Prints "CODE LOCATION" of each answer (LOCATION "-" when there is none), or "timeout". */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

static int done;
static int ponged;
static int notified;
static char answer[300];

/* A ping's Reset: libcoap 4.3.1 reports it as the Reset of a confirmable message. */
static void
on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
        const coap_mid_t mid)
{
    (void)session;
    (void)mid;
    if (reason == COAP_NACK_RST && coap_pdu_get_code(sent) == 0) {
        ponged = 1;
    }
}

/* Send @p count pings, each answered or given up after a second; print each outcome. */
static void
pings(coap_session_t *session, coap_context_t *ctx, long count)
{
    for (long n = 0; n < count && n < 100; n++) {
        ponged = 0;
        if (coap_session_send_ping(session) == COAP_INVALID_MID) {
            printf("unsent\n");
            continue;
        }
        for (int i = 0; i < 20 && !ponged; i++) {
            coap_io_process(ctx, 50);
        }
        printf("%s\n", ponged ? "pong" : "timeout");
    }
    fflush(stdout);
}

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
    if (done) {
        /* A notification after the first answer: the first one is refused (a Reset). */
        printf("notified %u.%02u\n", (unsigned)(code >> 5), (unsigned)(code & 0x1f));
        fflush(stdout);
        return notified++ == 0 ? COAP_RESPONSE_FAIL : COAP_RESPONSE_OK;
    }
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

/* Send one request and wait for its answer; print it. @return 0, or -1 when it could not go. */
static int
ask(coap_session_t *session, coap_context_t *ctx, coap_mid_t mid, int method, const char *target)
{
    int post = method == COAP_REQUEST_CODE_POST;
    static const char payload[] = "</x>";
    const char *q = strchr(target, '?');
    size_t path_len = q ? (size_t)(q - target) : strlen(target);
    coap_pdu_t *pdu;
    uint8_t buf[4];

    pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)method, mid,
                        coap_session_max_pdu_size(session));
    if (!pdu) {
        return -1;
    }
    coap_add_token(pdu, 2, (const uint8_t *)"mc");
    /* One Uri-Path option per segment. */
    for (size_t start = 0, i = 0; i <= path_len; i++) {
        if (i == path_len || target[i] == '/') {
            coap_add_option(pdu, COAP_OPTION_URI_PATH, i - start, (const uint8_t *)target + start);
            start = i + 1;
        }
    }
    if (post) {
        coap_add_option(
            pdu, COAP_OPTION_CONTENT_FORMAT,
            coap_encode_var_safe(buf, sizeof(buf), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), buf);
    }
    if (getenv("OBSERVE_UNTIL")) {
        coap_add_option(pdu, COAP_OPTION_OBSERVE,
                        coap_encode_var_safe(buf, sizeof(buf), COAP_OBSERVE_ESTABLISH), buf);
    }
    if (q) {
        coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(q + 1), (const uint8_t *)q + 1);
    }
    if (post) {
        coap_add_data(pdu, sizeof(payload) - 1, (const uint8_t *)payload);
    }
    done = 0;
    if (coap_send(session, pdu) == COAP_INVALID_MID) {
        fprintf(stderr, "mid_client: send failed\n");
        return -1;
    }
    /* At most ten seconds, in rounds of a tenth. */
    for (int i = 0; i < 100 && !done; i++) {
        coap_io_process(ctx, 100);
    }
    printf("%s\n", done ? answer : "timeout");
    fflush(stdout);
    return 0;
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
    const char *again = getenv("AGAIN_FILE");
    coap_context_t *ctx = NULL;
    coap_session_t *session = NULL;
    coap_dtls_cpsk_t psk;
    coap_address_t server;
    coap_address_t local;
    long mid;
    int method;
    int rc = 2;

    if (argc != 7 && argc != 9) {
        fprintf(stderr,
                "usage: mid_client HOST PORT LOCAL_PORT MID METHOD PATH[?QUERY] [IDENTITY KEY]\n");
        return 2;
    }
    method = strcmp(argv[5], "post") == 0  ? COAP_REQUEST_CODE_POST
             : strcmp(argv[5], "get") == 0 ? COAP_REQUEST_CODE_GET
                                           : (int)strtol(argv[5], NULL, 10);
    mid = strtol(argv[4], NULL, 10);
    if (mid < 0 || mid > 0xffff || method < 1 || method > 31 ||
        resolve(argv[1], argv[2], &server) || resolve(argv[1], argv[3], &local)) {
        fprintf(stderr, "mid_client: bad address, port or message ID\n");
        return 2;
    }
    coap_startup();
    ctx = coap_new_context(NULL);
    if (!ctx) {
        goto out;
    }
    coap_register_response_handler(ctx, on_response);
    coap_register_nack_handler(ctx, on_nack);
    if (argc == 9) {
        memset(&psk, 0, sizeof(psk));
        psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
        psk.psk_info.identity.s = (const uint8_t *)argv[7];
        psk.psk_info.identity.length = strlen(argv[7]);
        psk.psk_info.key.s = (const uint8_t *)argv[8];
        psk.psk_info.key.length = strlen(argv[8]);
        session = coap_new_client_session_psk2(ctx, &local, &server, COAP_PROTO_DTLS, &psk);
    } else {
        session = coap_new_client_session(ctx, &local, &server, COAP_PROTO_UDP);
    }
    if (!session) {
        fprintf(stderr, "mid_client: no session\n");
        goto out;
    }
    if (ask(session, ctx, (coap_mid_t)mid, method, argv[6])) {
        goto out;
    }
    if (getenv("OBSERVE_UNTIL")) {
        for (int i = 0; i < 300 && access(getenv("OBSERVE_UNTIL"), F_OK) != 0; i++) {
            coap_io_process(ctx, 100);
        }
        /* What came before the file did is read too. */
        coap_io_process(ctx, COAP_IO_NO_WAIT);
    }
    if (getenv("PINGS")) {
        pings(session, ctx, strtol(getenv("PINGS"), NULL, 10));
    }
    if (again) {
        /* Keep the session alive while the test changes the server, ten seconds at most. */
        for (int i = 0; i < 100 && access(again, F_OK) != 0; i++) {
            coap_io_process(ctx, 100);
        }
        if (ask(session, ctx, (coap_mid_t)((mid + 1) & 0xffff), method, argv[6])) {
            goto out;
        }
    }
    rc = 0;
out:
    coap_session_release(session);
    coap_free_context(ctx);
    coap_cleanup();
    return rc;
}
