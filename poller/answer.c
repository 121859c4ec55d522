/* answer.c - every HTTP answer of the poller, the client hang-up watch and
 * the graveyard of answered connections. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/http.h"
#include "common/log.h"
#include "poller/answer.h"
#include "poller/http.h"
#include "poller/metrics.h"

#define ALLOW_METHODS "GET, OPTIONS"

/* A busy channel's answer carries up to 100 messages (some 30 KiB); a
 * socket that takes part of one gets the rest through its bufferevent.
 * Larger answers go through evhttp. */
#define DIRECT_BODY_MAX ((size_t)512 * 1024)
#define DIRECT_HEAD_MAX 256

/* Graveyard connections closed per loop turn. */
#define REAP_SLICE 256

struct client {
    struct client *prev, *next; /* in the graveyard */
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    struct event hup;
    unsigned hup_added : 1;
    unsigned buried : 1;
    client_gone_fn gone;
    void *arg;
};

static struct event_base *base;
static const struct config *cfg;
static long queued;       /* replies queued in evhttp */
static long tails;        /* direct answers whose tail is being written */
static long buried_count; /* connections in the graveyard */
static struct client *graveyard;
static struct event *reaper;
static unsigned long reaped_since_trim;

/* Not {0, 0}: a zero timeout runs in the same pass over active events. */
static const struct timeval reap_turn = {0, 1};

/* --- headers --- */

/* The request's Origin when CHAT_CORS_ORIGINS allows it, else NULL. */
static const char *cors_origin(struct evhttp_request *req)
{
    const char *o =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    return http_cors_allowed(cfg->cors_origins, o) ? o : NULL;
}

static void add_headers(struct evhttp_request *req, const char *type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *origin = cors_origin(req);

    http_add_header(h, "Content-Type", type);
    http_add_header(h, "Cache-Control", "no-store");
    if (origin)
        http_cors_headers(origin, 0, NULL, http_add_header, h);
}

/* --- evhttp answers --- */

static void on_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    (void)arg;
    queued--;
}

void answer_json(struct evhttp_request *req, int status, const char *body,
                 size_t len, int retry_after)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    if (out && evbuffer_add(out, body, len) != 0) {
        evbuffer_free(out);
        out = NULL;
    }
    if (!out) {
        /* no memory even for the body: a bare 500, still no HTML page */
        status = 500;
        retry_after = 0;
    }
    add_headers(req, "application/json; charset=utf-8");
    /* every route of the poller is GET (and OPTIONS) */
    http_status_headers(status, ALLOW_METHODS, retry_after, http_add_header, h);
    queued++;
    evhttp_request_set_on_complete_cb(req, on_complete, NULL);
    evhttp_send_reply(req, status, http_reason(status), out);
    if (out)
        evbuffer_free(out);
}

void answer_error(struct evhttp_request *req, const struct chat_error *e)
{
    struct jbuf b;

    metrics.rejected++;
    jbuf_init(&b);
    chat_error_json(&b, e);
    if (jbuf_failed(&b)) {
        /* the error table's JSON from a stack buffer, never evhttp's
         * HTML page */
        char fixed[CHAT_ERROR_FIXED_MAX];
        size_t len =
            chat_error_json_fixed(CHAT_E_INTERNAL, fixed, sizeof fixed);
        answer_json(req, 500, fixed, len, 0);
    } else {
        answer_json(req, chat_err_status(e->err), b.data, b.len,
                    e->retry_after);
    }
    jbuf_free(&b);
}

void answer_preflight(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *origin = cors_origin(req);

    http_add_header(h, "Allow", ALLOW_METHODS);
    if (origin)
        http_cors_headers(origin, 1, ALLOW_METHODS, http_add_header, h);
    evhttp_send_reply(req, 204, http_reason(204), NULL);
}

/* --- SSE --- */

void answer_stream_start(struct evhttp_request *req)
{
    add_headers(req, "text/event-stream; charset=utf-8");
    http_add_header(evhttp_request_get_output_headers(req), "X-Accel-Buffering",
                    "no");
    evhttp_send_reply_start(req, 200, http_reason(200));
}

void answer_stream_chunk(struct evhttp_request *req, struct evbuffer *chunk)
{
    if (evbuffer_get_length(chunk))
        evhttp_send_reply_chunk(req, chunk);
}

void answer_stream_end(struct evhttp_request *req)
{
    evhttp_send_reply_end(req);
}

/* --- the client watch --- */

static void reap(struct client *c);

static void unwatch(struct client *c)
{
    if (c->hup_added)
        event_del(&c->hup);
    c->hup_added = 0;
    if (c->conn)
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
}

/* The client left: tell the owner, then free its connection. */
static void client_left(struct client *c, int free_conn)
{
    struct evhttp_connection *conn = c->conn;
    struct evhttp_request *req = c->req;

    metrics.hangups++;
    unwatch(c);
    c->gone(c->arg);
    free(c);
    if (free_conn && conn) {
        evhttp_connection_free(conn);
    } else if (req && !evhttp_request_get_connection(req)) {
        /* evhttp detaches a request it failed while we still own it (EOF
         * or timeout during a stream) and leaves freeing it to us. */
        evhttp_request_free(req);
    }
}

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    char byte;
    ssize_t n;

    (void)what;
    if (c->buried) { /* answered: the client closed first */
        reap(c);
        return;
    }
    n = recv(fd, &byte, 1, MSG_PEEK);
    if (n > 0) {
        /* Pipelined bytes: evhttp reads them after the answer; stop
         * watching so the loop does not spin. */
        event_del(&c->hup);
        c->hup_added = 0;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    client_left(c, 1);
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    client_left(arg, 0);
}

struct client *client_watch(struct evhttp_request *req, client_gone_fn gone,
                            void *arg)
{
    struct client *c = calloc(1, sizeof *c);
    struct bufferevent *bev;
    evutil_socket_t fd;

    if (!c)
        return NULL;
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    c->gone = gone;
    c->arg = arg;
    bev = c->conn ? evhttp_connection_get_bufferevent(c->conn) : NULL;
    fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        if (event_assign(&c->hup, base, fd, EV_READ | EV_PERSIST, on_hup, c) !=
            0) {
            free(c);
            return NULL;
        }
        if (event_add(&c->hup, NULL) == 0)
            c->hup_added = 1;
        else
            log_warn("cannot watch a client for hang-ups");
    }
    if (c->conn)
        evhttp_connection_set_closecb(c->conn, on_close, c);
    return c;
}

void client_release(struct client *c)
{
    if (!c)
        return;
    unwatch(c);
    free(c);
}

void client_close(struct client *c)
{
    struct evhttp_connection *conn;

    if (!c)
        return;
    conn = c->conn;
    client_release(c);
    if (conn)
        evhttp_connection_free(conn);
}

struct bufferevent *client_bufferevent(const struct client *c)
{
    return c && c->conn ? evhttp_connection_get_bufferevent(c->conn) : NULL;
}

/* --- the graveyard --- */

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

static void graveyard_unlink(struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        graveyard = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Closes an answered connection that left the graveyard. */
static void close_buried(struct client *c)
{
    buried_count--;
    reaped_since_trim++;
    client_close(c);
}

/* One answered connection whose client closed first. */
static void reap(struct client *c)
{
    graveyard_unlink(c);
    close_buried(c);
}

static struct client *graveyard_pop(void)
{
    struct client *c = graveyard;

    if (c) {
        graveyard = c->next;
        if (graveyard)
            graveyard->prev = NULL;
        c->next = NULL;
    }
    return c;
}

static void reap_all(void)
{
    struct client *c;

    while ((c = graveyard_pop()) != NULL)
        close_buried(c);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct client *c;

    (void)fd;
    (void)what;
    (void)arg;
    for (int i = 0; i < REAP_SLICE && (c = graveyard_pop()) != NULL; i++)
        close_buried(c);
    if (graveyard && evtimer_add(reaper, &reap_turn) != 0)
        reap_all();
    if (!graveyard)
        trim_heap();
}

/* The answer is written: the connection waits for the reaper (or for the
 * client to close first, which its hang-up watch still sees). */
static void bury(struct client *c)
{
    if (c->conn)
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
    c->req = NULL; /* freed with the connection */
    c->buried = 1;
    c->prev = NULL;
    c->next = graveyard;
    if (graveyard)
        graveyard->prev = c;
    graveyard = c;
    buried_count++;
    if (!evtimer_pending(reaper, NULL) && evtimer_add(reaper, &reap_turn) != 0)
        reap(c);
}

/* --- direct 200 answers --- */

/* RFC 9110 Date, formatted once a second. */
static const char *http_date(void)
{
    static char date[40];
    static time_t at = -1;
    time_t now = time(NULL);
    struct tm tm;

    if (now != at && gmtime_r(&now, &tm) &&
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        at = now;
    return date;
}

static void tail_done(struct evhttp_connection *conn)
{
    tails--;
    evhttp_connection_free(conn);
}

static void on_tail_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tail_done(arg);
}

static void on_tail_error(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    tail_done(arg);
}

enum direct_result {
    DIRECT_NOT_SENT,   /* nothing written: answer through evhttp */
    DIRECT_SENT,       /* all written (or the client is gone) */
    DIRECT_HANDED_OVER /* part written: the tail writer owns conn now */
};

/* The socket took only the first part: the connection's bufferevent sends
 * the rest (under evhttp's write timeout), then the connection is freed.
 * evhttp is done with it: the request is answered as far as it knows. */
static void send_tail(struct evhttp_connection *conn, struct bufferevent *bev,
                      const char *rest, size_t len)
{
    bufferevent_setcb(bev, NULL, on_tail_written, on_tail_error, conn);
    if (bufferevent_write(bev, rest, len) != 0 ||
        bufferevent_enable(bev, EV_WRITE) != 0) {
        log_warn("cannot queue the rest of a poll answer");
        evhttp_connection_free(conn);
        return;
    }
    tails++;
}

/* The head of a direct 200 into out (DIRECT_HEAD_MAX bytes): its length,
 * or -1. */
static int direct_head(char *out, size_t body_len)
{
    struct http_head h = {.buf = out, .n = DIRECT_HEAD_MAX, .len = 0};
    const char *date = http_date();
    char clen[24];

    snprintf(clen, sizeof clen, "%zu", body_len);
    http_head_status_line(&h, 200);
    http_head_add(&h, "Content-Type", "application/json; charset=utf-8");
    http_head_add(&h, "Cache-Control", "no-store");
    if (date[0])
        http_head_add(&h, "Date", date);
    http_head_add(&h, "Content-Length", clen);
    http_head_add(&h, "Connection", "close");
    return http_head_end(&h);
}

/* "200 OK" with the JSON body in one send() on conn's socket, with
 * "Connection: close" (one long poll per connection, which is what
 * lighttpd's proxy does anyway): evhttp would queue the reply, re-arm the
 * socket and write on a later loop turn (PLATFORM E4), with a dozen
 * allocations on the way. */
static enum direct_result direct_send(struct evhttp_connection *conn,
                                      const char *body, size_t len)
{
    static char *out; /* one thread: grown once, kept */
    static size_t out_size;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    int head;
    size_t total;
    ssize_t n;

    if (fd < 0 || len > DIRECT_BODY_MAX ||
        evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return DIRECT_NOT_SENT;
    if (out_size < DIRECT_HEAD_MAX + len) {
        size_t want = DIRECT_HEAD_MAX + (len < 65536 ? 65536 : len);
        char *grown = realloc(out, want);
        if (!grown)
            return DIRECT_NOT_SENT;
        out = grown;
        out_size = want;
    }
    head = direct_head(out, len);
    if (head < 0)
        return DIRECT_NOT_SENT;
    memcpy(out + head, body, len);
    total = (size_t)head + len;
    do
        n = send(fd, out, total, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return DIRECT_NOT_SENT; /* evhttp queues it */
    if (n < 0) {
        metrics.hangups++; /* reset or closed while parked */
        return DIRECT_SENT;
    }
    if ((size_t)n < total) {
        evhttp_connection_set_closecb(conn, NULL, NULL);
        send_tail(conn, bev, out + n, total - (size_t)n);
        return DIRECT_HANDED_OVER;
    }
    return DIRECT_SENT;
}

void answer_poll(struct evhttp_request *req, struct client *c, const char *body,
                 size_t len)
{
    enum direct_result r = DIRECT_NOT_SENT;

    /* a cross-origin answer carries CORS headers: evhttp writes it */
    if (c && c->conn && !cors_origin(req))
        r = direct_send(c->conn, body, len);
    metrics.answers++;
    if (r == DIRECT_SENT) {
        bury(c);
        return;
    }
    client_release(c);
    if (r == DIRECT_NOT_SENT)
        answer_json(req, 200, body, len, 0);
}

long answer_inflight(void)
{
    return queued + tails + buried_count;
}

int answer_init(struct event_base *b, const struct config *c)
{
    base = b;
    cfg = c;
    reaper = evtimer_new(base, on_reap, NULL);
    return reaper ? 0 : -1;
}

void answer_free_all(void)
{
    reap_all();
    if (reaper)
        event_free(reaper);
    reaper = NULL;
}
