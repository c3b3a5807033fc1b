/* Unit tests for lookup/: link-format (RFC 6690 section 2), registration data (RFC 9176 sec. 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    assert_refused(LOOKUP_REG_CREATE, "href=/rd/1", "href is not a registration parameter");
    assert_refused(LOOKUP_REG_UPDATE, "anchor=/x", "anchor is not a registration parameter");
    assert_refused(LOOKUP_REG_SIMPLE, "rt=core.rd-ep", "rt is not a registration parameter");
    assert_refused(LOOKUP_REG_CREATE, "rt", "rt is not a registration parameter");
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
        { "version 2", { 2, 0, 0, 0, 0, 0 }, 6 },
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
        cmocka_unit_test(test_reg_decode_rejects_every_truncation),
        cmocka_unit_test(test_reg_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_reg_decode_rejects_corrupt_fields),
        cmocka_unit_test(test_reg_encode_leaves_buffer_unchanged_on_etoobig),
        cmocka_unit_test(test_reg_cleanup_accepts_zeroed_struct),
        cmocka_unit_test(test_attrs_merge_replaces_all_values_of_updated_names),
        cmocka_unit_test(test_attrs_merge_compares_names_exactly),
        cmocka_unit_test(test_attrs_merge_handles_empty_inputs),
    };

    return cmocka_run_group_tests_name("lookup", tests, NULL, NULL);
}
