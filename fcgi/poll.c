/* poll.c - GET /poll inside chat.fcgi (hosts without chat-poller, e.g.
 * Apache mod_fcgid): the same parameters (common/pollreq), the same
 * catch-up read and answer (common/store S_POLL, common/render) as the
 * poller. When nothing is due the worker waits: it subscribes to
 * rcg:wake and the session's channel, reads again once Redis confirmed
 * (nothing slips between read and wait), then on every notification,
 * until something is due, the timeout passes or shutdown begins. One
 * worker thread and one Redis connection per waiting poll. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/pollreq.h"
#include "common/render.h"
#include "common/store.h"
#include "fcgi/poll.h"
#include "fcgi/poll_slots.h"
#include "fcgi/poll_wait.h"

static atomic_int stopping;

/* Whether Redis notifies list writes (keyspace notifications): asked at
 * most every KEYSPACE_CHECK_MS per process, and switched on with CONFIG
 * SET when CHAT_KEYSPACE_SETUP allows. */
#define KEYSPACE_CHECK_MS 10000
static atomic_int keyspace;
static atomic_llong keyspace_checked_ms;
static atomic_int keyspace_logged;

/* One plain command; its reply (error replies included) or NULL. */
static redisReply *plain_command(struct db *db, struct store_call *c)
{
    struct chat_error e = {0};
    redisReply *r = NULL;

    if (db_pipeline(db, c, 1, &r, &e) != CHAT_OK)
        return NULL;
    return r;
}

static int keyspace_check(struct db *db, const struct config *cfg)
{
    struct store_call c;
    redisReply *r;
    char flags[STORE_NOTIFY_FLAGS_MAX];
    int on = 0, got;

    store_notify_get(&c);
    r = plain_command(db, &c);
    got = store_notify_parse(r, flags, sizeof flags) == 0;
    freeReplyObject(r);
    if (got && !(on = store_notify_covers(flags)) && cfg->keyspace_setup) {
        store_notify_set(&c, flags);
        r = plain_command(db, &c);
        on = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
    }
    if (!on && !atomic_exchange(&keyspace_logged, 1))
        log_info("keyspace notifications are off (set notify-keyspace-events "
                 "Kl in redis.conf): Go server messages are found by "
                 "re-reading");
    return on;
}

static int keyspace_on(struct db *db, const struct config *cfg)
{
    long long now = poll_wait_now_ms(),
              last = atomic_load(&keyspace_checked_ms);

    if (last && now - last < KEYSPACE_CHECK_MS)
        return atomic_load(&keyspace);
    atomic_store(&keyspace_checked_ms, now);
    atomic_store(&keyspace, keyspace_check(db, cfg));
    return atomic_load(&keyspace);
}

void poll_shutdown(void)
{
    atomic_store(&stopping, 1);
}

static int should_stop(void)
{
    return atomic_load(&stopping);
}

static enum chat_err read_args(const struct request *rq, int max_hold,
                               struct pollreq *p, struct chat_error *e)
{
    char session[64], key[PROTO_KEY_MAX + 2], cursor[CURSOR_MAX + 2],
        timeout[16];
    struct pollreq_in in = {.bearer = rq->bearer, .max_hold = max_hold};
    int rc;

    memset(p, 0, sizeof *p);

    rc = request_query_param(rq, "sessionUUID", session, sizeof session);
    if (rc < 0)
        return chat_fail(e, CHAT_E_BAD_UUID, "invalid sessionUUID");
    in.session = rc ? session : NULL;
    rc = request_query_param(rq, "accessKey", key, sizeof key);
    if (rc < 0)
        return chat_fail(e, CHAT_E_BAD_KEY, NULL);
    in.key = rc ? key : NULL;
    rc = request_query_param(rq, "cursor", cursor, sizeof cursor);
    if (rc < 0)
        return chat_fail(e, CHAT_E_BAD_CURSOR, NULL);
    in.cursor = rc ? cursor : NULL;
    rc = request_query_param(rq, "timeout", timeout, sizeof timeout);
    if (rc < 0)
        return chat_fail(e, CHAT_E_BAD_PARAM, POLLREQ_TIMEOUT_ERROR);
    in.timeout = rc ? timeout : NULL;
    return pollreq_parse(&in, p, e);
}

/* Keeps the position a read returned, for the next read and for an
 * empty answer. Returns 0 or -1. */
static int keep_position(struct pollreq *p, const struct store_poll_result *r)
{
    if (strlen(r->sys_id) >= sizeof p->cur.sys ||
        strlen(r->jn) >= sizeof p->cur.jn ||
        strlen(r->notice_id) >= sizeof p->cur.nid)
        return -1;
    snprintf(p->cur.sys, sizeof p->cur.sys, "%s", r->sys_id);
    snprintf(p->cur.jn, sizeof p->cur.jn, "%s", r->jn);
    snprintf(p->cur.nid, sizeof p->cur.nid, "%s", r->notice_id);
    p->cur.pos = r->pos;
    store_poll_check(r, p->cur.chk);
    p->has_cursor = 1;
    return 0;
}

/* One catch-up read. Returns CHAT_OK with *r (caller frees) and res. */
static enum chat_err read_once(struct db *db, const struct config *cfg,
                               struct pollreq *p, redisReply **r,
                               struct store_poll_result *res,
                               struct chat_error *e)
{
    struct store_call c;

    pollreq_call(&c, cfg, p);
    if (db_call(db, &c, r, e) != CHAT_OK)
        return e->err;
    if (store_parse_poll(*r, res) || keep_position(p, res)) {
        freeReplyObject(*r);
        *r = NULL;
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    return CHAT_OK;
}

static int is_due(const struct store_poll_result *res)
{
    return res->reset || (res->events && res->events->elements) ||
           (res->notices && res->notices->elements) ||
           (res->messages && res->messages->elements);
}

/* Nothing due: the current cursor; poll_after_ms > 0 when the poll could
 * not be held (no free slot): the client polls again that much later. */
static void answer_empty(const struct pollreq *p, int poll_after_ms,
                         struct reply *rep)
{
    char cur[CURSOR_MAX];

    cursor_format(cur, p->session, p->cur.sys, p->cur.jn, p->cur.pos,
                  p->cur.chk, p->cur.nid);
    render_poll_answer(&rep->body, cur, 0, NULL, 0, poll_after_ms);
}

/* Reads, and while nothing is due waits for a notification and reads
 * again, holding a slot (poll_slots.h); *no_slot is set when there was
 * none. On CHAT_OK *r holds the answer's read, or is NULL for an empty
 * answer at p's position. */
static enum chat_err wait_for_due(struct db *db, const struct config *cfg,
                                  struct pollreq *p, redisReply **r,
                                  struct store_poll_result *res, int *no_slot,
                                  struct chat_error *e)
{
    long long deadline = poll_wait_now_ms() + 1000LL * p->timeout;
    struct poll_wait w;
    struct poll_slot slot = {0};
    enum poll_wait_rc rc = POLL_WAIT_WOKEN;

    poll_wait_init(&w, p->timeout ? keyspace_on(db, cfg) : 0);
    for (;;) {
        if (read_once(db, cfg, p, r, res, e) != CHAT_OK)
            break;
        if (is_due(res) || p->timeout == 0 || rc != POLL_WAIT_WOKEN ||
            should_stop())
            break;
        if (!slot.held && !poll_slot_take(db, cfg, p->timeout, &slot)) {
            freeReplyObject(*r);
            *r = NULL;
            *no_slot = 1;
            break;
        }
        /* (Re)subscribe for the channel the session follows now; once
         * confirmed, read again before waiting. Wakes for the notices
         * of other users are not ours. */
        const char *ch = res->channel ? res->channel : "";
        poll_wait_user(&w, res->uid);
        if (!w.ctx || strcmp(w.channel, ch) != 0) {
            if (poll_wait_follow(&w, cfg, ch) == 0) {
                freeReplyObject(*r);
                *r = NULL;
                continue;
            }
            rc = POLL_WAIT_FAILED;
        } else {
            rc = poll_wait_next(&w, deadline, should_stop);
        }
        freeReplyObject(*r);
        *r = NULL;
        if (rc == POLL_WAIT_FAILED) {
            /* Redis went away: answer empty at the current position; the
             * client polls again. */
            e->err = CHAT_OK;
            break;
        }
        if (rc != POLL_WAIT_WOKEN)
            break;
    }
    poll_wait_close(&w);
    poll_slot_give(db, cfg, &slot);
    return e->err;
}

void poll_serve(struct db *db, const struct config *cfg,
                const struct request *rq, struct reply *rep)
{
    struct chat_error e = {0};
    struct pollreq p;
    struct store_poll_result res = {0};
    redisReply *r = NULL;
    int no_slot = 0;

    if (!cfg->fcgi_poll) {
        chat_fail(&e, CHAT_E_NOT_FOUND, "polling is served by chat-poller");
        goto fail;
    }
    if (read_args(rq, cfg->poll_max_hold, &p, &e) != CHAT_OK)
        goto fail;
    if (wait_for_due(db, cfg, &p, &r, &res, &no_slot, &e) != CHAT_OK)
        goto fail;
    if (!r) {
        answer_empty(&p, no_slot ? poll_slot_retry_ms() : 0, rep);
        return;
    }
    if (render_poll_json(&rep->body, &res, p.session)) {
        chat_fail(&e, CHAT_E_INTERNAL, "cannot render the answer");
        goto fail;
    }
    freeReplyObject(r);
    return;
fail:
    freeReplyObject(r);
    reply_error(rep, &e);
}
