/* dispatch.h - routes of chat.fcgi (POST /api, GET /health, GET /poll) and
 * the message table of /api. */
#ifndef CHAT_DISPATCH_H
#define CHAT_DISPATCH_H

#include "common/config.h"
#include "fcgi/db.h"
#include "fcgi/request.h"

/* Answers one HTTP request into *rep. Never fails: every problem becomes a
 * JSON error reply. */
void dispatch_request(struct db *db, const struct config *cfg,
                      const struct request *rq, struct reply *rep);

#endif
