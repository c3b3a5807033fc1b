/* What rd_keyfiles.c offers the rest of rd/: the PSK file and the identity map as tables. The
 * caller owns each table it loads and frees it with the matching free function. */
#ifndef RD_KEYFILES_H
#define RD_KEYFILES_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd_dtls.h"

struct rd_server;

/** Longest PSK identity: libcoap and OpenSSL take identities of up to 128 bytes. */
#define RD_PSK_IDENTITY_MAX 128
/** Longest key of a PSK file line. */
#define RD_PSK_KEY_MAX 64
/** Longest ep or d pattern of an identity map line. */
#define RD_MAP_PATTERN_MAX LOOKUP_NAME_MAX

struct psk_entry {
    char identity[RD_PSK_IDENTITY_MAX + 1];
    uint8_t key[RD_PSK_KEY_MAX];
    coap_bin_const_t bin; /* points into key; what the identity callback returns */
};

struct rd_psk_table {
    struct psk_entry *entries;
    size_t n;
};

struct map_entry {
    char identity[RD_IDENTITY_SIZE];
    char ep[RD_MAP_PATTERN_MAX + 2]; /* a pattern: exact, or a prefix followed by '*' */
    char d[RD_MAP_PATTERN_MAX + 2];  /* "" when the line gave none: any sector */
};

struct rd_map_table {
    struct map_entry *entries;
    size_t n;
};

/**
 * Read the PSK file @p path (`identity key` lines; bad lines are logged and skipped, a
 * repeated identity keeps its first key) into @p out. Logs a warning when the file is
 * readable by every user.
 * @return RD_OK; RD_EINVAL (unreadable or too large, logged); RD_ENOMEM.
 */
int rd__psk_load(const struct rd_server *srv, const char *path, struct rd_psk_table *out);

/** The key of @p identity (@p len bytes), pointing into @p t; NULL when it has none. */
const coap_bin_const_t *rd__psk_key(const struct rd_psk_table *t, const char *identity,
                                    size_t len);

/** Wipe the keys and free the table; it is empty afterwards. */
void rd__psk_free(struct rd_psk_table *t);

/**
 * Read the identity map @p path (`identity ep-pattern [d-pattern]` lines, a pattern exact or
 * a prefix and '*'; bad lines are logged and skipped) into @p out.
 * @return RD_OK; RD_EINVAL (unreadable or too large, logged); RD_ENOMEM.
 */
int rd__map_load(const struct rd_server *srv, const char *path, struct rd_map_table *out);

/** @return 1 when a line of @p t lets @p identity register (@p d, @p ep); 0 otherwise. */
int rd__map_allows(const struct rd_map_table *t, const char *identity, const char *ep,
                   const char *d);

/** Free the table; it is empty afterwards. */
void rd__map_free(struct rd_map_table *t);

#endif
