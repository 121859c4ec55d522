/* sentinel_watch.c - the thread that follows +switch-master. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/redis_conn.h"
#include "fcgi/sentinel_watch.h"

#define SLICE_MS    250 /* how soon a stop is seen */
#define RETRY_MS    500 /* between sentinels that fail */
#define SWITCH_CHAN "+switch-master"

static const struct config *cfg;
static pthread_t tid;
static int started;
static atomic_int stop;

/* Sleeps ms in slices; 1 when a stop came meanwhile. */
static int nap(int ms)
{
    for (; ms > 0 && !atomic_load(&stop); ms -= SLICE_MS)
        poll(NULL, 0, ms < SLICE_MS ? ms : SLICE_MS);
    return atomic_load(&stop);
}

/* A pushed reply: a switch of our master is handed on. */
static void on_push(const redisReply *r)
{
    struct redis_addr a;

    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        strcasecmp(r->element[0]->str, "message") == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING &&
        redis_conn_parse_switch(r->element[2]->str, cfg->sentinel_master, &a) ==
            0) {
        log_info("sentinel: %s switched to %s:%d; reconnecting",
                 cfg->sentinel_master, a.host, a.port);
        redis_conn_switched(&a);
    }
}

/* Reads pushes until the link fails or a stop; poll() in slices, as
 * hiredis' own read timeout would leave the context unusable. */
static void follow(redisContext *c)
{
    while (!atomic_load(&stop)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        void *reply = NULL;
        int n = poll(&p, 1, SLICE_MS);

        if (n < 0 && errno != EINTR)
            return;
        if (n <= 0)
            continue;
        if (redisBufferRead(c) != REDIS_OK)
            return;
        do {
            if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
                return;
            on_push(reply);
            freeReplyObject(reply);
        } while (reply);
    }
}

/* One sentinel: SUBSCRIBE, then ask (a switch from before the
 * subscription), then follow. Returns when it fails. */
static void watch_one(int i)
{
    char why[256];
    struct redis_addr a;
    redisContext *c = redis_conn_sentinel_open(cfg, i, why, sizeof why);
    redisReply *r = NULL;

    if (!c)
        goto fail;
    r = redisCommand(c, "SUBSCRIBE " SWITCH_CHAN);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(why, sizeof why, "SUBSCRIBE failed: %.200s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
        goto fail;
    }
    freeReplyObject(r);
    r = NULL;
    if (redis_conn_sentinel_ask(cfg, i, &a, why, sizeof why) == 0)
        redis_conn_switched(&a);
    follow(c);
    snprintf(why, sizeof why, "%s", c->err ? c->errstr : "closed");
fail:
    if (!atomic_load(&stop))
        log_warn("sentinel %s:%d (switch watch): %s", cfg->sentinel[i].host,
                 cfg->sentinel[i].port, why);
    freeReplyObject(r);
    if (c)
        redisFree(c);
}

static void *run(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&stop); i = (i + 1) % cfg->n_sentinels) {
        watch_one(i);
        if (nap(RETRY_MS))
            break;
    }
    return NULL;
}

int sentinel_watch_start(const struct config *c)
{
    sigset_t all, old;
    int rc;

    cfg = c;
    /* the signals stay with main's sigwait() */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&tid, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    started = 1;
    return 0;
}

void sentinel_watch_stop(void)
{
    if (!started)
        return;
    atomic_store(&stop, 1);
    pthread_join(tid, NULL);
    started = 0;
}
