/* db.c - the per-thread synchronous Redis connection. */
#include <poll.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "fcgi/db.h"

void db_init(struct db *d, const struct config *cfg)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
}

void db_close(struct db *d)
{
    if (d && d->ctx) {
        redisFree(d->ctx);
        d->ctx = NULL;
    }
}

static void mark_down(struct db *d, const char *why)
{
    if (!d->down_logged)
        log_warn("redis %s unavailable: %s", d->cfg->redis_address, why);
    d->down_logged = 1;
    db_close(d);
}

static int authenticate(struct db *d)
{
    redisReply *r;
    int ok;

    if (!d->cfg->redis_password[0])
        return 0;
    r = redisCommand(d->ctx, "AUTH %s", d->cfg->redis_password);
    ok = r && r->type != REDIS_REPLY_ERROR;
    if (r && !ok)
        log_err("redis AUTH failed: %s", r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static int connect_now(struct db *d)
{
    struct timeval tv = {.tv_sec = d->cfg->redis_timeout_ms / 1000,
                         .tv_usec =
                             (long)(d->cfg->redis_timeout_ms % 1000) * 1000};

    if (d->cfg->redis_host[0] == '/')
        d->ctx = redisConnectUnixWithTimeout(d->cfg->redis_host, tv);
    else
        d->ctx =
            redisConnectWithTimeout(d->cfg->redis_host, d->cfg->redis_port, tv);
    if (!d->ctx || d->ctx->err) {
        mark_down(d, d->ctx ? d->ctx->errstr : "out of memory");
        return -1;
    }
    if (redisSetTimeout(d->ctx, tv) != REDIS_OK || authenticate(d)) {
        mark_down(d, "setup failed");
        return -1;
    }
    if (d->down_logged)
        log_info("redis %s reachable again", d->cfg->redis_address);
    d->down_logged = 0;
    return 0;
}

/* An idle request/response connection has nothing to read; readable or
 * hung up means the server went away (e.g. restarted) since last use. */
static int is_stale(redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

static redisReply *send_call(struct db *d, struct store_call *c)
{
    return redisCommandArgv(d->ctx, c->argc, c->argv, c->argvlen);
}

enum chat_err db_call(struct db *d, struct store_call *c, redisReply **out,
                      struct chat_error *e)
{
    redisReply *r;

    *out = NULL;
    if (d->ctx && is_stale(d->ctx))
        db_close(d);
    if (!d->ctx && connect_now(d))
        return chat_fail(e, CHAT_E_REDIS, NULL);
    r = send_call(d, c);
    if (r && store_reply_noscript(r)) {
        freeReplyObject(r);
        store_call_use_eval(c);
        r = send_call(d, c);
    }
    if (!r) {
        mark_down(d, d->ctx->errstr);
        return chat_fail(e, CHAT_E_REDIS, NULL);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        enum chat_err err = store_reply_error(r, e);
        if (err == CHAT_E_REDIS || err == CHAT_E_INTERNAL)
            log_warn("redis error: %.200s", r->str);
        freeReplyObject(r);
        return err;
    }
    *out = r;
    return CHAT_OK;
}
