/* render.c - JSON of replies and pushes from store data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/cursor.h"
#include "common/proto.h"
#include "common/render.h"

static const char *str_field(json_object *o, const char *name, size_t *len)
{
    json_object *v = proto_field(o, name);
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static json_object *parse_record(const char *json, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;

    if (!tok)
        return NULL;
    o = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int user_record_parse(const char *json, size_t len, char **uuid, char **name,
                      char **password)
{
    json_object *o = parse_record(json, len);
    const char *u, *n, *p = NULL;
    int rc = -1;

    *uuid = *name = NULL;
    if (password)
        *password = NULL;
    if (!o)
        return -1;
    u = str_field(o, "UUID", NULL);
    n = str_field(o, "Username", NULL);
    if (password)
        p = str_field(o, "Password", NULL);
    if (u && n && (!password || p)) {
        *uuid = strdup(u);
        *name = strdup(n);
        rc = *uuid && *name ? 0 : -1;
        if (password) {
            *password = strdup(p);
            rc = rc || !*password ? -1 : 0;
        }
    }
    json_object_put(o);
    if (rc) {
        free(*uuid);
        free(*name);
        *uuid = *name = NULL;
        if (password) {
            free(*password);
            *password = NULL;
        }
    }
    return rc;
}

/* First occurrence of n (nl bytes) in h (hl bytes); memmem is a GNU
 * extension this strict C11 build does not enable. */
static const char *find_bytes(const char *h, size_t hl, const char *n,
                              size_t nl)
{
    for (size_t i = 0; nl && i + nl <= hl; i++) {
        const char *p = memchr(h + i, n[0], hl - nl - i + 1);
        if (!p)
            return NULL;
        i = (size_t)(p - h);
        if (memcmp(p, n, nl) == 0)
            return p;
    }
    return NULL;
}

/* The value of "key":"value" when it has no escape or control byte. */
static int raw_field(const char *json, size_t len, const char *key,
                     const char **val, size_t *vlen)
{
    char pat[32];
    int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p, *q, *end = json + len;

    /* The first occurrence is the key: inside a string value the same
     * bytes would be escaped (\"). */
    p = pl > 0 ? find_bytes(json, len, pat, (size_t)pl) : NULL;
    if (!p)
        return -1;
    p += pl;
    for (q = p; q < end && *q != '"' && *q != '\\'; q++) {
        if ((unsigned char)*q < 0x20)
            return -1;
    }
    if (q >= end || *q != '"')
        return -1;
    *val = p;
    *vlen = (size_t)(q - p);
    return 0;
}

int user_record_names(const char *json, size_t len, char uuid[UUID_SIZE],
                      const char **name, size_t *name_len, char **owned)
{
    const char *u;
    size_t ulen;
    char *pu = NULL;

    *owned = NULL;
    if (raw_field(json, len, "UUID", &u, &ulen) == 0 && ulen == UUID_LEN &&
        raw_field(json, len, "Username", name, name_len) == 0) {
        memcpy(uuid, u, UUID_LEN);
        uuid[UUID_LEN] = '\0';
        return 0;
    }
    if (user_record_parse(json, len, &pu, owned, NULL))
        return -1;
    if (strlen(pu) != UUID_LEN) {
        free(pu);
        free(*owned);
        *owned = NULL;
        return -1;
    }
    memcpy(uuid, pu, UUID_SIZE);
    free(pu);
    *name = *owned;
    *name_len = strlen(*owned);
    return 0;
}

int user_map_load(struct user_map *m, const redisReply *flat)
{
    long n = store_parse_userinfo(flat, &m->v);

    m->n = n > 0 ? (size_t)n : 0;
    return n < 0 ? -1 : 0;
}

void user_map_free(struct user_map *m)
{
    if (!m)
        return;
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

const struct store_user *user_map_find(const struct user_map *m,
                                       const char *uuid)
{
    if (!m || !uuid)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].uuid, uuid) == 0)
            return m->v[i].name ? &m->v[i] : NULL;
    }
    return NULL;
}

void render_user_n(struct jbuf *b, const char *uuid, const char *name,
                   size_t name_len, int online)
{
    jbuf_cstr(b, "{\"UUID\":");
    jbuf_cstr_q(b, uuid);
    jbuf_cstr(b, ",\"Username\":");
    jbuf_str(b, name, name_len);
    jbuf_cstr(b, online ? ",\"OnLine\":true}" : ",\"OnLine\":false}");
}

void render_user_record(struct jbuf *b, const char *uuid, const char *name,
                        const char *password)
{
    jbuf_cstr(b, "{\"UUID\":");
    jbuf_cstr_q(b, uuid);
    jbuf_cstr(b, ",\"Username\":");
    jbuf_cstr_q(b, name);
    jbuf_cstr(b, ",\"Password\":");
    jbuf_cstr_q(b, password);
    jbuf_cstr(b, ",\"OnLine\":false}\n");
}

void render_user(struct jbuf *b, const char *uuid, const char *name, int online)
{
    render_user_n(b, uuid, name, strlen(name), online);
}

static void render_party(struct jbuf *b, const char *key, const char *uuid,
                         const struct user_map *m)
{
    const struct store_user *u = user_map_find(m, uuid);
    if (!u)
        return;
    jbuf_raw(b, ",", 1);
    jbuf_key(b, key);
    render_user_n(b, u->uuid, u->name, u->name_len, u->online);
}

void render_message_parts(struct jbuf *b, const char *id, const char *sender,
                          const char *rcpt, const char *text, size_t text_len,
                          const char *created, const struct user_map *m)
{
    jbuf_cstr(b, "{\"UUID\":");
    jbuf_cstr_q(b, id);
    jbuf_cstr(b, ",\"SenderUUID\":");
    jbuf_cstr_q(b, sender);
    render_party(b, "Sender", sender, m);
    jbuf_cstr(b, ",\"RecipientUUID\":");
    jbuf_cstr_q(b, rcpt);
    if (*rcpt)
        render_party(b, "Recipient", rcpt, m);
    jbuf_cstr(b, ",\"Message\":");
    jbuf_str(b, text, text_len);
    jbuf_cstr(b, ",\"CreatedAt\":");
    jbuf_cstr_q(b, created);
    jbuf_raw(b, "}", 1);
}

int render_message(struct jbuf *b, const char *stored, size_t len,
                   const struct user_map *m)
{
    json_object *o = parse_record(stored, len);
    const char *id, *sender, *rcpt, *text, *created;
    size_t text_len = 0;

    if (!o)
        return -1;
    id = str_field(o, "UUID", NULL);
    sender = str_field(o, "SenderUUID", NULL);
    rcpt = str_field(o, "RecipientUUID", NULL);
    text = str_field(o, "Message", &text_len);
    created = str_field(o, "CreatedAt", NULL);
    if (!id || !sender || !text || !created) {
        json_object_put(o);
        return -1;
    }
    render_message_parts(b, id, sender, rcpt ? rcpt : "", text, text_len,
                         created, m);
    json_object_put(o);
    return 0;
}

int render_pushed_message(struct jbuf *b, const char *stored, size_t len,
                          const struct user_map *m)
{
    size_t mark = b->len;

    jbuf_cstr(b, "{\"type\":\"channelMessage\",\"channelMessage\":");
    if (render_message(b, stored, len, m)) {
        b->len = mark;
        if (b->data)
            b->data[mark] = '\0';
        return -1;
    }
    jbuf_raw(b, "}", 1);
    return 0;
}

/* Value of field name in a flat [k, v, k, v...] stream entry. */
static const char *entry_field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const redisReply *k = kv->element[i], *v = kv->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, name) == 0)
            return v->str;
    }
    return NULL;
}

static void render_sys_sign(struct jbuf *b, const char *t, const char *u,
                            const char *n)
{
    jbuf_cstr(b, "{\"type\":\"sys\",\"sys\":{\"type\":");
    jbuf_cstr_q(b, t);
    jbuf_raw(b, ",", 1);
    jbuf_key(b, t);
    jbuf_cstr(b, "{\"uuid\":");
    jbuf_cstr_q(b, u);
    jbuf_cstr(b, ",\"username\":");
    jbuf_cstr_q(b, n);
    jbuf_cstr(b, "}}}");
}

/* The notice of a private message (rcg:notice.<user>), in the shape of
 * sys/channelJoin: the sender as userUUID and user, the recipient as the
 * sender named it and the message's UUID; never the text. */
static int render_sys_notice(struct jbuf *b, const char *u, const char *n,
                             const char *r, const char *m)
{
    if (!m)
        return -1;
    jbuf_cstr(b, "{\"type\":\"sys\",\"userUUID\":");
    jbuf_cstr_q(b, u);
    jbuf_cstr(b, ",\"user\":");
    render_user(b, u, n, 1);
    jbuf_cstr(b, ",\"sys\":{\"type\":\"channelMessage\",\"channelMessage\":{"
                 "\"recipientUUID\":");
    jbuf_cstr_q(b, r);
    jbuf_cstr(b, ",\"UUID\":");
    jbuf_cstr_q(b, m);
    jbuf_cstr(b, "}}}");
    return 0;
}

int render_event(struct jbuf *b, const redisReply *entry)
{
    const redisReply *kv;
    const char *t, *u, *n, *r;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    kv = entry->element[1];
    t = entry_field(kv, "t");
    u = entry_field(kv, "u");
    n = entry_field(kv, "n");
    r = entry_field(kv, "r");
    if (!t || !u || !n || !r)
        return -1;
    if (strcmp(t, "signIn") == 0 || strcmp(t, "signOut") == 0) {
        render_sys_sign(b, t, u, n);
    } else if (strcmp(t, "channelJoin") == 0) {
        jbuf_cstr(b, "{\"type\":\"sys\",\"userUUID\":");
        jbuf_cstr_q(b, u);
        jbuf_cstr(b, ",\"user\":");
        render_user(b, u, n, 1);
        jbuf_cstr(b, ",\"sys\":{\"type\":\"channelJoin\",\"channelJoin\":{");
        if (*r) {
            jbuf_cstr(b, "\"recipientUUID\":");
            jbuf_cstr_q(b, r);
        }
        jbuf_cstr(b, "}}}");
    } else if (strcmp(t, "channelLeave") == 0) {
        jbuf_cstr(b, "{\"type\":\"channelLeave\",\"userUUID\":");
        jbuf_cstr_q(b, u);
        jbuf_cstr(b, ",\"channelLeave\":{\"recipientUUID\":");
        jbuf_cstr_q(b, r);
        jbuf_cstr(b, "}}");
    } else if (strcmp(t, "channelMessage") == 0) {
        return render_sys_notice(b, u, n, r, entry_field(kv, "m"));
    } else {
        return -1;
    }
    return 0;
}

static int emit_item(poll_item_fn fn, void *ctx, struct jbuf *item,
                     const char *cursor)
{
    if (jbuf_failed(item))
        return -1;
    return fn(ctx, item->data, item->len, cursor) ? 1 : 0;
}

/* Walks the stream entries of a poll result (events, then notices) as
 * push objects. An event's cursor is its id with the notices not yet
 * seen; a notice's has every event of the batch and its own id. */
struct entry_walk {
    const struct store_poll_result *r;
    const char *session;
    long pos0;
    int notices; /* the entries are notices: their id is the notice part */
    long count;
};

/* Returns emit_item's stop (nonzero: stop). */
static int walk_entries(struct entry_walk *wk, const redisReply *list,
                        poll_item_fn fn, void *ctx, struct jbuf *item)
{
    const struct store_poll_result *r = wk->r;
    char cursor[CURSOR_MAX];
    int stop = 0;

    for (size_t i = 0; i < list->elements && !stop; i++) {
        const redisReply *en = list->element[i];
        const char *id;
        jbuf_reset(item);
        if (render_event(item, en) ||
            en->element[0]->type != REDIS_REPLY_STRING)
            continue;
        id = en->element[0]->str;
        if (wk->notices && !cursor_id_valid(id))
            continue; /* not an id a cursor can carry: skipped */
        if (wk->notices)
            cursor_format(cursor, wk->session, r->sys_id, r->jn, wk->pos0,
                          r->chk0, id);
        else
            cursor_format(cursor, wk->session, id, r->jn, wk->pos0, r->chk0,
                          r->notice_from);
        stop = emit_item(fn, ctx, item, cursor);
        wk->count++;
    }
    return stop;
}

long render_poll_each(const struct store_poll_result *r, const char *session,
                      poll_item_fn fn, void *ctx, char *final_cursor)
{
    struct user_map m = {0};
    struct jbuf item;
    char cursor[CURSOR_MAX], chk[CURSOR_CHK_LEN + 1];
    struct entry_walk wk = {.r = r, .session = session, .notices = 0};
    int stop;

    wk.pos0 = r->pos - (long)r->messages->elements;
    jbuf_init(&item);
    if (user_map_load(&m, r->userinfo))
        return -1;
    /* events, then notices, then messages: each cursor covers what came
     * before it in this order */
    stop = walk_entries(&wk, r->events, fn, ctx, &item);
    wk.notices = 1;
    if (!stop)
        stop = walk_entries(&wk, r->notices, fn, ctx, &item);
    for (size_t i = 0; i < r->messages->elements && stop == 0; i++) {
        const redisReply *msg = r->messages->element[i];
        jbuf_reset(&item);
        if (msg->type != REDIS_REPLY_STRING)
            continue;
        store_element_check(msg->str, msg->len, chk);
        cursor_format(cursor, session, r->sys_id, r->jn, wk.pos0 + (long)i + 1,
                      chk, r->notice_id);
        if (render_pushed_message(&item, msg->str, msg->len, &m))
            continue; /* undecodable element: skipped, never fatal (W13) */
        stop = emit_item(fn, ctx, &item, cursor);
        wk.count++;
    }
    store_poll_check(r, chk);
    cursor_format(final_cursor, session, r->sys_id, r->jn, r->pos, chk,
                  r->notice_id);
    user_map_free(&m);
    jbuf_free(&item);
    return stop < 0 ? -1 : wk.count;
}

struct poll_json_ctx {
    struct jbuf *b;
    int n;
};

static int append_item(void *ctx, const char *json, size_t len,
                       const char *cursor)
{
    struct poll_json_ctx *pc = ctx;
    (void)cursor;
    if (pc->n++)
        jbuf_raw(pc->b, ",", 1);
    jbuf_raw(pc->b, json, len);
    return 0;
}

void render_poll_answer(struct jbuf *b, const char *cursor, int reset,
                        const char *items, size_t items_len, int poll_after_ms)
{
    jbuf_cstr(b, "{\"cursor\":");
    jbuf_cstr_q(b, cursor);
    if (reset)
        jbuf_cstr(b, ",\"reset\":true");
    jbuf_cstr(b, ",\"messages\":[");
    if (items_len)
        jbuf_raw(b, items, items_len);
    jbuf_raw(b, "]", 1);
    if (poll_after_ms > 0) {
        jbuf_cstr(b, ",\"pollAfter\":");
        jbuf_long(b, poll_after_ms);
    }
    jbuf_raw(b, "}", 1);
}

int render_poll_json(struct jbuf *b, const struct store_poll_result *r,
                     const char *session)
{
    struct poll_json_ctx pc = {.b = b, .n = 0};
    char cursor[CURSOR_MAX];
    struct jbuf items;

    jbuf_init(&items);
    pc.b = &items;
    if (render_poll_each(r, session, append_item, &pc, cursor) < 0) {
        jbuf_free(&items);
        return -1;
    }
    render_poll_answer(b, cursor, r->reset, items.data, items.len, 0);
    jbuf_free(&items);
    return jbuf_failed(b) ? -1 : 0;
}
