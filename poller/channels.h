/* channels.h - the poller's table of chat channels it has waiters on: one
 * entry per channel id holds the parked waiters of that channel (owned by
 * waiters.c), the Redis subscription state (driven by feed.c) and the
 * wake sequence numbers that let a fresh read decide whether it can park
 * without missing a PUBLISH (see feed.h). */
#ifndef CHAT_POLLER_CHANNELS_H
#define CHAT_POLLER_CHANNELS_H

#include <stddef.h>
#include <time.h>

struct room;
struct waiter;

enum chan_sub {
    CHAN_UNSUB = 0,     /* not subscribed on the current connection */
    CHAN_SUB_PENDING,   /* SUBSCRIBE sent, no ack yet */
    CHAN_SUBSCRIBED,    /* ack seen: every later PUBLISH reaches us */
    CHAN_UNSUB_PENDING, /* UNSUBSCRIBE sent, no ack yet */
};

struct chan {
    struct chan *next_hash;
    struct waiter *head; /* parked waiters (waiters.c links them) */
    size_t refs;         /* waiters that follow this channel */
    enum chan_sub sub;
    int want_sub; /* resubscribe once the UNSUBSCRIBE is acked */
    unsigned long long confirmed_seq; /* feed seq of the SUBSCRIBE ack */
    unsigned long long wake_seq;      /* feed seq of the last message wake */
    unsigned long long event_seq;     /* feed seq of the last sys event */
    struct room *room; /* its rendered messages (room.c), NULL = none yet */
    time_t idle_since; /* refs dropped to 0 at */
    char name[];
};

/* Finds the entry of name, or NULL. */
struct chan *chan_find(const char *name);

/* Finds or creates the entry of name. Returns NULL on no memory or a name
 * longer than 200 bytes. The entry is owned by this module. */
struct chan *chan_get(const char *name);

/* Frees ch (and its room) when nothing refers to it (no refs, no
 * waiters, unsubscribed). */
void chan_maybe_free(struct chan *ch);

/* Calls fn for every entry; fn may free the entry it is given. */
void chan_each(void (*fn)(struct chan *ch, void *ctx), void *ctx);

/* Number of entries. */
size_t chan_count(void);

/* Frees every entry (shutdown). */
void chan_free_all(void);

#endif
