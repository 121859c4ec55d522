/* poll_wait.h - the blocking wait of a /poll answered by chat.fcgi: one
 * SUBSCRIBE connection per waiting poll (rcg:wake, the session's chat
 * channel and the keyspace channel of its list), read in short slices so
 * that shutdown is noticed.
 *
 * The Go server PUBLISHes a message before it RPUSHes it, so a read woken
 * by its PUBLISH may find nothing yet. With keyspace notifications on, the
 * RPUSH itself wakes the wait and the PUBLISH is ignored. Without them, a
 * PUBLISH that the next read does not answer starts a re-read schedule
 * (1, 2, 4 .. 2048 ms), and so does a new subscription (a PUBLISH may have
 * come just before it). */
#ifndef CHAT_FCGI_POLL_WAIT_H
#define CHAT_FCGI_POLL_WAIT_H

#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/store.h"
#include "common/uuid.h"

struct poll_wait {
    redisContext *ctx; /* NULL until poll_wait_follow connected */
    unsigned gen;      /* redis_conn_generation() when ctx was opened */
    int db;
    int keyspace;                /* notifications of list writes are on */
    char channel[256];           /* chat channel subscribed besides rcg:wake */
    char uid[UUID_SIZE];         /* the session's user: u.<uid> wakes */
    char ks_name[STORE_KEY_MAX]; /* its list's keyspace channel */
    long long recheck_at;        /* next scheduled re-read, 0 = none */
    int recheck_gap_ms;          /* gap after it */
    int recheck_last_ms;         /* the schedule ends after this gap */
};

enum poll_wait_rc {
    POLL_WAIT_WOKEN,   /* something may be due: read again */
    POLL_WAIT_TIMEOUT, /* the deadline passed */
    POLL_WAIT_STOP,    /* shutdown requested */
    POLL_WAIT_FAILED,  /* Redis is away */
};

/* keyspace: nonzero when Redis notifies list writes (poll.c checks). */
void poll_wait_init(struct poll_wait *w, int keyspace);
void poll_wait_close(struct poll_wait *w); /* NULL-safe */

/* Subscribes rcg:wake and channel ("" = none) with its keyspace channel,
 * replacing the previous channel, and returns once Redis confirmed: reads
 * after this miss no notification. Returns 0 or -1. */
int poll_wait_follow(struct poll_wait *w, const struct config *cfg,
                     const char *channel);

/* The session's user: an rcg:wake of scope u.<other user> (a notice for
 * someone else) does not wake this poll. */
void poll_wait_user(struct poll_wait *w, const char *uid);

/* Blocks until a notification arrives, a scheduled re-read is due,
 * deadline_ms (CLOCK_MONOTONIC) passes or stop() returns nonzero. */
enum poll_wait_rc poll_wait_next(struct poll_wait *w, long long deadline_ms,
                                 int (*stop)(void));

/* Milliseconds of CLOCK_MONOTONIC. */
long long poll_wait_now_ms(void);

#endif
