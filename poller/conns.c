/* conns.c - the poller's connection cap and head deadline (conns.h).
 *
 * How a connection is known without close notifications:
 * - The cap counts descriptors. The kernel hands out the lowest free fd,
 *   so a new connection on fd N means fds 0..N-1 are all open: refusing
 *   every connection whose fd is at or above the limit keeps every client
 *   connection below it, idle ones included.
 * - The deadline checks that the socket is still the one that was
 *   accepted: a socket's inode number (sockfs) is unique while it is open
 *   and never comes back within seconds, so an fd closed by evhttp and
 *   reused (a new client, a Redis reconnect) is told apart and left alone.
 * A connection past its deadline gets a JSON 408 and shutdown(): evhttp
 * reads the end of input and frees it as for any client that left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "common/errors.h"
#include "common/http.h"
#include "common/jbuf.h"
#include "common/log.h"
#include "poller/conns.h"
#include "poller/metrics.h"

/* A connection that has not yet sent its first complete request head. */
struct born {
    evutil_socket_t fd;
    ino_t ino;
    long long due_ms;
};

/* Indexed by fd: the socket there that still owes its head (ino 0: none). */
static ino_t *owing;
static size_t owing_len;

/* FIFO of births, oldest first (they share one deadline). */
static struct born *ring;
static size_t ring_cap, ring_head, ring_len;

/* This loop pass's new bufferevents, their fd not yet set by evhttp. */
static struct bufferevent **fresh;
static size_t fresh_len, fresh_cap;

/* Descriptors of the poller's own below its clients'. */
#define CONNS_OWN_FDS 32

static struct event *adopt_ev, *sweep_ev;
static int max_fd, head_timeout_ms;

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static ino_t socket_ino(evutil_socket_t fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

/* Best effort: a JSON error straight to the socket, then no more input
 * or output; evhttp frees the connection when it reads the end. */
static void refuse(evutil_socket_t fd, enum chat_err err, const char *detail)
{
    struct chat_error e = {.err = err, .retry_after = 1};
    struct jbuf body;
    char head[256] = "", len[24]; /* head: written through h */
    struct http_head h = {.buf = head, .n = sizeof head};
    int status = chat_err_status(err), n;

    snprintf(e.detail, sizeof e.detail, "%s", detail);
    jbuf_init(&body);
    chat_error_json(&body, &e);
    snprintf(len, sizeof len, "%zu", body.len + 1);
    http_head_status_line(&h, status);
    http_head_add(&h, "Content-Type", "application/json; charset=utf-8");
    http_head_add(&h, "Cache-Control", "no-store");
    http_status_headers(status, NULL, e.retry_after, http_head_add, &h);
    http_head_add(&h, "Content-Length", len);
    http_head_add(&h, "Connection", "close");
    n = http_head_end(&h);
    if (!body.failed && n > 0 &&
        send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n &&
        send(fd, body.data, body.len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 &&
        send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("refused connection: answer cut");
    jbuf_free(&body);
    if (shutdown(fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        log_debug("shutdown: %s", strerror(errno));
}

static int owing_grow(size_t fd)
{
    size_t len = owing_len ? owing_len : 1024;
    ino_t *n;

    while (len <= fd)
        len *= 2;
    n = realloc(owing, len * sizeof *n);
    if (!n)
        return -1;
    memset(n + owing_len, 0, (len - owing_len) * sizeof *n);
    owing = n;
    owing_len = len;
    return 0;
}

static int ring_push(const struct born *b)
{
    if (ring_len == ring_cap) {
        size_t cap = ring_cap ? ring_cap * 2 : 1024;
        struct born *n = malloc(cap * sizeof *n);

        if (!n)
            return -1;
        for (size_t i = 0; i < ring_len; i++)
            n[i] = ring[(ring_head + i) % ring_cap];
        free(ring);
        ring = n;
        ring_cap = cap;
        ring_head = 0;
    }
    ring[(ring_head + ring_len) % ring_cap] = *b;
    ring_len++;
    return 0;
}

/* Runs in the loop pass that accepted: evhttp has set the fds, and no
 * byte of these connections has been read yet. */
static void adopt(evutil_socket_t unused, short what, void *arg)
{
    long long due = now_ms() + head_timeout_ms;

    (void)unused;
    (void)what;
    (void)arg;
    for (size_t i = 0; i < fresh_len; i++) {
        evutil_socket_t fd = bufferevent_getfd(fresh[i]);
        struct born b = {.fd = fd, .due_ms = due};

        if (fd < 0)
            continue;
        if (fd >= max_fd) {
            metrics.conns_refused++;
            refuse(fd, CHAT_E_BUSY, "too many connections");
            continue;
        }
        b.ino = socket_ino(fd);
        if (!b.ino || ((size_t)fd >= owing_len && owing_grow((size_t)fd)) ||
            ring_push(&b)) {
            log_warn("connection %d: not timed (no memory)", (int)fd);
            continue;
        }
        owing[fd] = b.ino;
    }
    fresh_len = 0;
}

/* evhttp asks for each accepted connection's bufferevent. */
static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
    struct bufferevent *bev =
        bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

    (void)arg;
    if (!bev)
        return NULL; /* evhttp tries its own, untimed */
    if (fresh_len == fresh_cap) {
        size_t cap = fresh_cap ? fresh_cap * 2 : 64;
        struct bufferevent **n =
            realloc(fresh, cap * sizeof(struct bufferevent *));

        if (!n)
            return bev;
        fresh = n;
        fresh_cap = cap;
    }
    fresh[fresh_len++] = bev;
    if (fresh_len == 1)
        event_active(adopt_ev, EV_TIMEOUT, 0);
    return bev;
}

void conns_head_done(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev =
        conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    if (fd >= 0 && (size_t)fd < owing_len)
        owing[fd] = 0;
}

static void sweep(evutil_socket_t unused, short what, void *arg)
{
    long long now = now_ms();

    (void)unused;
    (void)what;
    (void)arg;
    while (ring_len && ring[ring_head].due_ms <= now) {
        struct born b = ring[ring_head];

        ring_head = (ring_head + 1) % ring_cap;
        ring_len--;
        /* still owing, and still the socket that was accepted */
        if ((size_t)b.fd >= owing_len || owing[b.fd] != b.ino)
            continue;
        owing[b.fd] = 0;
        if (socket_ino(b.fd) != b.ino)
            continue;
        metrics.head_timeouts++;
        refuse(b.fd, CHAT_E_SLOW_HEAD, "");
    }
}

int conns_init(struct event_base *base, struct evhttp *http,
               const struct config *cfg)
{
    struct timeval second = {1, 0};
    struct rlimit fds;

    /* the listener, Redis, epoll and stdio live below the clients */
    max_fd = cfg->poller_max_conns + CONNS_OWN_FDS;
    head_timeout_ms = cfg->poller_head_timeout * 1000;
    adopt_ev = event_new(base, -1, 0, adopt, NULL);
    sweep_ev = event_new(base, -1, EV_PERSIST, sweep, NULL);
    if (!adopt_ev || !sweep_ev || event_add(sweep_ev, &second) != 0)
        return -1;
    evhttp_set_bevcb(http, new_bev, NULL);
    if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur != RLIM_INFINITY &&
        fds.rlim_cur < (rlim_t)max_fd)
        log_info("CHAT_POLLER_MAX_CONNS %d: the fd limit (%ld) comes first",
                 cfg->poller_max_conns, (long)fds.rlim_cur);
    return 0;
}

void conns_free_all(void)
{
    if (adopt_ev)
        event_free(adopt_ev);
    if (sweep_ev)
        event_free(sweep_ev);
    adopt_ev = sweep_ev = NULL;
    free(owing);
    free(ring);
    free(fresh);
    owing = NULL;
    ring = NULL;
    fresh = NULL;
    owing_len = ring_cap = ring_len = ring_head = fresh_len = fresh_cap = 0;
}
