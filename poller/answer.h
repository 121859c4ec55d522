/* answer.h - the poller's one HTTP answer writer: JSON answers and errors,
 * CORS preflights, the SSE stream's start/chunks/end, and a long poll's
 * 200 written straight to the client socket.
 *
 * It also watches a waiting client's connection (struct client): a parked
 * poll does not read, so evhttp would see a hang-up only at the next write;
 * an own EV_READ event and recv(MSG_PEEK) see it at once (PLATFORM E3).
 * After a direct 200 the connection goes to the graveyard, which closes it
 * a loop turn later: the close and its epoll removal cost about three
 * times the write, so a fan-out writes every answer first and closes
 * after. The graveyard holds connections only, never waiters. */
#ifndef CHAT_POLLER_ANSWER_H
#define CHAT_POLLER_ANSWER_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

#include "common/config.h"
#include "common/errors.h"

/* A waiting client's connection and its hang-up watch. */
struct client;

/* Called once when the client hangs up. The connection and its request
 * are freed right after the call returns: drop every pointer to them. */
typedef void (*client_gone_fn)(void *arg);

/* Prepares the module; call once before any other function. */
int answer_init(struct event_base *base, const struct config *cfg);

/* Watches req's connection; NULL on no memory. */
struct client *client_watch(struct evhttp_request *req, client_gone_fn gone,
                            void *arg);

/* Stops watching; the connection stays with evhttp. NULL-safe. */
void client_release(struct client *c);

/* Stops watching and frees the connection with its request (shutdown). */
void client_close(struct client *c);

/* The watched connection's bufferevent, or NULL. */
struct bufferevent *client_bufferevent(const struct client *c);

/* A JSON answer (status, body, Retry-After when retry_after > 0). */
void answer_json(struct evhttp_request *req, int status, const char *body,
                 size_t len, int retry_after);

/* The error table's JSON answer for e. */
void answer_error(struct evhttp_request *req, const struct chat_error *e);

/* 204 to OPTIONS: Allow, and the CORS preflight headers for an allowed
 * Origin. */
void answer_preflight(struct evhttp_request *req);

/* A long poll's 200 with body. Takes c (released or in the graveyard);
 * req is answered afterwards either way. */
void answer_poll(struct evhttp_request *req, struct client *c, const char *body,
                 size_t len);

/* SSE: the 200 with the stream's headers, a chunk (evbuffer drained), the
 * end. */
void answer_stream_start(struct evhttp_request *req);
void answer_stream_chunk(struct evhttp_request *req, struct evbuffer *chunk);
void answer_stream_end(struct evhttp_request *req);

/* Answers not yet written out: queued in evhttp, tails of direct writes,
 * and connections in the graveyard. */
long answer_inflight(void);

/* Closes every graveyard connection now (shutdown). */
void answer_free_all(void);

#endif
