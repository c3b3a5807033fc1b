/* Block-wise answers (RFC 7959 section 2.4), made here rather than by libcoap.
 *
 * Every block request reaches a handler, so each block passes the access and amplification
 * checks, and SZX and block numbers are checked by our own code. An answer that spans several
 * blocks is kept once, in a cache shared by every client and bounded in bytes
 * (answer_memory): a later block is cut from the same bytes, so it neither recomputes the answer
 * nor costs memory per client, and all blocks of one transfer carry one ETag. An entry is found
 * by the exact request (Uri-Path, Uri-Query, Accept and the interface), never by its hash alone,
 * and goes when it has not been asked for within B2_IDLE_MS or when a newer one needs room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_amplification.h"
#include "rd_block.h"
#include "rd_observe.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

/* An answer not asked for this long is dropped: a client fetches its blocks back to back. */
#define B2_IDLE_MS 60000
/* Entries kept at most, whatever their size: a later block searches them all. */
#define B2_ENTRIES 256
/* Requests whose key would be longer are answered without keeping the answer. */
#define B2_KEY_MAX 2048
/* Room left in an answer for its own options: ETag (9), Block2 (4), Size2 (5),
 * Content-Format (3), Observe (4), Echo (11), Max-Age (5). */
#define B2_OPTION_ROOM 48

struct rd_b2_entry {
    struct rd_b2_entry *next;
    uint64_t hash;
    uint8_t *key;
    size_t key_len;
    char *data;
    size_t len;
    uint64_t etag;
    uint16_t media_type;
    int64_t used_ms;
};

struct rd_b2 {
    struct rd_b2_entry *head; /* most recently used first */
    size_t count;
    size_t bytes; /* answer bytes held */
    size_t max_bytes;
    uint64_t hits;
    uint64_t evicted;
};

int
rd__block2_init(struct rd_server *srv)
{
    srv->b2 = calloc(1, sizeof(*srv->b2));
    if (!srv->b2) {
        return RD_ENOMEM;
    }
    srv->b2->max_bytes = srv->conf.limits.answer_memory;
    return RD_OK;
}

static void
entry_free(struct rd_b2_entry *e)
{
    if (e) {
        free(e->key);
        free(e->data);
        free(e);
    }
}

static void
unlink_entry(struct rd_b2 *b2, struct rd_b2_entry **at)
{
    struct rd_b2_entry *e = *at;

    *at = e->next;
    b2->count--;
    b2->bytes -= e->len;
    entry_free(e);
}

void
rd__block2_cleanup(struct rd_server *srv)
{
    if (!srv->b2) {
        return;
    }
    while (srv->b2->head) {
        unlink_entry(srv->b2, &srv->b2->head);
    }
    free(srv->b2);
    srv->b2 = NULL;
}

void
rd__block2_stats(const struct rd_server *srv, size_t *entries, size_t *bytes, uint64_t *hits,
                 uint64_t *evicted)
{
    const struct rd_b2 *b2 = srv->b2;

    *entries = b2 ? b2->count : 0;
    *bytes = b2 ? b2->bytes : 0;
    *hits = b2 ? b2->hits : 0;
    *evicted = b2 ? b2->evicted : 0;
}

uint64_t
rd__answer_etag(const char *data, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    uint64_t w;
    size_t i = 0;

    /* Not cryptographic: a tag only has to change when the answer does (RFC 7252 section
     * 5.10.6), and equal answers get equal tags, so a client can revalidate a lookup
     * (RFC 9176 section 6.2). */
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, data + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    if (len > i) {
        memcpy(&w, data + i, len - i);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h ? h : 1;
}

int
rd__block_option(const coap_pdu_t *pdu, uint16_t number, struct rd_block *out)
{
    coap_opt_iterator_t oi;
    coap_opt_t *opt = NULL;
    unsigned v;

    memset(out, 0, sizeof(*out));
    if (!rd__option_absent(pdu, number)) {
        opt = coap_check_option(pdu, number, &oi);
    }
    if (!opt) {
        return 0;
    }
    /* A block number has at most 20 bits: three bytes with the M bit and SZX. */
    if (coap_opt_length(opt) > 3) {
        return -1;
    }
    v = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    out->num = v >> 4;
    out->more = (v >> 3) & 1;
    out->szx = v & 7;
    return 1;
}

/* Append one option to the key: its number, its length and its bytes. */
static int
key_add(uint8_t *key, size_t *len, unsigned number, const uint8_t *value, size_t vlen)
{
    if (vlen > B2_KEY_MAX || *len + 4 + vlen > B2_KEY_MAX) {
        return RD_ETOOBIG;
    }
    key[(*len)++] = (uint8_t)(number >> 8);
    key[(*len)++] = (uint8_t)number;
    key[(*len)++] = (uint8_t)(vlen >> 8);
    key[(*len)++] = (uint8_t)vlen;
    memcpy(key + *len, value, vlen);
    *len += vlen;
    return RD_OK;
}

/* What makes two requests get the same answer: the resource, the query, the Accept option, and
 * the interface (a link-local base is shown only on its own link, RFC 9176 section 6.1). */
static int
request_key(const coap_session_t *session, const coap_pdu_t *request, uint8_t *key, size_t *len,
            uint64_t *hash)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    int ifindex = coap_session_get_ifindex(session);
    uint8_t ifx[4] = { (uint8_t)(ifindex >> 24), (uint8_t)(ifindex >> 16), (uint8_t)(ifindex >> 8),
                       (uint8_t)ifindex };
    uint64_t h = 0xcbf29ce484222325ull;
    int rc;

    *len = 0;
    rc = key_add(key, len, 0, ifx, sizeof(ifx));
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
    coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
    coap_option_filter_set(&filter, COAP_OPTION_ACCEPT);
    coap_option_iterator_init(request, &oi, &filter);
    while (!rc && (opt = coap_option_next(&oi)) != NULL) {
        rc = key_add(key, len, oi.number, coap_opt_value(opt), coap_opt_length(opt));
    }
    for (size_t i = 0; i < *len; i++) {
        h = (h ^ key[i]) * 0x100000001b3ull;
    }
    *hash = h;
    return rc;
}

/* Drop entries idle too long, then the least recently used until @p need more bytes fit. */
static void
make_room(struct rd_b2 *b2, size_t need, int64_t now_ms)
{
    struct rd_b2_entry **at = &b2->head;

    while (*at) {
        if (now_ms - (*at)->used_ms > B2_IDLE_MS) {
            unlink_entry(b2, at);
        } else {
            at = &(*at)->next;
        }
    }
    while (b2->head && (b2->bytes + need > b2->max_bytes || b2->count + 1 > B2_ENTRIES)) {
        at = &b2->head;
        while ((*at)->next) {
            at = &(*at)->next;
        }
        unlink_entry(b2, at);
        b2->evicted++;
    }
}

void
rd__block2_tick(struct rd_server *srv, int64_t now_ms)
{
    if (srv->b2) {
        make_room(srv->b2, 0, now_ms);
    }
}

/* Keep @p data (taken over: freed here when it cannot be kept) as the answer to @p request. */
static void
keep_answer(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
            char *data, size_t len, uint64_t etag, uint16_t media_type)
{
    struct rd_b2 *b2 = srv->b2;
    uint8_t key[B2_KEY_MAX];
    size_t key_len;
    uint64_t hash;
    struct rd_b2_entry *e = NULL;
    int64_t now_ms = rd__now_ms();

    if (!b2 || len > b2->max_bytes || request_key(session, request, key, &key_len, &hash)) {
        goto drop;
    }
    /* A newer answer to the same request replaces the older. */
    for (struct rd_b2_entry **at = &b2->head; *at; at = &(*at)->next) {
        if ((*at)->hash == hash && (*at)->key_len == key_len &&
            memcmp((*at)->key, key, key_len) == 0) {
            unlink_entry(b2, at);
            break;
        }
    }
    make_room(b2, len, now_ms);
    e = calloc(1, sizeof(*e));
    if (!e || !(e->key = malloc(key_len))) {
        goto drop;
    }
    memcpy(e->key, key, key_len);
    e->key_len = key_len;
    e->hash = hash;
    e->data = data;
    e->len = len;
    e->etag = etag;
    e->media_type = media_type;
    e->used_ms = now_ms;
    e->next = b2->head;
    b2->head = e;
    b2->count++;
    b2->bytes += len;
    return;
drop:
    entry_free(e);
    free(data);
}

/* 1 when @p request names @p etag among its ETag options: the client's copy is current, and
 * 2.03 Valid says so without the body. */
static int
etag_is_current(const coap_pdu_t *request, const uint8_t *tag, size_t tag_len)
{
    coap_opt_iterator_t oi;
    coap_opt_filter_t filter;
    coap_opt_t *opt;

    if (rd__option_absent(request, COAP_OPTION_ETAG)) {
        return 0;
    }
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_ETAG);
    coap_option_iterator_init(request, &oi, &filter);
    while ((opt = coap_option_next(&oi)) != NULL) {
        if (coap_opt_length(opt) == tag_len && memcmp(coap_opt_value(opt), tag, tag_len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The largest block size exponent whose block, with the answer's header and options, fits the
 * session's message size; -1 when not even 16 bytes do. */
static int
session_szx(const coap_session_t *session, const coap_pdu_t *request)
{
    size_t max = coap_session_max_pdu_size(session);
    size_t overhead = 4 + coap_pdu_get_token(request).length + B2_OPTION_ROOM + 1;

    for (int szx = 6; szx >= 0; szx--) {
        if (((size_t)16 << szx) + overhead <= max) {
            return szx;
        }
    }
    return -1;
}

static void
add_uint_option(coap_pdu_t *response, uint16_t number, uint64_t value)
{
    uint8_t buf[8];

    coap_add_option(response, number, coap_encode_var_safe8(buf, sizeof(buf), value), buf);
}

/* Send block @p asked (or the whole answer) of @p data. @return 1 when more blocks follow. */
static int
send_block(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
           coap_pdu_t *response, const char *data, size_t len, uint64_t etag, uint16_t media_type)
{
    struct rd_block asked;
    int has = rd__block_option(request, COAP_OPTION_BLOCK2, &asked);
    uint8_t tag[8];
    size_t tag_len = coap_encode_var_safe8(tag, sizeof(tag), etag);
    int szx = session_szx(session, request);
    uint64_t offset;
    size_t chunk;
    int more;
    char diag[64];

    if (has < 0 || (has && asked.szx == 7)) {
        /* BERT (SZX 7) exists only over reliable transports (RFC 8323 section 6). */
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST,
                          has < 0 ? "Block2 option too long" : "Block2 SZX 7 (BERT) needs TCP");
        return 0;
    }
    offset = has ? (uint64_t)asked.num << (asked.szx + 4) : 0;
    if (offset > 0 && offset >= len) {
        snprintf(diag, sizeof(diag), "block %u is past the end (%zu bytes)", asked.num, len);
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
        return 0;
    }
    if (offset == 0 && etag_is_current(request, tag, tag_len)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_VALID);
        rd__observe_option(srv, session, request, response);
        coap_add_option(response, COAP_OPTION_ETAG, tag_len, tag);
        return 0;
    }
    if (szx < 0) {
        rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "message size too small");
        return 0;
    }
    if (has && (int)asked.szx < szx) {
        szx = (int)asked.szx;
    }
    if (!rd__amp_block_ok(srv, session, request, response, len - (size_t)offset, &szx)) {
        return 0;
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    /* Only now is the answer known to be a success: an error carries no Observe (RFC 7641
     * section 4.1), and libcoap 4.3.1 cannot take an option out again. */
    rd__observe_option(srv, session, request, response);
    /* libcoap leaves Content-Format out for text/plain (0); say it, as RFC 7252 has no
     * default. */
    add_uint_option(response, COAP_OPTION_CONTENT_FORMAT, media_type);
    coap_add_option(response, COAP_OPTION_ETAG, tag_len, tag);
    chunk = len - (size_t)offset;
    more = 0;
    if (has || chunk > ((size_t)16 << szx)) {
        coap_block_b_t b;

        /* A smaller block than asked for starts at the same byte (RFC 7959 section 2.4).
         * libcoap writes the option (replacing the one it put in a notification) and may make
         * the block smaller still to fit the message. */
        memset(&b, 0, sizeof(b));
        b.num = (unsigned)(offset >> (szx + 4));
        b.szx = (unsigned)szx;
        if (coap_write_block_b_opt(session, &b, COAP_OPTION_BLOCK2, response, len) < 1) {
            rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot cut a block");
            return 0;
        }
        offset = (uint64_t)b.num << (b.szx + 4);
        chunk = (size_t)1 << (b.szx + 4);
        if (len - offset < chunk) {
            chunk = len - (size_t)offset;
        }
        more = b.m;
        if (offset == 0 && more) {
            /* Size2 tells the client the whole answer's size (RFC 7959 section 4). */
            add_uint_option(response, COAP_OPTION_SIZE2, len);
        }
    }
    if (chunk && !coap_add_data(response, chunk, (const uint8_t *)data + offset)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "cannot add the answer");
        return 0;
    }
    return more;
}

int
rd__block2_continue(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
                    coap_pdu_t *response)
{
    struct rd_b2 *b2 = srv->b2;
    struct rd_block asked;
    coap_opt_iterator_t oi;
    uint8_t key[B2_KEY_MAX];
    size_t key_len;
    uint64_t hash;

    /* A later block asked for with Observe (node-coap asks so) renews the observation: the
     * handler's whole path, so the block carries Observe like the first. */
    if (!b2 || rd__block_option(request, COAP_OPTION_BLOCK2, &asked) != 1 || asked.num == 0 ||
        coap_check_option(request, COAP_OPTION_OBSERVE, &oi) ||
        request_key(session, request, key, &key_len, &hash)) {
        return 0;
    }
    for (struct rd_b2_entry **at = &b2->head; *at; at = &(*at)->next) {
        struct rd_b2_entry *e = *at;

        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            /* Most recently used first, so the eviction takes the coldest. */
            *at = e->next;
            e->next = b2->head;
            b2->head = e;
            e->used_ms = rd__now_ms();
            b2->hits++;
            send_block(srv, session, request, response, e->data, e->len, e->etag, e->media_type);
            return 1;
        }
    }
    return 0;
}

void
rd__respond_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                 const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf,
                 uint16_t media_type)
{
    (void)resource;
    (void)query;
    rd__respond_tagged(session, request, response, buf,
                       rd__answer_etag(buf->data ? buf->data : "", buf->len), media_type);
}

void
rd__respond_links(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                  const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf)
{
    rd__respond_body(resource, session, request, query, response, buf,
                     COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
}

void
rd__respond_tagged(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
                   struct lookup_buf *buf, uint64_t etag, uint16_t media_type)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    char *data = buf->data;
    size_t len = buf->len;

    memset(buf, 0, sizeof(*buf)); /* the bytes are ours now */
    if (send_block(srv, session, request, response, data ? data : "", len, etag, media_type)) {
        keep_answer(srv, session, request, data, len, etag, media_type);
        return;
    }
    free(data);
}
