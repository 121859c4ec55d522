/* cursor.h - the poll cursor: opaque to clients,
 * "<tag>.<sys id>.<jn>.<pos>.<notice id>" here. tag = first 8 hex digits of
 * the session (a cursor of another session is refused), sys id = last
 * rcg:events id seen, jn = the session's join counter when issued, pos =
 * messages of that join's channel seen, notice id = last rcg:notice.<user>
 * id seen. A cursor without the notice id (issued before notices) is read
 * as one at the session's start. */
#ifndef CHAT_CURSOR_H
#define CHAT_CURSOR_H

#include <stddef.h>

#include "common/errors.h"

#define CURSOR_MAX 160

struct cursor {
    char sys[48]; /* "<ms>-<seq>" */
    char jn[24];  /* decimal */
    long pos;
    char nid[48]; /* "<ms>-<seq>", "" = the session's start */
};

/* 1 when s is a stream id a cursor may carry ("<ms>-<seq>", each part at
 * most 2^64 - 1), else 0. */
int cursor_id_valid(const char *s);

/* Parses text for session (canonical lowercase UUID). Returns CHAT_OK or
 * CHAT_E_BAD_CURSOR. */
enum chat_err cursor_parse(const char *text, const char *session,
                           struct cursor *c, struct chat_error *e);

/* Writes the cursor text into out (CURSOR_MAX bytes); nid "" leaves the
 * notice part out. */
void cursor_format(char *out, const char *session, const char *sys,
                   const char *jn, long pos, const char *nid);

#endif
