/* waiters.h - requests that wait for pushed objects: long polls (answered
 * once, longpoll.c) and SSE streams (written to until the client leaves,
 * eventsource.c). waiters.c owns waiter memory: it reads with the shared
 * catch-up code (S_POLL via feed.c, rendered by common/render) or answers
 * a known session from its channel's room (room.h, sessions.h), parks
 * waiters on their channel, wakes them on notifications, answers on
 * timeout, and cleans up at once when a client hangs up (answer.h). */
#ifndef CHAT_POLLER_WAITERS_H
#define CHAT_POLLER_WAITERS_H

#include <event2/event.h>
#include <event2/http.h>

#include "common/config.h"
#include "common/pollreq.h"
#include "poller/channels.h"
#include "poller/feed.h"

enum waiter_kind { WAITER_POLL, WAITER_STREAM };

/* Prepares the module; call once before any other function. */
int waiters_init(struct event_base *base, const struct config *cfg);

/* Takes over req (a validated /poll or /events request) and answers it
 * some time later. Answers 503 when too many wait already or Redis is
 * down. */
void waiters_start(struct evhttp_request *req, const struct pollreq *p,
                   enum waiter_kind kind);

/* feed.c hooks: objects may be due to the waiters of ch (NULL = all; new
 * chat messages are read once for all parked polls of ch); the command
 * connection is back (waiters whose read failed read again). */
void waiters_wake(struct chan *ch, enum feed_wake why);
void waiters_cmd_up(void);

/* feed.c hook: a notice of user uid (rcg:wake u.<uid>) at feed sequence
 * seq: that user's waiters read again, and its known sessions end; no
 * other waiter is touched. */
void waiters_wake_user(const char *uid, unsigned long long seq);

/* SIGTERM: answers every parked poll now (empty, current cursor), ends
 * every stream; reads in flight answer when their reply comes. */
void waiters_drain(void);

/* Waiters alive (parked, reading or streaming) and answers not yet
 * written out to their clients. */
long waiters_count(void);
long waiters_inflight(void);

/* Frees every waiter without answering (after the loop ended). */
void waiters_free_all(void);

#endif
