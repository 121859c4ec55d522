/* feed.c - the two async Redis connections of the poller, their reconnect
 * with backoff, the channel subscriptions and the store calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "common/log.h"
#include "common/redis_conn.h"
#include "poller/feed.h"
#include "poller/metrics.h"
#include "poller/probe.h"
#include "poller/sentinel.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define SWEEP_SECONDS  10
#define LINGER_SECONDS 30
/* A Redis that takes a command but does not answer (stopped, stuck) is
 * given up after this long at most, so that every wait stays bounded. */
#define STALL_MAX_MS   1000
#define STALL_CHECK_MS 250

enum link_kind { LINK_CMD, LINK_SUB };

/* One connection: the context while connected or connecting. */
struct link {
    enum link_kind kind;
    redisAsyncContext *ac;
    int connected;
    int ready; /* command link: Redis answered on this connection */
    int ever_connected;
    int backoff_ms;
    struct event *retry;
    unsigned long pending;      /* commands sent, not answered */
    long long waiting_since_ms; /* the last answer, or the first send */
};

/* A store call in flight on the command connection. */
struct feed_req {
    struct store_call call;
    feed_reply_fn fn;
    void *priv;
    int retried;
};

static struct event_base *base;
static const struct config *cfg;
static struct feed_hooks hooks;
static struct link links[2] = {{.kind = LINK_CMD}, {.kind = LINK_SUB}};
static struct event *sweep_ev;
static struct event *stall_ev;
static unsigned long long seq;
static unsigned long long wake_confirmed_seq; /* rcg:wake ack, 0 = none */
static unsigned long long sys_wake_seq;       /* last scope "*" wake */
static unsigned long long event_seq;          /* last "*" or channel wake */
static unsigned long long ks_confirmed_seq;   /* keyspace PSUBSCRIBE ack */
static char ks_pattern[STORE_KEY_MAX];        /* every chat list's channel */
static int stopping;
static int keyspace_logged;
/* Where both links connect: REDIS_ADDRESS, or what Sentinel named last
 * (none yet: they wait for it). */
static struct redis_addr primary;
static int have_primary;
static char primary_name[sizeof((struct config *)0)->redis_label];
static struct event *moved_ev; /* drops both links outside their callbacks */

static void link_connect(struct link *l);
static long long mono_ms(void);

static struct link *link_of(const redisAsyncContext *ac)
{
    for (int i = 0; i < 2; i++) {
        if (links[i].ac == ac)
            return &links[i];
    }
    return NULL;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_connect(arg);
}

static void schedule_retry(struct link *l)
{
    struct timeval tv = {.tv_sec = l->backoff_ms / 1000,
                         .tv_usec = (long)(l->backoff_ms % 1000) * 1000};

    if (stopping)
        return;
    if (evtimer_add(l->retry, &tv) != 0)
        log_err("cannot schedule the redis reconnect");
    l->backoff_ms =
        l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* Every subscription is gone with the connection. */
static void reset_chan(struct chan *ch, void *ctx)
{
    (void)ctx;
    ch->sub = CHAN_UNSUB;
    ch->want_sub = 0;
    ch->confirmed_seq = 0;
    chan_maybe_free(ch);
}

static void link_lost(struct link *l, const char *why)
{
    if (l->connected || !l->ever_connected)
        log_warn("redis %s (%s connection): %s", primary_name,
                 l->kind == LINK_CMD ? "command" : "subscribe", why);
    l->ac = NULL;
    l->connected = 0;
    l->ready = 0;
    l->pending = 0;
    if (l->kind == LINK_SUB) {
        wake_confirmed_seq = 0;
        ks_confirmed_seq = 0;
        chan_each(reset_chan, NULL);
    }
    schedule_retry(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = link_of(ac);

    if (!l)
        return;
    link_lost(l, status == REDIS_OK ? "closed" : ac->errstr);
}

static void sub_send(const char *verb, const char *name);

static void subscribe_chan(struct chan *ch, void *ctx)
{
    (void)ctx;
    if (ch->refs > 0 && ch->sub == CHAN_UNSUB) {
        sub_send("SUBSCRIBE", ch->name);
        ch->sub = CHAN_SUB_PENDING;
    }
}

static void on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_err("redis %s failed: %.200s", (const char *)priv, r->str);
}

/* AUTH and SELECT, queued before anything else on a new connection. */
static int queue_setup(redisAsyncContext *ac)
{
    char db[16];
    const char *auth[3];
    const char *sel[2] = {"SELECT", db};
    int auth_argc = store_auth_argv(cfg, auth);

    snprintf(db, sizeof db, "%d", cfg->redis_db);
    if (auth_argc &&
        redisAsyncCommandArgv(ac, on_setup, (void *)(uintptr_t) "AUTH",
                              auth_argc, auth, NULL) != REDIS_OK)
        return -1;
    if (cfg->redis_db &&
        redisAsyncCommandArgv(ac, on_setup, (void *)(uintptr_t) "SELECT", 2,
                              sel, NULL) != REDIS_OK)
        return -1;
    return 0;
}

static void keyspace_check(void);
static int send_call(const struct store_call *c, feed_reply_fn fn, void *priv,
                     int probe);
static void role_check(struct link *l);

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = link_of(ac);

    if (!l)
        return;
    if (status != REDIS_OK) {
        link_lost(l, ac->errstr);
        return;
    }
    if (l->ever_connected)
        metrics.redis_reconnects++;
    log_info("redis %s: %s connection up", primary_name,
             l->kind == LINK_CMD ? "command" : "subscribe");
    l->connected = 1;
    l->ever_connected = 1;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l->kind == LINK_SUB) {
        sub_send("SUBSCRIBE", STORE_WAKE_CHANNEL);
        sub_send("PSUBSCRIBE", ks_pattern);
        chan_each(subscribe_chan, NULL);
    } else if (cfg->n_sentinels) {
        role_check(l); /* then keyspace_check() */
    } else {
        keyspace_check(); /* its answer makes the link ready (cmd_up) */
    }
}

static void link_connect(struct link *l)
{
    redisAsyncContext *ac;

    if (stopping || l->ac || !have_primary)
        return;
    if (primary.port == 0)
        ac = redisAsyncConnectUnix(primary.host);
    else
        ac = redisAsyncConnect(primary.host, primary.port);
    if (!ac) {
        schedule_retry(l);
        return;
    }
    if (ac->err) {
        if (!l->ever_connected || l->backoff_ms == BACKOFF_MIN_MS)
            log_warn("redis %s: %s", primary_name, ac->errstr);
        redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    if (redisLibeventAttach(ac, base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    l->ac = ac;
    if (queue_setup(ac) != 0)
        log_err("cannot queue the redis AUTH/SELECT");
}

/* --- the primary: REDIS_ADDRESS, or Sentinel's (poller/sentinel.c) --- */

/* Both links are closed (pending callbacks run with NULL) and retry with
 * their backoff. */
static void drop_links(const char *why)
{
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = links[i].ac;
        if (!ac)
            continue;
        links[i].ac = NULL; /* re-entrant calls see the link down */
        redisAsyncFree(ac);
        link_lost(&links[i], why);
    }
}

static void moved_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    drop_links("not the primary; reconnecting");
}

/* This server does not take writes as the primary: ask Sentinel again and
 * drop both links (from the loop, not inside their own callback). */
static void primary_doubted(void)
{
    struct timeval now = {0, 0};

    sentinel_doubt();
    if (evtimer_add(moved_ev, &now) != 0)
        log_err("cannot schedule the redis reconnect");
}

/* Sentinel named the primary: a new one gets both links at once. */
static void feed_primary(const struct redis_addr *a)
{
    if (have_primary && redis_conn_addr_eq(&primary, a))
        return;
    drop_links("the primary moved");
    primary = *a;
    have_primary = 1;
    redis_conn_addr_str(&primary, primary_name, sizeof primary_name);
    log_info("redis primary %s is at %s", cfg->sentinel_master, primary_name);
    for (int i = 0; i < 2; i++) {
        evtimer_del(links[i].retry);
        links[i].backoff_ms = BACKOFF_MIN_MS;
        link_connect(&links[i]);
    }
}

/* The first reply on a new command link, in Sentinel mode: is it the
 * primary? Only then the link gets ready (keyspace_check). */
/* cppcheck-suppress constParameter ; the hiredis callback type */
static void on_role(redisAsyncContext *ac, void *reply, void *priv)
{
    struct link *l = priv;

    if (ac != l->ac)
        return;
    if (l->pending)
        l->pending--;
    l->waiting_since_ms = mono_ms();
    if (redis_conn_role_is_master(reply)) {
        keyspace_check();
        return;
    }
    if (reply)
        log_warn("redis %s is not the primary (ROLE)", primary_name);
    primary_doubted();
}

static void role_check(struct link *l)
{
    if (redisAsyncCommand(l->ac, on_role, l, "ROLE") != REDIS_OK) {
        log_err("cannot send ROLE");
        return;
    }
    if (l->pending++ == 0)
        l->waiting_since_ms = mono_ms();
}

/* --- the SUBSCRIBE connection --- */

static void on_sub_ack(const char *name)
{
    struct chan *ch;

    if (strcmp(name, ks_pattern) == 0) {
        ks_confirmed_seq = ++seq;
        if (hooks.wake)
            hooks.wake(NULL, FEED_WAKE_SUBSCRIBED);
        return;
    }
    if (strcmp(name, STORE_WAKE_CHANNEL) == 0) {
        wake_confirmed_seq = ++seq;
        if (hooks.wake)
            hooks.wake(NULL, FEED_WAKE_SUBSCRIBED);
        return;
    }
    ch = chan_find(name);
    if (!ch)
        return;
    ch->sub = CHAN_SUBSCRIBED;
    ch->confirmed_seq = ++seq;
    if (!metrics.keyspace)
        probe_start(ch->name, NULL, 0); /* a PUBLISH just before the ack */
    if (hooks.wake)
        hooks.wake(ch, FEED_WAKE_SUBSCRIBED);
}

static void on_unsub_ack(const char *name)
{
    struct chan *ch = chan_find(name);

    if (!ch)
        return;
    ch->sub = CHAN_UNSUB;
    ch->confirmed_seq = 0;
    if (ch->want_sub || ch->refs > 0) {
        ch->want_sub = 0;
        sub_send("SUBSCRIBE", ch->name);
        ch->sub = CHAN_SUB_PENDING;
        return;
    }
    chan_maybe_free(ch);
}

static void wake_chan(struct chan *ch, enum feed_wake why)
{
    ch->wake_seq = ++seq;
    if (hooks.wake)
        hooks.wake(ch, why);
}

/* A probe found a message stored after its PUBLISH (or a blind step). */
static void probe_wake(const char *channel)
{
    struct chan *ch = chan_find(channel);

    if (ch)
        wake_chan(ch, FEED_WAKE_MESSAGE);
}

static void on_message(const char *name, const char *payload, size_t len)
{
    struct chan *ch;

    metrics.wakes++;
    if (strcmp(name, STORE_WAKE_CHANNEL) == 0 &&
        strncmp(payload, STORE_USER_SCOPE, strlen(STORE_USER_SCOPE)) == 0) {
        /* a notice of one user: only its waiters and known sessions */
        ++seq;
        if (hooks.wake_user)
            hooks.wake_user(payload + strlen(STORE_USER_SCOPE), seq);
        return;
    }
    if (strcmp(name, STORE_WAKE_CHANNEL) == 0) {
        event_seq = ++seq;
        if (strcmp(payload, "*") == 0) {
            sys_wake_seq = event_seq;
            if (hooks.wake)
                hooks.wake(NULL, FEED_WAKE_EVENT);
            return;
        }
        ch = chan_find(payload); /* an event scoped to one channel */
        if (ch) {
            ch->event_seq = event_seq;
            if (hooks.wake)
                hooks.wake(ch, FEED_WAKE_EVENT);
        }
        return;
    }
    ch = chan_find(name);
    if (!ch || metrics.keyspace)
        return; /* with notifications on, the list write itself wakes */
    /* The Go server PUBLISHes before it RPUSHes: probe first, so that the
     * reads of this wake come after the probe on the same connection. */
    probe_start(ch->name, payload, len);
    wake_chan(ch, FEED_WAKE_MESSAGE);
}

/* A keyspace notification: a chat list was written. An append (both
 * servers RPUSH) is a new message; anything else (DEL, LTRIM, LSET,
 * expiry...) moved the positions the poller keeps. */
static void on_list_write(const char *name, const char *op)
{
    const char *channel = store_keyspace_channel_of(name, cfg->redis_db);
    struct chan *ch = channel ? chan_find(channel) : NULL;

    if (!ch)
        return;
    metrics.keyspace_wakes++;
    probe_cancel(ch->name);
    wake_chan(ch,
              strcmp(op, "rpush") == 0 ? FEED_WAKE_MESSAGE : FEED_WAKE_REWRITE);
}

/* One callback for every subscription: [kind, channel, count|payload],
 * or [pmessage, pattern, channel, payload]. */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    const char *kind;

    (void)ac;
    (void)priv;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return;
    kind = r->element[0]->str;
    if (strcasecmp(kind, "message") == 0) {
        const redisReply *p = r->element[2];
        int str = p->type == REDIS_REPLY_STRING;
        on_message(r->element[1]->str, str ? p->str : "", str ? p->len : 0);
    } else if (strcasecmp(kind, "pmessage") == 0) {
        if (r->elements == 4 && r->element[2]->type == REDIS_REPLY_STRING &&
            r->element[3]->type == REDIS_REPLY_STRING)
            on_list_write(r->element[2]->str, r->element[3]->str);
    } else if (strcasecmp(kind, "subscribe") == 0 ||
               strcasecmp(kind, "psubscribe") == 0) {
        on_sub_ack(r->element[1]->str);
    } else if (strcasecmp(kind, "unsubscribe") == 0) {
        on_unsub_ack(r->element[1]->str);
    }
}

static void sub_send(const char *verb, const char *name)
{
    struct link *l = &links[LINK_SUB];
    const char *argv[2] = {verb, name};
    size_t len[2] = {strlen(verb), strlen(name)};

    if (!l->ac || !l->connected)
        return;
    if (redisAsyncCommandArgv(l->ac, on_sub_reply, NULL, 2, argv, len) !=
        REDIS_OK)
        log_err("cannot send %s %s", verb, name);
}

void feed_follow(struct chan *ch)
{
    ch->refs++;
    if (ch->sub == CHAN_UNSUB && links[LINK_SUB].connected) {
        sub_send("SUBSCRIBE", ch->name);
        ch->sub = CHAN_SUB_PENDING;
    } else if (ch->sub == CHAN_UNSUB_PENDING) {
        /* Never SUBSCRIBE while its UNSUBSCRIBE is in flight: hiredis drops
         * the channel's callback when that ack arrives (PLATFORM R2). */
        ch->want_sub = 1;
    }
}

void feed_unfollow(struct chan *ch)
{
    if (ch->refs > 0 && --ch->refs == 0)
        ch->idle_since = time(NULL);
}

static void sweep_chan(struct chan *ch, void *ctx)
{
    time_t now = *(time_t *)ctx;

    if (ch->refs || ch->want_sub || now - ch->idle_since < LINGER_SECONDS)
        return;
    if (ch->sub == CHAN_SUBSCRIBED && links[LINK_SUB].connected) {
        sub_send("UNSUBSCRIBE", ch->name);
        ch->sub = CHAN_UNSUB_PENDING;
    } else if (ch->sub == CHAN_UNSUB) {
        chan_maybe_free(ch);
    }
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    time_t now = time(NULL);
    (void)fd;
    (void)what;
    (void)arg;
    chan_each(sweep_chan, &now);
    keyspace_check();
}

unsigned long long feed_seq(void)
{
    return seq;
}

/* Every notification of ch (NULL = none) reaches us since before sent. */
static int subscribed_since(const struct chan *ch, unsigned long long sent)
{
    if (!ks_confirmed_seq || ks_confirmed_seq > sent)
        return 0;
    return !ch || (ch->sub == CHAN_SUBSCRIBED && ch->confirmed_seq <= sent);
}

int feed_events_fresh(const struct chan *ch, unsigned long long sent)
{
    if (!wake_confirmed_seq || wake_confirmed_seq > sent ||
        sys_wake_seq > sent || !subscribed_since(ch, sent))
        return 0;
    return !ch || ch->event_seq <= sent;
}

int feed_no_event_since(unsigned long long sent)
{
    return wake_confirmed_seq && wake_confirmed_seq <= sent &&
           event_seq <= sent;
}

int feed_messages_fresh(const struct chan *ch, unsigned long long sent)
{
    return subscribed_since(ch, sent) && ch->wake_seq <= sent;
}

int feed_read_is_fresh(const struct chan *ch, unsigned long long sent)
{
    return feed_events_fresh(ch, sent) &&
           (!ch || feed_messages_fresh(ch, sent));
}

/* --- keyspace notifications: on, or switched on, or off --- */

static void keyspace_set(int on)
{
    if (on == metrics.keyspace)
        return;
    log_info("keyspace notifications of chat lists: %s", on ? "on" : "off");
    metrics.keyspace = on;
    /* Off now: PUBLISH wakes again; anything may have slipped meanwhile. */
    if (!on && hooks.wake)
        hooks.wake(NULL, FEED_WAKE_SUBSCRIBED);
}

static void on_notify_set(const redisReply *r, void *priv)
{
    (void)priv;
    keyspace_set(r && r->type == REDIS_REPLY_STATUS);
    if (!metrics.keyspace)
        log_warn("cannot enable keyspace notifications: %.200s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
}

static void on_notify_get(const redisReply *r, void *priv)
{
    char flags[STORE_NOTIFY_FLAGS_MAX];
    struct store_call c;

    (void)priv;
    if (!r)
        return; /* disconnected: asked again on reconnect */
    if (store_notify_parse(r, flags, sizeof flags) != 0) {
        if (!keyspace_logged++)
            log_info("CONFIG is not available (%.100s): set "
                     "notify-keyspace-events Kl in redis.conf for instant "
                     "wakes on Go server messages; until then they are "
                     "found by probing",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
        keyspace_set(0);
        return;
    }
    if (store_notify_covers(flags)) {
        keyspace_set(1);
        return;
    }
    if (!cfg->keyspace_setup) {
        keyspace_set(0);
        return;
    }
    store_notify_set(&c, flags);
    if (feed_call(&c, on_notify_set, NULL) != 0)
        keyspace_set(0);
}

/* Asks whether Redis notifies list writes: at connect and every sweep,
 * since an operator may change notify-keyspace-events at any time. */
static void keyspace_check(void)
{
    struct store_call c;

    store_notify_get(&c);
    if (send_call(&c, on_notify_get, NULL, 1) != 0)
        keyspace_set(0);
}

/* --- the command connection --- */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct feed_req *q = priv;
    redisReply *r = reply;
    struct link *l = &links[LINK_CMD];
    int first = 0;

    if (cfg->n_sentinels && ac == l->ac && redis_conn_moved_error(r))
        primary_doubted(); /* demoted under us (READONLY) */
    if (r && store_reply_noscript(r) && !q->retried && ac == links[0].ac &&
        links[0].connected) {
        q->retried = 1;
        store_call_use_eval(&q->call);
        if (redisAsyncCommandArgv(ac, on_cmd_reply, q, q->call.argc,
                                  q->call.argv, q->call.argvlen) == REDIS_OK)
            return;
        r = NULL;
    }
    if (ac == l->ac) {
        if (l->pending)
            l->pending--;
        l->waiting_since_ms = mono_ms();
        if (r && !l->ready)
            first = l->ready = 1;
    }
    q->fn(r, q->priv);
    free(q);
    /* Answered on a new connection: what waited for Redis reads again. */
    if (first && hooks.cmd_up)
        hooks.cmd_up();
}

/* Both connections are given up on a Redis that stopped answering; their
 * pending callbacks run with NULL now, and they reconnect with backoff. */
static void give_up_stalled(void)
{
    drop_links("no answer (stalled); reconnecting");
}

static void on_ping(const redisReply *r, void *priv)
{
    (void)r;
    (void)priv;
}

/* Gives up on a Redis that holds commands unanswered past the limit; an
 * idle connection is pinged so a stall shows even with nothing to read
 * (parked polls send nothing), and /health says so. */
static void stall_check(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = &links[LINK_CMD];
    int limit = cfg->redis_timeout_ms < STALL_MAX_MS ? cfg->redis_timeout_ms
                                                     : STALL_MAX_MS;
    long long idle = mono_ms() - l->waiting_since_ms;
    struct store_call c;

    (void)fd;
    (void)what;
    (void)arg;
    if (!l->ac)
        return;
    if (l->pending && idle > limit) {
        give_up_stalled();
    } else if (!l->pending && l->ready && idle > limit / 2) {
        store_ping(&c);
        if (send_call(&c, on_ping, NULL, 1) != 0)
            log_warn("cannot ping redis");
    }
}

/* Sends c; until Redis answered on this connection only probe may be
 * sent (a stalled Redis accepts connections): everything else fails fast. */
static int send_call(const struct store_call *c, feed_reply_fn fn, void *priv,
                     int probe)
{
    struct link *l = &links[LINK_CMD];
    struct feed_req *q;

    if (!l->ac || !l->connected || (!l->ready && !probe))
        return -1;
    q = malloc(sizeof *q);
    if (!q)
        return -1;
    q->call = *c;
    /* Arguments built in c itself (numbuf, keybuf): point them into the
     * copy, which a NOSCRIPT retry sends again. */
    for (int i = 0; i < q->call.argc; i++) {
        uintptr_t a = (uintptr_t)c->argv[i], lo = (uintptr_t)c;
        if (a >= lo && a < lo + sizeof *c)
            q->call.argv[i] = (const char *)&q->call + (a - lo);
    }
    q->fn = fn;
    q->priv = priv;
    q->retried = 0;
    if (redisAsyncCommandArgv(l->ac, on_cmd_reply, q, q->call.argc,
                              q->call.argv, q->call.argvlen) != REDIS_OK) {
        free(q);
        return -1;
    }
    if (l->pending++ == 0)
        l->waiting_since_ms = mono_ms();
    return 0;
}

int feed_call(const struct store_call *c, feed_reply_fn fn, void *priv)
{
    return send_call(c, fn, priv, 0);
}

int feed_cmd_ready(void)
{
    return links[LINK_CMD].connected && links[LINK_CMD].ready;
}

int feed_up(void)
{
    return feed_cmd_ready() && links[LINK_SUB].connected &&
           wake_confirmed_seq != 0 && ks_confirmed_seq != 0;
}

int feed_start(struct event_base *b, const struct config *c,
               const struct feed_hooks *h)
{
    struct timeval tv = {.tv_sec = SWEEP_SECONDS, .tv_usec = 0};

    base = b;
    cfg = c;
    hooks = *h;
    moved_ev = evtimer_new(base, moved_cb, NULL);
    if (!moved_ev)
        return -1;
    if (!cfg->n_sentinels) {
        redis_conn_plain_addr(cfg, &primary);
        have_primary = 1;
        snprintf(primary_name, sizeof primary_name, "%s", cfg->redis_address);
    } else {
        snprintf(primary_name, sizeof primary_name, "%s", cfg->redis_label);
        if (sentinel_start(base, cfg, feed_primary) != 0)
            return -1;
    }
    if (store_keyspace_name(ks_pattern, sizeof ks_pattern, cfg->redis_db,
                            "*") != 0 ||
        probe_init(base, probe_wake) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        links[i].backoff_ms = BACKOFF_MIN_MS;
        links[i].retry = evtimer_new(base, retry_cb, &links[i]);
        if (!links[i].retry)
            return -1;
    }
    sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, NULL);
    if (!sweep_ev || event_add(sweep_ev, &tv) != 0)
        return -1;
    {
        struct timeval st = {.tv_sec = 0, .tv_usec = STALL_CHECK_MS * 1000L};
        stall_ev = event_new(base, -1, EV_PERSIST, stall_check, NULL);
        if (!stall_ev || event_add(stall_ev, &st) != 0)
            return -1;
    }
    link_connect(&links[LINK_CMD]);
    link_connect(&links[LINK_SUB]);
    return 0;
}

void feed_stop(void)
{
    stopping = 1;
    if (cfg && cfg->n_sentinels)
        sentinel_stop();
    if (moved_ev) {
        event_free(moved_ev);
        moved_ev = NULL;
    }
    probe_free_all();
    for (int i = 0; i < 2; i++) {
        if (links[i].ac) {
            redisAsyncContext *ac = links[i].ac;
            redisAsyncFree(ac);
            links[i].ac = NULL;
        }
        links[i].connected = 0;
        if (links[i].retry) {
            event_free(links[i].retry);
            links[i].retry = NULL;
        }
    }
    if (sweep_ev) {
        event_free(sweep_ev);
        sweep_ev = NULL;
    }
    if (stall_ev) {
        event_free(stall_ev);
        stall_ev = NULL;
    }
}
