/* Test tool: follow core-rd's change feed (Server-Sent Events over HTTP/1.1, RFC 9176 changes)
 * on loopback, or hold a subscription open without reading it (a slow subscriber).
 *
 * Usage: sse_client PORT PATH[?QUERY] SECONDS [LAST_EVENT_ID|-] [RCVBUF]
 *   Writes the answer (status line, headers, events) to stdout as it arrives, flushing after
 *   each read, and exits after SECONDS or when the server closes. With RCVBUF (bytes) the socket
 *   gets that receive buffer and nothing is read until SECONDS are over or SIGUSR1 comes; then
 *   everything is read until the server closes (10 s at most). Exits 0 when it connected. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void
on_usr1(int sig)
{
    (void)sig;
    go = 1;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy what the socket has to stdout until it closes or @p until_ms passes. */
static void
drain(int fd, long long until_ms)
{
    char buf[16384];

    for (;;) {
        long long left = until_ms - now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return;
        }
        n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            return;
        }
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
    }
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa;
    char req[1024];
    long seconds;
    int rcvbuf = 0;
    int fd;
    int n;

    if (argc < 4) {
        fprintf(stderr, "usage: sse_client PORT PATH SECONDS [LAST_EVENT_ID|-] [RCVBUF]\n");
        return 2;
    }
    seconds = strtol(argv[3], NULL, 10);
    if (seconds < 1 || seconds > 600) {
        fprintf(stderr, "sse_client: SECONDS from 1 to 600\n");
        return 2;
    }
    if (argc > 5) {
        rcvbuf = atoi(argv[5]);
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 1;
    }
    /* Set before connecting, so the window the server sees is small from the start. */
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("sse_client: connect");
        return 1;
    }
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s%s%s\r\n",
                 argv[2], argc > 4 && strcmp(argv[4], "-") ? "Last-Event-ID: " : "",
                 argc > 4 && strcmp(argv[4], "-") ? argv[4] : "",
                 argc > 4 && strcmp(argv[4], "-") ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
        return 1;
    }
    if (rcvbuf > 0) {
        /* The slow subscriber: read nothing for now. */
        struct timespec ts = { seconds, 0 };
        struct sigaction act;

        memset(&act, 0, sizeof(act));
        act.sa_handler = on_usr1;
        sigaction(SIGUSR1, &act, NULL);
        while (!go && nanosleep(&ts, &ts) != 0) {
        }
        drain(fd, now_ms() + 10000);
    } else {
        drain(fd, now_ms() + seconds * 1000);
    }
    close(fd);
    return 0;
}
