/* waiters.c - parked long polls and SSE streams: read, park, wake, answer,
 * time out, hang up. One thread; a waiter whose read is in flight when its
 * client leaves is only marked gone and freed when the reply comes (the
 * reply callback still holds it, STYLE §4.9). */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/jbuf.h"
#include "common/http.h"
#include "common/log.h"
#include "common/render.h"
#include "common/store.h"
#include "poller/direct.h"
#include "poller/fanout.h"
#include "poller/feed.h"
#include "poller/metrics.h"
#include "poller/waiters.h"

#define STREAM_BUFFER_MAX    ((size_t)1024 * 1024)
#define STREAM_RETRY_MS      2000
#define STREAM_WRITE_TIMEOUT 60

struct waiter {
    struct waiter *prev, *next; /* in chan->head or no_chan */
    struct chan *chan;          /* followed channel, NULL = none */
    int linked;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct event hup;   /* EV_READ on the client fd (E3) */
    struct event timer; /* poll deadline / stream heartbeat */
    enum waiter_kind kind;
    unsigned reading : 1;  /* a read is in flight */
    unsigned gone : 1;     /* client left during a read: free at reply */
    unsigned expired : 1;  /* the poll's time is up */
    unsigned stale : 1;    /* last read failed: read on cmd_up */
    unsigned draining : 1; /* answer at the next reply */
    unsigned hup_added : 1;
    unsigned started : 1; /* stream: 200 and headers sent */
    unsigned buried : 1;  /* answered; in the graveyard until closed */
    unsigned long long sent_seq;
    struct pollreq p; /* key, session, current position */
};

static struct event_base *base;
static const struct config *cfg;
static struct waiter *no_chan; /* waiters that follow no channel */
static long alive, inflight;
static int draining;
static const struct timeval *common_tv[POLLREQ_TIMEOUT_MAX + 1];
static const struct timeval *heartbeat_tv;
static struct waiter *graveyard; /* answered polls waiting to be closed */
static struct event *reaper;

static void start_read(struct waiter *w);
static void reap(struct waiter *w);

/* --- lists --- */

static struct waiter **head_of(struct chan *ch)
{
    return ch ? &ch->head : &no_chan;
}

static void link_waiter(struct waiter *w, struct chan *ch)
{
    struct waiter **h = head_of(ch);

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

/* --- lifetime --- */

static void gauge(struct waiter *w, int delta)
{
    if (w->kind == WAITER_POLL)
        metrics.parked += delta;
    else
        metrics.streams += delta;
}

/* Stops watching the client and unlinks; the request stays w->req. */
static void detach(struct waiter *w)
{
    if (w->hup_added)
        event_del(&w->hup);
    w->hup_added = 0;
    evtimer_del(&w->timer);
    unlink_waiter(w);
    if (w->conn)
        evhttp_connection_set_closecb(w->conn, NULL, NULL);
}

static void waiter_free(struct waiter *w)
{
    detach(w);
    gauge(w, -1);
    alive--;
    free(w);
}

/* The client is gone: free its connection (and pending request) now. */
static void drop(struct waiter *w, int free_conn)
{
    struct evhttp_connection *conn = w->conn;

    detach(w);
    w->req = NULL;
    w->conn = NULL;
    if (free_conn && conn)
        evhttp_connection_free(conn);
    if (w->reading) {
        w->gone = 1;
        return;
    }
    waiter_free(w);
}

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    char c;
    ssize_t n;

    (void)what;
    if (w->buried) { /* answered: the client closed first */
        reap(w);
        return;
    }
    n = recv(fd, &c, 1, MSG_PEEK);
    if (n > 0) {
        /* Pipelined bytes: evhttp reads them after the answer; stop
         * watching so the loop does not spin. */
        event_del(&w->hup);
        w->hup_added = 0;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    metrics.hangups++;
    drop(w, 1);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
    struct waiter *w = arg;
    struct evhttp_request *req = w->req;

    (void)conn;
    metrics.hangups++;
    drop(w, 0);
    /* evhttp detaches a request it failed while we still own it (EOF or
     * timeout during a stream) and leaves freeing it to us. */
    if (req && !evhttp_request_get_connection(req))
        evhttp_request_free(req);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    (void)arg;
    inflight--;
}

/* --- answers --- */

#define ALLOW_METHODS "GET, OPTIONS"

/* The request's Origin when CHAT_CORS_ORIGINS allows it, else NULL. */
static const char *cors_origin(struct evhttp_request *req)
{
    const char *o =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    return http_cors_allowed(cfg->cors_origins, o) ? o : NULL;
}

static void add_header(void *ctx, const char *name, const char *value)
{
    if (evhttp_add_header(ctx, name, value))
        log_warn("cannot add response header %s", name);
}

static void add_headers(struct evhttp_request *req, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *origin = cors_origin(req);

    add_header(h, "Content-Type", type);
    add_header(h, "Cache-Control", "no-store");
    if (origin)
        http_cors_headers(origin, 0, NULL, add_header, h);
}

void waiters_send_preflight(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *origin = cors_origin(req);

    add_header(h, "Allow", ALLOW_METHODS);
    if (origin)
        http_cors_headers(origin, 1, ALLOW_METHODS, add_header, h);
    evhttp_send_reply(req, 204, http_reason(204), NULL);
}

static void send_body(struct evhttp_request *req, int status, const char *data,
                      size_t len, int retry_after)
{
    struct evbuffer *out = evbuffer_new();

    if (out && evbuffer_add(out, data, len) != 0) {
        evbuffer_free(out);
        out = NULL;
    }
    if (!out) {
        /* no memory even for the body: a bare 500, still no HTML page */
        status = 500;
        retry_after = 0;
    }
    add_headers(req, "application/json; charset=utf-8");
    if (status == 405)
        add_header(evhttp_request_get_output_headers(req), "Allow",
                   ALLOW_METHODS);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        if (evhttp_add_header(evhttp_request_get_output_headers(req),
                              "Retry-After", ra))
            log_warn("cannot add Retry-After");
    }
    inflight++;
    evhttp_request_set_on_complete_cb(req, on_complete, NULL);
    evhttp_send_reply(req, status, http_reason(status), out);
    if (out)
        evbuffer_free(out);
}

/* A 500 when the answer could not be built (no memory): the error table's
 * JSON from a stack buffer, never evhttp_send_error's HTML page. */
static void send_internal(struct evhttp_request *req)
{
    char body[CHAT_ERROR_FIXED_MAX];
    size_t len = chat_error_json_fixed(CHAT_E_INTERNAL, body, sizeof body);

    send_body(req, 500, body, len, 0);
}

/* --- the graveyard --- */

/* A poll answered straight to its socket keeps its connection and its
 * hang-up watch until the reaper closes them a loop turn later: the close
 * and the epoll removal cost about three times the write, so a fan-out
 * writes every answer first and closes after. */
#define REAP_SLICE 256

/* Not {0, 0}: a zero timeout runs in the same pass over active events. */
static const struct timeval reap_turn = {0, 1};

static unsigned long reaped_since_trim;

/* After a fan-out the heap keeps its peak (PLATFORM E5): hand the freed
 * pages back, at most once a second and only after many closes. */
static void trim_heap(void)
{
    static time_t last;
    time_t now = time(NULL);

    if (reaped_since_trim < REAP_SLICE || now == last)
        return;
    last = now;
    reaped_since_trim = 0;
    (void)malloc_trim(0); /* 1 = released, 0 = nothing to release */
}

/* Closes an answered poll's connection and frees it; w is out of the
 * graveyard list. */
static void close_buried(struct waiter *w)
{
    if (w->hup_added)
        event_del(&w->hup);
    if (w->conn)
        evhttp_connection_free(w->conn);
    alive--;
    reaped_since_trim++;
    free(w);
}

static struct waiter *graveyard_pop(void)
{
    struct waiter *w = graveyard;

    if (w) {
        graveyard = w->next;
        if (graveyard)
            graveyard->prev = NULL;
        w->next = NULL;
    }
    return w;
}

/* One answered poll whose client closed first. */
static void reap(struct waiter *w)
{
    if (!w->prev) {
        (void)graveyard_pop();
    } else {
        w->prev->next = w->next;
        if (w->next)
            w->next->prev = w->prev;
    }
    close_buried(w);
}

static void reap_all(void)
{
    struct waiter *w;

    while ((w = graveyard_pop()) != NULL)
        close_buried(w);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w;

    (void)fd;
    (void)what;
    (void)arg;
    for (int i = 0; i < REAP_SLICE && (w = graveyard_pop()) != NULL; i++)
        close_buried(w);
    if (graveyard && evtimer_add(reaper, &reap_turn) != 0)
        reap_all();
    if (!graveyard)
        trim_heap();
}

static void bury(struct waiter *w)
{
    evtimer_del(&w->timer);
    unlink_waiter(w);
    evhttp_connection_set_closecb(w->conn, NULL, NULL);
    gauge(w, -1);
    w->buried = 1;
    w->prev = NULL;
    w->next = graveyard;
    if (graveyard)
        graveyard->prev = w;
    graveyard = w;
    if (!evtimer_pending(reaper, NULL) && evtimer_add(reaper, &reap_turn) != 0)
        reap(w);
}

/* Ends a poll with its 200 answer: straight to the socket when it can
 * (direct.h), else through evhttp (also for a cross-origin client, whose
 * answer carries CORS headers). */
static void settle_ok(struct waiter *w, const char *body, size_t len)
{
    struct evhttp_request *req = w->req;
    enum direct_result r = w->conn && req && !cors_origin(req)
                               ? direct_send(w->conn, body, len)
                               : DIRECT_NOT_SENT;

    metrics.answers++;
    if (r == DIRECT_SENT) {
        bury(w);
        return;
    }
    detach(w);
    if (r == DIRECT_NOT_SENT && req)
        send_body(req, 200, body, len, 0);
    w->req = NULL;
    w->conn = NULL;
    waiter_free(w);
}

void waiters_send_error(struct evhttp_request *req, const struct chat_error *e)
{
    struct jbuf b;

    metrics.rejected++;
    jbuf_init(&b);
    chat_error_json(&b, e);
    if (jbuf_failed(&b))
        send_internal(req);
    else
        send_body(req, chat_err_status(e->err), b.data, b.len, e->retry_after);
    jbuf_free(&b);
}

/* Answers a waiter (poll or stream) with an error and frees it. A stream
 * whose headers went out is just closed. */
static void finish_error(struct waiter *w, const struct chat_error *e)
{
    struct evhttp_request *req = w->req;

    detach(w);
    if (w->kind == WAITER_STREAM && w->started && req)
        evhttp_send_reply_end(req);
    else if (req)
        waiters_send_error(req, e);
    waiter_free(w);
}

static void current_cursor(const struct waiter *w, char *out)
{
    cursor_format(out, w->p.session, w->p.cur.sys, w->p.cur.jn, w->p.cur.pos);
}

/* Answers a poll with nothing: its current cursor (timeout, drain). */
static void finish_empty(struct waiter *w)
{
    struct jbuf b;
    char cur[CURSOR_MAX];
    struct evhttp_request *req = w->req;

    if (w->kind == WAITER_STREAM && (w->started || !req)) {
        detach(w);
        if (req)
            evhttp_send_reply_end(req);
        waiter_free(w);
        return;
    }
    current_cursor(w, cur);
    jbuf_init(&b);
    jbuf_cstr(&b, "{\"cursor\":");
    jbuf_cstr_q(&b, cur);
    jbuf_cstr(&b, ",\"messages\":[]}");
    if (req && !jbuf_failed(&b)) {
        settle_ok(w, b.data, b.len);
    } else {
        detach(w);
        if (req)
            send_internal(req);
        waiter_free(w);
    }
    jbuf_free(&b);
}

/* --- streams --- */

static int stream_item(void *ctx, const char *json, size_t len,
                       const char *cursor)
{
    struct evbuffer *out = ctx;

    metrics.delivered++;
    return evbuffer_add_printf(out, "id: %s\ndata: ", cursor) < 0 ||
           evbuffer_add(out, json, len) != 0 ||
           evbuffer_add(out, "\n\n", 2) != 0;
}

/* Writes the batch as events; returns 0, or -1 when the stream must end
 * (no memory, or a client that does not read). */
static int stream_write(struct waiter *w, const struct store_poll_result *res)
{
    struct evbuffer *out = evbuffer_new();
    struct bufferevent *bev = evhttp_connection_get_bufferevent(w->conn);
    char cur[CURSOR_MAX];
    int rc = -1;

    if (!out)
        return -1;
    if (bev &&
        evbuffer_get_length(bufferevent_get_output(bev)) > STREAM_BUFFER_MAX) {
        log_info("SSE client of session %.8s does not read; closing",
                 w->p.session);
        goto out;
    }
    if (render_poll_each(res, w->p.session, stream_item, out, cur) < 0)
        goto out;
    /* After the batch's objects (each an ordinary event), the reset event
     * with the new cursor, also when there are no objects. */
    if (res->reset &&
        evbuffer_add_printf(
            out, "event: reset\nid: %s\ndata: {\"reset\":true}\n\n", cur) < 0)
        goto out;
    if (evbuffer_get_length(out))
        evhttp_send_reply_chunk(w->req, out);
    rc = 0;
out:
    evbuffer_free(out);
    return rc;
}

/* evhttp keeps reading a streaming connection (to see it close) under the
 * idle read timeout of http.c, which would end a quiet stream: a stream
 * only keeps a write timeout (a client that stops reading). */
static void stream_timeouts(struct waiter *w)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(w->conn);
    struct timeval wr = {.tv_sec = STREAM_WRITE_TIMEOUT, .tv_usec = 0};

    if (bev && bufferevent_set_timeouts(bev, NULL, &wr) != 0)
        log_warn("cannot set the stream timeouts");
}

static void stream_begin(struct waiter *w)
{
    struct evbuffer *out = evbuffer_new();

    add_headers(w->req, "text/event-stream; charset=utf-8");
    if (evhttp_add_header(evhttp_request_get_output_headers(w->req),
                          "X-Accel-Buffering", "no"))
        log_warn("cannot add response header");
    evhttp_send_reply_start(w->req, 200, "OK");
    if (out && evbuffer_add_printf(out, "retry: %d\n\n", STREAM_RETRY_MS) > 0)
        evhttp_send_reply_chunk(w->req, out);
    if (out)
        evbuffer_free(out);
    stream_timeouts(w);
}

/* --- reads --- */

static int copy_position(struct waiter *w, const struct store_poll_result *r)
{
    if (strlen(r->sys_id) >= sizeof w->p.cur.sys ||
        strlen(r->jn) >= sizeof w->p.cur.jn)
        return -1;
    snprintf(w->p.cur.sys, sizeof w->p.cur.sys, "%s", r->sys_id);
    snprintf(w->p.cur.jn, sizeof w->p.cur.jn, "%s", r->jn);
    w->p.cur.pos = r->pos;
    w->p.has_cursor = 1;
    return 0;
}

/* Follows the channel the session follows now. */
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

static void answer_poll(struct waiter *w, const struct store_poll_result *res,
                        long items)
{
    struct jbuf b;

    jbuf_init(&b);
    if (render_poll_json(&b, res, w->p.session) == 0) {
        metrics.delivered += (unsigned long long)items;
        settle_ok(w, b.data, b.len);
    } else {
        struct chat_error e = {0};
        chat_fail(&e, CHAT_E_INTERNAL, "cannot render the answer");
        finish_error(w, &e);
    }
    jbuf_free(&b);
}

/* After a read with nothing (more) due: park, or read again when a wake
 * may have slipped in while the read was in flight. */
static void park_or_reread(struct waiter *w)
{
    if (feed_read_is_fresh(w->chan, w->sent_seq))
        return; /* parked: a later wake reads again */
    if (w->chan && w->chan->sub != CHAN_SUBSCRIBED)
        return; /* its SUBSCRIBE ack will wake it */
    if (!feed_up())
        return; /* the re-subscribe after reconnect will wake it */
    start_read(w);
}

static void on_read_fail(struct waiter *w, const redisReply *r)
{
    struct chat_error e = {0};

    if (r && r->type == REDIS_REPLY_ERROR) {
        enum chat_err err = store_reply_error(r, &e);
        if (err != CHAT_E_REDIS || !w->p.has_cursor) {
            finish_error(w, &e);
            return;
        }
    }
    if (!w->p.has_cursor || w->draining || draining) {
        /* Never validated: the client retries (503). A draining waiter
         * with a cursor answers empty, so it resumes elsewhere. */
        if (w->p.has_cursor) {
            finish_empty(w);
            return;
        }
        e.retry_after = 1;
        chat_fail(&e, CHAT_E_REDIS, NULL);
        finish_error(w, &e);
        return;
    }
    w->stale = 1; /* keep waiting; read again when Redis is back */
    if (w->expired)
        finish_empty(w);
}

static void on_read(const redisReply *r, void *arg)
{
    struct waiter *w = arg;
    struct store_poll_result res;
    long items;

    w->reading = 0;
    if (w->gone) {
        waiter_free(w);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        on_read_fail(w, r);
        return;
    }
    if (store_parse_poll(r, &res) || copy_position(w, &res) ||
        follow(w, res.channel)) {
        struct chat_error e = {0};
        log_err("unexpected poll reply for session %.8s", w->p.session);
        chat_fail(&e, CHAT_E_INTERNAL, "unexpected store reply");
        finish_error(w, &e);
        return;
    }
    w->stale = 0;
    items = (long)(res.events->elements + res.messages->elements);
    if (w->kind == WAITER_STREAM) {
        if (!w->started) {
            w->started = 1;
            stream_begin(w);
        }
        if ((items || res.reset) && stream_write(w, &res)) {
            finish_empty(w);
            return;
        }
        if (w->draining || draining) {
            finish_empty(w);
        } else if (items >= POLLREQ_BATCH) {
            start_read(w); /* more is due */
        } else {
            park_or_reread(w);
        }
        return;
    }
    if (items || res.reset || w->p.timeout == 0 || w->expired || w->draining ||
        draining) {
        answer_poll(w, &res, items);
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
    if (feed_call(&c, on_read, w) != 0) {
        on_read_fail(w, NULL);
        return;
    }
    w->reading = 1;
    metrics.catchup_reads++;
}

/* --- timers --- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    struct evbuffer *out;

    (void)fd;
    (void)what;
    if (w->kind == WAITER_POLL) {
        w->expired = 1;
        if (!w->reading)
            finish_empty(w);
        return;
    }
    /* Stream heartbeat: a comment, and a read that refreshes presence. */
    if (evtimer_add(&w->timer, heartbeat_tv) != 0)
        log_err("cannot re-arm the heartbeat");
    if (!w->started)
        return;
    out = evbuffer_new();
    if (out && evbuffer_add(out, ":\n\n", 3) == 0)
        evhttp_send_reply_chunk(w->req, out);
    if (out)
        evbuffer_free(out);
    start_read(w);
}

/* --- entry points --- */

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
    reaper = evtimer_new(base, on_reap, NULL);
    return heartbeat_tv && reaper ? 0 : -1;
}

void waiters_start(struct evhttp_request *req, const struct pollreq *p,
                   enum waiter_kind kind)
{
    struct chat_error e = {0};
    struct waiter *w;
    struct bufferevent *bev;
    evutil_socket_t fd;

    if (draining || !feed_cmd_ready()) {
        e.retry_after = 1;
        chat_fail(&e, CHAT_E_REDIS, NULL);
        waiters_send_error(req, &e);
        return;
    }
    if (alive >= cfg->poll_max_waiters) {
        e.retry_after = 1;
        chat_fail(&e, CHAT_E_BUSY, NULL);
        waiters_send_error(req, &e);
        return;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        chat_fail(&e, CHAT_E_INTERNAL, "no memory");
        waiters_send_error(req, &e);
        return;
    }
    w->req = req;
    w->conn = evhttp_request_get_connection(req);
    w->kind = kind;
    w->p = *p;
    alive++;
    gauge(w, 1);
    bev = w->conn ? evhttp_connection_get_bufferevent(w->conn) : NULL;
    fd = bev ? bufferevent_getfd(bev) : -1;
    if (evtimer_assign(&w->timer, base, on_timer, w) != 0 ||
        (fd >= 0 && event_assign(&w->hup, base, fd, EV_READ | EV_PERSIST,
                                 on_hup, w) != 0)) {
        chat_fail(&e, CHAT_E_INTERNAL, "cannot watch the connection");
        finish_error(w, &e);
        return;
    }
    if (fd >= 0 && event_add(&w->hup, NULL) == 0)
        w->hup_added = 1;
    if (w->conn)
        evhttp_connection_set_closecb(w->conn, on_close, w);
    if (evtimer_add(&w->timer, kind == WAITER_POLL ? common_tv[p->timeout]
                                                   : heartbeat_tv) != 0)
        log_err("cannot arm the waiter timer");
    start_read(w);
}

/* Wakes the parked (not reading) waiters of one list. The list may
 * change while we walk it: a read that fails at once may free w. */
/* Calls fn on each waiter of a list; fn may unlink or free it. */
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

static void wake_list(struct waiter *w)
{
    each_in_list(w, wake_one);
}

/* The parked polls of one fan-out read. They stay "reading" until the
 * reply, so no wake touches them and a hang-up only marks them. */
struct shared {
    size_t n;
    struct waiter *v[];
};

/* Answers every waiter of the batch it can (one write each, closed later
 * by the reaper); the others read alone, answer empty, or park again. */
static void on_shared(struct fanout_batch *b, void *arg)
{
    struct shared *sh = arg;
    struct jbuf body;

    log_debug("fan-out read back: %zu waiters", sh->n);
    jbuf_init(&body);
    for (size_t i = 0; i < sh->n; i++) {
        struct waiter *w = sh->v[i];
        long k = -1;
        w->reading = 0;
        if (w->gone) {
            waiter_free(w);
            continue;
        }
        jbuf_reset(&body);
        if (b)
            k = fanout_answer(b, &body, w->p.session, w->p.cur.sys, w->p.cur.jn,
                              w->p.cur.pos);
        if (k > 0) {
            metrics.delivered += (unsigned long long)k;
            settle_ok(w, body.data, body.len);
        } else if (k < 0) {
            start_read(w); /* outside the batch: its own catch-up read */
        } else if (w->expired || w->draining || draining) {
            finish_empty(w);
        } else {
            park_or_reread(w);
        }
    }
    jbuf_free(&body);
    free(sh);
    log_debug("fan-out answers sent");
}

/* New chat messages in ch: one read for every parked poll of ch, a read
 * of its own for each stream. */
static void wake_messages(struct chan *ch)
{
    log_debug("new message in %.40s", ch->name);
    struct shared *sh;
    size_t n = 0;
    long lo = 0, hi = 0;
    unsigned long long now = feed_seq();

    for (struct waiter *w = ch->head; w; w = w->next) {
        if (w->kind != WAITER_POLL || w->reading || !w->p.has_cursor)
            continue;
        lo = n == 0 || w->p.cur.pos < lo ? w->p.cur.pos : lo;
        hi = n == 0 || w->p.cur.pos > hi ? w->p.cur.pos : hi;
        n++;
    }
    sh = n ? malloc(sizeof *sh + n * sizeof(struct waiter *)) : NULL;
    if (!sh) {
        wake_list(ch->head);
        return;
    }
    sh->n = 0;
    for (struct waiter *w = ch->head; w; w = w->next) {
        if (w->kind != WAITER_POLL || w->reading || !w->p.has_cursor)
            continue;
        w->reading = 1;
        w->sent_seq = now;
        sh->v[sh->n++] = w;
    }
    if (fanout_read(ch->name, lo,
                    hi - lo + POLLREQ_BATCH > 1000 ? 1000
                                                   : hi - lo + POLLREQ_BATCH,
                    on_shared, sh) != 0) {
        on_shared(NULL, sh);
        return;
    }
    wake_list(ch->head); /* the streams */
}

void waiters_wake(struct chan *ch, enum feed_wake why)
{
    if (ch && why == FEED_WAKE_MESSAGE) {
        wake_messages(ch);
        return;
    }
    if (ch) {
        wake_list(ch->head);
        return;
    }
    each_waiter(wake_one);
}

static void wake_if_stale(struct waiter *w)
{
    if (w->stale && !w->reading)
        start_read(w);
}

void waiters_cmd_up(void)
{
    each_waiter(wake_if_stale);
}

static void drain_one(struct waiter *w)
{
    w->draining = 1;
    if (!w->reading)
        finish_empty(w);
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
    return inflight + direct_pending();
}

static void free_one(struct waiter *w)
{
    struct evhttp_connection *conn = w->conn;

    detach(w);
    if (conn)
        evhttp_connection_free(conn);
    gauge(w, -1);
    alive--;
    free(w);
}

void waiters_free_all(void)
{
    each_waiter(free_one);
    reap_all();
    if (reaper)
        event_free(reaper);
    reaper = NULL;
}
