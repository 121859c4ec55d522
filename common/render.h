/* render.h - the reply and push side of the contract: JSON built from what
 * the store returned (users, stored messages, sys events, poll batches), in
 * the original's field order and escaping. Passwords never leave here:
 * only UUID, Username and OnLine of a user record are ever written. */
#ifndef CHAT_RENDER_H
#define CHAT_RENDER_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "common/jbuf.h"
#include "common/store.h"
#include "common/uuid.h"

/* The users a reply names (a parsed userinfo list; strings borrowed from
 * the reply). */
struct user_map {
    struct store_user *v;
    size_t n;
};

/* Loads a flat userinfo reply. Returns 0, or -1 on a malformed reply or
 * no memory. Free with user_map_free (NULL-safe fields). */
int user_map_load(struct user_map *m, const redisReply *flat);
void user_map_free(struct user_map *m);
/* The known user with that uuid, or NULL (absent or record unknown). */
const struct store_user *user_map_find(const struct user_map *m,
                                       const char *uuid);

/* Extracts UUID, Username and (when password is not NULL) Password of a
 * stored user record (case-insensitive keys); all malloc'ed, caller
 * frees. Returns 0 or -1. */
int user_record_parse(const char *json, size_t len, char **uuid, char **name,
                      char **password);

/* UUID and Username of a stored user record. When the values carry no
 * escapes (records written by either server, in practice) they are found
 * without a JSON parse: *name points into json; otherwise json-c decodes
 * the record and *name = *owned (caller frees *owned). uuid receives a
 * NUL-terminated copy. Returns 0, or -1 for an unreadable record. */
int user_record_names(const char *json, size_t len, char uuid[UUID_SIZE],
                      const char **name, size_t *name_len, char **owned);

/* {"UUID":..,"Username":..,"OnLine":..} */
/* A users list element in the original's format (Go field order, a
 * trailing newline): {"UUID","Username","Password","OnLine":false}\n. */
void render_user_record(struct jbuf *b, const char *uuid, const char *name,
                        const char *password);

void render_user(struct jbuf *b, const char *uuid, const char *name,
                 int online);
/* The same with a name of name_len bytes. */
void render_user_n(struct jbuf *b, const char *uuid, const char *name,
                   size_t name_len, int online);

/* The contract's message object from its parts (rcpt "" = public). */
void render_message_parts(struct jbuf *b, const char *id, const char *sender,
                          const char *rcpt, const char *text, size_t text_len,
                          const char *created, const struct user_map *m);

/* A stored message (original bytes) as the contract's message object,
 * with Sender/Recipient from m (may be NULL). Returns 0, or -1 when the
 * stored element is not a decodable message (it is skipped, W13). */
int render_message(struct jbuf *b, const char *stored, size_t len,
                   const struct user_map *m);

/* The push object of a stored message:
 * {"type":"channelMessage","channelMessage":{...}}. Returns 0, or -1 (and
 * b unchanged) when the element is not a decodable message. */
int render_pushed_message(struct jbuf *b, const char *stored, size_t len,
                          const struct user_map *m);

/* A rcg:events entry [id, [field, value...]] as its push object. Returns
 * 0, or -1 for a malformed entry. */
int render_event(struct jbuf *b, const redisReply *entry);

/* Called for each pushed object of a poll batch with its JSON and the
 * cursor that follows it; return nonzero to stop. */
typedef int (*poll_item_fn)(void *ctx, const char *json, size_t len,
                            const char *cursor);

/* Walks a poll result in order (events, then messages). Returns the
 * number of objects, or -1 on a malformed reply/no memory. final_cursor
 * (CURSOR_MAX bytes) receives the cursor after the whole batch. */
long render_poll_each(const struct store_poll_result *r, const char *session,
                      poll_item_fn fn, void *ctx, char *final_cursor);

/* The long-poll answer, the one place its shape is written:
 * {"cursor":C[,"reset":true],"messages":[items][,"pollAfter":N]}; items
 * are the comma-joined objects (items_len 0 = none), poll_after_ms 0 =
 * no pollAfter. */
void render_poll_answer(struct jbuf *b, const char *cursor, int reset,
                        const char *items, size_t items_len, int poll_after_ms);

/* The long-poll answer of a poll result (render_poll_answer). */
int render_poll_json(struct jbuf *b, const struct store_poll_result *r,
                     const char *session);

#endif
