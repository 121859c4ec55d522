/* dispatch.c - the route table and the message-type table; the checks the
 * tables ask for are made here once, so handlers never repeat them. */
#include <assert.h>
#include <string.h>

#include "common/http.h"
#include "common/log.h"
#include "common/proto.h"
#include "fcgi/dispatch.h"
#include "fcgi/handlers.h"
#include "fcgi/poll.h"

enum msg_flags {
    NEED_KEY = 1 << 0,  /* 401 without an access key */
    NEED_BODY = 1 << 1, /* 400 without the body object */
};

struct msg_route {
    const char *type;
    msg_handler fn;
    unsigned flags;
};

static const struct msg_route msg_routes[] = {
    {.type = "ready", .fn = h_ready, .flags = 0},
    {.type = "signUp", .fn = h_sign_up, .flags = NEED_BODY},
    {.type = "signIn", .fn = h_sign_in, .flags = NEED_BODY},
    {.type = "signOut", .fn = h_sign_out, .flags = NEED_KEY},
    {.type = "users", .fn = h_users, .flags = NEED_KEY},
    {.type = "channelJoin",
     .fn = h_channel_join,
     .flags = NEED_KEY | NEED_BODY},
    {.type = "channelLeave",
     .fn = h_channel_leave,
     .flags = NEED_KEY | NEED_BODY},
    {.type = "channelMessage",
     .fn = h_channel_message,
     .flags = NEED_KEY | NEED_BODY},
    {.type = "channelMessageBatch",
     .fn = h_channel_message_batch,
     .flags = NEED_KEY | NEED_BODY},
    {.type = "unread", .fn = h_unread, .flags = NEED_KEY},
};

static const struct msg_route *find_msg_route(const char *type)
{
    for (size_t i = 0; i < sizeof msg_routes / sizeof msg_routes[0]; i++) {
        if (strcmp(msg_routes[i].type, type) == 0)
            return &msg_routes[i];
    }
    return NULL;
}

/* Envelope fields every type shares: key, claimed user, session. */
static enum chat_err load_envelope(struct hctx *cx, const struct request *rq,
                                   const struct chat_request *req,
                                   struct chat_error *e)
{
    enum chat_err rc;

    cx->key = rq->bearer[0] ? rq->bearer : (req->key ? req->key : "");
    if (strlen(cx->key) > PROTO_KEY_MAX)
        return chat_fail(e, CHAT_E_BAD_KEY, NULL);
    if (req->user_uuid && *req->user_uuid) {
        rc = proto_uuid(req->user_uuid, "userUUID", cx->claimed, e);
        if (rc != CHAT_OK)
            return rc;
    }
    if (req->session && *req->session) {
        rc = proto_uuid(req->session, "sessionUUID", cx->session, e);
        if (rc != CHAT_OK)
            return rc;
    }
    return CHAT_OK;
}

static enum chat_err run_message(struct hctx *cx, const struct request *rq,
                                 const struct chat_request *req,
                                 struct jbuf *out, struct chat_error *e)
{
    const struct msg_route *route = find_msg_route(req->type);
    enum chat_err rc;

    if (!route) /* the reply never echoes input */
        return chat_fail(e, CHAT_E_UNKNOWN_TYPE, NULL);
    rc = load_envelope(cx, rq, req, e);
    if (rc != CHAT_OK)
        return rc;
    if ((route->flags & NEED_KEY) && !cx->key[0])
        return chat_fail(e, CHAT_E_NO_KEY, NULL);
    if (route->flags & NEED_BODY) {
        rc = proto_body(req, e);
        if (rc != CHAT_OK)
            return rc;
    }
    return route->fn(cx, req, out, e);
}

static void serve_api(struct db *db, const struct config *cfg,
                      const struct request *rq, struct reply *rep)
{
    struct chat_error e = {0};
    struct chat_request req;
    struct hctx cx = {.db = db, .cfg = cfg, .addr = rq->addr};
    enum chat_err rc;

    if (rq->body_too_large) {
        chat_fail(&e, CHAT_E_TOO_LARGE, NULL);
        goto fail;
    }
    rc = proto_parse(rq->body ? rq->body : "", rq->body_len, &req, &e);
    if (rc != CHAT_OK)
        goto fail;
    rc = run_message(&cx, rq, &req, &rep->body, &e);
    /* a handler that succeeds has said something; one that fails says
     * why in e */
    assert(rc == CHAT_OK ? rep->body.len > 0 || jbuf_failed(&rep->body)
                         : rc == e.err);
    if (rc == CHAT_OK)
        log_debug("api %s ok", req.type);
    else
        log_info("api %s -> %d %s", req.type, chat_err_status(rc),
                 chat_err_text(rc));
    proto_request_free(&req);
    if (rc == CHAT_OK)
        return;
fail:
    reply_error(rep, &e);
}

static void serve_health(struct db *db, const struct config *cfg,
                         const struct request *rq, struct reply *rep)
{
    struct chat_error e = {0};
    struct store_call c;
    redisReply *r = NULL;

    (void)cfg;
    (void)rq;
    store_ping(&c);
    if (db_call(db, &c, &r, &e) != CHAT_OK) {
        reply_error(rep, &e);
        return;
    }
    freeReplyObject(r);
    jbuf_cstr(&rep->body, "{\"status\":\"ok\",\"redis\":\"up\"}");
}

/* chat.fcgi has no streaming responses: SSE needs chat-poller. The web
 * client uses /poll only, so nothing there depends on it. */
static void serve_no_events(struct db *db, const struct config *cfg,
                            const struct request *rq, struct reply *rep)
{
    struct chat_error e = {0};

    (void)db;
    (void)cfg;
    (void)rq;
    chat_fail(&e, CHAT_E_NOT_FOUND,
              "/events is served by chat-poller; use /poll here");
    reply_error(rep, &e);
}

struct route {
    const char *name;   /* last path segment */
    const char *method; /* GET also takes HEAD */
    const char *allow;  /* the Allow header of 405 and OPTIONS */
    void (*fn)(struct db *, const struct config *, const struct request *,
               struct reply *);
};

static const struct route routes[] = {
    {.name = "api",
     .method = "POST",
     .allow = "POST, OPTIONS",
     .fn = serve_api},
    {.name = "health",
     .method = "GET",
     .allow = "GET, HEAD, OPTIONS",
     .fn = serve_health},
    {.name = "poll",
     .method = "GET",
     .allow = "GET, HEAD, OPTIONS",
     .fn = poll_serve},
    {.name = "events",
     .method = "GET",
     .allow = "GET, HEAD, OPTIONS",
     .fn = serve_no_events},
};

static const char *last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const struct route *find_route(const struct request *rq)
{
    const char *seg = last_segment(rq->path);

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].name, seg) == 0)
            return &routes[i];
    }
    return rq->bare_script ? &routes[0] : NULL; /* POST /cgi-bin/chat.cgi */
}

static int method_fits(const struct route *rt, const char *method)
{
    return strcmp(rt->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

void dispatch_request(struct db *db, const struct config *cfg,
                      const struct request *rq, struct reply *rep)
{
    const struct route *rt = find_route(rq);
    struct chat_error e = {0};

    if (!rt) {
        chat_fail(&e, CHAT_E_NOT_FOUND, NULL);
        reply_error(rep, &e);
        return;
    }
    rep->allow = rt->allow;
    if (http_cors_allowed(cfg->cors_origins, rq->origin))
        rep->cors_origin = rq->origin;
    if (strcmp(rq->method, "OPTIONS") == 0) {
        rep->status = 204; /* a preflight, or a plain OPTIONS */
        rep->preflight = rep->cors_origin != NULL;
        return;
    }
    if (!method_fits(rt, rq->method)) {
        chat_fail(&e, CHAT_E_METHOD, NULL);
        reply_error(rep, &e);
        return;
    }
    rt->fn(db, cfg, rq, rep);
}
