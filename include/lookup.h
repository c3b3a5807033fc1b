/* Pure RD data handling: link-format (RFC 6690), RFC 9176 query parameters, the registration
 * record codec. No I/O, no clock, no globals: everything here can be unit-tested and fuzzed. */
#ifndef LOOKUP_H
#define LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "rd_status.h"

/** Longest endpoint name or sector, in bytes (RFC 9176 section 9.3, "Unicode*"). */
#define LOOKUP_NAME_MAX 63
/** Default registration lifetime in seconds (RFC 9176 section 5). */
#define LOOKUP_LT_DEFAULT 90000u
/** Size of a diagnostic buffer that always fits a whole lookup_* diagnostic. */
#define LOOKUP_DIAG_SIZE 128

/* ---------------------------------------------------------------------------------------- */
/* Growable output buffer with a cap                                                         */

/** A byte buffer that grows up to @c max bytes. The caller owns the struct; data is owned by
 * the buffer until lookup_buf_cleanup(). */
struct lookup_buf {
    char *data; /**< NUL-terminated after every successful append (not counted in len) */
    size_t len;
    size_t cap;
    size_t max; /**< appends that would pass this many bytes fail with RD_ETOOBIG */
};

/** Start an empty buffer that may grow to @p max bytes. Allocates nothing. */
void lookup_buf_init(struct lookup_buf *b, size_t max);

/** Release the buffer's memory and empty it. Accepts a zeroed struct. */
void lookup_buf_cleanup(struct lookup_buf *b);

/**
 * Append @p len bytes.
 *
 * @return RD_OK; RD_ETOOBIG (buffer unchanged); RD_ENOMEM.
 */
int lookup_buf_append(struct lookup_buf *b, const void *data, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* Link-format (RFC 6690)                                                                    */

/** One target attribute (link-param) of a link, in the order the device sent it. */
struct lookup_attr {
    const char *name;     /**< NUL-terminated, as sent (filters compare it case-insensitively) */
    const char *value;    /**< NUL-terminated and unescaped; NULL when sent without a value */
    unsigned char quoted; /**< the value was sent as a quoted-string */
};

/** One link. */
struct lookup_link {
    const char *target; /**< the URI-reference between '<' and '>', as sent */
    const struct lookup_attr *attrs;
    size_t nattrs;
};

/** A parsed link-format document. Owns all strings and arrays it points to. */
struct lookup_links {
    struct lookup_link *links;
    size_t nlinks;
    void *mem; /**< private: the single allocation behind everything above */
};

/**
 * Parse an RFC 6690 link-format document strictly: quoted strings with backslash escapes,
 * parameters with and without values, repeated parameters, any URI-reference as target.
 * Rejects NUL bytes, control characters outside quoted strings, invalid UTF-8, empty documents
 * other than the empty string (which yields zero links), and trailing garbage.
 *
 * @param out       Written on success only; release with lookup_links_cleanup().
 * @param max_links More links than this fail with RD_ETOOBIG.
 * @param diag      On RD_EINVAL, receives a short reason naming the offset (may be NULL).
 * @return RD_OK; RD_EINVAL; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup_links_parse(struct lookup_links *out, const char *s, size_t len, size_t max_links,
                       char *diag, size_t diag_size);

/** Release a parsed document. Accepts a zeroed struct. */
void lookup_links_cleanup(struct lookup_links *l);

/**
 * Check RFC 9176 section 5's "Limited Link Format": every target and every anchor is a full URI
 * (has a scheme) or path-absolute ("/x", not "//x"); an anchor may also be empty.
 *
 * @return RD_OK; RD_EINVAL with a reason in @p diag.
 */
int lookup_links_check_limited(const struct lookup_link *links, size_t nlinks, char *diag,
                               size_t diag_size);

/**
 * Append @p links to @p out as link-format, faithfully: targets, attribute order and the quoting
 * of each value as they were parsed. Values that need it are escaped.
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM. On failure @p out may hold part of the output.
 */
int lookup_links_format(const struct lookup_link *links, size_t nlinks, struct lookup_buf *out);

/* ---------------------------------------------------------------------------------------- */
/* URIs (RFC 3986)                                                                           */

/**
 * Check that @p s is an absolute URI (scheme ":" hier-part, RFC 3986 section 4.3) with an
 * authority, without query and fragment: usable as a registration base (RFC 9176 section 5).
 *
 * @return RD_OK; RD_EINVAL with a reason in @p diag.
 */
int lookup_uri_check_base(const char *s, size_t len, char *diag, size_t diag_size);

/* ---------------------------------------------------------------------------------------- */
/* Query parameters                                                                          */

/** One Uri-Query option, split at its first '='. Borrowed from the request. */
struct lookup_qparam {
    const char *key;
    size_t key_len;
    const char *value; /**< NULL when the option had no '=' */
    size_t value_len;
};

/** Split one raw Uri-Query option (not percent-decoded: CoAP options carry raw UTF-8). */
void lookup_qparam_split(struct lookup_qparam *out, const char *opt, size_t len);

/** Which registration operation the parameters are for; decides what is allowed. */
enum lookup_reg_op {
    LOOKUP_REG_CREATE = 0, /**< POST to the directory: ep required, base allowed */
    LOOKUP_REG_SIMPLE = 1, /**< POST /.well-known/rd: ep required, base refused */
    LOOKUP_REG_UPDATE = 2, /**< POST to a registration resource: ep and d refused */
};

/**
 * Parameters of a registration request. Strings are NUL-terminated copies owned by the struct
 * until lookup_regparams_cleanup().
 */
struct lookup_regparams {
    char *ep;              /**< NULL when absent */
    char *d;               /**< NULL when absent */
    char *base;            /**< NULL when absent */
    uint32_t lt;           /**< 0 when absent, else 1 to 4294967295 */
    struct lookup_attr *attrs; /**< extra endpoint attributes in request order (et repeats) */
    size_t nattrs;
    void *mem;             /**< private */
};

/**
 * Parse and validate the Uri-Query options of a registration request (RFC 9176 sections 5,
 * 5.1, 5.3.1): ep and d are UTF-8, 1 to 63 bytes, without code points 0-31 and 127-159; lt is a
 * decimal integer from 1 to 4294967295; base passes lookup_uri_check_base(); extra attribute
 * names are RFC 8288 tokens; a parameter may not repeat except extra attributes such as et;
 * page, count, href, anchor and rt are refused (they belong to lookup).
 *
 * @param out Written on success only; release with lookup_regparams_cleanup().
 * @return RD_OK; RD_EINVAL with a reason in @p diag; RD_ENOMEM.
 */
int lookup_regparams_parse(struct lookup_regparams *out, enum lookup_reg_op op,
                           const struct lookup_qparam *q, size_t nq, char *diag, size_t diag_size);

/** Release parsed parameters. Accepts a zeroed struct. */
void lookup_regparams_cleanup(struct lookup_regparams *p);

/* ---------------------------------------------------------------------------------------- */
/* The registration record                                                                   */

/**
 * What the RD keeps of a registration besides its identity (ep, d) and deadline, which the
 * store holds. All pointers are borrowed unless the struct came from lookup_reg_decode().
 */
struct lookup_reg {
    const char *base;            /**< current base URI, never NULL in a stored record */
    unsigned char base_explicit; /**< 1 when a client gave base; 0 when it is the source address */
    uint32_t lt;                 /**< the lifetime last set, seconds */
    const struct lookup_attr *attrs; /**< extra endpoint attributes, in order */
    size_t nattrs;
    const struct lookup_link *links;
    size_t nlinks;
    void *mem; /**< private: set by lookup_reg_decode() */
};

/**
 * Encode @p reg compactly into @p out (appended).
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup_reg_encode(const struct lookup_reg *reg, struct lookup_buf *out);

/**
 * Decode a record made by lookup_reg_encode(). Checks every length: any byte string is either
 * decoded or refused.
 *
 * @param out Written on success only; owns its memory until lookup_reg_cleanup().
 * @return RD_OK; RD_EINVAL (corrupt record); RD_ENOMEM.
 */
int lookup_reg_decode(struct lookup_reg *out, const void *data, size_t len);

/** Release a decoded record. Accepts a zeroed struct. */
void lookup_reg_cleanup(struct lookup_reg *reg);

/**
 * Merge an update's extra attributes into a registration's (RFC 9176 section 5.3.1): every
 * attribute name present in @p upd replaces all old values of that name; others stay, in order.
 *
 * @param out  Written with a new array whose strings are borrowed from the inputs; release it
 *             with lookup_attrs_free().
 * @return RD_OK; RD_ENOMEM.
 */
int lookup_attrs_merge(const struct lookup_attr *old, size_t nold, const struct lookup_attr *upd,
                       size_t nupd, struct lookup_attr **out, size_t *nout);

/** Release an array made by lookup_attrs_merge(). Accepts NULL. */
void lookup_attrs_free(struct lookup_attr *attrs);

#endif
