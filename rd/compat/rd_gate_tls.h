/* What rd_gate_tls.c offers the rest of rd/. The record gate of DTLS and TLS sessions. */
#ifndef RD_GATE_TLS_H
#define RD_GATE_TLS_H

#include <stddef.h>
#include <stdint.h>

/** Write @p n bytes to the DTLS session of SSL object @p ssl, past the interposition (an
 * answer of the gate's). Failures are not reported: the client asks again. */
void rd__gate_tls_write(void *ssl, const uint8_t *p, size_t n);

#endif
