/* http.h - the poller's HTTP surface: the route table for GET /poll,
 * GET /events, GET /metrics and GET /health, parameter parsing (through
 * common/pollreq) and the small fixed answers. Waiting is waiters.c's. */
#ifndef CHAT_POLLER_HTTP_H
#define CHAT_POLLER_HTTP_H

#include <event2/http.h>

#include "common/config.h"

/* An http_header_fn (common/http.h) for evhttp: adds the header to
 * headers, a struct evkeyvalq * (evhttp_request_get_output_headers). */
void http_add_header(void *headers, const char *name, const char *value);

/* Installs the routes and the request limits on http. Returns 0 or -1. */
int http_setup(struct evhttp *http, const struct config *cfg);

#endif
