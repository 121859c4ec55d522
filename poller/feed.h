/* feed.h - the poller's two Redis connections (hiredis async on the
 * libevent loop): a command connection that runs store calls, and a
 * SUBSCRIBE connection for rcg:wake plus the chat channels that parked
 * waiters follow (refcounted, unsubscribed lazily after 30 s idle). Both
 * reconnect with backoff and re-subscribe by themselves.
 *
 * Missing no PUBLISH: every event of the SUBSCRIBE connection (ack or
 * notification) increments a sequence number. A read sent at sequence s
 * may park only when rcg:wake and its channel were subscribed before s and
 * nothing woke them since (feed_read_is_fresh); otherwise it reads again.
 * After a SUBSCRIBE ack (also after a reconnect) every waiter of that
 * channel is woken to read again, so nothing slips between read and park. */
#ifndef CHAT_POLLER_FEED_H
#define CHAT_POLLER_FEED_H

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/store.h"
#include "poller/channels.h"

/* Why waiters are woken. */
enum feed_wake {
    FEED_WAKE_MESSAGE,    /* PUBLISH on the chat channel: a new message */
    FEED_WAKE_EVENT,      /* rcg:wake: a sys event of that scope */
    FEED_WAKE_SUBSCRIBED, /* (re)subscribed: anything may have been missed */
    FEED_WAKE_REWRITE,    /* the chat list changed other than by an append */
};

struct feed_hooks {
    /* New objects may be due to waiters of ch; ch NULL = to every waiter
     * (sys scope "*", or rcg:wake re-subscribed). */
    void (*wake)(struct chan *ch, enum feed_wake why);
    /* The command connection is (again) usable. */
    void (*cmd_up)(void);
    /* A notice of user uid (rcg:wake u.<uid>) at feed sequence seq. */
    void (*wake_user)(const char *uid, unsigned long long seq);
};

/* Called with the reply (borrowed until return), or NULL when the command
 * connection failed before a reply came. */
typedef void (*feed_reply_fn)(const redisReply *r, void *priv);

/* Starts connecting both connections. Returns 0, or -1 on no memory. */
int feed_start(struct event_base *base, const struct config *cfg,
               const struct feed_hooks *hooks);

/* Closes both connections; pending callbacks run with NULL. */
void feed_stop(void);

/* 1 when the command connection is usable, and both are for *_up. */
int feed_cmd_ready(void);
int feed_up(void);

/* Sends c (copied; its borrowed strings must live until fn runs) and runs
 * fn with the reply, resending as EVAL on NOSCRIPT. Returns 0, or -1 when
 * the command connection is down (fn is not called). */
int feed_call(const struct store_call *c, feed_reply_fn fn, void *priv);

/* The current sequence number of the SUBSCRIBE connection. */
unsigned long long feed_seq(void);

/* 1 when a read sent at sequence sent cannot have missed a wake of the
 * sys scopes or of ch (NULL = the session follows no channel). */
int feed_read_is_fresh(const struct chan *ch, unsigned long long sent);

/* The two halves of it: no sys event of scope "*" or ch (NULL = none)
 * since sent; no new message of ch since sent. */
int feed_events_fresh(const struct chan *ch, unsigned long long sent);
int feed_messages_fresh(const struct chan *ch, unsigned long long sent);

/* 1 when no sys event of scope "*" or of any channel came since sent (a
 * join announces itself on the channel joined, which the session did not
 * follow yet). The notices of one user (scope u.<uid>) are not counted
 * here: they reach wake_user and end only that user's entries. */
int feed_no_event_since(unsigned long long sent);

/* A waiter starts / stops following ch (subscribes on the first). */
void feed_follow(struct chan *ch);
void feed_unfollow(struct chan *ch);

#endif
