/* poll_wait.c - a synchronous SUBSCRIBE connection for one waiting poll. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/redis_conn.h"
#include "fcgi/db.h"
#include "fcgi/poll_wait.h"

#define SLICE_MS 200
/* Re-reads after a PUBLISH that was not in the list yet: 1, 2, 4 .. 2048
 * ms (about 4 s in all; the Go server's gap is well under 1 ms to a few
 * ms, 200 ms at the most seen). After a new subscription: 16 .. 256 ms. */
#define RECHECK_FIRST_MS 1
#define RECHECK_LATE_MS  16
#define RECHECK_LAST_MS  2048
#define LATE_LAST_MS     256

void poll_wait_init(struct poll_wait *w, int keyspace)
{
    memset(w, 0, sizeof *w);
    w->keyspace = keyspace;
}

void poll_wait_close(struct poll_wait *w)
{
    if (w && w->ctx) {
        redisFree(w->ctx);
        w->ctx = NULL;
    }
}

long long poll_wait_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void recheck_start(struct poll_wait *w, int first_ms, int last_ms)
{
    w->recheck_at = poll_wait_now_ms() + first_ms;
    w->recheck_gap_ms = first_ms * 2;
    w->recheck_last_ms = last_ms;
}

/* A scheduled re-read is due now: schedule the next, or end. */
static void recheck_advance(struct poll_wait *w)
{
    if (w->recheck_gap_ms > w->recheck_last_ms) {
        w->recheck_at = 0;
        return;
    }
    w->recheck_at = poll_wait_now_ms() + w->recheck_gap_ms;
    w->recheck_gap_ms *= 2;
}

/* Sends verb name and reads replies until its ack (messages that arrive
 * meanwhile only mean "read again", which the caller does anyway). */
static int sub_command(struct poll_wait *w, const char *verb, const char *name)
{
    const char *argv[2] = {verb, name};
    size_t len[2] = {strlen(verb), strlen(name)};
    void *reply;

    if (redisAppendCommandArgv(w->ctx, 2, argv, len) != REDIS_OK)
        return -1;
    for (;;) {
        redisReply *r;
        int ack;
        if (redisGetReply(w->ctx, &reply) != REDIS_OK)
            return -1;
        r = reply;
        ack = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
              r->element[0]->type == REDIS_REPLY_STRING &&
              r->element[1]->type == REDIS_REPLY_STRING &&
              strcasecmp(r->element[0]->str, verb) == 0 &&
              strcmp(r->element[1]->str, name) == 0;
        freeReplyObject(r);
        if (ack)
            return 0;
    }
}

/* SUBSCRIBE or UNSUBSCRIBE the chat channel and its list's keyspace
 * channel. */
static int sub_channel(struct poll_wait *w, const char *verb)
{
    return sub_command(w, verb, w->channel) || sub_command(w, verb, w->ks_name);
}

int poll_wait_follow(struct poll_wait *w, const struct config *cfg,
                     const char *channel)
{
    char why[256];

    if (strlen(channel) >= sizeof w->channel)
        return -1;
    if (!w->ctx) {
        w->gen = redis_conn_generation();
        w->ctx = redis_conn_open(cfg, why, sizeof why);
        w->db = cfg->redis_db;
        if (!w->ctx || sub_command(w, "SUBSCRIBE", STORE_WAKE_CHANNEL))
            goto fail;
        w->channel[0] = '\0';
    }
    if (strcmp(w->channel, channel) == 0)
        return 0;
    if (w->channel[0] && sub_channel(w, "UNSUBSCRIBE"))
        goto fail;
    w->channel[0] = '\0';
    if (channel[0]) {
        memcpy(w->channel, channel, strlen(channel) + 1);
        if (store_keyspace_name(w->ks_name, sizeof w->ks_name, w->db,
                                channel) ||
            sub_channel(w, "SUBSCRIBE"))
            goto fail;
        if (!w->keyspace)
            recheck_start(w, RECHECK_LATE_MS, LATE_LAST_MS);
    }
    return 0;
fail:
    w->channel[0] = '\0';
    poll_wait_close(w);
    return -1;
}

void poll_wait_user(struct poll_wait *w, const char *uid)
{
    snprintf(w->uid, sizeof w->uid, "%s", uid ? uid : "");
}

/* An rcg:wake payload (a scope) of another user's notices. */
static int other_user(const struct poll_wait *w, const redisReply *payload)
{
    size_t n = strlen(STORE_USER_SCOPE);

    return payload->type == REDIS_REPLY_STRING &&
           strncmp(payload->str, STORE_USER_SCOPE, n) == 0 && w->uid[0] &&
           strcmp(payload->str + n, w->uid) != 0;
}

/* What a pushed message means: 1 = read again, 0 = nothing to do. */
static int on_push(struct poll_wait *w, const redisReply *r)
{
    const char *name;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return 1;
    name = r->element[1]->str;
    if (strcmp(name, STORE_WAKE_CHANNEL) == 0)
        return !other_user(w, r->element[2]);
    if (w->ks_name[0] && strcmp(name, w->ks_name) == 0) {
        w->recheck_at = 0; /* the list was written: this read sees it */
        return 1;
    }
    if (w->channel[0] && strcmp(name, w->channel) == 0) {
        if (w->keyspace)
            return 0; /* its RPUSH notifies (it may come after) */
        recheck_start(w, RECHECK_FIRST_MS, RECHECK_LAST_MS);
    }
    return 1;
}

enum poll_wait_rc poll_wait_next(struct poll_wait *w, long long deadline_ms,
                                 int (*stop)(void))
{
    void *reply = NULL;

    if (!w->ctx)
        return POLL_WAIT_FAILED;
    for (;;) {
        struct pollfd p = {.fd = w->ctx->fd, .events = POLLIN};
        long long now = poll_wait_now_ms(), left = deadline_ms - now;
        int n;

        /* A notification may already sit in hiredis' buffer. */
        if (redisGetReplyFromReader(w->ctx, &reply) != REDIS_OK)
            return POLL_WAIT_FAILED;
        if (reply) {
            int wake = on_push(w, reply);
            freeReplyObject(reply);
            reply = NULL;
            if (wake)
                return POLL_WAIT_WOKEN;
            continue;
        }
        if (stop())
            return POLL_WAIT_STOP;
        /* the primary moved: read there, and subscribe there again */
        if (w->gen != redis_conn_generation()) {
            poll_wait_close(w);
            return POLL_WAIT_WOKEN;
        }
        if (left <= 0)
            return POLL_WAIT_TIMEOUT;
        if (w->recheck_at && w->recheck_at <= now) {
            recheck_advance(w);
            return POLL_WAIT_WOKEN;
        }
        if (left > SLICE_MS)
            left = SLICE_MS;
        if (w->recheck_at && w->recheck_at - now < left)
            left = w->recheck_at - now;
        n = poll(&p, 1, (int)left);
        if (n > 0 && redisBufferRead(w->ctx) != REDIS_OK)
            return POLL_WAIT_FAILED;
    }
}
