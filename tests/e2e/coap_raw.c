/* Test tool: sends one raw CoAP datagram (given in hex) a number of times over UDP and prints
 * each reply as "CODE MID PAYLOAD", so tests can check what a retransmission gets back. An
 * optional fifth argument sets how long to wait for each reply (milliseconds, default 3000).
 * Several datagrams separated by commas go out in turn from the same source port, COUNT times
 * each; "HEX*N" sends that one N times more in a row. With COAP_RAW_BURST set in the environment
 * nothing waits for a reply: every datagram goes out at once, then the replies are printed as
 * they come until none came for WAIT_MS. With COAP_RAW_UNTIL naming a file, a burst's replies
 * are collected instead until that file exists, then those already queued; with COAP_RAW_RESET
 * set, each non-confirmable reply is answered with a Reset ("reset MID" is printed), as a client
 * that no longer wants notifications does (RFC 7641 section 3.6). With COAP_RAW_OPTIONS set,
 * each reply is followed by a line "options N,M,..." with the numbers of its options. */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "raw_hex.h"

/* Most datagrams one run sends, and longest it collects the replies of a burst. */
#define SEND_MAX  5000
#define BURST_MAX 30

/* The option delta or length of @p nibble, with its extension bytes at @p *pos (RFC 7252
 * section 3.1), read and skipped; 0 when they run past @p len. */
static unsigned
ext_value(unsigned nibble, const unsigned char *b, size_t len, size_t *pos)
{
    unsigned v = nibble;

    if (nibble == 13) {
        v = *pos < len ? b[*pos] + 13u : 0;
        *pos += 1;
    } else if (nibble == 14) {
        v = *pos + 1 < len ? ((unsigned)b[*pos] << 8 | b[*pos + 1]) + 269u : 0;
        *pos += 2;
    }
    return v;
}

/* Print code, message id and payload (after the 0xff marker) of a reply; with COAP_RAW_SIZES
 * set in the environment, a line "bytes N" with the reply's datagram size after it. */
static void
print_reply(const unsigned char *b, size_t len)
{
    size_t tkl;
    size_t pos;
    unsigned number = 0;
    char opts[256] = "";
    size_t on = 0;

    if (len < 4) {
        printf("short\n");
        return;
    }
    tkl = b[0] & 0x0f;
    pos = 4 + tkl;
    /* Skip the options to find the payload marker. */
    while (pos < len && b[pos] != 0xff) {
        unsigned head = b[pos++];
        unsigned olen;

        number += ext_value(head >> 4, b, len, &pos);
        if (on < sizeof(opts)) {
            on += (size_t)snprintf(opts + on, sizeof(opts) - on, "%s%u", on ? "," : "", number);
        }
        olen = ext_value(head & 0x0f, b, len, &pos);
        pos += olen;
    }
    printf("%u.%02u %u", b[1] >> 5, b[1] & 0x1f, (unsigned)(b[2] << 8 | b[3]));
    if (pos + 1 < len) {
        printf(" ");
        fwrite(b + pos + 1, 1, len - pos - 1, stdout);
    }
    printf("\n");
    if (getenv("COAP_RAW_SIZES")) {
        printf("bytes %zu\n", len);
    }
    if (getenv("COAP_RAW_OPTIONS")) {
        printf("options %s\n", opts);
    }
}

/* Send one datagram @p count times, printing each reply or "timeout"; in a burst, without
 * waiting for any. */
static void
send_count(int fd, const unsigned char *req, size_t req_len, int count, int wait_ms, int burst)
{
    unsigned char rsp[2048];
    static int sent;

    for (int i = 0; i < count && sent < SEND_MAX; i++, sent++) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        ssize_t n;

        if (send(fd, req, req_len, 0) < 0) {
            perror("send");
            return;
        }
        if (burst) {
            continue;
        }
        if (poll(&pfd, 1, wait_ms) <= 0) {
            printf("timeout\n");
            continue;
        }
        n = recv(fd, rsp, sizeof(rsp), 0);
        if (n > 0) {
            print_reply(rsp, (size_t)n);
        }
    }
}

/* Answer a non-confirmable reply with a Reset that names its message ID. */
static void
reset(int fd, const unsigned char *b, size_t len)
{
    unsigned char rst[4];

    if (len < 4 || ((b[0] >> 4) & 3) != 1) {
        return;
    }
    rst[0] = 0x70;
    rst[1] = 0;
    rst[2] = b[2];
    rst[3] = b[3];
    if (send(fd, rst, sizeof(rst), 0) == (ssize_t)sizeof(rst)) {
        printf("reset %u\n", (unsigned)(b[2] << 8 | b[3]));
    }
}

/* Print the replies to a burst until none came for @p wait_ms (or, with @p until_file, until
 * that file exists and the queued replies are read), BURST_MAX seconds at most. */
static void
collect(int fd, int wait_ms, const char *until_file)
{
    unsigned char rsp[2048];
    struct pollfd pfd = { fd, POLLIN, 0 };
    time_t until = time(NULL) + BURST_MAX;
    int resets = getenv("COAP_RAW_RESET") != NULL;
    int last = 0;
    struct stat st;

    while (time(NULL) < until) {
        int ready;
        ssize_t n;

        if (until_file && !last) {
            last = stat(until_file, &st) == 0;
        }
        ready = poll(&pfd, 1, until_file ? (last ? 0 : 50) : wait_ms);
        if (ready <= 0 && (!until_file || last)) {
            break;
        }
        if (ready <= 0) {
            continue;
        }
        n = recv(fd, rsp, sizeof(rsp), 0);
        if (n > 0) {
            print_reply(rsp, (size_t)n);
            if (resets) {
                reset(fd, rsp, (size_t)n);
            }
        }
        fflush(stdout);
    }
}

int
main(int argc, char **argv)
{
    unsigned char req[2048];
    size_t req_len;
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    int count;
    int wait_ms = 3000;
    int burst = getenv("COAP_RAW_BURST") != NULL;
    int fd;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: coap_raw HOST PORT HEX COUNT [WAIT_MS]\n");
        return 2;
    }
    count = (int)strtol(argv[4], NULL, 10);
    if (argc == 6) {
        wait_ms = (int)strtol(argv[5], NULL, 10);
        if (wait_ms < 1 || wait_ms > 30000) {
            wait_ms = 3000;
        }
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
        fprintf(stderr, "coap_raw: cannot resolve %s\n", argv[1]);
        return 2;
    }
    fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        perror("coap_raw");
        return 2;
    }
    for (const char *hex = argv[3]; hex; hex = strchr(hex, ',') ? strchr(hex, ',') + 1 : NULL) {
        const char *end = strchr(hex, ',');
        size_t n = end ? (size_t)(end - hex) : strlen(hex);
        const char *star = memchr(hex, '*', n);
        int times = count;

        if (star) {
            times = count * (int)strtol(star + 1, NULL, 10);
            n = (size_t)(star - hex);
        }
        if (raw_unhex(hex, n, req, sizeof(req), &req_len) != 0) {
            fprintf(stderr, "coap_raw: bad hex\n");
            return 2;
        }
        send_count(fd, req, req_len, times, wait_ms, burst);
    }
    if (burst) {
        collect(fd, wait_ms, getenv("COAP_RAW_UNTIL"));
    }
    fflush(stdout);
    freeaddrinfo(ai);
    close(fd);
    return 0;
}
