/* db.c - the per-thread synchronous Redis connection. */
#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/log.h"
#include "common/redis_conn.h"
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

/* Redis known to be down: every thread fails at once (503) instead of
 * waiting out its own timeout, and one request per DOWN_PROBE_MS probes
 * whether it is back. 0 = up. */
#define DOWN_PROBE_MS 1000
static atomic_llong down_next_probe;

static long now_ms(void);

/* Nonzero when this call must fail fast. */
static int known_down(void)
{
    long long next = atomic_load(&down_next_probe), now = now_ms();

    if (!next)
        return 0;
    if (now < next)
        return 1;
    /* this thread probes; the others keep failing until it is done */
    return !atomic_compare_exchange_strong(&down_next_probe, &next,
                                           now + DOWN_PROBE_MS);
}

static void mark_down(struct db *d, const char *why)
{
    atomic_store(&down_next_probe, now_ms() + DOWN_PROBE_MS);
    if (!d->down_logged)
        log_warn("redis %s unavailable: %s", d->cfg->redis_label, why);
    d->down_logged = 1;
    db_close(d);
    redis_conn_forget(); /* with Sentinel: the primary may have moved */
}

static int connect_now(struct db *d)
{
    char why[256];

    d->gen = redis_conn_generation(); /* before: a move meanwhile counts */
    d->ctx = redis_conn_open(d->cfg, why, sizeof why);
    if (!d->ctx) {
        mark_down(d, why);
        return -1;
    }
    if (d->down_logged)
        log_info("redis %s reachable again", d->cfg->redis_label);
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

/* Waits for a reply in poll(), not in read(): a thread asleep in read()
 * on a unix socket is also woken when Redis merely consumes the command
 * (unix_write_space wakes every sleeper on the socket), which cost a
 * second context switch per call; poll() wakes for POLLIN only. */
static int wait_readable(struct db *d, int timeout_ms)
{
    struct pollfd p = {.fd = d->ctx->fd, .events = POLLIN};
    int n;

    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        return 0;
    /* as hiredis reports its own I/O errors, for mark_down() */
    d->ctx->err = REDIS_ERR_IO;
    snprintf(d->ctx->errstr, sizeof d->ctx->errstr, "%s",
             n == 0 ? "timed out waiting for a reply" : strerror(errno));
    return -1;
}

/* The next reply, as redisGetReply() reads it but waiting in
 * wait_readable() up to timeout_ms. NULL on an I/O error or timeout (see
 * d->ctx->errstr). */
static redisReply *read_reply_within(struct db *d, int timeout_ms)
{
    void *r = NULL;
    int done = 0;

    do {
        if (redisBufferWrite(d->ctx, &done) != REDIS_OK)
            return NULL;
    } while (!done);
    for (;;) {
        if (redisGetReplyFromReader(d->ctx, &r) != REDIS_OK)
            return NULL;
        if (r)
            return r;
        if (wait_readable(d, timeout_ms) || redisBufferRead(d->ctx) != REDIS_OK)
            return NULL;
    }
}

static redisReply *read_reply(struct db *d)
{
    return read_reply_within(d, d->cfg->redis_timeout_ms);
}

static redisReply *send_argv(struct db *d, int argc, const char **argv,
                             const size_t *argvlen)
{
    if (redisAppendCommandArgv(d->ctx, argc, argv, argvlen) != REDIS_OK)
        return NULL;
    return read_reply(d);
}

static redisReply *send_call(struct db *d, struct store_call *c)
{
    return send_argv(d, c->argc, c->argv, c->argvlen);
}

/* Connects when needed, replacing a connection that went stale. */
static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* vDSO: no system call */
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A connection used in the last 50 ms is trusted without a poll(): under
 * load that saves a system call per request, and a server restart takes
 * longer than that. */
static int ensure_connected(struct db *d)
{
    long now = now_ms();

    if (known_down())
        return -1;
    if (d->ctx && now - d->last_used_ms >= 50 && is_stale(d->ctx))
        db_close(d);
    /* the primary moved since: the old one may still take (lost) writes */
    if (d->ctx && d->gen != redis_conn_generation())
        db_close(d);
    d->last_used_ms = now;
    return d->ctx ? 0 : connect_now(d);
}

/* Whether a call that succeeded waits for CHAT_REDIS_WAIT replicas: every
 * script that stores chat data (user, session, key, join, message). Reads,
 * hold slots and sign-in counters do not; a script added later does. */
static int needs_wait(const struct store_call *c)
{
    switch (c->script) {
    case S_USER_BY_NAME:
    case S_SIGNIN_FAIL:
    case S_SIGNIN_REFUND:
    case S_POLL:
    case S_CHANNEL_READ:
    case S_AUTH:
    case S_HOLD_TAKE:
    case S_SKEL_TAIL:
    case S__MAX:
        return 0;
    default:
        return 1;
    }
}

/* WAIT CHAT_REDIS_WAIT replicas for what this connection wrote. 0 when
 * they confirmed it in CHAT_REDIS_WAIT_MS; else -1 with e set: 230 (the
 * write is on the primary only, and may be lost in a failover), or 221
 * when the connection failed. */
static int wait_replicas(struct db *d, struct chat_error *e)
{
    char num[16], ms[16];
    const char *argv[] = {"WAIT", num, ms};
    redisReply *r;
    long long got;

    snprintf(num, sizeof num, "%d", d->cfg->redis_wait);
    snprintf(ms, sizeof ms, "%d", d->cfg->redis_wait_ms);
    r = redisAppendCommandArgv(d->ctx, 3, argv, NULL) == REDIS_OK
            ? read_reply_within(d, d->cfg->redis_wait_ms +
                                       d->cfg->redis_timeout_ms)
            : NULL;
    if (!r) {
        mark_down(d, d->ctx->errstr);
        chat_fail(e, CHAT_E_REDIS, NULL);
        return -1;
    }
    got = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (got >= d->cfg->redis_wait)
        return 0;
    log_warn("redis %s: a write reached %lld of CHAT_REDIS_WAIT=%d replicas "
             "in %d ms",
             d->cfg->redis_label, got < 0 ? 0 : got, d->cfg->redis_wait,
             d->cfg->redis_wait_ms);
    /* its replicas may follow a new primary now: ask Sentinel again */
    db_close(d);
    redis_conn_forget();
    e->retry_after = 1;
    chat_fail(e, CHAT_E_NOT_REPLICATED, NULL);
    return -1;
}

/* A server that no longer takes writes as the primary (READONLY after a
 * failover, NOREPLICAS, MASTERDOWN): this connection is dropped and the
 * next one asks Sentinel again. The caller still maps r (503 code 221). */
static void check_moved(struct db *d, const redisReply *r)
{
    if (!d->ctx || !redis_conn_moved_error(r))
        return;
    log_warn("redis %s: %.120s; reconnecting", d->cfg->redis_label, r->str);
    db_close(d);
    redis_conn_forget();
}

enum chat_err db_pipeline(struct db *d, struct store_call *calls, int n,
                          redisReply **replies, struct chat_error *e)
{
    int i, wait;

    for (i = 0; i < n; i++)
        replies[i] = NULL;
    if (ensure_connected(d))
        return chat_fail(e, CHAT_E_REDIS, NULL);
    for (i = 0; i < n; i++) {
        if (redisAppendCommandArgv(d->ctx, calls[i].argc, calls[i].argv,
                                   calls[i].argvlen) != REDIS_OK)
            goto io_error;
    }
    for (i = 0; i < n; i++) {
        replies[i] = read_reply(d);
        if (!replies[i])
            goto io_error;
    }
    for (i = 0; i < n; i++) {
        if (store_reply_noscript(replies[i])) {
            freeReplyObject(replies[i]);
            store_call_use_eval(&calls[i]);
            replies[i] = send_call(d, &calls[i]);
            if (!replies[i])
                goto io_error;
        }
    }
    atomic_store(&down_next_probe, 0); /* Redis answered */
    wait = 0;
    for (i = 0; i < n; i++) {
        wait |= replies[i]->type != REDIS_REPLY_ERROR && needs_wait(&calls[i]);
        check_moved(d, replies[i]);
    }
    if (wait && d->cfg->redis_wait && d->ctx && wait_replicas(d, e))
        goto fail;
    return CHAT_OK;
io_error:
    mark_down(d, d->ctx->errstr);
    chat_fail(e, CHAT_E_REDIS, NULL);
fail:
    for (i = 0; i < n; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    return e->err;
}

/* Settles the reply of one command: NULL (connection lost) is 503, an
 * error reply is mapped and freed, anything else goes to *out. */
static enum chat_err take_reply(struct db *d, redisReply *r, redisReply **out,
                                struct chat_error *e)
{
    if (!r) {
        mark_down(d, d->ctx->errstr);
        return chat_fail(e, CHAT_E_REDIS, NULL);
    }
    atomic_store(&down_next_probe, 0); /* Redis answered */
    if (r->type == REDIS_REPLY_ERROR) {
        enum chat_err err = store_reply_error(r, e);
        check_moved(d, r);
        if (err == CHAT_E_REDIS || err == CHAT_E_INTERNAL)
            log_warn("redis error: %.200s", r->str);
        freeReplyObject(r);
        return err;
    }
    *out = r;
    return CHAT_OK;
}

enum chat_err db_command(struct db *d, int argc, const char **argv,
                         const size_t *argvlen, redisReply **out,
                         struct chat_error *e)
{
    *out = NULL;
    if (ensure_connected(d))
        return chat_fail(e, CHAT_E_REDIS, NULL);
    return take_reply(d, send_argv(d, argc, argv, argvlen), out, e);
}

enum chat_err db_call(struct db *d, struct store_call *c, redisReply **out,
                      struct chat_error *e)
{
    redisReply *r;

    *out = NULL;
    if (ensure_connected(d))
        return chat_fail(e, CHAT_E_REDIS, NULL);
    r = send_call(d, c);
    if (r && store_reply_noscript(r)) {
        freeReplyObject(r);
        store_call_use_eval(c);
        r = send_call(d, c);
    }
    if (take_reply(d, r, out, e) != CHAT_OK)
        return e->err;
    if (d->cfg->redis_wait && d->ctx && needs_wait(c) && wait_replicas(d, e)) {
        freeReplyObject(*out);
        *out = NULL;
        return e->err;
    }
    return CHAT_OK;
}
