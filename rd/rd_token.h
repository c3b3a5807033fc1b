/* Bearer tokens of the HTTP listener (RFC 6750): the token file, its reload on SIGHUP and the
 * check of an Authorization header. */
#ifndef RD_TOKEN_H
#define RD_TOKEN_H

#include <stddef.h>

struct rd_server;
struct rd_conf;

/** The tokens accepted, as SHA-256 digests. Owned by the server (srv->tokens). */
struct rd_tokens;

/** Longest token accepted, in bytes. */
#define RD_TOKEN_MAX 512

/**
 * Parse a token file: one token per line (RFC 6750 b64token characters), blank lines and lines
 * starting with '#' ignored, spaces around a token ignored. At least one token is required.
 *
 * @param out Receives a new set, to free with rd__tokens_free(); written on success only.
 * @param err Receives "NAME:LINE: reason" on RD_EINVAL.
 * @return RD_OK; RD_EINVAL; RD_ENOMEM.
 */
int rd__tokens_parse(const char *buf, size_t len, const char *name, struct rd_tokens **out,
                     char *err, size_t err_size);

/** Number of tokens in @p t. */
size_t rd__tokens_count(const struct rd_tokens *t);

/** Release @p t. Accepts NULL. */
void rd__tokens_free(struct rd_tokens *t);

/**
 * Whether @p header (an Authorization header's value, borrowed; NULL when absent) carries one
 * of the tokens of @p t. The comparison takes the same time whichever token matched, and
 * however much of one did.
 *
 * @return 1 when it does, else 0.
 */
int rd__tokens_accept(const struct rd_tokens *t, const char *header);

/** Load http_token_file, when set, into srv->tokens (logged). @return RD_OK; RD_EINVAL;
 * RD_ENOMEM. */
int rd__token_init(struct rd_server *srv);

/** On SIGHUP: read the token file of @p conf again; on an error the tokens stay as they were
 * (logged). A token file set or unset only by the reload takes effect at restart. */
void rd__token_reload(struct rd_server *srv, const struct rd_conf *conf);

/** Release srv->tokens. */
void rd__token_cleanup(struct rd_server *srv);

#endif
