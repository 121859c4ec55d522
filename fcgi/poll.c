/* poll.c - GET /poll inside chat.fcgi: parameters, access key, one catch-up
 * read. It answers at once with what is due (timeout is accepted and
 * validated; waiting is done by chat-poller). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/cursor.h"
#include "common/proto.h"
#include "common/render.h"
#include "common/store.h"
#include "fcgi/poll.h"

static volatile sig_atomic_t stopping;

void poll_shutdown(void)
{
    stopping = 1;
}

/* The poll parameters of a request. */
struct poll_args {
    char session[37];
    char key[128];
    struct cursor cur;
    int has_cursor;
    long timeout;
};

static enum chat_err read_args(const struct request *rq, struct poll_args *a,
                               struct chat_error *e)
{
    char buf[CURSOR_MAX], *end;
    int has;

    memset(a, 0, sizeof *a);
    a->timeout = 25;
    if (request_query_param(rq, "sessionUUID", buf, sizeof buf) != 1)
        return chat_fail(e, CHAT_E_BAD_UUID, "sessionUUID is required");
    if (proto_uuid(buf, "sessionUUID", a->session, e) != CHAT_OK)
        return e->err;
    snprintf(a->key, sizeof a->key, "%s", rq->bearer);
    if (!a->key[0] &&
        request_query_param(rq, "accessKey", a->key, sizeof a->key) < 0)
        return chat_fail(e, CHAT_E_BAD_KEY, NULL);
    if (!a->key[0])
        return chat_fail(e, CHAT_E_NO_KEY, NULL);
    has = request_query_param(rq, "cursor", buf, sizeof buf);
    if (has < 0)
        return chat_fail(e, CHAT_E_BAD_CURSOR, NULL);
    if (has && buf[0]) {
        if (cursor_parse(buf, a->session, &a->cur, e) != CHAT_OK)
            return e->err;
        a->has_cursor = 1;
    }
    has = request_query_param(rq, "timeout", buf, sizeof buf);
    if (has < 0)
        return chat_fail(e, CHAT_E_BAD_PARAM, "timeout must be 0..55");
    if (has) {
        a->timeout = strtol(buf, &end, 10);
        if (!buf[0] || *end || a->timeout < 0 || a->timeout > 55)
            return chat_fail(e, CHAT_E_BAD_PARAM, "timeout must be 0..55");
    }
    return CHAT_OK;
}

void poll_serve(struct db *db, const struct config *cfg,
                const struct request *rq, struct reply *rep)
{
    struct chat_error e = {0};
    struct poll_args a;
    struct store_call c;
    struct store_poll_result res;
    redisReply *r = NULL;

    if (!cfg->fcgi_poll) {
        chat_fail(&e, CHAT_E_NOT_FOUND, "polling is served by chat-poller");
        goto fail;
    }
    if (read_args(rq, &a, &e) != CHAT_OK)
        goto fail;
    store_poll(&c, cfg, a.key, a.session, a.has_cursor ? a.cur.jn : "",
               a.has_cursor ? a.cur.sys : "", a.has_cursor ? a.cur.pos : 0,
               100);
    if (db_call(db, &c, &r, &e) != CHAT_OK)
        goto fail;
    if (store_parse_poll(r, &res) ||
        render_poll_json(&rep->body, &res, a.session)) {
        chat_fail(&e, CHAT_E_INTERNAL, "unexpected store reply");
        goto fail;
    }
    freeReplyObject(r);
    return;
fail:
    freeReplyObject(r);
    reply_error(rep, &e);
}
