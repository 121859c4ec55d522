/* store.c - the data model: the Lua scripts of common/lua/, their argv
 * builders and reply parsers. Key names are built here and in those
 * scripts, nowhere else.
 * Scripts compute key names from ARGV (standalone Redis; not Cluster-safe,
 * like the original's keys). ARGV[1..3] are always key TTL, session TTL and
 * the events stream length; operation arguments start at ARGV[4]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/sha1.h>

#include "common/cursor.h"
#include "common/store.h"
#include "lua_scripts.h" /* generated from common/lua/ */

/* The text Redis runs: common/lua/<name>.lua in the prelude's frame
 * (tools/lua2c.sh; its layout in common/lua/prelude.lua). */
struct script {
    const unsigned char *text;
    size_t len;
};

_Static_assert(LUA_SCRIPT_COUNT == S__MAX,
               "one common/lua/ file per enum store_script");

static const struct script scripts[S__MAX] = {
    [S_READY] = {lua_ready, sizeof lua_ready},
    [S_USER_BY_NAME] = {lua_user_by_name, sizeof lua_user_by_name},
    [S_SIGNIN_FAIL] = {lua_signin_fail, sizeof lua_signin_fail},
    [S_SIGNIN_REFUND] = {lua_signin_refund, sizeof lua_signin_refund},
    [S_SIGNIN] = {lua_signin, sizeof lua_signin},
    [S_SIGNOUT] = {lua_signout, sizeof lua_signout},
    [S_JOIN] = {lua_join, sizeof lua_join},
    [S_LEAVE] = {lua_leave, sizeof lua_leave},
    [S_MESSAGE] = {lua_message, sizeof lua_message},
    [S_POLL] = {lua_poll, sizeof lua_poll},
    [S_CHANNEL_READ] = {lua_channel_read, sizeof lua_channel_read},
    [S_AUTH] = {lua_auth, sizeof lua_auth},
    [S_PW_MOVE] = {lua_pw_move, sizeof lua_pw_move},
    [S_HOLD_TAKE] = {lua_hold_take, sizeof lua_hold_take},
    [S_SKEL_TAIL] = {lua_skel_tail, sizeof lua_skel_tail},
    [S_SKEL_ADD] = {lua_skel_add, sizeof lua_skel_add},
    [S_UNREAD] = {lua_unread, sizeof lua_unread},
};

/* SHA1 hex of each script text, as EVALSHA wants it. */
static char shas[S__MAX][41];

static void sha1_hex(const unsigned char *text, size_t len, char out[41])
{
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];

    sha1_init(&ctx);
    sha1_update(&ctx, len, text);
    sha1_digest(&ctx, sizeof d, d);
    base16_encode_update(out, sizeof d, d); /* lowercase hex */
    out[40] = '\0';
}

int store_init(void)
{
    for (int i = 0; i < S__MAX; i++)
        sha1_hex(scripts[i].text, scripts[i].len, shas[i]);
    return 0;
}

/* A builder with more arguments (or numbers) than fit is a bug: stop in
 * every build, NDEBUG too, rather than send a command short of them. */
static void arg(struct store_call *c, const char *s, size_t n)
{
    if (c->argc >= STORE_ARGS_MAX)
        abort();
    c->argv[c->argc] = s;
    c->argvlen[c->argc] = n;
    c->argc++;
}

static void arg_str(struct store_call *c, const char *s)
{
    arg(c, s ? s : "", s ? strlen(s) : 0);
}

static void arg_long(struct store_call *c, long v)
{
    char *buf;
    int n;

    if (c->nums >= (int)(sizeof c->numbuf / sizeof c->numbuf[0]))
        abort();
    buf = c->numbuf[c->nums++];
    n = snprintf(buf, sizeof c->numbuf[0], "%ld", v);
    arg(c, buf, (size_t)n);
}

/* EVALSHA sha 0 key_ttl session_ttl maxlen ... */
static void begin(struct store_call *c, enum store_script s,
                  const struct config *cfg)
{
    memset(c, 0, sizeof *c);
    c->script = s;
    arg_str(c, "EVALSHA");
    arg(c, shas[s], 40);
    arg_str(c, "0");
    arg_long(c, cfg ? cfg->key_ttl : 1);
    arg_long(c, cfg ? cfg->session_ttl : 1);
    arg_long(c, cfg ? cfg->events_maxlen : 10);
}

/* A command that is no script (LLEN, MGET, PING, CONFIG ...). */
static void begin_plain(struct store_call *c)
{
    memset(c, 0, sizeof *c);
    c->script = S_PLAIN;
}

void store_call_use_eval(struct store_call *c)
{
    /* only EVALSHA gets NOSCRIPT; whatever a server answers to a plain
     * command, there is no script to send */
    if (c->script == S_PLAIN)
        return;
    c->argv[0] = "EVAL";
    c->argvlen[0] = 4;
    c->argv[1] = (const char *)scripts[c->script].text;
    c->argvlen[1] = scripts[c->script].len;
}

int store_reply_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, "NOSCRIPT", 8) == 0;
}

enum chat_err store_reply_error(const redisReply *r, struct chat_error *e)
{
    int retry = 0;
    enum chat_err err;

    const char *text;

    if (!r)
        return chat_fail(e, CHAT_E_REDIS, NULL);
    /* Redis prefixes "ERR " to script errors whose first word has no
     * space-separated code. */
    text = strncmp(r->str, "ERR ", 4) == 0 ? r->str + 4 : r->str;
    if (strncmp(text, "CHAT", 4) != 0) {
        /* LOADING, OOM, READONLY, BUSY, MASTERDOWN...: the store is not
         * usable now; the client retries. */
        e->retry_after = 1;
        return chat_fail(e, CHAT_E_REDIS, NULL);
    }
    err = chat_err_from_script(text, &retry);
    e->retry_after = retry > 0 ? retry : 0;
    return chat_fail(e, err, NULL);
}

void store_ready(struct store_call *c, const struct config *cfg,
                 const char *session)
{
    begin(c, S_READY, cfg);
    arg_str(c, session);
}

void store_user_by_name(struct store_call *c, const struct store_name *n,
                        int fail_limit, const char *addr)
{
    begin(c, S_USER_BY_NAME, NULL);
    arg_str(c, n->md5);
    arg_long(c, fail_limit);
    arg_str(c, addr);
    arg_str(c, n->typed_md5);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, i < n->nskel ? n->skel[i] : "");
}

void store_signin_refund(struct store_call *c, const char *md5,
                         const char *addr)
{
    begin(c, S_SIGNIN_REFUND, NULL);
    arg_str(c, md5);
    arg_str(c, addr);
}

void store_signin_fail(struct store_call *c, const char *md5)
{
    begin(c, S_SIGNIN_FAIL, NULL);
    arg_str(c, md5);
}

void store_signin(struct store_call *c, const struct config *cfg,
                  const struct store_signin_args *a)
{
    begin(c, S_SIGNIN, cfg);
    arg_str(c, a->uid);
    arg_str(c, a->name);
    arg_str(c, a->md5);
    arg_str(c, a->user_json);
    arg_str(c, a->key);
    arg_str(c, a->session);
    arg_str(c, a->pw_hash);
    arg_str(c, a->old_json);
    arg_str(c, a->addr);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, a->skel && i < a->skel->nskel ? a->skel->skel[i] : "");
}

void store_skel_tail(struct store_call *c, long count)
{
    begin(c, S_SKEL_TAIL, NULL);
    arg_long(c, count);
}

void store_skel_add(struct store_call *c, long pos, const char *uid,
                    const struct store_name *n)
{
    begin(c, S_SKEL_ADD, NULL);
    arg_long(c, pos);
    arg_str(c, uid);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, n && i < n->nskel ? n->skel[i] : "");
}

void store_pw_move(struct store_call *c, const char *uid, const char *old_json,
                   size_t old_len, const char *new_json, const char *pw_hash)
{
    begin(c, S_PW_MOVE, NULL);
    arg_str(c, uid);
    arg(c, old_json, old_len);
    arg_str(c, new_json);
    arg_str(c, pw_hash);
}

void store_signout(struct store_call *c, const struct config *cfg,
                   const char *key, const char *claimed, const char *target,
                   const char *session)
{
    begin(c, S_SIGNOUT, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, target);
    arg_str(c, session);
}

void store_join(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed, const char *recipient, const char *session,
                const char *new_channel)
{
    begin(c, S_JOIN, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, recipient);
    arg_str(c, session);
    arg_str(c, new_channel);
    arg_long(c, STORE_HISTORY);
}

void store_leave(struct store_call *c, const struct config *cfg,
                 const char *key, const char *claimed, const char *recipient,
                 const char *session)
{
    begin(c, S_LEAVE, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, recipient);
    arg_str(c, session);
}

void store_messages(struct store_call *c, const struct config *cfg,
                    const char *key, const char *claimed,
                    const struct store_new_message *m, size_t n)
{
    if (n < 1 || n > STORE_BATCH_MAX) /* the handler bounds it: a bug */
        abort();
    begin(c, S_MESSAGE, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, m[0].recipient);
    arg_str(c, m[0].new_channel);
    arg_str(c, m[0].uuid);
    arg(c, m[0].json, m[0].json_len);
    arg_str(c, m[0].created);
    arg_long(c, cfg->msg_rate);
    arg_str(c, m[0].client_id);
    for (size_t i = 1; i < n; i++) {
        arg_str(c, m[i].recipient);
        arg_str(c, m[i].new_channel);
        arg_str(c, m[i].uuid);
        arg(c, m[i].json, m[i].json_len);
        arg_str(c, m[i].created);
        arg_str(c, m[i].client_id);
    }
}

void store_poll(struct store_call *c, const struct config *cfg, const char *key,
                const char *session, const char *jn, const char *sys_after,
                long pos, const char *chk, int limit, const char *notice_after)
{
    begin(c, S_POLL, cfg);
    arg_str(c, key);
    arg_str(c, session);
    arg_str(c, jn);
    arg_str(c, sys_after);
    arg_long(c, pos);
    arg_long(c, limit);
    arg_str(c, notice_after);
    arg_str(c, chk);
}

void store_unread(struct store_call *c, const struct config *cfg,
                  const char *key, const char *claimed)
{
    begin(c, S_UNREAD, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
}

void store_channel_read(struct store_call *c, const char *channel, long from,
                        long count)
{
    begin(c, S_CHANNEL_READ, NULL);
    arg_str(c, channel);
    arg_long(c, from);
    arg_long(c, count);
}

void store_hold_take(struct store_call *c, const char *token, int hold_s,
                     int max)
{
    begin(c, S_HOLD_TAKE, NULL);
    arg_str(c, token);
    arg_long(c, hold_s);
    arg_long(c, max);
}

void store_hold_give(struct store_call *c, const char *token)
{
    begin_plain(c);
    arg_str(c, "ZREM");
    arg_str(c, STORE_PREFIX "holds");
    arg_str(c, token);
}

void store_auth(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed)
{
    begin(c, S_AUTH, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
}

void store_users_count(struct store_call *c)
{
    begin_plain(c);
    arg_str(c, "LLEN");
    arg_str(c, "users");
}

void store_users_range(struct store_call *c, long offset, long limit)
{
    begin_plain(c);
    arg_str(c, "LRANGE");
    arg_str(c, "users");
    arg_long(c, offset);
    arg_long(c, offset + limit - 1);
}

#define STATUS_KEY_MAX 64 /* "userStatus." + uuid + NUL */

int store_presence(struct store_mget *c, char (*uuids)[UUID_SIZE], size_t n)
{
    memset(c, 0, sizeof *c);
    c->argv = calloc(n + 1, sizeof *c->argv);
    c->argvlen = calloc(n + 1, sizeof *c->argvlen);
    c->keys = malloc(n ? n * STATUS_KEY_MAX : 1);
    if (!c->argv || !c->argvlen || !c->keys) {
        store_mget_free(c);
        return -1;
    }
    c->argv[0] = "MGET";
    c->argvlen[0] = 4;
    for (size_t i = 0; i < n; i++) {
        char *k = c->keys + i * STATUS_KEY_MAX;
        int len = snprintf(k, STATUS_KEY_MAX, "userStatus.%s", uuids[i]);
        c->argv[i + 1] = k;
        c->argvlen[i + 1] = (size_t)len;
    }
    c->argc = (int)n + 1;
    return 0;
}

void store_mget_free(struct store_mget *c)
{
    if (!c)
        return;
    free(c->argv);
    free(c->argvlen);
    free(c->keys);
    memset(c, 0, sizeof *c);
}

void store_ping(struct store_call *c)
{
    begin_plain(c);
    arg_str(c, "PING");
}

static int is_bulk(const redisReply *r);

int store_auth_argv(const struct config *cfg, const char *argv[3])
{
    int n = 0;

    if (!cfg->redis_password[0])
        return 0;
    argv[n++] = "AUTH";
    if (cfg->redis_username[0])
        argv[n++] = cfg->redis_username;
    argv[n++] = cfg->redis_password;
    return n;
}

#define PROBE_MAXLEN "1000" /* the newest elements LPOS compares */

int store_message_probe(struct store_call *c, const char *channel,
                        const char *payload, size_t len)
{
    int n;

    begin_plain(c);
    n = snprintf(c->keybuf, sizeof c->keybuf, "channelMessages.%s", channel);
    if (n < 0 || (size_t)n >= sizeof c->keybuf)
        return -1;
    arg_str(c, "LPOS");
    arg(c, c->keybuf, (size_t)n);
    arg(c, payload, len);
    arg_str(c, "RANK");
    arg_str(c, "-1");
    arg_str(c, "MAXLEN");
    arg_str(c, PROBE_MAXLEN);
    return 0;
}

#define KEYSPACE_FMT "__keyspace@%d__:channelMessages."

int store_keyspace_name(char *out, size_t n, int db, const char *channel)
{
    int len = snprintf(out, n, KEYSPACE_FMT "%s", db, channel);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

const char *store_keyspace_channel_of(const char *name, int db)
{
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, KEYSPACE_FMT, db);

    if (len < 0 || (size_t)len >= sizeof prefix ||
        strncmp(name, prefix, (size_t)len) != 0 || !name[len])
        return NULL;
    return name + len;
}

void store_notify_get(struct store_call *c)
{
    begin_plain(c);
    arg_str(c, "CONFIG");
    arg_str(c, "GET");
    arg_str(c, "notify-keyspace-events");
}

int store_notify_parse(const redisReply *r, char *flags, size_t n)
{
    const redisReply *v;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return -1;
    v = r->element[1];
    if (!is_bulk(v) || v->len >= n)
        return -1;
    memcpy(flags, v->str, v->len + 1);
    return 0;
}

int store_notify_covers(const char *flags)
{
    return strchr(flags, 'K') && (strchr(flags, 'l') || strchr(flags, 'A'));
}

void store_notify_set(struct store_call *c, const char *current)
{
    size_t n = strlen(current);

    begin_plain(c);
    if (n > sizeof c->keybuf - 3)
        n = 0; /* cannot be: Redis flags are a few letters */
    memcpy(c->keybuf, current, n);
    if (!strchr(current, 'K'))
        c->keybuf[n++] = 'K';
    if (!strchr(current, 'l') && !strchr(current, 'A'))
        c->keybuf[n++] = 'l';
    c->keybuf[n] = '\0';
    arg_str(c, "CONFIG");
    arg_str(c, "SET");
    arg_str(c, "notify-keyspace-events");
    arg(c, c->keybuf, n);
}

static int is_bulk(const redisReply *r)
{
    return r &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

long store_parse_userinfo(const redisReply *flat, struct store_user **out)
{
    struct store_user *v;
    size_t n;

    *out = NULL;
    if (!flat || flat->type != REDIS_REPLY_ARRAY || flat->elements % 3)
        return -1;
    n = flat->elements / 3;
    v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const redisReply *u = flat->element[3 * i];
        const redisReply *j = flat->element[3 * i + 1];
        const redisReply *o = flat->element[3 * i + 2];
        if (!is_bulk(u)) {
            free(v);
            return -1;
        }
        v[i].uuid = u->str;
        if (is_bulk(j)) {
            v[i].name = j->str;
            v[i].name_len = j->len;
        }
        v[i].online = o && o->type == REDIS_REPLY_INTEGER && o->integer;
    }
    *out = v;
    return (long)n;
}

/* A cursor check as the scripts return it: "" or CURSOR_CHK_LEN hex. */
static int is_check(const redisReply *r)
{
    return is_bulk(r) && (r->len == 0 || r->len == CURSOR_CHK_LEN) &&
           strspn(r->str, "0123456789abcdef") == r->len;
}

int store_parse_channel_read(const redisReply *r,
                             struct store_channel_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[2]->type != REDIS_REPLY_ARRAY || !is_check(r->element[3]))
        return -1;
    out->llen = (long)r->element[0]->integer;
    out->messages = r->element[1];
    out->userinfo = r->element[2];
    out->chk_from = r->element[3]->str;
    return 0;
}

void store_element_check(const char *elem, size_t len,
                         char out[CURSOR_CHK_LEN + 1])
{
    char hex[41];

    sha1_hex((const unsigned char *)elem, len, hex);
    memcpy(out, hex, CURSOR_CHK_LEN);
    out[CURSOR_CHK_LEN] = '\0';
}

void store_poll_check(const struct store_poll_result *r,
                      char out[CURSOR_CHK_LEN + 1])
{
    size_t n = r->messages->elements;
    const redisReply *last = n ? r->messages->element[n - 1] : NULL;

    if (last && last->type == REDIS_REPLY_STRING)
        store_element_check(last->str, last->len, out);
    else if (last)
        out[0] = '\0'; /* not an element to check: the next read tells */
    else
        snprintf(out, CURSOR_CHK_LEN + 1, "%s", r->chk0);
}

int store_parse_poll(const redisReply *r, struct store_poll_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 13 ||
        !is_check(r->element[12]))
        return -1;
    if (!is_bulk(r->element[0]) || !is_bulk(r->element[1]) ||
        r->element[2]->type != REDIS_REPLY_INTEGER || !is_bulk(r->element[3]) ||
        r->element[4]->type != REDIS_REPLY_INTEGER ||
        r->element[5]->type != REDIS_REPLY_ARRAY ||
        r->element[6]->type != REDIS_REPLY_ARRAY || !is_bulk(r->element[8]) ||
        !is_bulk(r->element[9]) || !is_bulk(r->element[10]) ||
        r->element[11]->type != REDIS_REPLY_ARRAY)
        return -1;
    /* pos counts the messages seen with this batch's: never fewer than
     * the batch has (the cursors before each start at pos - count), and
     * never negative (cursor_parse refuses it, so would the client's next
     * poll). */
    if (r->element[2]->integer < 0 ||
        (unsigned long long)r->element[2]->integer < r->element[6]->elements)
        return -1;
    out->sys_id = r->element[0]->str;
    out->jn = r->element[1]->str;
    out->pos = (long)r->element[2]->integer;
    out->channel = r->element[3]->str;
    out->reset = r->element[4]->integer != 0;
    out->events = r->element[5];
    out->messages = r->element[6];
    out->userinfo = r->element[7];
    out->uid = r->element[8]->str;
    out->notice_from = r->element[9]->str;
    out->notice_id = r->element[10]->str;
    out->notices = r->element[11];
    out->chk0 = r->element[12]->str;
    /* the notice ids go into cursors the client passes back */
    if ((out->notice_from[0] && !cursor_id_valid(out->notice_from)) ||
        (out->notice_id[0] && !cursor_id_valid(out->notice_id)))
        return -1;
    return 0;
}
