/* poll_wait.h - the blocking wait of a /poll answered by chat.fcgi: one
 * SUBSCRIBE connection per waiting poll (rcg:wake and the session's chat
 * channel), read in short slices so that shutdown is noticed. */
#ifndef CHAT_FCGI_POLL_WAIT_H
#define CHAT_FCGI_POLL_WAIT_H

#include <hiredis/hiredis.h>

#include "common/config.h"

struct poll_wait {
    redisContext *ctx; /* NULL until poll_wait_follow connected */
    char channel[256]; /* chat channel subscribed besides rcg:wake */
};

enum poll_wait_rc {
    POLL_WAIT_WOKEN,   /* something may be due: read again */
    POLL_WAIT_TIMEOUT, /* the deadline passed */
    POLL_WAIT_STOP,    /* shutdown requested */
    POLL_WAIT_FAILED,  /* Redis is away */
};

void poll_wait_init(struct poll_wait *w);
void poll_wait_close(struct poll_wait *w); /* NULL-safe */

/* Subscribes rcg:wake and channel ("" = none), replacing the previous
 * channel, and returns once Redis confirmed: reads after this miss no
 * PUBLISH. Returns 0 or -1. */
int poll_wait_follow(struct poll_wait *w, const struct config *cfg,
                     const char *channel);

/* Blocks until a notification arrives, deadline_ms (CLOCK_MONOTONIC)
 * passes or stop() returns nonzero. */
enum poll_wait_rc poll_wait_next(struct poll_wait *w, long long deadline_ms,
                                 int (*stop)(void));

/* Milliseconds of CLOCK_MONOTONIC. */
long long poll_wait_now_ms(void);

#endif
