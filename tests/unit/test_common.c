/* test_common.c - unit checks of common/ pieces that need no server: Go's
 * JSON escaping, strict UTF-8, field checks, cursors, the error and
 * HTTP status tables.
 * Prints one line per failed check and "N checks, M failed"; exit 1 on
 * any failure. Run from tests/unit.bats. */
#include <stdio.h>
#include <string.h>

#include "common/cursor.h"
#include "common/errors.h"
#include "common/http.h"
#include "common/jbuf.h"
#include "common/names.h"
#include "common/pollreq.h"
#include "common/store.h"
#include "common/proto.h"
#include "common/utf8.h"

#include "tests/unit/check.h"

/* jbuf_str of s equals want (Go's encoding/json bytes). */
static int escapes_as(const char *s, size_t n, const char *want)
{
    struct jbuf b;
    int ok;

    jbuf_init(&b);
    jbuf_str(&b, s, n);
    ok = !jbuf_failed(&b) && strcmp(b.data, want) == 0;
    if (!ok)
        printf("  got %s want %s\n", b.data ? b.data : "(null)", want);
    jbuf_free(&b);
    return ok;
}

static void test_go_escaping(void)
{
    CHECK(escapes_as("plain", 5, "\"plain\""));
    CHECK(escapes_as("<b>&amp;", 8, "\"\\u003cb\\u003e\\u0026amp;\""));
    CHECK(escapes_as("q\"\\", 3, "\"q\\\"\\\\\""));
    CHECK(escapes_as("\n\r\t", 3, "\"\\n\\r\\t\""));
    CHECK(escapes_as("\x01\x1f", 2, "\"\\u0001\\u001f\""));
    CHECK(escapes_as("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\""));
    CHECK(escapes_as("\xc3\xa9\xf0\x9f\x98\x80", 6,
                     "\"\xc3\xa9\xf0\x9f\x98\x80\"")); /* raw UTF-8 */
    CHECK(escapes_as("a\xffz", 3, "\"a\\ufffdz\""));   /* invalid byte */
    CHECK(escapes_as("/", 1, "\"/\"")); /* Go does not escape '/' */
    CHECK(escapes_as("nul\0x", 5, "\"nul\\u0000x\""));
}

static void test_utf8(void)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("\xc3\xa9", 2));
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!utf8_valid("\xe2\x82", 2));         /* truncated */
    CHECK(utf8_is_space(0x3000) && utf8_is_space(' ') && !utf8_is_space('x'));
}

static void test_fields(void)
{
    struct chat_error e = {0};
    char out[80], uuid[37];

    CHECK(proto_username("  bob  ", 7, out, sizeof out, &e) == CHAT_OK &&
          strcmp(out, "bob") == 0);
    CHECK(proto_username("\xe3\x80\x80zo\xc3\xab\xe3\x80\x80", 10, out,
                         sizeof out, &e) == CHAT_OK &&
          strcmp(out, "zo\xc3\xab") == 0); /* Unicode spaces trimmed */
    CHECK(proto_username("a\x7f", 2, out, sizeof out, &e) ==
          CHAT_E_BAD_USERNAME);
    CHECK(proto_username("a\xc2\x85z", 4, out, sizeof out, &e) ==
          CHAT_E_BAD_USERNAME); /* C1 control */
    CHECK(proto_username("   ", 3, out, sizeof out, &e) == CHAT_E_BAD_USERNAME);
    CHECK(proto_message(" \xe3\x80\x80 ", 5, &e) == CHAT_E_BAD_MESSAGE);
    CHECK(proto_message(" hi ", 4, &e) == CHAT_OK);
    CHECK(proto_uuid("A6CF76FE-2A65-46A1-8BE7-270A28C0035A", "u", uuid, &e) ==
              CHAT_OK &&
          strcmp(uuid, "a6cf76fe-2a65-46a1-8be7-270a28c0035a") == 0);
    CHECK(proto_uuid("a6cf76fe-2a65-46a1-8be7-270a28c0035", "u", uuid, &e) ==
          CHAT_E_BAD_UUID);
    CHECK(proto_uuid("a6cf76fe-2a65-46a1-8be7-270a28c0035aa", "u", uuid, &e) ==
          CHAT_E_BAD_UUID);
}

static void test_parse(void)
{
    struct chat_request r;
    struct chat_error e = {0};
    const char *ok = "{\"TYPE\":\"users\",\"AccessKey\":\"k\",\"SUUID\":\"s\"}";

    CHECK(proto_parse(ok, strlen(ok), &r, &e) == CHAT_OK &&
          strcmp(r.type, "users") == 0 && strcmp(r.key, "k") == 0 &&
          strcmp(r.session, "s") == 0);
    proto_request_free(&r);
    CHECK(proto_parse("{\"type\":\"a\"} x", 15, &r, &e) == CHAT_E_BAD_JSON);
    CHECK(proto_parse("[1]", 3, &r, &e) == CHAT_E_BAD_JSON);
    CHECK(proto_parse("{\"type\":1}", 10, &r, &e) == CHAT_E_FIELD_TYPE);
    CHECK(proto_parse("{}", 2, &r, &e) == CHAT_E_NO_TYPE);
    CHECK(proto_parse("{\"type\":\"\xff\"}", 11, &r, &e) == CHAT_E_BAD_UTF8);
    /* RFC 8259 strictly: json-c alone takes these */
    static const char *const bad[] = {
        "{\"type\":\"users\",\"x\":NaN}",
        "{\"type\":\"users\",\"x\":Infinity}",
        "{\"type\":\"users\",\"x\":-Infinity}",
        "{\"type\":\"users\",\"x\":1.}",
        "{\"type\":\"users\",\"x\":.5}",
        "{\"type\":\"users\",\"x\":01}",
        "{\"type\":\"users\",\"x\":+1}",
        "{\"type\":\"users\",\"x\":1e}",
        "{\"type\":\"users\",\"x\":\"a\nb\"}", /* raw control in a string */
        "{\"type\":\"users\",\"x\":\"\t\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(proto_parse(bad[i], strlen(bad[i]), &r, &e) == CHAT_E_BAD_JSON);
        proto_request_free(&r);
    }
    static const char *const good[] = {
        "{\"type\":\"users\",\"x\":[0,-1.5e+3,2E-2,true,false,null]}",
        "{\"type\":\"users\",\"x\":\"NaN 1. \\\" Infinity\"}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(proto_parse(good[i], strlen(good[i]), &r, &e) == CHAT_OK);
        proto_request_free(&r);
    }
}

static void test_cursor(void)
{
    const char *s = "a6cf76fe-2a65-46a1-8be7-270a28c0035a";
    char text[CURSOR_MAX];
    struct cursor c;
    struct chat_error e = {0};

    cursor_format(text, s, "1795863802568-3", "2", 41, "", "");
    CHECK(strcmp(text, "a6cf76fe.1795863802568-3.2.41") == 0);
    CHECK(cursor_parse(text, s, &c, &e) == CHAT_OK &&
          strcmp(c.sys, "1795863802568-3") == 0 && strcmp(c.jn, "2") == 0 &&
          c.pos == 41);
    CHECK(cursor_parse("b6cf76fe.1-0.1.1", s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.", s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1.1.1", s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1x", s, &c, &e) == CHAT_E_BAD_CURSOR);
    /* stream id parts past 2^64 - 1 would be refused by Redis */
    CHECK(cursor_parse("a6cf76fe.99999999999999999999-0.1.0", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.18446744073709551616-0.1.0", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-184467440737095516150.1.0", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.18446744073709551615-18446744073709551615.1.0",
                       s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.18446744073709551615-18446744073709551614.1.0",
                       s, &c, &e) == CHAT_OK);
    /* the notice id: optional (cursors from before it), a stream id */
    CHECK(c.nid[0] == '\0');
    cursor_format(text, s, "1795863802568-3", "2", 41, "", "1795863802999-0");
    CHECK(strcmp(text, "a6cf76fe.1795863802568-3.2.41.1795863802999-0") == 0);
    CHECK(cursor_parse(text, s, &c, &e) == CHAT_OK && c.pos == 41 &&
          strcmp(c.nid, "1795863802999-0") == 0);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1.", s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1.2", s, &c, &e) == CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1.2-0x", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1.2-0.3-0", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1.18446744073709551615-"
                       "18446744073709551615",
                       s, &c, &e) == CHAT_E_BAD_CURSOR);
    /* the check of the element before pos: optional, 8 lowercase hex */
    CHECK(c.chk[0] == '\0');
    cursor_format(text, s, "1-0", "2", 41, "0a1b2c3d", "5-0");
    CHECK(strcmp(text, "a6cf76fe.1-0.2.41~0a1b2c3d.5-0") == 0);
    CHECK(cursor_parse(text, s, &c, &e) == CHAT_OK && c.pos == 41 &&
          strcmp(c.chk, "0a1b2c3d") == 0 && strcmp(c.nid, "5-0") == 0);
    cursor_format(text, s, "1-0", "2", 41, "0a1b2c3d", "");
    CHECK(cursor_parse(text, s, &c, &e) == CHAT_OK &&
          strcmp(c.chk, "0a1b2c3d") == 0 && c.nid[0] == '\0');
    CHECK(cursor_parse("a6cf76fe.1-0.1.1~0A1B2C3D", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1~0a1b2c3", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1~0a1b2c3d0", s, &c, &e) ==
          CHAT_E_BAD_CURSOR);
    CHECK(cursor_parse("a6cf76fe.1-0.1.1~", s, &c, &e) == CHAT_E_BAD_CURSOR);
}

static void test_errors(void)
{
    struct chat_error e = {0};
    struct jbuf b;
    int retry = 0;

    for (int i = 1; i < CHAT_E__MAX; i++) {
        char fixed[CHAT_ERROR_FIXED_MAX];
        CHECK(chat_err_status((enum chat_err)i) >= 400);
        CHECK(chat_err_text((enum chat_err)i) != NULL);
        /* the allocation-free body is the same bytes */
        jbuf_init(&b);
        chat_fail(&e, (enum chat_err)i, NULL);
        chat_error_json(&b, &e);
        CHECK(chat_error_json_fixed((enum chat_err)i, fixed, sizeof fixed) ==
                  b.len &&
              memcmp(fixed, b.data, b.len) == 0);
        jbuf_free(&b);
    }
    CHECK(chat_error_json_fixed(CHAT_E_INTERNAL, (char[8]){0}, 8) == 0);
    CHECK(chat_err_from_script("CHAT429:rate 7", &retry) == CHAT_E_MSG_RATE &&
          retry == 7);
    CHECK(chat_err_from_script("CHAT401:keyx", &retry) == CHAT_E_INTERNAL);
    jbuf_init(&b);
    chat_fail(&e, CHAT_E_WRONG_PASSWORD, NULL);
    chat_error_json(&b, &e);
    CHECK(strcmp(b.data, "{\"type\":\"error\",\"error\":{\"code\":4,\"error\":"
                         "\"wrong password\",\"message\":\"wrong "
                         "password\"}}") == 0);
    jbuf_free(&b);
}

/* The poll timeout: 0..55, cut to the host's longest hold. */
static void test_poll_hold(void)
{
    struct pollreq p;
    struct chat_error e = {0};
    struct pollreq_in in = {.session = "0b9c5f8e-8c1f-4bb1-9a51-0c2f0b1d2e3f",
                            .key = "k",
                            .timeout = "45",
                            .max_hold = 30};

    CHECK(pollreq_parse(&in, &p, &e) == CHAT_OK && p.timeout == 30);
    in.timeout = NULL; /* the default, 25, is under the cap */
    CHECK(pollreq_parse(&in, &p, &e) == CHAT_OK && p.timeout == 25);
    in.max_hold = 10;
    CHECK(pollreq_parse(&in, &p, &e) == CHAT_OK && p.timeout == 10);
    in.timeout = "56";
    CHECK(pollreq_parse(&in, &p, &e) == CHAT_E_BAD_PARAM &&
          strcmp(e.detail, "timeout must be an integer 0..55") == 0);
    /* the key cap is PROTO_KEY_MAX bytes, on /poll as on /api */
    in.timeout = NULL;
    in.key = "0123456789012345678901234567890123456789012345678901234567890123";
    CHECK(strlen(in.key) == PROTO_KEY_MAX &&
          pollreq_parse(&in, &p, &e) == CHAT_OK);
    in.key =
        "01234567890123456789012345678901234567890123456789012345678901234";
    CHECK(pollreq_parse(&in, &p, &e) == CHAT_E_BAD_KEY);
}

/* Keyspace names and notify flags (the Go order's wake). */
static void test_keyspace(void)
{
    char name[STORE_KEY_MAX];
    struct store_call c;

    CHECK(store_keyspace_name(name, sizeof name, 3, "public") == 0 &&
          strcmp(name, "__keyspace@3__:channelMessages.public") == 0);
    CHECK(strcmp(store_keyspace_channel_of(name, 3), "public") == 0);
    CHECK(store_keyspace_channel_of(name, 0) == NULL);
    CHECK(store_keyspace_channel_of("__keyspace@3__:channelMessages.", 3) ==
          NULL);
    CHECK(store_notify_covers("KEl") && store_notify_covers("AK") &&
          !store_notify_covers("Ex") && !store_notify_covers("El"));
    store_notify_set(&c, "Ex");
    CHECK(c.argc == 4 && strcmp(c.argv[3], "ExKl") == 0);
    store_notify_set(&c, "KA");
    CHECK(c.argc == 4 && strcmp(c.argv[3], "KA") == 0);
}

/* The keys of a and b share one (the names are confusable). */
static int confusable(const char *a, const char *b)
{
    char ka[NAMES_KEYS_MAX][33], kb[NAMES_KEYS_MAX][33];
    int na = names_keys(a, strlen(a), ka), nb = names_keys(b, strlen(b), kb);

    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (strcmp(ka[i], kb[j]) == 0)
                return 1;
    return 0;
}

static enum chat_err visible(const char *s, struct chat_error *e)
{
    return names_check_visible(s, strlen(s), e);
}

/* NFC, the visibility rule and confusable keys (common/names.c, ICU). */
static void test_names(void)
{
    struct chat_error e = {0};
    char out[80], sk[80];
    char k[NAMES_KEYS_MAX][33];

    CHECK(names_nfc("e\xcc\x81", 3, out, sizeof out, 64, &e) == CHAT_OK &&
          strcmp(out, "\xc3\xa9") == 0); /* NFD e + U+0301 -> U+00E9 */
    CHECK(names_nfc("\xc3\xa9", 2, out, sizeof out, 64, &e) == CHAT_OK &&
          strcmp(out, "\xc3\xa9") == 0);
    CHECK(names_nfc("\xe2\x84\xab", 3, out, sizeof out, 64, &e) == CHAT_OK &&
          strcmp(out, "\xc3\x85") == 0); /* ANGSTROM SIGN -> A-ring */
    CHECK(names_nfc("abc", 3, out, sizeof out, 2, &e) == CHAT_E_BAD_USERNAME);
    CHECK(names_nfc("abc", 3, out, 3, 64, &e) == CHAT_E_BAD_USERNAME);
    /* U+0958 has no composed form: NFC makes it longer */
    CHECK(names_nfc("\xe0\xa5\x98", 3, out, sizeof out, 64, &e) == CHAT_OK &&
          strcmp(out, "\xe0\xa4\x95\xe0\xa4\xbc") == 0);

    CHECK(visible("alice", &e) == CHAT_OK);
    CHECK(visible("zo\u00eb \u592a", &e) == CHAT_OK);
    CHECK(visible("alice\u200b", &e) == CHAT_E_BAD_USERNAME &&
          strstr(e.detail, "U+200B"));
    /* bidi controls, each closed (PDF, PDI) so that the source stays
     * readable: refused for what they hold */
    CHECK(visible("\u202emallory\u202c", &e) == CHAT_E_BAD_USERNAME); /* RLO */
    CHECK(visible("x\u2066y\u2069", &e) == CHAT_E_BAD_USERNAME);      /* LRI */
    CHECK(visible("\ufeffa", &e) == CHAT_E_BAD_USERNAME);             /* BOM */
    CHECK(visible("a\u00adb", &e) == CHAT_E_BAD_USERNAME); /* soft hyphen */
    CHECK(visible("\u3164", &e) == CHAT_E_BAD_USERNAME);   /* Hangul filler */
    CHECK(visible("a\ufe0f", &e) == CHAT_E_BAD_USERNAME);  /* VS16 */

    CHECK(names_skeleton("Alice", 5, sk, sizeof sk) == 0 &&
          strcmp(sk, "alice") == 0);
    CHECK(names_skeleton("\u0430lice", 6, sk, sizeof sk) == 0 &&
          strcmp(sk, "alice") == 0); /* Cyrillic a */
    CHECK(names_skeleton("\uff41\uff4c\uff49\uff43\uff45", 15, sk, sizeof sk) ==
              0 &&
          strcmp(sk, "alice") == 0); /* fullwidth */
    CHECK(names_skeleton("Alice", 5, sk, 3) == -1);
    CHECK(confusable("alice", "Alice") && confusable("alice", "ALICE"));
    CHECK(confusable("alice", "aIice"));    /* capital I, small l */
    CHECK(confusable("bob0", "BOBO"));      /* digit zero */
    CHECK(confusable("e\u0301", "\u00c9")); /* NFD e-acute, E-acute */
    CHECK(confusable("stra\u00dfe", "STRASSE"));
    CHECK(!confusable("alice", "alicia") && !confusable("bob", "rob"));
    CHECK(names_keys("alice", 5, k) == 1);
    CHECK(names_keys("Ian", 3, k) == 2 && strcmp(k[0], k[1]) != 0);
    /* a Go record may hold anything: invalid bytes still give keys */
    CHECK(names_keys("a\xff", 2, k) == 1);
}

/* The headers http_status_headers gave, "Name: value;" each. */
static void collect(void *ctx, const char *name, const char *value)
{
    char *out = ctx;
    size_t n = strlen(out);

    snprintf(out + n, 128 - n, "%s: %s;", name, value);
}

static int status_headers_are(int status, const char *allow, int retry,
                              const char *want)
{
    char got[128] = "";

    http_status_headers(status, allow, retry, collect, got);
    return strcmp(got, want) == 0;
}

static void test_http_status(void)
{
    CHECK(strcmp(http_reason(405), "Method Not Allowed") == 0);
    CHECK(strcmp(http_reason(418), "Error") == 0);
    CHECK(!http_status_has_body(204) && http_status_has_body(200) &&
          http_status_has_body(405));
    CHECK(status_headers_are(405, "GET, HEAD, OPTIONS", 0,
                             "Allow: GET, HEAD, OPTIONS;"));
    CHECK(status_headers_are(204, "POST, OPTIONS", 0, "Allow: POST, OPTIONS;"));
    CHECK(status_headers_are(405, NULL, 0, ""));
    CHECK(status_headers_are(200, "POST", 3, "")); /* neither belongs */
    CHECK(status_headers_are(429, NULL, 0, "Retry-After: 1;"));
    CHECK(status_headers_are(503, "GET", 7, "Retry-After: 7;"));
}

static void test_http_head(void)
{
    char buf[64];
    struct http_head h = {.buf = buf, .n = sizeof buf};
    const char *want = "HTTP/1.1 503 Service Unavailable\r\nA: b\r\n\r\n";

    http_head_status_line(&h, 503);
    http_head_add(&h, "A", "b");
    CHECK(http_head_end(&h) == (int)strlen(want) && strcmp(buf, want) == 0);
    h = (struct http_head){.buf = buf, .n = sizeof buf};
    http_head_add(&h, "Long", "0123456789012345678901234567890123456789");
    http_head_add(&h, "More", "0123456789"); /* does not fit: h fails */
    http_head_add(&h, "X", "y");             /* and stays failed */
    CHECK(http_head_end(&h) == -1);
}

int main(void)
{
    if (names_init()) {
        printf("names_init failed\n");
        return 1;
    }
    test_go_escaping();
    test_utf8();
    test_fields();
    test_parse();
    test_cursor();
    test_errors();
    test_http_status();
    test_http_head();
    test_poll_hold();
    test_keyspace();
    test_names();
    names_cleanup();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
