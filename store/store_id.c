/* Registration ids: a persistent counter, shown as a keyed 40-bit permutation of it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "store_internal.h"

#define STORE_ID_HALF_BITS 20
#define STORE_ID_HALF_MASK ((UINT64_C(1) << STORE_ID_HALF_BITS) - 1)
#define STORE_ID_ROUNDS    4

static uint64_t
splitmix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t
round_fn(uint64_t secret, unsigned round, uint64_t half)
{
    uint64_t key = splitmix64(secret ^ ((uint64_t)(round + 1) * UINT64_C(0x9e3779b97f4a7c15)));

    return splitmix64(key ^ half) & STORE_ID_HALF_MASK;
}

/* A balanced Feistel network is a permutation whatever the round function, so distinct
 * counters always get distinct ids, and running the rounds backwards recovers the counter. */
static uint64_t
permute(uint64_t secret, uint64_t x)
{
    uint64_t l = x >> STORE_ID_HALF_BITS;
    uint64_t r = x & STORE_ID_HALF_MASK;

    for (unsigned i = 0; i < STORE_ID_ROUNDS; i++) {
        uint64_t t = r;

        r = l ^ round_fn(secret, i, r);
        l = t;
    }
    return (l << STORE_ID_HALF_BITS) | r;
}

static uint64_t
unpermute(uint64_t secret, uint64_t y)
{
    uint64_t l = y >> STORE_ID_HALF_BITS;
    uint64_t r = y & STORE_ID_HALF_MASK;

    for (unsigned i = STORE_ID_ROUNDS; i > 0; i--) {
        uint64_t t = l;

        l = r ^ round_fn(secret, i - 1, l);
        r = t;
    }
    return (l << STORE_ID_HALF_BITS) | r;
}

uint64_t
store__id_from_counter(const struct store *st, uint64_t counter)
{
    uint64_t id = permute(st->secret, counter);

    /* Id 0 means "none" to callers. Counter 0 is never used, so the one counter that would
     * map to 0 takes counter 0's image instead. */
    if (id == 0) {
        id = permute(st->secret, 0);
    }
    return id;
}

int
store__id_to_counter(const struct store *st, uint64_t id, uint64_t *counter)
{
    uint64_t c;

    if (id == 0 || id >= STORE_COUNTER_LIMIT) {
        return RD_ENOTFOUND;
    }
    c = unpermute(st->secret, id);
    if (c == 0) {
        c = unpermute(st->secret, 0);
    }
    if (c == 0) {
        return RD_ENOTFOUND;
    }
    *counter = c;
    return RD_OK;
}

int
store__id_next(struct store *st, MDB_txn *txn, uint64_t *counter)
{
    MDB_val key = { sizeof(STORE_META_NEXT) - 1, (void *)(uintptr_t)STORE_META_NEXT };
    MDB_val val = { 0, NULL };
    unsigned char buf[8];
    uint64_t next;
    int rc;

    rc = mdb_get(txn, st->meta, &key, &val);
    if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && val.mv_size != sizeof(buf))) {
        return store__fail(st, "next counter missing or corrupt");
    }
    rc = store__from_mdb(st, rc, "get next counter");
    if (rc) {
        return rc;
    }
    next = store__get_be(val.mv_data, sizeof(buf));
    if (next == 0) {
        return store__fail(st, "next counter corrupt (0)");
    }
    if (next >= STORE_COUNTER_LIMIT) {
        snprintf(st->errmsg, sizeof(st->errmsg), "all registration ids are used up");
        return RD_EFULL;
    }
    store__put_be(buf, next + 1, sizeof(buf));
    val.mv_size = sizeof(buf);
    val.mv_data = buf;
    rc = store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put next counter");
    if (rc) {
        return rc;
    }
    *counter = next;
    return RD_OK;
}

/* Fill @p buf from /dev/urandom. */
static int
random_bytes(struct store *st, unsigned char *buf, size_t len)
{
    size_t got = 0;
    int fd;
    int rc = RD_OK;

    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return store__fail(st, "open /dev/urandom: %s", strerror(errno));
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = store__fail(st, "read /dev/urandom: %s", n < 0 ? strerror(errno) : "end of file");
            goto out;
        }
        got += (size_t)n;
    }
out:
    close(fd);
    return rc;
}

static int
meta_put(struct store *st, MDB_txn *txn, const char *name, const unsigned char *v, size_t len)
{
    MDB_val key = { strlen(name), (void *)(uintptr_t)name };
    MDB_val val = { len, (void *)(uintptr_t)v };

    return store__from_mdb(st, mdb_put(txn, st->meta, &key, &val, 0), "put meta");
}

int
store__id_init(struct store *st, MDB_txn *txn)
{
    unsigned char secret[8];
    unsigned char version[4];
    unsigned char next[8];
    int rc;

    rc = random_bytes(st, secret, sizeof(secret));
    if (rc) {
        return rc;
    }
    store__put_be(version, STORE_SCHEMA_VERSION, sizeof(version));
    store__put_be(next, 1, sizeof(next));
    rc = meta_put(st, txn, STORE_META_SECRET, secret, sizeof(secret));
    if (!rc) {
        rc = meta_put(st, txn, STORE_META_NEXT, next, sizeof(next));
    }
    if (!rc) {
        rc = meta_put(st, txn, STORE_META_VERSION, version, sizeof(version));
    }
    if (rc) {
        return rc;
    }
    st->secret = store__get_be(secret, sizeof(secret));
    return RD_OK;
}
