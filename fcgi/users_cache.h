/* users_cache.h - the last rendered `users` page, shared by the worker
 * threads for a short time (CHAT_USERS_CACHE_MS). Clients refresh the
 * whole list often; rebuilding it reads and renders every record. The
 * page is reused only while the user count is unchanged, so a new user
 * shows at once; presence may lag by at most the cache time. */
#ifndef CHAT_USERS_CACHE_H
#define CHAT_USERS_CACHE_H

#include <stddef.h>

#include "common/jbuf.h"

/* ttl_ms 0 disables the cache. Not thread-safe: call before the workers
 * start. */
void users_cache_init(int ttl_ms);
void users_cache_free(void);
int users_cache_enabled(void);

/* Appends the cached page to out when it was built for the same offset,
 * limit and total within the TTL. Returns 1 on a hit, else 0. */
int users_cache_get(long offset, long limit, long total, struct jbuf *out);

/* Remembers a freshly built page (copied). */
void users_cache_put(long offset, long limit, long total, const char *json,
                     size_t len);

#endif
