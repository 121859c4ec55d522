/* direct.h - a 200 poll answer written straight to the client socket.
 *
 * evhttp queues a reply, re-arms the socket for writing and sends it on a
 * later loop turn (PLATFORM E4), with a dozen allocations for headers and
 * buffers on the way; at a fan-out to thousands of parked polls that is
 * most of the time. An answer is one small write instead, and the
 * connection closes after it ("Connection: close": one long poll per
 * connection, which is what lighttpd's proxy does anyway). */
#ifndef CHAT_POLLER_DIRECT_H
#define CHAT_POLLER_DIRECT_H

#include <stddef.h>

struct evhttp_connection;

enum direct_result {
    DIRECT_NOT_SENT,   /* nothing written: answer through evhttp */
    DIRECT_SENT,       /* all written (or the client is gone): the caller
                          frees conn, and may do so later (it only closes) */
    DIRECT_HANDED_OVER /* part written: conn now belongs to direct.c, which
                          sends the rest and frees it; the caller removes
                          its own events on the socket now */
};

/* Sends "200 OK" with the JSON body on conn's socket. */
enum direct_result direct_send(struct evhttp_connection *conn, const char *body,
                               size_t len);

/* Answers whose tail is still being written (a socket that took part). */
long direct_pending(void);

#endif
