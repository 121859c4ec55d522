/* sessions.h - what the poller last read of each polling session: its key
 * checked, its user, the channel and join counter it follows, the sys
 * event and notice ids it was handed. A re-poll that brings exactly that
 * cursor back is answered (or parked) without the catch-up read while the
 * entry is valid:
 *  - at most SESSIONS_TTL seconds old, so the key, the session and the
 *    user's presence are re-read (and refreshed) at least that often;
 *  - no sys event of scope "*" or of a channel since the read was sent: a
 *    sign-out (scope "*") therefore cuts every key at once, and a join,
 *    which announces itself on the channel joined (not yet the one
 *    followed), is seen too. Sys events are rare beside messages;
 *  - no notice of its user since (scope u.<uid>, users.h): a private
 *    message ends only its recipient's entries, not every entry.
 * Bounded: at most SESSIONS_MAX entries; expired ones are swept. */
#ifndef CHAT_POLLER_SESSIONS_H
#define CHAT_POLLER_SESSIONS_H

#include <time.h>

#include <event2/event.h>

#include "common/pollreq.h"
#include "poller/users.h"

#define SESSIONS_TTL 10
#define SESSIONS_MAX 65536

/* Monotonic seconds: the clock of SESSIONS_TTL. */
time_t sessions_now(void);

struct session_entry;

int sessions_init(struct event_base *base);

/* What a catch-up read found of a session (strings borrowed). */
struct session_seen {
    struct poll_user *user; /* its user (the entry holds a reference) */
    const char *channel;    /* followed, "" = none */
    const char *jn;         /* join counter */
    const char *sys;        /* the sys id its answer carried */
    const char *nid;        /* the notice id its answer carried */
};

/* Records what a catch-up read of p's session sent at sequence sent
 * found; call only when no notice of its user can have slipped past the
 * read (users_fresh). */
void sessions_put(const struct pollreq *p, const struct session_seen *seen,
                  unsigned long long sent);

/* The channel p's session follows (into channel, "" = none) and its user
 * (*user, borrowed) when its entry is valid and p brings the cursor it was
 * handed: returns 1, else 0. */
int sessions_check(const struct pollreq *p, char *channel, size_t size,
                   struct poll_user **user);

/* Forgets p's session (its read failed), or every session (NULL). */
void sessions_drop(const char *session);

long sessions_count(void);

void sessions_free_all(void);

#endif
