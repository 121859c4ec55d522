/* probe.h - finding a message the Go server PUBLISHed before it RPUSHed
 * it (used while Redis sends no keyspace notifications).
 *
 * The PUBLISH payload is the exact list element, so after a PUBLISH the
 * poller asks LPOS whether the element is stored. Stored at once (this
 * project's own writes: RPUSH then PUBLISH in one script): nothing more.
 * Not yet: it asks again 1, 2, 4 .. 2048 ms later and wakes the channel
 * when the element is there. Every probe goes on the command connection
 * before the wake's reads, so a read sent after a positive probe sees the
 * element. A new channel subscription gets a short schedule of blind
 * wakes (16 .. 256 ms): a PUBLISH may have come just before it. */
#ifndef CHAT_POLLER_PROBE_H
#define CHAT_POLLER_PROBE_H

#include <stddef.h>

#include <event2/event.h>

/* wake is called with the channel name when its readers must read again. */
int probe_init(struct event_base *base, void (*wake)(const char *channel));

/* Asks now whether payload is stored in channel's list. payload NULL:
 * blind wakes only (after a new subscription). Copies both. */
void probe_start(const char *channel, const char *payload, size_t len);

/* The list of channel was written (keyspace notification): its probes
 * are answered. */
void probe_cancel(const char *channel);

/* Probes pending now. */
size_t probe_count(void);

/* Frees every probe (shutdown). */
void probe_free_all(void);

#endif
