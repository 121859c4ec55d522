/* sentinel.c - asks the sentinels in turn for the primary and follows
 * +switch-master on the one that answered. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "common/log.h"
#include "poller/sentinel.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000
#define DOUBT_MIN_MS 1000
#define SWITCH_CHAN  "+switch-master"

static struct event_base *base;
static const struct config *cfg;
static sentinel_primary_fn on_primary;
static redisAsyncContext *ac; /* NULL between attempts */
static int subscribed;
static int idx;             /* the sentinel asked now, in cfg->sentinel[] */
static int failures;        /* attempts in a row without an answer */
static struct event *timer; /* the answer's deadline, or the next try */
static long long last_doubt_ms;
static int stopping;

static void start_link(void);

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (long)(ms % 1000) * 1000};

    if (evtimer_add(timer, &tv) != 0)
        log_err("cannot schedule the sentinel link");
}

/* Ends the link; the next attempt (the next sentinel when advance) comes
 * at once while untried sentinels are left in this round, then with a
 * growing delay. Safe inside hiredis callbacks (hiredis defers the free). */
static void drop(const char *why, int advance)
{
    redisAsyncContext *c = ac;
    int n = cfg->n_sentinels, delay;

    ac = NULL;
    subscribed = 0;
    if (why)
        log_warn("sentinel %s:%d: %s", cfg->sentinel[idx].host,
                 cfg->sentinel[idx].port, why);
    if (c)
        redisAsyncFree(c);
    if (stopping)
        return;
    if (advance)
        idx = (idx + 1) % n;
    failures++;
    delay = failures < n
                ? 0
                : RETRY_MIN_MS << (failures / n > 5 ? 5 : failures / n);
    arm(delay > RETRY_MAX_MS ? RETRY_MAX_MS : delay);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (ac && !subscribed)
        drop("no answer in time", 1);
    else if (!ac)
        start_link();
}

/* cppcheck-suppress constParameter ; the hiredis callback type */
static void on_switch(redisAsyncContext *c, void *reply, void *priv)
{
    redisReply *r = reply;
    struct redis_addr a;

    (void)priv;
    if (c != ac || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        strcasecmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    if (redis_conn_parse_switch(r->element[2]->str, cfg->sentinel_master, &a) ==
        0) {
        log_info("sentinel: %s switched to %s:%d", cfg->sentinel_master, a.host,
                 a.port);
        on_primary(&a);
    }
}

/* The answer to get-master-addr-by-name: hand it on, then follow the
 * switches (SUBSCRIBE only now: no other reply is pending then). */
/* cppcheck-suppress constParameter ; the hiredis callback type */
static void on_addr(redisAsyncContext *c, void *reply, void *priv)
{
    redisReply *r = reply;
    struct redis_addr a;

    (void)priv;
    if (c != ac)
        return;
    if (redis_conn_parse_master_addr(r, &a) != 0) {
        drop(r && r->type == REDIS_REPLY_ERROR ? r->str
                                               : "does not know the master",
             1);
        return;
    }
    if (redisAsyncCommand(c, on_switch, NULL, "SUBSCRIBE " SWITCH_CHAN) !=
        REDIS_OK) {
        drop("cannot subscribe to " SWITCH_CHAN, 1);
        return;
    }
    evtimer_del(timer);
    subscribed = 1;
    failures = 0;
    on_primary(&a);
}

/* cppcheck-suppress constParameter ; the hiredis callback type */
static void on_auth(redisAsyncContext *c, void *reply, void *priv)
{
    redisReply *r = reply;

    (void)priv;
    if (c == ac && r && r->type == REDIS_REPLY_ERROR)
        drop(r->str, 1);
}

static void on_connect(const redisAsyncContext *c, int status)
{
    if (c != ac)
        return;
    if (status != REDIS_OK) {
        ac = NULL; /* hiredis frees it after this returns */
        drop(c->errstr, 1);
        return;
    }
    /* TCP keepalive (15 s): a sentinel gone silently, without a reset,
     * is noticed; a subscribed link sends nothing else */
    if (redisEnableKeepAlive(&ac->c) != REDIS_OK)
        log_warn("sentinel: cannot set TCP keepalive");
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
    if (c != ac)
        return;
    ac = NULL; /* hiredis frees it after this returns */
    drop(status == REDIS_OK ? "closed" : c->errstr, !subscribed);
}

/* Connects to sentinel idx and queues AUTH and the question. */
static void start_link(void)
{
    const struct config_addr *s = &cfg->sentinel[idx];
    const char *auth[] = {"AUTH", cfg->sentinel_password};
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name",
                         cfg->sentinel_master};
    int ms = cfg->redis_timeout_ms < REDIS_CONN_SENTINEL_TIMEOUT_MS
                 ? cfg->redis_timeout_ms
                 : REDIS_CONN_SENTINEL_TIMEOUT_MS;

    if (stopping || ac)
        return;
    ac = redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        redisAsyncContext *c = ac;
        ac = NULL;
        if (c)
            redisAsyncFree(c);
        drop("cannot connect", 1);
        return;
    }
    if (redisLibeventAttach(ac, base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK ||
        (cfg->sentinel_password[0] &&
         redisAsyncCommandArgv(ac, on_auth, NULL, 2, auth, NULL) != REDIS_OK) ||
        redisAsyncCommandArgv(ac, on_addr, NULL, 3, ask, NULL) != REDIS_OK) {
        drop("cannot queue the question", 1);
        return;
    }
    arm(ms);
}

int sentinel_start(struct event_base *b, const struct config *c,
                   sentinel_primary_fn fn)
{
    base = b;
    cfg = c;
    on_primary = fn;
    timer = evtimer_new(base, timer_cb, NULL);
    if (!timer)
        return -1;
    log_info("asking sentinels %s for %s", cfg->sentinels,
             cfg->sentinel_master);
    start_link();
    return 0;
}

void sentinel_doubt(void)
{
    long long now = mono_ms();

    if (stopping || !timer || now - last_doubt_ms < DOUBT_MIN_MS)
        return;
    last_doubt_ms = now;
    if (ac || !evtimer_pending(timer, NULL)) {
        evtimer_del(timer);
        drop("its primary is not one (ROLE or READONLY); asking the next", 1);
    }
}

void sentinel_stop(void)
{
    redisAsyncContext *c = ac;

    stopping = 1;
    ac = NULL;
    if (c)
        redisAsyncFree(c);
    if (timer) {
        event_free(timer);
        timer = NULL;
    }
}
