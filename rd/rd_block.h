/* Block-wise transfer (RFC 7959), done by core-rd rather than libcoap: request bodies
 * (rd_block1.c) and answers (rd_block2.c). Used by the CoAP handlers. */
#ifndef RD_BLOCK_H
#define RD_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct rd_server;

/** A Block1 or Block2 option's value. */
struct rd_block {
    uint32_t num;  /**< block number */
    unsigned more; /**< M bit */
    unsigned szx;  /**< size exponent: 2^(szx+4) bytes; 7 is BERT */
};

/** Read option @p number (Block1 or Block2) of @p pdu into @p out.
 * @return 1 when present; 0 when absent; -1 when longer than 3 bytes (malformed). */
int rd__block_option(const coap_pdu_t *pdu, uint16_t number, struct rd_block *out);

/* rd_block1.c */

/** Set up the Block1 state of @p srv. @return RD_OK; RD_ENOMEM. */
int rd__b1_init(struct rd_server *srv);

/** Release the Block1 state and every body in it. Accepts a server without one. */
void rd__b1_free(struct rd_server *srv);

/** The body size @p request announces: Size1, or where its block reaches. For log lines. */
size_t rd__block1_announced(const coap_pdu_t *request);

/** Bodies being received and the bytes they hold, for the metrics. */
void rd__b1_stats(const struct rd_server *srv, size_t *bodies, size_t *bytes);

/**
 * The whole body of @p request: its payload, or a Block1 body put together block by block.
 *
 * A non-final block is kept, @p response gets 2.31 Continue with its Block1 option, and
 * @p done is set to 0: the handler returns. The final block completes the body, @p done is 1
 * and @p response already carries the Block1 option the final answer echoes.
 *
 * @param data Receives the body, borrowed from @p request or @p srv until the next call.
 * @return RD_OK; RD_EINVAL (malformed block, out of order: the error is set in @p response);
 * RD_ETOOBIG (over max_payload: 4.13 with Size1 set); RD_ENOMEM (4.08 set).
 */
int rd__block1_read(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                    coap_pdu_t *response, const char **data, size_t *len, int *done);

/* rd_block2.c */

/** Set up the answer cache of @p srv, bounded by conf.limits.answer_memory.
 * @return RD_OK; RD_ENOMEM. */
int rd__block2_init(struct rd_server *srv);

/** Release the answer cache. Accepts a server without one. */
void rd__block2_cleanup(struct rd_server *srv);

/** Drop kept answers nobody asked for lately. */
void rd__block2_tick(struct rd_server *srv, int64_t now_ms);

/** Answers kept, their bytes, later blocks served from them, answers evicted for room. */
void rd__block2_stats(const struct rd_server *srv, size_t *entries, size_t *bytes, uint64_t *hits,
                      uint64_t *evicted);

/** The strong ETag of an answer's bytes: equal answers get equal tags (never 0). */
uint64_t rd__answer_etag(const char *data, size_t len);

/**
 * Answer a request for a later block (Block2 number > 0) from the kept answer to the same
 * request. Call after the handler's access checks and before it computes its answer.
 *
 * @return 1 when answered (@p response is set); 0 when the handler must compute the answer.
 */
int rd__block2_continue(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
                        coap_pdu_t *response);

/**
 * Answer 2.05 with @p buf, as one message or as the block the request asks for (RFC 7959
 * section 2.4), after the amplification check; 2.03 when the request names the answer's ETag;
 * 4.00 for a block past the end or SZX 7. Takes the buffer's memory and leaves @p buf empty;
 * an answer of several blocks is kept for rd__block2_continue().
 */
void rd__respond_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf,
                      uint16_t media_type);

/** rd__respond_body() as application/link-format. */
void rd__respond_links(coap_resource_t *resource, coap_session_t *session,
                       const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response,
                       struct lookup_buf *buf);

/** rd__respond_body() with the resource's own tag @p etag instead of the answer's hash, for a
 * resource whose tag covers more than its representation (a registration, rd__reg_etag()). */
void rd__respond_tagged(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
                        struct lookup_buf *buf, uint64_t etag, uint16_t media_type);

#endif
