/* libFuzzer harness: the stream gate's framing (RFC 8323 section 3.2, rd_frame.c) and its
 * reassembly (rd_gate_stream.c). The input, after its first byte, is a CoAP-over-TCP byte
 * stream: each message in it is read and, when a request, examined on its own; then the whole
 * stream goes through rd__gate_stream_read() in reads of 1 to 64 bytes (the first byte picks
 * the sizes), without a session, so nothing is answered. What reaches libcoap is never longer
 * than what was read, and an Echo value found lies within its message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat/rd_frame.h"
#include "compat/rd_gate_stream.h"
#include "compat/rd_options.h"
#include "rd_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads of the stream at most, so an input cannot loop for long. */
#define READS_MAX 4096

static const uint8_t *rest;
static size_t left;
static unsigned seed;

static ssize_t
read_some(void *key, int fd, void *buf, size_t len)
{
    size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 64;

    (void)key;
    (void)fd;
    if (left == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (n > left) {
        n = left;
    }
    if (n > len) {
        n = len;
    }
    memcpy(buf, rest, n);
    rest += n;
    left -= n;
    return (ssize_t)n;
}

/* Each whole message of @p p, on its own. */
static void
messages(const uint8_t *p, size_t len)
{
    struct rd_frame f;
    size_t pos = 0;

    while (pos < len && rd__frame_header(p + pos, len - pos, &f) == RD_OK && f.size <= len - pos) {
        struct rd_msg_exam e;
        uint8_t *out = malloc(f.size);
        size_t n = 0;

        if (out && rd__frame_examine(p + pos, &f, out, f.size, &n, &e) == RD_OK) {
            if (n > f.size || (e.echo_len && e.echo_off + e.echo_len > n)) {
                abort();
            }
        }
        free(out);
        pos += f.size;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int key;
    uint8_t buf[2048];
    size_t passed = 0;

    if (size < 1) {
        return 0;
    }
    messages(data + 1, size - 1);
    seed = data[0];
    rest = data + 1;
    left = size - 1;
    for (int i = 0; i < READS_MAX && (left > 0 || i == 0); i++) {
        ssize_t n = rd__gate_stream_read(NULL, &key, -1, read_some, buf, sizeof(buf));

        if (n > 0) {
            passed += (size_t)n;
        }
    }
    /* Leaving options out never lengthens a message, and nothing is made up. */
    if (passed > size - 1) {
        abort();
    }
    rd__gate_stream_forget(&key, -1);
    return 0;
}
