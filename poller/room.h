/* room.h - what the poller keeps of each followed channel: the last
 * ROOM_MAX messages of channelMessages.<ch>, rendered once, with their
 * list positions. Only the shared read (S_CHANNEL_READ of what follows the
 * kept part) fills it, never PUBLISH payloads, so the durable list
 * positions stay the truth. A poll whose position is in the room is
 * answered from it without a Redis round trip, and a poll at its end may
 * park while the room is fresh (feed_messages_fresh since the read).
 *
 * A read in flight when more messages arrive is followed by one more
 * (coalesced), however many wakes came. A list that shrank, a rewrite
 * notification or a lost Redis connection empties the room. */
#ifndef CHAT_POLLER_ROOM_H
#define CHAT_POLLER_ROOM_H

#include <stddef.h>

#include "common/jbuf.h"
#include "common/pollreq.h"
#include "common/render.h"
#include "poller/channels.h"

#define ROOM_MAX      256 /* rendered messages kept per channel */
#define ROOM_READ_MAX 256 /* messages read at once */

/* After a read of ch: ok = 1 when the room holds what it read (answer the
 * parked polls from it), 0 when it failed or the room was emptied (they
 * read alone). */
typedef void (*room_ready_fn)(struct chan *ch, int ok);

void room_init(room_ready_fn ready);

/* New messages in ch: reads them once. from = where to start when the
 * room is empty (the lowest parked position); -1 = nobody waits there. */
void room_wake(struct chan *ch, long from);

/* After ready: reads on when more arrived during the read. */
void room_read_more(struct chan *ch);

/* A catch-up read sent at sequence sent found ch's list ending at llen,
 * with cursor check chk there: an empty room starts there. */
void room_seed(struct chan *ch, long llen, const char *chk,
               unsigned long long sent);

/* The long-poll answer of a poll at p's cursor (sys, jn, pos, nid) from
 * the room, into out. Returns the positions it covers (> 0), 0 when
 * nothing is new at pos, -1 when the room cannot answer (empty, pos
 * outside it, or a cursor check the room does not know or holds another
 * element for: the poll's own read checks it against the list). */
long room_answer(struct chan *ch, struct jbuf *out, const struct pollreq *p);

/* The stream's share of the room: the messages after p's cursor (at most
 * POLLREQ_BATCH) to fn (as render_poll_each calls it), each with the
 * cursor after it, and next = the cursor after the last. Returns as
 * room_answer (-1 also when fn failed). */
long room_each(struct chan *ch, const struct pollreq *p, poll_item_fn fn,
               void *ctx, struct cursor *next);

/* 1 when a poll at cursor c may park: its position is the room's end with
 * the room's check there, and either nothing arrived since its read or a
 * read is on its way. */
int room_can_park(const struct chan *ch, const struct cursor *c);

/* Empties the room of ch (positions may have moved). NULL = every room. */
void room_forget(struct chan *ch);

/* Frees a room (NULL-safe). */
void room_free(struct room *r);

#endif
