/* libFuzzer harness: the HTTP listener's bearer token file and Authorization headers
 * (RFC 6750). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rd_status.h"
#include "rd_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is a token file; every line of it is also tried as a header, as it is (a token a
 * file accepts must be accepted in "Bearer <token>", and nothing else must crash). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd_tokens *t = NULL;
    char err[256];
    char header[RD_TOKEN_MAX + 16];
    const char *text = (const char *)data;
    size_t pos = 0;

    if (rd__tokens_parse(text, size, "fuzz", &t, err, sizeof(err)) != RD_OK) {
        t = NULL;
    }
    while (pos < size) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - text) : size;
        size_t len = end - pos;

        if (len < RD_TOKEN_MAX && !memchr(text + pos, '\0', len)) {
            memcpy(header, text + pos, len);
            header[len] = '\0';
            (void)rd__tokens_accept(t, header);
            memcpy(header, "Bearer ", 7);
            memcpy(header + 7, text + pos, len);
            header[7 + len] = '\0';
            if (t && len && text[pos] != '#' && !isspace((unsigned char)text[pos]) &&
                !isspace((unsigned char)text[pos + len - 1]) && !rd__tokens_accept(t, header)) {
                abort();
            }
        }
        pos = end + 1;
    }
    rd__tokens_free(t);
    return 0;
}
