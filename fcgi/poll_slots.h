/* poll_slots.h - how many chat.fcgi workers may hold a waiting /poll at
 * once, so that POST /api always finds a free worker on hosts without
 * chat-poller (mod_fcgid with a few processes, spawn-fcgi with a few
 * threads). A poll that finds no slot is answered at once, empty, with a
 * pollAfter hint: the client polls again that much later, its cursor
 * keeps delivery exact.
 *
 * CHAT_POLL_HOLD_SLOTS=0 (default): per process, CHAT_THREADS minus a
 * quarter (at least one thread) kept for /api. CHAT_POLL_HOLD_SLOTS=N:
 * at most N holders across every chat.fcgi process of this Redis
 * (rcg:holds, for mod_fcgid's one-request processes): set it to the
 * worker count minus those kept for /api. */
#ifndef CHAT_FCGI_POLL_SLOTS_H
#define CHAT_FCGI_POLL_SLOTS_H

#include "common/config.h"
#include "common/uuid.h"
#include "fcgi/db.h"

/* pollAfter of a poll without a slot: spread over 750..1500 ms, so the
 * clients turned away together (a burst after a message) come back apart;
 * mod_fcgid makes a request that finds no idle process wait a whole
 * second. */
#define POLL_SLOTS_RETRY_MIN_MS 750
#define POLL_SLOTS_RETRY_MAX_MS 1500

/* A pollAfter in the range above. */
int poll_slot_retry_ms(void);

struct poll_slot {
    int held; /* 0 none, 1 local, 2 shared (rcg:holds) */
    char token[UUID_SIZE];
};

/* Takes a slot for a hold of up to hold_s seconds. Returns 1 when taken,
 * 0 when none is free (or Redis failed: no hold then either). */
int poll_slot_take(struct db *db, const struct config *cfg, int hold_s,
                   struct poll_slot *s);

/* Gives a taken slot back (NULL-safe for s not taken). */
void poll_slot_give(struct db *db, const struct config *cfg,
                    struct poll_slot *s);

#endif
