/* Counted checkpoints of the term index, so a lookup reaches any page (RFC 9176 section 6.2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

/* An LMDB B-tree has no rank: finding the match of rank r by walking costs r. So every term
 * keeps, in the same transactions as its index entries, the sums of its registrations' weights
 * over buckets of counters, at three sizes: one entry per top bucket of 2^16 counters, and one
 * per coarse bucket of 2^10 holding its sums and those of its 16 fine buckets of 2^6.
 * Counters only grow and are never reused, so a bucket is a fixed range: no split or merge.
 * Entries sort by level, then bucket, then term: the entries of the newest buckets, which new
 * registrations change, share a page or two whatever their terms, so a registration dirties
 * about two pages of counts (keyed by term first, each counted term cost pages of its own, and
 * a third of the registration rate). A seek visits the top buckets of its term in order (two
 * cursor moves each, N / 2^16 at most), then at most 64 coarse ones and 16 fine ones, and leaves
 * at most 2^6 registrations to the walk. The weights are the caller's (what a lookup of exactly
 * that term matches in the registration), so the store needs no knowledge of links to count
 * them. */
#define COUNT_FINE_SHIFT   6
#define COUNT_COARSE_SHIFT 10
#define COUNT_FINE_PER     (1u << (COUNT_COARSE_SHIFT - COUNT_FINE_SHIFT))
#define COUNT_TOP_SHIFT    16
#define COUNT_BUCKET_SIZE  5
#define COUNT_PREFIX       (1 + COUNT_BUCKET_SIZE) /**< level tag, bucket */
#define COUNT_KEY_MAX      (COUNT_PREFIX + STORE_TERM_MAX)
#define COUNT_COARSE       0 /**< level tag of the coarse entries */
#define COUNT_TOP          1 /**< level tag of the top entries: u64 eps, u64 links */
#define COUNT_TOP_SIZE     16
/* u64 eps, u64 links of the coarse bucket, then u32 eps, u32 links of each fine one. A fine
 * bucket holds at most 64 registrations of at most a few million links each, well under 2^32;
 * the whole value stays under LMDB's limit for a value kept in its leaf page. */
#define COUNT_VAL_SIZE (16 + 8 * COUNT_FINE_PER)
/* Registrations expired but not collected yet (within their grace period) are subtracted one by
 * one; past this many (a mass expiry) the seek declines and the caller walks until the sweep has
 * collected them. */
#define COUNT_HIDDEN_MAX 1024

/* A registration hidden from reads, with its weight for the term sought. */
struct hidden {
    uint64_t counter;
    uint64_t weight;
};

static int
invalid_term(struct store *st)
{
    (void)store__fail(st, "invalid term");
    return RD_EINVAL;
}

/* The key of bucket @p bucket of a term at @p level: the level, the bucket, then the term. */
static size_t
count_key(unsigned char *k, unsigned level, const void *term, size_t len, uint64_t bucket)
{
    k[0] = (unsigned char)level;
    store__put_be(k + 1, bucket, COUNT_BUCKET_SIZE);
    if (len) {
        memcpy(k + COUNT_PREFIX, term, len);
    }
    return COUNT_PREFIX + len;
}

/* The sums of a coarse bucket (@p fine < 0) or of its fine bucket @p fine, in @p unit. */
static uint64_t
count_get(const unsigned char *v, int fine, enum store_rank_unit unit)
{
    if (fine < 0) {
        return store__get_be(v + (unit == STORE_RANK_LINKS ? 8 : 0), 8);
    }
    return store__get_be(v + 16 + 8 * (size_t)fine + (unit == STORE_RANK_LINKS ? 4 : 0), 4);
}

static int
meta_unweighed(struct store *st, MDB_txn *txn, uint64_t *n)
{
    MDB_val key = { sizeof(STORE_META_UNWEIGHED) - 1, (void *)(uintptr_t)STORE_META_UNWEIGHED };
    MDB_val val = { 0, NULL };
    int rc = mdb_get(txn, st->meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        *n = 0;
        return RD_OK;
    }
    rc = store__from_mdb(st, rc, "get unweighed");
    if (!rc && val.mv_size != 8) {
        rc = store__fail(st, "unweighed: corrupt (%zu bytes)", val.mv_size);
    }
    if (!rc) {
        *n = store__get_be(val.mv_data, 8);
    }
    return rc;
}

static int
meta_unweighed_add(struct store *st, MDB_txn *txn, int delta)
{
    MDB_val key = { sizeof(STORE_META_UNWEIGHED) - 1, (void *)(uintptr_t)STORE_META_UNWEIGHED };
    unsigned char buf[8];
    MDB_val val = { sizeof(buf), buf };
    uint64_t n = 0;
    int rc = meta_unweighed(st, txn, &n);

    if (rc) {
        return rc;
    }
    /* Below zero only by damage: stay above zero so the counts are never trusted again. */
    if (delta > 0) {
        n++;
    } else {
        n = n ? n - 1 : 1;
    }
    store__put_be(buf, n, sizeof(buf));
    return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put unweighed");
}

/* Add or remove weights in the top bucket of @p counter. */
/* Read the count at @p key into @p v (@p size bytes; zeros when there is none) through @p cur,
 * which stays there for count_write(): one search for a read and its write. */
static int
count_read(struct store *st, MDB_cursor *cur, MDB_val *key, unsigned char *v, size_t size,
           int *found)
{
    MDB_val val = { 0, NULL };
    int rc = mdb_cursor_get(cur, key, &val, MDB_SET_KEY);

    *found = rc == MDB_SUCCESS;
    if (rc == MDB_NOTFOUND) {
        memset(v, 0, size);
        return RD_OK;
    }
    if (rc == MDB_SUCCESS && val.mv_size != size) {
        rc = MDB_CORRUPTED;
    }
    if (rc) {
        return store__from_mdb(st, rc, "get count");
    }
    memcpy(v, val.mv_data, size);
    return RD_OK;
}

/* Write @p v back where count_read() left @p cur, or remove the count when it is all zero
 * (@p zero). */
static int
count_write(struct store *st, MDB_cursor *cur, MDB_val *key, unsigned char *v, size_t size,
            int found, int zero)
{
    MDB_val val = { size, v };

    if (zero) {
        return found ? store__from_mdb(st, mdb_cursor_del(cur, 0), "delete count") : RD_OK;
    }
    return store__from_mdb(st, mdb_cursor_put(cur, key, &val, found ? MDB_CURRENT : 0),
                           "put count");
}

/* Add (@p sign 1) or remove (-1) @p eps and @p links in a top entry's value @p v. */
static void
top_apply(unsigned char *v, uint32_t eps, uint32_t links, int sign, int *damaged)
{
    uint64_t e = store__get_be(v, 8);
    uint64_t l = store__get_be(v + 8, 8);

    if (sign > 0) {
        e += eps;
        l += links;
    } else {
        *damaged |= e < eps || l < links;
        e = e < eps ? 0 : e - eps;
        l = l < links ? 0 : l - links;
    }
    store__put_be(v, e, 8);
    store__put_be(v + 8, l, 8);
}

/* The same in a coarse entry's value @p v, and in its fine sums at @p at. */
static void
coarse_apply(unsigned char *v, size_t at, uint32_t eps, uint32_t links, int sign, int *damaged)
{
    uint64_t sums[4];
    uint64_t add[4] = { eps, links, eps, links };

    sums[0] = store__get_be(v, 8);
    sums[1] = store__get_be(v + 8, 8);
    sums[2] = store__get_be(v + at, 4);
    sums[3] = store__get_be(v + at + 4, 4);
    for (int i = 0; i < 4; i++) {
        if (sign > 0) {
            sums[i] += add[i];
        } else {
            *damaged |= sums[i] < add[i];
            sums[i] = sums[i] < add[i] ? 0 : sums[i] - add[i];
        }
    }
    /* A fine sum past 32 bits cannot be kept: the counts are not to be trusted any more. */
    *damaged |= sums[2] > UINT32_MAX || sums[3] > UINT32_MAX;
    store__put_be(v, sums[0], 8);
    store__put_be(v + 8, sums[1], 8);
    store__put_be(v + at, sums[2] & UINT32_MAX, 4);
    store__put_be(v + at + 4, sums[3] & UINT32_MAX, 4);
}

/* An entry whose sums are zero is removed: both levels keep eps and links in front. */
static int
count_zero(const unsigned char *v)
{
    return store__get_be(v, 8) == 0 && store__get_be(v + 8, 8) == 0;
}

/* Change the count at @p key (a value of @p size bytes) in @p txn directly: one search reads it,
 * the cursor writes it in place. */
static int
count_change(struct store *st, MDB_txn *txn, MDB_val *key, size_t size, size_t at, uint32_t eps,
             uint32_t links, int sign, int *damaged)
{
    unsigned char v[COUNT_VAL_SIZE];
    MDB_cursor *cur = NULL;
    int found = 0;
    int rc;

    rc = store__from_mdb(st, mdb_cursor_open(txn, st->counts, &cur), "open cursor");
    if (!rc) {
        rc = count_read(st, cur, key, v, size, &found);
    }
    if (!rc) {
        if (size == COUNT_TOP_SIZE) {
            top_apply(v, eps, links, sign, damaged);
        } else {
            coarse_apply(v, at, eps, links, sign, damaged);
        }
        rc = count_write(st, cur, key, v, size, found, count_zero(v));
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Counts of a write batch (store_batch.c): the values its writes make, kept here and written
 * once per entry when the batch settles, instead of a write per registration and term. The
 * same arithmetic runs on them in the same order, so what is written is what writing each
 * change would have left. */
#define CACHE_SLOTS 1024 /* a power of two; half of them filled at most */

struct count_entry {
    unsigned char key[COUNT_KEY_MAX];
    size_t key_len;
    size_t size; /* COUNT_VAL_SIZE or COUNT_TOP_SIZE */
    unsigned char v[COUNT_VAL_SIZE];
};

struct store__count_cache {
    struct count_entry *entries[CACHE_SLOTS];
    size_t n;
};

/* A hash of the key eight bytes at a time: every change of a registration's terms asks twice,
 * and a byte at a time was a tenth of a registration's counting. */
static size_t
cache_slot(const unsigned char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    for (; i < len; i++) {
        h = (h ^ key[i]) * 1099511628211ull;
    }
    h ^= h >> 32;
    return (size_t)(h & (CACHE_SLOTS - 1));
}

/* The cached count at @p key, read from @p txn the first time; NULL with *rc set on failure. */
static struct count_entry *
cache_get(struct store *st, MDB_txn *txn, const MDB_val *key, size_t size, int *rc)
{
    struct store__count_cache *c = st->ccache;
    size_t i = cache_slot(key->mv_data, key->mv_size);
    MDB_val val = { 0, NULL };
    struct count_entry *e;
    int mrc;

    while ((e = c->entries[i]) != NULL) {
        if (e->key_len == key->mv_size && memcmp(e->key, key->mv_data, key->mv_size) == 0) {
            return e;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        *rc = RD_ENOMEM;
        return NULL;
    }
    mrc = mdb_get(txn, st->counts, (MDB_val *)(uintptr_t)key, &val);
    if (mrc == MDB_SUCCESS && val.mv_size == size) {
        memcpy(e->v, val.mv_data, size);
    } else if (mrc != MDB_NOTFOUND) {
        free(e);
        *rc = store__from_mdb(st, mrc == MDB_SUCCESS ? MDB_CORRUPTED : mrc, "get count");
        return NULL;
    }
    memcpy(e->key, key->mv_data, key->mv_size);
    e->key_len = key->mv_size;
    e->size = size;
    c->entries[i] = e;
    c->n++;
    return e;
}

void
store__counts_forget(struct store *st)
{
    struct store__count_cache *c = st->ccache;

    for (size_t i = 0; c && i < CACHE_SLOTS && c->n; i++) {
        if (c->entries[i]) {
            free(c->entries[i]);
            c->entries[i] = NULL;
            c->n--;
        }
    }
}

int
store__counts_flush(struct store *st, MDB_txn *txn)
{
    struct store__count_cache *c = st->ccache;
    int rc = RD_OK;

    for (size_t i = 0; c && i < CACHE_SLOTS && c->n && !rc; i++) {
        struct count_entry *e = c->entries[i];
        MDB_val key;
        MDB_val val;

        if (!e) {
            continue;
        }
        key.mv_size = e->key_len;
        key.mv_data = e->key;
        val.mv_size = e->size;
        val.mv_data = e->v;
        if (count_zero(e->v)) {
            rc = mdb_del(txn, st->counts, &key, NULL);
            rc = store__from_mdb(st, rc == MDB_NOTFOUND ? MDB_SUCCESS : rc, "delete count");
        } else {
            rc = store__from_mdb(st, mdb_put(txn, st->counts, &key, &val, 0), "put count");
        }
        free(e);
        c->entries[i] = NULL;
        c->n--;
    }
    store__counts_forget(st);
    return rc;
}

/* Change the count at @p key in the batch's cache; written by store__counts_flush(). */
static int
count_change_cached(struct store *st, MDB_txn *txn, MDB_val *key, size_t size, size_t at,
                    uint32_t eps, uint32_t links, int sign, int *damaged)
{
    struct count_entry *e;
    int rc = RD_OK;

    /* Half full: write what is there, so a probe always ends at an empty slot. */
    if (st->ccache->n >= CACHE_SLOTS / 2) {
        rc = store__counts_flush(st, txn);
        if (rc) {
            return rc;
        }
    }
    e = cache_get(st, txn, key, size, &rc);
    if (!e) {
        return rc;
    }
    if (size == COUNT_TOP_SIZE) {
        top_apply(e->v, eps, links, sign, damaged);
    } else {
        coarse_apply(e->v, at, eps, links, sign, damaged);
    }
    /* A removed entry reads as zeros afterwards, whatever its fine sums held. */
    if (count_zero(e->v)) {
        memset(e->v, 0, e->size);
    }
    return RD_OK;
}

int
store__counts_term(struct store *st, MDB_txn *txn, const void *term, size_t term_len,
                   uint64_t counter, uint32_t eps, uint32_t links, int sign)
{
    unsigned char k[COUNT_KEY_MAX];
    MDB_val key = { 0, k };
    size_t at = 16 + 8 * (size_t)((counter >> COUNT_FINE_SHIFT) % COUNT_FINE_PER);
    int cached;
    int damaged = 0;
    int rc;

    if (!st->has_counts || (eps == 0 && links == 0)) {
        return RD_OK;
    }
    if (txn == st->batch_txn && !st->ccache) {
        st->ccache = calloc(1, sizeof(*st->ccache));
    }
    cached = txn == st->batch_txn && st->ccache;
    key.mv_size = count_key(k, COUNT_COARSE, term, term_len, counter >> COUNT_COARSE_SHIFT);
    rc = (cached ? count_change_cached : count_change)(st, txn, &key, COUNT_VAL_SIZE, at, eps,
                                                        links, sign, &damaged);
    if (!rc) {
        /* MDB_SET_KEY pointed the key at the database's copy: point it back. */
        key.mv_data = k;
        key.mv_size = count_key(k, COUNT_TOP, term, term_len, counter >> COUNT_TOP_SHIFT);
        rc = (cached ? count_change_cached : count_change)(st, txn, &key, COUNT_TOP_SIZE, 0, eps,
                                                            links, sign, &damaged);
    }
    /* A count that would go below zero was wrong already: seeks must not trust it. */
    if (!rc && damaged) {
        rc = meta_unweighed_add(st, txn, 1);
    }
    return rc;
}

int
store__counts_same_bucket(uint64_t a, uint64_t b)
{
    /* The coarse and top buckets are unions of fine ones. */
    _Static_assert(COUNT_COARSE_SHIFT >= COUNT_FINE_SHIFT && COUNT_TOP_SHIFT >= COUNT_COARSE_SHIFT,
                   "count levels nest");
    return (a >> COUNT_FINE_SHIFT) == (b >> COUNT_FINE_SHIFT);
}

int
store__counts_rec(struct store *st, MDB_txn *txn, uint64_t counter, int weighed, uint32_t nlinks,
                  int sign)
{
    if (!st->has_counts) {
        return RD_OK;
    }
    if (!weighed) {
        return meta_unweighed_add(st, txn, sign);
    }
    return store__counts_term(st, txn, "", 0, counter, 1, nlinks, sign);
}

int
store__counts_reset(struct store *st, MDB_txn *txn)
{
    MDB_val key = { sizeof(STORE_META_UNWEIGHED) - 1, (void *)(uintptr_t)STORE_META_UNWEIGHED };
    int rc;

    if (!st->has_counts) {
        return RD_OK;
    }
    rc = store__from_mdb(st, mdb_drop(txn, st->counts, 0), "empty counts");
    if (rc) {
        return rc;
    }
    rc = mdb_del(txn, st->meta, &key, NULL);
    return rc == MDB_NOTFOUND ? RD_OK : store__from_mdb(st, rc, "delete unweighed");
}

/* The weights of @p term in @p rec (its first listing); 0 when it has no such term. */
static int
rec_term_weight(const struct store__rec *rec, const void *term, size_t term_len, uint32_t *eps,
                uint32_t *links)
{
    size_t off = 0;

    if (term_len == 0) {
        *eps = 1;
        *links = rec->nlinks;
        return 1;
    }
    for (uint32_t i = 0; i < rec->nterms && rec->terms_len - off >= 2; i++) {
        size_t len = (size_t)store__get_be(rec->terms + off, 2);

        if (len > rec->terms_len - off - 2) {
            return 0;
        }
        if (len == term_len && memcmp(rec->terms + off + 2, term, len) == 0) {
            store__rec_weight(rec, i, eps, links);
            return 1;
        }
        off += 2 + len;
    }
    return 0;
}

static int
cmp_hidden(const void *pa, const void *pb)
{
    const struct hidden *a = pa;
    const struct hidden *b = pb;

    return (a->counter > b->counter) - (a->counter < b->counter);
}

/* Collect the registrations expired at @p now but still stored, with their weight for @p term
 * in @p unit, sorted by counter. RD_ECONFLICT when there are too many or one has no weights. */
static int
collect_hidden(struct store *st, MDB_txn *txn, const void *term, size_t term_len,
               enum store_rank_unit unit, int64_t now, struct hidden *out, size_t *n)
{
    MDB_cursor *cur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    MDB_cursor_op op = MDB_FIRST;
    size_t m = 0;
    size_t scanned = 0;
    int rc;

    rc = store__from_mdb(st, mdb_cursor_open(txn, st->expiry, &cur), "open cursor");
    if (rc) {
        return rc;
    }
    for (;;) {
        unsigned char ek[STORE_EXPIRY_KEY_SIZE];
        MDB_val rval = { 0, NULL };
        unsigned char ck[STORE_KEY_SIZE];
        MDB_val rkey = { sizeof(ck), ck };
        struct store__rec rec;
        uint64_t counter;
        uint32_t eps;
        uint32_t links;

        rc = mdb_cursor_get(cur, &key, &val, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "iterate expiry");
        if (rc) {
            break;
        }
        if (key.mv_size != STORE_EXPIRY_KEY_SIZE) {
            rc = RD_ECONFLICT;
            break;
        }
        counter = store__get_be((const unsigned char *)key.mv_data + 8, 8);
        /* The key sorts as the deadline: past the first one still in the future, all are. */
        store__expiry_key(ek, now, UINT64_MAX);
        if (memcmp(key.mv_data, ek, 8) > 0) {
            break;
        }
        if (++scanned > COUNT_HIDDEN_MAX) {
            rc = RD_ECONFLICT;
            break;
        }
        store__put_be(ck, counter, sizeof(ck));
        rc = mdb_get(txn, st->regs, &rkey, &rval);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            continue;
        }
        rc = store__from_mdb(st, rc, "get registration");
        if (rc) {
            break;
        }
        if (store__rec_decode(st, &rval, &rec) || !rec.weights) {
            rc = RD_ECONFLICT;
            break;
        }
        /* A stale entry of a record that has moved on to a later deadline hides nothing. */
        if (rec.expires_at > now || !rec_term_weight(&rec, term, term_len, &eps, &links)) {
            continue;
        }
        out[m].counter = counter;
        out[m].weight = unit == STORE_RANK_LINKS ? links : eps;
        m++;
    }
    mdb_cursor_close(cur);
    if (rc) {
        return rc;
    }
    qsort(out, m, sizeof(out[0]), cmp_hidden);
    /* A record listed under two deadlines that have both passed is hidden once. */
    *n = 0;
    for (size_t i = 0; i < m; i++) {
        if (*n == 0 || out[*n - 1].counter != out[i].counter) {
            out[(*n)++] = out[i];
        }
    }
    return RD_OK;
}

/* The weight of the hidden registrations in counters [lo, hi). */
static uint64_t
hidden_in(const struct hidden *h, size_t n, uint64_t lo, uint64_t hi)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < n && h[i].counter < hi; i++) {
        if (h[i].counter >= lo) {
            sum += h[i].weight;
        }
    }
    return sum;
}

/* Scan the buckets of @p level of the term from bucket @p from to before @p to, adding their
 * visible weights to @p acc until the one that holds rank @p rank: RD_OK with @p val its value.
 * RD_ENOTFOUND when none does: @p acc has them all, @p val the last one (mv_data NULL: none). */
static int
scan_buckets(struct store *st, MDB_cursor *cur, unsigned level, const void *term, size_t term_len,
             enum store_rank_unit unit, uint64_t from, uint64_t to, const struct hidden *h,
             size_t nh, uint64_t rank, uint64_t *acc, uint64_t *bucket, MDB_val *val)
{
    unsigned char k[COUNT_KEY_MAX];
    MDB_val key = { 0, k };
    MDB_val v = { 0, NULL };
    unsigned shift = level == COUNT_TOP ? COUNT_TOP_SHIFT : COUNT_COARSE_SHIFT;
    size_t size = level == COUNT_TOP ? COUNT_TOP_SIZE : COUNT_VAL_SIZE;
    uint64_t b = from;
    int rc;

    val->mv_data = NULL;
    while (b < to) {
        uint64_t found;
        uint64_t w;
        uint64_t hid;

        /* The first entry at or after (level, b, term): the term's own in bucket b, or a later
         * one that says where the next bucket with any entry is. */
        key.mv_size = count_key(k, level, term, term_len, b);
        key.mv_data = k;
        rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
            return RD_ENOTFOUND;
        }
        rc = store__from_mdb(st, rc, "iterate counts");
        if (rc) {
            return rc;
        }
        if (key.mv_size < COUNT_PREFIX || ((const unsigned char *)key.mv_data)[0] != level) {
            return RD_ENOTFOUND;
        }
        found = store__get_be((const unsigned char *)key.mv_data + 1, COUNT_BUCKET_SIZE);
        if (key.mv_size != COUNT_PREFIX + term_len ||
            (term_len &&
             memcmp((const unsigned char *)key.mv_data + COUNT_PREFIX, term, term_len))) {
            /* Not the term's: it has no entry in bucket b, nor in any up to the one found. */
            b = found > b ? found : b + 1;
            continue;
        }
        if (found >= to) {
            break;
        }
        if (v.mv_size != size) {
            return RD_ECONFLICT;
        }
        *bucket = found;
        *val = v;
        w = count_get(v.mv_data, -1, unit);
        hid = hidden_in(h, nh, found << shift, (found + 1) << shift);
        w = w > hid ? w - hid : 0;
        if (*acc + w > rank) {
            return RD_OK;
        }
        *acc += w;
        b = found + 1;
    }
    return RD_ENOTFOUND;
}

/* Whether any registration has @p veto with a non-zero eps weight. */
static int
vetoed(struct store *st, MDB_cursor *cur, const struct store_term *veto, int *yes)
{
    uint64_t acc = 0;
    uint64_t bucket = 0;
    MDB_val val;
    int rc = scan_buckets(st, cur, COUNT_TOP, veto->data, veto->len, STORE_RANK_EPS, 0, UINT64_MAX,
                          NULL, 0, 0, &acc, &bucket, &val);

    *yes = rc == RD_OK;
    return rc == RD_ENOTFOUND ? RD_OK : rc;
}

int
store_rank_seek(struct store *st, const void *term, size_t term_len, enum store_rank_unit unit,
                int64_t now, uint64_t rank, const struct store_term *veto, uint64_t *after,
                uint64_t *skip)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    struct hidden *h = NULL;
    MDB_val val = { 0, NULL };
    size_t nh = 0;
    uint64_t unweighed = 0;
    uint64_t acc = 0;
    uint64_t top = 0;
    uint64_t coarse = 0;
    uint64_t start = 0;
    int past = 0;
    int yes = 0;
    int rc;

    if ((!term && term_len) || term_len > STORE_TERM_MAX ||
        (veto && (!veto->data || veto->len == 0 || veto->len > STORE_TERM_MAX))) {
        return invalid_term(st);
    }
    if (!st->has_counts) {
        return RD_ECONFLICT;
    }
    h = malloc(COUNT_HIDDEN_MAX * sizeof(*h));
    if (!h) {
        return RD_ENOMEM;
    }
    rc = store__read_begin(st, &txn);
    if (rc) {
        free(h);
        return rc;
    }
    /* Within a write batch the counts it changed are written first. */
    if (txn == st->batch_txn) {
        rc = store__append_flush(st, txn);
        if (!rc) {
            rc = store__counts_flush(st, txn);
        }
    }
    if (!rc) {
        rc = meta_unweighed(st, txn, &unweighed);
    }
    if (!rc && unweighed) {
        rc = RD_ECONFLICT;
    }
    if (!rc) {
        rc = store__from_mdb(st, mdb_cursor_open(txn, st->counts, &cur), "open cursor");
    }
    if (!rc && veto) {
        rc = vetoed(st, cur, veto, &yes);
        if (!rc && yes) {
            rc = RD_ECONFLICT;
        }
    }
    if (!rc) {
        rc = collect_hidden(st, txn, term, term_len, unit, now, h, &nh);
    }
    if (!rc) {
        rc = scan_buckets(st, cur, COUNT_TOP, term, term_len, unit, 0, UINT64_MAX, h, nh, rank,
                          &acc, &top, &val);
        past = rc == RD_ENOTFOUND;
        rc = past ? RD_OK : rc;
    }
    /* Within the top bucket that holds the rank (past it: the last one), the coarse ones. */
    if (!rc && val.mv_data) {
        uint64_t first = top << (COUNT_TOP_SHIFT - COUNT_COARSE_SHIFT);
        uint64_t inner = past ? 0 : acc;

        rc = scan_buckets(st, cur, COUNT_COARSE, term, term_len, unit, first,
                          first + (UINT64_C(1) << (COUNT_TOP_SHIFT - COUNT_COARSE_SHIFT)), h, nh,
                          past ? UINT64_MAX : rank, &inner, &coarse, &val);
        if (past && rc == RD_ENOTFOUND && val.mv_data) {
            rc = RD_OK;
        } else if (rc == RD_ENOTFOUND) {
            /* The coarse buckets must add up to their top one: if they do not, walk. */
            rc = RD_ECONFLICT;
        } else if (!rc) {
            acc = inner;
        }
    }
    /* With nothing counted (no coarse bucket), a walk from the first passes over all. */
    if (!rc && val.mv_data) {
        uint64_t fine = 0;
        int found = -1;

        for (unsigned i = 0; i < COUNT_FINE_PER; i++) {
            uint64_t b = (coarse << (COUNT_COARSE_SHIFT - COUNT_FINE_SHIFT)) + i;
            uint64_t w = count_get(val.mv_data, (int)i, unit);
            uint64_t hid = hidden_in(h, nh, b << COUNT_FINE_SHIFT, (b + 1) << COUNT_FINE_SHIFT);

            w = w > hid ? w - hid : 0;
            /* Past the last match, the walk starts after the last fine bucket with a weight,
             * where it finds nothing. */
            if (past) {
                if (count_get(val.mv_data, (int)i, STORE_RANK_EPS) ||
                    count_get(val.mv_data, (int)i, STORE_RANK_LINKS)) {
                    found = (int)i + 1;
                }
                continue;
            }
            if (acc + fine + w > rank) {
                found = (int)i;
                break;
            }
            fine += w;
        }
        if (found < 0) {
            /* The fine buckets must add up to their coarse one: if they do not, walk. */
            rc = RD_ECONFLICT;
        } else {
            acc += fine;
            start = ((coarse << (COUNT_COARSE_SHIFT - COUNT_FINE_SHIFT)) + (uint64_t)found)
                    << COUNT_FINE_SHIFT;
        }
    }
    if (!rc) {
        *after = start ? store__id_from_counter(st, start - 1) : 0;
        *skip = rank - acc;
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    store__read_end(st, txn);
    free(h);
    return rc;
}

/* What store__counts_check() expects of one term, a coarse bucket at a time. */
struct expect {
    struct store *st;
    MDB_txn *txn;
    unsigned char term[STORE_TERM_MAX];
    size_t len;
    int open;
    uint64_t bucket;
    uint64_t sums[2 + 2 * COUNT_FINE_PER]; /**< eps, links; then each fine bucket's */
    int top_open;
    uint64_t top;
    uint64_t top_sums[2];
    size_t checked;
    size_t *problems;
    store_problem_fn fn;
    void *arg;
};

static void
report(struct expect *x, const char *msg)
{
    (*x->problems)++;
    if (x->fn) {
        x->fn(x->arg, msg);
    }
}

/* Compare the checkpoint of the coarse bucket collected with the stored one. */
static int
expect_flush(struct expect *x)
{
    unsigned char k[COUNT_KEY_MAX];
    MDB_val key = { 0, k };
    MDB_val val = { 0, NULL };
    int same;
    int rc;

    if (!x->open || (x->sums[0] == 0 && x->sums[1] == 0)) {
        x->open = 0;
        return RD_OK;
    }
    x->open = 0;
    key.mv_size = count_key(k, COUNT_COARSE, x->term, x->len, x->bucket);
    rc = mdb_get(x->txn, x->st->counts, &key, &val);
    if (rc == MDB_NOTFOUND) {
        report(x, "counts: a bucket of a term has no checkpoint");
        return RD_OK;
    }
    rc = store__from_mdb(x->st, rc, "get count");
    if (rc) {
        return rc;
    }
    x->checked++;
    same = val.mv_size == COUNT_VAL_SIZE &&
           count_get(val.mv_data, -1, STORE_RANK_EPS) == x->sums[0] &&
           count_get(val.mv_data, -1, STORE_RANK_LINKS) == x->sums[1];
    for (unsigned i = 0; same && i < COUNT_FINE_PER; i++) {
        same = count_get(val.mv_data, (int)i, STORE_RANK_EPS) == x->sums[2 + 2 * i] &&
               count_get(val.mv_data, (int)i, STORE_RANK_LINKS) == x->sums[3 + 2 * i];
    }
    if (!same) {
        report(x, "counts: a checkpoint differs from the sum of its bucket's weights");
    }
    return RD_OK;
}

/* Compare the top bucket collected with the stored one. */
static int
expect_flush_top(struct expect *x)
{
    unsigned char k[COUNT_KEY_MAX];
    MDB_val key = { 0, k };
    MDB_val val = { 0, NULL };
    int rc;

    if (!x->top_open || (x->top_sums[0] == 0 && x->top_sums[1] == 0)) {
        x->top_open = 0;
        return RD_OK;
    }
    x->top_open = 0;
    key.mv_size = count_key(k, COUNT_TOP, x->term, x->len, x->top);
    rc = mdb_get(x->txn, x->st->counts, &key, &val);
    if (rc == MDB_NOTFOUND) {
        report(x, "counts: a top bucket of a term has no checkpoint");
        return RD_OK;
    }
    rc = store__from_mdb(x->st, rc, "get count");
    if (rc) {
        return rc;
    }
    x->checked++;
    if (val.mv_size != COUNT_TOP_SIZE ||
        count_get(val.mv_data, -1, STORE_RANK_EPS) != x->top_sums[0] ||
        count_get(val.mv_data, -1, STORE_RANK_LINKS) != x->top_sums[1]) {
        report(x, "counts: a top checkpoint differs from the sum of its bucket's weights");
    }
    return RD_OK;
}

/* Add the weights of @p counter under the term @p term, in index order. */
static int
expect_add(struct expect *x, const void *term, size_t len, uint64_t counter, uint32_t eps,
           uint32_t links)
{
    int same = len == x->len && memcmp(term, x->term, len) == 0;
    uint64_t b = counter >> COUNT_COARSE_SHIFT;
    size_t fine = (size_t)((counter >> COUNT_FINE_SHIFT) % COUNT_FINE_PER);
    int rc;

    if (x->open && (!same || b != x->bucket)) {
        rc = expect_flush(x);
        if (rc) {
            return rc;
        }
    }
    if (x->top_open && (!same || counter >> COUNT_TOP_SHIFT != x->top)) {
        rc = expect_flush_top(x);
        if (rc) {
            return rc;
        }
    }
    if (!x->top_open) {
        x->top_open = 1;
        x->top = counter >> COUNT_TOP_SHIFT;
        x->top_sums[0] = 0;
        x->top_sums[1] = 0;
    }
    x->top_sums[0] += eps;
    x->top_sums[1] += links;
    if (!x->open) {
        x->open = 1;
        x->bucket = b;
        memset(x->sums, 0, sizeof(x->sums));
    }
    x->sums[0] += eps;
    x->sums[1] += links;
    x->sums[2 + 2 * fine] += eps;
    x->sums[3 + 2 * fine] += links;
    if (!same) {
        memcpy(x->term, term, len);
        x->len = len;
    }
    return RD_OK;
}

int
store__counts_check(struct store *st, MDB_txn *txn, size_t *counts, size_t *problems,
                    store_problem_fn fn, void *arg)
{
    struct expect *x = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key = { 0, NULL };
    MDB_val val = { 0, NULL };
    MDB_stat ms;
    uint64_t unweighed = 0;
    uint64_t meta = 0;
    int rc;

    *counts = 0;
    if (!st->has_counts) {
        return RD_OK;
    }
    x = calloc(1, sizeof(*x));
    if (!x) {
        return RD_ENOMEM;
    }
    x->st = st;
    x->txn = txn;
    x->problems = problems;
    x->fn = fn;
    x->arg = arg;
    rc = store__from_mdb(st, mdb_stat(txn, st->counts, &ms), "stat counts");
    if (!rc) {
        *counts = ms.ms_entries;
        rc = store__from_mdb(st, mdb_cursor_open(txn, st->regs, &cur), "open cursor");
    }
    /* All registrations, in counter order: the term of length 0. */
    for (MDB_cursor_op op = MDB_FIRST; !rc; op = MDB_NEXT) {
        struct store__rec rec;

        rc = mdb_cursor_get(cur, &key, &val, op);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "iterate registrations");
        if (rc || key.mv_size != STORE_KEY_SIZE || store__rec_decode(st, &val, &rec)) {
            continue;
        }
        if (!rec.weights) {
            unweighed++;
            continue;
        }
        rc = expect_add(x, "", 0, store__get_be(key.mv_data, STORE_KEY_SIZE), 1, rec.nlinks);
    }
    if (cur) {
        mdb_cursor_close(cur);
        cur = NULL;
    }
    /* Every term, in index order, with the weights its records give it. */
    if (!rc) {
        rc = store__from_mdb(st, mdb_cursor_open(txn, st->terms, &cur), "open cursor");
    }
    for (MDB_cursor_op op = MDB_FIRST; !rc; op = MDB_NEXT) {
        unsigned char ck[STORE_KEY_SIZE];
        MDB_val rkey = { sizeof(ck), ck };
        MDB_val rval = { 0, NULL };
        struct store__rec rec;
        uint64_t counter;
        uint32_t eps;
        uint32_t links;

        rc = mdb_cursor_get(cur, &key, &val, op);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "iterate terms");
        if (rc || val.mv_size != STORE_KEY_SIZE || key.mv_size == 0) {
            continue;
        }
        counter = store__get_be(val.mv_data, STORE_KEY_SIZE);
        store__put_be(ck, counter, sizeof(ck));
        if (mdb_get(txn, st->regs, &rkey, &rval) != MDB_SUCCESS ||
            store__rec_decode(st, &rval, &rec) || !rec.weights ||
            !rec_term_weight(&rec, key.mv_data, key.mv_size, &eps, &links)) {
            continue;
        }
        rc = expect_add(x, key.mv_data, key.mv_size, counter, eps, links);
    }
    if (!rc) {
        rc = expect_flush(x);
    }
    if (!rc) {
        rc = expect_flush_top(x);
    }
    if (!rc) {
        rc = meta_unweighed(st, txn, &meta);
    }
    if (!rc && meta != unweighed) {
        report(x, "counts: the number of records without weights differs from meta's");
    }
    if (!rc && x->checked != *counts) {
        report(x, "counts: checkpoints of buckets that hold no weight");
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    free(x);
    return rc;
}
