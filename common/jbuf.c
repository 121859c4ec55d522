/* jbuf.c - growable buffer and Go-compatible JSON string escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jbuf.h"
#include "common/utf8.h"

void jbuf_init(struct jbuf *b)
{
    memset(b, 0, sizeof *b);
}

void jbuf_free(struct jbuf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

void jbuf_reset(struct jbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

int jbuf_failed(const struct jbuf *b)
{
    return b->failed;
}

static int reserve(struct jbuf *b, size_t extra)
{
    size_t want;
    char *p;

    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    want = b->cap ? b->cap * 2 : 256;
    while (want < b->len + extra + 1)
        want *= 2;
    p = realloc(b->data, want);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = want;
    return 0;
}

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
    if (reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jbuf_cstr(struct jbuf *b, const char *s)
{
    jbuf_raw(b, s, strlen(s));
}

void jbuf_long(struct jbuf *b, long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%ld", v);
    if (n > 0)
        jbuf_raw(b, tmp, (size_t)n);
}

static void put_u(struct jbuf *b, unsigned cp)
{
    char tmp[8];
    snprintf(tmp, sizeof tmp, "\\u%04x", cp & 0xffffu);
    jbuf_raw(b, tmp, 6);
}

static void put_escaped(struct jbuf *b, const unsigned char *s, size_t n)
{
    size_t i = 0, run = 0;

    while (i < n) {
        unsigned cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        const char *esc = NULL;

        if (len == 1 && cp >= 0x20 && cp != '"' && cp != '\\' && cp != '<' &&
            cp != '>' && cp != '&') {
            i++;
            continue;
        }
        if (len > 1 && cp != 0x2028 && cp != 0x2029) {
            i += len;
            continue;
        }
        jbuf_raw(b, (const char *)s + run, i - run);
        if (len == 0) {
            jbuf_raw(b, "\\ufffd", 6); /* as Go does for invalid bytes */
            len = 1;
        } else if (cp == '"') {
            esc = "\\\"";
        } else if (cp == '\\') {
            esc = "\\\\";
        } else if (cp == '\n') {
            esc = "\\n";
        } else if (cp == '\r') {
            esc = "\\r";
        } else if (cp == '\t') {
            esc = "\\t";
        } else {
            put_u(b, cp);
        }
        if (esc)
            jbuf_raw(b, esc, 2);
        i += len;
        run = i;
    }
    jbuf_raw(b, (const char *)s + run, n - run);
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
    jbuf_raw(b, "\"", 1);
    put_escaped(b, (const unsigned char *)s, n);
    jbuf_raw(b, "\"", 1);
}

void jbuf_cstr_q(struct jbuf *b, const char *s)
{
    jbuf_str(b, s, strlen(s));
}

void jbuf_key(struct jbuf *b, const char *name)
{
    jbuf_raw(b, "\"", 1);
    jbuf_cstr(b, name);
    jbuf_raw(b, "\":", 2);
}

char *jbuf_take(struct jbuf *b, size_t *len)
{
    char *p;

    if (b->failed || reserve(b, 0)) {
        jbuf_free(b);
        return NULL;
    }
    p = b->data;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}
