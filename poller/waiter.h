/* waiter.h - private to the waiter rooms: waiters.c (lifetime, lists,
 * reads, wakes), longpoll.c (long-poll answers) and eventsource.c (SSE).
 * Like nchan's subscribers/ with their private header.
 *
 * Ownership: waiters.c allocates and frees every waiter. A waiter has one
 * owner at a time: parked in one list (its channel's or the no-channel
 * list), or held by one read in flight (reading), or being answered. An
 * answer ends the waiter with waiter_end(); a waiter whose client left
 * during a read is only marked gone and freed when the reply comes. */
#ifndef CHAT_POLLER_WAITER_H
#define CHAT_POLLER_WAITER_H

#include <time.h>

#include <event2/event_struct.h>
#include <event2/http.h>

#include "common/pollreq.h"
#include "common/render.h"
#include "poller/answer.h"
#include "poller/channels.h"
#include "poller/users.h"
#include "poller/waiters.h"

struct waiter {
    struct waiter *prev, *next;   /* in chan->head or the no-channel list */
    struct chan *chan;            /* followed channel, NULL = none */
    struct waiter *uprev, *unext; /* in user->head */
    struct poll_user *user;       /* its session's user, NULL = not known */
    struct evhttp_request *req;   /* NULL once answered or gone */
    struct client *client;        /* its connection's hang-up watch */
    struct event timer;           /* poll deadline / stream heartbeat */
    enum waiter_kind kind;
    unsigned linked : 1;
    unsigned reading : 1;   /* a read is in flight: the read owns it */
    unsigned gone : 1;      /* client left during a read: free at reply */
    unsigned expired : 1;   /* the poll's time is up */
    unsigned stale : 1;     /* last read failed: read on cmd_up */
    unsigned draining : 1;  /* answer at the next reply */
    unsigned started : 1;   /* stream: 200 and headers sent */
    unsigned answered : 1;  /* invariant: a request is answered once */
    unsigned user_held : 1; /* user was held when the read was sent */
    unsigned long long sent_seq;
    time_t read_at;   /* sessions_now() when its last S_POLL was sent */
    struct pollreq p; /* key, session, current position */
};

/* waiters.c */

/* Frees w after its answer (or without one when its request is gone). */
void waiter_end(struct waiter *w);

/* Its request for answering: marks it answered (asserts it was not) and
 * detaches the request and the client watch from w. */
struct evhttp_request *waiter_take_request(struct waiter *w,
                                           struct client **client);

/* 1 while the poller drains (SIGTERM) or w was told to. */
int waiter_draining(const struct waiter *w);

/* The waiter's cursor now (CURSOR_MAX bytes). */
void waiter_cursor(const struct waiter *w, char *out);

/* longpoll.c: each ends the waiter (waiter_end). */
void longpoll_answer_read(struct waiter *w, const struct store_poll_result *res,
                          long items);
void longpoll_answer_body(struct waiter *w, const char *body, size_t len,
                          long items);
void longpoll_answer_empty(struct waiter *w);
void longpoll_answer_error(struct waiter *w, const struct chat_error *e);

/* eventsource.c */
void sse_begin(struct waiter *w);
/* Writes the batch as events; -1 when the stream must end. */
int sse_write(struct waiter *w, const struct store_poll_result *res);
/* The stream's next messages from the room of ch (room_each), its cursor
 * moved past them: > 0 written, 0 nothing new, -1 the room cannot answer
 * (read instead), -2 the client does not read (end the stream). */
long sse_write_room(struct waiter *w, struct chan *ch);
void sse_heartbeat(struct waiter *w);
/* Ends the stream (or answers e when it never started); ends w. */
void sse_end(struct waiter *w, const struct chat_error *e);

#endif
