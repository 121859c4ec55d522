/* sessions.h - what the poller last read of each polling session: its key
 * checked, the channel and join counter it follows, the sys event id it
 * was handed. A re-poll that brings exactly that cursor back is answered
 * (or parked) without the catch-up read while the entry is valid:
 *  - at most SESSIONS_TTL seconds old, so the key, the session and the
 *    user's presence are re-read (and refreshed) at least that often;
 *  - no sys event of any scope since the read was sent: a sign-out
 *    (scope "*") therefore cuts every key at once, and a join, which
 *    announces itself on the channel joined (not yet the one followed),
 *    is seen too. Sys events are rare beside messages.
 * Bounded: at most SESSIONS_MAX entries; expired ones are swept. */
#ifndef CHAT_POLLER_SESSIONS_H
#define CHAT_POLLER_SESSIONS_H

#include <event2/event.h>

#include "common/pollreq.h"

#define SESSIONS_TTL 10
#define SESSIONS_MAX 65536

struct session_entry;

int sessions_init(struct event_base *base);

/* Records what a catch-up read sent at sequence sent found for p's
 * session: it follows channel ("" = none) at join counter jn, and its
 * answer carried sys id sys. */
void sessions_put(const struct pollreq *p, const char *channel, const char *jn,
                  const char *sys, unsigned long long sent);

/* The channel p's session follows (into channel, "" = none) when its
 * entry is valid and p brings the cursor it was handed: returns 1, else 0. */
int sessions_check(const struct pollreq *p, char *channel, size_t size);

/* Forgets p's session (its read failed), or every session (NULL). */
void sessions_drop(const char *session);

long sessions_count(void);

void sessions_free_all(void);

#endif
