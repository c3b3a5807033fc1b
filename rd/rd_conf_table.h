/* The table of configuration directives: what each one is, where it lives in struct rd_conf,
 * its default, range and help. The parser, the defaults and the checks of the sample
 * configuration and the README all read this one table. */
#ifndef RD_CONF_TABLE_H
#define RD_CONF_TABLE_H

#include <stddef.h>
#include <stdint.h>

/** How a directive's value is written and stored. */
enum rd_conf_type {
    RD_CONF_UINT,   /**< decimal in [min, max], times scale, into a uint32_t or a 64-bit field */
    RD_CONF_FLAG,   /**< on or off, into an int */
    RD_CONF_ENUM,   /**< one of names[], storing values[] into an int-sized field */
    RD_CONF_STRING, /**< any text, into an owned char * */
    RD_CONF_PATH,   /**< a file or directory name, into an owned char * (NULL when unset) */
    RD_CONF_LIST,   /**< repeatable: an owned copy appended to a char *[max] with a count */
};

/**
 * Check (and possibly rewrite) a value before it is stored.
 *
 * @param value In: the value as written; out: the value to store (a static string or the input).
 * @return RD_OK; RD_EINVAL with a message naming the directive in @p err.
 */
typedef int (*rd_conf_check_fn)(const char *key, const char **value, char *err, size_t err_size);

/** One directive. Every field is constant; the table lives for the whole program. */
struct rd_conf_directive {
    const char *name;
    enum rd_conf_type type;
    size_t offset;            /**< of the field in struct rd_conf */
    size_t size;              /**< of that field, in bytes */
    size_t count_offset;      /**< RD_CONF_LIST: of its size_t count in struct rd_conf */
    uint64_t min;             /**< RD_CONF_UINT: smallest value as written */
    uint64_t max;             /**< RD_CONF_UINT: largest value as written; RD_CONF_LIST: entries */
    uint64_t scale;           /**< RD_CONF_UINT: stored value = written value * scale */
    const char *unit;         /**< RD_CONF_UINT: what the number counts, as error messages say it;
                                   RD_CONF_LIST: what "at most N" counts ("" for nothing) */
    const char *const *names; /**< RD_CONF_ENUM: accepted words, NULL-terminated */
    const int *values;        /**< RD_CONF_ENUM: what each word stores */
    const char *expected;     /**< RD_CONF_ENUM: "a, b or c" for the error message; NULL gives
                                   `unexpected "VALUE"` instead */
    int nocase;               /**< RD_CONF_ENUM: words match in any case */
    rd_conf_check_fn check;   /**< NULL, or run on the value before it is stored */
    const char *def;          /**< default applied by rd_conf_init(); NULL: none (empty list,
                                   unset path) */
    const char *sample;       /**< the value conf/core-rd.conf shows, commented out: def, or an
                                   example when def is NULL */
    int reload;               /**< SIGHUP applies it to the running server */
    const char *help;         /**< one line */
};

/** The directives, in the order of conf/core-rd.conf. */
extern const struct rd_conf_directive rd_conf_directives[];

/** Number of entries of rd_conf_directives. */
extern const size_t rd_conf_ndirectives;

/** The directive named @p name, or NULL. The pointer is into the static table. */
const struct rd_conf_directive *rd_conf_directive_find(const char *name);

#endif
