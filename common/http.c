/* http.c - the status table (phrase and extra headers) and CORS headers
 * for both programs. */
#include <stdio.h>
#include <string.h>

#include "common/http.h"

/* What an answer of a status carries besides Content-Type, Cache-Control
 * and CORS (lighttpd's http_status.c keeps its phrases the same way). */
enum {
    NO_BODY = 1,     /* 204: no Content-Type, no body */
    ALLOW = 2,       /* Allow: the route's methods (405; 204 answers OPTIONS) */
    RETRY_AFTER = 4, /* Retry-After, at least 1 s (docs/contract.md) */
};

static const struct {
    int status;
    const char *phrase;
    unsigned extra;
} statuses[] = {
    {200, "OK", 0},
    {204, "No Content", NO_BODY | ALLOW},
    {400, "Bad Request", 0},
    {401, "Unauthorized", 0},
    {403, "Forbidden", 0},
    {404, "Not Found", 0},
    {405, "Method Not Allowed", ALLOW},
    {408, "Request Timeout", 0},
    {409, "Conflict", 0},
    {413, "Payload Too Large", 0},
    {429, "Too Many Requests", RETRY_AFTER},
    {500, "Internal Server Error", 0},
    {503, "Service Unavailable", RETRY_AFTER},
};

/* The extra flags of status, its phrase into *phrase; none and "Error"
 * for a status this project never sends. */
static unsigned extra_of(int status, const char **phrase)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i].status == status) {
            *phrase = statuses[i].phrase;
            return statuses[i].extra;
        }
    }
    *phrase = "Error";
    return 0;
}

const char *http_reason(int status)
{
    const char *phrase;

    extra_of(status, &phrase);
    return phrase;
}

int http_status_has_body(int status)
{
    const char *phrase;

    return !(extra_of(status, &phrase) & NO_BODY);
}

void http_status_headers(int status, const char *allow, int retry_after,
                         http_header_fn add, void *ctx)
{
    const char *phrase;
    unsigned extra = extra_of(status, &phrase);
    char num[16];

    if ((extra & ALLOW) && allow)
        add(ctx, "Allow", allow);
    if (extra & RETRY_AFTER) {
        snprintf(num, sizeof num, "%d", retry_after > 1 ? retry_after : 1);
        add(ctx, "Retry-After", num);
    }
}

int http_cors_allowed(const char *list, const char *origin)
{
    size_t n;

    if (!origin || !*origin || !list)
        return 0;
    n = strlen(origin);
    for (const char *p = list; *p;) {
        size_t len;
        p += strspn(p, ", \t");
        len = strcspn(p, ", \t");
        if (len == n && strncmp(p, origin, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

void http_cors_headers(const char *origin, int preflight, const char *methods,
                       http_header_fn add, void *ctx)
{
    add(ctx, "Access-Control-Allow-Origin", origin);
    add(ctx, "Vary", "Origin");
    if (!preflight) {
        add(ctx, "Access-Control-Expose-Headers", "Retry-After");
        return;
    }
    add(ctx, "Access-Control-Allow-Methods", methods);
    add(ctx, "Access-Control-Allow-Headers",
        "Authorization, Content-Type, Last-Event-ID");
    add(ctx, "Access-Control-Max-Age", "600");
}
