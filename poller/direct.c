/* direct.c - 200 poll answers written straight to the client socket. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/log.h"
#include "poller/direct.h"
#include "poller/metrics.h"

/* Larger answers (a long catch-up) go through evhttp: a socket may not
 * take them in one write. */
#define DIRECT_BODY_MAX 16384
#define DIRECT_HEAD_MAX 256

static long pending;

/* One loop thread: the buffer and the Date cache need no lock. */
static char out[DIRECT_HEAD_MAX + DIRECT_BODY_MAX];

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
    pending--;
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
    pending++;
}

enum direct_result direct_send(struct evhttp_connection *conn, const char *body,
                               size_t len)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    const char *date = http_date();
    int head;
    size_t total;
    ssize_t n;

    if (fd < 0 || len > DIRECT_BODY_MAX ||
        evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return DIRECT_NOT_SENT;
    head = snprintf(out, DIRECT_HEAD_MAX,
                    "HTTP/1.1 200 OK\r\n"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    "Cache-Control: no-store\r\n"
                    "%s%s%s"
                    "Content-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    date[0] ? "Date: " : "", date, date[0] ? "\r\n" : "", len);
    if (head < 0 || head >= DIRECT_HEAD_MAX)
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

long direct_pending(void)
{
    return pending;
}
