/* conns.h - every client connection of the poller, counted and timed: a
 * cap on open connections, idle ones included (CHAT_POLLER_MAX_CONNS), and
 * a total deadline for a complete first request head
 * (CHAT_POLLER_HEAD_TIMEOUT). evhttp's own timeout is an idle timeout: one
 * byte every few seconds kept a connection for ever.
 *
 * libevent 2.1 says nothing when evhttp accepts or closes a connection;
 * it only asks evhttp_set_bevcb's callback for each new connection's
 * bufferevent. That callback creates it and keeps a reference, so the
 * bufferevent outlives evhttp's bufferevent_free, which closes the socket
 * at once (BEV_OPT_CLOSE_ON_FREE): a closed connection reads fd -1. A 1 s
 * sweep drops those and ends the ones past their head deadline. */
#ifndef CHAT_POLLER_CONNS_H
#define CHAT_POLLER_CONNS_H

#include <event2/event.h>
#include <event2/http.h>

#include "common/config.h"

/* Hooks into http (its bufferevent callback) and starts the sweep.
 * Returns 0, or -1 on no memory. */
int conns_init(struct event_base *base, struct evhttp *http,
               const struct config *cfg);

/* The request head of req's connection is complete: no deadline for it
 * any more (call first thing in the request callback). */
void conns_head_done(struct evhttp_request *req);

/* Frees every record (after the loop ended). */
void conns_free_all(void);

#endif
