/* redis_conn.c - finding the primary (REDIS_ADDRESS or Sentinel) and
 * opening a ready connection to it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/redis_conn.h"
#include "common/store.h"

/* The primary Sentinel named last, shared by the threads: known stays
 * after redis_conn_forget() (have_known 0) to tell a move from a retry. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct redis_addr known;
static int have_known, ever_known;
static int first_sentinel; /* the sentinel that answered last */
static atomic_uint generation;

/* Records a as the primary; a move bumps the generation. */
static void set_known(const struct redis_addr *a, int idx)
{
    pthread_mutex_lock(&lock);
    if (ever_known && !redis_conn_addr_eq(&known, a))
        atomic_fetch_add(&generation, 1);
    known = *a;
    have_known = ever_known = 1;
    if (idx >= 0)
        first_sentinel = idx;
    pthread_mutex_unlock(&lock);
}

static struct timeval tv_of(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (long)(ms % 1000) * 1000};
    return tv;
}

void redis_conn_plain_addr(const struct config *cfg, struct redis_addr *out)
{
    snprintf(out->host, sizeof out->host, "%s", cfg->redis_host);
    out->port = cfg->redis_port;
}

const char *redis_conn_addr_str(const struct redis_addr *a, char *buf, size_t n)
{
    if (a->port == 0)
        snprintf(buf, n, "%s", a->host);
    else if (strchr(a->host, ':'))
        snprintf(buf, n, "[%s]:%d", a->host, a->port);
    else
        snprintf(buf, n, "%s:%d", a->host, a->port);
    return buf;
}

int redis_conn_addr_eq(const struct redis_addr *a, const struct redis_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Runs one setup command (AUTH, SELECT); 0 when Redis accepted it. */
static int setup_command(redisContext *c, int argc, const char **argv,
                         char *why, size_t n)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;

    if (!ok)
        snprintf(why, n, "%s failed: %.200s", argv[0], r ? r->str : c->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static redisContext *connect_with(const char *host, int port, int ms, char *why,
                                  size_t n)
{
    redisContext *c;

    if (port == 0)
        c = redisConnectUnixWithTimeout(host, tv_of(ms));
    else
        c = redisConnectWithTimeout(host, port, tv_of(ms));
    if (!c || c->err) {
        snprintf(why, n, "%s", c ? c->errstr : "out of memory");
        goto fail;
    }
    if (redisSetTimeout(c, tv_of(ms)) != REDIS_OK) {
        snprintf(why, n, "cannot set the timeout");
        goto fail;
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}

redisContext *redis_conn_open_addr(const struct config *cfg,
                                   const struct redis_addr *a, char *why,
                                   size_t n)
{
    redisContext *c;
    char db[16];
    const char *auth[3];
    int auth_argc = store_auth_argv(cfg, auth);
    const char *select[] = {"SELECT", db};

    c = connect_with(a->host, a->port, cfg->redis_timeout_ms, why, n);
    if (!c)
        return NULL;
    snprintf(db, sizeof db, "%d", cfg->redis_db);
    if ((auth_argc && setup_command(c, auth_argc, auth, why, n)) ||
        (cfg->redis_db && setup_command(c, 2, select, why, n))) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Connects to a and checks with ROLE that it is the primary. */
static redisContext *open_primary(const struct config *cfg,
                                  const struct redis_addr *a, char *why,
                                  size_t n)
{
    redisContext *c = redis_conn_open_addr(cfg, a, why, n);
    redisReply *r;
    char name[300];

    if (!c)
        return NULL;
    r = redisCommand(c, "ROLE");
    if (redis_conn_role_is_master(r)) {
        freeReplyObject(r);
        return c;
    }
    snprintf(why, n, "%s is not the primary (ROLE: %.40s)",
             redis_conn_addr_str(a, name, sizeof name),
             r && r->type == REDIS_REPLY_ARRAY && r->elements &&
                     r->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->str
                 : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return NULL;
}

static int sentinel_ms(const struct config *cfg)
{
    return cfg->redis_timeout_ms < REDIS_CONN_SENTINEL_TIMEOUT_MS
               ? cfg->redis_timeout_ms
               : REDIS_CONN_SENTINEL_TIMEOUT_MS;
}

redisContext *redis_conn_sentinel_open(const struct config *cfg, int i,
                                       char *why, size_t n)
{
    const struct config_addr *s = &cfg->sentinel[i];
    const char *auth[] = {"AUTH", cfg->sentinel_password};
    redisContext *c = connect_with(s->host, s->port, sentinel_ms(cfg), why, n);

    if (c && cfg->sentinel_password[0] && setup_command(c, 2, auth, why, n)) {
        redisFree(c);
        return NULL;
    }
    return c;
}

int redis_conn_sentinel_ask(const struct config *cfg, int i,
                            struct redis_addr *out, char *why, size_t n)
{
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name",
                         cfg->sentinel_master};
    const struct config_addr *s = &cfg->sentinel[i];
    redisContext *c = redis_conn_sentinel_open(cfg, i, why, n);
    redisReply *r;
    int rc;

    if (!c)
        return -1;
    r = redisCommandArgv(c, 3, ask, NULL);
    rc = redis_conn_parse_master_addr(r, out);
    if (rc)
        snprintf(why, n, "sentinel %s:%d: %.200s", s->host, s->port,
                 !r                             ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "does not know the master");
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* Asks each sentinel in turn until one names a primary that says so. An
 * address that already failed is not tried again (a dead primary the
 * sentinels have not replaced yet costs one connect, not one each). */
static redisContext *ask_and_open(const struct config *cfg,
                                  const struct redis_addr *failed, char *why,
                                  size_t n)
{
    int start;

    pthread_mutex_lock(&lock);
    start = first_sentinel;
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < cfg->n_sentinels; i++) {
        int idx = (start + i) % cfg->n_sentinels;
        struct redis_addr a;
        redisContext *c;

        if (redis_conn_sentinel_ask(cfg, idx, &a, why, n) ||
            (failed && redis_conn_addr_eq(&a, failed)))
            continue;
        c = open_primary(cfg, &a, why, n);
        if (!c)
            continue;
        set_known(&a, idx);
        return c;
    }
    return NULL;
}

redisContext *redis_conn_open(const struct config *cfg, char *why, size_t n)
{
    struct redis_addr a = {.port = 0};
    int have;

    if (!cfg->n_sentinels) {
        redis_conn_plain_addr(cfg, &a);
        return redis_conn_open_addr(cfg, &a, why, n);
    }
    pthread_mutex_lock(&lock);
    a = known;
    have = have_known;
    pthread_mutex_unlock(&lock);
    if (have) {
        redisContext *c = open_primary(cfg, &a, why, n);
        if (c)
            return c;
        redis_conn_forget();
    }
    return ask_and_open(cfg, have ? &a : NULL, why, n);
}

void redis_conn_forget(void)
{
    pthread_mutex_lock(&lock);
    have_known = 0;
    pthread_mutex_unlock(&lock);
}

void redis_conn_switched(const struct redis_addr *a)
{
    set_known(a, -1);
}

unsigned redis_conn_generation(void)
{
    return atomic_load(&generation);
}

/* --- replies --- */

static int parse_port(const char *s, int *port)
{
    char *end;
    long p = strtol(s, &end, 10);

    if (end == s || *end || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int set_addr(struct redis_addr *out, const char *host, size_t len,
                    const char *port)
{
    if (len == 0 || len >= sizeof out->host || parse_port(port, &out->port))
        return -1;
    memcpy(out->host, host, len);
    out->host[len] = '\0';
    return 0;
}

int redis_conn_parse_master_addr(const redisReply *r, struct redis_addr *out)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    return set_addr(out, r->element[0]->str, r->element[0]->len,
                    r->element[1]->str);
}

int redis_conn_role_is_master(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING &&
           strcmp(r->element[0]->str, "master") == 0;
}

int redis_conn_parse_switch(const char *payload, const char *master,
                            struct redis_addr *out)
{
    char copy[1024], *save = NULL, *f[6];
    int nf = 0;

    if (strlen(payload) >= sizeof copy)
        return -1;
    memcpy(copy, payload, strlen(payload) + 1);
    for (char *t = strtok_r(copy, " ", &save); t && nf < 6;
         t = strtok_r(NULL, " ", &save))
        f[nf++] = t;
    if (nf != 5 || strcmp(f[0], master) != 0)
        return -1;
    return set_addr(out, f[3], strlen(f[3]), f[4]);
}

int redis_conn_moved_error(const redisReply *r)
{
    static const char *const codes[] = {"READONLY ", "NOREPLICAS ",
                                        "MASTERDOWN "};
    const char *s;

    if (!r || r->type != REDIS_REPLY_ERROR || !r->str)
        return 0;
    /* a script's redis.call error may come as "ERR <code> ..." */
    s = strncmp(r->str, "ERR ", 4) == 0 ? r->str + 4 : r->str;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strncmp(s, codes[i], strlen(codes[i])) == 0)
            return 1;
    }
    return 0;
}
