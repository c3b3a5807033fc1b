/* Term entries of a write batch's new registrations, put together at the end.
 *
 * A new registration's counter is larger than every other, so each of its terms takes it last
 * (MDB_APPENDDUP). One put at a time, each of them still searched the term's key from the
 * root of the index, then positioned on the term's first counter and again on its last: some
 * 7 % of a registration. Most terms (rt=..., if=..., ct=...) recur in every registration of a
 * batch, so the batch keeps its new entries grouped by term, and a term's group goes in with
 * one MDB_MULTIPLE put: one search for the key, then appends. The entries' counts wait with
 * them, and go in one change per term and fine bucket (consecutive counters share it). The
 * record and its name are written at once. Whatever reads or removes terms, or reads the
 * counts, in the batch's transaction calls store__append_flush() first, so it sees its own
 * writes. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store_internal.h"

#define APPEND_SLOTS_MIN 64u

struct store__append_group {
    uint32_t off;  /* the term's bytes in bytes[] */
    uint16_t len;
    uint64_t hash;
    uint32_t head; /* first and last of the group's entries; UINT32_MAX: none */
    uint32_t tail;
    uint32_t n;
    uint64_t last; /* the last counter added: a term twice in one registration is one entry */
};

struct store__append_entry {
    unsigned char counter[STORE_KEY_SIZE];
    uint32_t next;
    uint32_t eps; /* the weights store__counts_term() adds for it */
    uint32_t links;
};

struct store__appends {
    struct store__append_group *groups;
    size_t ngroups;
    size_t cap_groups;
    struct store__append_entry *entries;
    size_t nentries;
    size_t cap_entries;
    unsigned char *bytes;
    size_t nbytes;
    size_t cap_bytes;
    uint32_t *slots; /* open addressing over groups, index + 1; 0: free */
    size_t nslots;
    unsigned char *run; /* one group's counters, contiguous, for MDB_MULTIPLE */
    size_t cap_run;
};

/* FNV-1a, eight bytes a step is not worth it for terms of a few dozen bytes. */
static uint64_t
term_hash(const unsigned char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    if (need <= *cap) {
        return RD_OK;
    }
    while (n < need) {
        n *= 2;
    }
    q = realloc(*p, n * size);
    if (!q) {
        return RD_ENOMEM;
    }
    *p = q;
    *cap = n;
    return RD_OK;
}

/* Place group @p g in the slots (which have room). */
static void
slot_put(struct store__appends *a, uint32_t g)
{
    size_t mask = a->nslots - 1;
    size_t i = (size_t)a->groups[g].hash & mask;

    while (a->slots[i]) {
        i = (i + 1) & mask;
    }
    a->slots[i] = g + 1;
}

/* Keep the slots at most half full. */
static int
slots_reserve(struct store__appends *a)
{
    size_t n = a->nslots ? a->nslots : APPEND_SLOTS_MIN;
    uint32_t *s;

    while (n < 2 * (a->ngroups + 1)) {
        n *= 2;
    }
    if (n == a->nslots) {
        return RD_OK;
    }
    s = calloc(n, sizeof(*s));
    if (!s) {
        return RD_ENOMEM;
    }
    free(a->slots);
    a->slots = s;
    a->nslots = n;
    for (size_t g = 0; g < a->ngroups; g++) {
        slot_put(a, (uint32_t)g);
    }
    return RD_OK;
}

/* The group of the term, made if new. @return its index, or UINT32_MAX out of memory. */
static uint32_t
group_of(struct store__appends *a, const unsigned char *term, size_t len)
{
    uint64_t h = term_hash(term, len);
    struct store__append_group *g;
    size_t mask;
    size_t i;

    if (slots_reserve(a)) {
        return UINT32_MAX;
    }
    mask = a->nslots - 1;
    for (i = (size_t)h & mask; a->slots[i]; i = (i + 1) & mask) {
        g = &a->groups[a->slots[i] - 1];
        if (g->hash == h && g->len == len && memcmp(a->bytes + g->off, term, len) == 0) {
            return a->slots[i] - 1;
        }
    }
    if (grow((void **)&a->groups, &a->cap_groups, a->ngroups + 1, sizeof(*a->groups)) ||
        grow((void **)&a->bytes, &a->cap_bytes, a->nbytes + len, 1)) {
        return UINT32_MAX;
    }
    g = &a->groups[a->ngroups];
    g->off = (uint32_t)a->nbytes;
    g->len = (uint16_t)len;
    g->hash = h;
    g->head = UINT32_MAX;
    g->tail = UINT32_MAX;
    g->n = 0;
    g->last = 0;
    memcpy(a->bytes + a->nbytes, term, len);
    a->nbytes += len;
    a->slots[i] = (uint32_t)a->ngroups + 1;
    return (uint32_t)a->ngroups++;
}

static void
clear(struct store__appends *a)
{
    if (a->nslots && a->ngroups) {
        memset(a->slots, 0, a->nslots * sizeof(*a->slots));
    }
    a->ngroups = 0;
    a->nentries = 0;
    a->nbytes = 0;
}

int
store__append_term(struct store *st, const void *term, size_t len, uint64_t counter, uint32_t eps,
                   uint32_t links)
{
    struct store__appends *a = st->appends;
    struct store__append_entry *e;
    struct store__append_group *g;
    uint32_t gi;

    if (!a) {
        a = calloc(1, sizeof(*a));
        if (!a) {
            return RD_ENOMEM;
        }
        st->appends = a;
    }
    gi = group_of(a, term, len);
    if (gi == UINT32_MAX ||
        grow((void **)&a->entries, &a->cap_entries, a->nentries + 1, sizeof(*a->entries))) {
        return RD_ENOMEM;
    }
    g = &a->groups[gi];
    if (g->n && g->last == counter) {
        return STORE_APPEND_TWICE;
    }
    e = &a->entries[a->nentries];
    store__put_be(e->counter, counter, sizeof(e->counter));
    e->next = UINT32_MAX;
    e->eps = eps;
    e->links = links;
    if (g->tail == UINT32_MAX) {
        g->head = (uint32_t)a->nentries;
    } else {
        a->entries[g->tail].next = (uint32_t)a->nentries;
    }
    g->tail = (uint32_t)a->nentries++;
    g->last = counter;
    g->n++;
    return RD_OK;
}

/* Count one group's entries: a change per run of counters in the same fine bucket. */
static int
count_group(struct store *st, MDB_txn *txn, const struct store__append_group *g)
{
    struct store__appends *a = st->appends;
    const void *term = a->bytes + g->off;
    uint64_t first = 0;
    uint32_t eps = 0;
    uint32_t links = 0;
    int rc = RD_OK;

    for (uint32_t i = g->head; !rc && i != UINT32_MAX; i = a->entries[i].next) {
        const struct store__append_entry *e = &a->entries[i];
        uint64_t c = store__get_be(e->counter, STORE_KEY_SIZE);

        if ((eps || links) && !store__counts_same_bucket(first, c)) {
            rc = store__counts_term(st, txn, term, g->len, first, eps, links, 1);
            eps = 0;
            links = 0;
        }
        if (!eps && !links) {
            first = c;
        }
        eps += e->eps;
        links += e->links;
    }
    if (!rc && (eps || links)) {
        rc = store__counts_term(st, txn, term, g->len, first, eps, links, 1);
    }
    return rc;
}

/* Put one group's counters under its term. */
static int
flush_group(struct store *st, MDB_cursor *cur, const struct store__append_group *g)
{
    struct store__appends *a = st->appends;
    MDB_val key = { g->len, a->bytes + g->off };
    MDB_val data[2];
    size_t done = 0;
    size_t i = 0;
    int rc;

    if (grow((void **)&a->run, &a->cap_run, (size_t)g->n * STORE_KEY_SIZE, 1)) {
        return RD_ENOMEM;
    }
    for (uint32_t e = g->head; e != UINT32_MAX; e = a->entries[e].next) {
        memcpy(a->run + i++ * STORE_KEY_SIZE, a->entries[e].counter, STORE_KEY_SIZE);
    }
    data[0].mv_size = STORE_KEY_SIZE;
    data[0].mv_data = a->run;
    data[1].mv_size = g->n;
    data[1].mv_data = NULL;
    rc = mdb_cursor_put(cur, &key, data, MDB_MULTIPLE | MDB_APPENDDUP | MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST) {
        /* Not larger than the term's last counter: not expected of a new counter, but put the
         * rest one at a time in their sorted places rather than lose them. */
        done = data[1].mv_size;
        for (i = done; i < g->n; i++) {
            MDB_val one = { STORE_KEY_SIZE, a->run + i * STORE_KEY_SIZE };

            rc = mdb_cursor_put(cur, &key, &one, MDB_NODUPDATA);
            if (rc != MDB_KEYEXIST && rc != MDB_SUCCESS) {
                break;
            }
            rc = MDB_SUCCESS;
        }
    }
    return store__from_mdb(st, rc, "put terms");
}

int
store__append_flush(struct store *st, MDB_txn *txn)
{
    struct store__appends *a = st->appends;
    int rc = RD_OK;

    if (!a || !a->ngroups) {
        return RD_OK;
    }
    if (!st->wcur_terms) {
        rc = store__from_mdb(st, mdb_cursor_open(txn, st->terms, &st->wcur_terms), "open cursor");
        if (rc) {
            st->wcur_terms = NULL;
        }
    }
    for (size_t g = 0; !rc && g < a->ngroups; g++) {
        rc = flush_group(st, st->wcur_terms, &a->groups[g]);
        if (!rc) {
            rc = count_group(st, txn, &a->groups[g]);
        }
    }
    clear(a);
    return rc;
}

void
store__append_forget(struct store *st)
{
    if (st->appends) {
        clear(st->appends);
    }
}

void
store__append_free(struct store *st)
{
    struct store__appends *a = st->appends;

    if (!a) {
        return;
    }
    free(a->groups);
    free(a->entries);
    free(a->bytes);
    free(a->slots);
    free(a->run);
    free(a);
    st->appends = NULL;
}
