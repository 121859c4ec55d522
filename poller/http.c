/* http.c - routes of chat-poller and their parameter checks. */
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/http.h"
#include "common/log.h"
#include "common/pollreq.h"
#include "poller/answer.h"
#include "poller/channels.h"
#include "poller/conns.h"
#include "poller/feed.h"
#include "poller/http.h"
#include "poller/metrics.h"
#include "poller/waiters.h"

/* A request head over HEADERS_MAX is answered 431 (JSON). libevent 2.1
 * answers its own limits with an HTML page and no hook, so its limits sit
 * above anything a front server passes on: Apache forwards up to 100
 * fields of 8190 bytes, nginx 32 KiB, lighttpd 8 KiB. Likewise a body up
 * to BODY_READ_MAX reaches dispatch() (a POST is a JSON 405; a GET's body
 * is ignored); the front configs refuse or replace what libevent still
 * answers itself (docs/poller.md). */
#define HEADERS_MAX      8192
#define HEADERS_READ_MAX ((ev_ssize_t)1024 * 1024)
#define BODY_READ_MAX    ((ev_ssize_t)64 * 1024)

typedef void (*route_fn)(struct evhttp_request *req);

struct route {
    const char *path;
    route_fn fn;
};

static void fail(struct evhttp_request *req, enum chat_err err,
                 const char *detail)
{
    struct chat_error e = {0};
    chat_fail(&e, err, detail);
    answer_error(req, &e);
}

static const char *bearer_of(struct evhttp_request *req)
{
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");

    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

/* /poll and /events: parse, validate, hand over to waiters. */
static int max_hold;

static void serve_wait(struct evhttp_request *req, enum waiter_kind kind)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq q;
    struct pollreq_in in = {0};
    struct pollreq p;
    struct chat_error e = {0};

    TAILQ_INIT(&q);
    if (query && evhttp_parse_query_str(query, &q) != 0) {
        evhttp_clear_headers(&q);
        fail(req, CHAT_E_BAD_PARAM, "malformed query string");
        return;
    }
    in.session = evhttp_find_header(&q, "sessionUUID");
    in.key = evhttp_find_header(&q, "accessKey");
    in.cursor = evhttp_find_header(&q, "cursor");
    in.timeout = evhttp_find_header(&q, "timeout");
    in.bearer = bearer_of(req);
    in.max_hold = max_hold;
    if (kind == WAITER_STREAM)
        in.last_id = evhttp_find_header(evhttp_request_get_input_headers(req),
                                        "Last-Event-ID");
    if (pollreq_parse(&in, &p, &e) != CHAT_OK) {
        evhttp_clear_headers(&q);
        answer_error(req, &e);
        return;
    }
    evhttp_clear_headers(&q);
    waiters_start(req, &p, kind);
}

static void serve_poll(struct evhttp_request *req)
{
    serve_wait(req, WAITER_POLL);
}

static void serve_events(struct evhttp_request *req)
{
    serve_wait(req, WAITER_STREAM);
}

void http_add_header(void *headers, const char *name, const char *value)
{
    if (evhttp_add_header(headers, name, value))
        log_warn("cannot add response header %s", name);
}

static void send_text(struct evhttp_request *req, int status, const char *type,
                      struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    http_add_header(h, "Content-Type", type);
    http_add_header(h, "Cache-Control", "no-store");
    http_status_headers(status, NULL, 0, http_add_header, h);
    evhttp_send_reply(req, status, http_reason(status), body);
}

static void serve_metrics(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();

    if (!b || metrics_render(b, feed_up(), (long)chan_count())) {
        if (b)
            evbuffer_free(b);
        fail(req, CHAT_E_INTERNAL, "no memory");
        return;
    }
    send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
    evbuffer_free(b);
}

static void serve_health(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    int up = feed_up();

    if (!b || evbuffer_add_printf(b, "{\"status\":\"%s\"}",
                                  up ? "ok" : "redis unavailable") < 0) {
        if (b)
            evbuffer_free(b);
        fail(req, CHAT_E_INTERNAL, "no memory");
        return;
    }
    send_text(req, up ? 200 : 503, "application/json; charset=utf-8", b);
    evbuffer_free(b);
}

static const struct route routes[] = {
    {.path = "/poll", .fn = serve_poll},
    {.path = "/events", .fn = serve_events},
    {.path = "/metrics", .fn = serve_metrics},
    {.path = "/health", .fn = serve_health},
};

/* The head's size as a client sent it: request line and "name: value"
 * lines with their CRLFs. */
static size_t head_size(struct evhttp_request *req)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *uri = evhttp_request_get_uri(req);
    const struct evkeyval *kv;
    size_t n = (uri ? strlen(uri) : 0) + sizeof "OPTIONS  HTTP/1.1\r\n";

    TAILQ_FOREACH(kv, h, next)
    {
        n += strlen(kv->key) + strlen(kv->value) + 4;
    }
    return n;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    (void)arg;
    conns_head_done(req);
    if (head_size(req) > HEADERS_MAX) {
        fail(req, CHAT_E_HEAD_TOO_LARGE, NULL);
        return;
    }
    for (size_t i = 0; path && i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS) {
            answer_preflight(req);
            return;
        }
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
            fail(req, CHAT_E_METHOD, NULL);
            return;
        }
        routes[i].fn(req);
        return;
    }
    fail(req, CHAT_E_NOT_FOUND, NULL);
}

int http_setup(struct evhttp *http, const struct config *cfg)
{
    /* Bounded input (see HEADERS_MAX), and connections that never send a
     * request line are closed after CHAT_POLLER_IDLE seconds. A parked
     * poll does not read, so the read timeout does not cut it; streams
     * drop it (waiters.c). Every method libevent knows reaches dispatch(),
     * which answers all but GET and OPTIONS with a JSON 405. */
    evhttp_set_max_headers_size(http, HEADERS_READ_MAX);
    evhttp_set_max_body_size(http, BODY_READ_MAX);
    /* A body over the limit is read to its end before the 413, so that a
     * front server sending it sees an answer, not a reset (a 502). */
    if (evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE) != 0)
        log_warn("libevent without lingering close: a body over 64 KiB is "
                 "cut off");
    evhttp_set_timeout(http, cfg->poller_idle);
    max_hold = cfg->poll_max_hold;
    evhttp_set_allowed_methods(
        http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                  EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http, dispatch, NULL);
    return 0;
}
