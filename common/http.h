/* http.h - what both programs say the same way on the HTTP edge: one
 * table of the statuses they answer (phrase, body or not, the headers each
 * carries: Allow, Retry-After), and CORS (CHAT_CORS_ORIGINS:
 * exact origins, never "*", never credentials: the access key travels in
 * a header or the body, not in a cookie). No I/O. */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

#include <stddef.h>

/* A header for the answer being built (name and value are copied or
 * written out before the call returns). */
typedef void (*http_header_fn)(void *ctx, const char *name, const char *value);

/* "OK", "Not Found", ...; "Error" for a status this project never sends. */
const char *http_reason(int status);

/* Nonzero when an answer of status has a body (every status but 204). */
int http_status_has_body(int status);

/* The headers status carries besides Content-Type, Cache-Control and
 * CORS, one add() call each: Allow (allow: the route's methods; skipped
 * when NULL) on 405 and on 204 (the answer to OPTIONS); Retry-After
 * (retry_after seconds, at least 1) on 429 and 503. */
void http_status_headers(int status, const char *allow, int retry_after,
                         http_header_fn add, void *ctx);

/* A header block formatted into the caller's buffer; len is -1 once it
 * did not fit. Start with {.buf, .n} (len 0). */
struct http_head {
    char *buf;
    size_t n;
    int len;
};

/* Appends the status line "HTTP/1.1 <status> <phrase>". */
void http_head_status_line(struct http_head *h, int status);

/* An http_header_fn for a struct http_head: appends "name: value". */
void http_head_add(void *head, const char *name, const char *value);

/* Appends the blank line that ends the head (NUL-terminated). Returns
 * the head's length, or -1 when it did not fit. */
int http_head_end(struct http_head *h);

/* Nonzero when origin is one of the comma- or space-separated origins in
 * list (compared exactly, as browsers serialise them). "" allows none. */
int http_cors_allowed(const char *list, const char *origin);

/* The CORS headers of an answer to an allowed origin, one add() call
 * each; a preflight also gets the allowed methods, headers and max-age. */
void http_cors_headers(const char *origin, int preflight, const char *methods,
                       http_header_fn add, void *ctx);

#endif
