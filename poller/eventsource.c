/* eventsource.c - Server-Sent Events: the stream's start, each batch as
 * events with their cursors as ids, heartbeats and the end. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"
#include "poller/metrics.h"
#include "poller/room.h"
#include "poller/waiter.h"

#define STREAM_BUFFER_MAX    ((size_t)1024 * 1024)
#define STREAM_RETRY_MS      2000
#define STREAM_WRITE_TIMEOUT 60

/* evhttp keeps reading a streaming connection (to see it close) under the
 * idle read timeout of http.c, which would end a quiet stream: a stream
 * only keeps a write timeout (a client that stops reading). */
static void stream_timeouts(struct waiter *w)
{
    struct bufferevent *bev = client_bufferevent(w->client);
    struct timeval wr = {.tv_sec = STREAM_WRITE_TIMEOUT, .tv_usec = 0};

    if (bev && bufferevent_set_timeouts(bev, NULL, &wr) != 0)
        log_warn("cannot set the stream timeouts");
}

void sse_begin(struct waiter *w)
{
    struct evbuffer *out = evbuffer_new();

    answer_stream_start(w->req);
    if (out && evbuffer_add_printf(out, "retry: %d\n\n", STREAM_RETRY_MS) > 0)
        answer_stream_chunk(w->req, out);
    if (out)
        evbuffer_free(out);
    stream_timeouts(w);
}

static int stream_item(void *ctx, const char *json, size_t len,
                       const char *cursor)
{
    struct evbuffer *out = ctx;

    metrics.delivered++;
    return evbuffer_add_printf(out, "id: %s\ndata: ", cursor) < 0 ||
           evbuffer_add(out, json, len) != 0 ||
           evbuffer_add(out, "\n\n", 2) != 0;
}

/* 1 when the client keeps more than STREAM_BUFFER_MAX unread: the stream
 * ends, and the client resumes with Last-Event-ID. */
static int stream_stuck(const struct waiter *w)
{
    struct bufferevent *bev = client_bufferevent(w->client);

    if (!bev ||
        evbuffer_get_length(bufferevent_get_output(bev)) <= STREAM_BUFFER_MAX)
        return 0;
    log_info("SSE client of session %.8s does not read; closing", w->p.session);
    return 1;
}

int sse_write(struct waiter *w, const struct store_poll_result *res)
{
    struct evbuffer *out = evbuffer_new();
    char cur[CURSOR_MAX];
    int rc = -1;

    if (!out)
        return -1;
    if (stream_stuck(w))
        goto out;
    if (render_poll_each(res, w->p.session, stream_item, out, cur) < 0)
        goto out;
    /* After the batch's objects (each an ordinary event), the reset event
     * with the new cursor, also when there are no objects. */
    if (res->reset &&
        evbuffer_add_printf(
            out, "event: reset\nid: %s\ndata: {\"reset\":true}\n\n", cur) < 0)
        goto out;
    answer_stream_chunk(w->req, out);
    rc = 0;
out:
    evbuffer_free(out);
    return rc;
}

long sse_write_room(struct waiter *w, struct chan *ch)
{
    struct evbuffer *out;
    struct cursor next;
    long k;

    if (stream_stuck(w))
        return -2;
    out = evbuffer_new();
    if (!out)
        return -1;
    k = room_each(ch, &w->p, stream_item, out, &next);
    if (k > 0) {
        answer_stream_chunk(w->req, out);
        w->p.cur = next;
    }
    evbuffer_free(out);
    return k;
}

void sse_heartbeat(struct waiter *w)
{
    struct evbuffer *out = evbuffer_new();

    if (out && evbuffer_add(out, ":\n\n", 3) == 0)
        answer_stream_chunk(w->req, out);
    if (out)
        evbuffer_free(out);
}

void sse_end(struct waiter *w, const struct chat_error *e)
{
    struct client *c;
    struct evhttp_request *req;

    if (!w->started && !e) {
        longpoll_answer_empty(w); /* never started: a plain empty answer */
        return;
    }
    req = waiter_take_request(w, &c);
    client_release(c);
    if (req && w->started)
        answer_stream_end(req);
    else if (req)
        answer_error(req, e);
    waiter_end(w);
}
