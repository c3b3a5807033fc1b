/* Message deduplication (RFC 7252 section 4.5): a request (confirmable or not) that arrives again
 * with the same message ID from the same endpoint gets the first answer and is not executed twice.
 * libcoap 4.3.1 hands duplicates to the handlers again, so the server keeps its own cache of
 * recent answers to state-changing requests. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "rd_dedup.h"
#include "rd_dtls.h"
#include "rd_status.h"

/* RFC 7252 section 4.8.2: how long a message ID may come back. */
#define EXCHANGE_LIFETIME 247

/* Bytes of the key that names the transport, the local endpoint and the identity. */
#define WHO_LEN 32
_Static_assert(sizeof(((struct rd_dedup *)0)->who) == WHO_LEN, "rd_dedup.who holds one digest");

struct rd_dedup_entry {
    coap_address_t peer;
    uint8_t who[WHO_LEN]; /* protocol, local endpoint and security identity (who_of()) */
    int64_t expires;      /* 0 when the slot is free */
    coap_mid_t mid;
    uint64_t seq; /* rd_dedup.seq when it was remembered */
    coap_pdu_code_t code;
    uint16_t opts_len;
    uint16_t data_len;
    uint8_t opts[RD_DEDUP_OPTS]; /* (number u16, length u16, value) triples */
    uint8_t data[RD_DEDUP_DATA];
};

int
rd__dedup_init(struct rd_dedup *dd, size_t slots)
{
    dd->entries = calloc(slots, sizeof(*dd->entries));
    dd->tags = calloc(slots, sizeof(*dd->tags));
    if (!dd->entries || !dd->tags) {
        rd__dedup_cleanup(dd);
        return RD_ENOMEM;
    }
    dd->nslots = slots;
    return RD_OK;
}

void
rd__dedup_cleanup(struct rd_dedup *dd)
{
    free(dd->entries);
    free(dd->tags);
    dd->entries = NULL;
    dd->tags = NULL;
    dd->nslots = 0;
}

/* SHA-256 of the protocol, the local address and the identity into @p who. */
static int
digest_of(uint8_t proto, const void *addr, size_t addr_len, const char *identity, size_t id_len,
          uint8_t who[WHO_LEN])
{
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;

    if (!md) {
        return RD_ENOMEM;
    }
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, &proto, 1) &&
         EVP_DigestUpdate(md, addr, addr_len) && EVP_DigestUpdate(md, identity, id_len) &&
         EVP_DigestFinal_ex(md, who, &len);
    EVP_MD_CTX_free(md);
    return ok && len == WHO_LEN ? RD_OK : RD_ENOMEM;
}

/* An endpoint in RFC 7252's sense is more than an address and port: a plain datagram forged with
 * a DTLS client's address and message ID must not get (or set) the answer of that client's
 * session. So the key also holds the transport, the local endpoint the request came in on and
 * the security identity, in one key of WHO_LEN bytes (who_of()). */
static int
who_of(const coap_session_t *session, uint8_t who[WHO_LEN])
{
    const coap_address_t *local = coap_session_get_addr_local(session);
    char identity[RD_IDENTITY_SIZE];
    uint8_t proto = (uint8_t)coap_session_get_proto(session);
    size_t addr_len = local->size <= sizeof(local->addr) ? local->size : 0;
    size_t id_len;

    /* A peer whose name cannot be an identity is refused by the handlers; it still gets a key of
     * its own, apart from every nameable identity. */
    if (rd__identity(session, identity)) {
        memcpy(identity, "\x01", 2);
    }
    id_len = strlen(identity) + 1;
    /* Without an identity (plain CoAP) the parts fit as they are: a marker, the protocol, the
     * address and the identity, zero-padded, in place of a digest that took a microsecond of
     * every request. No digest can be made to equal a given 32 bytes. */
    if (2 + addr_len + id_len <= WHO_LEN) {
        memset(who, 0, WHO_LEN);
        who[0] = 0xff;
        who[1] = proto;
        memcpy(who + 2, &local->addr, addr_len);
        memcpy(who + 2 + addr_len, identity, id_len);
        return RD_OK;
    }
    return digest_of(proto, &local->addr, addr_len, identity, id_len, who);
}

/* FNV-1a over the peer's address bytes, the digest of the rest of the key and the message ID:
 * the slot, and in @p tag the high half (never 0). */
static size_t
slot_of(const struct rd_dedup *dd, const coap_address_t *peer, const uint8_t who[WHO_LEN],
        coap_mid_t mid, uint32_t *tag)
{
    const uint8_t *p = (const uint8_t *)&peer->addr;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < peer->size && i < sizeof(peer->addr); i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    for (size_t i = 0; i < WHO_LEN; i++) {
        h = (h ^ who[i]) * 1099511628211ull;
    }
    h = (h ^ (uint64_t)(uint16_t)mid) * 1099511628211ull;
    *tag = (uint32_t)(h >> 32) | 1u;
    return (size_t)(h % dd->nslots);
}

/* Only requests that change state need it: GET and FETCH are safe to repeat. Non-confirmable
 * ones too (RFC 7252 section 4.5): a late duplicate of a registration must not bring it back
 * after its removal. */
static int
applies(const coap_session_t *session, const coap_pdu_t *request)
{
    coap_pdu_code_t code = coap_pdu_get_code(request);
    coap_proto_t proto = coap_session_get_proto(session);

    /* A reliable transport has no message IDs and no duplicates (RFC 8323 section 3.3). */
    if (proto == COAP_PROTO_TCP || proto == COAP_PROTO_TLS) {
        return 0;
    }
    return code != COAP_REQUEST_CODE_GET && code != COAP_REQUEST_CODE_FETCH;
}

int
rd__dedup_replay(struct rd_dedup *dd, const coap_session_t *session, const coap_pdu_t *request,
                 coap_pdu_t *response, int64_t now)
{
    const coap_address_t *peer = coap_session_get_addr_remote(session);
    coap_mid_t mid = coap_pdu_get_mid(request);
    struct rd_dedup_entry *e;
    uint8_t who[WHO_LEN];
    size_t pos = 0;
    size_t slot;
    uint32_t tag;

    dd->who_session = NULL;
    if (!dd->nslots || !applies(session, request) || who_of(session, who)) {
        return 0;
    }
    slot = slot_of(dd, peer, who, mid, &tag);
    /* The handler remembers its answer next, for the same request: a key less to make. */
    memcpy(dd->who, who, WHO_LEN);
    dd->who_slot = slot;
    dd->who_tag = tag;
    dd->who_mid = mid;
    dd->who_session = session;
    if (dd->tags[slot] != tag) {
        return 0;
    }
    e = &dd->entries[slot];
    if (e->expires <= now || e->mid != mid || !coap_address_equals(&e->peer, peer) ||
        memcmp(e->who, who, WHO_LEN) != 0) {
        return 0;
    }
    coap_pdu_set_code(response, e->code);
    while (pos + 4 <= e->opts_len) {
        uint16_t number = (uint16_t)(e->opts[pos] << 8 | e->opts[pos + 1]);
        uint16_t len = (uint16_t)(e->opts[pos + 2] << 8 | e->opts[pos + 3]);

        coap_add_option(response, number, len, e->opts + pos + 4);
        pos += 4u + len;
    }
    if (e->data_len) {
        coap_add_data(response, e->data_len, e->data);
    }
    return 1;
}

/* Copy the response's options into @p e; 0 when they do not fit. */
static int
copy_options(struct rd_dedup_entry *e, const coap_pdu_t *response)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt;
    size_t pos = 0;

    coap_option_iterator_init(response, &oi, COAP_OPT_ALL);
    while ((opt = coap_option_next(&oi)) != NULL) {
        uint32_t len = coap_opt_length(opt);

        if (pos + 4 + len > sizeof(e->opts)) {
            return 0;
        }
        e->opts[pos] = (uint8_t)(oi.number >> 8);
        e->opts[pos + 1] = (uint8_t)oi.number;
        e->opts[pos + 2] = (uint8_t)(len >> 8);
        e->opts[pos + 3] = (uint8_t)len;
        memcpy(e->opts + pos + 4, coap_opt_value(opt), len);
        pos += 4 + len;
    }
    e->opts_len = (uint16_t)pos;
    return 1;
}

void
rd__dedup_remember(struct rd_dedup *dd, const coap_session_t *session, const coap_pdu_t *request,
                   const coap_pdu_t *response, int64_t now)
{
    const coap_address_t *peer = coap_session_get_addr_remote(session);
    coap_mid_t mid = coap_pdu_get_mid(request);
    struct rd_dedup_entry *e;
    uint8_t who[WHO_LEN];
    const uint8_t *data = NULL;
    size_t len = 0;
    size_t slot;
    uint32_t tag;
    int cached = dd->who_session == (const void *)session && dd->who_mid == mid;

    dd->who_session = NULL;
    if (!dd->nslots || !applies(session, request)) {
        return;
    }
    if (cached) {
        memcpy(who, dd->who, WHO_LEN);
        slot = dd->who_slot;
        tag = dd->who_tag;
    } else if (who_of(session, who)) {
        return;
    } else {
        slot = slot_of(dd, peer, who, mid, &tag);
    }
    /* A newer answer takes the slot: under pressure the cache forgets, and the registration
     * interface is idempotent enough that a forgotten duplicate only refreshes a lifetime. */
    e = &dd->entries[slot];
    dd->tags[slot] = 0;
    e->expires = 0;
    if (!coap_get_data(response, &len, &data)) {
        len = 0;
    }
    if (len > sizeof(e->data) || !copy_options(e, response)) {
        return;
    }
    coap_address_copy(&e->peer, peer);
    memcpy(e->who, who, WHO_LEN);
    e->mid = mid;
    e->code = coap_pdu_get_code(response);
    e->data_len = (uint16_t)len;
    if (len) {
        memcpy(e->data, data, len);
    }
    e->seq = ++dd->seq;
    e->expires = now + EXCHANGE_LIFETIME;
    dd->tags[slot] = tag;
}

uint64_t
rd__dedup_seq(const struct rd_dedup *dd)
{
    return dd->seq;
}

void
rd__dedup_forget_since(struct rd_dedup *dd, uint64_t seq)
{
    for (size_t i = 0; i < dd->nslots; i++) {
        if (dd->entries[i].seq > seq) {
            dd->entries[i].expires = 0;
            dd->tags[i] = 0;
        }
    }
}
