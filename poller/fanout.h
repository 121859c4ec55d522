/* fanout.h - one read of a channel's new messages (S_CHANNEL_READ) that
 * answers every parked long poll of that channel: the messages are
 * rendered once and each answer only adds its own cursor (ARCHITECTURE
 * "read what is new once per channel"). */
#ifndef CHAT_POLLER_FANOUT_H
#define CHAT_POLLER_FANOUT_H

#include <stddef.h>

#include "common/jbuf.h"

/* The rendered messages channelMessages.<ch>[from .. from+n). */
struct fanout_batch {
    long from;
    long llen; /* the list length when read */
    size_t n;
    char **items; /* push object JSON, NULL when undecodable */
    size_t *lens;
    struct jbuf joined; /* cache: items [joined_off, joined_end) */
    long joined_off, joined_end;
};

/* Called with the batch (borrowed until return), or NULL when the read
 * failed. */
typedef void (*fanout_done_fn)(struct fanout_batch *b, void *priv);

/* Reads count messages of channel from position from. Returns 0, or -1
 * when it could not be sent (fn is not called). channel is copied. */
int fanout_read(const char *channel, long from, long count, fanout_done_fn fn,
                void *priv);

/* Writes the long-poll answer {"cursor":..,"messages":[..]} of a session
 * at (sys, jn, pos) into out. Returns the number of messages consumed
 * (0 = nothing new for it), or -1 when the batch cannot answer it (its
 * position is outside the batch, or the list shrank: it reads alone). */
long fanout_answer(struct fanout_batch *b, struct jbuf *out,
                   const char *session, const char *sys, const char *jn,
                   long pos);

#endif
