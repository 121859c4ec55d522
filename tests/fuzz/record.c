/* record.c - fuzz target: one stored element as Redis hands it back, read
 * the ways common/render.c reads them: a users list record
 * (user_record_parse for sign-in and --migrate, user_record_names for the
 * users list) and a channelMessages element (render_message and the push
 * object). Invariants: names come out NUL-free where C strings are
 * promised, a UUID is 36 bytes, a name points into the record or into
 * the owned copy; every rendered message is one JSON object of valid
 * UTF-8, and a refused one leaves the buffer as it was. */
#include <string.h>

#include "common/jbuf.h"
#include "common/render.h"
#include "tests/fuzz/fuzz.h"

/* The sender of the seed messages, so Sender/Recipient get rendered. */
static struct store_user known = {
    .uuid = "00000000-0000-4000-8000-000000000001",
    .name = "ana <&>",
    .name_len = 7,
    .online = 1,
};

static void check_parse(const char *json, size_t len)
{
    char *uuid, *name, *pw;

    if (user_record_parse(json, len, &uuid, &name, &pw) == 0) {
        FUZZ_CHECK(uuid && name && pw);
        free(uuid);
        free(name);
        free(pw);
    } else {
        FUZZ_CHECK(!uuid && !name && !pw);
    }
    if (user_record_parse(json, len, &uuid, &name, NULL) == 0) {
        FUZZ_CHECK(uuid && name);
        free(uuid);
        free(name);
    }
}

static void check_names(const char *json, size_t len)
{
    char uuid[37], *owned;
    const char *name;
    size_t name_len;

    if (user_record_names(json, len, uuid, &name, &name_len, &owned) != 0) {
        FUZZ_CHECK(!owned);
        return;
    }
    FUZZ_CHECK(strlen(uuid) == 36);
    if (owned)
        FUZZ_CHECK(name == owned && name_len == strlen(owned));
    else
        FUZZ_CHECK(name >= json && name + name_len <= json + len);
    free(owned);
}

static void check_message(const char *stored, size_t len,
                          const struct user_map *m)
{
    struct jbuf b;
    size_t mark;

    jbuf_init(&b);
    if (render_message(&b, stored, len, m) == 0)
        FUZZ_CHECK(!jbuf_failed(&b) && fuzz_json_object(b.data, b.len));
    jbuf_reset(&b);
    jbuf_cstr(&b, "[");
    mark = b.len;
    if (render_pushed_message(&b, stored, len, m) == 0)
        FUZZ_CHECK(fuzz_json_object(b.data + mark, b.len - mark));
    else
        FUZZ_CHECK(b.len == mark && strcmp(b.data, "[") == 0);
    jbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct user_map m = {.v = &known, .n = 1};

    if (size > 1 << 20) /* json-c takes an int length */
        return 0;
    check_parse(s, size);
    check_names(s, size);
    check_message(s, size, NULL);
    check_message(s, size, &m);
    return 0;
}
