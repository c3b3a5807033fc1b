/* rdctl's private declarations, shared by its files. */
#ifndef RDCTL_INTERNAL_H
#define RDCTL_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

/* Exit statuses, documented in rdctl(1). */
#define RDCTL_EXIT_OK      0 /* done */
#define RDCTL_EXIT_REFUSED 1 /* the RD answered with an error (4.xx, 5.xx) */
#define RDCTL_EXIT_USAGE   2 /* bad command line */
#define RDCTL_EXIT_NET     3 /* no answer, cannot resolve, DTLS failed */
#define RDCTL_EXIT_DATA    4 /* bad data: invalid records, store problems, unreadable files */

/** What ep, res and show print. */
enum rdctl_output {
    RDCTL_OUT_DEFAULT = 0, /**< ep and res: a table; show: link-format */
    RDCTL_OUT_TABLE,
    RDCTL_OUT_LINK_FORMAT,
    RDCTL_OUT_JSON,
};

/** Options every command shares. */
struct rdctl_opts {
    const char *server;   /**< CoAP URI of the RD */
    const char *data_dir; /**< for the offline commands */
    const char *psk_id;   /**< coaps:// with a pre-shared key */
    const char *psk_key;
    int json;                 /**< output == RDCTL_OUT_JSON */
    enum rdctl_output output; /**< -o / --output / --json */
    unsigned timeout_s;
    unsigned page_size;
    const char *http_url;   /**< events: the RD's HTTP listener, "http://HOST:PORT" */
    const char *token_file; /**< events: its bearer token (else RDCTL_TOKEN) */
    long long since;        /**< events: resume after this event id; -1: from now */
};

/** rdctl events [FILTER...]: follow the change feed, at most @p max events (0: no limit) and
 * o->timeout_s seconds (0: no limit). @return an exit status. */
int rdctl_events(const struct rdctl_opts *o, unsigned max, int argc, char **argv);

/** rdctl export|import|backup|check: run command @p cmd. @return an exit status. */
int rdctl_offline(const struct rdctl_opts *o, const char *cmd, int argc, char **argv);

/** Read all of @p path ("-": stdin) into a new NUL-terminated buffer (free it).
 * @return 0 or -1 with errno. */
int rdctl_read_file(const char *path, char **out, size_t *len);

/** A table of strings, printed with column widths fitted to a line length. */
struct rdctl_table {
    const char *const *headers; /**< ncols of them, borrowed for the table's life */
    size_t ncols;
    char **cells; /**< nrows * ncols, row-major, owned */
    size_t nrows;
    size_t cap; /**< rows allocated */
};

/** Start an empty table with @p ncols columns named @p headers (borrowed). */
void rdctl_table_init(struct rdctl_table *t, const char *const *headers, size_t ncols);

/** Append a row: copies of @p cells (ncols of them; NULL or "" shows as "-", control
 * characters as '?'). @return 0 or -1 when out of memory (the table is unchanged). */
int rdctl_table_add(struct rdctl_table *t, const char *const *cells);

/** One cell, owned by @p t until it changes or is cleaned up. */
const char *rdctl_table_get(const struct rdctl_table *t, size_t row, size_t col);

/** Replace a cell with a copy of @p value. @return 0 or -1 when out of memory (unchanged). */
int rdctl_table_set(struct rdctl_table *t, size_t row, size_t col, const char *value);

/**
 * Print the header and the rows, columns two blanks apart. With @p limit (0: none), the widest
 * columns are narrowed until a line fits, values cut with an ellipsis, none below six columns.
 * @return 0 or -1 when out of memory (nothing printed).
 */
int rdctl_table_print(const struct rdctl_table *t, FILE *out, size_t limit);

/** Release the table's rows. Accepts a zeroed struct. */
void rdctl_table_cleanup(struct rdctl_table *t);

/** The line length to fit: COLUMNS if set, else the terminal's width if stdout is one, else 0
 * (no limit: output to a pipe or a file is never cut). */
size_t rdctl_terminal_width(void);

#endif
