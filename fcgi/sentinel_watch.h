/* sentinel_watch.h - chat.fcgi's +switch-master subscription (FastCGI
 * mode with REDIS_SENTINELS): one thread stays SUBSCRIBEd on a sentinel
 * (the next one when it fails) and hands each switch of our master to
 * redis_conn_switched(), so that every worker drops its connection to the
 * old primary on its next call (redis_conn_generation) instead of writing
 * to it until Sentinel demotes it, which would lose those writes. After
 * each (re)subscription it asks for the primary, so a switch missed while
 * no sentinel was reachable is caught up. */
#ifndef CHAT_SENTINEL_WATCH_H
#define CHAT_SENTINEL_WATCH_H

#include "common/config.h"

/* Starts the thread (cfg lives until sentinel_watch_stop). 0 or -1. */
int sentinel_watch_start(const struct config *cfg);

/* Stops it and waits (at most a fraction of a second). */
void sentinel_watch_stop(void);

#endif
