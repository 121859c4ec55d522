/* db.h - one synchronous Redis connection per FastCGI thread: connects
 * lazily (common/redis_conn.h: REDIS_ADDRESS or the primary Sentinel
 * names), reconnects by itself, runs store calls (EVALSHA, EVAL on
 * NOSCRIPT) and maps failures to chat_err (503 when Redis is away). With
 * CHAT_REDIS_WAIT=N a call that stored chat data is followed by WAIT N on
 * the same connection, and is 503 code 230 when fewer confirm it. */
#ifndef CHAT_DB_H
#define CHAT_DB_H

#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/store.h"

struct db {
    redisContext *ctx; /* NULL while disconnected */
    const struct config *cfg;
    int down_logged;
    long last_used_ms; /* CLOCK_MONOTONIC_COARSE of the last call */
    unsigned gen;      /* redis_conn_generation() when ctx was opened */
};

void db_init(struct db *d, const struct config *cfg);

void db_close(struct db *d); /* NULL-safe */

/* Runs c. On CHAT_OK *out is the reply (caller frees it with
 * freeReplyObject); a script's error reply is mapped into e and returned,
 * with *out NULL. */
enum chat_err db_call(struct db *d, struct store_call *c, redisReply **out,
                      struct chat_error *e);

/* Runs n calls in one round trip (pipelined). On CHAT_OK every replies[i]
 * is set (caller frees each); error replies are left for the caller to
 * inspect. A NOSCRIPT reply is retried alone with EVAL. */
enum chat_err db_pipeline(struct db *d, struct store_call *calls, int n,
                          redisReply **replies, struct chat_error *e);

/* Runs one command with a caller-built argv (e.g. a long MGET). */
enum chat_err db_command(struct db *d, int argc, const char **argv,
                         const size_t *argvlen, redisReply **out,
                         struct chat_error *e);

#endif
