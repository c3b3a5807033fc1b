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
 * Rejects NUL bytes, control characters outside quoted strings, invalid UTF-8, empty links and
 * trailing garbage. An empty (or all-whitespace) document yields zero links.
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
 * (has a scheme) or path-absolute ("/x", not "//x"); an anchor may also be empty. Both must be
 * URI-references in RFC 3986's syntax (ASCII, whole pct-encoded triplets, '[' ']' only in an
 * authority, one '#'), and a link has one anchor at most.
 *
 * @return RD_OK; RD_EINVAL with a reason in @p diag.
 */
int lookup_links_check_limited(const struct lookup_link *links, size_t nlinks, char *diag,
                               size_t diag_size);

/**
 * Bring a document fetched from @p doc_uri (an RFC 6690 discovery document, whose relative
 * references are relative to @p doc_uri, RFC 6690 section 2.1) to RFC 9176 section 5's Limited
 * Link Format, as simple registration needs (section 5.1): every target and every non-empty
 * anchor is resolved against @p doc_uri, then written path-absolute when it stays on
 * @p doc_uri's scheme and authority, else as the full URI. Attributes keep their order.
 *
 * @param out Receives the links as link-format (appended).
 * @return RD_OK; RD_EINVAL (@p doc_uri has no scheme); RD_ETOOBIG (a resolved reference longer
 *         than LOOKUP_URI_MAX, or @p out full); RD_ENOMEM.
 */
int lookup_links_to_limited(const struct lookup_links *in, const char *doc_uri,
                            struct lookup_buf *out);

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

/**
 * Whether the host of the URI @p uri (scheme://host...) is a link-local address: an IPv6
 * literal in fe80::/10 or an IPv4 address in 169.254.0.0/16 (RFC 9176 sections 5 and 6.1:
 * such a base is meaningful on one link only).
 *
 * @return 1 or 0; 0 for anything that is not a URI with such a host.
 */
int lookup_uri_is_link_local(const char *uri);

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
    char *ep;                  /**< NULL when absent */
    char *d;                   /**< NULL when absent */
    char *base;                /**< NULL when absent */
    uint32_t lt;               /**< 0 when absent, else 1 to 4294967295 */
    struct lookup_attr *attrs; /**< extra endpoint attributes in request order (et repeats) */
    size_t nattrs;
    void *mem; /**< private */
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
    const char *owner; /**< security identity that created it ("psk:..", "x509:..", "none");
                            NULL in records written before identities were kept, read as "none" */
    uint32_t scope;    /**< with a link-local base: the interface index of its link; else 0 */
    const struct lookup_attr *attrs; /**< extra endpoint attributes, in order */
    size_t nattrs;
    const struct lookup_link *links;
    size_t nlinks;
    void *mem; /**< private: set by lookup_reg_decode() */
};

/** The fields of a registration record that a refresh needs, read in place. */
struct lookup_reg_head {
    const char *base; /**< base_len bytes inside the record, not NUL-terminated */
    size_t base_len;
    const char *owner; /**< owner_len bytes inside the record; NULL in records without owner */
    size_t owner_len;
    unsigned char base_explicit;
    uint32_t lt;
    uint32_t scope;
};

/**
 * Read the head of a record made by lookup_reg_encode() (lifetime, base, link of a link-local
 * base, owner) without decoding its links: a lifetime refresh needs no more.
 *
 * @param out Points into @p data; valid while @p data is.
 * @return RD_OK; RD_EINVAL for a record that is not one.
 */
int lookup_reg_head(const void *data, size_t len, struct lookup_reg_head *out);

/**
 * Write into @p out (appended) the record @p data with its base replaced by @p base, an implicit
 * one (taken from the device's address), everything after the base copied as it is: what an
 * update from a new address changes, without decoding the links. The record's base must not be
 * link-local (its link is kept as it is).
 *
 * @return RD_OK; RD_EINVAL (corrupt record, or one with a link-local scope); RD_ENOMEM.
 */
int lookup_reg_rebase(const void *data, size_t len, const char *base, struct lookup_buf *out);

/** Longest owner identity a record keeps, in bytes. */
#define LOOKUP_OWNER_MAX 200

/**
 * Encode @p reg compactly into @p out (appended). A record without owner is written in the first
 * record version, so records made before owners existed decode and re-encode unchanged.
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

/* ---------------------------------------------------------------------------------------- */
/* Lookup (RFC 9176 section 6)                                                               */

/** Most search criteria in one lookup. */
#define LOOKUP_CRIT_MAX 32
/** Longest resolved URI (target, anchor, href) a lookup handles; longer ones never match. */
#define LOOKUP_URI_MAX 1024

/** One search criterion `name[=value[*]]`. Borrowed from the request's Uri-Query options. */
struct lookup_crit {
    const char *name;
    size_t name_len;
    const char *value;    /**< NULL: the attribute must only be present */
    size_t value_len;     /**< without the trailing '*' of a prefix match */
    unsigned char prefix; /**< the value ended in '*': prefix match (RFC 6690 section 4.1) */
};

/** A parsed lookup query. Points into the Uri-Query options it was parsed from. */
struct lookup_query {
    uint32_t page;  /**< zero-based page; 0 when absent */
    uint32_t count; /**< links per page; valid when has_count */
    unsigned char has_count;
    struct lookup_crit crit[LOOKUP_CRIT_MAX];
    size_t ncrit;
};

/**
 * Parse the Uri-Query options of a lookup (RFC 9176 section 6.2): `page` and `count` are
 * decimal integers (0 to 4294967295; `page` only together with `count`), every other parameter
 * is a search criterion; a value ending in '*' is a prefix match; a parameter without '=' (or
 * with an empty value followed by '*') only asks for presence.
 *
 * @param out Written on success only.
 * @return RD_OK; RD_EINVAL with a reason in @p diag (bad page or count, page without count,
 *         repeated page or count, empty name, too many criteria).
 */
int lookup_query_parse(struct lookup_query *out, const struct lookup_qparam *q, size_t nq,
                       char *diag, size_t diag_size);

/**
 * A registration as lookups see it. All borrowed.
 */
struct lookup_regview {
    const char *ep;
    const char *d;                /**< "" when the registration has no sector */
    const char *href;             /**< its registration resource, path-absolute: "/rd/4f2kq9xa" */
    const struct lookup_reg *rec; /**< base, lt, extra attributes and links */
};

/**
 * Resolve @p ref against @p base (RFC 3986 section 5.2, with remove_dot_segments). An absolute
 * @p ref comes back unchanged (but for dot segments); an empty one gives the base without its
 * fragment.
 *
 * @return RD_OK; RD_ETOOBIG when the result needs more than @p size bytes with its NUL;
 *         RD_EINVAL when @p base has no scheme.
 */
int lookup_uri_resolve(const char *base, const char *ref, char *out, size_t size);

/**
 * Normalize the URI @p uri for comparison (RFC 3986 sections 6.2.2 and 6.2.3): scheme and host
 * in lower case, percent-encoded unreserved characters decoded and other triplets in upper-case
 * hex, dot segments removed, an empty or default port (coap 5683, coaps 5684, ...) left out,
 * and an empty path after an authority written "/". With @p prefix, @p uri is the start of a
 * URI: its path keeps its dot segments, nothing is added, and a port is kept unless the
 * authority ends inside @p uri.
 *
 * @return RD_OK; RD_EINVAL when @p uri has no scheme; RD_ETOOBIG when the result needs more
 *         than @p size bytes with its NUL (or its path more than LOOKUP_URI_MAX).
 */
int lookup_uri_normalize(const char *uri, int prefix, char *out, size_t size);

/**
 * Endpoint lookup (RFC 9176 section 6.2): 1 when every criterion matches the registration itself
 * (ep, d, base, lt, href, extra attributes such as et) or at least one of its links (each
 * criterion on its own); else 0.
 */
int lookup_match_ep(const struct lookup_query *q, const struct lookup_regview *r);

/**
 * Resource lookup (RFC 9176 section 6.2): 1 when every criterion matches link @p i itself (its
 * attributes; `href` against its resolved target, `anchor` against its resolved anchor) or its
 * registration; else 0.
 */
int lookup_match_res(const struct lookup_query *q, const struct lookup_regview *r, size_t i);

/** The two lookups of RFC 9176 section 6. */
enum lookup_kind {
    LOOKUP_KIND_EP = 0,  /**< endpoint lookup: one link per registration */
    LOOKUP_KIND_RES = 1, /**< resource lookup: one link per matching link */
};

/**
 * Whether one registration changing from @p before to @p after can change the answer of lookup
 * @p q of @p kind (RFC 7641 observers of a lookup): only when it contributed to the answer
 * before or contributes now (for endpoint lookup, it matched; for resource lookup, one of its
 * links matched). Paging makes no difference: a contributing registration can move every page
 * after it, which the answer's own comparison (its ETag) then decides.
 *
 * @param before The registration as lookups saw it, or NULL when it was not visible.
 * @param after  The registration as lookups see it now, or NULL when it is gone.
 * @return 1 when the answer may have changed, else 0.
 */
int lookup_change_affects(const struct lookup_query *q, enum lookup_kind kind,
                          const struct lookup_regview *before, const struct lookup_regview *after);

/**
 * RFC 6690 section 4.1 filtering of a server's own /.well-known/core: 1 when every criterion
 * matches an attribute of @p l (with the same value rules as lookups), `href` comparing with the
 * target as written; else 0.
 */
int lookup_match_link(const struct lookup_query *q, const struct lookup_link *l);

/**
 * Append the endpoint-lookup link of a registration (RFC 9176 section 6.4):
 * `</rd/4f2kq9xa>;ep="node1";d="s";base="coap://[2001:db8::1]";<extra attributes>;rt=core.rd-ep`.
 * Never shows lt. No separator is written: the caller puts ',' between links.
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup_format_ep(const struct lookup_regview *r, struct lookup_buf *out);

/**
 * Append link @p i of a registration as resource-lookup output (RFC 9176 section 6.1): the same
 * attributes, the target resolved against the registration's base, `anchor` resolved if and
 * only if the link has one. No separator is written.
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup_format_res(const struct lookup_regview *r, size_t i, struct lookup_buf *out);

/** One index term: `name=value` followed by a NUL byte, so a prefix scan without the NUL finds
 * prefix matches and one with it finds exact matches. */
struct lookup_term {
    const char *data;
    size_t len; /**< including the final NUL */
};

/** The index terms of a registration. Owns its memory until lookup_terms_cleanup(). */
struct lookup_terms {
    struct lookup_term *terms;
    size_t nterms;
    /** The weights of each term, as lookup_terms_weigh() gives them: made in the same pass
     * (lookup_reg_terms()), so a registration is not walked twice. */
    uint32_t *eps;
    uint32_t *links;
    void *mem; /**< private */
};

/**
 * The index terms of a registration, sorted and without duplicates: `ep=`, `d=` (when it has a
 * sector), `owner=` (when it has an owner other than "none"; see lookup_owner_term()) and every
 * value of `et`, `rt` and `if` found in its extra attributes or in any link
 * (`rt` and `if` split into their space-separated tokens). Values longer than 255 bytes are not
 * indexed (a lookup on them falls back to a scan). With each term, its weights (`eps`, `links`)
 * as lookup_terms_weigh() would give them.
 *
 * @param out Written on success only.
 * @return RD_OK; RD_ENOMEM.
 */
int lookup_reg_terms(const char *ep, const char *d, const struct lookup_reg *rec,
                     struct lookup_terms *out);

/** Release terms. Accepts a zeroed struct. */
void lookup_terms_cleanup(struct lookup_terms *t);

/**
 * How much a lookup of exactly the term @p t (the query `name=value` and nothing else) finds in
 * the registration @p r: what the store counts to page through that lookup without walking.
 *
 * @param eps   Written with 1 when an endpoint lookup of it matches @p r, else 0.
 * @param links Written with the number of links of @p r that a resource lookup of it matches.
 *              A term that is not `name=value` plus a NUL gets 0 and 0.
 */
void lookup_term_weights(const struct lookup_regview *r, const struct lookup_term *t, uint32_t *eps,
                         uint32_t *links);

/**
 * lookup_term_weights() of each of the @p nterms terms at @p terms, into @p eps[k] and
 * @p links[k], in one pass over the registration's attributes when the terms are what
 * lookup_reg_terms() makes (sorted, without duplicates, lower-case index names, values of 1 to
 * 255 bytes); other terms are weighed one by one. Allocates nothing.
 */
void lookup_terms_weigh(const struct lookup_regview *r, const struct lookup_term *terms,
                        size_t nterms, uint32_t *eps, uint32_t *links);

/**
 * The exact index term of the owner @p owner, which lookup_reg_terms() gives every registration
 * with that owner (but none with owner "none"): a scan for it counts one identity's
 * registrations.
 *
 * @param len Written with the term length, its final NUL included.
 * @return RD_OK; RD_EINVAL for "none", an empty owner or one longer than 255 bytes;
 *         RD_ETOOBIG when @p size is too small.
 */
int lookup_owner_term(const char *owner, char *out, size_t size, size_t *len);

/**
 * Choose the criterion of @p q that an index scan can answer (one on ep, d, et, rt or if with a
 * non-empty value, preferring exact values and then ep, d, et, if, rt), and write the term
 * prefix to scan into @p out: `name=value` plus a NUL byte for an exact value, without the NUL
 * for a prefix match. Every registration matching @p q has a term starting with that prefix.
 *
 * @param len Written with the prefix length.
 * @return RD_OK; RD_ENOTFOUND when no criterion can use the index (scan everything);
 *         RD_ETOOBIG when the prefix needs more than @p size bytes (scan everything).
 */
int lookup_query_index(const struct lookup_query *q, char *out, size_t size, size_t *len);

/** lookup_query_index() for endpoint lookup, where an rt criterion that rt=core.rd-ep satisfies
 * matches every registration and so cannot use the index. */
int lookup_query_index_ep(const struct lookup_query *q, char *out, size_t size, size_t *len);

#endif
