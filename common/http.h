/* http.h - what both programs say the same way on the HTTP edge: the
 * reason phrase of each status they answer, and CORS (CHAT_CORS_ORIGINS:
 * exact origins, never "*", never credentials: the access key travels in
 * a header or the body, not in a cookie). No I/O. */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

/* "OK", "Not Found", ...; "Error" for a status this project never sends. */
const char *http_reason(int status);

/* Nonzero when origin is one of the comma- or space-separated origins in
 * list (compared exactly, as browsers serialise them). "" allows none. */
int http_cors_allowed(const char *list, const char *origin);

/* The CORS headers of an answer to an allowed origin, one add() call
 * each; a preflight also gets the allowed methods, headers and max-age. */
typedef void (*http_header_fn)(void *ctx, const char *name, const char *value);
void http_cors_headers(const char *origin, int preflight, const char *methods,
                       http_header_fn add, void *ctx);

#endif
