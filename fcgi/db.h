/* db.h - one synchronous Redis connection per FastCGI thread: connects
 * lazily, reconnects by itself, runs store calls (EVALSHA, EVAL on
 * NOSCRIPT) and maps failures to chat_err (503 when Redis is away). */
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
};

void db_init(struct db *d, const struct config *cfg);
void db_close(struct db *d); /* NULL-safe */

/* Runs c. On CHAT_OK *out is the reply (caller frees it with
 * freeReplyObject); a script's error reply is mapped into e and returned,
 * with *out NULL. */
enum chat_err db_call(struct db *d, struct store_call *c, redisReply **out,
                      struct chat_error *e);

#endif
