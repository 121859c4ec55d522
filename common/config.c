/* config.c - the settings table: {variable, default, parser, offset}. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "common/config.h"

enum kind { K_INT, K_LONG, K_STR, K_LEVEL };

struct setting {
    const char *name;
    const char *def;
    enum kind kind;
    size_t offset;
    size_t size; /* K_STR: buffer size */
    long min, max;
};

#define STR(field)                                                             \
    .kind = K_STR, .offset = offsetof(struct config, field),                   \
    .size = sizeof(((struct config *)0)->field) /* NOLINT */
#define INT(field, lo, hi)                                                     \
    .kind = K_INT, .offset = offsetof(struct config, field), .min = (lo),      \
    .max = (hi)

static const struct setting settings[] = {
    {.name = "REDIS_ADDRESS", .def = "127.0.0.1:6379", STR(redis_address)},
    {.name = "REDIS_PASSWORD", .def = "", STR(redis_password)},
    {.name = "REDIS_USERNAME", .def = "", STR(redis_username)},
    {.name = "REDIS_DB", .def = "0", INT(redis_db, 0, 1000000)},
    {.name = "CHAT_KEYSPACE_SETUP", .def = "1", INT(keyspace_setup, 0, 1)},
    {.name = "CHAT_REDIS_TIMEOUT_MS",
     .def = "2000",
     INT(redis_timeout_ms, 10, 60000)},
    {.name = "REDIS_SENTINELS", .def = "", STR(sentinels)},
    {.name = "REDIS_SENTINEL_MASTER", .def = "mymaster", STR(sentinel_master)},
    {.name = "REDIS_SENTINEL_PASSWORD", .def = "", STR(sentinel_password)},
    {.name = "CHAT_REDIS_WAIT", .def = "0", INT(redis_wait, 0, 64)},
    {.name = "CHAT_REDIS_WAIT_MS", .def = "1000", INT(redis_wait_ms, 1, 60000)},
    {.name = "CHAT_THREADS", .def = "8", INT(threads, 1, 1024)},
    {.name = "CHAT_PWHASH_OPSLIMIT", .def = "2", INT(pwhash_ops, 1, 100)},
    {.name = "CHAT_PWHASH_MEMLIMIT",
     .def = "67108864",
     .kind = K_LONG,
     .offset = offsetof(struct config, pwhash_mem),
     .min = 8192,
     .max = 1073741824L},
    {.name = "CHAT_PWHASH_CONCURRENCY",
     .def = "2",
     INT(pwhash_concurrency, 1, 64)},
    {.name = "CHAT_MSG_RATE", .def = "100", INT(msg_rate, 0, 1000000000)},
    {.name = "CHAT_SIGNIN_FAILS", .def = "10", INT(signin_fails, 0, 1000000)},
    {.name = "CHAT_KEY_TTL", .def = "86400", INT(key_ttl, 1, 100000000)},
    {.name = "CHAT_SESSION_TTL", .def = "3600", INT(session_ttl, 1, 100000000)},
    {.name = "CHAT_EVENTS_MAXLEN",
     .def = "10000",
     INT(events_maxlen, 10, 100000000)},
    {.name = "CHAT_LOG_LEVEL",
     .def = "info",
     .kind = K_LEVEL,
     .offset = offsetof(struct config, log_level)},
    {.name = "CHAT_POLLER_SOCKET", .def = "", STR(poller_socket)},
    {.name = "CHAT_POLLER_ADDRESS",
     .def = "127.0.0.1:8091",
     STR(poller_address)},
    {.name = "CHAT_POLL_MAX_WAITERS",
     .def = "19000",
     INT(poll_max_waiters, 1, 1000000)},
    {.name = "CHAT_POLL_HOLD_SLOTS",
     .def = "0",
     INT(poll_hold_slots, 0, 1000000)},
    {.name = "CHAT_CORS_ORIGINS", .def = "", STR(cors_origins)},
    {.name = "CHAT_POLL_MAX_HOLD", .def = "55", INT(poll_max_hold, 1, 55)},
    {.name = "CHAT_FCGI_POLL", .def = "1", INT(fcgi_poll, 0, 1)},
    {.name = "CHAT_USERS_CACHE_MS",
     .def = "1000",
     INT(users_cache_ms, 0, 60000)},
    {.name = "CHAT_SSE_HEARTBEAT", .def = "15", INT(sse_heartbeat, 1, 300)},
    {.name = "CHAT_POLLER_IDLE", .def = "15", INT(poller_idle, 1, 3600)},
    {.name = "CHAT_POLLER_MAX_CONNS",
     .def = "20000",
     INT(poller_max_conns, 16, 10000000)},
    {.name = "CHAT_POLLER_HEAD_TIMEOUT",
     .def = "10",
     INT(poller_head_timeout, 1, 3600)},
};

static int parse_long(const char *s, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_level(const char *s, int *out)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int apply(struct config *cfg, const struct setting *st, const char *v)
{
    char *field = (char *)cfg + st->offset;
    long n;

    switch (st->kind) {
    case K_STR:
        if (strlen(v) >= st->size)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_LEVEL:
        return parse_level(v, (int *)(void *)field);
    case K_INT:
    case K_LONG:
        if (parse_long(v, &n) || n < st->min || n > st->max)
            return -1;
        if (st->kind == K_INT)
            *(int *)(void *)field = (int)n;
        else
            *(long *)(void *)field = n;
        return 0;
    }
    return -1;
}

int config_split_address(const char *addr, char *host, unsigned hostlen,
                         int *port)
{
    const char *colon = strrchr(addr, ':'), *start = addr, *end = colon;
    long p;

    /* [v6 literal]:port */
    if (addr[0] == '[') {
        start = addr + 1;
        end = strchr(start, ']');
        if (!end || end[1] != ':')
            return -1;
        colon = end + 1;
    } else if (colon && memchr(addr, ':', (size_t)(colon - addr))) {
        return -1; /* a bare v6 literal: ambiguous without brackets */
    }
    if (!colon || end == start || (size_t)(end - start) >= hostlen)
        return -1;
    if (parse_long(colon + 1, &p) || p < 1 || p > 65535)
        return -1;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    *port = (int)p;
    return 0;
}

/* REDIS_SENTINELS: comma-separated host:port, spaces around each allowed.
 * Returns -1 on a malformed entry or more than CONFIG_SENTINELS_MAX. */
static int parse_sentinels(struct config *cfg)
{
    char list[sizeof cfg->sentinels], *save = NULL;

    memcpy(list, cfg->sentinels, sizeof list);
    cfg->n_sentinels = 0;
    for (char *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        struct config_addr *a;
        size_t n;
        while (*t == ' ')
            t++;
        n = strlen(t);
        while (n && t[n - 1] == ' ')
            t[--n] = '\0';
        if (!n)
            continue;
        if (cfg->n_sentinels == CONFIG_SENTINELS_MAX)
            return -1;
        a = &cfg->sentinel[cfg->n_sentinels];
        if (config_split_address(t, a->host, sizeof a->host, &a->port))
            return -1;
        cfg->n_sentinels++;
    }
    return cfg->sentinels[0] && !cfg->n_sentinels ? -1 : 0;
}

static int load_redis_target(struct config *cfg, char *err, unsigned errlen)
{
    if (parse_sentinels(cfg)) {
        snprintf(err, errlen,
                 "invalid REDIS_SENTINELS, want host:port[,host:port...] "
                 "(at most %d)",
                 CONFIG_SENTINELS_MAX);
        return -1;
    }
    if (cfg->n_sentinels && !cfg->sentinel_master[0]) {
        snprintf(err, errlen, "REDIS_SENTINEL_MASTER is empty");
        return -1;
    }
    if (cfg->n_sentinels)
        snprintf(cfg->redis_label, sizeof cfg->redis_label, "%s (sentinels %s)",
                 cfg->sentinel_master, cfg->sentinels);
    else
        snprintf(cfg->redis_label, sizeof cfg->redis_label, "%s",
                 cfg->redis_address);
    return 0;
}

int config_load(struct config *cfg, char *err, unsigned errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const struct setting *st = &settings[i];
        const char *v = getenv(st->name);
        if (!v || !*v)
            v = st->def;
        if (apply(cfg, st, v) != 0) {
            snprintf(err, errlen, "invalid value for %s: \"%.64s\"", st->name,
                     v);
            return -1;
        }
    }
    /* A path is a unix socket (cheaper than loopback TCP per round trip). */
    if (cfg->redis_address[0] == '/' &&
        strlen(cfg->redis_address) < sizeof cfg->redis_host) {
        memcpy(cfg->redis_host, cfg->redis_address,
               strlen(cfg->redis_address) + 1);
        cfg->redis_port = 0;
        return load_redis_target(cfg, err, errlen);
    }
    if (config_split_address(cfg->redis_address, cfg->redis_host,
                             sizeof cfg->redis_host, &cfg->redis_port)) {
        snprintf(err, errlen,
                 "invalid REDIS_ADDRESS, want host:port or /socket/path");
        return -1;
    }
    return load_redis_target(cfg, err, errlen);
}
