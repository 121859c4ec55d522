/* cursor.h - the poll cursor: opaque to clients,
 * "<tag>.<sys id>.<jn>.<pos>~<check>.<notice id>" here. tag = first 8 hex
 * digits of the session (a cursor of another session is refused), sys id =
 * last rcg:events id seen, jn = the session's join counter when issued,
 * pos = messages of that join's channel seen, check = the first 8 hex
 * digits of the SHA-1 of the list element at pos - 1 (what the cursor
 * passed: a list that lost it in a failover and grew again answers reset,
 * not a silent gap), notice id = last rcg:notice.<user> id seen. A cursor
 * without the notice id or the check (issued before them) is read as one
 * at the session's start, or as one whose position is not checked. */
#ifndef CHAT_CURSOR_H
#define CHAT_CURSOR_H

#include <stddef.h>

#include "common/errors.h"

#define CURSOR_MAX     160
#define CURSOR_CHK_LEN 8

struct cursor {
    char sys[48]; /* "<ms>-<seq>" */
    char jn[24];  /* decimal */
    long pos;
    char nid[48];                 /* "<ms>-<seq>", "" = the session's start */
    char chk[CURSOR_CHK_LEN + 1]; /* lowercase hex, "" = not checked */
};

/* 1 when s is a stream id a cursor may carry ("<ms>-<seq>", each part at
 * most 2^64 - 1), else 0. */
int cursor_id_valid(const char *s);

/* Parses text for session (canonical lowercase UUID). Returns CHAT_OK or
 * CHAT_E_BAD_CURSOR. */
enum chat_err cursor_parse(const char *text, const char *session,
                           struct cursor *c, struct chat_error *e);

/* Writes the cursor text into out (CURSOR_MAX bytes); chk "" leaves the
 * check out, nid "" the notice part. */
void cursor_format(char *out, const char *session, const char *sys,
                   const char *jn, long pos, const char *chk, const char *nid);

#endif
