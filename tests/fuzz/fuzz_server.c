/* libFuzzer harness: whole requests. The real server runs on a loopback port with a temporary
 * data directory, made once; each input is one UDP datagram sent to it from a fixed client
 * socket, followed by a few rounds of the server's loop. State carries over between inputs
 * (registrations, sessions, Block1 transfers, observers), as it does for a real server. */
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

#include "rd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rounds of the server loop per input: the request, then anything it set off (a simple
 * registration's fetch, a notification) has a chance to run. */
#define ROUNDS 3
/* Largest datagram sent: more than any CoAP over UDP message we would take. */
#define DATAGRAM_MAX 2048

static struct rd_server *server;
static int client = -1;
static char data_dir[256];

/* The data directory holds LMDB's two files and nothing below it. */
static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            remove(path);
        }
    }
    if (d) {
        closedir(d);
    }
    remove(dir);
}

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
        remove_dir(data_dir);
    }
}

/* A loopback port nobody uses right now. */
static int
free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int port = -1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
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
    int port = free_port();
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server && setup()) {
        abort();
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
