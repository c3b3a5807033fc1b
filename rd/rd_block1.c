/* Block-wise request bodies (RFC 7959 section 2.5), put together here rather than by libcoap.
 *
 * libcoap 4.3.1's own reassembly trusts what Size1 announces and crashes on an empty or a
 * repeated final block, over UDP and DTLS alike; with its block mode off it hands every block to
 * the handler, which keeps the blocks of a body here and answers 2.31 Continue until the last.
 * A transfer is named by its peer (transport, local port, address, port and identity), its
 * Uri-Path, Uri-Query and Request-Tag options. Blocks come in order, each full but the last; a
 * body is bounded by max_payload, the bodies held at once by B1_SLOTS (B1_PER_PEER of them for
 * one address), and one whose next block does not come within B1_IDLE_MS is dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_block.h"
#include "rd_dtls.h"
#include "rd_limits.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

/* Bodies being received at once, over all peers; the oldest goes when a new one needs room. */
#define B1_SLOTS 64
/* Bodies of one address at once: its own oldest goes first, so one source cannot take them all. */
#define B1_PER_PEER 4
/* A body whose next block has not come for this long is dropped. */
#define B1_IDLE_MS 60000

struct rd_b1_slot {
    uint8_t addr[16];
    uint64_t key;      /* the transfer's name: peer, port, identity and options */
    uint32_t next_num; /* the block number the body waits for; 0: slot free */
    unsigned szx;
    int64_t touched_ms;
    uint8_t *data;
    size_t len;
};

struct rd_b1 {
    struct rd_b1_slot slots[B1_SLOTS];
    uint8_t *body; /* the last body put together, until the next one */
    size_t bytes;  /* held in slots */
};

int
rd__b1_init(struct rd_server *srv)
{
    srv->b1 = calloc(1, sizeof(*srv->b1));
    return srv->b1 ? RD_OK : RD_ENOMEM;
}

static void
slot_clear(struct rd_b1 *b1, struct rd_b1_slot *s)
{
    b1->bytes -= s->len;
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
        slot_clear(srv->b1, &srv->b1->slots[i]);
    }
    free(srv->b1->body);
    free(srv->b1);
    srv->b1 = NULL;
}

void
rd__b1_stats(const struct rd_server *srv, size_t *bodies, size_t *bytes)
{
    *bodies = 0;
    *bytes = srv->b1 ? srv->b1->bytes : 0;
    for (size_t i = 0; srv->b1 && i < B1_SLOTS; i++) {
        *bodies += srv->b1->slots[i].next_num != 0;
    }
}

static uint64_t
hash_add(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* The name of the transfer @p request belongs to. Two peers never share one: the transport, the
 * local port and the identity are part of it, besides the address and port. */
static int
transfer_key(const coap_session_t *session, const coap_pdu_t *request, uint8_t addr[16],
             uint64_t *key)
{
    static const uint16_t numbers[] = { COAP_OPTION_URI_PATH, COAP_OPTION_URI_QUERY,
                                        COAP_OPTION_RTAG };
    const coap_address_t *peer = coap_session_get_addr_remote(session);
    const coap_address_t *local = coap_session_get_addr_local(session);
    char identity[RD_IDENTITY_SIZE] = "";
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    uint16_t port;
    uint64_t h = 1469598103934665603ull;
    int proto = (int)coap_session_get_proto(session);

    if (!peer || rd__sockaddr_key(&peer->addr.sa, addr, &port)) {
        return RD_EINVAL;
    }
    h = hash_add(h, addr, 16);
    h = hash_add(h, &port, sizeof(port));
    h = hash_add(h, &proto, sizeof(proto));
    if (local) {
        uint16_t lport = coap_address_get_port(local);

        h = hash_add(h, &lport, sizeof(lport));
    }
    if (rd__identity(session, identity) == RD_OK) {
        h = hash_add(h, identity, strlen(identity));
    }
    coap_option_filter_clear(&filter);
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        coap_option_filter_set(&filter, numbers[i]);
    }
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        uint8_t head[4] = { (uint8_t)(oi.number >> 8), (uint8_t)oi.number,
                            (uint8_t)(coap_opt_length(opt) >> 8), (uint8_t)coap_opt_length(opt) };

        h = hash_add(h, head, sizeof(head));
        h = hash_add(h, coap_opt_value(opt), coap_opt_length(opt));
    }
    *key = h;
    return RD_OK;
}

static struct rd_b1_slot *
find(struct rd_b1 *b1, uint64_t key, int64_t now_ms)
{
    struct rd_b1_slot *found = NULL;

    for (size_t i = 0; i < B1_SLOTS; i++) {
        struct rd_b1_slot *s = &b1->slots[i];

        if (s->next_num && now_ms - s->touched_ms > B1_IDLE_MS) {
            slot_clear(b1, s);
        }
        if (s->next_num && s->key == key) {
            found = s;
        }
    }
    return found;
}

/* A free slot; else the oldest of the same address once it holds B1_PER_PEER, else the oldest. */
static struct rd_b1_slot *
take_slot(struct rd_b1 *b1, const uint8_t addr[16])
{
    struct rd_b1_slot *oldest = NULL;
    struct rd_b1_slot *oldest_own = NULL;
    struct rd_b1_slot *free_slot = NULL;
    size_t own = 0;

    for (size_t i = 0; i < B1_SLOTS; i++) {
        struct rd_b1_slot *s = &b1->slots[i];

        if (!s->next_num) {
            free_slot = free_slot ? free_slot : s;
            continue;
        }
        if (!oldest || s->touched_ms < oldest->touched_ms) {
            oldest = s;
        }
        if (memcmp(s->addr, addr, 16) == 0) {
            own++;
            if (!oldest_own || s->touched_ms < oldest_own->touched_ms) {
                oldest_own = s;
            }
        }
    }
    if (own >= B1_PER_PEER) {
        slot_clear(b1, oldest_own);
        return oldest_own;
    }
    if (free_slot) {
        return free_slot;
    }
    slot_clear(b1, oldest);
    return oldest;
}

/* Add a block to its body. RD_OK; RD_ENOTFOUND when no body waits for it; RD_ECONFLICT when it
 * is not the block the body waits for; RD_ENOMEM. */
static int
put_block(struct rd_b1 *b1, const uint8_t addr[16], uint64_t key, const struct rd_block *block,
          const uint8_t *data, size_t len)
{
    int64_t now_ms = rd__now_ms();
    struct rd_b1_slot *s = find(b1, key, now_ms);
    uint8_t *grown;

    if (block->num == 0) {
        /* A first block starts the body again. */
        if (s) {
            slot_clear(b1, s);
        }
        s = take_slot(b1, addr);
        memcpy(s->addr, addr, 16);
        s->key = key;
        s->szx = block->szx;
    } else if (!s) {
        return RD_ENOTFOUND;
    } else if (block->szx != s->szx || block->num > s->next_num) {
        return RD_ECONFLICT;
    } else if (block->num + 1 == s->next_num && block->more) {
        /* The block again (our 2.31 was lost): nothing to add. */
        s->touched_ms = now_ms;
        return RD_OK;
    } else if (block->num != s->next_num) {
        return RD_ECONFLICT;
    }
    grown = realloc(s->data, s->len + len + 1);
    if (!grown) {
        slot_clear(b1, s);
        return RD_ENOMEM;
    }
    memcpy(grown + s->len, data, len);
    s->data = grown;
    s->len += len;
    b1->bytes += len;
    s->next_num = block->num + 1;
    s->touched_ms = now_ms;
    return RD_OK;
}

/* The body whose last block was just put: taken out of its slot into b1->body. */
static void
take_body(struct rd_b1 *b1, uint64_t key, const char **data, size_t *len)
{
    struct rd_b1_slot *s = find(b1, key, rd__now_ms());

    free(b1->body);
    b1->body = NULL;
    if (!s) {
        *len = 0;
        return;
    }
    b1->body = s->data;
    *data = (const char *)s->data;
    *len = s->len;
    s->data = NULL;
    slot_clear(b1, s);
}

static void
add_block1(coap_pdu_t *response, const struct rd_block *block, int more)
{
    uint8_t value[4];

    coap_add_option(response, COAP_OPTION_BLOCK1,
                    coap_encode_var_safe(value, sizeof(value),
                                         block->num << 4 | (unsigned)more << 3 | block->szx),
                    value);
}

static void
too_large(const struct rd_server *srv, coap_pdu_t *response)
{
    uint8_t size1[4];

    /* Size1 tells the client the largest body we take (RFC 7959 section 4). */
    coap_add_option(response, COAP_OPTION_SIZE1,
                    coap_encode_var_safe(size1, sizeof(size1), (unsigned)srv->conf.max_payload),
                    size1);
    rd__respond_error(response, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE, "payload too large");
}

/* 1 when Block1 or Size1 comes twice, or Size1 is longer than 4 bytes: read differently by
 * different parsers, so refused rather than guessed at. */
static int
repeated(const coap_pdu_t *request)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    int block1 = 0;
    int size1 = 0;

    if (rd__option_absent(request, COAP_OPTION_BLOCK1) &&
        rd__option_absent(request, COAP_OPTION_SIZE1)) {
        return 0;
    }
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_BLOCK1);
    coap_option_filter_set(&filter, COAP_OPTION_SIZE1);
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        if (oi.number == COAP_OPTION_BLOCK1) {
            block1++;
        } else if (++size1 > 1 || coap_opt_length(opt) > 4) {
            return 1;
        }
    }
    return block1 > 1;
}

/* Why the block cannot be taken, or NULL; @p code gets the answer's code. */
static const char *
refusal(const struct rd_server *srv, const coap_pdu_t *request, const struct rd_block *block,
        size_t len, coap_pdu_code_t *code)
{
    unsigned size1 = 0;
    size_t block_size = (size_t)16 << (block->szx < 7 ? block->szx : 6);

    *code = COAP_RESPONSE_CODE_BAD_REQUEST;
    if (block->szx == 7) {
        /* BERT exists only over reliable transports (RFC 8323 section 6). */
        return "Block1 SZX 7 (BERT) needs TCP";
    }
    *code = COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;
    if ((rd__option_uint(request, COAP_OPTION_SIZE1, &size1) && size1 > srv->conf.max_payload) ||
        (uint64_t)block->num * block_size + len > srv->conf.max_payload) {
        return "payload too large";
    }
    *code = COAP_RESPONSE_CODE_BAD_REQUEST;
    if (block->more && len != block_size) {
        return "Block1 block not full";
    }
    return NULL;
}

size_t
rd__block1_announced(const coap_pdu_t *request)
{
    struct rd_block block;
    const uint8_t *bytes;
    size_t len = 0;
    unsigned size1 = 0;
    uint64_t size;

    if (!coap_get_data(request, &len, &bytes)) {
        len = 0;
    }
    size = len;
    if (rd__block_option(request, COAP_OPTION_BLOCK1, &block) == 1 && block.szx < 7) {
        size += (uint64_t)block.num << (block.szx + 4);
    }
    if (rd__option_uint(request, COAP_OPTION_SIZE1, &size1) && size1 > size) {
        size = size1;
    }
    return size > SIZE_MAX ? SIZE_MAX : (size_t)size;
}

int
rd__block1_read(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                coap_pdu_t *response, const char **data, size_t *len, int *done)
{
    struct rd_block block;
    const uint8_t *bytes = NULL;
    uint8_t addr[16];
    uint64_t key;
    coap_pdu_code_t code;
    const char *why;
    int has = rd__block_option(request, COAP_OPTION_BLOCK1, &block);
    int rc;

    *data = "";
    *len = 0;
    *done = 1;
    if (!coap_get_data(request, len, &bytes)) {
        *len = 0;
    }
    if (has < 0 || repeated(request)) {
        /* A critical option repeated or of a length out of range is one not recognized
         * (RFC 7252 sections 5.4.3 and 5.4.5): 4.02, as the gate answers over UDP. */
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_OPTION,
                          "Block1 or Size1 repeated or too long");
        return RD_EINVAL;
    }
    if (!has || (block.num == 0 && !block.more)) {
        /* A body in one message, or a lone block 0 that says so (RFC 7959 section 2.5). */
        if (*len > srv->conf.max_payload) {
            too_large(srv, response);
            return RD_ETOOBIG;
        }
        if (has) {
            add_block1(response, &block, 0);
        }
        *data = bytes ? (const char *)bytes : "";
        return RD_OK;
    }
    why = refusal(srv, request, &block, *len, &code);
    if (why) {
        if (code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE) {
            too_large(srv, response);
            return RD_ETOOBIG;
        }
        rd__respond_error(response, code, why);
        return RD_EINVAL;
    }
    if (!srv->b1 || transfer_key(session, request, addr, &key)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "no Block1 state");
        return RD_EINVAL;
    }
    rc = put_block(srv->b1, addr, key, &block, bytes, *len);
    if (rc) {
        rd__respond_error(response, COAP_RESPONSE_CODE_INCOMPLETE,
                          rc == RD_ENOMEM      ? "no memory for the body"
                          : rc == RD_ENOTFOUND ? "earlier blocks missing"
                                               : "Block1 block out of order");
        return rc == RD_ENOMEM ? RD_ENOMEM : RD_EINVAL;
    }
    /* The final answer echoes the last Block1 option, and 2.31 each earlier one
     * (RFC 7959 section 2.3). */
    add_block1(response, &block, block.more);
    if (block.more) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE(231));
        *done = 0;
        *len = 0;
        return RD_OK;
    }
    take_body(srv->b1, key, data, len);
    return RD_OK;
}
