/* request.c - FastCGI/CGI request reading and reply writing (libfcgi). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>

#include "common/http.h"
#include "common/log.h"
#include "common/proto.h"
#include "fcgi/request.h"

typedef const char *(*param_fn)(const char *name, void *ctx);

static const char *fcgi_param(const char *name, void *ctx)
{
    FCGX_Request *fr = ctx;
    return FCGX_GetParam(name, fr->envp);
}

static const char *cgi_param(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

int request_is_cgi_env(void)
{
    return cgi_param("REQUEST_METHOD", NULL) != NULL;
}

static void copy_param(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "");
}

/* Method, path, query and headers; the body comes separately. */
static void read_head(struct request *rq, param_fn get, void *ctx)
{
    const char *uri = get("REQUEST_URI", ctx);
    const char *query = get("QUERY_STRING", ctx);
    const char *auth = get("HTTP_AUTHORIZATION", ctx);
    size_t plen;

    const char *script = get("SCRIPT_NAME", ctx);
    const char *info = get("PATH_INFO", ctx);

    copy_param(rq->method, sizeof rq->method, get("REQUEST_METHOD", ctx));
    /* /cgi-bin/chat.cgi/api: the route is PATH_INFO. Else the URI (a
     * server that maps /api to the script), or the script's own name. */
    if (info && *info)
        uri = info;
    if (!uri)
        uri = script;
    if (!uri)
        uri = "/";
    plen = strcspn(uri, "?");
    if (plen >= sizeof rq->path)
        plen = sizeof rq->path - 1;
    memcpy(rq->path, uri, plen);
    rq->path[plen] = '\0';
    rq->bare_script = script && *script && strcmp(rq->path, script) == 0;
    if (query && strlen(query) >= sizeof rq->query)
        rq->query_too_long = 1;
    else
        copy_param(rq->query, sizeof rq->query, query);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        copy_param(rq->bearer, sizeof rq->bearer, auth);
    }
    copy_param(rq->last_event_id, sizeof rq->last_event_id,
               get("HTTP_LAST_EVENT_ID", ctx));
    copy_param(rq->origin, sizeof rq->origin, get("HTTP_ORIGIN", ctx));
    copy_param(rq->addr, sizeof rq->addr, get("REMOTE_ADDR", ctx));
    /* it becomes part of a key name: v4 or v6 text only */
    if (strspn(rq->addr, "0123456789abcdefABCDEF.:") != strlen(rq->addr))
        rq->addr[0] = '\0';
}

/* Body length from CONTENT_LENGTH; -1 when absent or malformed. */
static long content_length(param_fn get, void *ctx)
{
    const char *cl = get("CONTENT_LENGTH", ctx);
    char *end;
    long n;

    if (!cl || !*cl)
        return -1;
    n = strtol(cl, &end, 10);
    if (*end || n < 0)
        return -1;
    return n;
}

typedef int (*read_fn)(void *ctx, char *buf, int n);

/* The most of a refused CGI body read before answering (LimitRequestBody
 * and client_max_body_size of the shipped configs). */
#define CGI_DRAIN_MAX (1L << 20)

static int fcgi_read(void *ctx, char *buf, int n)
{
    return FCGX_GetStr(buf, n, ((FCGX_Request *)ctx)->in);
}

static int cgi_read(void *ctx, char *buf, int n)
{
    (void)ctx;
    return (int)fread(buf, 1, (size_t)n, stdin);
}

/* Reads up to PROTO_BODY_MAX + 1 bytes; more means too large. */
static int read_body(struct request *rq, long declared, read_fn rd, void *ctx)
{
    /* A declared length is read exactly (a 64 KiB buffer per request cost
     * malloc consolidation in profiles); an unknown one up to the limit. */
    size_t cap = declared >= 0 ? (size_t)declared : PROTO_BODY_MAX + 1;
    size_t len = 0;

    if (declared > PROTO_BODY_MAX) {
        rq->body_too_large = 1;
        return 0;
    }
    if (declared == 0)
        return 0;
    rq->body = malloc(cap + 1);
    if (!rq->body)
        return -1;
    while (len < cap && (declared < 0 || len < (size_t)declared)) {
        int n = rd(ctx, rq->body + len, (int)(cap - len));
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len > PROTO_BODY_MAX)
        rq->body_too_large = 1;
    rq->body[len] = '\0';
    rq->body_len = len;
    return 0;
}

int request_read_fcgi(struct request *rq, struct FCGX_Request *fr)
{
    memset(rq, 0, sizeof *rq);
    read_head(rq, fcgi_param, fr);
    if (strcmp(rq->method, "POST") != 0)
        return 0;
    return read_body(rq, content_length(fcgi_param, fr), fcgi_read, fr);
}

/* Reads and drops a refused body, up to the 1 MiB every shipped config
 * allows: a CGI program that exits with its input unread makes Apache's
 * mod_cgid read a reset and cut the reply after the JSON 413. */
static void cgi_drain(long declared)
{
    char buf[16384];
    long left = declared < CGI_DRAIN_MAX ? declared : CGI_DRAIN_MAX;

    while (left > 0) {
        size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        size_t n = fread(buf, 1, want, stdin);

        if (n == 0)
            break;
        left -= (long)n;
    }
}

int request_read_cgi(struct request *rq)
{
    long declared;

    memset(rq, 0, sizeof *rq);
    read_head(rq, cgi_param, NULL);
    if (strcmp(rq->method, "POST") != 0)
        return 0;
    declared = content_length(cgi_param, NULL);
    if (read_body(rq, declared, cgi_read, NULL) != 0)
        return -1;
    if (rq->body_too_large && declared > 0)
        cgi_drain(declared);
    return 0;
}

void request_free(struct request *rq)
{
    if (!rq)
        return;
    free(rq->body);
    rq->body = NULL;
}

void reply_init(struct reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    jbuf_init(&r->body);
}

void reply_free(struct reply *r)
{
    if (r)
        jbuf_free(&r->body);
}

void reply_error(struct reply *r, const struct chat_error *e)
{
    /* decided before the answer goes out; a 200 "ok" error is a bug */
    assert(!r->sent && e->err != CHAT_OK);
    jbuf_reset(&r->body);
    chat_error_json(&r->body, e);
    r->status = chat_err_status(e->err);
    r->retry_after = e->retry_after;
}

/* The header block; libfcgi's own printf lacks %zu (PLATFORM F1), so
 * everything is formatted here with snprintf. */
static int format_head(const struct reply *r, char *buf, size_t n,
                       size_t body_len)
{
    struct http_head h = {.buf = buf, .n = n};
    char num[32];

    assert(!r->preflight || r->allow); /* a preflight names the methods */
    snprintf(num, sizeof num, "%d %s", r->status, http_reason(r->status));
    http_head_add(&h, "Status", num);
    if (http_status_has_body(r->status)) {
        http_head_add(&h, "Content-Type",
                      r->content_type ? r->content_type
                                      : "application/json; charset=utf-8");
        snprintf(num, sizeof num, "%zu", body_len);
        http_head_add(&h, "Content-Length", num);
    }
    http_head_add(&h, "Cache-Control", "no-store");
    http_head_add(&h, "X-Content-Type-Options", "nosniff");
    http_status_headers(r->status, r->allow, r->retry_after, http_head_add, &h);
    if (r->cors_origin)
        http_cors_headers(r->cors_origin, r->preflight, r->allow, http_head_add,
                          &h);
    return http_head_end(&h);
}

/* The body as sent: the JSON and a newline, nothing for 204. */
static size_t body_length(const struct reply *r)
{
    if (!http_status_has_body(r->status))
        return 0;
    return (jbuf_failed(&r->body) ? 0 : r->body.len) + 1;
}

/* Every request is answered exactly once: a second write would send
 * another response into the same stream. */
static void mark_sent(struct reply *r)
{
    assert(!r->sent);
    r->sent = 1;
}

int reply_write_fcgi(struct reply *r, struct FCGX_Request *fr)
{
    char head[1024];
    size_t total = body_length(r), body_len = total ? total - 1 : 0;
    int hl = format_head(r, head, sizeof head, total);

    mark_sent(r);
    if (hl < 0 || FCGX_PutStr(head, hl, fr->out) != hl)
        return -1;
    if (!total)
        return 0;
    if (body_len &&
        FCGX_PutStr(r->body.data, (int)body_len, fr->out) != (int)body_len)
        return -1;
    /* No FCGX_FFlush: FCGX_Finish_r sends the output and END_REQUEST in
     * one write. Flushing first let lighttpd close on the complete body,
     * so END_REQUEST hit EPIPE (and SIGPIPE) on every request. */
    return FCGX_PutChar('\n', fr->out) < 0 ? -1 : 0;
}

/* True when the input is read to its end: what follows the body is at
 * most the empty end-of-stdin record, so a bounded read settles it. */
static int input_drained(struct FCGX_Request *fr)
{
    char rest[4096];
    size_t total = 0;
    int n;

    do {
        n = FCGX_GetStr(rest, (int)sizeof rest, fr->in);
        total += n > 0 ? (size_t)n : 0;
    } while (n > 0 && total <= PROTO_BODY_MAX);
    return FCGX_HasSeenEOF(fr->in) == EOF;
}

void request_finish_fcgi(struct FCGX_Request *fr)
{
    /* With the input drained nothing unread can turn the close into a
     * reset, so the connection closes at once (detached). libfcgi's own
     * close waits for the server to hang up first (shutdown, poll() up
     * to 2 s, read): a sleep and a wake-up on every request. */
    if (input_drained(fr) && FCGX_Detach(fr) != 0)
        log_debug("FastCGI request without a connection to close");
    FCGX_Finish_r(fr);
}

int reply_write_cgi(struct reply *r)
{
    char head[1024];
    size_t total = body_length(r), body_len = total ? total - 1 : 0;
    int hl = format_head(r, head, sizeof head, total);

    mark_sent(r);
    if (hl < 0 || fwrite(head, 1, (size_t)hl, stdout) != (size_t)hl)
        return -1;
    if (!total)
        return fflush(stdout) == 0 ? 0 : -1;
    if (body_len && fwrite(r->body.data, 1, body_len, stdout) != body_len)
        return -1;
    if (fputc('\n', stdout) == EOF)
        return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int url_decode(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= outsz || c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 1;
}

int request_query_param(const struct request *rq, const char *name, char *out,
                        size_t outsz)
{
    const char *p = rq->query;
    size_t nl = strlen(name);

    if (rq->query_too_long)
        return -1;
    while (*p) {
        size_t len = strcspn(p, "&");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return url_decode(p + nl + 1, len - nl - 1, out, outsz);
        if (len == nl && strncmp(p, name, nl) == 0) {
            out[0] = '\0';
            return 1;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}
