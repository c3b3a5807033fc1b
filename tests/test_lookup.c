/* Unit tests for lookup/: link-format (RFC 6690 section 2), registration and lookup (RFC 9176). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lookup.h"

#define MAX_LINKS 64
/* Parses a string literal, NUL bytes inside it included. */
#define PARSE_RC(lit) parse_rc(lit, sizeof(lit) - 1)

/* RFC 6690 section 5, as printed there: line breaks after ',' and before one ';'. */
static const char rfc6690_example[] =
    "</sensors>;ct=40;title=\"Sensor Index\",\n"
    "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\",\n"
    "</sensors/light>;rt=\"light-lux\";if=\"sensor\",\n"
    "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\"\n"
    ";rel=\"describedby\",\n"
    "</t>;anchor=\"/sensors/temp\";rel=\"alternate\"";

/* RFC 9176 section 5, the registration payloads. */
static const char rfc9176_reg[] = "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
                                  "</sensors/light>;rt=\"light-lux\";if=\"sensor\"";
static const char rfc9176_anchor[] =
    "<http://www.example.com/sensors/temp>;anchor=\"/sensors/temp\";rel=\"describedby\"";

/* What an LwM2M 1.1 client registers. */
static const char lwm2m_reg[] = "</>;rt=\"oma.lwm2m\";ct=11543,</1/0>,</3/0>,</3303/0>";

static int
parse(struct lookup_links *l, const char *s, size_t max_links, char *diag)
{
    return lookup_links_parse(l, s, strlen(s), max_links, diag, diag ? LOOKUP_DIAG_SIZE : 0);
}

static int
parse_rc(const char *s, size_t len)
{
    struct lookup_links l = { NULL, 0, NULL };
    int rc = lookup_links_parse(&l, s, len, MAX_LINKS, NULL, 0);

    lookup_links_cleanup(&l);
    return rc;
}

static void
assert_attr(const struct lookup_attr *a, const char *name, const char *value, int quoted)
{
    assert_string_equal(a->name, name);
    if (value) {
        assert_non_null(a->value);
        assert_string_equal(a->value, value);
    } else {
        assert_null(a->value);
    }
    assert_int_equal(a->quoted, quoted);
}

static int
attrs_equal(const struct lookup_attr *a, size_t na, const struct lookup_attr *b, size_t nb)
{
    if (na != nb) {
        return 0;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || a[i].quoted != b[i].quoted) {
            return 0;
        }
        if (!a[i].value != !b[i].value) {
            return 0;
        }
        if (a[i].value && strcmp(a[i].value, b[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}

static int
links_equal(const struct lookup_link *a, size_t na, const struct lookup_link *b, size_t nb)
{
    if (na != nb) {
        return 0;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].target, b[i].target) != 0 ||
            !attrs_equal(a[i].attrs, a[i].nattrs, b[i].attrs, b[i].nattrs)) {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_buf                                                                                */

static void
test_buf_append_grows_and_terminates(void **state)
{
    struct lookup_buf b;
    char big[1000];

    (void)state;
    memset(big, 'x', sizeof(big));
    lookup_buf_init(&b, 4096);
    assert_null(b.data);
    assert_int_equal(lookup_buf_append(&b, "abc", 3), RD_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(lookup_buf_append(&b, big, sizeof(big)), RD_OK);
    }
    assert_int_equal(b.len, 4003);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 3, big, sizeof(big));
    lookup_buf_cleanup(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void
test_buf_append_rejects_past_max_and_keeps_buffer(void **state)
{
    struct lookup_buf b;

    (void)state;
    lookup_buf_init(&b, 5);
    assert_int_equal(lookup_buf_append(&b, "abcd", 4), RD_OK);
    assert_int_equal(lookup_buf_append(&b, "ef", 2), RD_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "abcd");
    assert_int_equal(lookup_buf_append(&b, "e", 1), RD_OK);
    assert_string_equal(b.data, "abcde");
    assert_int_equal(lookup_buf_append(&b, "f", 1), RD_ETOOBIG);
    assert_string_equal(b.data, "abcde");
    lookup_buf_cleanup(&b);
}

static void
test_buf_append_empty_gives_empty_string(void **state)
{
    struct lookup_buf b;

    (void)state;
    lookup_buf_init(&b, 0);
    assert_int_equal(lookup_buf_append(&b, NULL, 0), RD_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(lookup_buf_append(&b, "x", 1), RD_ETOOBIG);
    lookup_buf_cleanup(&b);
}

static void
test_buf_cleanup_accepts_zeroed_struct(void **state)
{
    struct lookup_buf b;

    (void)state;
    memset(&b, 0, sizeof(b));
    lookup_buf_cleanup(&b);
    lookup_buf_cleanup(NULL);
    assert_null(b.data);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_links_parse                                                                        */

static void
test_links_parse_accepts_rfc6690_example(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, rfc6690_example, MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 5);
    assert_string_equal(l.links[0].target, "/sensors");
    assert_int_equal(l.links[0].nattrs, 2);
    assert_attr(&l.links[0].attrs[0], "ct", "40", 0);
    assert_attr(&l.links[0].attrs[1], "title", "Sensor Index", 1);
    assert_string_equal(l.links[2].target, "/sensors/light");
    assert_attr(&l.links[2].attrs[0], "rt", "light-lux", 1);
    assert_string_equal(l.links[3].target, "http://www.example.com/sensors/t123");
    assert_int_equal(l.links[3].nattrs, 2);
    assert_attr(&l.links[3].attrs[0], "anchor", "/sensors/temp", 1);
    assert_attr(&l.links[3].attrs[1], "rel", "describedby", 1);
    assert_string_equal(l.links[4].target, "/t");
    assert_attr(&l.links[4].attrs[1], "rel", "alternate", 1);
    lookup_links_cleanup(&l);
    assert_null(l.mem);
    assert_int_equal(l.nlinks, 0);
}

static void
test_links_parse_accepts_rfc6690_discovery_examples(void **state)
{
    static const char *const docs[] = {
        "</sensors/temp>;if=\"sensor\",</sensors/light>;if=\"sensor\"",
        "</sensors>;ct=40",
        "</firmware/v2.1>;rt=\"firmware\";sz=262144",
    };
    static const size_t nlinks[] = { 2, 1, 1 };
    struct lookup_links l;

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        assert_int_equal(parse(&l, docs[i], MAX_LINKS, NULL), RD_OK);
        assert_int_equal(l.nlinks, nlinks[i]);
        lookup_links_cleanup(&l);
    }
    assert_int_equal(parse(&l, docs[2], MAX_LINKS, NULL), RD_OK);
    assert_attr(&l.links[0].attrs[1], "sz", "262144", 0);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_rfc9176_registration_payload(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, rfc9176_reg, MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 2);
    assert_string_equal(l.links[0].target, "/sensors/temp");
    assert_int_equal(l.links[0].nattrs, 2);
    assert_attr(&l.links[0].attrs[0], "rt", "temperature-c", 1);
    assert_attr(&l.links[0].attrs[1], "if", "sensor", 1);
    assert_string_equal(l.links[1].target, "/sensors/light");
    assert_attr(&l.links[1].attrs[0], "rt", "light-lux", 1);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_rfc9176_absolute_target_with_anchor(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, rfc9176_anchor, MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 1);
    assert_string_equal(l.links[0].target, "http://www.example.com/sensors/temp");
    assert_attr(&l.links[0].attrs[0], "anchor", "/sensors/temp", 1);
    assert_attr(&l.links[0].attrs[1], "rel", "describedby", 1);
    assert_int_equal(lookup_links_check_limited(l.links, l.nlinks, NULL, 0), RD_OK);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_lwm2m_registration(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, lwm2m_reg, MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 4);
    assert_string_equal(l.links[0].target, "/");
    assert_attr(&l.links[0].attrs[0], "rt", "oma.lwm2m", 1);
    assert_attr(&l.links[0].attrs[1], "ct", "11543", 0);
    assert_string_equal(l.links[3].target, "/3303/0");
    assert_int_equal(l.links[3].nattrs, 0);
    assert_null(l.links[3].attrs);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_keeps_utf8_target_undecoded(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l,
                           "</temperature/Malm\xc3\xb6>;title=\"\xe2\x82\xac \xf0\x9f\x8c\xa1\","
                           "</a%20b>",
                           MAX_LINKS, NULL),
                     RD_OK);
    assert_string_equal(l.links[0].target, "/temperature/Malm\xc3\xb6");
    assert_attr(&l.links[0].attrs[0], "title", "\xe2\x82\xac \xf0\x9f\x8c\xa1", 1);
    assert_string_equal(l.links[1].target, "/a%20b");
    lookup_links_cleanup(&l);
}

static void
test_links_parse_unescapes_quoted_pairs(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(
        parse(&l, "</a>;title=\"say \\\"hi\\\" \\\\ \\x\";b=\"\\\xc3\xa9\"", MAX_LINKS, NULL),
        RD_OK);
    assert_attr(&l.links[0].attrs[0], "title", "say \"hi\" \\ x", 1);
    assert_attr(&l.links[0].attrs[1], "b", "\xc3\xa9", 1);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_whitespace_around_separators(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(
        parse(&l, " \r\n\t</a> ; rt=x\t;\r\nobs ,\r\n </b>\n;ct=0 \r\n", MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 2);
    assert_int_equal(l.links[0].nattrs, 2);
    assert_attr(&l.links[0].attrs[0], "rt", "x", 0);
    assert_attr(&l.links[0].attrs[1], "obs", NULL, 0);
    assert_string_equal(l.links[1].target, "/b");
    assert_attr(&l.links[1].attrs[0], "ct", "0", 0);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_gives_no_links_for_empty_document(void **state)
{
    struct lookup_links l;

    (void)state;
    memset(&l, 0xff, sizeof(l));
    assert_int_equal(lookup_links_parse(&l, "", 0, MAX_LINKS, NULL, 0), RD_OK);
    assert_int_equal(l.nlinks, 0);
    assert_null(l.links);
    lookup_links_cleanup(&l);
    assert_int_equal(parse(&l, " \r\n\t ", MAX_LINKS, NULL), RD_OK);
    assert_int_equal(l.nlinks, 0);
    lookup_links_cleanup(&l);
    /* With no links there is nothing to exceed. */
    assert_int_equal(lookup_links_parse(&l, "", 0, 0, NULL, 0), RD_OK);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_keeps_repeated_and_valueless_params_in_order(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</s>;obs;rt=a;rt=\"b c\";if;rt=a;title*=UTF-8'de'n%c3%a4chstes",
                           MAX_LINKS, NULL),
                     RD_OK);
    assert_int_equal(l.links[0].nattrs, 6);
    assert_attr(&l.links[0].attrs[0], "obs", NULL, 0);
    assert_attr(&l.links[0].attrs[1], "rt", "a", 0);
    assert_attr(&l.links[0].attrs[2], "rt", "b c", 1);
    assert_attr(&l.links[0].attrs[3], "if", NULL, 0);
    assert_attr(&l.links[0].attrs[4], "rt", "a", 0);
    assert_attr(&l.links[0].attrs[5], "title*", "UTF-8'de'n%c3%a4chstes", 0);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_empty_target_and_empty_quoted_value(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "<>;anchor=\"\"", MAX_LINKS, NULL), RD_OK);
    assert_string_equal(l.links[0].target, "");
    assert_attr(&l.links[0].attrs[0], "anchor", "", 1);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_accepts_tab_in_quoted_string(void **state)
{
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>;t=\"x\ty\"", MAX_LINKS, NULL), RD_OK);
    assert_attr(&l.links[0].attrs[0], "t", "x\ty", 1);
    lookup_links_cleanup(&l);
}

static void
test_links_parse_rejects_more_than_max_links(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, lwm2m_reg, 4, NULL), RD_OK);
    assert_int_equal(l.nlinks, 4);
    lookup_links_cleanup(&l);
    memset(&l, 0, sizeof(l));
    assert_int_equal(parse(&l, lwm2m_reg, 3, diag), RD_ETOOBIG);
    assert_string_equal(diag, "link-format: more than 3 links");
    assert_null(l.mem);
    assert_int_equal(parse(&l, "</a>", 0, NULL), RD_ETOOBIG);
}

static void
test_links_parse_rejects_unterminated_quote(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>;rt=\"abc", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: unterminated quoted string at offset 8");
    assert_int_equal(PARSE_RC("</a>;rt=\"abc\\\""), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;rt=\"abc\\"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;rt=\""), RD_EINVAL);
}

static void
test_links_parse_rejects_unterminated_target(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>,</b", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: unterminated '<' at offset 5");
    assert_int_equal(PARSE_RC("<"), RD_EINVAL);
}

static void
test_links_parse_rejects_empty_links(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>,,</b>", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected '<' at offset 5");
    assert_int_equal(parse(&l, "</a>,", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected '<' at offset 5");
    assert_int_equal(parse(&l, "</a>, \n", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, ",</a>", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected '<' at offset 0");
    assert_int_equal(parse(&l, ",", MAX_LINKS, diag), RD_EINVAL);
}

static void
test_links_parse_rejects_trailing_garbage(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</sensors/temp>;rt=x y", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected ',' or ';' at offset 21");
    assert_int_equal(parse(&l, "</a></b>", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>x", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt=\"x\"y", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt=x\"y\"", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "/a", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected '<' at offset 0");
}

static void
test_links_parse_diag_names_offset(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</sensors/temp>, x</b>", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected '<' at offset 17");
}

static void
test_links_parse_rejects_nul_anywhere(void **state)
{
    (void)state;
    assert_int_equal(PARSE_RC("</a\0b>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;t=\"x\0\""), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;t=\"x\\\0\""), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>\0"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;t\0"), RD_EINVAL);
    assert_int_equal(PARSE_RC("\0"), RD_EINVAL);
}

static void
test_links_parse_rejects_invalid_utf8(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a\xc3>", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: invalid UTF-8 at offset 3");
    assert_int_equal(PARSE_RC("</\xc0\xaf>"), RD_EINVAL);         /* overlong '/' */
    assert_int_equal(PARSE_RC("</\xed\xa0\x80>"), RD_EINVAL);     /* surrogate */
    assert_int_equal(PARSE_RC("</\xf4\x90\x80\x80>"), RD_EINVAL); /* above U+10FFFF */
    assert_int_equal(PARSE_RC("</\xe0\x80\xaf>"), RD_EINVAL);     /* overlong 3 bytes */
    assert_int_equal(PARSE_RC("</\x80>"), RD_EINVAL);             /* lone continuation */
    assert_int_equal(PARSE_RC("</\xff>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;t=\"\xe2\x82\""), RD_EINVAL);   /* truncated */
    assert_int_equal(PARSE_RC("</a>;t=\"\\\xe2\x82\""), RD_EINVAL); /* escaped, truncated */
    assert_int_equal(PARSE_RC("</a>;t=\xc3\xa9"), RD_EINVAL);       /* not a ptoken */
    assert_int_equal(PARSE_RC("</\xf0\x9f\x8c\xa1>"), RD_OK);
}

static void
test_links_parse_rejects_control_characters(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>;t=\"x\ny\"", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: control character 0x0a in quoted string at offset 9");
    assert_int_equal(PARSE_RC("</a>;t=\"\x7f\""), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a>;t=\"\\\x01\""), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a\x01>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a\x7f>"), RD_EINVAL);
}

static void
test_links_parse_rejects_bad_target_characters(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a b>", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: invalid character 0x20 in target at offset 3");
    assert_int_equal(PARSE_RC("</a<b>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a\"b>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a\tb>"), RD_EINVAL);
    assert_int_equal(PARSE_RC("</a\nb>"), RD_EINVAL);
}

static void
test_links_parse_rejects_bad_params(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_links l;

    (void)state;
    assert_int_equal(parse(&l, "</a>;rt=", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected value at offset 8");
    assert_int_equal(parse(&l, "</a>;=x", MAX_LINKS, diag), RD_EINVAL);
    assert_string_equal(diag, "link-format: expected parameter name at offset 5");
    assert_int_equal(parse(&l, "</a>;", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;;rt=x", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt=x;", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;r(t)=x", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt=,</b>", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt=a\\b", MAX_LINKS, diag), RD_EINVAL);
    /* Whitespace is allowed around ',' and ';' only. */
    assert_int_equal(parse(&l, "</a>;rt =x", MAX_LINKS, diag), RD_EINVAL);
    assert_int_equal(parse(&l, "</a>;rt= x", MAX_LINKS, diag), RD_EINVAL);
}

static void
test_links_parse_leaves_out_untouched_on_failure(void **state)
{
    struct lookup_links l;
    struct lookup_links before;

    (void)state;
    memset(&l, 0x5a, sizeof(l));
    before = l;
    assert_int_equal(parse(&l, "</a>;rt=\"x", MAX_LINKS, NULL), RD_EINVAL);
    assert_memory_equal(&l, &before, sizeof(l));
    assert_int_equal(parse(&l, "</a>,</b>", 1, NULL), RD_ETOOBIG);
    assert_memory_equal(&l, &before, sizeof(l));
}

static void
test_links_parse_truncates_diag_to_its_buffer(void **state)
{
    char diag[8];
    struct lookup_links l;

    (void)state;
    memset(diag, 'z', sizeof(diag));
    assert_int_equal(lookup_links_parse(&l, "x", 1, MAX_LINKS, diag, sizeof(diag)), RD_EINVAL);
    assert_string_equal(diag, "link-fo");
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_links_format                                                                       */

static char *
format(const struct lookup_links *l, struct lookup_buf *b)
{
    lookup_buf_init(b, 65536);
    assert_int_equal(lookup_links_format(l->links, l->nlinks, b), RD_OK);
    return b->data;
}

static void
test_links_format_reproduces_input(void **state)
{
    static const char *const docs[] = {
        rfc9176_reg,
        rfc9176_anchor,
        lwm2m_reg,
        "</temperature/Malm\xc3\xb6>;obs;title=\"a \\\"b\\\" \\\\c\";rt=x;rt=y;ct=0",
        "<>;anchor=\"\"",
    };
    struct lookup_links l;
    struct lookup_buf b;

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        assert_int_equal(parse(&l, docs[i], MAX_LINKS, NULL), RD_OK);
        assert_string_equal(format(&l, &b), docs[i]);
        lookup_buf_cleanup(&b);
        lookup_links_cleanup(&l);
    }
}

static void
test_links_format_drops_whitespace(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;

    (void)state;
    assert_int_equal(parse(&l, rfc6690_example, MAX_LINKS, NULL), RD_OK);
    assert_string_equal(format(&l, &b),
                        "</sensors>;ct=40;title=\"Sensor Index\","
                        "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
                        "</sensors/light>;rt=\"light-lux\";if=\"sensor\","
                        "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\";"
                        "rel=\"describedby\","
                        "</t>;anchor=\"/sensors/temp\";rel=\"alternate\"");
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

static void
test_links_format_quotes_values_that_are_not_ptokens(void **state)
{
    const struct lookup_attr attrs[] = {
        { "a", "x y", 0 },   { "b", "", 0 },    { "c", "Malm\xc3\xb6", 0 }, { "d", "q\"b\\", 0 },
        { "e", "1,2;3", 0 }, { "f", "tok", 1 }, { "g", NULL, 1 },
    };
    const struct lookup_link link = { "/x", attrs, sizeof(attrs) / sizeof(attrs[0]) };
    struct lookup_links l = { NULL, 0, NULL };
    struct lookup_links again;
    struct lookup_buf b;

    (void)state;
    l.links = (struct lookup_link *)(uintptr_t)&link;
    l.nlinks = 1;
    assert_string_equal(format(&l, &b), "</x>;a=\"x y\";b=\"\";c=\"Malm\xc3\xb6\";d=\"q\\\"b\\\\\";"
                                        "e=\"1,2;3\";f=\"tok\";g");
    assert_int_equal(lookup_links_parse(&again, b.data, b.len, MAX_LINKS, NULL, 0), RD_OK);
    assert_string_equal(again.links[0].attrs[3].value, "q\"b\\");
    assert_string_equal(again.links[0].attrs[4].value, "1,2;3");
    lookup_links_cleanup(&again);
    lookup_buf_cleanup(&b);
}

static void
test_links_format_round_trips(void **state)
{
    static const char *const docs[] = {
        rfc6690_example,
        " </a> ;\tx=\"\\q\\\\\" , <coap://[2001:db8::1]/s?q=1#f>;y=<>;z=a=b",
        "</a>;t=\"x\ty\";u=\"\\\"\"",
    };
    struct lookup_links l1;
    struct lookup_links l2;
    struct lookup_buf b;

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        assert_int_equal(parse(&l1, docs[i], MAX_LINKS, NULL), RD_OK);
        format(&l1, &b);
        assert_int_equal(lookup_links_parse(&l2, b.data, b.len, MAX_LINKS, NULL, 0), RD_OK);
        assert_true(links_equal(l1.links, l1.nlinks, l2.links, l2.nlinks));
        lookup_links_cleanup(&l2);
        lookup_buf_cleanup(&b);
        lookup_links_cleanup(&l1);
    }
}

static void
test_links_format_reports_etoobig(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;

    (void)state;
    assert_int_equal(parse(&l, rfc9176_reg, MAX_LINKS, NULL), RD_OK);
    lookup_buf_init(&b, 20);
    assert_int_equal(lookup_links_format(l.links, l.nlinks, &b), RD_ETOOBIG);
    assert_true(b.len <= 20);
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, strlen(rfc9176_reg));
    assert_int_equal(lookup_links_format(l.links, l.nlinks, &b), RD_OK);
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_links_check_limited                                                                */

static int
limited_rc(const char *doc, char *diag)
{
    struct lookup_links l;
    int rc;

    assert_int_equal(parse(&l, doc, MAX_LINKS, NULL), RD_OK);
    rc = lookup_links_check_limited(l.links, l.nlinks, diag, diag ? LOOKUP_DIAG_SIZE : 0);
    lookup_links_cleanup(&l);
    return rc;
}

static void
test_links_check_limited_accepts_absolute_paths_and_full_uris(void **state)
{
    (void)state;
    assert_int_equal(limited_rc(rfc9176_reg, NULL), RD_OK);
    assert_int_equal(limited_rc(rfc9176_anchor, NULL), RD_OK);
    assert_int_equal(limited_rc(lwm2m_reg, NULL), RD_OK);
    assert_int_equal(limited_rc("</>,<coap+tcp://h/x>,<urn:uuid:1>,<a1+-.:x>", NULL), RD_OK);
    assert_int_equal(limited_rc("</a>;anchor=\"\"", NULL), RD_OK);
    assert_int_equal(limited_rc("</a>;anchor=\"coap://[2001:db8::1]/x\"", NULL), RD_OK);
    assert_int_equal(limited_rc("", NULL), RD_OK);
}

static void
test_links_check_limited_rejects_relative_targets(void **state)
{
    static const char *const docs[] = {
        "<sensors/temp>", "<//host/x>", "<../x>", "<?q>", "<#f>", "<>", "<1a:x>", "<:x>", "<a b:x>",
    };
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        if (strchr(docs[i], ' ')) {
            /* Not even link-format. */
            assert_int_equal(parse_rc(docs[i], strlen(docs[i])), RD_EINVAL);
            continue;
        }
        assert_int_equal(limited_rc(docs[i], NULL), RD_EINVAL);
    }
    assert_int_equal(limited_rc("</a>,</b>,<c>", diag), RD_EINVAL);
    assert_string_equal(diag, "limited link format: link 2: target is neither a full URI nor "
                              "path-absolute");
}

static void
test_links_check_limited_rejects_targets_that_are_not_uris(void **state)
{
    static const char *const docs[] = {
        "</s%zz>", "</s%2>",  "</s%>",    "</s\xc3\xb6>", "</s^x>",         "</s{x}>",    "</s|x>",
        "</s`x>",  "</s\\x>", "</a#b#c>", "</a[1]>",      "<coap://h/[x]>", "<urn:a%g0>",
    };
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct lookup_links l;

        if (parse(&l, docs[i], MAX_LINKS, NULL) != RD_OK) {
            continue; /* refused by the parser already */
        }
        assert_int_equal(lookup_links_check_limited(l.links, l.nlinks, NULL, 0), RD_EINVAL);
        lookup_links_cleanup(&l);
    }
    assert_int_equal(limited_rc("</a>,</s%zz>", diag), RD_EINVAL);
    assert_string_equal(diag, "link 1: target is not a URI: bad percent-encoding");
    assert_int_equal(limited_rc("</a>;anchor=\"/x y\"", diag), RD_EINVAL);
    assert_string_equal(diag, "link 0: anchor is not a URI: a character that must be "
                              "percent-encoded");
    /* What RFC 3986 allows still passes. */
    assert_int_equal(
        limited_rc("</a%20b%C3%B6>,</p;x=1,y@z:w!$&'()*+=~._-?q=/?#f/?>,"
                   "<coap://[2001:db8::1]:5683/x>,<coap://h/a>;anchor=\"coap://[::1]\"",
                   NULL),
        RD_OK);
}

static void
test_links_check_limited_rejects_a_repeated_anchor(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    assert_int_equal(limited_rc("</a>,</b>;anchor=\"/x\";anchor=\"/y\"", diag), RD_EINVAL);
    assert_string_equal(diag, "link 1: anchor repeated");
    assert_int_equal(limited_rc("</b>;anchor=\"/x\";ANCHOR=\"/x\"", NULL), RD_EINVAL);
    assert_int_equal(limited_rc("</b>;anchor=\"/x\";rel=a;rel=b", NULL), RD_OK);
}

/* Bring @p doc, fetched from @p uri, to the Limited Link Format; the result as a string. */
static void
to_limited(const char *doc, const char *uri, char *out, size_t size)
{
    struct lookup_links links = { 0 };
    struct lookup_buf buf;
    char diag[LOOKUP_DIAG_SIZE];

    lookup_buf_init(&buf, 4096);
    assert_int_equal(lookup_links_parse(&links, doc, strlen(doc), 64, diag, sizeof(diag)), RD_OK);
    assert_int_equal(lookup_links_to_limited(&links, uri, &buf), RD_OK);
    assert_true(buf.len < size);
    memcpy(out, buf.data, buf.len);
    out[buf.len] = '\0';
    lookup_buf_cleanup(&buf);
    lookup_links_cleanup(&links);
}

static void
test_links_to_limited_resolves_against_the_document(void **state)
{
    char out[1024];

    (void)state;
    to_limited("<sensors/temp>;rt=\"t\",<../up>,</abs>;anchor=\"sensors/\",<coap://o.example/x>,"
               "<?q=1>,<>;anchor=\"\"",
               "coap://[2001:db8::1]:61616/.well-known/core", out, sizeof(out));
    assert_string_equal(out, "</.well-known/sensors/temp>;rt=\"t\",</up>,"
                             "</abs>;anchor=\"/.well-known/sensors/\",<coap://o.example/x>,"
                             "</.well-known/core?q=1>,</.well-known/core>;anchor=\"\"");
    /* The same origin spelled alike stays path-absolute; another port is another origin. */
    to_limited("<coap://h:5700/a>,<coap://h:5701/a>", "coap://h:5700/.well-known/core", out,
               sizeof(out));
    assert_string_equal(out, "</a>,<coap://h:5701/a>");
}

static void
test_links_to_limited_refuses_a_base_without_scheme(void **state)
{
    struct lookup_links links = { 0 };
    struct lookup_buf buf;
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    lookup_buf_init(&buf, 4096);
    assert_int_equal(lookup_links_parse(&links, "<a>", 3, 64, diag, sizeof(diag)), RD_OK);
    assert_int_equal(lookup_links_to_limited(&links, "/.well-known/core", &buf), RD_EINVAL);
    lookup_buf_cleanup(&buf);
    lookup_links_cleanup(&links);
}

static void
test_links_check_limited_rejects_relative_anchors(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    assert_int_equal(limited_rc("</a>,</b>;anchor=\"sensors\"", diag), RD_EINVAL);
    assert_string_equal(diag, "limited link format: link 1: anchor is neither a full URI nor "
                              "path-absolute");
    assert_int_equal(limited_rc("</a>;anchor=\"//h/x\"", NULL), RD_EINVAL);
    assert_int_equal(limited_rc("</a>;anchor=\"#f\"", NULL), RD_EINVAL);
    assert_int_equal(limited_rc("</a>;ANCHOR=\"../x\"", NULL), RD_EINVAL);
    assert_int_equal(limited_rc("</a>;anchor", diag), RD_EINVAL);
    assert_string_equal(diag, "limited link format: link 0: anchor without value");
    /* Only the anchor parameter is a URI reference. */
    assert_int_equal(limited_rc("</a>;anchors=x;title=\"../x\"", NULL), RD_OK);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_uri_check_base                                                                     */

static int
base_rc(const char *s, char *diag)
{
    return lookup_uri_check_base(s, strlen(s), diag, diag ? LOOKUP_DIAG_SIZE : 0);
}

static void
test_uri_check_base_accepts_usable_bases(void **state)
{
    static const char *const ok[] = {
        "coap://[2001:db8::1]",
        "coap://[2001:db8::1]:61616",
        "coaps://new.example.com",
        "coap://192.0.2.1:5683",
        "coap+tcp://example.com/",
        "http://www.example.com/path",
        "coap://[::]",
        "coap://[::1]",
        "coap://[1:2:3:4:5:6:7:8]",
        "coap://[1:2:3:4:5:6:7::]",
        "coap://[::ffff:192.0.2.1]",
        "coap://[64:ff9b::192.0.2.33]:5683",
        "coap://[FE80::AbCd]",
        "coap://h:65535/a/b%41/c:d@e/",
        "COAP://h.example:1",
        "coap://sub-delims!$&'()*+,;=.example",
        "coap://%41%62c",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(base_rc(ok[i], NULL), RD_OK);
    }
}

static void
test_uri_check_base_rejects_unusable_bases(void **state)
{
    static const char *const bad[] = {
        "",
        "example.com",
        "/path",
        "coap:/x",
        "coap://",
        "coap://h?x",
        "coap://h#f",
        "coap://[fe80::1%25eth0]",
        "coap://h:99999",
        "coap://h:port",
        "coap ://h",
        "coap:",
        "coap:h",
        "1coap://h",
        "coap://h:",
        "coap://h:0",
        "coap://h:65536",
        "coap://:5683",
        "coap://user@h",
        "coap://h/a b",
        "coap://h b",
        "coap://h/%zz",
        "coap://h/%4",
        "coap://h/\xc3\xa9",
        "coap://[2001:db8::1",
        "coap://[2001:db8::1]x",
        "coap://[]",
        "coap://[:]",
        "coap://[:1]",
        "coap://[1:]",
        "coap://[1::2::3]",
        "coap://[1:2:3:4:5:6:7:8:9]",
        "coap://[1:2:3:4:5:6:7]",
        "coap://[1:2:3:4:5:6:7:8::]",
        "coap://[12345::1]",
        "coap://[g::1]",
        "coap://[v1.fe80::1]",
        "coap://[::192.0.2.256]",
        "coap://[::192.0.2]",
        "coap://[::192.0.02.1]",
        "coap://[::1.2.3.4.5]",
        "coap://[1:2:3:4:5:6:7:1.2.3.4]",
        "coap://[::1]]",
        "coap://[[::1]]",
    };
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        diag[0] = '\0';
        if (base_rc(bad[i], diag) != RD_EINVAL) {
            fail_msg("accepted base \"%s\"", bad[i]);
        }
        assert_true(strncmp(diag, "base: ", 6) == 0);
    }
}

static void
test_uri_check_base_explains_refusals(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    assert_int_equal(base_rc("coap://[fe80::1%25eth0]", diag), RD_EINVAL);
    assert_string_equal(diag, "base: zone identifier not allowed");
    assert_int_equal(base_rc("coap://h?x", diag), RD_EINVAL);
    assert_string_equal(diag, "base: query not allowed");
    assert_int_equal(base_rc("coap://h/p#f", diag), RD_EINVAL);
    assert_string_equal(diag, "base: fragment not allowed");
    assert_int_equal(base_rc("coap://h:99999", diag), RD_EINVAL);
    assert_string_equal(diag, "base: port: expected 1..65535");
    assert_int_equal(base_rc("coap://", diag), RD_EINVAL);
    assert_string_equal(diag, "base: empty host");
    assert_int_equal(base_rc("coap:/x", diag), RD_EINVAL);
    assert_string_equal(diag, "base: expected '//' after the scheme");
    assert_int_equal(base_rc("example.com", diag), RD_EINVAL);
    assert_string_equal(diag, "base: missing scheme");
}

static void
test_uri_check_base_rejects_nul_and_stops_at_len(void **state)
{
    (void)state;
    assert_int_equal(lookup_uri_check_base("coap://h\0x", 10, NULL, 0), RD_EINVAL);
    assert_int_equal(lookup_uri_check_base("coap://h/\0", 10, NULL, 0), RD_EINVAL);
    /* Only len bytes count: the rest of the string is not part of the base. */
    assert_int_equal(lookup_uri_check_base("coap://h?x", 8, NULL, 0), RD_OK);
    assert_int_equal(lookup_uri_check_base("coap://[::1]", 11, NULL, 0), RD_EINVAL);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_qparam_split                                                                       */

static void
test_qparam_split_splits_at_first_equals(void **state)
{
    struct lookup_qparam q;

    (void)state;
    lookup_qparam_split(&q, "base=coap://h?a=b", 17);
    assert_int_equal(q.key_len, 4);
    assert_memory_equal(q.key, "base", 4);
    assert_non_null(q.value);
    assert_int_equal(q.value_len, 12);
    assert_memory_equal(q.value, "coap://h?a=b", 12);
}

static void
test_qparam_split_gives_null_value_without_equals(void **state)
{
    struct lookup_qparam q;

    (void)state;
    lookup_qparam_split(&q, "Q", 1);
    assert_int_equal(q.key_len, 1);
    assert_null(q.value);
    assert_int_equal(q.value_len, 0);
    lookup_qparam_split(&q, "", 0);
    assert_int_equal(q.key_len, 0);
    assert_null(q.value);
}

static void
test_qparam_split_keeps_empty_parts(void **state)
{
    struct lookup_qparam q;

    (void)state;
    lookup_qparam_split(&q, "lt=", 3);
    assert_int_equal(q.key_len, 2);
    assert_non_null(q.value);
    assert_int_equal(q.value_len, 0);
    lookup_qparam_split(&q, "=x", 2);
    assert_int_equal(q.key_len, 0);
    assert_int_equal(q.value_len, 1);
    /* Only len bytes are looked at. */
    lookup_qparam_split(&q, "ab=c", 2);
    assert_int_equal(q.key_len, 2);
    assert_null(q.value);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_regparams_parse                                                                    */

#define MAX_Q 16

/* Parses a list of options given as C strings, NULL-terminated. */
static int
regparams(struct lookup_regparams *out, enum lookup_reg_op op, char *diag, ...)
{
    struct lookup_qparam q[MAX_Q];
    size_t nq = 0;
    const char *s;
    va_list ap;

    va_start(ap, diag);
    for (s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        assert_true(nq < MAX_Q);
        lookup_qparam_split(&q[nq], s, strlen(s));
        nq++;
    }
    va_end(ap);
    return lookup_regparams_parse(out, op, q, nq, diag, diag ? LOOKUP_DIAG_SIZE : 0);
}

/* Expects RD_EINVAL and the diagnostic @p want for one option. */
static void
assert_refused(enum lookup_reg_op op, const char *opt, const char *want)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_regparams p;
    struct lookup_qparam q[2];

    lookup_qparam_split(&q[0], "ep=node", 7);
    lookup_qparam_split(&q[1], opt, strlen(opt));
    diag[0] = '\0';
    memset(&p, 0x5a, sizeof(p));
    /* ep goes first for registrations; an update must not carry it. */
    if (op == LOOKUP_REG_UPDATE) {
        assert_int_equal(lookup_regparams_parse(&p, op, &q[1], 1, diag, sizeof(diag)), RD_EINVAL);
    } else {
        assert_int_equal(lookup_regparams_parse(&p, op, q, 2, diag, sizeof(diag)), RD_EINVAL);
    }
    if (want) {
        assert_string_equal(diag, want);
    }
    assert_null(strchr(diag, '\n'));
}

static void
test_regparams_parse_accepts_full_registration(void **state)
{
    struct lookup_regparams p;

    (void)state;
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=node1", "d=sector\xc3\xa9",
                               "et=oma.lwm2m", "lt=300", "base=coap://[2001:db8::1]:61616", "Q",
                               "et=core.rd-group", "lwm2m=1.1", "b=", NULL),
                     RD_OK);
    assert_string_equal(p.ep, "node1");
    assert_string_equal(p.d, "sector\xc3\xa9");
    assert_int_equal(p.lt, 300);
    assert_string_equal(p.base, "coap://[2001:db8::1]:61616");
    assert_int_equal(p.nattrs, 5);
    assert_attr(&p.attrs[0], "et", "oma.lwm2m", 0);
    assert_attr(&p.attrs[1], "Q", NULL, 0);
    assert_attr(&p.attrs[2], "et", "core.rd-group", 0);
    assert_attr(&p.attrs[3], "lwm2m", "1.1", 0);
    assert_attr(&p.attrs[4], "b", "", 0);
    lookup_regparams_cleanup(&p);
    assert_null(p.ep);
    assert_null(p.mem);
}

static void
test_regparams_parse_leaves_absent_params_empty(void **state)
{
    struct lookup_regparams p;

    (void)state;
    assert_int_equal(regparams(&p, LOOKUP_REG_SIMPLE, NULL, "ep=n", NULL), RD_OK);
    assert_string_equal(p.ep, "n");
    assert_null(p.d);
    assert_null(p.base);
    assert_int_equal(p.lt, 0);
    assert_int_equal(p.nattrs, 0);
    assert_null(p.attrs);
    lookup_regparams_cleanup(&p);
    assert_int_equal(regparams(&p, LOOKUP_REG_UPDATE, NULL, NULL), RD_OK);
    assert_null(p.ep);
    assert_int_equal(p.lt, 0);
    assert_int_equal(p.nattrs, 0);
    lookup_regparams_cleanup(&p);
    assert_int_equal(regparams(&p, LOOKUP_REG_UPDATE, NULL, "lt=4294967295", NULL), RD_OK);
    assert_int_equal(p.lt, 4294967295u);
    lookup_regparams_cleanup(&p);
}

static void
test_regparams_parse_accepts_update_params(void **state)
{
    struct lookup_regparams p;

    (void)state;
    assert_int_equal(regparams(&p, LOOKUP_REG_UPDATE, NULL, "base=coaps://new.example.com", "et=x",
                               "lt=1", NULL),
                     RD_OK);
    assert_null(p.ep);
    assert_string_equal(p.base, "coaps://new.example.com");
    assert_int_equal(p.lt, 1);
    assert_int_equal(p.nattrs, 1);
    assert_attr(&p.attrs[0], "et", "x", 0);
    lookup_regparams_cleanup(&p);
}

static void
test_regparams_parse_requires_ep_for_registration(void **state)
{
    char diag[LOOKUP_DIAG_SIZE];
    struct lookup_regparams p;

    (void)state;
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "lt=60", NULL), RD_EINVAL);
    assert_string_equal(diag, "missing ep");
    assert_int_equal(regparams(&p, LOOKUP_REG_SIMPLE, diag, NULL), RD_EINVAL);
    assert_string_equal(diag, "missing ep");
    /* Keys are case-sensitive: EP is an extra attribute, not the endpoint name. */
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "EP=x", NULL), RD_EINVAL);
    assert_string_equal(diag, "missing ep");
}

static void
test_regparams_parse_refuses_identity_in_update(void **state)
{
    (void)state;
    assert_refused(LOOKUP_REG_UPDATE, "ep=node", "ep cannot change");
    assert_refused(LOOKUP_REG_UPDATE, "d=sector", "d cannot change");
}

static void
test_regparams_parse_refuses_base_in_simple_registration(void **state)
{
    (void)state;
    assert_refused(LOOKUP_REG_SIMPLE, "base=coap://h",
                   "base is not allowed in simple registration");
}

static void
test_regparams_parse_refuses_lookup_params(void **state)
{
    (void)state;
    assert_refused(LOOKUP_REG_CREATE, "page=1", "page is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "count=1", "count is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "Page=1", "page is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "COUNT=1", "count is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "HRef=/rd/1", "href is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "href=/rd/1", "href is not a registration parameter");
    assert_refused(LOOKUP_REG_UPDATE, "anchor=/x", "anchor is not a registration parameter");
    assert_refused(LOOKUP_REG_SIMPLE, "rt=core.rd-ep", "rt is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "rt", "rt is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "if=core.b", "if is not a registration parameter");
    assert_refused(LOOKUP_REG_UPDATE, "ct=40", "ct is not a registration parameter");
}

static void
test_regparams_parse_refuses_bad_lifetimes(void **state)
{
    static const char *const bad[] = {
        "lt=0",
        "lt=-1",
        "lt=4294967296",
        "lt=99999999999999999999",
        "lt=1e3",
        "lt=",
        "lt",
        "lt=+5",
        "lt= 5",
        "lt=5 ",
        "lt=0x10",
        "lt=18446744073709551617",
        "lt=\xd9\xa1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_refused(LOOKUP_REG_CREATE, bad[i], "lt: expected 1..4294967295");
    }
}

static void
test_regparams_parse_accepts_lifetime_bounds(void **state)
{
    struct lookup_regparams p;

    (void)state;
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=n", "lt=1", NULL), RD_OK);
    assert_int_equal(p.lt, 1);
    lookup_regparams_cleanup(&p);
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "lt=4294967295", "ep=n", NULL), RD_OK);
    assert_int_equal(p.lt, 4294967295u);
    lookup_regparams_cleanup(&p);
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=n", "lt=0090000", NULL), RD_OK);
    assert_int_equal(p.lt, 90000);
    lookup_regparams_cleanup(&p);
}

static void
test_regparams_parse_refuses_duplicates(void **state)
{
    (void)state;
    assert_refused(LOOKUP_REG_CREATE, "ep=other", "duplicate ep");
    assert_refused(LOOKUP_REG_CREATE, "ep=node", "duplicate ep");
    assert_refused(LOOKUP_REG_CREATE, "ep", "duplicate ep");

    {
        char diag[LOOKUP_DIAG_SIZE];
        struct lookup_regparams p;

        assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "ep=n", "d=a", "d=a", NULL),
                         RD_EINVAL);
        assert_string_equal(diag, "duplicate d");
        assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "ep=n", "lt=5", "lt=5", NULL),
                         RD_EINVAL);
        assert_string_equal(diag, "duplicate lt");
        assert_int_equal(
            regparams(&p, LOOKUP_REG_UPDATE, diag, "base=coap://a", "base=coap://b", NULL),
            RD_EINVAL);
        assert_string_equal(diag, "duplicate base");
    }
}

static void
test_regparams_parse_refuses_bad_names(void **state)
{
    char ep63[3 + 63 + 1];
    char ep64[3 + 64 + 1];
    struct lookup_regparams p;

    (void)state;
    memcpy(ep63, "ep=", 3);
    memset(ep63 + 3, 'a', 63);
    ep63[3 + 63] = '\0';
    memcpy(ep64, "ep=", 3);
    memset(ep64 + 3, 'a', 64);
    ep64[3 + 64] = '\0';
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, ep63, NULL), RD_OK);
    assert_int_equal(strlen(p.ep), 63);
    lookup_regparams_cleanup(&p);
    /* 21 three-byte characters are 63 bytes; one more is too many. */
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL,
                               "ep=\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                               "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                               "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                               "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                               "\xe2\x82\xac",
                               NULL),
                     RD_OK);
    lookup_regparams_cleanup(&p);
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=\xc2\xa0x", "d=\xc2\xa0", NULL),
                     RD_OK);
    lookup_regparams_cleanup(&p);

    assert_refused(LOOKUP_REG_SIMPLE, "d=", "d: missing value");
    assert_refused(LOOKUP_REG_SIMPLE, "d", "d: missing value");
    assert_refused(LOOKUP_REG_CREATE, "d=a\tb", "d: control character");
    assert_refused(LOOKUP_REG_CREATE, "d=a\x7f", "d: control character");
    assert_refused(LOOKUP_REG_CREATE, "d=\xc2\x80", "d: control character");
    assert_refused(LOOKUP_REG_CREATE, "d=\xc2\x9f", "d: control character");
    assert_refused(LOOKUP_REG_CREATE, "d=\xc3", "d: invalid UTF-8");
    assert_refused(LOOKUP_REG_CREATE, "d=\xc0\x80", "d: invalid UTF-8");

    {
        char diag[LOOKUP_DIAG_SIZE];
        struct lookup_qparam q;

        lookup_qparam_split(&q, ep64, strlen(ep64));
        assert_int_equal(lookup_regparams_parse(&p, LOOKUP_REG_CREATE, &q, 1, diag, sizeof(diag)),
                         RD_EINVAL);
        assert_string_equal(diag, "ep: longer than 63 bytes");
        assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "ep=", NULL), RD_EINVAL);
        assert_string_equal(diag, "ep: missing value");
        assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, diag, "ep=a\x01", NULL), RD_EINVAL);
        assert_string_equal(diag, "ep: control character");
        lookup_qparam_split(&q, "ep=a\0b", 6);
        assert_int_equal(lookup_regparams_parse(&p, LOOKUP_REG_CREATE, &q, 1, diag, sizeof(diag)),
                         RD_EINVAL);
        assert_string_equal(diag, "ep: control character");
    }
}

static void
test_regparams_parse_refuses_bad_base(void **state)
{
    (void)state;
    assert_refused(LOOKUP_REG_CREATE, "base=coap://[fe80::1%25eth0]",
                   "base: zone identifier not allowed");
    assert_refused(LOOKUP_REG_CREATE, "base=/path", "base: missing scheme");
    assert_refused(LOOKUP_REG_UPDATE, "base", "base: missing value");
    assert_refused(LOOKUP_REG_UPDATE, "base=", "base: missing scheme");
}

static void
test_regparams_parse_refuses_bad_extra_attributes(void **state)
{
    char key64[64 + 3];
    char val255[3 + 255 + 1];
    char val256[3 + 256 + 1];
    struct lookup_regparams p;

    (void)state;
    memset(key64, 'k', 64);
    memcpy(key64 + 64, "=v", 3);
    memcpy(val255, "et=", 3);
    memset(val255 + 3, 'v', 255);
    val255[3 + 255] = '\0';
    memcpy(val256, "et=", 3);
    memset(val256 + 3, 'v', 256);
    val256[3 + 256] = '\0';
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=n", val255, key64 + 1, NULL),
                     RD_OK);
    assert_int_equal(strlen(p.attrs[0].value), 255);
    assert_int_equal(strlen(p.attrs[1].name), 63);
    lookup_regparams_cleanup(&p);

    assert_refused(LOOKUP_REG_CREATE, "=x", "empty parameter name");
    assert_refused(LOOKUP_REG_CREATE, "", "empty parameter name");
    assert_refused(LOOKUP_REG_CREATE, key64, "parameter name longer than 63 bytes");
    assert_refused(LOOKUP_REG_CREATE, "a b=1", "invalid character in parameter name");
    assert_refused(LOOKUP_REG_CREATE, "a/b=1", "invalid character in parameter name");
    assert_refused(LOOKUP_REG_CREATE, "\xc3\xa9=1", "invalid character in parameter name");
    assert_refused(LOOKUP_REG_CREATE, val256, "et: longer than 255 bytes");
    assert_refused(LOOKUP_REG_CREATE, "et=a\nb", "et: control character");
    assert_refused(LOOKUP_REG_CREATE, "et=\xc2\x85", "et: control character");
    assert_refused(LOOKUP_REG_CREATE, "et=\xff", "et: invalid UTF-8");
}

static void
test_regparams_parse_leaves_out_untouched_on_failure(void **state)
{
    struct lookup_regparams p;
    struct lookup_regparams before;

    (void)state;
    memset(&p, 0x5a, sizeof(p));
    before = p;
    assert_int_equal(regparams(&p, LOOKUP_REG_CREATE, NULL, "ep=n", "et=a", "lt=0", NULL),
                     RD_EINVAL);
    assert_memory_equal(&p, &before, sizeof(p));
    lookup_regparams_cleanup(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_reg_encode / lookup_reg_decode                                                     */

static void
encode_sample(struct lookup_buf *b, struct lookup_links *l)
{
    static const struct lookup_attr attrs[] = {
        { "et", "oma.lwm2m", 0 },
        { "Q", NULL, 0 },
        { "lwm2m", "1.1", 1 },
    };
    struct lookup_reg reg;

    assert_int_equal(parse(l, lwm2m_reg, MAX_LINKS, NULL), RD_OK);
    memset(&reg, 0, sizeof(reg));
    reg.base = "coap://[2001:db8::1]:61616";
    reg.base_explicit = 1;
    reg.lt = 4294967295u;
    reg.attrs = attrs;
    reg.nattrs = sizeof(attrs) / sizeof(attrs[0]);
    reg.links = l->links;
    reg.nlinks = l->nlinks;
    lookup_buf_init(b, 65536);
    assert_int_equal(lookup_reg_encode(&reg, b), RD_OK);
}

static void
test_reg_decode_reverses_encode(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;
    struct lookup_buf b2;
    struct lookup_reg out;

    (void)state;
    encode_sample(&b, &l);
    assert_int_equal(b.data[0], 1); /* format version */
    assert_int_equal(lookup_reg_decode(&out, b.data, b.len), RD_OK);
    assert_string_equal(out.base, "coap://[2001:db8::1]:61616");
    assert_int_equal(out.base_explicit, 1);
    assert_int_equal(out.lt, 4294967295u);
    assert_int_equal(out.nattrs, 3);
    assert_attr(&out.attrs[0], "et", "oma.lwm2m", 0);
    assert_attr(&out.attrs[1], "Q", NULL, 0);
    assert_attr(&out.attrs[2], "lwm2m", "1.1", 1);
    assert_true(links_equal(out.links, out.nlinks, l.links, l.nlinks));
    /* The encoding is canonical: the decoded record encodes to the same bytes. */
    lookup_buf_init(&b2, 65536);
    assert_int_equal(lookup_reg_encode(&out, &b2), RD_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    lookup_buf_cleanup(&b2);
    lookup_reg_cleanup(&out);
    assert_null(out.mem);
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

static void
test_reg_decode_accepts_minimal_record(void **state)
{
    static const unsigned char rec[] = { 1, 0, 0, 0, 0, 0 };
    struct lookup_reg out;

    (void)state;
    assert_int_equal(lookup_reg_decode(&out, rec, sizeof(rec)), RD_OK);
    assert_string_equal(out.base, "");
    assert_int_equal(out.base_explicit, 0);
    assert_int_equal(out.nattrs, 0);
    assert_null(out.attrs);
    assert_int_equal(out.nlinks, 0);
    assert_null(out.links);
    lookup_reg_cleanup(&out);
}

static void
test_reg_decode_reads_old_record_without_owner(void **state)
{
    static const unsigned char rec[] = { 1, 0, 0, 0, 0, 0 };
    struct lookup_reg out;

    (void)state;
    assert_int_equal(lookup_reg_decode(&out, rec, sizeof(rec)), RD_OK);
    assert_null(out.owner);
    lookup_reg_cleanup(&out);
}

/* Decode @p b into @p out and check that encoding @p out again gives the same bytes. */
static void
decode_reencodes(const struct lookup_buf *b, struct lookup_reg *out)
{
    struct lookup_buf b2;

    assert_int_equal(lookup_reg_decode(out, b->data, b->len), RD_OK);
    lookup_buf_init(&b2, 4096);
    assert_int_equal(lookup_reg_encode(out, &b2), RD_OK);
    assert_int_equal(b2.len, b->len);
    assert_memory_equal(b2.data, b->data, b->len);
    lookup_buf_cleanup(&b2);
}

static void
test_reg_decode_reverses_encode_with_scope(void **state)
{
    static const unsigned char zero_scope[] = { 1, 2, 0, 0, 0, 0, 0 };
    struct lookup_reg reg;
    struct lookup_reg out;
    struct lookup_buf b;

    (void)state;
    memset(&reg, 0, sizeof(reg));
    reg.base = "coap://[fe80::1]";
    reg.lt = 60;
    reg.scope = 300;
    lookup_buf_init(&b, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    decode_reencodes(&b, &out);
    assert_int_equal(out.scope, 300);
    assert_string_equal(out.base, "coap://[fe80::1]");
    lookup_reg_cleanup(&out);
    lookup_buf_cleanup(&b);
    /* The scoped flag with scope 0 has a second encoding of "not scoped": refused. */
    assert_int_equal(lookup_reg_decode(&out, zero_scope, sizeof(zero_scope)), RD_EINVAL);
}

static void
test_reg_head_reads_what_a_refresh_needs(void **state)
{
    struct lookup_reg reg;
    struct lookup_reg_head h;
    struct lookup_buf b;

    (void)state;
    memset(&reg, 0, sizeof(reg));
    reg.base = "coap://[fe80::1]";
    reg.base_explicit = 1;
    reg.lt = 77;
    reg.scope = 3;
    reg.owner = "psk:alice";
    lookup_buf_init(&b, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    assert_int_equal(lookup_reg_head(b.data, b.len, &h), RD_OK);
    assert_int_equal(h.base_len, strlen(reg.base));
    assert_memory_equal(h.base, reg.base, h.base_len);
    assert_int_equal(h.owner_len, 9);
    assert_memory_equal(h.owner, "psk:alice", 9);
    assert_int_equal(h.base_explicit, 1);
    assert_int_equal(h.lt, 77);
    assert_int_equal(h.scope, 3);
    /* Truncated inside the base. */
    assert_int_equal(lookup_reg_head(b.data, 6, &h), RD_EINVAL);
    lookup_buf_cleanup(&b);
}

/* A rebase changes the base, and the flag of an explicit one, and keeps every other byte. */
static void
test_reg_rebase_replaces_only_the_base(void **state)
{
    static const char body[] = "</s/t>;rt=\"temperature-c\";if=sensor;obs,</s/h>;ct=40";
    struct lookup_links l = { 0 };
    struct lookup_attr attrs[1] = { { "et", "oic.d.sensor", 1 } };
    struct lookup_reg reg;
    struct lookup_reg out;
    struct lookup_reg_head h;
    struct lookup_buf b;
    struct lookup_buf r;

    (void)state;
    assert_int_equal(lookup_links_parse(&l, body, strlen(body), MAX_LINKS, NULL, 0), RD_OK);
    memset(&reg, 0, sizeof(reg));
    reg.base = "coaps://old.example.com:5684";
    reg.base_explicit = 1;
    reg.lt = 86400;
    reg.owner = "psk:alice";
    reg.attrs = attrs;
    reg.nattrs = 1;
    reg.links = l.links;
    reg.nlinks = l.nlinks;
    lookup_buf_init(&b, 4096);
    lookup_buf_init(&r, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    assert_int_equal(lookup_reg_rebase(b.data, b.len, "coap://10.0.0.9:61616", &r), RD_OK);
    assert_int_equal(lookup_reg_decode(&out, r.data, r.len), RD_OK);
    assert_string_equal(out.base, "coap://10.0.0.9:61616");
    assert_int_equal(out.base_explicit, 0);
    assert_int_equal(out.lt, 86400);
    assert_string_equal(out.owner, "psk:alice");
    assert_int_equal(out.nattrs, 1);
    assert_string_equal(out.attrs[0].value, "oic.d.sensor");
    assert_int_equal(out.nlinks, 2);
    assert_string_equal(out.links[1].target, "/s/h");
    /* The same bytes as encoding the changed registration. */
    reg.base = "coap://10.0.0.9:61616";
    reg.base_explicit = 0;
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    assert_int_equal(b.len, r.len);
    assert_memory_equal(b.data, r.data, b.len);
    lookup_reg_cleanup(&out);
    /* A link-local record keeps its link: not rebased here. A damaged one is refused. */
    reg.scope = 3;
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    assert_int_equal(lookup_reg_rebase(b.data, b.len, "coap://10.0.0.9", &r), RD_EINVAL);
    assert_int_equal(lookup_reg_head(r.data, 5, &h), RD_EINVAL);
    assert_int_equal(lookup_reg_rebase(r.data, 5, "coap://10.0.0.9", &b), RD_EINVAL);
    lookup_buf_cleanup(&b);
    lookup_buf_cleanup(&r);
    lookup_links_cleanup(&l);
}

static void
test_uri_is_link_local(void **state)
{
    (void)state;
    assert_true(lookup_uri_is_link_local("coap://[fe80::1]"));
    assert_true(lookup_uri_is_link_local("coap://[FE80::abcd:1]:5683/x"));
    assert_true(lookup_uri_is_link_local("coaps://[febf::1]"));
    assert_true(lookup_uri_is_link_local("coap://169.254.10.1:61616"));
    assert_false(lookup_uri_is_link_local("coap://[fec0::1]"));
    assert_false(lookup_uri_is_link_local("coap://[2001:db8::1]"));
    assert_false(lookup_uri_is_link_local("coap://[::ffff:169.254.0.1]"));
    assert_false(lookup_uri_is_link_local("coap://169.25.4.1"));
    assert_false(lookup_uri_is_link_local("coap://169.254.example.com"));
    assert_false(lookup_uri_is_link_local("coap://fe80.example.com"));
    /* Each form of the first group the quick test by its first bytes must let through. */
    assert_true(lookup_uri_is_link_local("coap://[Fe9A:0::1]"));
    assert_true(lookup_uri_is_link_local("coap://[feB0:1:2:3:4:5:6:7]"));
    assert_true(lookup_uri_is_link_local("coap://[fe80::169.254.1.1]"));
    assert_false(lookup_uri_is_link_local("coap://[fe8::1]"));
    assert_false(lookup_uri_is_link_local("coap://[0fe80::1]"));
    assert_false(lookup_uri_is_link_local("coap://[fec0:fe80::1]"));
    assert_false(lookup_uri_is_link_local("coap://[::fe80:1]"));
    assert_false(lookup_uri_is_link_local("coap://[fe80::1%25eth0]"));
    assert_false(lookup_uri_is_link_local("coap://169.254."));
    assert_false(lookup_uri_is_link_local("coap://169.2540.1.1"));
    assert_false(lookup_uri_is_link_local("/rd"));
    assert_false(lookup_uri_is_link_local(NULL));
}

static void
test_reg_decode_reverses_encode_with_owner(void **state)
{
    struct lookup_reg reg;
    struct lookup_reg out;
    struct lookup_buf b;
    struct lookup_buf b2;

    (void)state;
    memset(&reg, 0, sizeof(reg));
    reg.base = "coaps://[::1]:5684";
    reg.lt = 60;
    reg.owner = "psk:alice";
    lookup_buf_init(&b, 4096);
    assert_int_equal(lookup_reg_encode(&reg, &b), RD_OK);
    assert_int_equal(b.data[0], 2); /* the version that carries an owner */
    assert_int_equal(lookup_reg_decode(&out, b.data, b.len), RD_OK);
    assert_string_equal(out.owner, "psk:alice");
    assert_string_equal(out.base, "coaps://[::1]:5684");
    assert_int_equal(out.lt, 60);
    lookup_buf_init(&b2, 4096);
    assert_int_equal(lookup_reg_encode(&out, &b2), RD_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    for (size_t n = 0; n < b.len; n++) {
        struct lookup_reg cut;

        assert_int_equal(lookup_reg_decode(&cut, b.data, n), RD_EINVAL);
    }
    lookup_buf_cleanup(&b2);
    lookup_buf_cleanup(&b);
    lookup_reg_cleanup(&out);
}

static void
test_reg_decode_rejects_every_truncation(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;
    struct lookup_reg out;

    (void)state;
    encode_sample(&b, &l);
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(lookup_reg_decode(&out, b.data, n), RD_EINVAL);
    }
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

static void
test_reg_decode_rejects_trailing_bytes(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;
    struct lookup_reg out;

    (void)state;
    encode_sample(&b, &l);
    assert_int_equal(lookup_buf_append(&b, "", 1), RD_OK);
    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(lookup_reg_decode(&out, b.data, b.len), RD_EINVAL);
    assert_int_equal(out.nlinks, (size_t)0x5a5a5a5a5a5a5a5aull);
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

static void
test_reg_decode_rejects_corrupt_fields(void **state)
{
    static const struct {
        const char *what;
        unsigned char rec[12];
        size_t len;
    } bad[] = {
        { "version 0", { 0, 0, 0, 0, 0, 0 }, 6 },
        { "version 3", { 3, 0, 0, 0, 0, 0, 0 }, 7 },
        { "version 2 without owner", { 2, 0, 0, 0, 0, 0 }, 6 },
        { "NUL in owner", { 2, 0, 0, 0, 1, 0, 0, 0 }, 8 },
        { "unknown flag", { 1, 2, 0, 0, 0, 0 }, 6 },
        { "lt above 32 bits", { 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0 }, 10 },
        { "non-minimal varint", { 1, 0, 0x80, 0x00, 0, 0, 0 }, 7 },
        { "NUL in base", { 1, 0, 0, 1, 0, 0, 0 }, 7 },
        { "base past end", { 1, 0, 0, 5, 'a', 0, 0 }, 7 },
        { "attr kind 3", { 1, 0, 0, 0, 1, 3, 1, 'a', 0 }, 9 },
        { "NUL in name", { 1, 0, 0, 0, 1, 0, 1, 0, 0 }, 9 },
        { "NUL in value", { 1, 0, 0, 0, 1, 1, 1, 'a', 1, 0, 0 }, 11 },
        { "too many attrs", { 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0 }, 10 },
        { "too many links", { 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 11 },
        { "varint over 64 bits",
          { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
          12 },
        { "empty", { 0 }, 0 },
    };
    struct lookup_reg out;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (lookup_reg_decode(&out, bad[i].rec, bad[i].len) != RD_EINVAL) {
            fail_msg("accepted record with %s", bad[i].what);
        }
    }
}

static void
test_reg_encode_leaves_buffer_unchanged_on_etoobig(void **state)
{
    struct lookup_links l;
    struct lookup_buf b;
    struct lookup_buf small;
    struct lookup_reg reg;

    (void)state;
    encode_sample(&b, &l);
    assert_int_equal(lookup_reg_decode(&reg, b.data, b.len), RD_OK);
    lookup_buf_init(&small, b.len + 1);
    assert_int_equal(lookup_buf_append(&small, "x", 1), RD_OK);
    assert_int_equal(lookup_reg_encode(&reg, &small), RD_OK);
    assert_memory_equal(small.data + 1, b.data, b.len);
    small.max = b.len;
    small.len = 1;
    assert_int_equal(lookup_reg_encode(&reg, &small), RD_ETOOBIG);
    assert_int_equal(small.len, 1);
    assert_string_equal(small.data, "x");
    lookup_buf_cleanup(&small);
    lookup_reg_cleanup(&reg);
    lookup_buf_cleanup(&b);
    lookup_links_cleanup(&l);
}

static void
test_reg_cleanup_accepts_zeroed_struct(void **state)
{
    struct lookup_reg reg;

    (void)state;
    memset(&reg, 0, sizeof(reg));
    lookup_reg_cleanup(&reg);
    lookup_reg_cleanup(NULL);
    assert_null(reg.mem);
}

/* ---------------------------------------------------------------------------------------- */
/* lookup_attrs_merge                                                                        */

static void
test_attrs_merge_replaces_all_values_of_updated_names(void **state)
{
    static const struct lookup_attr old[] = {
        { "et", "a", 0 }, { "x", "1", 0 }, { "et", "b", 0 }, { "Q", NULL, 0 }, { "y", "2", 0 },
    };
    static const struct lookup_attr upd[] = {
        { "y", "3", 0 },
        { "et", "c", 0 },
        { "z", NULL, 0 },
        { "et", "d", 0 },
    };
    struct lookup_attr *m = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(lookup_attrs_merge(old, 5, upd, 4, &m, &n), RD_OK);
    assert_int_equal(n, 6);
    assert_attr(&m[0], "x", "1", 0);
    assert_attr(&m[1], "Q", NULL, 0);
    assert_attr(&m[2], "y", "3", 0);
    assert_attr(&m[3], "et", "c", 0);
    assert_attr(&m[4], "z", NULL, 0);
    assert_attr(&m[5], "et", "d", 0);
    /* Strings are borrowed from the inputs. */
    assert_ptr_equal(m[0].name, old[1].name);
    assert_ptr_equal(m[3].value, upd[1].value);
    lookup_attrs_free(m);
}

static void
test_attrs_merge_compares_names_exactly(void **state)
{
    static const struct lookup_attr old[] = { { "et", "a", 0 } };
    static const struct lookup_attr upd[] = { { "ET", "b", 0 } };
    struct lookup_attr *m = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(lookup_attrs_merge(old, 1, upd, 1, &m, &n), RD_OK);
    assert_int_equal(n, 2);
    assert_attr(&m[0], "et", "a", 0);
    assert_attr(&m[1], "ET", "b", 0);
    lookup_attrs_free(m);
}

static void
test_attrs_merge_handles_empty_inputs(void **state)
{
    static const struct lookup_attr old[] = { { "et", "a", 0 } };
    struct lookup_attr *m = (struct lookup_attr *)(uintptr_t)1;
    size_t n = 99;

    (void)state;
    assert_int_equal(lookup_attrs_merge(NULL, 0, NULL, 0, &m, &n), RD_OK);
    assert_int_equal(n, 0);
    lookup_attrs_free(m);
    assert_int_equal(lookup_attrs_merge(old, 1, NULL, 0, &m, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_attr(&m[0], "et", "a", 0);
    lookup_attrs_free(m);
    assert_int_equal(lookup_attrs_merge(NULL, 0, old, 1, &m, &n), RD_OK);
    assert_int_equal(n, 1);
    lookup_attrs_free(m);
    lookup_attrs_free(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Lookup (RFC 9176 section 6)                                                               */

#define MAX_QPARAMS 40
#define REG_HREF    "/rd/4f2kq9xa"
#define REG_BASE    "coap://[2001:db8::1]:5683"

/* Splits a query string at '&' into Uri-Query options, as a client would send them, and parses
 * them. The criteria point into @p s. */
static int
query_diag(struct lookup_query *q, const char *s, char *diag)
{
    struct lookup_qparam p[MAX_QPARAMS];
    size_t n = 0;
    const char *amp;
    size_t len;

    while (*s) {
        amp = strchr(s, '&');
        len = amp ? (size_t)(amp - s) : strlen(s);
        assert_true(n < MAX_QPARAMS);
        lookup_qparam_split(&p[n++], s, len);
        s += len;
        if (*s == '&') {
            s++;
        }
    }
    return lookup_query_parse(q, p, n, diag, diag ? LOOKUP_DIAG_SIZE : 0);
}

static int
query(struct lookup_query *q, const char *s)
{
    return query_diag(q, s, NULL);
}

/* A registration as the server would hand it to the lookup functions. */
struct test_reg {
    struct lookup_links links;
    struct lookup_reg rec;
    struct lookup_regview view;
};

static void
reg_init(struct test_reg *t, const char *ep, const char *d, const char *base,
         const struct lookup_attr *attrs, size_t nattrs, const char *payload)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(parse(&t->links, payload, MAX_LINKS, NULL), RD_OK);
    t->rec.base = base;
    t->rec.lt = LOOKUP_LT_DEFAULT;
    t->rec.attrs = attrs;
    t->rec.nattrs = nattrs;
    t->rec.links = t->links.links;
    t->rec.nlinks = t->links.nlinks;
    t->view.ep = ep;
    t->view.d = d;
    t->view.href = REG_HREF;
    t->view.rec = &t->rec;
}

static void
reg_cleanup(struct test_reg *t)
{
    lookup_links_cleanup(&t->links);
}

static int
match_ep(const struct test_reg *t, const char *qs)
{
    struct lookup_query q;

    assert_int_equal(query(&q, qs), RD_OK);
    return lookup_match_ep(&q, &t->view);
}

/* Which links a resource lookup returns, as a bit mask over the link indices. */
static unsigned
match_res(const struct test_reg *t, const char *qs)
{
    struct lookup_query q;
    unsigned mask = 0;

    assert_int_equal(query(&q, qs), RD_OK);
    assert_true(t->rec.nlinks < 32);
    for (size_t i = 0; i < t->rec.nlinks; i++) {
        if (lookup_match_res(&q, &t->view, i)) {
            mask |= 1u << i;
        }
    }
    return mask;
}

/* Observers of a lookup: which changes of one registration can change its answer. */
static int
affects(const char *qs, enum lookup_kind kind, const struct test_reg *before,
        const struct test_reg *after)
{
    struct lookup_query q;

    assert_int_equal(query(&q, qs), RD_OK);
    return lookup_change_affects(&q, kind, before ? &before->view : NULL,
                                 after ? &after->view : NULL);
}

static void
test_change_affects_ep_lookup_only_when_it_matched_before_or_after(void **state)
{
    struct test_reg a;
    struct test_reg b;

    (void)state;
    reg_init(&a, "node1", "", REG_BASE, NULL, 0, "</t>;rt=\"temp\"");
    reg_init(&b, "node1", "", REG_BASE, NULL, 0, "</t>;rt=\"light\"");
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, NULL, &a), 1);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, &a, NULL), 1);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, &a, &b), 1);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, &b, &a), 1);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, &b, &b), 0);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_EP, NULL, &b), 0);
    assert_int_equal(affects("ep=other", LOOKUP_KIND_EP, &a, &b), 0);
    assert_int_equal(affects("ep=node*", LOOKUP_KIND_EP, NULL, &b), 1);
    reg_cleanup(&a);
    reg_cleanup(&b);
}

static void
test_change_affects_res_lookup_only_through_matching_links(void **state)
{
    struct test_reg a;
    struct test_reg b;

    (void)state;
    reg_init(&a, "node1", "", REG_BASE, NULL, 0, "</t>;rt=\"temp\",</l>;title=\"lamp\"");
    reg_init(&b, "node1", "", REG_BASE, NULL, 0, "</l>;title=\"lamp\"");
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_RES, &a, &b), 1);
    assert_int_equal(affects("rt=temp", LOOKUP_KIND_RES, &b, &b), 0);
    assert_int_equal(affects("title=lamp", LOOKUP_KIND_RES, NULL, &b), 1);
    assert_int_equal(affects("title=lamp&rt=temp", LOOKUP_KIND_RES, &a, &b), 0);
    /* Endpoint lookup takes each criterion from any link; resource lookup from one link. */
    assert_int_equal(affects("title=lamp&rt=temp", LOOKUP_KIND_EP, &a, NULL), 1);
    reg_cleanup(&a);
    reg_cleanup(&b);
}

static void
test_change_affects_ignores_paging_and_nothing_affects_without_registrations(void **state)
{
    struct test_reg a;

    (void)state;
    reg_init(&a, "node1", "s1", REG_BASE, NULL, 0, "</t>;rt=\"temp\"");
    assert_int_equal(affects("rt=temp&count=1&page=5", LOOKUP_KIND_RES, NULL, &a), 1);
    assert_int_equal(affects("d=s2&count=1&page=0", LOOKUP_KIND_EP, &a, &a), 0);
    assert_int_equal(affects("", LOOKUP_KIND_EP, NULL, NULL), 0);
    assert_int_equal(affects("", LOOKUP_KIND_RES, NULL, &a), 1);
    reg_cleanup(&a);
}

/* All links of a registration as resource lookup writes them, separated by ','. */
static void
assert_res_output(const struct lookup_regview *v, const char *expected)
{
    struct lookup_buf b;

    lookup_buf_init(&b, 1u << 16);
    for (size_t i = 0; i < v->rec->nlinks; i++) {
        if (i > 0) {
            assert_int_equal(lookup_buf_append(&b, ",", 1), RD_OK);
        }
        assert_int_equal(lookup_format_res(v, i, &b), RD_OK);
    }
    assert_non_null(b.data);
    assert_string_equal(b.data, expected);
    lookup_buf_cleanup(&b);
}

static void
assert_ep_output(const struct lookup_regview *v, const char *expected)
{
    struct lookup_buf b;

    lookup_buf_init(&b, 1u << 16);
    assert_int_equal(lookup_format_ep(v, &b), RD_OK);
    assert_string_equal(b.data, expected);
    lookup_buf_cleanup(&b);
}

/* Registration A: repeated et, valueless and valued extra attributes, and links with
 * multi-valued, anchored and absolute entries. */
static const struct lookup_attr reg_a_attrs[] = {
    { "et", "tag:example.com,2020:platform", 1 },
    { "et", "oic.d.sensor", 0 },
    { "lwm2m", "1.1", 0 },
    { "Q", NULL, 0 },
};
static const char reg_a_links[] =
    "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
    "</sensors/light>;rt=\"light-lux a.b\";if=\"sensor\";title=\"a b\","
    "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\";rel=\"describedby\","
    "</t>;anchor=\"/sensors/temp\";rel=alternate;obs;ct=\"0 40\"";

static void
reg_a(struct test_reg *t)
{
    reg_init(t, "node1", "", REG_BASE, reg_a_attrs, 4, reg_a_links);
    assert_int_equal(t->rec.nlinks, 4);
}

static void
test_query_parse_reads_page_and_count(void **state)
{
    struct lookup_query q;

    (void)state;
    assert_int_equal(query(&q, "page=2&count=10"), RD_OK);
    assert_int_equal(q.page, 2);
    assert_int_equal(q.count, 10);
    assert_int_equal(q.has_count, 1);
    assert_int_equal(q.ncrit, 0);
    assert_int_equal(query(&q, "count=5"), RD_OK);
    assert_int_equal(q.page, 0);
    assert_int_equal(q.count, 5);
    assert_int_equal(q.has_count, 1);
    assert_int_equal(query(&q, ""), RD_OK);
    assert_int_equal(q.has_count, 0);
    assert_int_equal(q.page, 0);
    assert_int_equal(q.ncrit, 0);
    assert_int_equal(query(&q, "count=007"), RD_OK);
    assert_int_equal(q.count, 7);
    /* Lookup's names are read without case, as the filters' are. */
    assert_int_equal(query(&q, "Page=3&COUNT=4"), RD_OK);
    assert_int_equal(q.page, 3);
    assert_int_equal(q.count, 4);
    assert_int_equal(q.ncrit, 0);
    assert_int_equal(query(&q, "PAGE=1&count=2&page=2"), RD_EINVAL);
}

static void
test_query_parse_accepts_count_zero(void **state)
{
    struct lookup_query q;

    (void)state;
    assert_int_equal(query(&q, "count=0"), RD_OK);
    assert_int_equal(q.has_count, 1);
    assert_int_equal(q.count, 0);
    assert_int_equal(query(&q, "page=3&count=0"), RD_OK);
    assert_int_equal(q.page, 3);
    assert_int_equal(q.count, 0);
}

static void
test_query_parse_accepts_uint32_bounds(void **state)
{
    struct lookup_query q;

    (void)state;
    assert_int_equal(query(&q, "page=4294967295&count=4294967295"), RD_OK);
    assert_int_equal(q.page, UINT32_MAX);
    assert_int_equal(q.count, UINT32_MAX);
    assert_int_equal(query(&q, "page=0&count=0"), RD_OK);
    assert_int_equal(q.page, 0);
}

static void
test_query_parse_rejects_page_without_count(void **state)
{
    struct lookup_query q;
    char diag[LOOKUP_DIAG_SIZE] = "";

    (void)state;
    assert_int_equal(query_diag(&q, "page=2", diag), RD_EINVAL);
    assert_string_equal(diag, "page needs count");
    assert_int_equal(query(&q, "page=0&rt=x"), RD_EINVAL);
}

static void
test_query_parse_rejects_bad_numbers(void **state)
{
    static const char *const bad[] = {
        "count=4294967296", "count=99999999999999999999",
        "count=-1",         "count=+1",
        "count= 1",         "count=1 ",
        "count=",           "count",
        "count=1e3",        "count=0x10",
        "count=1.0",        "page=abc&count=1",
        "page=&count=1",    "page&count=1",
        "page=-0&count=1",  "page=4294967296&count=1",
    };
    struct lookup_query q;
    char diag[LOOKUP_DIAG_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        diag[0] = '\0';
        assert_int_equal(query_diag(&q, bad[i], diag), RD_EINVAL);
        assert_true(strstr(diag, "expected 0..4294967295") != NULL);
    }
}

static void
test_query_parse_rejects_repeated_page_or_count(void **state)
{
    struct lookup_query q;
    char diag[LOOKUP_DIAG_SIZE] = "";

    (void)state;
    assert_int_equal(query_diag(&q, "count=1&count=1", diag), RD_EINVAL);
    assert_string_equal(diag, "repeated count");
    assert_int_equal(query_diag(&q, "page=1&count=2&page=1", diag), RD_EINVAL);
    assert_string_equal(diag, "repeated page");
}

static void
test_query_parse_splits_criteria(void **state)
{
    struct lookup_query q;

    (void)state;
    assert_int_equal(query(&q, "rt=temp*&if=sensor&obs&et=*&href=&count=3&d=a*b"), RD_OK);
    assert_int_equal(q.ncrit, 6);
    assert_int_equal(q.crit[0].name_len, 2);
    assert_memory_equal(q.crit[0].name, "rt", 2);
    assert_int_equal(q.crit[0].value_len, 4);
    assert_memory_equal(q.crit[0].value, "temp", 4);
    assert_int_equal(q.crit[0].prefix, 1);
    assert_int_equal(q.crit[1].value_len, 6);
    assert_memory_equal(q.crit[1].value, "sensor", 6);
    assert_int_equal(q.crit[1].prefix, 0);
    assert_memory_equal(q.crit[2].name, "obs", 3);
    assert_null(q.crit[2].value);
    assert_int_equal(q.crit[2].prefix, 0);
    assert_non_null(q.crit[3].value);
    assert_int_equal(q.crit[3].value_len, 0);
    assert_int_equal(q.crit[3].prefix, 1);
    assert_non_null(q.crit[4].value);
    assert_int_equal(q.crit[4].value_len, 0);
    assert_int_equal(q.crit[4].prefix, 0);
    /* Only a final '*' makes a prefix. */
    assert_int_equal(q.crit[5].value_len, 3);
    assert_memory_equal(q.crit[5].value, "a*b", 3);
    assert_int_equal(q.crit[5].prefix, 0);
    assert_int_equal(q.count, 3);
}

static void
test_query_parse_keeps_raw_bytes(void **state)
{
    struct lookup_query q;

    (void)state;
    assert_int_equal(query(&q, "ep=a%20b&d=Malm\xc3\xb6&title=x=y"), RD_OK);
    assert_int_equal(q.ncrit, 3);
    assert_int_equal(q.crit[0].value_len, 5);
    assert_memory_equal(q.crit[0].value, "a%20b", 5);
    assert_int_equal(q.crit[1].value_len, 6);
    assert_memory_equal(q.crit[1].value, "Malm\xc3\xb6", 6);
    assert_int_equal(q.crit[2].value_len, 3);
    assert_memory_equal(q.crit[2].value, "x=y", 3);
}

static void
test_query_parse_rejects_empty_name(void **state)
{
    struct lookup_query q;
    char diag[LOOKUP_DIAG_SIZE] = "";

    (void)state;
    assert_int_equal(query_diag(&q, "=x", diag), RD_EINVAL);
    assert_string_equal(diag, "empty parameter name");
    assert_int_equal(query(&q, "rt=a&="), RD_EINVAL);
}

static void
test_query_parse_rejects_too_many_criteria(void **state)
{
    char s[MAX_QPARAMS * 8];
    struct lookup_query q;
    char diag[LOOKUP_DIAG_SIZE] = "";
    size_t len = 0;

    (void)state;
    /* page and count do not count as criteria. */
    len += (size_t)snprintf(s + len, sizeof(s) - len, "page=1&count=2");
    for (int i = 0; i < LOOKUP_CRIT_MAX; i++) {
        len += (size_t)snprintf(s + len, sizeof(s) - len, "&a%d=%d", i, i);
    }
    assert_int_equal(query(&q, s), RD_OK);
    assert_int_equal(q.ncrit, LOOKUP_CRIT_MAX);
    assert_memory_equal(q.crit[LOOKUP_CRIT_MAX - 1].name, "a31", 3);
    snprintf(s + len, sizeof(s) - len, "&obs");
    assert_int_equal(query_diag(&q, s, diag), RD_EINVAL);
    assert_string_equal(diag, "more than 32 search criteria");
}

static void
test_query_parse_leaves_out_untouched_on_failure(void **state)
{
    struct lookup_query q;
    struct lookup_query before;

    (void)state;
    memset(&q, 0xa5, sizeof(q));
    memcpy(&before, &q, sizeof(q));
    assert_int_equal(query(&q, "rt=x&page=1"), RD_EINVAL);
    assert_memory_equal(&q, &before, sizeof(q));
    assert_int_equal(query(&q, "rt=x&count=x"), RD_EINVAL);
    assert_memory_equal(&q, &before, sizeof(q));
}

static void
test_match_ep_matches_empty_query_and_ignores_paging(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, ""));
    assert_true(match_ep(&t, "count=0"));
    assert_true(match_ep(&t, "page=4&count=1&ep=node1"));
    assert_false(match_ep(&t, "page=4&count=1&ep=node2"));
    assert_int_equal(match_res(&t, "count=1"), 0xf);
    reg_cleanup(&t);
}

static void
test_match_ep_matches_exact_prefix_and_presence(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "ep=node1"));
    assert_false(match_ep(&t, "ep=node"));
    assert_false(match_ep(&t, "ep=node12"));
    assert_true(match_ep(&t, "ep=node*"));
    assert_true(match_ep(&t, "ep=node1*"));
    assert_false(match_ep(&t, "ep=node12*"));
    assert_true(match_ep(&t, "ep=*"));
    assert_true(match_ep(&t, "ep"));
    assert_false(match_ep(&t, "ep="));
    assert_true(match_ep(&t, "lwm2m=1.1"));
    assert_false(match_ep(&t, "lwm2m=1"));
    assert_true(match_ep(&t, "lwm2m=1.*"));
    assert_true(match_ep(&t, "lwm2m"));
    assert_false(match_ep(&t, "sms"));
    assert_false(match_ep(&t, "sms=*"));
    reg_cleanup(&t);
}

static void
test_match_ep_matches_valueless_attribute_only_by_presence(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "Q"));
    assert_true(match_ep(&t, "Q=*"));
    assert_false(match_ep(&t, "Q="));
    assert_false(match_ep(&t, "Q=1"));
    assert_false(match_ep(&t, "Q=1*"));
    /* obs on link 3 */
    assert_int_equal(match_res(&t, "obs"), 0x8);
    assert_int_equal(match_res(&t, "obs=*"), 0x8);
    assert_int_equal(match_res(&t, "obs=1"), 0);
    reg_cleanup(&t);
}

static void
test_match_ep_compares_values_bytewise(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_false(match_ep(&t, "ep=NODE1"));
    assert_false(match_ep(&t, "ep=node1%20"));
    assert_false(match_ep(&t, "rt=Temperature-c"));
    assert_true(match_ep(&t, "rt=temperature-c"));
    assert_false(match_ep(&t, "et=tag:example.com,2020:platform "));
    reg_cleanup(&t);
}

static void
test_match_ep_compares_names_case_insensitively(void **state)
{
    static const struct lookup_attr attrs[] = { { "Lwm2m", "1.1", 0 } };
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "EP=node1"));
    assert_true(match_ep(&t, "ET=oic.d.sensor"));
    assert_true(match_ep(&t, "q"));
    assert_int_equal(match_res(&t, "RT=temperature-c"), 0x1);
    assert_int_equal(match_res(&t, "Anchor"), 0xc);
    assert_int_equal(match_res(&t, "HREF=coap://[2001:db8::1]:5683/t"), 0x8);
    reg_cleanup(&t);
    reg_init(&t, "n", "", REG_BASE, attrs, 1, "</a>;RT=\"x y\";If=sensor;ANCHOR=\"/b\"");
    assert_true(match_ep(&t, "lwm2m=1.1"));
    assert_int_equal(match_res(&t, "rt=y"), 0x1);
    assert_int_equal(match_res(&t, "if=sensor"), 0x1);
    assert_int_equal(match_res(&t, "anchor=coap://[2001:db8::1]:5683/b"), 0x1);
    reg_cleanup(&t);
}

static void
test_match_res_matches_any_value_of_multi_valued_attributes(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_int_equal(match_res(&t, "rt=light-lux"), 0x2);
    assert_int_equal(match_res(&t, "rt=a.b"), 0x2);
    assert_int_equal(match_res(&t, "rt=a.*"), 0x2);
    assert_int_equal(match_res(&t, "rt=lux"), 0);
    assert_int_equal(match_res(&t, "rt=light-lux a.b"), 0);
    assert_int_equal(match_res(&t, "ct=40"), 0x8);
    assert_int_equal(match_res(&t, "ct=0"), 0x8);
    assert_int_equal(match_res(&t, "ct=4*"), 0x8);
    assert_int_equal(match_res(&t, "rel=describedby"), 0x4);
    /* title is not a relation-type: only its whole value matches. */
    assert_int_equal(match_res(&t, "title=a"), 0);
    assert_int_equal(match_res(&t, "title=a b"), 0x2);
    reg_cleanup(&t);
}

static void
test_match_res_matches_tokens_of_rfc9176_if_example(void **state)
{
    struct test_reg t;

    (void)state;
    /* RFC 9176 section 6.2. */
    reg_init(&t, "n", "", REG_BASE, NULL, 0,
             "</s>;if=\"example.regname tag:example.net,2020:sensor\"");
    assert_int_equal(match_res(&t, "if=tag:example.net,2020:sensor"), 0x1);
    assert_int_equal(match_res(&t, "if=example.regname"), 0x1);
    assert_int_equal(match_res(&t, "if=tag:example.net*"), 0x1);
    assert_int_equal(match_res(&t, "if=example.net*"), 0);
    reg_cleanup(&t);
}

static void
test_match_res_matches_empty_and_blank_multi_values_whole(void **state)
{
    struct test_reg t;

    (void)state;
    reg_init(&t, "n", "", REG_BASE, NULL, 0, "</a>;rt=\"\",</b>;rt=\"  \",</c>;rt=\" x  y \"");
    assert_int_equal(match_res(&t, "rt="), 0x1);
    assert_int_equal(match_res(&t, "rt=  "), 0x2);
    assert_int_equal(match_res(&t, "rt=x"), 0x4);
    assert_int_equal(match_res(&t, "rt=y"), 0x4);
    assert_int_equal(match_res(&t, "rt=*"), 0x7);
    reg_cleanup(&t);
}

static void
test_match_ep_matches_any_repeated_et(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "et=tag:example.com,2020:platform"));
    assert_true(match_ep(&t, "et=oic.d.sensor"));
    assert_true(match_ep(&t, "et=oic.d.sensor&et=tag:example.com,2020:platform"));
    assert_true(match_ep(&t, "et=oic*"));
    assert_false(match_ep(&t, "et=oic.d.actuator"));
    assert_false(match_ep(&t, "et=oic.d.sensor&et=core.rd-group"));
    reg_cleanup(&t);
}

static void
test_match_ep_matches_criteria_against_links(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "rt=light-lux"));
    assert_true(match_ep(&t, "rt=temp*"));
    assert_false(match_ep(&t, "rt=humidity"));
    assert_true(match_ep(&t, "ep=node1&rt=temperature-c"));
    assert_false(match_ep(&t, "ep=node2&rt=temperature-c"));
    assert_true(match_ep(&t, "href=coap://[2001:db8::1]:5683/sensors/light"));
    assert_true(match_ep(&t, "anchor=coap://[2001:db8::1]:5683/sensors/temp"));
    reg_cleanup(&t);
}

/* The link an endpoint lookup answers with carries rt=core.rd-ep (RFC 9176 section 6.3). */
static void
test_match_ep_rt_of_the_endpoint_link(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "rt=core.rd-ep"));
    assert_true(match_ep(&t, "rt=core.rd*"));
    assert_true(match_ep(&t, "rt=core.rd-ep&ep=node1"));
    assert_false(match_ep(&t, "rt=core.rd-ep&ep=node2"));
    assert_false(match_ep(&t, "rt=core.rd"));
    assert_false(match_ep(&t, "rt=core.rd-epx"));
    assert_int_equal(match_res(&t, "rt=core.rd-ep"), 0);
    reg_cleanup(&t);
}

static void
test_match_ep_lets_different_links_satisfy_different_criteria(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    /* rt=temperature-c is on link 0 only, rel=describedby on link 2 only. */
    assert_true(match_ep(&t, "rt=temperature-c&rel=describedby"));
    assert_int_equal(match_res(&t, "rt=temperature-c&rel=describedby"), 0);
    assert_true(match_ep(&t, "rt=temperature-c&rt=light-lux"));
    assert_int_equal(match_res(&t, "rt=temperature-c&rt=light-lux"), 0);
    assert_int_equal(match_res(&t, "rt=light-lux&rt=a.b"), 0x2);
    reg_cleanup(&t);
}

static void
test_match_res_matches_criteria_against_registration(void **state)
{
    static const struct lookup_attr attrs[] = { { "et", "core.rd-group", 0 } };
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_int_equal(match_res(&t, "ep=node1"), 0xf);
    assert_int_equal(match_res(&t, "ep=node2"), 0);
    assert_int_equal(match_res(&t, "et=oic.d.sensor"), 0xf);
    assert_int_equal(match_res(&t, "ep=node1&rt=light-lux"), 0x2);
    assert_int_equal(match_res(&t, "lwm2m=1.1&if=sensor"), 0x3);
    assert_int_equal(match_res(&t, "base=" REG_BASE), 0xf);
    assert_int_equal(match_res(&t, "base=coap://[2001:db8::1]*"), 0xf);
    /* RFC 3986 sections 6.2.2 and 6.2.3: the same base, spelled otherwise. */
    assert_int_equal(match_res(&t, "base=coap://[2001:db8::1]:5683/"), 0xf);
    assert_int_equal(match_res(&t, "base=COAP://[2001:DB8::1]"), 0xf);
    assert_int_equal(match_res(&t, "base=coap://[2001:db8::1]:/%2E/"), 0xf);
    assert_int_equal(match_res(&t, "base=Coap://[2001:DB8::1]*"), 0xf);
    assert_int_equal(match_res(&t, "base=coap://[2001:db8::1]:5684"), 0);
    assert_int_equal(match_res(&t, "base=coaps://[2001:db8::1]"), 0);
    assert_int_equal(match_res(&t, "base=coap://[2001:db8::1]/x"), 0);
    assert_int_equal(match_res(&t, "lt=90000"), 0xf);
    assert_int_equal(match_res(&t, "lt=9"), 0);
    assert_int_equal(match_res(&t, "lt=9*"), 0xf);
    reg_cleanup(&t);
    reg_init(&t, "lights", "floor-3", "coap://[ff35:30:2001:db8:f1::8000:1]", attrs, 1,
             "</light>;rt=\"tag:example.com,2020:light\",</color-temperature>;u=\"K\"");
    assert_int_equal(match_res(&t, "d=floor-3"), 0x3);
    assert_int_equal(match_res(&t, "d=floor*"), 0x3);
    assert_int_equal(match_res(&t, "d=floor-4"), 0);
    assert_int_equal(match_res(&t, "et=core.rd-group"), 0x3);
    assert_int_equal(match_res(&t, "et=core.rd-group&u=K"), 0x2);
    reg_cleanup(&t);
}

static void
test_match_ep_treats_empty_sector_as_absent(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_false(match_ep(&t, "d"));
    assert_false(match_ep(&t, "d=*"));
    assert_false(match_ep(&t, "d="));
    reg_cleanup(&t);
    reg_init(&t, "n", NULL, REG_BASE, NULL, 0, "</a>");
    assert_false(match_ep(&t, "d"));
    reg_cleanup(&t);
}

static void
test_match_res_compares_href_with_resolved_target(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_int_equal(match_res(&t, "href=coap://[2001:db8::1]:5683/sensors/temp"), 0x1);
    assert_int_equal(match_res(&t, "href=/sensors/temp"), 0);
    assert_int_equal(match_res(&t, "href=coap://[2001:db8::1]:5683/sensors/*"), 0x3);
    assert_int_equal(match_res(&t, "href=http://www.example.com/sensors/t123"), 0x4);
    assert_int_equal(match_res(&t, "href=coap://[2001:db8::1]:5683/*"), 0xb);
    assert_int_equal(match_res(&t, "href"), 0xf);
    assert_int_equal(match_res(&t, "href=*"), 0xf);
    reg_cleanup(&t);
}

static void
test_match_res_treats_empty_path_as_slash(void **state)
{
    struct test_reg t;

    (void)state;
    reg_init(&t, "n", "", "coap://h", NULL, 0, "<coap://h>,</>,<coap://h?x>,<coap://hx/>");
    assert_int_equal(match_res(&t, "href=coap://h"), 0x3);
    assert_int_equal(match_res(&t, "href=coap://h/"), 0x3);
    assert_int_equal(match_res(&t, "href=coap://h/?x"), 0x4);
    assert_int_equal(match_res(&t, "href=coap://h?x"), 0x4);
    assert_int_equal(match_res(&t, "href=coap://h/*"), 0x7);
    assert_int_equal(match_res(&t, "href=coap://h*"), 0xf);
    assert_int_equal(match_res(&t, "href=coap://hx"), 0x8);
    reg_cleanup(&t);
}

static void
test_match_res_matches_registration_href(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    /* RFC 9176 section 6.2: on resource lookup href also matches the registration resource. */
    assert_int_equal(match_res(&t, "href=" REG_HREF), 0xf);
    assert_int_equal(match_res(&t, "href=coap://rd.example.com" REG_HREF), 0xf);
    assert_int_equal(match_res(&t, "href=/rd/other"), 0);
    reg_cleanup(&t);
}

static void
test_match_ep_accepts_href_as_path_or_full_uri(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_true(match_ep(&t, "href=/rd/4f2kq9xa"));
    assert_true(match_ep(&t, "href=coap://rd.example.com/rd/4f2kq9xa"));
    assert_true(match_ep(&t, "href=coaps://[2001:db8::ff]:5684/rd/4f2kq9xa"));
    assert_true(match_ep(&t, "href=/rd/4f*"));
    /* A full URI is recognised only as an exact value: the RD's own authority is unknown. */
    assert_false(match_ep(&t, "href=coap://rd.example.com/rd/*"));
    assert_false(match_ep(&t, "href=/rd/4f2kq9x"));
    assert_false(match_ep(&t, "href=/rd/other"));
    assert_false(match_ep(&t, "href=rd/4f2kq9xa"));
    assert_false(match_ep(&t, "href=coap://rd.example.com"));
    assert_false(match_ep(&t, "href=coap://rd.example.com/rd/4f2kq9xa?x"));
    assert_false(match_ep(&t, "href=coap:/rd/4f2kq9xa"));
    reg_cleanup(&t);
}

static void
test_match_res_compares_anchor_with_resolved_anchor(void **state)
{
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_int_equal(match_res(&t, "anchor=coap://[2001:db8::1]:5683/sensors/temp"), 0xc);
    assert_int_equal(match_res(&t, "anchor=/sensors/temp"), 0);
    assert_int_equal(match_res(&t, "anchor=coap://[2001:db8::1]:5683/sensors/*"), 0xc);
    /* Links without an anchor never match one, not even the default context. */
    assert_int_equal(match_res(&t, "anchor=coap://[2001:db8::1]:5683"), 0);
    assert_int_equal(match_res(&t, "anchor=coap://[2001:db8::1]:5683/"), 0);
    assert_int_equal(match_res(&t, "anchor"), 0xc);
    assert_int_equal(match_res(&t, "anchor=*"), 0xc);
    reg_cleanup(&t);
    reg_init(&t, "n", "", "coap://h", NULL, 0, "</a>;anchor=\"\",</b>;anchor=\"coap://x\"");
    assert_int_equal(match_res(&t, "anchor=coap://h"), 0x1);
    assert_int_equal(match_res(&t, "anchor=coap://h/"), 0x1);
    assert_int_equal(match_res(&t, "anchor=coap://x/"), 0x2);
    reg_cleanup(&t);
}

static void
test_match_res_never_matches_unresolvable_uris(void **state)
{
    char payload[LOOKUP_URI_MAX + 64];
    struct test_reg t;

    (void)state;
    memset(payload, 0, sizeof(payload));
    payload[0] = '<';
    payload[1] = '/';
    memset(payload + 2, 'x', LOOKUP_URI_MAX);
    payload[LOOKUP_URI_MAX + 2] = '>';
    reg_init(&t, "n", "", "coap://h", NULL, 0, payload);
    assert_int_equal(match_res(&t, "href=coap://h/x*"), 0);
    assert_int_equal(match_res(&t, "href"), 0x1);
    reg_cleanup(&t);
}

static void
test_match_res_rejects_link_index_out_of_range(void **state)
{
    struct lookup_query q;
    struct test_reg t;

    (void)state;
    reg_a(&t);
    assert_int_equal(query(&q, ""), RD_OK);
    assert_true(lookup_match_res(&q, &t.view, 3));
    assert_false(lookup_match_res(&q, &t.view, 4));
    reg_cleanup(&t);
}

/* RFC 3986 section 5.4, base "http://a/b/c/d;p?q". */
static const char *const rfc3986_normal[][2] = {
    { "g:h", "g:h" },
    { "g", "http://a/b/c/g" },
    { "./g", "http://a/b/c/g" },
    { "g/", "http://a/b/c/g/" },
    { "/g", "http://a/g" },
    { "//g", "http://g" },
    { "?y", "http://a/b/c/d;p?y" },
    { "g?y", "http://a/b/c/g?y" },
    { "#s", "http://a/b/c/d;p?q#s" },
    { "g#s", "http://a/b/c/g#s" },
    { "g?y#s", "http://a/b/c/g?y#s" },
    { ";x", "http://a/b/c/;x" },
    { "g;x", "http://a/b/c/g;x" },
    { "g;x?y#s", "http://a/b/c/g;x?y#s" },
    { "", "http://a/b/c/d;p?q" },
    { ".", "http://a/b/c/" },
    { "./", "http://a/b/c/" },
    { "..", "http://a/b/" },
    { "../", "http://a/b/" },
    { "../g", "http://a/b/g" },
    { "../..", "http://a/" },
    { "../../", "http://a/" },
    { "../../g", "http://a/g" },
};

static const char *const rfc3986_abnormal[][2] = {
    { "../../../g", "http://a/g" },
    { "../../../../g", "http://a/g" },
    { "/./g", "http://a/g" },
    { "/../g", "http://a/g" },
    { "g.", "http://a/b/c/g." },
    { ".g", "http://a/b/c/.g" },
    { "g..", "http://a/b/c/g.." },
    { "..g", "http://a/b/c/..g" },
    { "./../g", "http://a/b/g" },
    { "./g/.", "http://a/b/c/g/" },
    { "g/./h", "http://a/b/c/g/h" },
    { "g/../h", "http://a/b/c/h" },
    { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { "g;x=1/../y", "http://a/b/c/y" },
    { "g?y/./x", "http://a/b/c/g?y/./x" },
    { "g?y/../x", "http://a/b/c/g?y/../x" },
    { "g#s/./x", "http://a/b/c/g#s/./x" },
    { "g#s/../x", "http://a/b/c/g#s/../x" },
    /* The strict parser: a scheme in the reference is never dropped. */
    { "http:g", "http:g" },
};

static void
assert_resolves(const char *base, const char *ref, const char *expected)
{
    char out[LOOKUP_URI_MAX];

    assert_int_equal(lookup_uri_resolve(base, ref, out, sizeof(out)), RD_OK);
    assert_string_equal(out, expected);
}

static void
test_uri_resolve_rfc3986_normal_examples(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc3986_normal) / sizeof(rfc3986_normal[0]); i++) {
        assert_resolves("http://a/b/c/d;p?q", rfc3986_normal[i][0], rfc3986_normal[i][1]);
    }
}

static void
test_uri_resolve_rfc3986_abnormal_examples(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc3986_abnormal) / sizeof(rfc3986_abnormal[0]); i++) {
        assert_resolves("http://a/b/c/d;p?q", rfc3986_abnormal[i][0], rfc3986_abnormal[i][1]);
    }
}

static void
test_uri_resolve_handles_registration_bases(void **state)
{
    (void)state;
    assert_resolves(REG_BASE, "/sensors/temp", "coap://[2001:db8::1]:5683/sensors/temp");
    assert_resolves(REG_BASE, "", REG_BASE);
    assert_resolves(REG_BASE, "http://www.example.com/sensors/t123",
                    "http://www.example.com/sensors/t123");
    /* RFC 3986 section 5.2.3: an empty base path under an authority merges as "/". */
    assert_resolves("coap://h", "g", "coap://h/g");
    assert_resolves("coap://h", "../g", "coap://h/g");
    assert_resolves("coap://h/proxy/", "/x", "coap://h/x");
    assert_resolves("coap://h/proxy/", "x", "coap://h/proxy/x");
    assert_resolves("coap://h/a/b", "?", "coap://h/a/b?");
    assert_resolves("coap://h/a/b", "#", "coap://h/a/b#");
    assert_resolves("coap://h/a/b#f", "", "coap://h/a/b");
    assert_resolves("coap://h", "/temperature/Malm\xc3\xb6", "coap://h/temperature/Malm\xc3\xb6");
    assert_resolves("mailto:x@example.com", "y", "mailto:y");
}

static void
test_uri_resolve_removes_dot_segments_of_absolute_references(void **state)
{
    (void)state;
    assert_resolves("coap://b", "coap://h/a/./b/../c", "coap://h/a/c");
    assert_resolves("coap://b", "coap://h/..", "coap://h/");
    assert_resolves("coap://b", "coap://h", "coap://h");
    assert_resolves("coap://b", "coap://h/a/b/../../..//x", "coap://h//x");
    assert_resolves("coap://b", "foo:a/..", "foo:/");
}

static void
test_uri_resolve_ignores_base_for_absolute_reference(void **state)
{
    (void)state;
    assert_resolves("", "coap://h/x", "coap://h/x");
    assert_resolves("not a uri", "coap://h/x", "coap://h/x");
    assert_resolves(NULL, "coap://h/x", "coap://h/x");
}

static void
test_uri_resolve_rejects_base_without_scheme(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(lookup_uri_resolve("/a/b", "g", out, sizeof(out)), RD_EINVAL);
    assert_int_equal(lookup_uri_resolve("//h/a", "/g", out, sizeof(out)), RD_EINVAL);
    assert_int_equal(lookup_uri_resolve("", "", out, sizeof(out)), RD_EINVAL);
    assert_int_equal(lookup_uri_resolve(NULL, "/g", out, sizeof(out)), RD_EINVAL);
    assert_int_equal(lookup_uri_resolve("1coap://h", "/g", out, sizeof(out)), RD_EINVAL);
}

static void
test_uri_resolve_reports_etoobig(void **state)
{
    static const char expected[] = "http://a/b/c/g";
    char out[sizeof(expected)];

    (void)state;
    assert_int_equal(lookup_uri_resolve("http://a/b/c/d;p?q", "g", out, sizeof(out)), RD_OK);
    assert_string_equal(out, expected);
    assert_int_equal(lookup_uri_resolve("http://a/b/c/d;p?q", "g", out, sizeof(out) - 1),
                     RD_ETOOBIG);
    assert_int_equal(lookup_uri_resolve("http://a/b/c/d;p?q", "g?y", out, sizeof(out)), RD_ETOOBIG);
    assert_int_equal(lookup_uri_resolve("http://a/b/c/d;p?q", "g#s", out, sizeof(out)), RD_ETOOBIG);
    assert_int_equal(lookup_uri_resolve("http://a", "", out, 0), RD_ETOOBIG);
    assert_int_equal(lookup_uri_resolve("http://a", "", out, 9), RD_OK);
    assert_string_equal(out, "http://a");
    assert_int_equal(lookup_uri_resolve("http://a", "", out, 8), RD_ETOOBIG);
    assert_int_equal(lookup_uri_resolve("http://a", "", out, 1), RD_ETOOBIG);
    assert_string_equal(out, "");
}

static void
test_format_ep_writes_rfc9176_examples(void **state)
{
    /* RFC 9176 section 6.4: GET /rd-lookup/ep?et=tag:example.com,2020:platform */
    static const struct lookup_attr attrs[] = {
        { "et", "tag:example.com,2020:platform", 1 },
        { "ct", "40", 1 },
    };
    struct test_reg n5;
    struct test_reg n7;

    (void)state;
    reg_init(&n5, "node5", "", "coap://[2001:db8:3::127]:61616", attrs, 2, "</temp>");
    n5.view.href = "/rd/1234";
    reg_init(&n7, "node7", "floor-3", "coap://[2001:db8:3::129]:61616", attrs, 2, "</temp>");
    n7.view.href = "/rd/4521";
    assert_true(match_ep(&n5, "et=tag:example.com,2020:platform"));
    assert_true(match_ep(&n7, "et=tag:example.com,2020:platform"));
    assert_false(match_ep(&n7, "et=tag:example.com,2020:gateway"));
    assert_ep_output(&n5.view, "</rd/1234>;ep=\"node5\";base=\"coap://[2001:db8:3::127]:61616\";"
                               "et=\"tag:example.com,2020:platform\";ct=\"40\";rt=core.rd-ep");
    assert_ep_output(&n7.view, "</rd/4521>;ep=\"node7\";d=\"floor-3\";"
                               "base=\"coap://[2001:db8:3::129]:61616\";"
                               "et=\"tag:example.com,2020:platform\";ct=\"40\";rt=core.rd-ep");
    reg_cleanup(&n5);
    reg_cleanup(&n7);
}

static void
test_format_ep_writes_extra_attributes_and_never_lt(void **state)
{
    static const struct lookup_attr attrs[] = {
        { "lwm2m", "1.1", 0 }, { "b", "U", 0 }, { "Q", NULL, 0 },
        { "title", "a b", 0 }, { "et", "", 0 }, { "x", "tok", 1 },
    };
    struct test_reg t;

    (void)state;
    reg_init(&t, "urn:imei:1", "", "coap://192.0.2.1:56830", attrs, 6, "</1/0>");
    t.rec.lt = 86400;
    assert_ep_output(&t.view, "</rd/4f2kq9xa>;ep=\"urn:imei:1\";base=\"coap://192.0.2.1:56830\";"
                              "lwm2m=1.1;b=U;Q;title=\"a b\";et=\"\";x=\"tok\";rt=core.rd-ep");
    reg_cleanup(&t);
}

static void
test_format_ep_escapes_quoted_strings(void **state)
{
    struct test_reg t;

    (void)state;
    reg_init(&t, "a\"b\\c", "Malm\xc3\xb6", "coap://h", NULL, 0, "");
    assert_ep_output(&t.view, "</rd/4f2kq9xa>;ep=\"a\\\"b\\\\c\";d=\"Malm\xc3\xb6\";"
                              "base=\"coap://h\";rt=core.rd-ep");
    reg_cleanup(&t);
}

static void
test_format_ep_appends_and_keeps_buffer_on_etoobig(void **state)
{
    struct lookup_buf b;
    struct test_reg t;
    size_t full;

    (void)state;
    reg_a(&t);
    lookup_buf_init(&b, 1u << 16);
    assert_int_equal(lookup_buf_append(&b, "x,", 2), RD_OK);
    assert_int_equal(lookup_format_ep(&t.view, &b), RD_OK);
    assert_memory_equal(b.data, "x,</rd/4f2kq9xa>;ep=\"node1\";", 28);
    full = b.len;
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, full - 1);
    assert_int_equal(lookup_buf_append(&b, "x,", 2), RD_OK);
    assert_int_equal(lookup_format_ep(&t.view, &b), RD_ETOOBIG);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "x,");
    lookup_buf_cleanup(&b);
    reg_cleanup(&t);
}

static void
test_format_res_resolves_rfc9176_base_change_example(void **state)
{
    /* RFC 9176 section 5.3.1: the same links before and after an update changes the base. */
    struct test_reg t;

    (void)state;
    reg_init(&t, "endpoint1", "", "coap://local-proxy-old.example.com", NULL, 0,
             "</sensors/temp>;rt=temperature-c;if=sensor,"
             "<http://www.example.com/sensors/temp>;anchor=\"/sensors/temp\";rel=describedby");
    assert_res_output(&t.view,
                      "<coap://local-proxy-old.example.com/sensors/temp>;rt=temperature-c;"
                      "if=sensor,<http://www.example.com/sensors/temp>;"
                      "anchor=\"coap://local-proxy-old.example.com/sensors/temp\";rel=describedby");
    t.rec.base = "coaps://new.example.com";
    assert_res_output(&t.view, "<coaps://new.example.com/sensors/temp>;rt=temperature-c;"
                               "if=sensor,<http://www.example.com/sensors/temp>;"
                               "anchor=\"coaps://new.example.com/sensors/temp\";rel=describedby");
    assert_int_equal(match_res(&t, "href=coaps://new.example.com/sensors/temp"), 0x1);
    assert_int_equal(match_res(&t, "anchor=coaps://new.example.com/sensors/temp"), 0x2);
    assert_int_equal(match_res(&t, "href=coap://local-proxy-old.example.com/sensors/temp"), 0);
    reg_cleanup(&t);
}

static void
test_format_res_resolves_rfc9176_et_lookup_example(void **state)
{
    /* RFC 9176 section 6.3: two endpoints registered the RFC 6690 section 5 payload; absolute
     * targets stay, relative ones and anchors are resolved, attributes keep their order. */
    static const struct lookup_attr attrs[] = { { "et", "tag:example.com,2020:platform", 0 } };
    struct test_reg s1;
    struct test_reg s2;

    (void)state;
    reg_init(&s1, "sensor1", "", "coap://sensor1.example.com", attrs, 1, rfc6690_example);
    reg_init(&s2, "sensor2", "", "coap://sensor2.example.com", attrs, 1, rfc6690_example);
    assert_int_equal(match_res(&s1, "et=tag:example.com,2020:platform"), 0x1f);
    assert_int_equal(match_res(&s2, "et=tag:example.com,2020:platform"), 0x1f);
    assert_res_output(&s1.view,
                      "<coap://sensor1.example.com/sensors>;ct=40;title=\"Sensor Index\","
                      "<coap://sensor1.example.com/sensors/temp>;rt=\"temperature-c\";"
                      "if=\"sensor\","
                      "<coap://sensor1.example.com/sensors/light>;rt=\"light-lux\";if=\"sensor\","
                      "<http://www.example.com/sensors/t123>;"
                      "anchor=\"coap://sensor1.example.com/sensors/temp\";rel=\"describedby\","
                      "<coap://sensor1.example.com/t>;"
                      "anchor=\"coap://sensor1.example.com/sensors/temp\";rel=\"alternate\"");
    assert_res_output(&s2.view,
                      "<coap://sensor2.example.com/sensors>;ct=40;title=\"Sensor Index\","
                      "<coap://sensor2.example.com/sensors/temp>;rt=\"temperature-c\";"
                      "if=\"sensor\","
                      "<coap://sensor2.example.com/sensors/light>;rt=\"light-lux\";if=\"sensor\","
                      "<http://www.example.com/sensors/t123>;"
                      "anchor=\"coap://sensor2.example.com/sensors/temp\";rel=\"describedby\","
                      "<coap://sensor2.example.com/t>;"
                      "anchor=\"coap://sensor2.example.com/sensors/temp\";rel=\"alternate\"");
    reg_cleanup(&s1);
    reg_cleanup(&s2);
}

static void
test_format_res_resolves_appendix_b_anchors(void **state)
{
    /* RFC 9176 appendix B.3: simple registration from [2001:db8:f0::1]:6553. The base comes from
     * the source address and port (section 5.1), so it has the port the appendix leaves out. */
    static const char wkc[] = "</temp>;rt=temperature;ct=0,"
                              "</light>;rt=light-lux;ct=0,"
                              "</t>;anchor=\"/sensors/temp\";rel=alternate,"
                              "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\";"
                              "rel=\"describedby\"";
    struct test_reg t;

    (void)state;
    reg_init(&t, "simple-host1", "", "coap://[2001:db8:f0::1]:6553", NULL, 0, wkc);
    assert_int_equal(match_res(&t, "rt=temperature"), 0x1);
    assert_int_equal(match_res(&t, "ep=simple-host1"), 0xf);
    assert_res_output(&t.view,
                      "<coap://[2001:db8:f0::1]:6553/temp>;rt=temperature;ct=0,"
                      "<coap://[2001:db8:f0::1]:6553/light>;rt=light-lux;ct=0,"
                      "<coap://[2001:db8:f0::1]:6553/t>;"
                      "anchor=\"coap://[2001:db8:f0::1]:6553/sensors/temp\";rel=alternate,"
                      "<http://www.example.com/sensors/t123>;"
                      "anchor=\"coap://[2001:db8:f0::1]:6553/sensors/temp\";rel=\"describedby\"");
    /* The same host registered with base=coap+tcp://simple-host1.example.com. */
    t.rec.base = "coap+tcp://simple-host1.example.com";
    assert_res_output(&t.view,
                      "<coap+tcp://simple-host1.example.com/temp>;rt=temperature;ct=0,"
                      "<coap+tcp://simple-host1.example.com/light>;rt=light-lux;ct=0,"
                      "<coap+tcp://simple-host1.example.com/t>;"
                      "anchor=\"coap+tcp://simple-host1.example.com/sensors/temp\";rel=alternate,"
                      "<http://www.example.com/sensors/t123>;"
                      "anchor=\"coap+tcp://simple-host1.example.com/sensors/temp\";"
                      "rel=\"describedby\"");
    reg_cleanup(&t);
}

static void
test_format_res_resolves_empty_anchor_to_base(void **state)
{
    struct test_reg t;

    (void)state;
    reg_init(&t, "n", "", "coap://h:61616", NULL, 0,
             "</a>;anchor=\"\";rt=x,</b>;Anchor=/c;obs,</d>;anchor");
    assert_res_output(&t.view, "<coap://h:61616/a>;anchor=\"coap://h:61616\";rt=x,"
                               "<coap://h:61616/b>;Anchor=\"coap://h:61616/c\";obs,"
                               "<coap://h:61616/d>;anchor");
    reg_cleanup(&t);
}

static void
test_format_res_reports_etoobig_and_keeps_buffer(void **state)
{
    char payload[LOOKUP_URI_MAX + 64];
    struct lookup_buf b;
    struct test_reg t;

    (void)state;
    /* "coap://h" and the target fill LOOKUP_URI_MAX with the NUL; one more byte is too many. */
    memset(payload, 0, sizeof(payload));
    payload[0] = '<';
    payload[1] = '/';
    memset(payload + 2, 'x', LOOKUP_URI_MAX - 10);
    payload[LOOKUP_URI_MAX - 8] = '>';
    reg_init(&t, "n", "", "coap://h", NULL, 0, payload);
    lookup_buf_init(&b, 1u << 16);
    assert_int_equal(lookup_buf_append(&b, "x", 1), RD_OK);
    assert_int_equal(lookup_format_res(&t.view, 0, &b), RD_OK);
    assert_int_equal(b.len, 1 + LOOKUP_URI_MAX - 1 + 2);
    reg_cleanup(&t);
    payload[LOOKUP_URI_MAX - 8] = 'x';
    payload[LOOKUP_URI_MAX - 7] = '>';
    reg_init(&t, "n", "", "coap://h", NULL, 0, payload);
    lookup_buf_cleanup(&b);
    lookup_buf_init(&b, 1u << 16);
    assert_int_equal(lookup_buf_append(&b, "x", 1), RD_OK);
    assert_int_equal(lookup_format_res(&t.view, 0, &b), RD_ETOOBIG);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "x");
    lookup_buf_cleanup(&b);
    reg_cleanup(&t);
    /* A buffer cap refuses the link as a whole too. */
    reg_a(&t);
    lookup_buf_init(&b, 20);
    assert_int_equal(lookup_format_res(&t.view, 0, &b), RD_ETOOBIG);
    assert_int_equal(b.len, 0);
    lookup_buf_cleanup(&b);
    reg_cleanup(&t);
}

static int
terms_equal(const struct lookup_terms *t, const char *const *expected, size_t n)
{
    if (t->nterms != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(expected[i]) + 1;

        if (t->terms[i].len != len || memcmp(t->terms[i].data, expected[i], len) != 0) {
            return 0;
        }
    }
    return 1;
}

static void
test_reg_terms_are_sorted_and_unique(void **state)
{
    static const struct lookup_attr attrs[] = {
        { "et", "oic.d.sensor", 0 },
        { "ET", "oic.d.sensor", 0 },
        { "lwm2m", "1.1", 0 },
        { "if", "core.b x", 0 },
    };
    static const char *const expected[] = {
        "d=floor-3", "ep=node1", "et=oic.d.sensor",  "if=core.b", "if=sensor", "if=x",
        "rt=Upper",  "rt=a",     "rt=temperature-c",
    };
    struct lookup_terms terms;
    struct test_reg t;

    (void)state;
    reg_init(&t, "node1", "floor-3", REG_BASE, attrs, 4,
             "</s>;rt=\"temperature-c a\";if=sensor;title=x,</l>;rt=a;if=\"sensor\",</u>;RT=Upper");
    assert_int_equal(lookup_reg_terms(t.view.ep, t.view.d, &t.rec, &terms), RD_OK);
    assert_true(terms_equal(&terms, expected, sizeof(expected) / sizeof(expected[0])));
    lookup_terms_cleanup(&terms);
    assert_null(terms.terms);
    assert_int_equal(terms.nterms, 0);
    reg_cleanup(&t);
}

/* What lookup_term_weights() gives each term of a registration is what the query `name=value`,
 * parsed as a lookup parses it, matches: the registration (endpoint lookup) and its links. */
static void
test_term_weights_agree_with_the_parsed_query(void **state)
{
    static const struct lookup_attr attrs[] = {
        { "et", "oic.d.sensor", 0 },
        { "if", "core.b x", 0 },
    };
    struct lookup_terms terms;
    struct test_reg t;
    struct lookup_term bad[] = { { "rt=a", 4 }, { "=a", 3 }, { "rt", 3 }, { "", 0 } };
    uint32_t eps = 9;
    uint32_t links = 9;

    (void)state;
    reg_init(&t, "node1", "floor-3", REG_BASE, attrs, 2,
             "</s>;rt=\"temperature-c a\";if=sensor;title=x,</l>;rt=a;if=\"sensor\",</u>;RT=Upper,"
             "</v>;rt=a");
    assert_int_equal(lookup_reg_terms(t.view.ep, t.view.d, &t.rec, &terms), RD_OK);
    assert_true(terms.nterms > 5);
    for (size_t i = 0; i < terms.nterms; i++) {
        const char *term = terms.terms[i].data;
        const char *eq = memchr(term, '=', terms.terms[i].len);
        struct lookup_qparam qp;
        struct lookup_query q;
        char diag[LOOKUP_DIAG_SIZE];
        uint32_t want = 0;

        assert_non_null(eq);
        qp.key = term;
        qp.key_len = (size_t)(eq - term);
        qp.value = eq + 1;
        qp.value_len = terms.terms[i].len - qp.key_len - 2;
        assert_int_equal(lookup_query_parse(&q, &qp, 1, diag, sizeof(diag)), RD_OK);
        for (size_t k = 0; k < t.rec.nlinks; k++) {
            want += (uint32_t)lookup_match_res(&q, &t.view, k);
        }
        lookup_term_weights(&t.view, &terms.terms[i], &eps, &links);
        assert_int_equal(eps, lookup_match_ep(&q, &t.view));
        assert_int_equal(links, want);
    }
    /* rt=a: two links; ep=node1 and d=floor-3: every link; if=core.b (a registration
     * attribute): every link too. */
    lookup_term_weights(&t.view, &(struct lookup_term){ "rt=a", 5 }, &eps, &links);
    assert_int_equal(eps, 1);
    assert_int_equal(links, 3);
    lookup_term_weights(&t.view, &(struct lookup_term){ "ep=node1", 9 }, &eps, &links);
    assert_int_equal(links, 4);
    lookup_term_weights(&t.view, &(struct lookup_term){ "rt=none", 8 }, &eps, &links);
    assert_int_equal(eps, 0);
    assert_int_equal(links, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eps = 9;
        links = 9;
        lookup_term_weights(&t.view, &bad[i], &eps, &links);
        assert_int_equal(eps, 0);
        assert_int_equal(links, 0);
    }
    lookup_terms_cleanup(&terms);
    reg_cleanup(&t);
}

static void
test_reg_terms_skip_empty_sector_and_values(void **state)
{
    static const struct lookup_attr attrs[] = {
        { "et", NULL, 0 },
        { "et", "", 0 },
        { "rt", "  ", 0 },
    };
    static const char *const expected[] = { "ep=n", "rt=  " };
    struct lookup_terms terms;
    struct test_reg t;

    (void)state;
    reg_init(&t, "n", "", REG_BASE, attrs, 3, "</s>;rt=\"\";if;obs;anchor=\"/x\"");
    assert_int_equal(lookup_reg_terms(t.view.ep, t.view.d, &t.rec, &terms), RD_OK);
    assert_true(terms_equal(&terms, expected, 2));
    lookup_terms_cleanup(&terms);
    reg_cleanup(&t);
}

static void
test_reg_terms_index_link_level_ep_d_and_et(void **state)
{
    static const char *const expected[] = { "d=y", "ep=n", "ep=x", "et=a b" };
    struct lookup_terms terms;
    struct test_reg t;

    (void)state;
    reg_init(&t, "n", NULL, REG_BASE, NULL, 0, "</s>;ep=x;D=y;et=\"a b\";base=z;href=/q");
    assert_int_equal(lookup_reg_terms(t.view.ep, t.view.d, &t.rec, &terms), RD_OK);
    assert_true(terms_equal(&terms, expected, 4));
    lookup_terms_cleanup(&terms);
    reg_cleanup(&t);
}

static void
test_reg_terms_keep_first_255_bytes_of_long_values(void **state)
{
    char payload[400];
    struct lookup_terms terms;
    struct test_reg t;

    (void)state;
    memset(payload, 0, sizeof(payload));
    memcpy(payload, "</s>;et=", 8);
    memset(payload + 8, 'v', 300);
    reg_init(&t, "n", NULL, REG_BASE, NULL, 0, payload);
    assert_int_equal(lookup_reg_terms(t.view.ep, t.view.d, &t.rec, &terms), RD_OK);
    assert_int_equal(terms.nterms, 2);
    assert_int_equal(terms.terms[1].len, 3 + 255 + 1);
    assert_memory_equal(terms.terms[1].data, "et=vvv", 6);
    assert_int_equal(terms.terms[1].data[3 + 254], 'v');
    assert_int_equal(terms.terms[1].data[3 + 255], '\0');
    lookup_terms_cleanup(&terms);
    reg_cleanup(&t);
}

static void
test_reg_terms_gives_none_for_bare_registration(void **state)
{
    struct lookup_terms terms;
    struct lookup_reg rec;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    memset(&terms, 0xa5, sizeof(terms));
    assert_int_equal(lookup_reg_terms(NULL, NULL, &rec, &terms), RD_OK);
    assert_int_equal(terms.nterms, 0);
    assert_null(terms.terms);
    assert_null(terms.mem);
    lookup_terms_cleanup(&terms);
}

static void
test_reg_terms_index_owner_but_not_none(void **state)
{
    static const char *const with_owner[] = { "ep=n", "owner=x509:dev 1" };
    static const char *const without[] = { "ep=n" };
    struct lookup_terms terms;
    struct lookup_reg rec;
    char term[64];
    size_t len = 0;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    rec.owner = "x509:dev 1";
    assert_int_equal(lookup_reg_terms("n", NULL, &rec, &terms), RD_OK);
    assert_true(terms_equal(&terms, with_owner, 2));
    assert_int_equal(lookup_owner_term("x509:dev 1", term, sizeof(term), &len), RD_OK);
    assert_int_equal(len, terms.terms[1].len);
    assert_memory_equal(term, terms.terms[1].data, len);
    lookup_terms_cleanup(&terms);
    rec.owner = "none";
    assert_int_equal(lookup_reg_terms("n", NULL, &rec, &terms), RD_OK);
    assert_true(terms_equal(&terms, without, 1));
    lookup_terms_cleanup(&terms);
}

static void
test_owner_term_refuses_none_empty_and_small_buffer(void **state)
{
    char term[16];
    size_t len = 7;

    (void)state;
    assert_int_equal(lookup_owner_term("none", term, sizeof(term), &len), RD_EINVAL);
    assert_int_equal(lookup_owner_term("", term, sizeof(term), &len), RD_EINVAL);
    assert_int_equal(lookup_owner_term("psk:a-long-identity", term, sizeof(term), &len),
                     RD_ETOOBIG);
    assert_int_equal(len, 7);
}

static void
test_terms_cleanup_accepts_zeroed_struct(void **state)
{
    struct lookup_terms terms = { NULL, 0, NULL, NULL, NULL };

    (void)state;
    lookup_terms_cleanup(&terms);
    lookup_terms_cleanup(NULL);
    assert_null(terms.terms);
}

static int
index_of(const char *qs, char *out, size_t size, size_t *len)
{
    struct lookup_query q;

    assert_int_equal(query(&q, qs), RD_OK);
    return lookup_query_index(&q, out, size, len);
}

static void
assert_index(const char *qs, const char *prefix, size_t len)
{
    char out[512];
    size_t n = 0;

    assert_int_equal(index_of(qs, out, sizeof(out), &n), RD_OK);
    assert_int_equal(n, len);
    assert_memory_equal(out, prefix, len);
}

static void
test_query_index_prefers_exact_then_ep_d_et_if_rt(void **state)
{
    (void)state;
    assert_index("rt=a&if=b", "if=b", 5);
    assert_index("rt=a&if=b*", "rt=a", 5);
    assert_index("et=e&if=b&rt=a", "et=e", 5);
    assert_index("et=e&d=x", "d=x", 4);
    assert_index("d=x&ep=y&et=e", "ep=y", 5);
    assert_index("ep=n*&rt=x*", "ep=n", 4);
    assert_index("rt=x*&if=y*", "if=y", 4);
    assert_index("ep=a&ep=b", "ep=a", 5);
    assert_index("title=x&href=/rd/1&rt=temp*", "rt=temp", 7);
}

static void
test_query_index_ep_skips_the_endpoint_link_rt(void **state)
{
    struct lookup_query q;
    char out[64];
    size_t n = 0;

    (void)state;
    assert_int_equal(query(&q, "rt=core.rd-ep"), RD_OK);
    assert_int_equal(lookup_query_index_ep(&q, out, sizeof(out), &n), RD_ENOTFOUND);
    assert_int_equal(lookup_query_index(&q, out, sizeof(out), &n), RD_OK);
    assert_int_equal(query(&q, "rt=core.rd*&rt=temp"), RD_OK);
    assert_int_equal(lookup_query_index_ep(&q, out, sizeof(out), &n), RD_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "rt=temp", 8);
}

static void
test_query_index_lowercases_name_and_keeps_value(void **state)
{
    (void)state;
    assert_index("RT=Temp", "rt=Temp", 8);
    assert_index("Ep=Node*", "ep=Node", 7);
}

static void
test_query_index_gives_enotfound_without_usable_criterion(void **state)
{
    static const char *const none[] = {
        "", "count=3", "href=/rd/1", "rt", "rt=*", "rt=", "title=x", "base=coap://h", "ept=x",
    };
    char s[300];
    char out[512];
    size_t len = 99;

    (void)state;
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_int_equal(index_of(none[i], out, sizeof(out), &len), RD_ENOTFOUND);
    }
    assert_int_equal(len, 99);
    /* A value longer than any term is left to a scan; one of 255 bytes is not. */
    memset(s, 0, sizeof(s));
    memcpy(s, "et=", 3);
    memset(s + 3, 'v', 256);
    assert_int_equal(index_of(s, out, sizeof(out), &len), RD_ENOTFOUND);
    s[3 + 255] = '\0';
    assert_int_equal(index_of(s, out, sizeof(out), &len), RD_OK);
    assert_int_equal(len, 3 + 255 + 1);
    /* ...but another criterion can still use the index. */
    s[3 + 255] = 'v';
    memcpy(s + 3 + 256, "&d=x", 5);
    assert_index(s, "d=x", 4);
}

static void
test_query_index_reports_etoobig(void **state)
{
    char out[8];
    size_t len = 0;

    (void)state;
    assert_int_equal(index_of("ep=node1", out, 8, &len), RD_ETOOBIG);
    assert_int_equal(len, 0);
    assert_int_equal(index_of("ep=node", out, 8, &len), RD_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(out, "ep=node", 8);
    assert_int_equal(index_of("ep=node1*", out, 8, &len), RD_OK);
    assert_int_equal(len, 8);
}

/* Whether some term of the registration starts with the index prefix of the query. */
static int
terms_have_prefix(const struct test_reg *t, const char *qs)
{
    struct lookup_terms terms;
    char prefix[512];
    size_t len = 0;
    int found = 0;

    assert_int_equal(index_of(qs, prefix, sizeof(prefix), &len), RD_OK);
    assert_int_equal(lookup_reg_terms(t->view.ep, t->view.d, &t->rec, &terms), RD_OK);
    for (size_t i = 0; i < terms.nterms && !found; i++) {
        found = terms.terms[i].len >= len && memcmp(terms.terms[i].data, prefix, len) == 0;
    }
    lookup_terms_cleanup(&terms);
    return found;
}

static void
test_query_index_finds_every_matching_registration(void **state)
{
    static const char *const queries[] = {
        "ep=node1", "ep=no*", "EP=node1&rt=light*",        "et=oic.d.sensor",  "et=tag:*",
        "rt=a.b",   "rt=a*",  "if=sensor&rel=describedby", "Rt=temperature-c", "lwm2m=1.1&et=oic*",
    };
    struct test_reg t;
    char payload[400];

    (void)state;
    reg_a(&t);
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        assert_true(match_ep(&t, queries[i]));
        assert_true(terms_have_prefix(&t, queries[i]));
    }
    assert_false(match_ep(&t, "rt=zzz"));
    assert_false(terms_have_prefix(&t, "rt=zzz"));
    reg_cleanup(&t);
    /* Link-level ep, d and et, and a value longer than a term. */
    memset(payload, 0, sizeof(payload));
    memcpy(payload, "</s>;D=y;ep=x;et=", 17);
    memset(payload + 17, 'v', 300);
    reg_init(&t, "n", "", REG_BASE, NULL, 0, payload);
    assert_int_equal(match_res(&t, "d=y"), 0x1);
    assert_true(terms_have_prefix(&t, "d=y"));
    assert_true(match_ep(&t, "ep=x"));
    assert_true(terms_have_prefix(&t, "ep=x"));
    assert_true(match_ep(&t, "et=vvv*"));
    assert_true(terms_have_prefix(&t, "et=vvv*"));
    reg_cleanup(&t);
}

/* The RD's own discovery document (RFC 9176 section 4.3) filtered as RFC 6690 section 4.1 asks. */
static unsigned
match_links(const char *payload, const char *qs)
{
    struct lookup_links l;
    struct lookup_query q;
    unsigned mask = 0;

    assert_int_equal(parse(&l, payload, MAX_LINKS, NULL), RD_OK);
    assert_int_equal(query(&q, qs), RD_OK);
    for (size_t i = 0; i < l.nlinks; i++) {
        if (lookup_match_link(&q, &l.links[i])) {
            mask |= 1u << i;
        }
    }
    lookup_links_cleanup(&l);
    return mask;
}

static void
test_match_link_filters_discovery_like_rfc6690(void **state)
{
    static const char doc[] =
        "</rd>;rt=core.rd;ct=40,</rd-lookup/ep>;rt=core.rd-lookup-ep;ct=40;obs,"
        "</rd-lookup/res>;rt=\"core.rd-lookup-res\";ct=\"40 65060\";obs";

    (void)state;
    assert_int_equal(match_links(doc, ""), 0x7);
    assert_int_equal(match_links(doc, "rt=core.rd*"), 0x7);
    assert_int_equal(match_links(doc, "rt=core.rd"), 0x1);
    assert_int_equal(match_links(doc, "rt=core.rd-lookup*"), 0x6);
    assert_int_equal(match_links(doc, "rt=core.rd-lookup-res"), 0x4);
    assert_int_equal(match_links(doc, "ct=65060"), 0x4);
    assert_int_equal(match_links(doc, "obs"), 0x6);
    assert_int_equal(match_links(doc, "href=/rd-lookup/*"), 0x6);
    assert_int_equal(match_links(doc, "href=/rd"), 0x1);
    assert_int_equal(match_links(doc, "rt=core.rd&obs"), 0);
    assert_int_equal(match_links(doc, "rt=other"), 0);
    assert_int_equal(match_links(doc, "title"), 0);
}

static void
test_uri_normalize_follows_rfc3986_section_6(void **state)
{
    static const char *const cases[][2] = {
        { "COAP://Example.COM:5683", "coap://example.com/" },
        { "coap://h:", "coap://h/" },
        { "coaps://h:5684/a", "coaps://h/a" },
        { "coaps://h:5683/a", "coaps://h:5683/a" },
        { "coap+tcp://h:5683/a", "coap+tcp://h/a" },
        { "http://h:80/a", "http://h/a" },
        { "coap://[2001:DB8::1]:5683", "coap://[2001:db8::1]/" },
        { "coap://h/%7e%41%2f%c3%b6?%7E%2a#%41", "coap://h/~A%2F%C3%B6?~%2A#A" },
        { "coap://h/a/./b/../c/%2E%2E/d", "coap://h/a/d" },
        { "coap://User%41@H/x", "coap://UserA@h/x" },
        { "urn:Example:A", "urn:Example:A" },
        { "coap://h%41/", "coap://ha/" },
    };
    char out[LOOKUP_URI_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(lookup_uri_normalize(cases[i][0], 0, out, sizeof(out)), RD_OK);
        assert_string_equal(out, cases[i][1]);
    }
    /* A prefix keeps its dots and a port that may go on, and gains no "/". */
    assert_int_equal(lookup_uri_normalize("COAP://H:56", 1, out, sizeof(out)), RD_OK);
    assert_string_equal(out, "coap://h:56");
    assert_int_equal(lookup_uri_normalize("COAP://H:5683/a/.", 1, out, sizeof(out)), RD_OK);
    assert_string_equal(out, "coap://h/a/.");
    assert_int_equal(lookup_uri_normalize("/no/scheme", 0, out, sizeof(out)), RD_EINVAL);
    assert_int_equal(lookup_uri_normalize("coap://h/abc", 0, out, 8), RD_ETOOBIG);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_grows_and_terminates),
        cmocka_unit_test(test_buf_append_rejects_past_max_and_keeps_buffer),
        cmocka_unit_test(test_buf_append_empty_gives_empty_string),
        cmocka_unit_test(test_buf_cleanup_accepts_zeroed_struct),
        cmocka_unit_test(test_links_parse_accepts_rfc6690_example),
        cmocka_unit_test(test_links_parse_accepts_rfc6690_discovery_examples),
        cmocka_unit_test(test_links_parse_accepts_rfc9176_registration_payload),
        cmocka_unit_test(test_links_parse_accepts_rfc9176_absolute_target_with_anchor),
        cmocka_unit_test(test_links_parse_accepts_lwm2m_registration),
        cmocka_unit_test(test_links_parse_keeps_utf8_target_undecoded),
        cmocka_unit_test(test_links_parse_unescapes_quoted_pairs),
        cmocka_unit_test(test_links_parse_accepts_whitespace_around_separators),
        cmocka_unit_test(test_links_parse_gives_no_links_for_empty_document),
        cmocka_unit_test(test_links_parse_keeps_repeated_and_valueless_params_in_order),
        cmocka_unit_test(test_links_parse_accepts_empty_target_and_empty_quoted_value),
        cmocka_unit_test(test_links_parse_accepts_tab_in_quoted_string),
        cmocka_unit_test(test_links_parse_rejects_more_than_max_links),
        cmocka_unit_test(test_links_parse_rejects_unterminated_quote),
        cmocka_unit_test(test_links_parse_rejects_unterminated_target),
        cmocka_unit_test(test_links_parse_rejects_empty_links),
        cmocka_unit_test(test_links_parse_rejects_trailing_garbage),
        cmocka_unit_test(test_links_parse_diag_names_offset),
        cmocka_unit_test(test_links_parse_rejects_nul_anywhere),
        cmocka_unit_test(test_links_parse_rejects_invalid_utf8),
        cmocka_unit_test(test_links_parse_rejects_control_characters),
        cmocka_unit_test(test_links_parse_rejects_bad_target_characters),
        cmocka_unit_test(test_links_parse_rejects_bad_params),
        cmocka_unit_test(test_links_parse_leaves_out_untouched_on_failure),
        cmocka_unit_test(test_links_parse_truncates_diag_to_its_buffer),
        cmocka_unit_test(test_links_format_reproduces_input),
        cmocka_unit_test(test_links_format_drops_whitespace),
        cmocka_unit_test(test_links_format_quotes_values_that_are_not_ptokens),
        cmocka_unit_test(test_links_format_round_trips),
        cmocka_unit_test(test_links_format_reports_etoobig),
        cmocka_unit_test(test_links_check_limited_accepts_absolute_paths_and_full_uris),
        cmocka_unit_test(test_links_check_limited_rejects_relative_targets),
        cmocka_unit_test(test_links_check_limited_rejects_targets_that_are_not_uris),
        cmocka_unit_test(test_links_check_limited_rejects_a_repeated_anchor),
        cmocka_unit_test(test_links_to_limited_resolves_against_the_document),
        cmocka_unit_test(test_links_to_limited_refuses_a_base_without_scheme),
        cmocka_unit_test(test_links_check_limited_rejects_relative_anchors),
        cmocka_unit_test(test_uri_check_base_accepts_usable_bases),
        cmocka_unit_test(test_uri_check_base_rejects_unusable_bases),
        cmocka_unit_test(test_uri_check_base_explains_refusals),
        cmocka_unit_test(test_uri_check_base_rejects_nul_and_stops_at_len),
        cmocka_unit_test(test_qparam_split_splits_at_first_equals),
        cmocka_unit_test(test_qparam_split_gives_null_value_without_equals),
        cmocka_unit_test(test_qparam_split_keeps_empty_parts),
        cmocka_unit_test(test_regparams_parse_accepts_full_registration),
        cmocka_unit_test(test_regparams_parse_leaves_absent_params_empty),
        cmocka_unit_test(test_regparams_parse_accepts_update_params),
        cmocka_unit_test(test_regparams_parse_requires_ep_for_registration),
        cmocka_unit_test(test_regparams_parse_refuses_identity_in_update),
        cmocka_unit_test(test_regparams_parse_refuses_base_in_simple_registration),
        cmocka_unit_test(test_regparams_parse_refuses_lookup_params),
        cmocka_unit_test(test_regparams_parse_refuses_bad_lifetimes),
        cmocka_unit_test(test_regparams_parse_accepts_lifetime_bounds),
        cmocka_unit_test(test_regparams_parse_refuses_duplicates),
        cmocka_unit_test(test_regparams_parse_refuses_bad_names),
        cmocka_unit_test(test_regparams_parse_refuses_bad_base),
        cmocka_unit_test(test_regparams_parse_refuses_bad_extra_attributes),
        cmocka_unit_test(test_regparams_parse_leaves_out_untouched_on_failure),
        cmocka_unit_test(test_reg_decode_reverses_encode),
        cmocka_unit_test(test_reg_decode_accepts_minimal_record),
        cmocka_unit_test(test_reg_decode_reads_old_record_without_owner),
        cmocka_unit_test(test_reg_decode_reverses_encode_with_owner),
        cmocka_unit_test(test_reg_decode_reverses_encode_with_scope),
        cmocka_unit_test(test_uri_is_link_local),
        cmocka_unit_test(test_reg_head_reads_what_a_refresh_needs),
        cmocka_unit_test(test_reg_rebase_replaces_only_the_base),
        cmocka_unit_test(test_reg_decode_rejects_every_truncation),
        cmocka_unit_test(test_reg_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_reg_decode_rejects_corrupt_fields),
        cmocka_unit_test(test_reg_encode_leaves_buffer_unchanged_on_etoobig),
        cmocka_unit_test(test_reg_cleanup_accepts_zeroed_struct),
        cmocka_unit_test(test_attrs_merge_replaces_all_values_of_updated_names),
        cmocka_unit_test(test_attrs_merge_compares_names_exactly),
        cmocka_unit_test(test_attrs_merge_handles_empty_inputs),
        cmocka_unit_test(test_query_parse_reads_page_and_count),
        cmocka_unit_test(test_query_parse_accepts_count_zero),
        cmocka_unit_test(test_query_parse_accepts_uint32_bounds),
        cmocka_unit_test(test_query_parse_rejects_page_without_count),
        cmocka_unit_test(test_query_parse_rejects_bad_numbers),
        cmocka_unit_test(test_query_parse_rejects_repeated_page_or_count),
        cmocka_unit_test(test_query_parse_splits_criteria),
        cmocka_unit_test(test_query_parse_keeps_raw_bytes),
        cmocka_unit_test(test_query_parse_rejects_empty_name),
        cmocka_unit_test(test_query_parse_rejects_too_many_criteria),
        cmocka_unit_test(test_query_parse_leaves_out_untouched_on_failure),
        cmocka_unit_test(test_match_ep_matches_empty_query_and_ignores_paging),
        cmocka_unit_test(test_change_affects_ep_lookup_only_when_it_matched_before_or_after),
        cmocka_unit_test(test_change_affects_res_lookup_only_through_matching_links),
        cmocka_unit_test(
            test_change_affects_ignores_paging_and_nothing_affects_without_registrations),
        cmocka_unit_test(test_match_ep_matches_exact_prefix_and_presence),
        cmocka_unit_test(test_match_ep_matches_valueless_attribute_only_by_presence),
        cmocka_unit_test(test_match_ep_compares_values_bytewise),
        cmocka_unit_test(test_match_ep_compares_names_case_insensitively),
        cmocka_unit_test(test_match_link_filters_discovery_like_rfc6690),
        cmocka_unit_test(test_match_res_matches_any_value_of_multi_valued_attributes),
        cmocka_unit_test(test_match_res_matches_tokens_of_rfc9176_if_example),
        cmocka_unit_test(test_match_res_matches_empty_and_blank_multi_values_whole),
        cmocka_unit_test(test_match_ep_matches_any_repeated_et),
        cmocka_unit_test(test_match_ep_matches_criteria_against_links),
        cmocka_unit_test(test_match_ep_rt_of_the_endpoint_link),
        cmocka_unit_test(test_match_ep_lets_different_links_satisfy_different_criteria),
        cmocka_unit_test(test_match_res_matches_criteria_against_registration),
        cmocka_unit_test(test_uri_normalize_follows_rfc3986_section_6),
        cmocka_unit_test(test_match_ep_treats_empty_sector_as_absent),
        cmocka_unit_test(test_match_res_compares_href_with_resolved_target),
        cmocka_unit_test(test_match_res_treats_empty_path_as_slash),
        cmocka_unit_test(test_match_res_matches_registration_href),
        cmocka_unit_test(test_match_ep_accepts_href_as_path_or_full_uri),
        cmocka_unit_test(test_match_res_compares_anchor_with_resolved_anchor),
        cmocka_unit_test(test_match_res_never_matches_unresolvable_uris),
        cmocka_unit_test(test_match_res_rejects_link_index_out_of_range),
        cmocka_unit_test(test_uri_resolve_rfc3986_normal_examples),
        cmocka_unit_test(test_uri_resolve_rfc3986_abnormal_examples),
        cmocka_unit_test(test_uri_resolve_handles_registration_bases),
        cmocka_unit_test(test_uri_resolve_removes_dot_segments_of_absolute_references),
        cmocka_unit_test(test_uri_resolve_ignores_base_for_absolute_reference),
        cmocka_unit_test(test_uri_resolve_rejects_base_without_scheme),
        cmocka_unit_test(test_uri_resolve_reports_etoobig),
        cmocka_unit_test(test_format_ep_writes_rfc9176_examples),
        cmocka_unit_test(test_format_ep_writes_extra_attributes_and_never_lt),
        cmocka_unit_test(test_format_ep_escapes_quoted_strings),
        cmocka_unit_test(test_format_ep_appends_and_keeps_buffer_on_etoobig),
        cmocka_unit_test(test_format_res_resolves_rfc9176_base_change_example),
        cmocka_unit_test(test_format_res_resolves_rfc9176_et_lookup_example),
        cmocka_unit_test(test_format_res_resolves_appendix_b_anchors),
        cmocka_unit_test(test_format_res_resolves_empty_anchor_to_base),
        cmocka_unit_test(test_format_res_reports_etoobig_and_keeps_buffer),
        cmocka_unit_test(test_reg_terms_are_sorted_and_unique),
        cmocka_unit_test(test_term_weights_agree_with_the_parsed_query),
        cmocka_unit_test(test_reg_terms_skip_empty_sector_and_values),
        cmocka_unit_test(test_reg_terms_index_link_level_ep_d_and_et),
        cmocka_unit_test(test_reg_terms_keep_first_255_bytes_of_long_values),
        cmocka_unit_test(test_reg_terms_gives_none_for_bare_registration),
        cmocka_unit_test(test_reg_terms_index_owner_but_not_none),
        cmocka_unit_test(test_owner_term_refuses_none_empty_and_small_buffer),
        cmocka_unit_test(test_terms_cleanup_accepts_zeroed_struct),
        cmocka_unit_test(test_query_index_prefers_exact_then_ep_d_et_if_rt),
        cmocka_unit_test(test_query_index_lowercases_name_and_keeps_value),
        cmocka_unit_test(test_query_index_ep_skips_the_endpoint_link_rt),
        cmocka_unit_test(test_query_index_gives_enotfound_without_usable_criterion),
        cmocka_unit_test(test_query_index_reports_etoobig),
        cmocka_unit_test(test_query_index_finds_every_matching_registration),
    };

    return cmocka_run_group_tests_name("lookup", tests, NULL, NULL);
}
