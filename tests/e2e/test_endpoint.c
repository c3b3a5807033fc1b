/* Test tool: a CoAP endpoint on libcoap that asks an RD for simple registration (RFC 9176
 * section 5.1) and then serves the RD's GET /.well-known/core from the same port.
 *
 * Usage: test_endpoint RD_HOST RD_PORT MODE QUERY [REPEAT]
 *   MODE  links    two links with rt and if
 *         large    eighty resources: the RD must follow Block2
 *         garbage  /.well-known/core answers with text that is not link-format
 *         error    /.well-known/core answers 5.00
 *         silent   /.well-known/core is acknowledged but never answered
 *   QUERY the registration's query, e.g. "ep=dev1&lt=60"
 *   REPEAT how many times to send the POST, one after the other (default 1)
 * Prints "port N" with the endpoint's port, "code X.YY" for each answer of the RD, and
 * "served N" with how many GET /.well-known/core requests it answered. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

static int done;
static coap_pdu_code_t answer;
static int served;

/* Answer with @p text as link-format. */
static void
serve_links(coap_pdu_t *resp, const char *text)
{
    uint8_t cf[2];

    served++;
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
    coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(cf, sizeof(cf), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT),
                    cf);
    coap_add_data(resp, strlen(text), (const uint8_t *)text);
}

static void
hnd_links(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
          coap_pdu_t *resp)
{
    (void)r;
    (void)s;
    (void)req;
    (void)q;
    serve_links(
        resp,
        "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\",</sensors/light>;rt=\"light-lux\"");
}

/* Relative references, as RFC 6690 allows them in a discovery document: relative to the URI
 * of /.well-known/core itself (section 2.1). */
static void
hnd_relative(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
             coap_pdu_t *resp)
{
    (void)r;
    (void)s;
    (void)req;
    (void)q;
    serve_links(resp, "<sensors/temp>;rt=\"temperature-c\",<../up>;rt=\"up\","
                      "</abs>;anchor=\"sensors/\";rel=\"describedby\","
                      "<coap://other.example/x>;rt=\"elsewhere\"");
}

static void
hnd_garbage(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
            coap_pdu_t *resp)
{
    static const char text[] = "<<this is not link-format";

    (void)r;
    (void)s;
    (void)req;
    (void)q;
    served++;
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
    coap_add_data(resp, sizeof(text) - 1, (const uint8_t *)text);
}

static void
hnd_error(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
          coap_pdu_t *resp)
{
    (void)r;
    (void)s;
    (void)req;
    (void)q;
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
}

static void
hnd_silent(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
           coap_pdu_t *resp)
{
    (void)r;
    (void)q;
    (void)resp;
    /* An async with no delay is never answered: the RD gets an empty ACK and then nothing. */
    if (!coap_find_async(s, coap_pdu_get_token(req))) {
        coap_register_async(s, req, 0);
    }
}

static void
add_resource(coap_context_t *ctx, const char *path, const char *rt, const char *title)
{
    coap_resource_t *r = coap_resource_init(coap_new_str_const((const uint8_t *)path, strlen(path)),
                                            COAP_RESOURCE_FLAGS_RELEASE_URI);

    if (title) {
        coap_add_attr(r, coap_make_str_const("title"),
                      coap_new_str_const((const uint8_t *)title, strlen(title)),
                      COAP_ATTR_FLAGS_RELEASE_VALUE);
    }
    coap_add_attr(r, coap_make_str_const("if"), coap_make_str_const("\"sensor\""), 0);
    coap_add_attr(r, coap_make_str_const("rt"), coap_new_str_const((const uint8_t *)rt, strlen(rt)),
                  COAP_ATTR_FLAGS_RELEASE_VALUE);
    coap_add_resource(ctx, r);
}

static void
custom_core(coap_context_t *ctx, coap_method_handler_t handler)
{
    coap_resource_t *r = coap_resource_init(coap_make_str_const(".well-known/core"), 0);

    coap_register_request_handler(r, COAP_REQUEST_GET, handler);
    coap_add_resource(ctx, r);
}

static int
setup_mode(coap_context_t *ctx, const char *mode)
{
    char path[32];
    char title[96];

    if (strcmp(mode, "links") == 0) {
        custom_core(ctx, hnd_links);
    } else if (strcmp(mode, "relative") == 0) {
        custom_core(ctx, hnd_relative);
    } else if (strcmp(mode, "large") == 0) {
        for (int i = 0; i < 80; i++) {
            snprintf(path, sizeof(path), "sensors/s%d", i);
            snprintf(title, sizeof(title), "\"a sensor with a long title, number %d\"", i);
            add_resource(ctx, path, "\"temperature-c\"", title);
        }
    } else if (strcmp(mode, "garbage") == 0) {
        custom_core(ctx, hnd_garbage);
    } else if (strcmp(mode, "error") == 0) {
        custom_core(ctx, hnd_error);
    } else if (strcmp(mode, "silent") == 0) {
        custom_core(ctx, hnd_silent);
    } else {
        return -1;
    }
    return 0;
}

static coap_response_t
hnd_response(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *received,
             const coap_mid_t mid)
{
    (void)s;
    (void)sent;
    (void)mid;
    answer = coap_pdu_get_code(received);
    done = 1;
    return COAP_RESPONSE_OK;
}

static coap_pdu_t *
build_post(coap_session_t *session, const char *query)
{
    coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, session);
    uint8_t token[8];
    size_t token_len;
    const char *p = query;

    coap_session_new_token(session, &token_len, token);
    coap_add_token(pdu, token_len, token);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 11, (const uint8_t *)".well-known");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"rd");
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);

        coap_add_option(pdu, COAP_OPTION_URI_QUERY, len, (const uint8_t *)p);
        p += len + (amp ? 1 : 0);
    }
    return pdu;
}

int
main(int argc, char **argv)
{
    coap_context_t *ctx;
    coap_session_t *session;
    coap_address_t rd;
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    time_t until;

    long repeat = argc == 6 ? strtol(argv[5], NULL, 10) : 1;

    if ((argc != 5 && argc != 6) || repeat < 1 || repeat > 10) {
        fprintf(stderr, "usage: test_endpoint RD_HOST RD_PORT MODE QUERY [REPEAT]\n");
        return 2;
    }
    coap_startup();
    coap_set_log_level(LOG_WARNING);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
        fprintf(stderr, "test_endpoint: cannot resolve %s\n", argv[1]);
        return 2;
    }
    coap_address_init(&rd);
    rd.size = ai->ai_addrlen;
    memcpy(&rd.addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    ctx = coap_new_context(NULL);
    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    if (setup_mode(ctx, argv[3]) != 0) {
        fprintf(stderr, "test_endpoint: unknown mode %s\n", argv[3]);
        return 2;
    }
    coap_register_response_handler(ctx, hnd_response);
    /* Requests that reach this client session are served from the context's resources, so
     * the RD's GET /.well-known/core comes back to the port the POST left from. */
    session = coap_new_client_session(ctx, NULL, &rd, COAP_PROTO_UDP);
    if (!session) {
        fprintf(stderr, "test_endpoint: no session\n");
        return 2;
    }
    printf("port %u\n", (unsigned)coap_address_get_port(coap_session_get_addr_local(session)));
    fflush(stdout);
    for (long i = 0; i < repeat; i++) {
        done = 0;
        coap_send(session, build_post(session, argv[4]));
        until = time(NULL) + 30;
        while (!done && time(NULL) < until) {
            coap_io_process(ctx, 100);
        }
        if (!done) {
            printf("code none\n");
            break;
        }
        printf("code %u.%02u\n", answer >> 5, answer & 0x1f);
        fflush(stdout);
    }
    printf("served %d\n", served);
    coap_session_release(session);
    coap_free_context(ctx);
    coap_cleanup();
    return done ? 0 : 1;
}
