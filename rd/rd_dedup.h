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
    /** A tag of each slot's key, 0 when free: most requests are not duplicates, and the tags
     * (4 bytes a slot) tell so without touching an entry of a table too large for the cache. */
    uint32_t *tags;
    size_t nslots;
    uint64_t seq; /**< numbers the answers remembered (rd__dedup_seq()) */
    /** The key digest rd__dedup_replay() worked out, for rd__dedup_remember() of the same
     * request; who_session is NULL when there is none. */
    const void *who_session;
    uint8_t who[32];
    size_t who_slot; /**< the slot and tag of that session's request of message ID who_mid */
    uint32_t who_tag;
    int who_mid;
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

/** The number of the last answer remembered; later ones have larger numbers. */
uint64_t rd__dedup_seq(const struct rd_dedup *dd);

/** Forget the answers remembered after rd__dedup_seq() returned @p seq: a write batch that held
 * them was lost (rd_batch.h), so a duplicate must run again. */
void rd__dedup_forget_since(struct rd_dedup *dd, uint64_t seq);

#endif
