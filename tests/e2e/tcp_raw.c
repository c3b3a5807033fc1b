/* Test tool: raw CoAP over TCP (RFC 8323). Connects, sends an empty CSM (section 5.3), then
 * sends each message given in hex (comma-separated, in the stream form of section 3.2) and
 * prints the first message that comes back for it, other than a CSM, as "CODE TOKEN PAYLOAD"
 * (TOKEN in hex, "-" when empty; "+options" after it when the message has options; PAYLOAD
 * after the 0xff marker, when there is one), or
 * "timeout" when none came within WAIT_MS (milliseconds, default 3000).
 * Usage: tcp_raw HOST PORT HEX[,HEX...] [WAIT_MS] */
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "raw_hex.h"

/* Largest message read or sent, and messages sent in one run at most. */
#define MESSAGE_MAX 4096
#define SEND_MAX    100

static long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly @p len bytes before @p deadline. @return 0; -1 on timeout, end or error. */
static int
read_full(int fd, unsigned char *buf, size_t len, long deadline)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            return -1;
        }
        n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

/* Read one message before @p deadline into @p msg. @return its length; -1 on timeout. */
static long
read_message(int fd, unsigned char *msg, long deadline)
{
    static const size_t ext_bytes[4] = { 1, 2, 4, 0 };
    static const unsigned long ext_add[4] = { 13, 269, 65805, 0 };
    unsigned nibble;
    size_t ext;
    size_t tkl;
    unsigned long body = 0;

    if (read_full(fd, msg, 1, deadline)) {
        return -1;
    }
    nibble = msg[0] >> 4;
    tkl = msg[0] & 0x0f;
    ext = nibble < 13 ? 0 : ext_bytes[nibble - 13];
    if (nibble == 15 || tkl > 8 || read_full(fd, msg + 1, ext + 1, deadline)) {
        return -1;
    }
    for (size_t i = 0; i < ext; i++) {
        body = body << 8 | msg[1 + i];
    }
    body += nibble < 13 ? nibble : ext_add[nibble - 13];
    if (2 + ext + tkl + body > MESSAGE_MAX || read_full(fd, msg + 2 + ext, tkl + body, deadline)) {
        return -1;
    }
    return (long)(2 + ext + tkl + body);
}

/* Print code, token and payload of message @p m of @p len bytes. */
static void
print_message(const unsigned char *m, size_t len)
{
    unsigned nibble = m[0] >> 4;
    size_t head = 2 + (nibble == 13 ? 1 : nibble == 14 ? 2 : 0);
    size_t tkl = m[0] & 0x0f;
    unsigned code = m[head - 1];
    const unsigned char *marker;

    printf("%u.%02u ", code >> 5, code & 0x1f);
    if (tkl == 0) {
        printf("-");
    }
    for (size_t i = 0; i < tkl; i++) {
        printf("%02x", m[head + i]);
    }
    if (head + tkl < len && m[head + tkl] != 0xff) {
        printf(" +options");
    }
    /* Step over the options (an ETag may hold 0xff bytes) to the payload marker. */
    marker = NULL;
    for (size_t pos = head + tkl; pos < len;) {
        unsigned d = m[pos] >> 4;
        unsigned l = m[pos] & 0x0f;
        size_t optlen;

        if (m[pos] == 0xff) {
            marker = m + pos;
            break;
        }
        pos += 1 + (d == 13 ? 1 : d == 14 ? 2 : 0);
        if (l == 15 || pos + (l == 13 ? 1 : l == 14 ? 2 : 0) > len) {
            break;
        }
        optlen = l == 13 ? 13u + m[pos] : l == 14 ? 269u + (m[pos] << 8 | m[pos + 1]) : l;
        pos += (l == 13 ? 1 : l == 14 ? 2 : 0) + optlen;
    }
    if (marker && marker + 1 < m + len) {
        printf(" ");
        fwrite(marker + 1, 1, (size_t)(m + len - marker - 1), stdout);
    }
    printf("\n");
}

int
main(int argc, char **argv)
{
    static const unsigned char csm[] = { 0x00, 0xe1 };
    unsigned char msg[MESSAGE_MAX];
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    int wait_ms = 3000;
    int sent = 0;
    int fd;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: tcp_raw HOST PORT HEX[,HEX...] [WAIT_MS]\n");
        return 2;
    }
    if (argc == 5) {
        wait_ms = (int)strtol(argv[4], NULL, 10);
        if (wait_ms < 1 || wait_ms > 30000) {
            wait_ms = 3000;
        }
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
        fprintf(stderr, "tcp_raw: cannot resolve %s\n", argv[1]);
        return 2;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        send(fd, csm, sizeof(csm), 0) != (ssize_t)sizeof(csm)) {
        perror("tcp_raw");
        return 2;
    }
    freeaddrinfo(ai);
    for (const char *hex = argv[3]; hex && sent < SEND_MAX;
         hex = strchr(hex, ',') ? strchr(hex, ',') + 1 : NULL, sent++) {
        const char *end = strchr(hex, ',');
        size_t n = end ? (size_t)(end - hex) : strlen(hex);
        long deadline = now_ms() + wait_ms;
        size_t len;
        long got;

        if (raw_unhex(hex, n, msg, sizeof(msg), &len) != 0) {
            fprintf(stderr, "tcp_raw: bad hex\n");
            return 2;
        }
        if (send(fd, msg, len, 0) != (ssize_t)len) {
            perror("tcp_raw");
            return 2;
        }
        do {
            got = read_message(fd, msg, deadline);
        } while (got > 0 && msg[(msg[0] >> 4) == 13 ? 2 : (msg[0] >> 4) == 14 ? 3 : 1] == 0xe1);
        if (got > 0) {
            print_message(msg, (size_t)got);
        } else {
            printf("timeout\n");
        }
        fflush(stdout);
    }
    close(fd);
    return 0;
}
