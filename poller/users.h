/* users.h - the users the poller knows: the user of a waiter, or of a
 * known session (sessions.h). Per user, its waiters (linked by waiters.c)
 * and the feed sequence of the last wake of its scope u.<uid> (a private
 * message's notice, rcg:notice.<uid>). A notice wakes only that user's
 * waiters and ends only that user's known sessions: one lookup per
 * private message, never a pass over every waiter.
 *
 * Missing no notice: a read sent at sequence s may park only when no wake
 * of its user came since s (users_fresh). A wake for a user nobody here
 * holds yet is remembered as "some unknown user", which a read whose user
 * was not known when it was sent must also not have missed.
 *
 * Refcounted: each waiter linked to a user and each known session entry
 * holds one reference; the entry is freed with the last. */
#ifndef CHAT_POLLER_USERS_H
#define CHAT_POLLER_USERS_H

#include <stddef.h>

#include "common/uuid.h"

struct waiter;

struct poll_user {
    struct poll_user *next_hash;
    struct waiter *head; /* waiters of the user (waiters.c links them) */
    size_t refs;
    unsigned long long event_seq; /* feed seq of its last u.<uid> wake */
    char uid[UUID_SIZE];
};

/* The entry of uid with one more reference (created when new), or NULL
 * on no memory or a uid that is empty or longer than a UUID. */
struct poll_user *users_hold(const char *uid);

/* One more reference to u. */
void users_ref(struct poll_user *u);

/* Drops a reference (NULL-safe); the entry goes with its last. */
void users_release(struct poll_user *u);

/* A wake of scope u.<uid> at feed sequence seq. Returns the user's entry
 * (its event_seq set), or NULL when nobody here holds that user. */
struct poll_user *users_event(const char *uid, unsigned long long seq);

/* 1 when a read sent at sequence sent cannot have missed a notice of u
 * (NULL = its user is not known yet): no wake of u since sent, and, when
 * the user was not held while the read was in flight (held_since_sent
 * 0), no wake of an unknown user either. */
int users_fresh(const struct poll_user *u, unsigned long long sent,
                int held_since_sent);

size_t users_count(void);

#endif
