/* reply.c - fuzz target: Redis replies (RESP bytes, read by hiredis's own
 * reader as both programs read them) through the reply parsers of
 * common/store.c and the renderers that consume them in common/render.c:
 * the poll batch (S_POLL, its notices too), the channel read of the poller's
 * fan-out (S_CHANNEL_READ), userinfo lists, CONFIG GET notify-keyspace-events,
 * script errors, keyspace notification names. Invariants: whatever is
 * rendered is one JSON object of valid UTF-8; every cursor handed out has
 * a position of digits; counts match the reply; flags after
 * store_notify_set cover chat lists; a keyspace name maps back to itself. */
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/cursor.h"
#include "common/errors.h"
#include "common/jbuf.h"
#include "common/render.h"
#include "common/store.h"
#include "tests/fuzz/fuzz.h"

#define SESSION "0123abcd-0000-4000-8000-00000000cafe"

/* A cursor handed out is this session's and never carries a negative
 * position (cursor_parse refuses one: the client could not pass it back).
 * The position is the last part unless ids longer than Redis makes cut the
 * text at CURSOR_MAX. */
static void check_cursor(const char *cursor)
{
    char copy[CURSOR_MAX];
    char *pos;

    FUZZ_CHECK(strncmp(cursor, SESSION, 8) == 0 && cursor[8] == '.');
    if (strlen(cursor) >= CURSOR_MAX - 1)
        return;
    memcpy(copy, cursor, strlen(cursor) + 1);
    pos = strrchr(copy, '.');
    /* a notice id (always a valid stream id) may follow the position */
    if (pos && cursor_id_valid(pos + 1)) {
        *pos = '\0';
        pos = strrchr(copy, '.');
    }
    FUZZ_CHECK(pos && pos[1] >= '0' && pos[1] <= '9');
}

static int check_item(void *ctx, const char *json, size_t len,
                      const char *cursor)
{
    (void)ctx;
    FUZZ_CHECK(fuzz_json_object(json, len));
    check_cursor(cursor);
    return 0;
}

static void check_poll(const redisReply *r)
{
    struct store_poll_result res;
    char cursor[CURSOR_MAX];
    struct jbuf b;
    long n;

    if (store_parse_poll(r, &res) != 0)
        return;
    n = render_poll_each(&res, SESSION, check_item, NULL, cursor);
    FUZZ_CHECK(n <= (long)(res.events->elements + res.notices->elements +
                           res.messages->elements));
    if (n >= 0)
        check_cursor(cursor);
    jbuf_init(&b);
    if (render_poll_json(&b, &res, SESSION) == 0)
        FUZZ_CHECK(fuzz_json_object(b.data, b.len));
    jbuf_free(&b);
}

/* As the poller's fan-out renders a channel read (poller/fanout.c). */
static void check_channel_read(const redisReply *r)
{
    struct store_channel_result res;
    struct user_map m = {0};
    struct jbuf b;

    if (store_parse_channel_read(r, &res) != 0 ||
        user_map_load(&m, res.userinfo) != 0)
        return;
    jbuf_init(&b);
    for (size_t i = 0; i < res.messages->elements; i++) {
        const redisReply *msg = res.messages->element[i];
        jbuf_reset(&b);
        if (msg->type == REDIS_REPLY_STRING &&
            render_pushed_message(&b, msg->str, msg->len, &m) == 0)
            FUZZ_CHECK(fuzz_json_object(b.data, b.len));
    }
    jbuf_free(&b);
    user_map_free(&m);
}

static void check_userinfo(const redisReply *r)
{
    struct store_user *v;
    long n = store_parse_userinfo(r, &v);

    if (n < 0) {
        FUZZ_CHECK(!v);
        return;
    }
    FUZZ_CHECK((size_t)n * 3 == r->elements);
    for (long i = 0; i < n; i++)
        FUZZ_CHECK(v[i].uuid != NULL);
    free(v);
}

static void check_notify(const redisReply *r)
{
    char flags[STORE_NOTIFY_FLAGS_MAX];
    struct store_call c;

    if (store_notify_parse(r, flags, sizeof flags) != 0)
        return;
    FUZZ_CHECK(strlen(flags) < sizeof flags);
    store_notify_set(&c, flags);
    FUZZ_CHECK(c.argc == 4 && store_notify_covers(c.keybuf));
}

static void check_error(const redisReply *r)
{
    struct chat_error e = {0};
    enum chat_err err;

    if (r->type != REDIS_REPLY_ERROR)
        return;
    (void)store_reply_noscript(r);
    err = store_reply_error(r, &e);
    FUZZ_CHECK(err > CHAT_OK && err < CHAT_E__MAX && e.err == err);
    FUZZ_CHECK(e.retry_after >= 0);
}

/* [pmessage, pattern, channel, payload]: the channel of a list write. */
static void check_keyspace(const redisReply *r)
{
    char back[STORE_KEY_MAX];
    const char *name, *ch;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    name = r->element[2]->str;
    ch = store_keyspace_channel_of(name, 0);
    if (!ch)
        return;
    FUZZ_CHECK(ch > name && *ch && ch <= name + strlen(name));
    if (store_keyspace_name(back, sizeof back, 0, ch) == 0)
        FUZZ_CHECK(strcmp(back, name) == 0);
}

/* hiredis 0.14 allocates an array's declared count before its elements
 * arrive (it trusts the server): a count beyond what the input could hold
 * is an allocation test of hiredis, not of this code. */
static int counts_fit(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        size_t v = 0;

        if (data[i] != '*')
            continue;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9';
             j++) {
            v = v * 10 + (size_t)(data[j] - '0');
            if (v > size)
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd;
    void *reply;

    if (!counts_fit(data, size))
        return 0;
    rd = redisReaderCreate();
    FUZZ_CHECK(rd);
    if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
        goto out;
    while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        const redisReply *r = reply;
        check_poll(r);
        check_channel_read(r);
        check_userinfo(r);
        check_notify(r);
        check_error(r);
        check_keyspace(r);
        freeReplyObject(reply);
    }
out:
    redisReaderFree(rd);
    return 0;
}
