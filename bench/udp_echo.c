/* udp-ack: answers every confirmable CoAP message with an empty ACK (RFC 7252 section 4.2), and
 * nothing else, so rd-bench against it measures the UDP ceiling of the machine and generator. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Set by SIGINT and SIGTERM. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int
open_socket(const char *spec)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;
    int fd = -1;

    if (!colon || colon[1] == '\0') {
        return -1;
    }
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) {
        return -1;
    }
    fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int
main(int argc, char **argv)
{
    const char *spec = "127.0.0.1:5683";
    struct sigaction sa;
    unsigned long long answered = 0;
    unsigned long long ignored = 0;
    uint8_t buf[2048];
    int fd;

    if (argc == 3 && strcmp(argv[1], "-l") == 0) {
        spec = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "Usage: udp-ack [-l HOST:PORT]\n"
                        "Answers every confirmable CoAP message with an empty ACK.\n");
        return 2;
    }
    fd = open_socket(spec);
    if (fd < 0) {
        fprintf(stderr, "udp-ack: cannot listen on %s\n", spec);
        return 1;
    }
    /* No SA_RESTART: a signal interrupts recvfrom() so the loop sees the stop request. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "listening on %s\n", spec);
    /* One recvfrom() and one sendto() per datagram, as a libcoap server does, so the ceiling
     * is that of the same system calls with no work in between. */
    while (!stop_requested) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
        uint8_t ack[4];

        if (n < 0) {
            if (errno != EINTR) {
                perror("udp-ack: recvfrom");
                break;
            }
            continue;
        }
        /* Version 1, type CON, any code but empty: the 4-byte header of an empty ACK. */
        if (n < 4 || buf[0] >> 6 != 1 || ((buf[0] >> 4) & 3) != 0 || buf[1] == 0) {
            ignored++;
            continue;
        }
        ack[0] = 0x60;
        ack[1] = 0;
        ack[2] = buf[2];
        ack[3] = buf[3];
        if (sendto(fd, ack, sizeof(ack), 0, (struct sockaddr *)&from, fromlen) == 4) {
            answered++;
        }
    }
    fprintf(stderr, "udp-ack: answered %llu, ignored %llu\n", answered, ignored);
    close(fd);
    return 0;
}
