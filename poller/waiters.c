/* waiters.c - waiter lifetime and reads: start, park, wake, read, time
 * out, hang up. One thread. A re-poll whose session and channel the
 * poller already knows is answered or parked from sessions.c and room.c
 * without a Redis round trip; any other poll runs the catch-up read
 * (S_POLL). The answers themselves are written by longpoll.c and
 * eventsource.c. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/store.h"
#include "poller/feed.h"
#include "poller/metrics.h"
#include "poller/room.h"
#include "poller/sessions.h"
#include "poller/waiter.h"

static struct event_base *base;
static const struct config *cfg;
static struct waiter *no_chan; /* waiters that follow no channel */
static long alive;
static int draining;
static const struct timeval *common_tv[POLLREQ_TIMEOUT_MAX + 1];
static const struct timeval *heartbeat_tv;

static void start_read(struct waiter *w);

/* --- lists --- */

static struct waiter **head_of(struct chan *ch)
{
    return ch ? &ch->head : &no_chan;
}

static void link_waiter(struct waiter *w, struct chan *ch)
{
    struct waiter **h = head_of(ch);

    assert(!w->linked); /* one list at a time */
    w->chan = ch;
    w->prev = NULL;
    w->next = *h;
    if (*h)
        (*h)->prev = w;
    *h = w;
    w->linked = 1;
    if (ch)
        feed_follow(ch);
}

static void unlink_waiter(struct waiter *w)
{
    struct chan *ch = w->chan;

    if (!w->linked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        *head_of(ch) = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
    w->chan = NULL;
    if (ch) {
        feed_unfollow(ch);
        chan_maybe_free(ch);
    }
}

/* The user's list: a notice of the user (users.h) wakes these. */
static void unlink_user(struct waiter *w)
{
    struct poll_user *u = w->user;

    if (!u)
        return;
    if (w->uprev)
        w->uprev->unext = w->unext;
    else
        u->head = w->unext;
    if (w->unext)
        w->unext->uprev = w->uprev;
    w->uprev = w->unext = NULL;
    w->user = NULL;
    users_release(u);
}

/* Links w to u (one more reference), leaving the user it had. */
static void link_user(struct waiter *w, struct poll_user *u)
{
    if (w->user == u)
        return;
    unlink_user(w);
    users_ref(u);
    w->user = u;
    w->uprev = NULL;
    w->unext = u->head;
    if (u->head)
        u->head->uprev = w;
    u->head = w;
}

/* Follows the user a read named. Returns 0, or -1 on no memory. */
static int follow_user(struct waiter *w, const char *uid)
{
    struct poll_user *u;

    if (w->user && strcmp(w->user->uid, uid) == 0)
        return 0;
    u = users_hold(uid);
    if (!u)
        return -1;
    link_user(w, u);
    users_release(u); /* the link holds its own */
    w->user_held = 0; /* its wakes during this read went unattributed */
    return 0;
}

/* Follows the channel the session follows now ("" = none). */
static int follow(struct waiter *w, const char *channel)
{
    struct chan *ch = NULL;

    if (channel[0]) {
        ch = chan_get(channel);
        if (!ch)
            return -1;
    }
    if (w->linked && w->chan == ch)
        return 0;
    unlink_waiter(w);
    link_waiter(w, ch);
    return 0;
}

/* --- lifetime --- */

static void gauge(const struct waiter *w, int delta)
{
    if (w->kind == WAITER_POLL)
        metrics.parked += delta;
    else
        metrics.streams += delta;
}

static void detach(struct waiter *w)
{
    evtimer_del(&w->timer);
    unlink_waiter(w);
    unlink_user(w);
}

void waiter_end(struct waiter *w)
{
    detach(w);
    client_release(w->client);
    w->client = NULL;
    gauge(w, -1);
    alive--;
    free(w);
}

struct evhttp_request *waiter_take_request(struct waiter *w,
                                           struct client **client)
{
    struct evhttp_request *req = w->req;

    assert(!w->answered); /* a request is answered once */
    w->answered = 1;
    detach(w);
    *client = w->client;
    w->client = NULL;
    w->req = NULL;
    return req;
}

int waiter_draining(const struct waiter *w)
{
    return draining || w->draining;
}

void waiter_cursor(const struct waiter *w, char *out)
{
    cursor_format(out, w->p.session, w->p.cur.sys, w->p.cur.jn, w->p.cur.pos,
                  w->p.cur.chk, w->p.cur.nid);
}

/* The client hung up: its connection is freed right after this. */
static void on_gone(void *arg)
{
    struct waiter *w = arg;

    w->client = NULL;
    w->req = NULL;
    w->answered = 1;
    detach(w);
    if (w->reading) {
        w->gone = 1; /* the read in flight owns it until its reply */
        return;
    }
    waiter_end(w);
}

/* --- reads --- */

static int copy_position(struct waiter *w, const struct store_poll_result *r)
{
    if (strlen(r->sys_id) >= sizeof w->p.cur.sys ||
        strlen(r->jn) >= sizeof w->p.cur.jn ||
        strlen(r->notice_id) >= sizeof w->p.cur.nid)
        return -1;
    memcpy(w->p.cur.sys, r->sys_id, strlen(r->sys_id) + 1);
    memcpy(w->p.cur.jn, r->jn, strlen(r->jn) + 1);
    memcpy(w->p.cur.nid, r->notice_id, strlen(r->notice_id) + 1);
    w->p.cur.pos = r->pos;
    store_poll_check(r, w->p.cur.chk);
    w->p.has_cursor = 1;
    return 0;
}

/* After a read with nothing (more) due: park, or read again when a wake
 * may have slipped in while the read was in flight. */
static void park_or_reread(struct waiter *w)
{
    if (feed_read_is_fresh(w->chan, w->sent_seq) &&
        users_fresh(w->user, w->sent_seq, w->user_held))
        return; /* parked: a later wake reads again */
    if (w->chan && w->chan->sub != CHAN_SUBSCRIBED)
        return; /* its SUBSCRIBE ack will wake it */
    if (!feed_up())
        return; /* the re-subscribe after reconnect will wake it */
    start_read(w);
}

static void end_with_error(struct waiter *w, const struct chat_error *e)
{
    if (w->kind == WAITER_STREAM)
        sse_end(w, e);
    else
        longpoll_answer_error(w, e);
}

static void end_empty(struct waiter *w)
{
    if (w->kind == WAITER_STREAM)
        sse_end(w, NULL);
    else
        longpoll_answer_empty(w);
}

static void on_read_fail(struct waiter *w, const redisReply *r)
{
    struct chat_error e = {0};

    sessions_drop(w->p.session);
    if (r && r->type == REDIS_REPLY_ERROR) {
        enum chat_err err = store_reply_error(r, &e);
        if (err != CHAT_E_REDIS || !w->p.has_cursor) {
            end_with_error(w, &e);
            return;
        }
    }
    if (!w->p.has_cursor || waiter_draining(w)) {
        /* Never validated: the client retries (503). A draining waiter
         * with a cursor answers empty, so it resumes elsewhere. */
        if (w->p.has_cursor) {
            end_empty(w);
            return;
        }
        e.retry_after = 1;
        chat_fail(&e, CHAT_E_REDIS, NULL);
        end_with_error(w, &e);
        return;
    }
    w->stale = 1; /* keep waiting; read again when Redis is back */
    if (w->expired)
        end_empty(w);
}

/* What a complete read tells the caches: the session as it is, and where
 * its channel's list ends. */
static void remember(struct waiter *w, const struct store_poll_result *res,
                     long items)
{
    struct session_seen seen = {.user = w->user,
                                .channel = res->channel,
                                .jn = res->jn,
                                .sys = res->sys_id,
                                .nid = res->notice_id};

    if (items >= POLLREQ_BATCH || res->reset)
        return; /* more is due: nothing to trust yet */
    if (!users_fresh(w->user, w->sent_seq, w->user_held)) {
        sessions_drop(w->p.session); /* a notice may have slipped past */
        return;
    }
    sessions_put(&w->p, &seen, w->sent_seq);
    if (w->chan)
        room_seed(w->chan, res->pos, w->p.cur.chk, w->sent_seq);
}

static void on_stream_read(struct waiter *w,
                           const struct store_poll_result *res, long items)
{
    if (!w->started) {
        w->started = 1;
        sse_begin(w);
    }
    if ((items || res->reset) && sse_write(w, res)) {
        sse_end(w, NULL);
        return;
    }
    if (waiter_draining(w))
        sse_end(w, NULL);
    else if (items >= POLLREQ_BATCH)
        start_read(w); /* more is due */
    else
        park_or_reread(w);
}

static void on_read(const redisReply *r, void *arg)
{
    struct waiter *w = arg;
    struct store_poll_result res;
    long items;

    w->reading = 0;
    if (w->gone) {
        waiter_end(w);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        on_read_fail(w, r);
        return;
    }
    if (store_parse_poll(r, &res) || copy_position(w, &res) ||
        follow(w, res.channel) || follow_user(w, res.uid)) {
        struct chat_error e = {0};
        log_err("unexpected poll reply for session %.8s", w->p.session);
        chat_fail(&e, CHAT_E_INTERNAL, "unexpected store reply");
        end_with_error(w, &e);
        return;
    }
    w->stale = 0;
    items = (long)(res.events->elements + res.notices->elements +
                   res.messages->elements);
    remember(w, &res, items);
    if (w->kind == WAITER_STREAM) {
        on_stream_read(w, &res, items);
        return;
    }
    if (items || res.reset || w->p.timeout == 0 || w->expired ||
        waiter_draining(w)) {
        longpoll_answer_read(w, &res, items);
        return;
    }
    park_or_reread(w);
}

static void start_read(struct waiter *w)
{
    struct store_call c;

    if (w->reading)
        return;
    pollreq_call(&c, cfg, &w->p);
    w->sent_seq = feed_seq();
    w->read_at = sessions_now();
    w->user_held = w->user != NULL;
    if (feed_call(&c, on_read, w) != 0) {
        on_read_fail(w, NULL);
        return;
    }
    w->reading = 1;
    metrics.catchup_reads++;
}

/* A poll at (sys, jn, pos) of a session the poller knows, in ch: answers
 * from the room, or parks. Returns 1 when done, 0 when it must read. */
static int answer_from_room(struct waiter *w, struct chan *ch)
{
    struct jbuf b;
    long k;

    jbuf_init(&b);
    k = room_answer(ch, &b, &w->p);
    if (k > 0)
        longpoll_answer_body(w, b.data, b.len, k);
    jbuf_free(&b);
    if (k != 0)
        return k > 0;
    if (!room_can_park(ch, &w->p.cur))
        return 0;
    if (w->p.timeout == 0) {
        longpoll_answer_empty(w);
        return 1;
    }
    link_waiter(w, ch);
    return 1;
}

/* The re-poll of a known session: no round trip (sessions.h, room.h). */
static int poll_from_cache(struct waiter *w)
{
    char channel[72];
    struct chan *ch;
    struct poll_user *user;

    if (w->kind != WAITER_POLL ||
        !sessions_check(&w->p, channel, sizeof channel, &user))
        return 0;
    link_user(w, user); /* a notice of the user wakes it when parked */
    if (!channel[0]) {
        /* follows no channel: only sys events and notices are due */
        if (w->p.timeout == 0)
            longpoll_answer_empty(w);
        else
            link_waiter(w, NULL);
        metrics.cached_polls++;
        return 1;
    }
    ch = chan_find(channel);
    if (!ch || !answer_from_room(w, ch))
        return 0;
    metrics.cached_polls++;
    return 1;
}

/* --- timers --- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;

    (void)fd;
    (void)what;
    if (w->kind == WAITER_POLL) {
        w->expired = 1;
        if (!w->reading)
            longpoll_answer_empty(w);
        return;
    }
    /* Stream heartbeat: a comment, and a read that refreshes presence. */
    if (evtimer_add(&w->timer, heartbeat_tv) != 0)
        log_err("cannot re-arm the heartbeat");
    if (!w->started)
        return;
    sse_heartbeat(w);
    start_read(w);
}

/* --- entry points --- */

static void on_room_ready(struct chan *ch, int ok);

int waiters_init(struct event_base *b, const struct config *c)
{
    base = b;
    cfg = c;
    for (int i = 0; i <= POLLREQ_TIMEOUT_MAX; i++) {
        struct timeval tv = {.tv_sec = i, .tv_usec = 0};
        common_tv[i] = event_base_init_common_timeout(base, &tv);
        if (!common_tv[i])
            return -1;
    }
    {
        struct timeval tv = {.tv_sec = c->sse_heartbeat, .tv_usec = 0};
        heartbeat_tv = event_base_init_common_timeout(base, &tv);
    }
    room_init(on_room_ready);
    if (!heartbeat_tv || answer_init(base, c) || sessions_init(base))
        return -1;
    return 0;
}

static void refuse(struct evhttp_request *req, enum chat_err err,
                   int retry_after)
{
    struct chat_error e = {0};

    e.retry_after = retry_after;
    chat_fail(&e, err, err == CHAT_E_INTERNAL ? "no memory" : NULL);
    answer_error(req, &e);
}

void waiters_start(struct evhttp_request *req, const struct pollreq *p,
                   enum waiter_kind kind)
{
    struct waiter *w;

    if (draining || !feed_cmd_ready()) {
        refuse(req, CHAT_E_REDIS, 1);
        return;
    }
    if (alive >= cfg->poll_max_waiters) {
        refuse(req, CHAT_E_BUSY, 1);
        return;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        refuse(req, CHAT_E_INTERNAL, 0);
        return;
    }
    w->client = client_watch(req, on_gone, w);
    if (!w->client || evtimer_assign(&w->timer, base, on_timer, w) != 0) {
        client_release(w->client);
        free(w);
        refuse(req, CHAT_E_INTERNAL, 0);
        return;
    }
    w->req = req;
    w->kind = kind;
    w->p = *p;
    alive++;
    gauge(w, 1);
    if (evtimer_add(&w->timer, kind == WAITER_POLL ? common_tv[p->timeout]
                                                   : heartbeat_tv) != 0)
        log_err("cannot arm the waiter timer");
    if (!poll_from_cache(w))
        start_read(w);
}

/* Calls fn on each waiter of a list; fn may unlink or free the waiter it
 * is given (and only that one). */
static void each_in_list(struct waiter *w, void (*fn)(struct waiter *))
{
    while (w) {
        struct waiter *next = w->next;
        fn(w);
        w = next;
    }
}

struct each_ctx {
    void (*fn)(struct waiter *);
};

static void each_in_chan(struct chan *ch, void *ctx)
{
    each_in_list(ch->head, ((struct each_ctx *)ctx)->fn);
}

/* Calls fn on every waiter, with or without a channel. */
static void each_waiter(void (*fn)(struct waiter *))
{
    struct each_ctx c = {.fn = fn};
    each_in_list(no_chan, fn);
    chan_each(each_in_chan, &c);
}

static void wake_one(struct waiter *w)
{
    if (!w->reading)
        start_read(w);
}

/* A stream takes new messages from its channel's room while its key and
 * session were read (S_POLL) within SESSIONS_TTL, as a known poll session
 * does; a sys event or a notice still makes it read at once, and its
 * heartbeat reads anyway. */
static int stream_uses_room(const struct waiter *w)
{
    return w->kind == WAITER_STREAM && w->started && !w->reading &&
           w->p.has_cursor && sessions_now() - w->read_at < SESSIONS_TTL;
}

static void wake_stream(struct waiter *w)
{
    if (w->kind == WAITER_STREAM && !stream_uses_room(w))
        wake_one(w);
}

/* One stream after its channel's room was read: what follows its cursor,
 * in batches, or a read of its own when the room cannot answer. */
static void answer_stream(struct waiter *w, struct chan *ch, int ok)
{
    long k = -1;

    if (w->reading)
        return;
    if (ok && stream_uses_room(w)) {
        do {
            k = sse_write_room(w, ch);
        } while (k >= POLLREQ_BATCH);
    }
    if (k == -2 || (k >= 0 && waiter_draining(w)))
        sse_end(w, NULL);
    else if (k < 0)
        start_read(w);
    /* else up to date: the room reads on if more came meanwhile */
}

/* One parked poll after its channel's room was read. */
static void answer_parked(struct waiter *w, struct chan *ch, int ok,
                          struct jbuf *body)
{
    long k = -1;

    if (w->kind != WAITER_POLL || w->reading)
        return;
    if (ok && w->p.has_cursor) {
        jbuf_reset(body);
        k = room_answer(ch, body, &w->p);
    }
    if (k > 0)
        longpoll_answer_body(w, body->data, body->len, k);
    else if (k < 0)
        start_read(w); /* outside the room: its own catch-up read */
    else if (w->expired || waiter_draining(w))
        longpoll_answer_empty(w);
    /* else parked: the room reads on if more came meanwhile */
}

/* The room of ch was read: every parked poll it can answer gets one write
 * (closed later by the graveyard); the others read alone or stay. */
static void on_room_ready(struct chan *ch, int ok)
{
    struct jbuf body;
    struct waiter *w = ch->head;

    ch->refs++; /* ch outlives the answers that unlink its waiters */
    jbuf_init(&body);
    while (w) {
        struct waiter *next = w->next;
        /* either may end w */
        if (w->kind == WAITER_POLL)
            answer_parked(w, ch, ok, &body);
        else
            answer_stream(w, ch, ok);
        w = next;
    }
    jbuf_free(&body);
    if (ok)
        room_read_more(ch);
    ch->refs--;
    chan_maybe_free(ch);
}

/* New chat messages in ch: one read of the room for every parked poll
 * and every stream of ch that may take from it (stream_uses_room); the
 * other streams read alone. */
static void wake_messages(struct chan *ch)
{
    long lo = -1;

    for (struct waiter *w = ch->head; w; w = w->next) {
        int from_room =
            (w->kind == WAITER_POLL && !w->reading && w->p.has_cursor) ||
            stream_uses_room(w);
        if (from_room && (lo < 0 || w->p.cur.pos < lo))
            lo = w->p.cur.pos;
    }
    each_in_list(ch->head, wake_stream);
    room_wake(ch, lo);
}

void waiters_wake(struct chan *ch, enum feed_wake why)
{
    if (ch && why == FEED_WAKE_MESSAGE) {
        wake_messages(ch);
        return;
    }
    if (ch && why == FEED_WAKE_REWRITE)
        room_forget(ch);
    if (ch)
        each_in_list(ch->head, wake_one);
    else
        each_waiter(wake_one);
}

void waiters_wake_user(const char *uid, unsigned long long seq)
{
    struct poll_user *u = users_event(uid, seq);
    struct waiter *w;

    if (!u)
        return;   /* nobody here: no waiter, no known session of it */
    users_ref(u); /* u outlives the answers that unlink its waiters */
    for (w = u->head; w;) {
        struct waiter *next = w->unext;
        wake_one(w);
        w = next;
    }
    users_release(u);
}

static void wake_if_stale(struct waiter *w)
{
    if (w->stale && !w->reading)
        start_read(w);
}

void waiters_cmd_up(void)
{
    /* Redis may have restarted with other data: trust nothing kept */
    room_forget(NULL);
    sessions_drop(NULL);
    each_waiter(wake_if_stale);
}

static void drain_one(struct waiter *w)
{
    w->draining = 1;
    if (!w->reading)
        end_empty(w);
}

void waiters_drain(void)
{
    draining = 1;
    each_waiter(drain_one);
}

long waiters_count(void)
{
    return alive;
}

long waiters_inflight(void)
{
    return answer_inflight();
}

static void free_one(struct waiter *w)
{
    client_close(w->client);
    w->client = NULL;
    waiter_end(w);
}

void waiters_free_all(void)
{
    each_waiter(free_one);
    answer_free_all();
    sessions_free_all();
}
