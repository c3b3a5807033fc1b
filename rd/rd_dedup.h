/* What rd_dedup.c offers the rest of rd/. Message deduplication (RFC 7252 section 4.5). */
#ifndef RD_DEDUP_H
#define RD_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;
struct rd_dedup_entry;

/** Bytes of options and of payload one remembered answer may hold. */
#define RD_DEDUP_OPTS 64
#define RD_DEDUP_DATA 128
/** Answers remembered for deduplication. */
#define RD_DEDUP_SLOTS 8192

/** Recent answers to state-changing requests, by transport, local endpoint, identity, peer and
 * message ID. */
struct rd_dedup {
    struct rd_dedup_entry *entries;
    size_t nslots;
};

/** Allocate @p slots empty slots. @return RD_OK or RD_ENOMEM. */
int rd__dedup_init(struct rd_dedup *dd, size_t slots);

/** Release the cache. Accepts a zeroed struct. */
void rd__dedup_cleanup(struct rd_dedup *dd);

/**
 * Answer a duplicate of a recent confirmable state-changing request from the cache.
 *
 * @return 1 when @p response was filled with the earlier answer (the handler must not run),
 *         else 0.
 */
int rd__dedup_replay(struct rd_dedup *dd, const coap_session_t *session, const coap_pdu_t *request,
                     coap_pdu_t *response, int64_t now);

/** Remember the answer to @p request (when it is small enough) for rd__dedup_replay(). */
void rd__dedup_remember(struct rd_dedup *dd, const coap_session_t *session,
                        const coap_pdu_t *request, const coap_pdu_t *response, int64_t now);

#endif
