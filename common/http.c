/* http.c - status phrases and CORS headers for both programs. */
#include <string.h>

#include "common/http.h"

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {413, "Payload Too Large"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

const char *http_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Error";
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
