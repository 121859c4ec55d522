/* sentinel.h - the poller's link to Redis Sentinel (REDIS_SENTINELS).
 *
 * One async connection on the loop to one sentinel at a time: it asks
 * SENTINEL get-master-addr-by-name (AUTH REDIS_SENTINEL_PASSWORD first),
 * hands the address on, then stays SUBSCRIBEd to +switch-master and hands
 * on each switch of our master. A sentinel that refuses, fails, does not
 * know the master or stays silent for REDIS_CONN_SENTINEL_TIMEOUT_MS is
 * left for the next one in the list; a lost link asks again on reconnect,
 * so a switch missed meanwhile is caught up. Nothing here blocks the loop.
 */
#ifndef CHAT_POLLER_SENTINEL_H
#define CHAT_POLLER_SENTINEL_H

#include <event2/event.h>

#include "common/config.h"
#include "common/redis_conn.h"

/* Called with the primary's address whenever a sentinel names it (also
 * the same one again, after a reconnect or sentinel_doubt()). */
typedef void (*sentinel_primary_fn)(const struct redis_addr *a);

/* Starts asking (cfg->n_sentinels > 0). 0, or -1 on no memory. */
int sentinel_start(struct event_base *base, const struct config *cfg,
                   sentinel_primary_fn fn);

/* The address named last is not the primary (ROLE said replica, a write
 * said READONLY): ask the next sentinel, at most once a second. */
void sentinel_doubt(void);

void sentinel_stop(void);

#endif
