/* Registration records: put, replace, get, find, delete, iterate, and their index entries. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store.h"
#include "store_internal.h"

/* Record layout, format 1, all integers big-endian:
 *
 *   u8 format (1), u8 ep_len, u8 d_len, u8 zero, u32 nterms, u32 terms_len, i64 expires_at,
 *   ep, '\0', d, '\0', nterms * (u16 len, term bytes), then the caller's data to the end.
 *
 * Format 2 (a registration put with weights) has the same header with format 2, and between
 * the terms and the data: u32 nlinks, nterms * (u32 eps, u32 links).
 *
 * Keeping the NULs in the record lets reads hand out ep and d straight from the map, and
 * keeping the terms (and their weights) lets a replace or delete find the index entries and
 * counts to remove. */
#define STORE_REC_FORMAT      1
#define STORE_REC_FORMAT_W    2
#define STORE_REC_HEADER_SIZE 20
#define STORE_REC_DEADLINE_AT 12 /* offset of the 8-byte deadline in the header */
#define STORE_REC_MAX_SIZE    UINT32_MAX

/* Sizes of a valid registration, worked out once by check_reg(). */
struct reg_shape {
    size_t ep_len;
    size_t d_len;
    size_t terms_len;
    size_t weights_len; /**< 0 without weights */
    size_t size;        /**< of the whole record */
};

/* What writing @p reg may dirty beyond the store's fixed headroom: the old and the new record,
 * and in the worst case a page for each old and each new index entry. */
static uint64_t
write_extra(const struct store_reg *reg, const struct reg_shape *shape)
{
    return 2 * (uint64_t)shape->size + 2 * (uint64_t)reg->nterms * 4096;
}

static int
invalid(struct store *st, const char *what)
{
    snprintf(st->errmsg, sizeof(st->errmsg), "invalid %s", what);
    return RD_EINVAL;
}

/* Length of a C string of @p min to STORE_NAME_MAX bytes, or RD_EINVAL. */
static int
name_len(const char *s, size_t min, size_t *len)
{
    size_t n;

    if (!s) {
        return RD_EINVAL;
    }
    n = strnlen(s, STORE_NAME_MAX + 1);
    if (n < min || n > STORE_NAME_MAX) {
        return RD_EINVAL;
    }
    *len = n;
    return RD_OK;
}

static int
check_reg(struct store *st, const struct store_reg *reg, struct reg_shape *shape)
{
    uint64_t terms_len;
    size_t fixed;

    if (!reg) {
        return invalid(st, "registration");
    }
    if (name_len(reg->ep, 1, &shape->ep_len)) {
        return invalid(st, "ep");
    }
    if (name_len(reg->d ? reg->d : "", 0, &shape->d_len)) {
        return invalid(st, "d");
    }
    if ((!reg->data && reg->data_len) || (!reg->terms && reg->nterms)) {
        return invalid(st, "registration");
    }
    /* Bounding the bytes of the terms also bounds their number, as each takes at least 3. */
    terms_len = 0;
    for (size_t i = 0; i < reg->nterms; i++) {
        const struct store_term *t = &reg->terms[i];

        if (!t->data || t->len == 0 || t->len > STORE_TERM_MAX) {
            return invalid(st, "term");
        }
        terms_len += 2 + t->len;
        if (terms_len > STORE_REC_MAX_SIZE) {
            return invalid(st, "terms (too many)");
        }
    }
    shape->terms_len = (size_t)terms_len;
    /* At most STORE_REC_MAX_SIZE / 3 terms, so this stays well inside 64 bits. */
    shape->weights_len = reg->weighed ? 4 + 8 * (size_t)reg->nterms : 0;
    if ((uint64_t)shape->terms_len + shape->weights_len > STORE_REC_MAX_SIZE) {
        return invalid(st, "terms (too many)");
    }
    fixed = STORE_REC_HEADER_SIZE + shape->ep_len + 1 + shape->d_len + 1 + shape->terms_len +
            shape->weights_len;
    if (reg->data_len > STORE_REC_MAX_SIZE - fixed) {
        return invalid(st, "data (too large)");
    }
    shape->size = fixed + reg->data_len;
    return RD_OK;
}

/* Encode the header and the names of the record of @p reg, with @p nterms terms of
 * @p shape->terms_len bytes; @return where the terms go. */
static unsigned char *
rec_encode_head(unsigned char *p, const struct store_reg *reg, const struct reg_shape *shape,
                int weighed, uint32_t nterms)
{
    p[0] = weighed ? STORE_REC_FORMAT_W : STORE_REC_FORMAT;
    p[1] = (unsigned char)shape->ep_len;
    p[2] = (unsigned char)shape->d_len;
    p[3] = 0;
    store__put_be(p + 4, nterms, 4);
    store__put_be(p + 8, shape->terms_len, 4);
    store__put_be(p + STORE_REC_DEADLINE_AT, (uint64_t)reg->expires_at, 8);
    p += STORE_REC_HEADER_SIZE;
    memcpy(p, reg->ep, shape->ep_len);
    p += shape->ep_len;
    *p++ = '\0';
    if (shape->d_len) {
        memcpy(p, reg->d, shape->d_len);
    }
    p += shape->d_len;
    *p++ = '\0';
    return p;
}

static void
rec_encode(unsigned char *p, const struct store_reg *reg, const struct reg_shape *shape)
{
    p = rec_encode_head(p, reg, shape, reg->weighed, (uint32_t)reg->nterms);
    for (size_t i = 0; i < reg->nterms; i++) {
        store__put_be(p, reg->terms[i].len, 2);
        memcpy(p + 2, reg->terms[i].data, reg->terms[i].len);
        p += 2 + reg->terms[i].len;
    }
    if (reg->weighed) {
        store__put_be(p, reg->nlinks, 4);
        p += 4;
        for (size_t i = 0; i < reg->nterms; i++) {
            store__put_be(p, reg->terms[i].eps, 4);
            store__put_be(p + 4, reg->terms[i].links, 4);
            p += 8;
        }
    }
    if (reg->data_len) {
        memcpy(p, reg->data, reg->data_len);
    }
}

int
store__rec_decode(struct store *st, const MDB_val *val, struct store__rec *rec)
{
    const unsigned char *p = val->mv_data;
    size_t size = val->mv_size;
    size_t off;
    uint64_t bits;

    if (size < STORE_REC_HEADER_SIZE) {
        return store__fail(st, "corrupt registration record: %zu bytes", size);
    }
    if (p[0] != STORE_REC_FORMAT && p[0] != STORE_REC_FORMAT_W) {
        return store__fail(st, "corrupt registration record: format %u", (unsigned)p[0]);
    }
    rec->ep_len = p[1];
    rec->d_len = p[2];
    rec->nterms = (uint32_t)store__get_be(p + 4, 4);
    rec->terms_len = (size_t)store__get_be(p + 8, 4);
    bits = store__get_be(p + STORE_REC_DEADLINE_AT, 8);
    memcpy(&rec->expires_at, &bits, sizeof(rec->expires_at));
    if (rec->ep_len == 0 || rec->ep_len > STORE_NAME_MAX || rec->d_len > STORE_NAME_MAX) {
        return store__fail(st, "corrupt registration record: name lengths %zu, %zu", rec->ep_len,
                           rec->d_len);
    }
    /* Every term takes 3 to 2 + STORE_TERM_MAX bytes. */
    if ((uint64_t)rec->nterms * 3 > rec->terms_len ||
        rec->terms_len > (uint64_t)rec->nterms * (2 + STORE_TERM_MAX)) {
        return store__fail(st, "corrupt registration record: %u terms in %zu bytes",
                           (unsigned)rec->nterms, rec->terms_len);
    }
    off = STORE_REC_HEADER_SIZE + rec->ep_len + 1 + rec->d_len + 1;
    if (off > size || rec->terms_len > size - off) {
        return store__fail(st, "corrupt registration record: truncated (%zu bytes)", size);
    }
    rec->ep = (const char *)p + STORE_REC_HEADER_SIZE;
    rec->d = rec->ep + rec->ep_len + 1;
    if (rec->ep[rec->ep_len] != '\0' || rec->d[rec->d_len] != '\0' ||
        memchr(rec->ep, '\0', rec->ep_len) || memchr(rec->d, '\0', rec->d_len)) {
        return store__fail(st, "corrupt registration record: bad name");
    }
    rec->terms = p + off;
    off += rec->terms_len;
    rec->weights = NULL;
    rec->nlinks = 0;
    if (p[0] == STORE_REC_FORMAT_W) {
        size_t wlen = 4 + 8 * (size_t)rec->nterms;

        if (wlen > size - off) {
            return store__fail(st, "corrupt registration record: weights truncated");
        }
        rec->weights = p + off;
        rec->nlinks = (uint32_t)store__get_be(p + off, 4);
        off += wlen;
    }
    rec->data = p + off;
    rec->data_len = size - off;
    return RD_OK;
}

void
store__rec_weight(const struct store__rec *rec, uint32_t i, uint32_t *eps, uint32_t *links)
{
    const unsigned char *w = rec->weights + 4 + 8 * (size_t)i;

    *eps = (uint32_t)store__get_be(w, 4);
    *links = (uint32_t)store__get_be(w + 4, 4);
}

int
store__rec_weigh(struct store *st, MDB_cursor *cur, uint64_t counter, struct store__rec *rec)
{
    struct store_term *terms = NULL;
    struct store_reg reg;
    struct reg_shape shape;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    unsigned char *buf = NULL;
    size_t off = 0;
    int rc = RD_OK;

    /* Versions 1 and 2 read format 1 only: a step that ends at one of them (a directory cut
     * there could go back to that release) must not write format 2. */
    if (!st->weigh_fn || rec->weights || st->version < 2) {
        return RD_OK;
    }
    terms = calloc(rec->nterms ? rec->nterms : 1, sizeof(*terms));
    if (!terms) {
        return RD_ENOMEM;
    }
    for (uint32_t i = 0; i < rec->nterms; i++) {
        /* A damaged term list stays as it is, for the index to report. */
        if (rec->terms_len - off < 2) {
            goto out;
        }
        terms[i].len = (size_t)store__get_be(rec->terms + off, 2);
        terms[i].data = rec->terms + off + 2;
        if (terms[i].len == 0 || terms[i].len > STORE_TERM_MAX ||
            terms[i].len > rec->terms_len - off - 2) {
            goto out;
        }
        off += 2 + terms[i].len;
    }
    memset(&reg, 0, sizeof(reg));
    reg.id = store__id_from_counter(st, counter);
    reg.ep = rec->ep;
    reg.d = rec->d;
    reg.expires_at = rec->expires_at;
    reg.data = rec->data;
    reg.data_len = rec->data_len;
    if (st->weigh_fn(st->weigh_arg, &reg, terms, rec->nterms, &reg.nlinks)) {
        goto out;
    }
    reg.terms = terms;
    reg.nterms = rec->nterms;
    reg.weighed = 1;
    rc = check_reg(st, &reg, &shape);
    if (!rc) {
        buf = malloc(shape.size);
        rc = buf ? RD_OK : RD_ENOMEM;
    }
    if (rc) {
        goto out;
    }
    /* The record is encoded aside: its old bytes, which the terms point into, live in the page
     * the put replaces. */
    rec_encode(buf, &reg, &shape);
    store__put_be(k, counter, sizeof(k));
    val.mv_size = shape.size;
    val.mv_data = buf;
    rc = store__from_mdb(st, mdb_cursor_put(cur, &key, &val, MDB_CURRENT), "weigh registration");
    if (!rc) {
        rc = store__from_mdb(st, mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT),
                             "read registration");
    }
    if (!rc) {
        rc = store__rec_decode(st, &val, rec);
    }
out:
    free(buf);
    free(terms);
    return rc;
}

/* The names key: d, '\0', ep. */
static size_t
name_key(unsigned char key[STORE_NAME_KEY_MAX], const char *d, size_t d_len, const char *ep,
         size_t ep_len)
{
    if (d_len) {
        memcpy(key, d, d_len);
    }
    key[d_len] = '\0';
    memcpy(key + d_len + 1, ep, ep_len);
    return d_len + 1 + ep_len;
}

/* @p is_new: the counter is newer than every other, so it goes last among each term's
 * registrations (MDB_APPENDDUP: full pages); in a write batch the entries wait, grouped by
 * term, for store__append_flush(). */
static int
terms_add(struct store *st, MDB_txn *txn, uint64_t counter, const struct store_reg *reg, int is_new)
{
    unsigned char c[STORE_KEY_SIZE];
    MDB_val key;
    MDB_val val = { sizeof(c), c };
    unsigned flags = MDB_NODUPDATA | (is_new ? MDB_APPENDDUP : 0);
    int rc;

    /* One cursor for the whole transaction: the terms come sorted, and a cursor still on the
     * leaf page of the key it is given searches only that page, not the tree from its root. */
    if (!st->wcur_terms) {
        rc = store__from_mdb(st, mdb_cursor_open(txn, st->terms, &st->wcur_terms), "open cursor");
        if (rc) {
            st->wcur_terms = NULL;
            return rc;
        }
    }
    store__put_be(c, counter, sizeof(c));
    for (size_t i = 0; i < reg->nterms; i++) {
        key.mv_size = reg->terms[i].len;
        key.mv_data = (void *)(uintptr_t)reg->terms[i].data;
        /* The same term twice in one registration is one index entry, counted with the
         * weights of its first listing (as terms_del() uncounts it). In a batch a new
         * registration's entry waits, and is counted when the batch puts it (store_append.c). */
        if (is_new && txn == st->batch_txn && st->append_ok) {
            rc = store__append_term(st, key.mv_data, key.mv_size, counter,
                                    reg->weighed ? reg->terms[i].eps : 0,
                                    reg->weighed ? reg->terms[i].links : 0);
            if (rc && rc != STORE_APPEND_TWICE) {
                return rc;
            }
            continue;
        }
        rc = mdb_cursor_put(st->wcur_terms, &key, &val, flags);
        if (rc == MDB_KEYEXIST) {
            continue;
        }
        rc = store__from_mdb(st, rc, "put term");
        if (!rc && reg->weighed) {
            rc = store__counts_term(st, txn, key.mv_data, key.mv_size, counter, reg->terms[i].eps,
                                    reg->terms[i].links, 1);
        }
        if (rc) {
            return rc;
        }
    }
    return RD_OK;
}

static int
terms_del(struct store *st, MDB_txn *txn, uint64_t counter, const struct store__rec *rec)
{
    unsigned char c[STORE_KEY_SIZE];
    MDB_val key;
    MDB_val val = { sizeof(c), c };
    size_t off = 0;
    int rc;

    /* What the batch holds back may be this registration's. */
    rc = txn == st->batch_txn ? store__append_flush(st, txn) : RD_OK;
    if (rc) {
        return rc;
    }
    store__put_be(c, counter, sizeof(c));
    for (uint32_t i = 0; i < rec->nterms; i++) {
        size_t len;

        if (rec->terms_len - off < 2) {
            return store__fail(st, "corrupt registration record: terms truncated");
        }
        len = (size_t)store__get_be(rec->terms + off, 2);
        if (len == 0 || len > STORE_TERM_MAX || len > rec->terms_len - off - 2) {
            return store__fail(st, "corrupt registration record: term of %zu bytes", len);
        }
        key.mv_size = len;
        key.mv_data = (void *)(uintptr_t)(rec->terms + off + 2);
        rc = mdb_del(txn, st->terms, &key, &val);
        /* A term listed twice was indexed once, so the second removal finds nothing. */
        if (rc != MDB_NOTFOUND) {
            rc = store__from_mdb(st, rc, "delete term");
            if (!rc && rec->weights) {
                uint32_t eps;
                uint32_t links;

                store__rec_weight(rec, i, &eps, &links);
                rc = store__counts_term(st, txn, key.mv_data, key.mv_size, counter, eps, links, -1);
            }
            if (rc) {
                return rc;
            }
        }
        off += 2 + len;
    }
    return RD_OK;
}

int
store__reg_unindex(struct store *st, MDB_txn *txn, uint64_t counter, const struct store__rec *rec)
{
    unsigned char k[STORE_NAME_KEY_MAX];
    MDB_val key = { 0, k };
    MDB_val val = { 0, NULL };
    int rc;

    key.mv_size = name_key(k, rec->d, rec->d_len, rec->ep, rec->ep_len);
    rc = mdb_get(txn, st->names, &key, &val);
    if (rc == MDB_SUCCESS) {
        /* Only drop the name if it still names this registration. */
        if (val.mv_size == STORE_KEY_SIZE &&
            store__get_be(val.mv_data, STORE_KEY_SIZE) == counter) {
            rc = store__from_mdb(st, mdb_del(txn, st->names, &key, NULL), "delete name");
            if (rc) {
                return rc;
            }
        }
    } else if (rc != MDB_NOTFOUND) {
        return store__from_mdb(st, rc, "get name");
    }
    rc = store__counts_rec(st, txn, counter, rec->weights != NULL, rec->nlinks, -1);
    return rc ? rc : terms_del(st, txn, counter, rec);
}

int
store__reg_index(struct store *st, MDB_txn *txn, uint64_t counter, const struct store__rec *rec,
                 int append)
{
    unsigned char k[STORE_NAME_KEY_MAX];
    unsigned char c[STORE_KEY_SIZE];
    MDB_val key = { 0, k };
    MDB_val val = { sizeof(c), c };
    size_t off = 0;
    int rc;

    rc = txn == st->batch_txn ? store__append_flush(st, txn) : RD_OK;
    if (rc) {
        return rc;
    }
    store__put_be(c, counter, sizeof(c));
    key.mv_size = name_key(k, rec->d, rec->d_len, rec->ep, rec->ep_len);
    rc = store__from_mdb(st, mdb_put(txn, st->names, &key, &val, 0), "put name");
    if (rc) {
        return rc;
    }
    rc = store__expiry_add(st, txn, rec->expires_at, counter);
    if (!rc) {
        rc = store__counts_rec(st, txn, counter, rec->weights != NULL, rec->nlinks, 1);
    }
    if (rc) {
        return rc;
    }
    for (uint32_t i = 0; i < rec->nterms; i++) {
        size_t len;

        if (rec->terms_len - off < 2) {
            return store__fail(st, "corrupt registration record: terms truncated");
        }
        len = (size_t)store__get_be(rec->terms + off, 2);
        if (len == 0 || len > STORE_TERM_MAX || len > rec->terms_len - off - 2) {
            return store__fail(st, "corrupt registration record: term of %zu bytes", len);
        }
        key.mv_size = len;
        key.mv_data = (void *)(uintptr_t)(rec->terms + off + 2);
        rc = mdb_put(txn, st->terms, &key, &val, MDB_NODUPDATA | (append ? MDB_APPENDDUP : 0));
        /* A term listed twice is one entry; a refused append (an entry was there before the
         * rebuild reached it) is retried in its sorted place. */
        if (rc == MDB_KEYEXIST && append) {
            rc = mdb_put(txn, st->terms, &key, &val, MDB_NODUPDATA);
        }
        if (rc != MDB_KEYEXIST) {
            rc = store__from_mdb(st, rc, "put term");
            if (!rc && rec->weights) {
                uint32_t eps;
                uint32_t links;

                store__rec_weight(rec, i, &eps, &links);
                rc = store__counts_term(st, txn, key.mv_data, key.mv_size, counter, eps, links, 1);
            }
            if (rc) {
                return rc;
            }
        }
        off += 2 + len;
    }
    return RD_OK;
}

/* Write the record of @p counter and its expiry entry, and its term entries unless the
 * replaced record had the very same ones (@p keep_terms). @p is_new: a counter just taken,
 * larger than every other. */
static int
reg_write(struct store *st, MDB_txn *txn, uint64_t counter, const struct store_reg *reg,
          const struct reg_shape *shape, int keep_terms, int is_new)
{
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { shape->size, NULL };
    int rc;

    store__put_be(k, counter, sizeof(k));
    /* MDB_RESERVE hands back the space in the page, so the record is encoded in place with no
     * buffer of our own. It must be filled before the next write in this transaction. */
    rc = store__from_mdb(
        st, mdb_put(txn, st->regs, &key, &val, MDB_RESERVE | (is_new ? MDB_APPEND : 0)),
        "put registration");
    if (rc) {
        return rc;
    }
    rec_encode(val.mv_data, reg, shape);
    rc = store__expiry_add(st, txn, reg->expires_at, counter);
    if (rc || keep_terms) {
        return rc;
    }
    rc = store__counts_rec(st, txn, counter, reg->weighed, reg->nlinks, 1);
    return rc ? rc : terms_add(st, txn, counter, reg, is_new);
}

/* The stored value of the record of @p counter. @return RD_OK; RD_ENOTFOUND; RD_ESTORE. */
static int
rec_value(struct store *st, MDB_txn *txn, uint64_t counter, MDB_val *val)
{
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    int rc;

    store__put_be(k, counter, sizeof(k));
    rc = mdb_get(txn, st->regs, &key, val);
    if (rc == MDB_NOTFOUND) {
        return RD_ENOTFOUND;
    }
    return store__from_mdb(st, rc, "get registration");
}

/* Read the record of @p counter in a write transaction, into @p rec.
 *
 * The pointers stay valid until the record itself is written: the record's pages were
 * committed by an earlier transaction, so they do not change while this one writes other
 * databases. */
static int
rec_get(struct store *st, MDB_txn *txn, uint64_t counter, struct store__rec *rec)
{
    MDB_val val = { 0, NULL };
    int rc = rec_value(st, txn, counter, &val);

    return rc ? rc : store__rec_decode(st, &val, rec);
}

/* The counter that the names key @p nkey maps to, or RD_ENOTFOUND. */
static int
name_get(struct store *st, MDB_txn *txn, MDB_val *nkey, uint64_t *counter)
{
    MDB_val val = { 0, NULL };
    int rc;

    rc = mdb_get(txn, st->names, nkey, &val);
    if (rc == MDB_NOTFOUND) {
        return RD_ENOTFOUND;
    }
    rc = store__from_mdb(st, rc, "get name");
    if (rc) {
        return rc;
    }
    if (val.mv_size != STORE_KEY_SIZE) {
        return store__fail(st, "corrupt name entry (%zu bytes)", val.mv_size);
    }
    *counter = store__get_be(val.mv_data, STORE_KEY_SIZE);
    return RD_OK;
}

/* Give the name @p nkey to a new counter. */
static int
name_take(struct store *st, MDB_txn *txn, MDB_val *nkey, uint64_t *counter)
{
    unsigned char c[STORE_KEY_SIZE];
    MDB_val val = { sizeof(c), c };
    uint64_t next = 0;
    int rc;

    rc = store__id_next(st, txn, &next);
    if (rc) {
        return rc;
    }
    store__put_be(c, next, sizeof(c));
    rc = store__from_mdb(st, mdb_put(txn, st->names, nkey, &val, 0), "put name");
    if (rc) {
        return rc;
    }
    *counter = next;
    return RD_OK;
}

/* Whether @p old lists exactly the terms of @p reg, in order, with the same weights. A refresh
 * of the lifetime (the most frequent write of a directory) then rewrites no index entry. */
static int
terms_equal(const struct store__rec *old, const struct store_reg *reg)
{
    size_t off = 0;

    if (old->nterms != reg->nterms || (old->weights != NULL) != (reg->weighed != 0)) {
        return 0;
    }
    if (reg->weighed && old->nlinks != reg->nlinks) {
        return 0;
    }
    for (uint32_t i = 0; reg->weighed && i < old->nterms; i++) {
        uint32_t eps;
        uint32_t links;

        store__rec_weight(old, i, &eps, &links);
        if (eps != reg->terms[i].eps || links != reg->terms[i].links) {
            return 0;
        }
    }
    for (size_t i = 0; i < reg->nterms; i++) {
        size_t len;

        if (old->terms_len - off < 2) {
            return 0;
        }
        len = (size_t)store__get_be(old->terms + off, 2);
        if (len != reg->terms[i].len || len > old->terms_len - off - 2 ||
            memcmp(old->terms + off + 2, reg->terms[i].data, len) != 0) {
            return 0;
        }
        off += 2 + len;
    }
    return 1;
}

/* Remove the expiry entry of the record being replaced, and its term entries unless
 * @p keep_terms. */
static int
unindex_old(struct store *st, MDB_txn *txn, uint64_t counter, const struct store__rec *old,
            int keep_terms)
{
    int rc = store__expiry_del(st, txn, old->expires_at, counter);

    if (rc || keep_terms) {
        return rc;
    }
    rc = store__counts_rec(st, txn, counter, old->weights != NULL, old->nlinks, -1);
    return rc ? rc : terms_del(st, txn, counter, old);
}

/* Check @p reg, point @p nkey (its mv_data a STORE_NAME_KEY_MAX buffer) at its name and begin
 * the write transaction that puts it. */
static int
put_begin(struct store *st, const struct store_reg *reg, struct reg_shape *shape, MDB_val *nkey,
          MDB_txn **txn)
{
    int rc = check_reg(st, reg, shape);

    if (rc) {
        return rc;
    }
    nkey->mv_size =
        name_key(nkey->mv_data, reg->d ? reg->d : "", shape->d_len, reg->ep, shape->ep_len);
    return store__write_open(st, txn, write_extra(reg, shape));
}

/* Write the record of @p counter with its index entries, the staged journal event, and
 * commit. */
static int
put_finish(struct store *st, MDB_txn *txn, uint64_t counter, const struct store_reg *reg,
           const struct reg_shape *shape, int keep_terms, int is_new)
{
    int rc = reg_write(st, txn, counter, reg, shape, keep_terms, is_new);

    return rc ? rc : store__journal_staged(st, txn, counter);
}

int
store_reg_put(struct store *st, const struct store_reg *reg, uint64_t *id, int *created)
{
    MDB_txn *txn = NULL;
    struct reg_shape shape;
    struct store__rec old;
    unsigned char nk[STORE_NAME_KEY_MAX];
    MDB_val nkey = { 0, nk };
    uint64_t counter = 0;
    int is_new = 0;
    int keep_terms = 0;
    int changed = 0;
    int rc;

    rc = put_begin(st, reg, &shape, &nkey, &txn);
    if (rc) {
        goto out;
    }
    rc = name_get(st, txn, &nkey, &counter);
    if (rc == RD_OK) {
        rc = rec_get(st, txn, counter, &old);
        if (rc == RD_OK) {
            keep_terms = terms_equal(&old, reg);
            changed = 1;
            rc = unindex_old(st, txn, counter, &old, keep_terms);
        }
        /* RD_ENOTFOUND here means the name outlived its record (the sweep collects records it
         * cannot decode): the put then makes a new registration and takes the name over. */
    }
    if (rc == RD_ENOTFOUND) {
        changed = 1;
        rc = name_take(st, txn, &nkey, &counter);
        is_new = 1;
    }
    if (!rc) {
        rc = put_finish(st, txn, counter, reg, &shape, keep_terms, is_new);
    }
    rc = store__write_close(st, &txn, rc, changed);
out:
    store__journal_unstage(st);
    if (!rc) {
        *id = store__id_from_counter(st, counter);
        *created = is_new;
    }
    return rc;
}

int
store_reg_replace(struct store *st, uint64_t id, const struct store_reg *reg)
{
    MDB_txn *txn = NULL;
    struct reg_shape shape;
    struct store__rec old;
    uint64_t counter = 0;
    int keep_terms;
    int changed = 0;
    int rc;

    rc = check_reg(st, reg, &shape);
    if (rc) {
        goto out;
    }
    rc = store__id_to_counter(st, id, &counter);
    if (rc) {
        goto out;
    }
    rc = store__write_open(st, &txn, write_extra(reg, &shape));
    if (rc) {
        goto out;
    }
    rc = rec_get(st, txn, counter, &old);
    if (!rc && (old.ep_len != shape.ep_len || old.d_len != shape.d_len ||
                memcmp(old.ep, reg->ep, shape.ep_len) != 0 ||
                (shape.d_len && memcmp(old.d, reg->d, shape.d_len) != 0))) {
        snprintf(st->errmsg, sizeof(st->errmsg), "replace: ep or d differ from the stored ones");
        rc = RD_ECONFLICT;
    }
    if (!rc) {
        keep_terms = terms_equal(&old, reg);
        changed = 1;
        rc = unindex_old(st, txn, counter, &old, keep_terms);
    }
    if (!rc) {
        rc = reg_write(st, txn, counter, reg, &shape, keep_terms, 0);
    }
    if (!rc) {
        rc = store__journal_staged(st, txn, counter);
    }
    rc = store__write_close(st, &txn, rc, changed);
out:
    store__journal_unstage(st);
    return rc;
}

/* Whether @p term is among the terms of @p rec. */
static int
rec_has_term(const struct store__rec *rec, const struct store_term *term)
{
    size_t off = 0;

    for (uint32_t i = 0; i < rec->nterms && rec->terms_len - off >= 2; i++) {
        size_t len = (size_t)store__get_be(rec->terms + off, 2);

        if (len > rec->terms_len - off - 2) {
            return 0;
        }
        if (len == term->len && memcmp(rec->terms + off + 2, term->data, len) == 0) {
            return 1;
        }
        off += 2 + len;
    }
    return 0;
}

int
store_reg_touch(struct store *st, uint64_t id, int64_t expires_at, const struct store_term *term)
{
    MDB_txn *txn = NULL;
    struct store__rec old;
    unsigned char k[STORE_KEY_SIZE];
    unsigned char small[1024];
    unsigned char *copy = small;
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    uint64_t counter = 0;
    size_t size;
    int changed = 0;
    int rc;

    rc = store__id_to_counter(st, id, &counter);
    if (rc) {
        goto out;
    }
    rc = store__write_open(st, &txn, 0);
    if (rc) {
        goto out;
    }
    rc = rec_get(st, txn, counter, &old);
    if (!rc && term && !rec_has_term(&old, term)) {
        rc = RD_ECONFLICT;
    }
    if (rc || old.expires_at == expires_at) {
        goto out;
    }
    changed = 1;
    rc = store__expiry_del(st, txn, old.expires_at, counter);
    if (!rc) {
        rc = store__expiry_add(st, txn, expires_at, counter);
    }
    if (rc) {
        goto out;
    }
    /* The record's bytes live in a page this transaction is about to copy: take them first,
     * then write them back with the new deadline in the header. */
    rc = rec_value(st, txn, counter, &val);
    if (rc) {
        goto out;
    }
    store__put_be(k, counter, sizeof(k));
    size = val.mv_size;
    if (size > sizeof(small) && !(copy = malloc(size))) {
        rc = RD_ENOMEM;
        goto out;
    }
    memcpy(copy, val.mv_data, size);
    store__put_be(copy + STORE_REC_DEADLINE_AT, (uint64_t)expires_at, 8);
    val.mv_size = size;
    val.mv_data = copy;
    rc = store__from_mdb(st, mdb_put(txn, st->regs, &key, &val, 0), "put registration");
    if (!rc) {
        rc = store__journal_staged(st, txn, counter);
    }
out:
    /* A touch that changes nothing commits nothing (it may still take a batch's). */
    rc = store__write_close(st, &txn, rc, changed);
    store__journal_unstage(st);
    if (copy != small) {
        free(copy);
    }
    return rc;
}

/* Encode into @p buf the record of @p reg (its names, deadline and data) with the terms and
 * weights of @p old, which @p shape sizes. */
static void
rec_encode_kept(unsigned char *buf, const struct store_reg *reg, const struct store__rec *old,
                const struct reg_shape *shape)
{
    unsigned char *p = rec_encode_head(buf, reg, shape, old->weights != NULL, old->nterms);

    memcpy(p, old->terms, old->terms_len);
    p += old->terms_len;
    if (old->weights) {
        memcpy(p, old->weights, shape->weights_len);
        p += shape->weights_len;
    }
    if (reg->data_len) {
        memcpy(p, reg->data, reg->data_len);
    }
}

int
store_reg_rewrite(struct store *st, uint64_t id, const struct store_reg *reg,
                  const struct store_term *require)
{
    struct store_reg bare;
    struct reg_shape shape;
    struct store__rec old;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    MDB_txn *txn = NULL;
    unsigned char *buf = NULL;
    uint64_t counter = 0;
    int changed = 0;
    int rc;

    if (!reg) {
        return invalid(st, "registration");
    }
    bare = *reg;
    bare.terms = NULL;
    bare.nterms = 0;
    bare.weighed = 0;
    rc = check_reg(st, &bare, &shape);
    if (!rc) {
        rc = store__id_to_counter(st, id, &counter);
    }
    if (!rc) {
        rc = store__write_open(st, &txn, write_extra(&bare, &shape));
    }
    if (rc) {
        goto out;
    }
    rc = rec_get(st, txn, counter, &old);
    if (!rc && (old.ep_len != shape.ep_len || old.d_len != shape.d_len ||
                memcmp(old.ep, reg->ep, shape.ep_len) != 0 ||
                (shape.d_len && memcmp(old.d, reg->d, shape.d_len) != 0) ||
                !old.weights || (require && !rec_has_term(&old, require)))) {
        /* A record without weights gets them from a full replace. */
        snprintf(st->errmsg, sizeof(st->errmsg), "rewrite: other ep, d or terms, or no weights");
        rc = RD_ECONFLICT;
    }
    if (!rc) {
        /* The kept terms and weights go into the record's size. */
        shape.terms_len = old.terms_len;
        shape.weights_len = old.weights ? 4 + 8 * (size_t)old.nterms : 0;
        shape.size += shape.terms_len + shape.weights_len;
        if (shape.size > STORE_REC_MAX_SIZE) {
            rc = invalid(st, "data (too large)");
        }
    }
    if (!rc) {
        /* Encoded aside: the old bytes live in the page the put rewrites. */
        buf = malloc(shape.size);
        rc = buf ? RD_OK : RD_ENOMEM;
    }
    if (!rc) {
        rec_encode_kept(buf, reg, &old, &shape);
        changed = 1;
        rc = store__expiry_del(st, txn, old.expires_at, counter);
    }
    if (!rc) {
        rc = store__expiry_add(st, txn, reg->expires_at, counter);
    }
    if (!rc) {
        store__put_be(k, counter, sizeof(k));
        val.mv_size = shape.size;
        val.mv_data = buf;
        rc = store__from_mdb(st, mdb_put(txn, st->regs, &key, &val, 0), "put registration");
    }
    if (!rc) {
        rc = store__journal_staged(st, txn, counter);
    }
    rc = store__write_close(st, &txn, rc, changed);
out:
    store__journal_unstage(st);
    free(buf);
    return rc;
}

int
store_reg_delete(struct store *st, uint64_t id)
{
    MDB_txn *txn = NULL;
    struct store__rec old;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    uint64_t counter = 0;
    int changed = 0;
    int rc;

    rc = store__id_to_counter(st, id, &counter);
    if (rc) {
        goto out;
    }
    rc = store__write_open(st, &txn, 0);
    if (rc) {
        goto out;
    }
    rc = rec_get(st, txn, counter, &old);
    if (!rc) {
        changed = 1;
        rc = store__reg_unindex(st, txn, counter, &old);
    }
    if (!rc) {
        rc = store__expiry_del(st, txn, old.expires_at, counter);
    }
    if (!rc) {
        store__put_be(k, counter, sizeof(k));
        rc = store__from_mdb(st, mdb_del(txn, st->regs, &key, NULL), "delete registration");
    }
    if (!rc) {
        rc = store__journal_staged(st, txn, counter);
    }
    rc = store__write_close(st, &txn, rc, changed);
out:
    store__journal_unstage(st);
    return rc;
}

/* What visit() did with a registration. */
enum visit_seen {
    STORE_SEEN_MISSING, /* no such record */
    STORE_SEEN_HIDDEN,  /* expired, not handed over */
    STORE_SEEN_HANDED,  /* handed to the callback */
};

/* Hand the record @p val of @p counter to @p fn when it is live (or @p show_expired). */
static int
visit(struct store *st, uint64_t counter, const MDB_val *val, int64_t now, int show_expired,
      store_reg_fn fn, void *arg, enum visit_seen *seen)
{
    struct store__rec rec;
    struct store_reg view;
    int rc;

    *seen = STORE_SEEN_MISSING;
    rc = store__rec_decode(st, val, &rec);
    if (rc) {
        return rc;
    }
    /* A registration is gone at its deadline, whether or not the sweep has collected it. */
    if (rec.expires_at <= now && !show_expired) {
        *seen = STORE_SEEN_HIDDEN;
        return RD_OK;
    }
    memset(&view, 0, sizeof(view));
    view.id = store__id_from_counter(st, counter);
    view.ep = rec.ep;
    view.d = rec.d;
    view.expires_at = rec.expires_at;
    view.data = rec.data;
    view.data_len = rec.data_len;
    *seen = STORE_SEEN_HANDED;
    return fn(arg, &view);
}

/* Look up and hand over the record of @p counter within the read @p txn. */
static int
visit_counter(struct store *st, MDB_txn *txn, uint64_t counter, int64_t now, int show_expired,
              store_reg_fn fn, void *arg, enum visit_seen *seen)
{
    MDB_val val = { 0, NULL };
    int rc;

    *seen = STORE_SEEN_MISSING;
    rc = rec_value(st, txn, counter, &val);
    if (rc == RD_ENOTFOUND) {
        return RD_OK;
    }
    return rc ? rc : visit(st, counter, &val, now, show_expired, fn, arg, seen);
}

int
store_reg_get(struct store *st, uint64_t id, int64_t now, unsigned flags, store_reg_fn fn,
              void *arg)
{
    MDB_txn *txn = NULL;
    uint64_t counter = 0;
    enum visit_seen seen = STORE_SEEN_MISSING;
    int rc;

    rc = store__id_to_counter(st, id, &counter);
    if (rc) {
        return rc;
    }
    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = visit_counter(st, txn, counter, now, (flags & STORE_GET_EXPIRED) != 0, fn, arg, &seen);
    if (rc == RD_OK && seen != STORE_SEEN_HANDED) {
        rc = RD_ENOTFOUND;
    }
    store__read_end(st, txn);
    return rc;
}

int
store_reg_find(struct store *st, const char *d, const char *ep, int64_t now, store_reg_fn fn,
               void *arg)
{
    MDB_txn *txn = NULL;
    unsigned char nk[STORE_NAME_KEY_MAX];
    MDB_val nkey = { 0, nk };
    uint64_t counter = 0;
    size_t ep_len;
    size_t d_len;
    enum visit_seen seen = STORE_SEEN_MISSING;
    int rc;

    if (name_len(ep, 1, &ep_len)) {
        return invalid(st, "ep");
    }
    if (!d) {
        d = "";
    }
    if (name_len(d, 0, &d_len)) {
        return invalid(st, "d");
    }
    nkey.mv_size = name_key(nk, d, d_len, ep, ep_len);
    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = name_get(st, txn, &nkey, &counter);
    if (rc) {
        goto out;
    }
    rc = visit_counter(st, txn, counter, now, 0, fn, arg, &seen);
    if (rc == RD_OK && seen != STORE_SEEN_HANDED) {
        rc = RD_ENOTFOUND;
    }
out:
    store__read_end(st, txn);
    return rc;
}

int
store_reg_foreach(struct store *st, int64_t now, uint64_t after, store_reg_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    MDB_val val = { 0, NULL };
    MDB_cursor_op op = MDB_FIRST;
    uint64_t start = 0;
    enum visit_seen seen;
    int rc;

    if (after) {
        /* An id no registration can have has nothing after it. */
        if (store__id_to_counter(st, after, &start)) {
            return RD_OK;
        }
        /* Counters are never reused, so paging resumes at the right place even when the
         * registration @p after has gone meanwhile. */
        store__put_be(k, start + 1, sizeof(k));
        op = MDB_SET_RANGE;
    }
    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__read_cursor(st, txn, st->regs, &cur);
    if (rc) {
        goto out;
    }
    for (;;) {
        rc = mdb_cursor_get(cur, &key, &val, op);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "iterate registrations");
        if (rc) {
            break;
        }
        op = MDB_NEXT;
        if (key.mv_size != STORE_KEY_SIZE) {
            rc = store__fail(st, "corrupt registration key (%zu bytes)", key.mv_size);
            break;
        }
        rc = visit(st, store__get_be(key.mv_data, STORE_KEY_SIZE), &val, now, 0, fn, arg, &seen);
        if (rc) {
            break;
        }
    }
out:
    store__read_cursor_close(st, cur);
    store__read_end(st, txn);
    return rc;
}

/* Walk the term index from @p key onwards while keys begin with @p prefix; @p op is how the
 * cursor reaches its first entry (@p val already set for MDB_GET_BOTH_RANGE), @p next how it
 * moves on (MDB_NEXT_DUP keeps to one term). */
/* Put @p cur on the entry @p key / @p val (a term and a counter) or, when it has gone, on the
 * first entry after it; for terms_walk(), which then reads it with MDB_GET_CURRENT. */
static int
seek_entry(MDB_cursor *cur, MDB_val *key, MDB_val *val)
{
    MDB_val term = *key;
    int rc = mdb_cursor_get(cur, key, val, MDB_GET_BOTH_RANGE);

    if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* No counter from there on under that term, or no such term: the next term. */
    *key = term;
    rc = mdb_cursor_get(cur, key, val, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && key->mv_size == term.mv_size &&
        memcmp(key->mv_data, term.mv_data, term.mv_size) == 0) {
        rc = mdb_cursor_get(cur, key, val, MDB_NEXT_NODUP);
    }
    return rc;
}

_Static_assert(sizeof(((struct store_term_pos *)0)->term) >= STORE_TERM_MAX,
               "a walk position holds any term");

/* With @p at, where the walk stands is written there before each registration is handed over. */
static void
note_position(struct store *st, struct store_term_pos *at, const MDB_val *key, uint64_t counter)
{
    if (at && key->mv_size <= sizeof(at->term)) {
        memcpy(at->term, key->mv_data, key->mv_size);
        at->len = key->mv_size;
        at->id = store__id_from_counter(st, counter);
    }
}

static int
terms_walk(struct store *st, const void *prefix, size_t prefix_len, MDB_val *key, MDB_val *val,
           MDB_cursor_op op, MDB_cursor_op next, int64_t now, store_reg_fn fn, void *arg,
           struct store_term_pos *at)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    enum visit_seen seen;
    int rc;

    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__read_cursor(st, txn, st->terms, &cur);
    if (rc) {
        goto out;
    }
    if (op == MDB_GET_CURRENT) {
        rc = seek_entry(cur, key, val);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            goto out;
        }
        rc = store__from_mdb(st, rc, "seek term");
        if (rc) {
            goto out;
        }
    }
    for (;;) {
        /* MDB_NEXT walks the counters of one term, in order, before moving to the next term. */
        rc = mdb_cursor_get(cur, key, val, op);
        if (rc == MDB_NOTFOUND) {
            rc = RD_OK;
            break;
        }
        rc = store__from_mdb(st, rc, "iterate terms");
        if (rc) {
            break;
        }
        op = next;
        if (key->mv_size < prefix_len || memcmp(key->mv_data, prefix, prefix_len) != 0) {
            break;
        }
        if (val->mv_size != STORE_KEY_SIZE) {
            rc = store__fail(st, "corrupt term entry (%zu bytes)", val->mv_size);
            break;
        }
        note_position(st, at, key, store__get_be(val->mv_data, STORE_KEY_SIZE));
        rc = visit_counter(st, txn, store__get_be(val->mv_data, STORE_KEY_SIZE), now, 0, fn, arg,
                           &seen);
        /* Each change updates a record and its terms together, so a term without its record
         * (STORE_SEEN_MISSING) cannot happen short of damage; skipping it keeps lookups working. */
        if (rc) {
            break;
        }
    }
out:
    store__read_cursor_close(st, cur);
    store__read_end(st, txn);
    return rc;
}

int
store_term_foreach(struct store *st, const void *prefix, size_t prefix_len, int64_t now,
                   store_reg_fn fn, void *arg)
{
    MDB_val key = { prefix_len, (void *)(uintptr_t)prefix };
    MDB_val val = { 0, NULL };

    if (!prefix && prefix_len) {
        return invalid(st, "term prefix");
    }
    /* No term is longer than STORE_TERM_MAX, so a longer prefix begins none. */
    if (prefix_len > STORE_TERM_MAX) {
        return RD_OK;
    }
    return terms_walk(st, prefix, prefix_len, &key, &val, prefix_len ? MDB_SET_RANGE : MDB_FIRST,
                      MDB_NEXT, now, fn, arg, NULL);
}

int
store_term_foreach_from(struct store *st, const void *prefix, size_t prefix_len,
                        const struct store_term_pos *from, struct store_term_pos *at,
                        int64_t now, store_reg_fn fn, void *arg)
{
    unsigned char c[STORE_KEY_SIZE];
    uint64_t counter = 0;
    MDB_val key = { prefix_len, (void *)(uintptr_t)prefix };
    MDB_val val = { 0, NULL };

    if (!from) {
        if (!prefix && prefix_len) {
            return invalid(st, "term prefix");
        }
        if (prefix_len > STORE_TERM_MAX) {
            return RD_OK;
        }
        return terms_walk(st, prefix, prefix_len, &key, &val,
                          prefix_len ? MDB_SET_RANGE : MDB_FIRST, MDB_NEXT, now, fn, arg, at);
    }
    if ((!prefix && prefix_len) || prefix_len > STORE_TERM_MAX || from->len == 0 ||
        from->len > STORE_TERM_MAX || store__id_to_counter(st, from->id, &counter)) {
        return invalid(st, "walk position");
    }
    store__put_be(c, counter, sizeof(c));
    key.mv_size = from->len;
    key.mv_data = (void *)(uintptr_t)from->term;
    val.mv_size = sizeof(c);
    val.mv_data = c;
    /* MDB_GET_CURRENT: terms_walk() seeks the position first (seek_entry()). */
    return terms_walk(st, prefix, prefix_len, &key, &val, MDB_GET_CURRENT, MDB_NEXT, now, fn, arg,
                      at);
}

int
store_term_foreach_after(struct store *st, const void *term, size_t term_len, int64_t now,
                         uint64_t after, store_reg_fn fn, void *arg)
{
    unsigned char c[STORE_KEY_SIZE];
    MDB_val key = { term_len, (void *)(uintptr_t)term };
    MDB_val val = { sizeof(c), c };
    uint64_t start = 0;

    if (!term || term_len == 0) {
        return invalid(st, "term");
    }
    if (term_len > STORE_TERM_MAX) {
        return RD_OK;
    }
    /* An id no registration can have has nothing after it. Counters are never reused, so the
     * walk resumes at the right place even when @p after has gone meanwhile. */
    if (after && store__id_to_counter(st, after, &start)) {
        return RD_OK;
    }
    store__put_be(c, after ? start + 1 : 0, sizeof(c));
    return terms_walk(st, term, term_len, &key, &val, MDB_GET_BOTH_RANGE, MDB_NEXT_DUP, now, fn,
                      arg, NULL);
}

int
store_count(struct store *st, size_t *n)
{
    MDB_txn *txn = NULL;
    MDB_stat ms;
    int rc;

    rc = store__read_begin(st, &txn);
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_stat(txn, st->regs, &ms), "stat registrations");
    store__read_end(st, txn);
    if (!rc) {
        *n = ms.ms_entries;
    }
    return rc;
}

/* Remove the registration of @p counter, record and every index entry, in @p txn. */
static int
drop_counter(struct store *st, MDB_txn *txn, uint64_t counter)
{
    unsigned char k[STORE_KEY_SIZE];
    MDB_val key = { sizeof(k), k };
    struct store__rec old;
    int rc = rec_get(st, txn, counter, &old);

    if (rc == RD_ENOTFOUND) {
        return RD_OK;
    }
    if (!rc) {
        rc = store__reg_unindex(st, txn, counter, &old);
    }
    if (!rc) {
        rc = store__expiry_del(st, txn, old.expires_at, counter);
    }
    store__put_be(k, counter, sizeof(k));
    return rc ? rc : store__from_mdb(st, mdb_del(txn, st->regs, &key, NULL), "delete registration");
}

/* Point the name @p nkey at @p counter, and keep the next counter above it so that a later
 * store_reg_put() never takes it. */
static int
name_set(struct store *st, MDB_txn *txn, MDB_val *nkey, uint64_t counter)
{
    MDB_val key = { sizeof(STORE_META_NEXT) - 1, (void *)(uintptr_t)STORE_META_NEXT };
    MDB_val val = { 0, NULL };
    unsigned char c[STORE_KEY_SIZE];
    int rc;

    store__put_be(c, counter, sizeof(c));
    val.mv_size = sizeof(c);
    val.mv_data = c;
    rc = store__from_mdb(st, mdb_put(txn, st->names, nkey, &val, 0), "put name");
    if (rc) {
        return rc;
    }
    rc = store__from_mdb(st, mdb_get(txn, st->meta, &key, &val), "get next counter");
    if (rc || val.mv_size != STORE_KEY_SIZE ||
        store__get_be(val.mv_data, STORE_KEY_SIZE) > counter) {
        return rc;
    }
    store__put_be(c, counter + 1, sizeof(c));
    val.mv_size = sizeof(c);
    val.mv_data = c;
    return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put next counter");
}

int
store_reg_put_at(struct store *st, uint64_t id, const struct store_reg *reg, int *created)
{
    MDB_txn *txn = NULL;
    struct reg_shape shape;
    struct store__rec old;
    unsigned char nk[STORE_NAME_KEY_MAX];
    MDB_val nkey = { 0, nk };
    uint64_t counter = 0;
    uint64_t holder = 0;
    int keep_terms = 0;
    int is_new = 0;
    int changed = 0;
    int rc;

    rc = store__id_to_counter(st, id, &counter);
    if (!rc) {
        rc = put_begin(st, reg, &shape, &nkey, &txn);
    }
    if (rc) {
        goto out;
    }
    /* Another registration under this name is an older one the caller has replaced. */
    rc = name_get(st, txn, &nkey, &holder);
    changed = 1;
    if (rc == RD_OK && holder != counter) {
        rc = drop_counter(st, txn, holder);
    } else if (rc == RD_ENOTFOUND) {
        rc = RD_OK;
    }
    if (!rc) {
        rc = rec_get(st, txn, counter, &old);
    }
    if (rc == RD_OK) {
        keep_terms = holder == counter && terms_equal(&old, reg);
        rc = keep_terms ? unindex_old(st, txn, counter, &old, 1)
                        : store__reg_unindex(st, txn, counter, &old);
        if (!rc && !keep_terms) {
            rc = store__expiry_del(st, txn, old.expires_at, counter);
        }
    } else if (rc == RD_ENOTFOUND) {
        is_new = 1;
        rc = RD_OK;
    }
    if (!rc) {
        rc = name_set(st, txn, &nkey, counter);
    }
    if (!rc) {
        rc = put_finish(st, txn, counter, reg, &shape, keep_terms, 0);
    }
    rc = store__write_close(st, &txn, rc, changed);
out:
    store__journal_unstage(st);
    if (!rc && created) {
        *created = is_new;
    }
    return rc;
}
