/* Helpers shared by the files of lookup/: diagnostics, UTF-8 and token character classes. */
#ifndef LOOKUP_INTERNAL_H
#define LOOKUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define LOOKUP__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LOOKUP__PRINTF(fmt, args)
#endif

/**
 * Write a diagnostic into @p diag, truncating to @p size. Does nothing when @p diag is NULL or
 * @p size is 0.
 */
void lookup__diag(char *diag, size_t size, const char *fmt, ...) LOOKUP__PRINTF(3, 4);

/**
 * Length of the well-formed UTF-8 sequence at the start of @p s (1 to 4; 1 for ASCII, including
 * NUL), or 0 when it is not well-formed: truncated, overlong, a surrogate or above U+10FFFF.
 * @p len must be at least 1.
 */
size_t lookup__utf8_seq(const unsigned char *s, size_t len);

/** Whether @p c is an ASCII letter (RFC 5234 ALPHA). */
static inline int
lookup__is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/**
 * Length of the scheme at the start of the @p len bytes at @p s (RFC 3986 section 3.1: ALPHA
 * *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'), without the ':'; 0 when there is none.
 */
size_t lookup__scheme_len(const char *s, size_t len);

/** Whether @p c is an RFC 7230 tchar (the characters of an RFC 8288 parameter name). */
static inline int
lookup__is_tchar(unsigned char c)
{
    /* A bit per ASCII character, so that parameter names cost no call per byte. */
    static const uint64_t tchar[2] = {
        /* "!#$%&'*+-.", digits */
        (1ull << '!') | (1ull << '#') | (1ull << '$') | (1ull << '%') | (1ull << '&') |
            (1ull << '\'') | (1ull << '*') | (1ull << '+') | (1ull << '-') | (1ull << '.') |
            (0x3ffull << '0'),
        /* letters and "^_`|~" */
        (0x3ffffffull << ('A' - 64)) | (0x3ffffffull << ('a' - 64)) | (1ull << ('^' - 64)) |
            (1ull << ('_' - 64)) | (1ull << ('`' - 64)) | (1ull << ('|' - 64)) |
            (1ull << ('~' - 64)),
    };

    return c < 128 && (tchar[c >> 6] >> (c & 63)) & 1;
}

struct lookup_attr;
struct lookup_buf;

/**
 * Make room in @p b for @p len more bytes and the NUL after them, as lookup_buf_append() would
 * before it copies, so that a caller may write them at b->data + b->len itself.
 *
 * @return RD_OK; RD_ETOOBIG (more than b->max bytes); RD_ENOMEM. The content never changes.
 */
int lookup__buf_reserve(struct lookup_buf *b, size_t len);

/**
 * Double a full array of @p cap elements of @p size bytes at @p arr, which is either @p local
 * (the caller's, on its stack, left as it is) or a heap array from an earlier call (moved).
 *
 * @return The array of 2 * @p cap elements, owned by the caller, the first @p cap copied; NULL
 *         when out of memory, @p arr unchanged.
 */
void *lookup__grow(void *arr, size_t cap, size_t size, const void *local);

/**
 * Append @p v as an RFC 6690 quoted-string, escaping '"' and '\\'.
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup__append_quoted(struct lookup_buf *out, const char *v);

/**
 * Append `;name[=value]`, quoting the value when it was sent quoted or is not a ptoken.
 *
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM.
 */
int lookup__format_attr(const struct lookup_attr *a, struct lookup_buf *out);

/** Whether the @p len bytes at @p name equal the lower-case ASCII @p lit, ignoring ASCII case
 * (RFC 8288 section 3: parameter names are case-insensitive). */
int lookup__name_is(const char *name, size_t len, const char *lit);

/* 1 when criterion @p c is an rt filter that the link of an endpoint lookup answer satisfies
 * (it carries rt=core.rd-ep, RFC 9176 section 6.3): every registration matches it there. */
struct lookup_crit;
int lookup__crit_names_ep_link(const struct lookup_crit *c);

struct lookup_regview;

/** What lookup_match_ep() (0 or 1, into @p eps) and lookup_match_res() over every link (how many,
 * into @p links) find for a query of the one criterion @p c. */
void lookup__crit_weights(const struct lookup_crit *c, const struct lookup_regview *r, uint32_t *eps,
                          uint32_t *links);

/** The names of index terms (lookup_reg_terms()): the attribute names with terms, in the order
 * lookup_query_index() prefers them, then the owner's. */
enum lookup__term_name {
    LOOKUP__TN_EP,
    LOOKUP__TN_D,
    LOOKUP__TN_ET,
    LOOKUP__TN_IF,
    LOOKUP__TN_RT,
    LOOKUP__TN_OWNER,
    LOOKUP__TN_NONE, /**< any other name */
};

/** Which term name @p name spells up to the first @p end ('\0' for an attribute, '=' in a
 * term), ignoring ASCII case (RFC 8288 section 3); LOOKUP__TN_NONE for any other. */
enum lookup__term_name lookup__term_name(const char *name, char end);

/** The lower-case spelling of @p n, which is not LOOKUP__TN_NONE: a static string. */
const char *lookup__term_name_str(enum lookup__term_name n);

/** Whether an attribute named @p name holds space-separated values: rt, if, rel, ct. */
int lookup__is_multi(const char *name);

/**
 * Step through the values of a multi-valued attribute: the runs of non-space bytes of @p v, or
 * @p v itself when it has none (empty or only spaces). Start with *pos at 0.
 *
 * @return 1 with the next value in @p tok and @p tok_len; 0 when there is none left.
 */
int lookup__next_token(const char *v, size_t len, size_t *pos, const char **tok, size_t *tok_len);

#endif
