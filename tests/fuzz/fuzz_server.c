/* libFuzzer harness: whole requests. The real server runs on a loopback port with a temporary
 * data directory, made once; each input is one UDP datagram sent to it from a fixed client
 * socket, followed by a few rounds of the server's loop. State carries over between inputs
 * (registrations, sessions, Block1 transfers, observers), as it does for a real server.
 *
 * An input whose first byte is BURST_MARK (CoAP version 2: no datagram of interest starts so)
 * is a burst instead, for the datagram gate (rd_gate.c), which must examine every datagram
 * however many wait: records of a repeat byte R, a length byte L and L bytes, each record's
 * datagram sent R + 1 times in a row, up to BURST_MAX datagrams. They go out BURST_CHUNK at a
 * time, more than the gate refuses in one read, and the loop runs until none waits. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "compat/rd_gate.h"
#include "rd.h"
#include "rd_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rounds of the server loop per input: the request, then anything it set off (a simple
 * registration's fetch, a notification) has a chance to run. */
#define ROUNDS 3
/* Largest datagram sent: more than any CoAP over UDP message we would take. */
#define DATAGRAM_MAX 2048
/* A burst input: its first byte, the datagrams it sends at most, and how many go out before
 * the loop runs (fewer than a socket's receive buffer holds). */
#define BURST_MARK  0xbb
#define BURST_MAX   1024
#define BURST_CHUNK 128
/* Loop steps after a chunk at most: a step reads up to 16 datagrams. */
#define BURST_STEPS 64

static struct rd_server *server;
static int client = -1;
static char data_dir[256];

static void
teardown(void)
{
    rd_server_free(server);
    server = NULL;
    if (client >= 0) {
        close(client);
    }
    coap_cleanup();
    if (data_dir[0]) {
        fuzz_remove_dir(data_dir);
    }
}

static int
conf_set(struct rd_conf *conf, const char *key, const char *value)
{
    char err[256];

    if (rd_conf_set(conf, key, value, err, sizeof(err))) {
        fprintf(stderr, "fuzz_server: %s\n", err);
        return -1;
    }
    return 0;
}

static int
setup(void)
{
    struct rd_conf conf;
    struct sockaddr_in to;
    char listen_on[64];
    const char *tmp = getenv("TMPDIR");
    int port = fuzz_free_port();
    int rc = -1;

    snprintf(data_dir, sizeof(data_dir), "%s/core-rd-fuzz.XXXXXX",
             tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    if (port < 0 || !mkdtemp(data_dir)) {
        data_dir[0] = '\0';
        return -1;
    }
    atexit(teardown);
    coap_startup();
    /* Malformed datagrams are the point here: libcoap need not describe each one. */
    coap_set_log_level(LOG_EMERG);
    snprintf(listen_on, sizeof(listen_on), "127.0.0.1:%d", port);
    if (rd_conf_init(&conf)) {
        return -1;
    }
    /* A small map so that a long run also reaches the full-store paths; no fsync. */
    if (!conf_set(&conf, "listen", listen_on) && !conf_set(&conf, "data_dir", data_dir) &&
        !conf_set(&conf, "log_level", "error") && !conf_set(&conf, "map_size", "32") &&
        !conf_set(&conf, "sync", "never") && !conf_set(&conf, "simple_timeout", "1") &&
        !conf_set(&conf, "rate_limit", "100000") && !conf_set(&conf, "max_per_source", "5000")) {
        rc = rd_server_new(&server, &conf);
    }
    rd_conf_cleanup(&conf);
    if (rc) {
        return -1;
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
    return 0;
}

/* Read and drop what the server sent us, so our receive buffer never fills. */
static void
drain(void)
{
    uint8_t buf[DATAGRAM_MAX];

    while (recv(client, buf, sizeof(buf), 0) >= 0) {
    }
}

/* Run the loop until no datagram waits (bounded), draining our answers. */
static void
run_until_idle(void)
{
    for (int i = 0; i < BURST_STEPS; i++) {
        if (rd_server_step(server, 0)) {
            abort();
        }
        drain();
        if (!rd__gate_pending(server)) {
            break;
        }
    }
}

static void
burst(const uint8_t *data, size_t size)
{
    size_t pos = 1;
    int sent = 0;

    while (pos + 2 <= size && sent < BURST_MAX) {
        unsigned repeat = data[pos] + 1u;
        size_t len = data[pos + 1];

        pos += 2;
        if (len > size - pos) {
            len = size - pos;
        }
        for (unsigned i = 0; i < repeat && sent < BURST_MAX; i++) {
            if (send(client, data + pos, len, 0) < 0) {
                return;
            }
            if (++sent % BURST_CHUNK == 0) {
                run_until_idle();
            }
        }
        pos += len;
    }
    run_until_idle();
    for (int i = 0; i < ROUNDS; i++) {
        if (rd_server_step(server, 0)) {
            abort();
        }
        drain();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server && setup()) {
        abort();
    }
    if (size > 0 && data[0] == BURST_MARK) {
        burst(data, size);
        return 0;
    }
    if (send(client, data, size < DATAGRAM_MAX ? size : DATAGRAM_MAX, 0) < 0) {
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
