/* main.c - chat-poller: startup (config, log, listen socket), the event
 * loop, and SIGTERM: stop accepting, answer every waiter, let the answers
 * go out, exit 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "common/config.h"
#include "common/log.h"
#include "common/store.h"
#include "common/version.h"
#include "poller/channels.h"
#include "poller/conns.h"
#include "poller/feed.h"
#include "poller/http.h"
#include "poller/waiters.h"

#define LISTEN_BACKLOG 4096
#define DRAIN_MAX_MS   3000
#define DRAIN_TICK_MS  20

static struct config cfg;
static struct event_base *base;
static struct evhttp *http;
static struct evhttp_bound_socket *bound;
static struct event *drain_ev;
static int drain_ticks;

/* A listening socket with a real backlog (PLATFORM E2): the unix socket
 * CHAT_POLLER_SOCKET when set, else TCP CHAT_POLLER_ADDRESS. */
static int listen_socket(void)
{
    int fd;

    if (cfg.poller_socket[0]) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(cfg.poller_socket) >= sizeof sun.sun_path) {
            log_err("CHAT_POLLER_SOCKET path too long");
            return -1;
        }
        memcpy(sun.sun_path, cfg.poller_socket, strlen(cfg.poller_socket));
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        if (unlink(cfg.poller_socket) != 0 && errno != ENOENT)
            log_warn("cannot remove old socket %s", cfg.poller_socket);
        if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
            chmod(cfg.poller_socket, 0666) != 0)
            goto fail;
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        char host[256];
        int port, one = 1;
        if (config_split_address(cfg.poller_address, host, sizeof host,
                                 &port) ||
            inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
            log_err("CHAT_POLLER_ADDRESS must be ipv4:port");
            return -1;
        }
        sin.sin_port = htons((unsigned short)port);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
            goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0 ||
        evutil_make_socket_closeonexec(fd) != 0)
        goto fail;
    return fd;
fail:
    log_err("cannot listen on %s: %s",
            cfg.poller_socket[0] ? cfg.poller_socket : cfg.poller_address,
            strerror(errno));
    close(fd);
    return -1;
}

/* Out of fds (EMFILE, ENFILE), accept() fails while the listening socket
 * stays readable: libevent would call back at once, forever (100 % CPU and
 * a log line each time). Accepting pauses 100 ms instead, and the failure
 * is logged at most once a second. */
#define ACCEPT_PAUSE_MS 100
static struct event *accept_resume_ev;

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (bound &&
        evconnlistener_enable(evhttp_bound_socket_get_listener(bound)) != 0)
        log_err("cannot resume accepting");
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    static time_t logged;
    static unsigned long failures;
    const struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000L};
    int err = EVUTIL_SOCKET_ERROR();
    time_t now = time(NULL);

    (void)arg;
    failures++;
    if (now != logged) {
        log_warn("accept(): %s (%lu times); pausing %d ms",
                 evutil_socket_error_to_string(err), failures, ACCEPT_PAUSE_MS);
        logged = now;
        failures = 0;
    }
    if (evconnlistener_disable(lev) != 0 ||
        evtimer_add(accept_resume_ev, &pause) != 0)
        log_err("cannot pause accepting");
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    drain_ticks++;
    if ((waiters_count() == 0 && waiters_inflight() <= 0) ||
        drain_ticks * DRAIN_TICK_MS >= DRAIN_MAX_MS)
        event_base_loopbreak(base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (long)DRAIN_TICK_MS * 1000};

    (void)what;
    (void)arg;
    if (drain_ev)
        return;
    log_info("chat-poller stopping (signal %d): draining %ld waiters", (int)sig,
             waiters_count());
    if (bound) {
        evhttp_del_accept_socket(http, bound);
        bound = NULL;
        if (accept_resume_ev)
            event_del(accept_resume_ev);
    }
    waiters_drain();
    drain_ev = event_new(base, -1, EV_PERSIST, drain_tick, NULL);
    if (!drain_ev || event_add(drain_ev, &tv) != 0)
        event_base_loopbreak(base);
}

static const struct feed_hooks hooks = {
    .wake = waiters_wake,
    .cmd_up = waiters_cmd_up,
    .wake_user = waiters_wake_user,
};

/* Timers to the microsecond (timerfd): the reaper of answered polls
 * yields to the loop between slices with a 1 us timer, which epoll_wait's
 * millisecond timeout would round up to 1 ms per slice. The changelist
 * turns the event changes of one loop pass into one epoll_ctl per fd (a
 * poll's events are added and removed several times in its short life);
 * it is safe here because no fd is ever dup()ed. */
static struct event_base *new_base(void)
{
    struct event_config *c = event_config_new();
    struct event_base *b = NULL;

    if (c && event_config_set_flag(c, EVENT_BASE_FLAG_PRECISE_TIMER) == 0 &&
        event_config_set_flag(c, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
        b = event_base_new_with_config(c);
    if (c)
        event_config_free(c);
    return b;
}

static const char usage[] =
    "usage: chat-poller             serve GET /poll, /events, /metrics, "
    "/health\n"
    "       chat-poller --help | --version\n"
    "Listens on CHAT_POLLER_SOCKET (a unix socket) or CHAT_POLLER_ADDRESS\n"
    "(ipv4:port, default 127.0.0.1:8091); Redis from REDIS_ADDRESS,\n"
    "REDIS_PASSWORD, REDIS_USERNAME, REDIS_DB. SIGTERM drains and exits 0.\n"
    "Settings: the README's Configuration table and docs/poller.md.\n";

int main(int argc, char **argv)
{
    char err[256];
    struct event *sigs[2] = {NULL, NULL};
    int fd = -1, rc = 1;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("chat-poller %s\n", CHAT_VERSION);
        return 0;
    }
    if (argc > 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (config_load(&cfg, err, sizeof err)) {
        log_err("configuration: %s", err);
        return 2;
    }
    log_set_level((enum log_level)cfg.log_level);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || store_init()) {
        log_err("initialisation failed");
        return 1;
    }
    base = new_base();
    http = base ? evhttp_new(base) : NULL;
    if (!http || http_setup(http, &cfg) || conns_init(base, http, &cfg) ||
        waiters_init(base, &cfg) || feed_start(base, &cfg, &hooks)) {
        log_err("initialisation failed");
        goto out;
    }
    fd = listen_socket();
    if (fd < 0)
        goto out;
    bound = evhttp_accept_socket_with_handle(http, fd);
    if (!bound) {
        close(fd);
        goto out;
    }
    accept_resume_ev = evtimer_new(base, accept_resume, NULL);
    if (!accept_resume_ev)
        goto out;
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
                                on_accept_error);
    sigs[0] = evsignal_new(base, SIGTERM, on_signal, NULL);
    sigs[1] = evsignal_new(base, SIGINT, on_signal, NULL);
    if (!sigs[0] || !sigs[1] || event_add(sigs[0], NULL) ||
        event_add(sigs[1], NULL))
        goto out;
    log_info("chat-poller ready on %s, redis %s",
             cfg.poller_socket[0] ? cfg.poller_socket : cfg.poller_address,
             cfg.redis_label);
    if (event_base_dispatch(base) < 0)
        log_err("event loop failed");
    rc = 0;
out:
    /* Reads in flight answer (or free their waiter) when the connection
     * is freed; then what is left, then the HTTP side. */
    feed_stop();
    waiters_free_all();
    conns_free_all();
    for (int i = 0; i < 2; i++) {
        if (sigs[i])
            event_free(sigs[i]);
    }
    if (drain_ev)
        event_free(drain_ev);
    if (accept_resume_ev)
        event_free(accept_resume_ev);
    if (http)
        evhttp_free(http);
    chan_free_all();
    if (base)
        event_base_free(base);
    if (cfg.poller_socket[0] && fd >= 0)
        unlink(cfg.poller_socket);
    log_info("chat-poller stopped");
    return rc;
}
