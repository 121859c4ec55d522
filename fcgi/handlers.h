/* handlers.h - one h_<type>() per message type of the contract. The
 * dispatcher has already checked what the message table asks for (access
 * key present, body object present); handlers validate their own fields,
 * run one store call and write the reply JSON. */
#ifndef CHAT_HANDLERS_H
#define CHAT_HANDLERS_H

#include "common/config.h"
#include "common/jbuf.h"
#include "common/proto.h"
#include "fcgi/db.h"

struct hctx {
    struct db *db;
    const struct config *cfg;
    const char *key;         /* access key (header or body), "" when none */
    char claimed[UUID_SIZE]; /* validated body userUUID, "" when none */
    char session[UUID_SIZE]; /* validated sessionUUID/SUUID, "" when none */
    const char *addr; /* the client's address (REMOTE_ADDR), "" unknown */
};

typedef enum chat_err (*msg_handler)(struct hctx *cx,
                                     const struct chat_request *req,
                                     struct jbuf *out, struct chat_error *e);

enum chat_err h_ready(struct hctx *, const struct chat_request *, struct jbuf *,
                      struct chat_error *);
enum chat_err h_sign_up(struct hctx *, const struct chat_request *,
                        struct jbuf *, struct chat_error *);
enum chat_err h_sign_in(struct hctx *, const struct chat_request *,
                        struct jbuf *, struct chat_error *);
enum chat_err h_sign_out(struct hctx *, const struct chat_request *,
                         struct jbuf *, struct chat_error *);
enum chat_err h_users(struct hctx *, const struct chat_request *, struct jbuf *,
                      struct chat_error *);
enum chat_err h_channel_join(struct hctx *, const struct chat_request *,
                             struct jbuf *, struct chat_error *);
enum chat_err h_channel_leave(struct hctx *, const struct chat_request *,
                              struct jbuf *, struct chat_error *);
enum chat_err h_channel_message(struct hctx *, const struct chat_request *,
                                struct jbuf *, struct chat_error *);
enum chat_err h_channel_message_batch(struct hctx *,
                                      const struct chat_request *,
                                      struct jbuf *, struct chat_error *);
/* handlers_unread.c */
enum chat_err h_unread(struct hctx *, const struct chat_request *,
                       struct jbuf *, struct chat_error *);

#endif
