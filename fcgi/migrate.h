/* migrate.h - `chat.fcgi --migrate`: moves every password hash still held
 * in a users record (records written before rcg:pw existed) out to
 * rcg:pw.<uuid>, leaving a sealed token in the record. Sign-in does the
 * same for one user; this does all of them at once. Then indexes every
 * name not yet in the confusable index (rcg:skel), which a new name's
 * check otherwise does NAMES_CATCH_UP_MAX records at a time. Safe to run
 * while the chat is live and more than once. */
#ifndef CHAT_FCGI_MIGRATE_H
#define CHAT_FCGI_MIGRATE_H

#include "common/config.h"

/* Prints what it did on stdout; returns the exit status (0 = done). */
int migrate_password_hashes(const struct config *cfg);

#endif
