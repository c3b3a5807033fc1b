/* Block1 bodies sent without Size1 (RFC 7959 section 2.5 makes Size1 optional). libcoap 4.3.1
 * reassembles only bodies whose first block announces their size; without it, it hands single
 * blocks to the handler and keeps transfer state that later breaks it (rd_guard.c). So the
 * datagram guard takes the non-final blocks of such a body off the socket itself, keeps them
 * here and answers 2.31, and lets only the final block through: libcoap passes that block on
 * as it is (a block it has no transfer for), and the handler puts the body together from the
 * blocks kept here. A transfer is named by its peer (address and port), its Uri-Path and
 * Uri-Query options and its Request-Tag; blocks must come in order. */
#include <stdlib.h>
#include <string.h>

#include "rd_internal.h"

/* Bodies being received at once, over all peers; the oldest goes when a new one needs room. */
#define B1_SLOTS 64
/* A body whose next block has not come for this long is dropped. */
#define B1_IDLE_MS 60000

struct rd_b1_slot {
    uint8_t addr[16];
    uint16_t port;
    uint64_t key;
    uint32_t next_num; /* the block number the body waits for; 0: slot free */
    unsigned szx;
    int64_t touched_ms;
    uint8_t *data;
    size_t len;
};

struct rd_b1 {
    struct rd_b1_slot slots[B1_SLOTS];
    uint8_t *body; /* the last body put together, until the next one */
};

int
rd__b1_init(struct rd_server *srv)
{
    srv->b1 = calloc(1, sizeof(*srv->b1));
    return srv->b1 ? RD_OK : RD_ENOMEM;
}

static void
slot_clear(struct rd_b1_slot *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}

void
rd__b1_free(struct rd_server *srv)
{
    if (!srv->b1) {
        return;
    }
    for (size_t i = 0; i < B1_SLOTS; i++) {
        slot_clear(&srv->b1->slots[i]);
    }
    free(srv->b1->body);
    free(srv->b1);
    srv->b1 = NULL;
}

void
rd__b1_key_add(uint64_t *key, unsigned number, const uint8_t *value, size_t len)
{
    uint64_t h = *key ? *key : 1469598103934665603ull;
    uint8_t head[4] = { (uint8_t)(number >> 8), (uint8_t)number, (uint8_t)(len >> 8),
                        (uint8_t)len };

    for (size_t i = 0; i < sizeof(head); i++) {
        h = (h ^ head[i]) * 1099511628211ull;
    }
    for (size_t i = 0; i < len; i++) {
        h = (h ^ value[i]) * 1099511628211ull;
    }
    *key = h;
}

static struct rd_b1_slot *
find(struct rd_server *srv, const struct sockaddr *from, uint64_t key, int64_t now_ms)
{
    uint8_t addr[16];
    uint16_t port;

    if (!srv->b1 || rd__sockaddr_key(from, addr, &port)) {
        return NULL;
    }
    for (size_t i = 0; i < B1_SLOTS; i++) {
        struct rd_b1_slot *s = &srv->b1->slots[i];

        if (s->next_num && now_ms - s->touched_ms > B1_IDLE_MS) {
            slot_clear(s);
        }
        if (s->next_num && s->key == key && s->port == port && memcmp(s->addr, addr, 16) == 0) {
            return s;
        }
    }
    return NULL;
}

int
rd__b1_pending(struct rd_server *srv, const struct sockaddr *from, uint64_t key)
{
    return find(srv, from, key, rd__now_ms()) != NULL;
}

/* A free slot, or the one idle longest. */
static struct rd_b1_slot *
take_slot(struct rd_server *srv)
{
    struct rd_b1_slot *oldest = &srv->b1->slots[0];

    for (size_t i = 0; i < B1_SLOTS; i++) {
        struct rd_b1_slot *s = &srv->b1->slots[i];

        if (!s->next_num) {
            return s;
        }
        if (s->touched_ms < oldest->touched_ms) {
            oldest = s;
        }
    }
    slot_clear(oldest);
    return oldest;
}

int
rd__b1_put(struct rd_server *srv, const struct sockaddr *from, uint64_t key, uint32_t num,
           unsigned szx, const uint8_t *data, size_t len)
{
    int64_t now_ms = rd__now_ms();
    struct rd_b1_slot *s = find(srv, from, key, now_ms);
    uint8_t *grown;

    if (!srv->b1) {
        return RD_ENOMEM;
    }
    if (num == 0) {
        /* A first block starts the body again. */
        if (s) {
            slot_clear(s);
        }
        s = take_slot(srv);
        if (rd__sockaddr_key(from, s->addr, &s->port)) {
            return RD_EINVAL;
        }
        s->key = key;
        s->szx = szx;
    } else if (!s || szx != s->szx || num > s->next_num) {
        return RD_ENOTFOUND;
    } else if (num + 1 == s->next_num) {
        /* The block again (our 2.31 was lost): nothing to add. */
        s->touched_ms = now_ms;
        return RD_OK;
    } else if (num != s->next_num) {
        return RD_ENOTFOUND;
    }
    grown = realloc(s->data, s->len + len);
    if (!grown) {
        slot_clear(s);
        return RD_ENOMEM;
    }
    memcpy(grown + s->len, data, len);
    s->data = grown;
    s->len += len;
    s->next_num = num + 1;
    s->touched_ms = now_ms;
    return RD_OK;
}

int
rd__b1_take(struct rd_server *srv, const struct sockaddr *from, uint64_t key, uint32_t num,
            unsigned szx, uint8_t **data, size_t *len)
{
    struct rd_b1_slot *s = find(srv, from, key, rd__now_ms());

    if (!s || s->next_num != num || s->szx != szx) {
        return RD_ENOTFOUND;
    }
    *data = s->data;
    *len = s->len;
    s->data = NULL;
    slot_clear(s);
    return RD_OK;
}

uint64_t
rd__b1_key_of(const coap_pdu_t *request)
{
    static const unsigned numbers[] = { COAP_OPTION_URI_PATH, COAP_OPTION_URI_QUERY,
                                        COAP_OPTION_RTAG };
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    uint64_t key = 0;

    coap_option_filter_clear(&filter);
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        coap_option_filter_set(&filter, (coap_option_num_t)numbers[i]);
    }
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        rd__b1_key_add(&key, oi.number, coap_opt_value(opt), coap_opt_length(opt));
    }
    return key;
}

int
rd__b1_body(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
            const coap_block_b_t *block, const uint8_t *last, size_t last_len, const char **data,
            size_t *len)
{
    const coap_address_t *peer = coap_session_get_addr_remote(session);
    uint8_t *front = NULL;
    size_t front_len = 0;
    uint8_t *body;

    if (!peer ||
        rd__b1_take(srv, &peer->addr.sa, rd__b1_key_of(request), block->num, block->szx, &front,
                    &front_len) ||
        front_len != (size_t)block->num << (block->szx + 4)) {
        free(front);
        return RD_ENOTFOUND;
    }
    body = realloc(front, front_len + last_len + 1);
    if (!body) {
        free(front);
        return RD_ENOMEM;
    }
    memcpy(body + front_len, last, last_len);
    free(srv->b1->body);
    srv->b1->body = body;
    *data = (const char *)body;
    *len = front_len + last_len;
    return RD_OK;
}
