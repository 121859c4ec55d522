/* http.c - the status table (phrase and extra headers), header blocks
 * and CORS headers for both programs. */
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
    unsigned extra;
    const char *phrase;
} statuses[] = {
    {.status = 200, .phrase = "OK"},
    {.status = 204, .phrase = "No Content", .extra = NO_BODY | ALLOW},
    {.status = 400, .phrase = "Bad Request"},
    {.status = 401, .phrase = "Unauthorized"},
    {.status = 403, .phrase = "Forbidden"},
    {.status = 404, .phrase = "Not Found"},
    {.status = 405, .phrase = "Method Not Allowed", .extra = ALLOW},
    {.status = 408, .phrase = "Request Timeout"},
    {.status = 409, .phrase = "Conflict"},
    {.status = 413, .phrase = "Payload Too Large"},
    {.status = 429, .phrase = "Too Many Requests", .extra = RETRY_AFTER},
    {.status = 431, .phrase = "Request Header Fields Too Large"},
    {.status = 500, .phrase = "Internal Server Error"},
    {.status = 503, .phrase = "Service Unavailable", .extra = RETRY_AFTER},
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

    if ((extra & ALLOW) && allow)
        add(ctx, "Allow", allow);
    if (extra & RETRY_AFTER) {
        char num[16];
        snprintf(num, sizeof num, "%d", retry_after > 1 ? retry_after : 1);
        add(ctx, "Retry-After", num);
    }
}

/* The room left in h: at least the NUL's byte, 0 once it failed. */
static size_t head_room(const struct http_head *h)
{
    return h->len < 0 ? 0 : h->n - (size_t)h->len;
}

/* Counts k bytes that snprintf wrote into the room of h, or fails h. */
static void head_wrote(struct http_head *h, int k)
{
    if (h->len >= 0)
        h->len = k < 0 || (size_t)k >= head_room(h) ? -1 : h->len + k;
}

void http_head_status_line(struct http_head *h, int status)
{
    if (head_room(h))
        head_wrote(h,
                   snprintf(h->buf + h->len, head_room(h), "HTTP/1.1 %d %s\r\n",
                            status, http_reason(status)));
}

void http_head_add(void *head, const char *name, const char *value)
{
    struct http_head *h = head;

    if (head_room(h))
        head_wrote(h, snprintf(h->buf + h->len, head_room(h), "%s: %s\r\n",
                               name, value));
}

int http_head_end(struct http_head *h)
{
    if (head_room(h))
        head_wrote(h, snprintf(h->buf + h->len, head_room(h), "\r\n"));
    return h->len;
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
