/* cursor.c - poll cursor text <-> parts, strictly validated so the Lua side
 * only ever sees well-formed stream ids and numbers. */
#include <stdio.h>
#include <string.h>

#include "common/cursor.h"

static size_t digits(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* Digits of a stream id part: Redis takes at most 2^64 - 1, no more. */
static size_t u64_digits(const char *s)
{
    static const char max[] = "18446744073709551615";
    size_t n = digits(s, sizeof max); /* one more than fits: refused */

    if (n > sizeof max - 1 || (n == sizeof max - 1 && strncmp(s, max, n) > 0))
        return 0;
    return n;
}

/* A stream id "<ms>-<seq>" at *p followed by end, into out (48 bytes);
 * advances *p past it. Returns 0 or -1. */
static int stream_id(const char **p, char end, char *out)
{
    const char *s = *p;
    size_t n = u64_digits(s), m;

    if (!n || s[n] != '-')
        return -1;
    m = u64_digits(s + n + 1);
    if (!m || s[n + 1 + m] != end)
        return -1;
    memcpy(out, s, n + 1 + m);
    out[n + 1 + m] = '\0';
    /* the one id with nothing after it: "(" + it is no interval to Redis */
    if (strcmp(out, "18446744073709551615-18446744073709551615") == 0)
        return -1;
    *p = s + n + 1 + m;
    return 0;
}

int cursor_id_valid(const char *s)
{
    char id[48];

    return stream_id(&s, '\0', id) == 0;
}

/* "~" + CURSOR_CHK_LEN lowercase hex digits at *p into out; advances *p
 * past it. Returns 0 or -1. */
static int check_part(const char **p, char *out)
{
    const char *s = *p + 1;

    for (int i = 0; i < CURSOR_CHK_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return -1;
    if (s[CURSOR_CHK_LEN] != '\0' && s[CURSOR_CHK_LEN] != '.')
        return -1;
    memcpy(out, s, CURSOR_CHK_LEN);
    out[CURSOR_CHK_LEN] = '\0';
    *p = s + CURSOR_CHK_LEN;
    return 0;
}

enum chat_err cursor_parse(const char *text, const char *session,
                           struct cursor *c, struct chat_error *e)
{
    const char *p = text;
    size_t n;

    memset(c, 0, sizeof *c);
    if (strlen(text) >= CURSOR_MAX || strncmp(p, session, 8) != 0 ||
        p[8] != '.')
        goto bad;
    p += 9;
    if (stream_id(&p, '.', c->sys))
        goto bad;
    p++;
    n = digits(p, 18);
    if (!n || p[n] != '.')
        goto bad;
    memcpy(c->jn, p, n);
    p += n + 1;
    n = digits(p, 18);
    if (!n || (p[n] != '\0' && p[n] != '.' && p[n] != '~'))
        goto bad;
    c->pos = 0;
    for (size_t i = 0; i < n; i++)
        c->pos = c->pos * 10 + (p[i] - '0');
    p += n;
    if (*p == '~' && check_part(&p, c->chk))
        goto bad;
    if (*p == '.') { /* the notice id; absent in cursors from before it */
        p++;
        if (stream_id(&p, '\0', c->nid))
            goto bad;
    }
    return CHAT_OK;
bad:
    return chat_fail(e, CHAT_E_BAD_CURSOR,
                     "invalid cursor (pass back the cursor you were given)");
}

void cursor_format(char *out, const char *session, const char *sys,
                   const char *jn, long pos, const char *chk, const char *nid)
{
    snprintf(out, CURSOR_MAX, "%.8s.%s.%s.%ld%s%s%s%s", session, sys, jn, pos,
             chk[0] ? "~" : "", chk, nid[0] ? "." : "", nid);
}
