/* names_index.h - keeps the confusable-name index (rcg:skel.<key>, see
 * common/store.h) complete: users records that no create here indexed
 * (the Go server's, and this project's from before the index) are indexed
 * in list order from rcg:skelpos. The users list only grows (RPUSH; LSET
 * only swaps a Password), so a position is enough to know what was seen. */
#ifndef CHAT_FCGI_NAMES_INDEX_H
#define CHAT_FCGI_NAMES_INDEX_H

#include "common/errors.h"
#include "fcgi/db.h"

/* The keys of a name (common/names.h) into n->skel; n->nskel 0 when ICU
 * failed (the record is then only found by its exact name). */
void names_index_keys(const char *name, size_t len, struct store_name *n);

/* Indexes the records from rcg:skelpos on, at most max of them; *done
 * counts them. Returns 0 when the index reached the end of the list, 1
 * when max came first, or the failure (CHAT_E_REDIS...) as -1 with e
 * filled. Safe beside other catch-ups and creates: the first user to
 * claim a key keeps it. */
int names_index_catch_up(struct db *db, long max, long *done,
                         struct chat_error *e);

#endif
