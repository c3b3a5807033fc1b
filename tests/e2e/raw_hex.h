/* Hex text to bytes, for the raw test clients (coap_raw.c, tcp_raw.c). */
#ifndef RAW_HEX_H
#define RAW_HEX_H

#include <stddef.h>

/**
 * The @p n hex digits at @p hex as bytes in @p out (@p max bytes).
 *
 * @return 0 with @p *len written; -1 for an odd count, a non-hex digit or more than @p max bytes.
 */
int raw_unhex(const char *hex, size_t n, unsigned char *out, size_t max, size_t *len);

#endif
