/* cursor.c - fuzz target: the poll cursor (common/cursor.c) and the
 * parameters of GET /poll and /events (common/pollreq.c). The input is the
 * fields of one request, one a line: sessionUUID, bearer, accessKey,
 * cursor, Last-Event-ID, timeout, max hold (a missing line is an absent
 * parameter); the whole input is also tried as a cursor of one session.
 * Invariants: a cursor that parses renders back to text that parses to the
 * same cursor; accepted parameters are within their documented bounds. */
#include <string.h>

#include "common/cursor.h"
#include "common/pollreq.h"
#include "common/proto.h"
#include "tests/fuzz/fuzz.h"

#define SESSION "0123abcd-0000-4000-8000-00000000cafe"
#define FIELDS  7

static int digits_only(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

/* A parsed cursor re-rendered parses again to equal parts. */
static void check_cursor(const struct cursor *c, const char *session)
{
    char text[CURSOR_MAX];
    struct cursor again;
    struct chat_error e;

    FUZZ_CHECK(c->pos >= 0 && digits_only(c->jn));
    cursor_format(text, session, c->sys, c->jn, c->pos, c->chk, c->nid);
    FUZZ_CHECK(cursor_parse(text, session, &again, &e) == CHAT_OK);
    FUZZ_CHECK(strcmp(again.sys, c->sys) == 0);
    FUZZ_CHECK(strcmp(again.jn, c->jn) == 0 && again.pos == c->pos);
    FUZZ_CHECK(strcmp(again.chk, c->chk) == 0 &&
               strcmp(again.nid, c->nid) == 0);
}

/* Splits the input at '\n' into at most FIELDS NUL-terminated fields;
 * the last keeps the rest. Absent ones stay NULL. */
static void split(char *s, const char *f[FIELDS])
{
    for (int i = 0; i < FIELDS; i++) {
        char *nl;

        f[i] = s;
        if (!s)
            continue;
        nl = i < FIELDS - 1 ? strchr(s, '\n') : NULL;
        if (nl)
            *nl = '\0';
        s = nl ? nl + 1 : NULL;
    }
}

static int small_int(const char *s)
{
    int v = 0;

    for (; s && *s >= '0' && *s <= '9' && v < 1000; s++)
        v = v * 10 + (*s - '0');
    return v;
}

static void check_pollreq(char *text)
{
    const char *f[FIELDS];
    struct pollreq_in in;
    struct pollreq p;
    struct chat_error e;
    const char *key;

    split(text, f);
    in = (struct pollreq_in){.session = f[0],
                             .bearer = f[1],
                             .key = f[2],
                             .cursor = f[3],
                             .last_id = f[4],
                             .timeout = f[5],
                             .max_hold = small_int(f[6])};
    if (pollreq_parse(&in, &p, &e) != CHAT_OK) {
        FUZZ_CHECK(e.err != CHAT_OK);
        return;
    }
    key = in.bearer && in.bearer[0] ? in.bearer : in.key;
    FUZZ_CHECK(strlen(p.session) == UUID_LEN);
    FUZZ_CHECK(p.key[0] && strcmp(p.key, key) == 0);
    FUZZ_CHECK(p.timeout >= 0 && p.timeout <= POLLREQ_TIMEOUT_MAX);
    FUZZ_CHECK(in.max_hold <= 0 || p.timeout <= in.max_hold);
    if (p.has_cursor)
        check_cursor(&p.cur, p.session);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct cursor c;
    struct chat_error e;

    if (cursor_parse(text, SESSION, &c, &e) == CHAT_OK)
        check_cursor(&c, SESSION);
    check_pollreq(text);
    free(text);
    return 0;
}
