/* Memory of recent lookups (RFC 9176 section 6): where their pages start, and their answers.
 *
 * Page p of a lookup is the matches p * count onwards, so answering it from the first match
 * costs all the pages before it: a client that pages through a large result would pay for the
 * whole result once per page. A lookup that passes a page boundary remembers where that page
 * starts: the registration just before it in the walk, and how many of the next registration's
 * matches belong to the previous page. A later request for that page resumes the walk there.
 *
 * Answers are kept too, up to a size: dashboards poll the same lookups, and every observer of a
 * lookup gets its own copy of each notification.
 *
 * Both are only good while the results they were made from still hold: any change of the
 * lookup results bumps srv->lookup_gen, and callers use nothing once a deadline has passed.
 * Entries are found by the exact text of the lookup, never by its hash alone. */
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_pages.h"
#include "rd_server.h"
#include "rd_status.h"

/* Direct-mapped tables: a newer entry takes the slot of an older one. */
#define PAGE_SLOTS   1024
#define ANSWER_SLOTS 256
/* Larger answers are not kept: paged lookups stay below it. */
#define ANSWER_KEEP_MAX (16 * 1024)

struct rd_page_slot {
    uint64_t gen;
    uint32_t page;
    int used;
    struct rd_lookup_key key;
    struct rd_page_mark mark;
};

struct rd_answer_slot {
    uint64_t gen;
    int used;
    struct rd_lookup_key key;
    char *data;
    size_t len;
};

int
rd__pages_init(struct rd_server *srv)
{
    srv->pages = calloc(PAGE_SLOTS, sizeof(*srv->pages));
    srv->answers = calloc(ANSWER_SLOTS, sizeof(*srv->answers));
    return srv->pages && srv->answers ? RD_OK : RD_ENOMEM;
}

void
rd__pages_cleanup(struct rd_server *srv)
{
    if (srv->answers) {
        for (size_t i = 0; i < ANSWER_SLOTS; i++) {
            free(srv->answers[i].data);
        }
    }
    free(srv->answers);
    free(srv->pages);
    srv->answers = NULL;
    srv->pages = NULL;
}

static uint64_t
fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static int
key_put(struct rd_lookup_key *key, const void *data, size_t len)
{
    if (len > sizeof(key->text) - key->len) {
        return RD_ETOOBIG;
    }
    memcpy(key->text + key->len, data, len);
    key->len += len;
    return RD_OK;
}

int
rd__lookup_key(unsigned kind, uint32_t link, const struct lookup_qparam *qp, size_t nq,
               int with_page, struct rd_lookup_key *key)
{
    unsigned char k = (unsigned char)kind;
    int rc;

    key->len = 0;
    rc = key_put(key, &k, 1);
    if (!rc) {
        rc = key_put(key, &link, sizeof(link));
    }
    for (size_t i = 0; i < nq && !rc; i++) {
        if (!with_page && qp[i].key_len == 4 && memcmp(qp[i].key, "page", 4) == 0) {
            continue;
        }
        /* A NUL ends each part: Uri-Query options carry none that the parser accepts, and a
         * missing '=' (presence) is told apart from an empty value. */
        rc = key_put(key, qp[i].key, qp[i].key_len);
        if (!rc) {
            rc = key_put(key, qp[i].value ? "=" : "", qp[i].value ? 1 : 0);
        }
        if (!rc && qp[i].value) {
            rc = key_put(key, qp[i].value, qp[i].value_len);
        }
        if (!rc) {
            rc = key_put(key, "", 1);
        }
    }
    key->hash = rc ? 0 : fnv(0xcbf29ce484222325ull, key->text, key->len);
    return rc;
}

static int
key_equal(const struct rd_lookup_key *a, const struct rd_lookup_key *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static struct rd_page_slot *
page_slot(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page)
{
    return &srv->pages[(key->hash ^ (page * 0x9e3779b97f4a7c15ull)) % PAGE_SLOTS];
}

int
rd__pages_find(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
               struct rd_page_mark *out)
{
    const struct rd_page_slot *s = page_slot(srv, key, page);

    if (!s->used || s->page != page || s->gen != srv->lookup_gen || !key_equal(&s->key, key)) {
        return RD_ENOTFOUND;
    }
    *out = s->mark;
    return RD_OK;
}

void
rd__pages_put(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
              const struct rd_page_mark *mark)
{
    struct rd_page_slot *s = page_slot(srv, key, page);

    s->gen = srv->lookup_gen;
    s->page = page;
    s->used = 1;
    s->key = *key;
    s->mark = *mark;
}

static struct rd_answer_slot *
answer_slot(struct rd_server *srv, const struct rd_lookup_key *key)
{
    return &srv->answers[key->hash % ANSWER_SLOTS];
}

int
rd__answer_find(struct rd_server *srv, const struct rd_lookup_key *key, struct lookup_buf *out)
{
    const struct rd_answer_slot *s = answer_slot(srv, key);

    if (!s->used || s->gen != srv->lookup_gen || !key_equal(&s->key, key)) {
        return RD_ENOTFOUND;
    }
    return lookup_buf_append(out, s->data, s->len);
}

void
rd__answer_put(struct rd_server *srv, const struct rd_lookup_key *key,
               const struct lookup_buf *answer)
{
    struct rd_answer_slot *s;
    char *copy;

    if (answer->len > ANSWER_KEEP_MAX) {
        return;
    }
    copy = malloc(answer->len ? answer->len : 1);
    if (!copy) {
        return;
    }
    if (answer->len) {
        memcpy(copy, answer->data, answer->len);
    }
    s = answer_slot(srv, key);
    free(s->data);
    s->data = copy;
    s->len = answer->len;
    s->gen = srv->lookup_gen;
    s->used = 1;
    s->key = *key;
}
