/* libFuzzer harness: whole requests over DTLS (RFC 7252 section 9). The real server runs with a
 * DTLS listener and a PSK file in a temporary directory, made once; the harness is a PSK client
 * with its own OpenSSL session, and each input is the plaintext of one record, so every byte of
 * it reaches the server past the decryption, where no datagram guard looks: block-wise
 * transfer, options and signaling as a key holder can send them. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fuzz_util.h"
#include "rd.h"
#include "rd_conf.h"
#include "rd_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rounds of the server loop per input, as in fuzz_server. */
#define ROUNDS 3
/* Largest plaintext sent: more than any CoAP over DTLS message we would take. */
#define RECORD_MAX 1200
/* How long a handshake may take. */
#define HANDSHAKE_MS 3000
/* Inputs sent over one session before a new one. */
#define SESSION_INPUTS 32

static const char identity[] = "fuzz";
static const char key[] = "fuzz-key";

static struct rd_server *server;
static SSL_CTX *ssl_ctx;
static SSL *ssl;
static int client = -1;
static int dtls_port = -1;
static unsigned long inputs;
static char dir[256];

static void
teardown(void)
{
    SSL_free(ssl);
    SSL_CTX_free(ssl_ctx);
    rd_server_free(server);
    server = NULL;
    if (client >= 0) {
        close(client);
    }
    coap_cleanup();
    if (dir[0]) {
        fuzz_remove_dir(dir);
    }
}

static unsigned
psk_cb(SSL *s, const char *hint, char *id, unsigned max_id, unsigned char *psk, unsigned max_psk)
{
    (void)s;
    (void)hint;
    if (sizeof(identity) > max_id || sizeof(key) - 1 > max_psk) {
        return 0;
    }
    memcpy(id, identity, sizeof(identity));
    memcpy(psk, key, sizeof(key) - 1);
    return sizeof(key) - 1;
}

static int
start_server(int port, int plain_port)
{
    struct rd_conf conf;
    char path[300];
    char value[64];
    char plain[64];
    char err[256];
    FILE *f;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/psk.keys", dir);
    f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "%s %s\n", identity, key);
    fclose(f);
    chmod(path, 0600);
    if (rd_conf_init(&conf)) {
        return -1;
    }
    snprintf(value, sizeof(value), "127.0.0.1:%d", port);
    snprintf(plain, sizeof(plain), "127.0.0.1:%d", plain_port);
    if (!rd_conf_set(&conf, "dtls_listen", value, err, sizeof(err)) &&
        !rd_conf_set(&conf, "psk_file", path, err, sizeof(err)) &&
        !rd_conf_set(&conf, "listen", plain, err, sizeof(err)) &&
        !rd_conf_set(&conf, "data_dir", dir, err, sizeof(err)) &&
        !rd_conf_set(&conf, "log_level", "error", err, sizeof(err)) &&
        !rd_conf_set(&conf, "map_size", "32", err, sizeof(err)) &&
        !rd_conf_set(&conf, "sync", "never", err, sizeof(err)) &&
        !rd_conf_set(&conf, "rate_limit", "100000", err, sizeof(err)) &&
        !rd_conf_set(&conf, "max_per_source", "5000", err, sizeof(err))) {
        rc = rd_server_new(&server, &conf);
    } else {
        fprintf(stderr, "fuzz_dtls: %s\n", err);
    }
    rd_conf_cleanup(&conf);
    return rc;
}

/* Connect a new client socket and shake hands, running the server's loop in between. */
static int
handshake_once(int port)
{
    struct sockaddr_in to;
    BIO *bio;

    SSL_free(ssl);
    ssl = NULL;
    if (client >= 0) {
        close(client);
    }
    client = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (client < 0 || connect(client, (struct sockaddr *)&to, sizeof(to)) != 0 ||
        fcntl(client, F_SETFL, O_NONBLOCK) != 0) {
        return -1;
    }
    if (!ssl_ctx) {
        ssl_ctx = SSL_CTX_new(DTLS_client_method());
        if (!ssl_ctx) {
            return -1;
        }
        SSL_CTX_set_psk_client_callback(ssl_ctx, psk_cb);
        SSL_CTX_set_cipher_list(ssl_ctx, "PSK");
    }
    ssl = SSL_new(ssl_ctx);
    bio = BIO_new_dgram(client, BIO_NOCLOSE);
    if (!ssl || !bio) {
        BIO_free(bio);
        return -1;
    }
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &to);
    SSL_set_bio(ssl, bio, bio);
    /* A deadline, not a count of rounds: a round may return at once while the server has
     * housekeeping to do, and a lost flight waits for OpenSSL's retransmission timer. */
    for (int64_t end = rd__now_ms() + HANDSHAKE_MS; rd__now_ms() < end;) {
        struct timeval left;
        int rc = SSL_connect(ssl);

        if (rc == 1) {
            return 0;
        }
        if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) {
            ERR_print_errors_fp(stderr);
            return -1;
        }
        if (rd_server_step(server, 10)) {
            return -1;
        }
        if (DTLSv1_get_timeout(ssl, &left) && left.tv_sec == 0 && left.tv_usec == 0) {
            DTLSv1_handle_timeout(ssl);
        }
    }
    return -1;
}

/* A new session. The system may hand the new socket the port of an older session the server
 * still keeps, and libcoap 4.3.1 takes a ClientHello that comes from an established session's
 * address and port for that session's (RFC 6347 section 4.2.8 asks otherwise): another socket,
 * another port, then. */
static int
handshake(int port)
{
    for (int i = 0; i < 3; i++) {
        if (handshake_once(port) == 0) {
            return 0;
        }
    }
    return -1;
}

static int
setup(void)
{
    const char *tmp = getenv("TMPDIR");
    int port = fuzz_free_port();
    int plain_port = fuzz_free_port();

    snprintf(dir, sizeof(dir), "%s/core-rd-fuzz-dtls.XXXXXX",
             tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (port < 0 || plain_port < 0 || port == plain_port || !mkdtemp(dir)) {
        dir[0] = '\0';
        return -1;
    }
    atexit(teardown);
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    dtls_port = port;
    if (start_server(port, plain_port) || handshake(port)) {
        fprintf(stderr, "fuzz_dtls: no DTLS session with the server\n");
        return -1;
    }
    return 0;
}

/* Read and drop what the server sent us, so our receive buffer never fills. */
static void
drain(void)
{
    uint8_t buf[RECORD_MAX * 2];

    while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
    }
    ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server && setup()) {
        abort();
    }
    if (size == 0) {
        return 0;
    }
    /* An input that makes the server drop the session leaves later ones talking to nobody, and
     * a closed one says so: a new session now and then keeps every input reaching the server. */
    if (++inputs % SESSION_INPUTS == 0 || (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN)) {
        if (handshake(dtls_port)) {
            abort();
        }
    }
    if (SSL_write(ssl, data, (int)(size < RECORD_MAX ? size : RECORD_MAX)) <= 0) {
        /* The server ended the session (an alert, a close): the next input gets a new one. */
        ERR_clear_error();
        if (handshake(dtls_port)) {
            abort();
        }
        return 0;
    }
    for (int i = 0; i < ROUNDS; i++) {
        if (rd_server_step(server, 0)) {
            abort();
        }
        drain();
    }
    return 0;
}
