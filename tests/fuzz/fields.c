/* fields.c - fuzz target: raw bytes through common/utf8.c and the field
 * checks of common/proto.c that take bytes (username, message, UUID).
 * Invariants: utf8_valid agrees with an independent decoder (the table of
 * well-formed sequences, Unicode 15 §3.9 table 3-7); utf8_next gives back
 * a code point that encodes to the same bytes; an accepted username is
 * valid UTF-8, trimmed, without control characters; an accepted UUID is
 * canonical lowercase. */
#include <string.h>

#include "common/proto.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

/* Length of the well-formed sequence at s, 0 when there is none. */
static size_t table_seq(const uint8_t *s, size_t n)
{
    uint8_t lo = 0x80, hi = 0xbf, c = s[0];
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

static int table_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0, l; i < n; i += l) {
        l = table_seq(s + i, n - i);
        if (!l)
            return 0;
    }
    return 1;
}

/* The UTF-8 bytes of cp into out; returns their count. */
static size_t encode(unsigned cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static void check_utf8(const uint8_t *s, size_t n)
{
    uint8_t enc[4];
    unsigned cp;

    FUZZ_CHECK(!utf8_valid((const char *)s, n) == !table_valid(s, n));
    for (size_t i = 0, l; i < n; i += l ? l : 1) {
        l = utf8_next(s + i, n - i, &cp);
        FUZZ_CHECK(l == table_seq(s + i, n - i));
        if (l)
            FUZZ_CHECK(encode(cp, enc) == l && memcmp(enc, s + i, l) == 0);
    }
}

static void check_username(const char *s, size_t n)
{
    char out[PROTO_USERNAME_MAX + 1];
    struct chat_error e;
    unsigned cp;
    size_t len, l;

    if (proto_username(s, n, out, sizeof out, &e) != CHAT_OK)
        return;
    len = strlen(out);
    FUZZ_CHECK(len >= 1 && len <= PROTO_USERNAME_MAX && utf8_valid(out, len));
    l = utf8_next((const unsigned char *)out, len, &cp);
    FUZZ_CHECK(l && !utf8_is_space(cp)); /* trimmed at the start */
    for (size_t i = 0; i < len; i += l) {
        l = utf8_next((const unsigned char *)out + i, len - i, &cp);
        FUZZ_CHECK(l && cp >= 0x20 && (cp < 0x7f || cp > 0x9f));
    }
    FUZZ_CHECK(!utf8_is_space(cp)); /* and at the end */
}

static void check_uuid(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char out[37];
    struct chat_error e;

    if (proto_uuid(s, "field", out, &e) == CHAT_OK) {
        FUZZ_CHECK(strlen(s) == UUID_LEN && strlen(out) == UUID_LEN);
        for (size_t i = 0; i < UUID_LEN; i++)
            FUZZ_CHECK(out[i] == '-' || (out[i] >= '0' && out[i] <= '9') ||
                       (out[i] >= 'a' && out[i] <= 'f'));
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct chat_error e;

    check_utf8(data, size);
    check_username(s, size);
    if (proto_message(s, size, &e) == CHAT_OK)
        FUZZ_CHECK(size >= 1 && size <= PROTO_MESSAGE_MAX);
    check_uuid(data, size);
    return 0;
}
