/* rdctl's human output: lookup results (RFC 9176 section 6) as a table fitted to the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "rdctl_internal.h"

/* Columns never shrink below this (or their header, if narrower), so each stays legible. */
#define COL_MIN 6
/* Blanks between columns. */
#define COL_GAP 2

void
rdctl_table_init(struct rdctl_table *t, const char *const *headers, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->headers = headers;
    t->ncols = ncols;
}

void
rdctl_table_cleanup(struct rdctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* A copy of @p s safe to print on a terminal: a device's attribute could carry escape
 * sequences, so control characters become '?'. An empty cell shows "-", so that every row has
 * as many words as the header for awk and cut. */
static char *
sanitized(const char *s)
{
    char *copy = strdup(s && *s ? s : "-");

    for (char *p = copy; p && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    return copy;
}

int
rdctl_table_add(struct rdctl_table *t, const char *const *cells)
{
    size_t row = t->nrows;

    if (row == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **bigger = realloc(t->cells, cap * t->ncols * sizeof(*bigger));

        if (!bigger) {
            return -1;
        }
        t->cells = bigger;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        t->cells[row * t->ncols + c] = sanitized(cells[c]);
        if (!t->cells[row * t->ncols + c]) {
            for (size_t k = 0; k < c; k++) {
                free(t->cells[row * t->ncols + k]);
            }
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

const char *
rdctl_table_get(const struct rdctl_table *t, size_t row, size_t col)
{
    return t->cells[row * t->ncols + col];
}

int
rdctl_table_set(struct rdctl_table *t, size_t row, size_t col, const char *value)
{
    char *copy = sanitized(value);

    if (!copy) {
        return -1;
    }
    free(t->cells[row * t->ncols + col]);
    t->cells[row * t->ncols + col] = copy;
    return 0;
}

size_t
rdctl_terminal_width(void)
{
    const char *env = getenv("COLUMNS");
    struct winsize ws;

    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);

        if (!*end && v > 0 && v < 100000) {
            return (size_t)v;
        }
    }
    /* Output to a file or a pipe is for scripts: nothing is cut. */
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 0;
}

/* Characters on screen: UTF-8 continuation bytes take no column (wide characters are
 * counted as one, a known simplification). */
static size_t
display_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return n;
}

/* The ellipsis: one column either way, "…" where the locale says UTF-8. */
static const char *
ellipsis(void)
{
    const char *vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);

        if (v && *v) {
            return strstr(v, "UTF-8") || strstr(v, "utf8") || strstr(v, "UTF8") ||
                           strstr(v, "utf-8")
                       ? "\xe2\x80\xa6"
                       : "~";
        }
    }
    return "~";
}

/* Print @p s in @p width columns: cut with an ellipsis when longer, padded unless @p last. */
static void
print_cell(FILE *out, const char *s, size_t width, int last, const char *ell)
{
    size_t w = display_width(s);

    if (w > width) {
        size_t keep = width ? width - 1 : 0;
        const char *p = s;

        /* Keep whole characters: stop before the lead byte of character number keep. */
        for (size_t n = 0; *p; p++) {
            if (((unsigned char)*p & 0xc0) != 0x80) {
                if (n == keep) {
                    break;
                }
                n++;
            }
        }
        fwrite(s, 1, (size_t)(p - s), out);
        fputs(width ? ell : "", out);
        w = width;
    } else {
        fputs(s, out);
    }
    if (!last) {
        for (size_t i = w; i < width + COL_GAP; i++) {
            fputc(' ', out);
        }
    }
}

int
rdctl_table_print(const struct rdctl_table *t, FILE *out, size_t limit)
{
    size_t *width = calloc(t->ncols, sizeof(*width));
    size_t *min = calloc(t->ncols, sizeof(*min));
    const char *ell = ellipsis();
    size_t total = 0;

    if (!width || !min) {
        free(width);
        free(min);
        return -1;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = display_width(t->headers[c]);
        min[c] = width[c] > COL_MIN ? width[c] : COL_MIN;
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = display_width(rdctl_table_get(t, r, c));

            width[c] = w > width[c] ? w : width[c];
        }
        min[c] = min[c] < width[c] ? min[c] : width[c];
        total += width[c] + (c ? COL_GAP : 0);
    }
    /* Too wide: take a column at a time from the widest, so short columns stay whole and the
     * long values (bases, attribute lists) give way first. Past every minimum, lines wrap. */
    while (limit && total > limit) {
        size_t widest = t->ncols;

        for (size_t c = 0; c < t->ncols; c++) {
            if (width[c] > min[c] && (widest == t->ncols || width[c] > width[widest])) {
                widest = c;
            }
        }
        if (widest == t->ncols) {
            break;
        }
        width[widest]--;
        total--;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        print_cell(out, t->headers[c], width[c], c + 1 == t->ncols, ell);
    }
    fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            print_cell(out, rdctl_table_get(t, r, c), width[c], c + 1 == t->ncols, ell);
        }
        fputc('\n', out);
    }
    free(width);
    free(min);
    return 0;
}
