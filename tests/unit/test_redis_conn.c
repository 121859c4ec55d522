/* test_redis_conn.c - unit checks of common/redis_conn.c's reply parsers
 * and of the Sentinel settings of common/config.c (no server). Prints one
 * line per failed check and "N checks, M failed"; exit 1 on any failure.
 * Run from tests/unit.bats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/redis_conn.h"

#include "tests/unit/check.h"

/* A reply as hiredis builds it: strings and arrays of strings. */
static redisReply str_reply(const char *s, int type)
{
    redisReply r = {.type = type, .str = (char *)(uintptr_t)s};
    r.len = s ? strlen(s) : 0;
    return r;
}

static void parse_master_addr(void)
{
    redisReply host = str_reply("10.0.0.5", REDIS_REPLY_STRING),
               port = str_reply("6380", REDIS_REPLY_STRING),
               bad = str_reply("63x", REDIS_REPLY_STRING),
               nil = {.type = REDIS_REPLY_NIL};
    redisReply *els[] = {&host, &port}, *badels[] = {&host, &bad};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = els},
               badarr = {.type = REDIS_REPLY_ARRAY,
                         .elements = 2,
                         .element = badels},
               one = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = els};
    struct redis_addr a;

    CHECK(redis_conn_parse_master_addr(&arr, &a) == 0 &&
          strcmp(a.host, "10.0.0.5") == 0 && a.port == 6380);
    CHECK(redis_conn_parse_master_addr(&badarr, &a) == -1);
    CHECK(redis_conn_parse_master_addr(&one, &a) == -1);
    CHECK(redis_conn_parse_master_addr(&nil, &a) == -1);
    CHECK(redis_conn_parse_master_addr(NULL, &a) == -1);
}

static void role(void)
{
    redisReply m = str_reply("master", REDIS_REPLY_STRING),
               s = str_reply("slave", REDIS_REPLY_STRING);
    redisReply *me[] = {&m}, *se[] = {&s};
    redisReply master = {.type = REDIS_REPLY_ARRAY,
                         .elements = 1,
                         .element = me},
               slave = {.type = REDIS_REPLY_ARRAY,
                        .elements = 1,
                        .element = se},
               err = str_reply("ERR unknown command", REDIS_REPLY_ERROR);

    CHECK(redis_conn_role_is_master(&master));
    CHECK(!redis_conn_role_is_master(&slave));
    CHECK(!redis_conn_role_is_master(&err));
    CHECK(!redis_conn_role_is_master(NULL));
}

static void switch_payload(void)
{
    struct redis_addr a;

    CHECK(redis_conn_parse_switch("chat 127.0.0.1 6379 127.0.0.2 6380", "chat",
                                  &a) == 0 &&
          strcmp(a.host, "127.0.0.2") == 0 && a.port == 6380);
    CHECK(redis_conn_parse_switch("other 127.0.0.1 6379 127.0.0.2 6380", "chat",
                                  &a) == -1);
    CHECK(redis_conn_parse_switch("chat 127.0.0.1 6379 127.0.0.2", "chat",
                                  &a) == -1);
    CHECK(redis_conn_parse_switch("chat 1 2 3 4 5", "chat", &a) == -1);
    CHECK(redis_conn_parse_switch("chat a 1 b 0", "chat", &a) == -1);
}

static void moved(void)
{
    redisReply ro = str_reply("READONLY You can't write against a read only "
                              "replica.",
                              REDIS_REPLY_ERROR),
               ero =
                   str_reply("ERR READONLY You can't write", REDIS_REPLY_ERROR),
               nr = str_reply("NOREPLICAS Not enough good replicas to write.",
                              REDIS_REPLY_ERROR),
               md = str_reply("MASTERDOWN Link with MASTER is down",
                              REDIS_REPLY_ERROR),
               other = str_reply("CHAT404:session", REDIS_REPLY_ERROR),
               status = str_reply("READONLY ", REDIS_REPLY_STATUS);

    CHECK(redis_conn_moved_error(&ro));
    CHECK(redis_conn_moved_error(&ero));
    CHECK(redis_conn_moved_error(&nr));
    CHECK(redis_conn_moved_error(&md));
    CHECK(!redis_conn_moved_error(&other));
    CHECK(!redis_conn_moved_error(&status));
    CHECK(!redis_conn_moved_error(NULL));
}

static int load_with(const char *sentinels, struct config *cfg)
{
    char err[256];

    if (sentinels)
        setenv("REDIS_SENTINELS", sentinels, 1);
    else
        unsetenv("REDIS_SENTINELS");
    return config_load(cfg, err, sizeof err);
}

static void settings(void)
{
    struct config cfg;

    CHECK(load_with(NULL, &cfg) == 0 && cfg.n_sentinels == 0 &&
          cfg.redis_wait == 0 && cfg.redis_wait_ms == 1000 &&
          strcmp(cfg.redis_label, cfg.redis_address) == 0);
    CHECK(load_with("127.0.0.1:26379, h2:26380 ,[::1]:26381", &cfg) == 0 &&
          cfg.n_sentinels == 3 && strcmp(cfg.sentinel[1].host, "h2") == 0 &&
          cfg.sentinel[1].port == 26380 &&
          strcmp(cfg.sentinel[2].host, "::1") == 0 &&
          strcmp(cfg.sentinel_master, "mymaster") == 0 &&
          strstr(cfg.redis_label, "mymaster") != NULL);
    CHECK(load_with("127.0.0.1", &cfg) == -1);
    CHECK(load_with("h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9", &cfg) == -1);
    CHECK(load_with(",", &cfg) == -1);
    setenv("CHAT_REDIS_WAIT_MS", "0", 1);
    CHECK(load_with(NULL, &cfg) == -1);
    unsetenv("CHAT_REDIS_WAIT_MS");
    unsetenv("REDIS_SENTINELS");
}

int main(void)
{
    parse_master_addr();
    role();
    switch_payload();
    moved();
    settings();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
