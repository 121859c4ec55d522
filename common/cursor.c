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

enum chat_err cursor_parse(const char *text, const char *session,
                           struct cursor *c, struct chat_error *e)
{
    const char *p = text;
    size_t n, m;

    memset(c, 0, sizeof *c);
    if (strlen(text) >= CURSOR_MAX || strncmp(p, session, 8) != 0 ||
        p[8] != '.')
        goto bad;
    p += 9;
    n = u64_digits(p);
    if (!n || p[n] != '-')
        goto bad;
    m = u64_digits(p + n + 1);
    if (!m || p[n + 1 + m] != '.')
        goto bad;
    memcpy(c->sys, p, n + 1 + m);
    /* the one id with nothing after it: "(" + it is no interval to Redis */
    if (strcmp(c->sys, "18446744073709551615-18446744073709551615") == 0)
        goto bad;
    p += n + 1 + m + 1;
    n = digits(p, 18);
    if (!n || p[n] != '.')
        goto bad;
    memcpy(c->jn, p, n);
    p += n + 1;
    n = digits(p, 18);
    if (!n || p[n] != '\0')
        goto bad;
    c->pos = 0;
    for (size_t i = 0; i < n; i++)
        c->pos = c->pos * 10 + (p[i] - '0');
    return CHAT_OK;
bad:
    return chat_fail(e, CHAT_E_BAD_CURSOR,
                     "invalid cursor (pass back the cursor you were given)");
}

void cursor_format(char *out, const char *session, const char *sys,
                   const char *jn, long pos)
{
    snprintf(out, CURSOR_MAX, "%.8s.%s.%s.%ld", session, sys, jn, pos);
}
