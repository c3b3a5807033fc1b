/* What rd_request.c offers the rest of rd/. Request plumbing. */
#ifndef RD_REQUEST_H
#define RD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_server;

/** Length of a rendered registration id (40 bits in base32) plus its NUL. */
#define RD_ID_SIZE 9
/** Longest registration base we derive or accept, with its NUL. */
#define RD_BASE_SIZE 512

/** Collect the Uri-Query options of @p request one by one (never re-joined, RFC 9176 traps).
 * @return RD_OK; RD_ETOOBIG when there are more than @p max. */
int rd__query_params(const coap_pdu_t *request, struct lookup_qparam *out, size_t max, size_t *n);

/** Answer 4.02 to a conditional request on an interface @p iface (enum rd_iface) that does not
 * evaluate If-Match and If-None-Match: ignoring these critical options could delete or replace what
 * the client meant to keep (RFC 7252 sections 5.4.1 and 5.10.8). The registration interface (POST
 * /rd and /rd/<id>) evaluates them (rd_conditional.c) and passes here.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.02. */
int rd__refuse_conditional(int iface, const coap_pdu_t *request, coap_pdu_t *response);

/** Answer 4.06 unless the request accepts link-format (or says nothing).
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.06. */
int rd__check_accept(const coap_pdu_t *request, coap_pdu_t *response);

/** Read an unsigned option such as Content-Format or Accept.
 * @return 1 and @p value when present, 0 when absent. */
int rd__option_uint(const coap_pdu_t *request, uint16_t number, unsigned *value);

/**
 * Note which options @p request carries, in one pass, while its handler runs on this thread
 * (hnd_metered()): most requests carry none of the dozen options the handlers ask about, and
 * each coap_check_option() walks them all. Ended by rd__request_done().
 */
void rd__request_begin(const coap_pdu_t *request);
void rd__request_done(void);

/** 1 when @p pdu is the request of rd__request_begin() and carries no option @p number; 0 when
 * it may (or is another PDU): then look. */
int rd__option_absent(const coap_pdu_t *pdu, uint16_t number);

/** 1 when @p session is secured (DTLS or TLS) and has a security identity; 0 for plain CoAP
 * over UDP or TCP. */
int rd__session_secure(const coap_session_t *session);

/**
 * The implicit registration base of a request: scheme "://" source address [":" port], with
 * IPv4-mapped addresses written as IPv4 and the scheme's default port left out (RFC 9176 5).
 * @return RD_OK; RD_EINVAL (no address); RD_ETOOBIG (@p size too small).
 */
int rd__base_from_session(const coap_session_t *session, char *out, size_t size);

/** Longest text rd__addr_text() writes, with its NUL. */
#define RD_ADDR_TEXT_SIZE 46

/**
 * Write IPv6 address @p a (an IPv4 one mapped, as rd__peer_addr() gives it) as inet_ntop()
 * does, "::ffff:a.b.c.d" for a mapped one, into @p out. The text is part of stored index terms,
 * so it never changes form. Pure.
 */
void rd__addr_text(const uint8_t a[16], char out[RD_ADDR_TEXT_SIZE]);

/**
 * The link a registration with @p base belongs to: with a link-local base (RFC 9176 sections 5
 * and 6.1), the interface the request came in on; else 0. On failure @p response holds a 4.00.
 *
 * @return RD_OK; RD_EINVAL when the base is link-local and the request's interface is unknown.
 */
int rd__base_scope(const coap_session_t *session, const char *base, uint32_t *scope,
                   coap_pdu_t *response);

/** Render a registration id as 8 base32 characters. */
void rd__id_format(uint64_t id, char out[RD_ID_SIZE]);

/** Parse a rendered id. @return RD_OK or RD_EINVAL. */
int rd__id_parse(const char *s, size_t len, uint64_t *id);

/** @return Seconds since the epoch: the wall clock, for deadlines that survive restarts. While
 * a request's handler runs (rd__request_begin()), the value its first call read. */
int64_t rd__now(void);

/** @return The wall-clock deadline of a registration refreshed now with lifetime @p lt
 * seconds. */
int64_t rd__deadline(uint32_t lt);

/** @return Monotonic milliseconds, for intervals. */
int64_t rd__now_ms(void);

/** @return Monotonic microseconds (the clock of rd__now_ms()), for short intervals. */
int64_t rd__now_us(void);

#endif
