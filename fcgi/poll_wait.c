/* poll_wait.c - a synchronous SUBSCRIBE connection for one waiting poll. */
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/store.h"
#include "fcgi/poll_wait.h"

#define SLICE_MS 200

void poll_wait_init(struct poll_wait *w)
{
    memset(w, 0, sizeof *w);
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

static int connect_sub(struct poll_wait *w, const struct config *cfg)
{
    struct timeval tv = {.tv_sec = cfg->redis_timeout_ms / 1000,
                         .tv_usec =
                             (long)(cfg->redis_timeout_ms % 1000) * 1000};
    redisReply *r;

    if (cfg->redis_host[0] == '/')
        w->ctx = redisConnectUnixWithTimeout(cfg->redis_host, tv);
    else
        w->ctx = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
    if (!w->ctx || w->ctx->err || redisSetTimeout(w->ctx, tv) != REDIS_OK)
        goto fail;
    if (cfg->redis_password[0]) {
        r = redisCommand(w->ctx, "AUTH %s", cfg->redis_password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    return 0;
fail:
    poll_wait_close(w);
    return -1;
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

int poll_wait_follow(struct poll_wait *w, const struct config *cfg,
                     const char *channel)
{
    if (strlen(channel) >= sizeof w->channel)
        return -1;
    if (!w->ctx) {
        if (connect_sub(w, cfg) ||
            sub_command(w, "SUBSCRIBE", STORE_WAKE_CHANNEL))
            goto fail;
        w->channel[0] = '\0';
    }
    if (strcmp(w->channel, channel) == 0)
        return 0;
    if (w->channel[0] && sub_command(w, "UNSUBSCRIBE", w->channel))
        goto fail;
    w->channel[0] = '\0';
    if (channel[0] && sub_command(w, "SUBSCRIBE", channel))
        goto fail;
    memcpy(w->channel, channel, strlen(channel) + 1);
    return 0;
fail:
    poll_wait_close(w);
    return -1;
}

enum poll_wait_rc poll_wait_next(struct poll_wait *w, long long deadline_ms,
                                 int (*stop)(void))
{
    void *reply = NULL;

    if (!w->ctx)
        return POLL_WAIT_FAILED;
    for (;;) {
        struct pollfd p = {.fd = w->ctx->fd, .events = POLLIN};
        long long left = deadline_ms - poll_wait_now_ms();
        int n;

        /* A notification may already sit in hiredis' buffer. */
        if (redisGetReplyFromReader(w->ctx, &reply) != REDIS_OK)
            return POLL_WAIT_FAILED;
        if (reply) {
            freeReplyObject(reply);
            return POLL_WAIT_WOKEN;
        }
        if (stop())
            return POLL_WAIT_STOP;
        if (left <= 0)
            return POLL_WAIT_TIMEOUT;
        n = poll(&p, 1, left < SLICE_MS ? (int)left : SLICE_MS);
        if (n > 0 && redisBufferRead(w->ctx) != REDIS_OK)
            return POLL_WAIT_FAILED;
    }
}
