/* Helpers shared by the files of lookup/: diagnostics, UTF-8 and token character classes. */
#ifndef LOOKUP_INTERNAL_H
#define LOOKUP_INTERNAL_H

#include <stddef.h>

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

/** Whether @p c is an RFC 7230 tchar (the characters of an RFC 8288 parameter name). */
int lookup__is_tchar(unsigned char c);

#endif
