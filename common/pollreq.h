/* pollreq.h - the parameters of GET /poll and GET /events (CONTRACT §4, §5)
 * validated the same way by chat-poller and chat.fcgi: session, access key,
 * cursor (query or Last-Event-ID) and timeout. No I/O. */
#ifndef CHAT_POLLREQ_H
#define CHAT_POLLREQ_H

#include "common/cursor.h"
#include "common/errors.h"
#include "common/proto.h"
#include "common/store.h"
#include "common/uuid.h"

#define POLLREQ_TIMEOUT_DEFAULT 25
#define POLLREQ_TIMEOUT_MAX     55
#define POLLREQ_BATCH           100
/* The text of a 400 for a timeout that is not 0..POLLREQ_TIMEOUT_MAX. */
#define POLLREQ_TIMEOUT_ERROR                                                  \
    "timeout must be an integer 0.." POLLREQ_STR(POLLREQ_TIMEOUT_MAX)
#define POLLREQ_STR(x)  POLLREQ_STR_(x)
#define POLLREQ_STR_(x) #x

struct pollreq {
    char session[UUID_SIZE];
    char key[PROTO_KEY_MAX + 1];
    struct cursor cur;
    int has_cursor;
    int timeout; /* seconds, 0..POLLREQ_TIMEOUT_MAX */
};

/* The raw (URL-decoded) inputs; NULL = absent. */
struct pollreq_in {
    const char *session; /* query sessionUUID */
    const char *bearer;  /* from Authorization: Bearer */
    const char *key;     /* query accessKey */
    const char *cursor;  /* query cursor */
    const char *last_id; /* Last-Event-ID header (wins over cursor) */
    const char *timeout; /* query timeout */
    int max_hold;        /* CHAT_POLL_MAX_HOLD: longer holds get this */
};

/* Validates in into out; a timeout over in->max_hold (the host's limit)
 * is cut to it. Returns CHAT_OK, or the error (400 for malformed values,
 * 401 for a missing key) with e filled. */
enum chat_err pollreq_parse(const struct pollreq_in *in, struct pollreq *out,
                            struct chat_error *e);

/* Builds the catch-up read (S_POLL) of a request whose position is
 * (has_cursor, cur); strings stay borrowed from p. */
void pollreq_call(struct store_call *c, const struct config *cfg,
                  const struct pollreq *p);

#endif
