/* handlers.c - one h_<type>() per message type: validate -> store ->
 * reply. Each runs one store script (signIn/signUp: a lookup, then the
 * atomic create-and-sign-in), so every write is whole or not at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/names.h"
#include "common/render.h"
#include "common/store.h"
#include "fcgi/handlers.h"
#include "fcgi/names_index.h"
#include "fcgi/users_cache.h"

/* Records a new name's check may index before it decides (the rest is left
 * to the next new name, or to chat.fcgi --migrate). */
#define NAMES_CATCH_UP_MAX 10000

/* Runs c and checks the reply is an array of at least n elements. */
static enum chat_err call_array(struct hctx *cx, struct store_call *c, size_t n,
                                redisReply **out, struct chat_error *e)
{
    enum chat_err rc = db_call(cx->db, c, out, e);

    if (rc != CHAT_OK)
        return rc;
    if (!*out || (*out)->type != REDIS_REPLY_ARRAY || (*out)->elements < n) {
        freeReplyObject(*out);
        *out = NULL;
        chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
        return CHAT_E_INTERNAL;
    }
    return CHAT_OK;
}

/* recipientUUID of an object: absent or "" = public, else a valid UUID. */
static enum chat_err object_recipient(json_object *o, char out[UUID_SIZE],
                                      struct chat_error *e)
{
    const char *r;
    enum chat_err rc =
        proto_string(o, "recipientUUID", 0, CHAT_OK, &r, NULL, e);
    out[0] = '\0';
    if (rc != CHAT_OK || !r || !*r)
        return rc;
    return proto_uuid(r, "recipientUUID", out, e);
}

static enum chat_err body_recipient(const struct chat_request *req,
                                    char out[UUID_SIZE], struct chat_error *e)
{
    return object_recipient(req->body, out, e);
}

enum chat_err h_ready(struct hctx *cx, const struct chat_request *req,
                      struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    redisReply *r;
    char session[UUID_SIZE];
    enum chat_err rc;

    (void)req;
    auth_new_uuid(session);
    store_ready(&c, cx->cfg, session);
    rc = db_call(cx->db, &c, &r, e);
    if (rc != CHAT_OK)
        return rc;
    freeReplyObject(r);
    jbuf_cstr(out, "{\"type\":\"ready\",\"ready\":{\"sessionUUID\":");
    jbuf_cstr_q(out, session);
    jbuf_cstr(out, "}}");
    return CHAT_OK;
}

/* The validated credentials of a signIn/signUp body. name is the NFC
 * form (stored and looked up); the name as typed is looked up too, for a
 * Go record that is not NFC. */
struct creds {
    char name[PROTO_USERNAME_MAX + 1];
    char typed[PROTO_USERNAME_MAX + 1];
    struct store_name sn; /* md5 = of name, the one rate limits count by */
    const char *password;
    size_t password_len;
};

static enum chat_err read_creds(const struct chat_request *req,
                                struct creds *cr, struct chat_error *e)
{
    const char *name;
    size_t len;
    enum chat_err rc;

    memset(&cr->sn, 0, sizeof cr->sn);
    rc = proto_string(req->body, "username", 1, CHAT_E_BAD_USERNAME, &name,
                      &len, e);
    if (rc == CHAT_OK)
        rc = proto_string(req->body, "password", 1, CHAT_E_BAD_PASSWORD,
                          &cr->password, &cr->password_len, e);
    if (rc == CHAT_OK)
        rc = proto_username(name, len, cr->typed, sizeof cr->typed, e);
    if (rc == CHAT_OK)
        rc = names_nfc(cr->typed, strlen(cr->typed), cr->name, sizeof cr->name,
                       PROTO_USERNAME_MAX, e);
    if (rc == CHAT_OK)
        rc = proto_password(cr->password, cr->password_len, e);
    if (rc != CHAT_OK)
        return rc;
    auth_username_md5(cr->name, strlen(cr->name), cr->sn.md5);
    if (strcmp(cr->name, cr->typed) != 0)
        auth_username_md5(cr->typed, strlen(cr->typed), cr->sn.typed_md5);
    names_index_keys(cr->name, strlen(cr->name), &cr->sn);
    if (!cr->sn.nskel)
        return chat_fail(e, CHAT_E_INTERNAL, "cannot compare the name");
    return CHAT_OK;
}

/* What a name lookup found: json NULL when the name is free; hash is
 * rcg:pw.<uuid>, NULL for a record of the Go server (plaintext) or one
 * from before the hash moved out of the record. Borrowed from the reply.
 * For a free name: similar (an rcg:skel key of it is taken) and behind
 * (the index has not seen every record yet). */
struct found {
    const char *json;
    size_t len;
    const char *hash;
    int similar, behind;
};

/* Caller frees *reply, which owns f's strings. */
static enum chat_err lookup_user(struct hctx *cx, const struct creds *cr,
                                 redisReply **reply, struct found *f,
                                 struct chat_error *e)
{
    struct store_call c;
    enum chat_err rc;
    const redisReply *r;

    memset(f, 0, sizeof *f);
    store_user_by_name(&c, &cr->sn, cx->cfg->signin_fails, cx->addr);
    rc = db_call(cx->db, &c, reply, e);
    if (rc != CHAT_OK)
        return rc;
    r = *reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[2]->type != REDIS_REPLY_INTEGER ||
        r->element[3]->type != REDIS_REPLY_INTEGER)
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    f->similar = r->element[2]->integer != 0;
    f->behind = r->element[3]->integer != 0;
    if (r->element[0]->type != REDIS_REPLY_STRING)
        return CHAT_OK; /* nil: the name is free */
    f->json = r->element[0]->str;
    f->len = r->element[0]->len;
    if (r->element[1]->type == REDIS_REPLY_STRING)
        f->hash = r->element[1]->str;
    return CHAT_OK;
}

/* A free name may be created: no invisible characters, not like a taken
 * name. Checked before the password is hashed; the create checks the
 * keys again, atomically. */
static enum chat_err may_create(const struct creds *cr, const struct found *f,
                                struct chat_error *e)
{
    enum chat_err rc = names_check_visible(cr->name, strlen(cr->name), e);

    if (rc == CHAT_OK && f->similar)
        rc = chat_fail(e, CHAT_E_NAME_SIMILAR, NULL);
    return rc;
}

/* Before a create: index the records the index has not seen (Go users
 * above all), so that a name like one of theirs is refused too. */
static enum chat_err index_catch_up(struct hctx *cx, const struct found *f,
                                    struct chat_error *e)
{
    long done = 0;
    int rc;

    if (!f->behind)
        return CHAT_OK;
    rc = names_index_catch_up(cx->db, NAMES_CATCH_UP_MAX, &done, e);
    if (rc < 0)
        return e->err;
    if (done)
        log_info("name index: %ld users records indexed", done);
    if (rc > 0)
        log_warn("name index: still behind after %d users records; new "
                 "names are checked against what is indexed (run "
                 "chat.fcgi --migrate)",
                 NAMES_CATCH_UP_MAX);
    return CHAT_OK;
}

static void record_failure(struct hctx *cx, const struct creds *cr)
{
    struct store_call c;
    struct chat_error ignored = {0};
    redisReply *r;

    store_signin_fail(&c, cr->sn.md5);
    if (db_call(cx->db, &c, &r, &ignored) == CHAT_OK)
        freeReplyObject(r);
}

/* The record of a user whose hash is kept in rcg:pw.<uuid>: the Password
 * field holds a fresh sealed token. */
static enum chat_err sealed_record(struct jbuf *rec, const char *uid,
                                   const char *name, struct chat_error *e)
{
    char token[AUTH_SEALED_MAX];

    auth_sealed_token(token);
    jbuf_reset(rec);
    render_user_record(rec, uid, name, token);
    return jbuf_failed(rec) ? chat_fail(e, CHAT_E_INTERNAL, "out of memory")
                            : CHAT_OK;
}

/* A sign-in's writes besides the key: the user to create, or the record
 * whose hash moves to rcg:pw. */
struct sign_write {
    struct jbuf rec;          /* "" = nothing to write */
    const char *old;          /* the record rec replaces, "" = create */
    char hash[AUTH_HASH_MAX]; /* rcg:pw value */
};

/* Hashing could not get its memory (a per-process cap such as RLimitMEM
 * or an LVE): a 503 the client retries, and a line naming the setting. */
static enum chat_err hash_memory_outage(struct hctx *cx, const struct creds *cr,
                                        struct chat_error *e)
{
    struct store_call c;
    struct chat_error ignored = {0};
    redisReply *r;

    /* no verdict: the attempt counted at the lookup is given back */
    store_signin_refund(&c, cr->sn.md5, cx->addr);
    if (db_call(cx->db, &c, &r, &ignored) == CHAT_OK)
        freeReplyObject(r);
    log_err("password hashing cannot get its %ld bytes (a process memory "
            "cap?): lower CHAT_PWHASH_MEMLIMIT or raise the cap",
            cx->cfg->pwhash_mem);
    chat_fail(e, CHAT_E_HASH_MEMORY, NULL);
    e->retry_after = 5;
    return CHAT_E_HASH_MEMORY;
}

/* Checks the password of an existing record; fills uid and the stored
 * name, and w when the record still holds its hash (moved on sign-in). */
static enum chat_err verify_existing(struct hctx *cx, const struct creds *cr,
                                     const struct found *f, char uid[UUID_SIZE],
                                     char **name, struct sign_write *w,
                                     struct chat_error *e)
{
    char *u = NULL, *pw = NULL;
    const char *stored;
    enum auth_verdict verdict;
    enum chat_err rc = CHAT_OK;

    if (user_record_parse(f->json, f->len, &u, name, &pw) ||
        strlen(u) != UUID_LEN) {
        rc = chat_fail(e, CHAT_E_INTERNAL, "unreadable user record");
        goto out;
    }
    stored = f->hash ? f->hash : pw;
    if (!f->hash && auth_is_sealed(pw)) {
        log_err("user %s: sealed record without its rcg:pw hash", u);
        rc = chat_fail(e, CHAT_E_INTERNAL, "password record missing");
        goto out;
    }
    verdict = auth_verify_password(stored, strlen(stored), cr->password,
                                   cr->password_len);
    if (verdict == AUTH_NO_MEMORY) {
        /* an outage: never "wrong password", never a counted failure */
        rc = hash_memory_outage(cx, cr, e);
        goto out;
    }
    if (verdict != AUTH_MATCH) {
        record_failure(cx, cr);
        log_info("sign-in failed for a user (wrong password)");
        rc = chat_fail(e, CHAT_E_WRONG_PASSWORD, NULL);
        goto out;
    }
    memcpy(uid, u, UUID_SIZE);
    if (!f->hash && auth_is_hash(pw) && strlen(pw) < sizeof w->hash) {
        memcpy(w->hash, pw, strlen(pw) + 1);
        w->old = f->json;
        rc = sealed_record(&w->rec, uid, *name, e);
    }
out:
    free(u);
    if (pw)
        sodium_memzero(pw, strlen(pw));
    free(pw);
    return rc;
}

static enum chat_err new_user(struct hctx *cx, const struct creds *cr,
                              const char *uid, struct sign_write *w,
                              struct chat_error *e)
{
    enum chat_err rc =
        auth_hash_password(cr->password, cr->password_len, w->hash, e);

    w->old = "";
    if (rc == CHAT_E_HASH_MEMORY)
        return hash_memory_outage(cx, cr, e);
    return rc == CHAT_OK ? sealed_record(&w->rec, uid, cr->name, e) : rc;
}

static void write_authorized(struct jbuf *out, const char *uid,
                             const char *name, const char *key)
{
    jbuf_cstr(out, "{\"type\":\"authorized\",\"user\":");
    render_user(out, uid, name, 1);
    jbuf_cstr(out, ",\"authorized\":{\"userUUID\":");
    jbuf_cstr_q(out, uid);
    jbuf_cstr(out, ",\"accessKey\":");
    jbuf_cstr_q(out, key);
    jbuf_cstr(out, "}}");
}

/* Issues a key and binds the session; writes w's record. */
static enum chat_err finish_sign_in(struct hctx *cx, const struct creds *cr,
                                    const char *uid, const char *name,
                                    const struct sign_write *w,
                                    struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    redisReply *r;
    char key[UUID_SIZE];
    const char *rec = w->rec.len ? w->rec.data : "";
    struct store_signin_args a = {.uid = uid,
                                  .name = name,
                                  .md5 = cr->sn.md5,
                                  .skel = &cr->sn,
                                  .user_json = rec,
                                  .old_json = rec[0] ? w->old : "",
                                  .pw_hash = rec[0] ? w->hash : "",
                                  .key = key,
                                  .session = cx->session,
                                  .addr = cx->addr};
    enum chat_err rc;

    auth_new_uuid(key);
    store_signin(&c, cx->cfg, &a);
    rc = db_call(cx->db, &c, &r, e);
    if (rc != CHAT_OK)
        return rc;
    freeReplyObject(r);
    write_authorized(out, uid, name, key);
    log_info("signed in user %s%s", uid,
             !rec[0]         ? ""
             : a.old_json[0] ? " (hash moved out)"
                             : " (new)");
    return CHAT_OK;
}

/* signIn and signUp: create_only = signUp (a taken name is 409). */
static enum chat_err sign(struct hctx *cx, const struct chat_request *req,
                          int create_only, struct jbuf *out,
                          struct chat_error *e)
{
    struct creds cr;
    redisReply *found = NULL;
    struct found f;
    char uid[UUID_SIZE];
    char *name = NULL;
    struct sign_write w;
    enum chat_err rc;

    jbuf_init(&w.rec);
    rc = read_creds(req, &cr, e);
    for (int attempt = 0; rc == CHAT_OK && attempt < 2; attempt++) {
        jbuf_reset(&w.rec);
        rc = lookup_user(cx, &cr, &found, &f, e);
        if (rc == CHAT_OK && f.json && create_only) {
            /* taken; the same name and password is a retry of a signUp
             * whose answer was lost (a 503 after Redis stored it): the
             * same user. A wrong password counts as at signIn, so this is
             * no better a guessing oracle. */
            rc = verify_existing(cx, &cr, &f, uid, &name, &w, e);
            if (rc == CHAT_E_WRONG_PASSWORD)
                rc = chat_fail(e, CHAT_E_NAME_TAKEN, NULL);
            else if (rc == CHAT_OK)
                rc = finish_sign_in(cx, &cr, uid, name, &w, out, e);
        } else if (rc == CHAT_OK && f.json) {
            rc = verify_existing(cx, &cr, &f, uid, &name, &w, e);
            if (rc == CHAT_OK)
                rc = finish_sign_in(cx, &cr, uid, name, &w, out, e);
        } else if (rc == CHAT_OK) {
            auth_new_uuid(uid);
            rc = may_create(&cr, &f, e);
            if (rc == CHAT_OK)
                rc = new_user(cx, &cr, uid, &w, e);
            /* after the hash, so that little time is left for a Go user
             * to appear before the create */
            if (rc == CHAT_OK)
                rc = index_catch_up(cx, &f, e);
            if (rc == CHAT_OK)
                rc = finish_sign_in(cx, &cr, uid, cr.name, &w, out, e);
        }
        freeReplyObject(found);
        found = NULL;
        free(name);
        name = NULL;
        /* Another request created the name between the lookup and the
         * create: look again (signIn signs in to it, signUp answers it
         * when the password is the same). */
        if (!(rc == CHAT_E_NAME_TAKEN && !f.json) || attempt == 1)
            break;
        rc = CHAT_OK;
    }
    sodium_memzero(w.hash, sizeof w.hash);
    jbuf_free(&w.rec);
    return rc;
}

enum chat_err h_sign_up(struct hctx *cx, const struct chat_request *req,
                        struct jbuf *out, struct chat_error *e)
{
    return sign(cx, req, 1, out, e);
}

enum chat_err h_sign_in(struct hctx *cx, const struct chat_request *req,
                        struct jbuf *out, struct chat_error *e)
{
    return sign(cx, req, 0, out, e);
}

enum chat_err h_sign_out(struct hctx *cx, const struct chat_request *req,
                         struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    redisReply *r;
    const char *target = NULL;
    char tuuid[UUID_SIZE] = "";
    enum chat_err rc = CHAT_OK;

    if (req->body) {
        rc = proto_body(req, e);
        if (rc == CHAT_OK)
            rc = proto_string(req->body, "uuid", 0, CHAT_OK, &target, NULL, e);
        if (rc == CHAT_OK && target && *target)
            rc = proto_uuid(target, "signOut.uuid", tuuid, e);
        if (rc != CHAT_OK)
            return rc;
    }
    store_signout(&c, cx->cfg, cx->key, cx->claimed, tuuid, cx->session);
    rc = db_call(cx->db, &c, &r, e);
    if (rc != CHAT_OK)
        return rc;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    jbuf_cstr(out, "{\"type\":\"signOut\",\"signOut\":{\"uuid\":");
    jbuf_cstr_q(out, r->str);
    jbuf_cstr(out, "}}");
    log_info("signed out user %s", r->str);
    freeReplyObject(r);
    return CHAT_OK;
}

/* A page of the users list, names found in the raw records. */
struct users_page {
    size_t n;
    char (*uuid)[UUID_SIZE];
    const char **name;
    size_t *name_len;
    char **owned;
};

static void users_page_free(struct users_page *p)
{
    for (size_t i = 0; p->owned && i < p->n; i++)
        free(p->owned[i]);
    free(p->uuid);
    free(p->name);
    free(p->name_len);
    free(p->owned);
    memset(p, 0, sizeof *p);
}

static int users_page_load(struct users_page *p, const redisReply *items)
{
    size_t cap = items->elements ? items->elements : 1;

    memset(p, 0, sizeof *p);
    p->uuid = calloc(cap, sizeof *p->uuid);
    p->name = calloc(cap, sizeof *p->name);
    p->name_len = calloc(cap, sizeof *p->name_len);
    p->owned = calloc(cap, sizeof *p->owned);
    if (!p->uuid || !p->name || !p->name_len || !p->owned)
        return -1;
    for (size_t i = 0; i < items->elements; i++) {
        const redisReply *it = items->element[i];
        if (it->type != REDIS_REPLY_STRING ||
            user_record_names(it->str, it->len, p->uuid[p->n], &p->name[p->n],
                              &p->name_len[p->n], &p->owned[p->n]))
            continue; /* an unreadable record never breaks the list (W13) */
        p->n++;
    }
    return 0;
}

/* userStatus of the page in one MGET; *st NULL for an empty page. */
static enum chat_err users_presence(struct hctx *cx, const struct users_page *p,
                                    redisReply **st, struct chat_error *e)
{
    struct store_mget mg;
    enum chat_err rc;

    *st = NULL;
    if (!p->n)
        return CHAT_OK;
    if (store_presence(&mg, p->uuid, p->n))
        return chat_fail(e, CHAT_E_INTERNAL, "out of memory");
    rc = db_command(cx->db, mg.argc, mg.argv, mg.argvlen, st, e);
    store_mget_free(&mg);
    if (rc == CHAT_OK &&
        ((*st)->type != REDIS_REPLY_ARRAY || (*st)->elements != p->n)) {
        freeReplyObject(*st);
        *st = NULL;
        chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
        return CHAT_E_INTERNAL;
    }
    return rc;
}

static void write_users(struct jbuf *out, long total,
                        const struct users_page *p, const redisReply *st)
{
    jbuf_cstr(out, "{\"type\":\"users\",\"users\":{\"total\":");
    jbuf_long(out, total);
    jbuf_cstr(out, ",\"received\":");
    jbuf_long(out, (long)p->n);
    jbuf_cstr(out, ",\"users\":[");
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            jbuf_raw(out, ",", 1);
        int online =
            st && i < st->elements && st->element[i]->type != REDIS_REPLY_NIL;
        render_user_n(out, p->uuid[i], p->name[i], p->name_len[i], online);
    }
    jbuf_cstr(out, "]}}");
}

/* Optional non-negative integer field of a paging object. */
static enum chat_err paging_int(json_object *o, const char *name, long *v,
                                struct chat_error *e)
{
    json_object *f = proto_field(o, name);

    if (!f)
        return CHAT_OK;
    if (!json_object_is_type(f, json_type_int) ||
        json_object_get_int64(f) < 0 || json_object_get_int64(f) > 1000000000) {
        char msg[96];
        snprintf(msg, sizeof msg, "users.%s must be a non-negative integer",
                 name);
        return chat_fail(e, CHAT_E_FIELD_TYPE, msg);
    }
    *v = (long)json_object_get_int64(f);
    return CHAT_OK;
}

/* The page from its records (an LRANGE reply) and one MGET of presence. */
static enum chat_err users_build(struct hctx *cx, long total,
                                 const redisReply *items, struct jbuf *out,
                                 struct chat_error *e)
{
    struct users_page page;
    redisReply *st = NULL;
    enum chat_err rc;

    if (users_page_load(&page, items)) {
        users_page_free(&page);
        return chat_fail(e, CHAT_E_INTERNAL, "out of memory");
    }
    rc = users_presence(cx, &page, &st, e);
    if (rc == CHAT_OK)
        write_users(out, total, &page, st);
    users_page_free(&page);
    freeReplyObject(st);
    return rc;
}

/* The records of the page: the pipelined reply, or one more read when the
 * cache was consulted first. Caller frees *fetched. */
static enum chat_err users_records(struct hctx *cx, struct store_call *range,
                                   redisReply *pipelined,
                                   const redisReply **items,
                                   redisReply **fetched, struct chat_error *e)
{
    enum chat_err rc = CHAT_OK;

    *fetched = NULL;
    *items = pipelined;
    if (!pipelined) {
        rc = db_call(cx->db, range, fetched, e);
        *items = *fetched;
    }
    if (rc == CHAT_OK && (*items)->type != REDIS_REPLY_ARRAY) {
        chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
        return CHAT_E_INTERNAL;
    }
    return rc;
}

/* users: the key check, LLEN (and LRANGE when the page is not cached) in
 * one pipelined round trip of native reads, then one MGET for presence.
 * (A Lua script over the records cost Redis ~140 us a call for 100.) */
enum chat_err h_users(struct hctx *cx, const struct chat_request *req,
                      struct jbuf *out, struct chat_error *e)
{
    struct store_call calls[3];
    redisReply *r[3] = {NULL, NULL, NULL}, *fetched = NULL;
    const redisReply *items = NULL;
    long offset = 0, limit = 1000, total;
    int n, cached;
    size_t mark = out->len;
    enum chat_err rc = CHAT_OK;

    if (req->body) {
        rc = proto_body(req, e);
        if (rc == CHAT_OK)
            rc = paging_int(req->body, "offset", &offset, e);
        if (rc == CHAT_OK)
            rc = paging_int(req->body, "limit", &limit, e);
        if (rc != CHAT_OK)
            return rc;
    }
    if (limit > 1000)
        limit = 1000;
    cached = users_cache_enabled() && limit > 0;
    store_auth(&calls[0], cx->cfg, cx->key, cx->claimed);
    store_users_count(&calls[1]);
    store_users_range(&calls[2], offset, limit);
    /* LRANGE x x-1 would mean "to the end": limit 0 reads no records */
    n = limit == 0 || cached ? 2 : 3;
    rc = db_pipeline(cx->db, calls, n, r, e);
    if (rc != CHAT_OK)
        return rc;
    if (r[0]->type == REDIS_REPLY_ERROR) {
        rc = store_reply_error(r[0], e);
        goto out;
    }
    if (r[1]->type != REDIS_REPLY_INTEGER) {
        rc = chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
        goto out;
    }
    total = (long)r[1]->integer;
    if (limit == 0) {
        struct users_page none = {0};
        write_users(out, total, &none, NULL);
    } else if (!(cached && users_cache_get(offset, limit, total, out))) {
        rc = users_records(cx, &calls[2], r[2], &items, &fetched, e);
        if (rc == CHAT_OK)
            rc = users_build(cx, total, items, out, e);
        if (rc == CHAT_OK && cached && !jbuf_failed(out))
            users_cache_put(offset, limit, total, out->data + mark,
                            out->len - mark);
    }
out:
    freeReplyObject(fetched);
    for (int i = 0; i < n; i++)
        freeReplyObject(r[i]);
    return rc;
}

static void write_history(struct jbuf *out, const redisReply *hist,
                          const struct user_map *m)
{
    int n = 0;

    jbuf_cstr(out, "\"messages\":[");
    for (size_t i = 0; i < hist->elements; i++) {
        const redisReply *h = hist->element[i];
        size_t mark = out->len;
        if (h->type != REDIS_REPLY_STRING)
            continue;
        if (n)
            jbuf_raw(out, ",", 1);
        if (render_message(out, h->str, h->len, m)) {
            out->len = mark; /* skip an undecodable element (W13) */
            continue;
        }
        n++;
    }
    jbuf_raw(out, "]", 1);
}

static void write_members(struct jbuf *out, const redisReply *members,
                          const struct user_map *m)
{
    int n = 0;

    jbuf_cstr(out, "\"users\":[");
    for (size_t i = 0; i < members->elements; i++) {
        const struct store_user *u;
        if (members->element[i]->type != REDIS_REPLY_STRING)
            continue;
        u = user_map_find(m, members->element[i]->str);
        if (!u)
            continue;
        if (n++)
            jbuf_raw(out, ",", 1);
        render_user_n(out, u->uuid, u->name, u->name_len, u->online);
    }
    jbuf_raw(out, "]", 1);
}

enum chat_err h_channel_join(struct hctx *cx, const struct chat_request *req,
                             struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    struct user_map m = {0};
    redisReply *r;
    char rcpt[UUID_SIZE], new_channel[UUID_SIZE];
    enum chat_err rc;

    rc = body_recipient(req, rcpt, e);
    if (rc != CHAT_OK)
        return rc;
    auth_new_uuid(new_channel);
    store_join(&c, cx->cfg, cx->key, cx->claimed, rcpt, cx->session,
               new_channel);
    rc = call_array(cx, &c, 4, &r, e);
    if (rc != CHAT_OK)
        return rc;
    if (r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[2]->type != REDIS_REPLY_ARRAY ||
        user_map_load(&m, r->element[3])) {
        freeReplyObject(r);
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    jbuf_cstr(out, "{\"type\":\"channelJoin\",\"channelJoin\":{");
    if (rcpt[0]) {
        jbuf_cstr(out, "\"recipientUUID\":");
        jbuf_cstr_q(out, rcpt);
        jbuf_raw(out, ",", 1);
    }
    write_history(out, r->element[1], &m);
    jbuf_raw(out, ",", 1);
    write_members(out, r->element[2], &m);
    jbuf_cstr(out, "}}");
    user_map_free(&m);
    freeReplyObject(r);
    return CHAT_OK;
}

enum chat_err h_channel_leave(struct hctx *cx, const struct chat_request *req,
                              struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    redisReply *r;
    char rcpt[UUID_SIZE];
    enum chat_err rc;

    rc = body_recipient(req, rcpt, e);
    if (rc != CHAT_OK)
        return rc;
    store_leave(&c, cx->cfg, cx->key, cx->claimed, rcpt, cx->session);
    rc = call_array(cx, &c, 1, &r, e);
    if (rc != CHAT_OK)
        return rc;
    freeReplyObject(r);
    jbuf_cstr(out, "{\"type\":\"channelLeave\",\"channelLeave\":{"
                   "\"recipientUUID\":");
    jbuf_cstr_q(out, rcpt);
    jbuf_cstr(out, "}}");
    return CHAT_OK;
}

/* RFC 3339 with nanoseconds, trailing zeros trimmed, UTC: Go's
 * time.RFC3339Nano as the original writes CreatedAt. */
static void created_now(char out[40])
{
    struct timespec ts;
    struct tm tm;
    char frac[16] = "";
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (ts.tv_nsec) {
        snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
        n = strlen(frac);
        while (frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, "%sZ", frac);
}

/* One message a client sends, and the parts of it the reply repeats. */
struct outgoing {
    char rcpt[UUID_SIZE];
    const char *text; /* borrowed from the request */
    size_t len;
    char client_id[UUID_SIZE];
    char uuid[UUID_SIZE];
    char created[40];
    char new_channel[UUID_SIZE];
    struct jbuf quoted; /* the text as a JSON string */
};

/* recipientUUID, message and the optional clientId of one message. */
static enum chat_err parse_outgoing(json_object *o, struct outgoing *m,
                                    struct chat_error *e)
{
    const char *cid = NULL;
    enum chat_err rc = object_recipient(o, m->rcpt, e);

    m->client_id[0] = '\0';
    if (rc == CHAT_OK)
        rc = proto_string(o, "message", 1, CHAT_E_BAD_MESSAGE, &m->text,
                          &m->len, e);
    if (rc == CHAT_OK)
        rc = proto_message(m->text, m->len, e);
    /* clientId: the client's own id of this message, so that a retry after
     * a 503 or a timeout stores nothing new */
    if (rc == CHAT_OK)
        rc = proto_string(o, "clientId", 0, CHAT_OK, &cid, NULL, e);
    if (rc == CHAT_OK && cid && *cid)
        rc = proto_uuid(cid, "clientId", m->client_id, e);
    if (rc != CHAT_OK)
        return rc;
    jbuf_str(&m->quoted, m->text, m->len);
    if (jbuf_failed(&m->quoted))
        return chat_fail(e, CHAT_E_INTERNAL, "out of memory");
    auth_new_uuid(m->uuid);
    m->new_channel[0] = '\0';
    if (m->rcpt[0]) /* only a private pair may need a new channel id */
        auth_new_uuid(m->new_channel);
    created_now(m->created);
    return CHAT_OK;
}

/* Stores the n messages in one call; *r is its checked reply. */
static enum chat_err store_outgoing(struct hctx *cx, struct outgoing *m,
                                    size_t n, redisReply **r,
                                    struct chat_error *e)
{
    struct store_new_message sm[STORE_BATCH_MAX];
    struct store_call c;
    enum chat_err rc;

    for (size_t i = 0; i < n; i++) {
        sm[i] = (struct store_new_message){
            .recipient = m[i].rcpt,
            .new_channel = m[i].new_channel,
            .uuid = m[i].uuid,
            .json = m[i].quoted.data,
            .json_len = m[i].quoted.len,
            .created = m[i].created,
            .client_id = m[i].client_id,
        };
    }
    store_messages(&c, cx->cfg, cx->key, cx->claimed, sm, n);
    rc = call_array(cx, &c, 6, r, e);
    if (rc != CHAT_OK)
        return rc;
    if ((*r)->element[0]->type != REDIS_REPLY_STRING ||
        (*r)->element[5]->type != REDIS_REPLY_ARRAY ||
        (*r)->element[5]->elements != 3 * (n - 1)) {
        freeReplyObject(*r);
        *r = NULL;
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    return CHAT_OK;
}

/* Message i of the reply as the contract's message object: rendered from
 * what was just stored (not re-parsed), or a retry's stored bytes. */
static int render_stored(struct jbuf *out, const redisReply *r, size_t i,
                         const struct outgoing *m, const struct user_map *map)
{
    const redisReply *more = r->element[5];
    const redisReply *b = i ? more->element[3 * (i - 1)] : r->element[1];
    const redisReply *replayed =
        i ? more->element[3 * (i - 1) + 2] : r->element[4];

    if (b->type != REDIS_REPLY_STRING || replayed->type != REDIS_REPLY_INTEGER)
        return -1;
    if (replayed->integer == 1)
        return render_message(out, b->str, b->len, map);
    render_message_parts(out, m->uuid, r->element[0]->str, m->rcpt, m->text,
                         m->len, m->created, map);
    return 0;
}

/* Stores n parsed messages and writes their message objects, comma-
 * separated, into out. */
static enum chat_err send_outgoing(struct hctx *cx, struct outgoing *m,
                                   size_t n, struct jbuf *out,
                                   struct chat_error *e)
{
    struct user_map map = {0};
    redisReply *r = NULL;
    enum chat_err rc = store_outgoing(cx, m, n, &r, e);

    if (rc != CHAT_OK || !r)
        return rc != CHAT_OK ? rc : chat_fail(e, CHAT_E_INTERNAL, NULL);
    if (user_map_load(&map, r->element[3])) {
        freeReplyObject(r);
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        if (i)
            jbuf_raw(out, ",", 1);
        if (render_stored(out, r, i, &m[i], &map))
            rc = chat_fail(e, CHAT_E_INTERNAL, "unreadable stored message");
    }
    user_map_free(&map);
    freeReplyObject(r);
    return rc;
}

static void outgoing_free(struct outgoing *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jbuf_free(&m[i].quoted);
}

enum chat_err h_channel_message(struct hctx *cx, const struct chat_request *req,
                                struct jbuf *out, struct chat_error *e)
{
    struct outgoing m;
    enum chat_err rc;

    jbuf_init(&m.quoted);
    rc = parse_outgoing(req->body, &m, e);
    if (rc == CHAT_OK) {
        jbuf_cstr(out, "{\"type\":\"channelMessage\",\"channelMessage\":");
        rc = send_outgoing(cx, &m, 1, out, e);
        jbuf_raw(out, "}", 1);
    }
    outgoing_free(&m, 1);
    return rc;
}

/* channelMessageBatch {messages:[{recipientUUID,message[,clientId]}...]}: up
 * to STORE_BATCH_MAX messages of one sender in one request and one Redis
 * call, stored in order, all or none (a client with several messages
 * queued, as Socket.IO's polling transport batches its packets). */
enum chat_err h_channel_message_batch(struct hctx *cx,
                                      const struct chat_request *req,
                                      struct jbuf *out, struct chat_error *e)
{
    struct outgoing m[STORE_BATCH_MAX];
    json_object *list = proto_field(req->body, "messages");
    size_t n = 0;
    enum chat_err rc = CHAT_OK;

    if (!list || !json_object_is_type(list, json_type_array) ||
        json_object_array_length(list) < 1 ||
        json_object_array_length(list) > STORE_BATCH_MAX)
        return chat_fail(e, CHAT_E_FIELD_TYPE,
                         "messages: an array of 1 to 32 messages");
    for (; n < json_object_array_length(list) && rc == CHAT_OK; n++) {
        json_object *o = json_object_array_get_idx(list, n);
        jbuf_init(&m[n].quoted);
        rc = json_object_is_type(o, json_type_object)
                 ? parse_outgoing(o, &m[n], e)
                 : chat_fail(e, CHAT_E_FIELD_TYPE, "messages: objects");
    }
    if (rc == CHAT_OK) {
        jbuf_cstr(out,
                  "{\"type\":\"channelMessageBatch\",\"channelMessageBatch\":"
                  "{\"messages\":[");
        rc = send_outgoing(cx, m, n, out, e);
        jbuf_cstr(out, "]}}");
    }
    outgoing_free(m, n);
    return rc;
}
