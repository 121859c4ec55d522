/* poll.h - GET /poll answered by chat.fcgi itself, for hosts that cannot
 * run chat-poller (Apache mod_fcgid): the same contract and catch-up code
 * (common/store + common/render) as the poller. */
#ifndef CHAT_FCGI_POLL_H
#define CHAT_FCGI_POLL_H

#include "common/config.h"
#include "fcgi/db.h"
#include "fcgi/request.h"

void poll_serve(struct db *db, const struct config *cfg,
                const struct request *rq, struct reply *rep);

/* Asks waiting polls to answer now (shutdown). Signal-safe. */
void poll_shutdown(void);

#endif
