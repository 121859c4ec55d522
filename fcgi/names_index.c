/* names_index.c - the catch-up of the confusable-name index: read the
 * records past rcg:skelpos, compute their keys (ICU), write them in one
 * pipelined round trip per page. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/names.h"
#include "common/render.h"
#include "common/store.h"
#include "fcgi/names_index.h"

#define PAGE 200 /* records per read and per pipelined write */

void names_index_keys(const char *name, size_t len, struct store_name *n)
{
    int k = names_keys(name, len, n->skel);

    n->nskel = k > 0 ? k : 0;
}

/* The S_SKEL_ADD call of the record at pos. */
static void add_call(struct store_call *c, long pos, const redisReply *el,
                     struct store_name *n, char uid[UUID_SIZE])
{
    const char *name;
    size_t len;
    char *owned = NULL;

    memset(n, 0, sizeof *n);
    uid[0] = '\0';
    if (el->type == REDIS_REPLY_STRING &&
        user_record_names(el->str, el->len, uid, &name, &len, &owned) == 0)
        names_index_keys(name, len, n);
    else
        log_warn("users[%ld] is unreadable: not in the name index", pos);
    free(owned);
    store_skel_add(c, pos, uid, n->nskel ? n : NULL);
}

/* Indexes one page; returns how many records it held, or -1. */
static long index_page(struct db *db, struct chat_error *e)
{
    struct store_call c, *calls = NULL;
    struct store_name *names = NULL;
    char(*uids)[UUID_SIZE] = NULL;
    redisReply *tail = NULL, *replies[PAGE];
    const redisReply *items;
    long pos, n = -1;

    store_skel_tail(&c, PAGE);
    if (db_call(db, &c, &tail, e) != CHAT_OK)
        return -1;
    if (tail->type != REDIS_REPLY_ARRAY || tail->elements != 2 ||
        tail->element[0]->type != REDIS_REPLY_INTEGER ||
        tail->element[1]->type != REDIS_REPLY_ARRAY) {
        chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
        goto out;
    }
    pos = (long)tail->element[0]->integer;
    items = tail->element[1];
    if (items->elements == 0) {
        n = 0;
        goto out;
    }
    calls = calloc(items->elements, sizeof *calls);
    names = calloc(items->elements, sizeof *names);
    uids = calloc(items->elements, sizeof *uids);
    if (items->elements > PAGE || !calls || !names || !uids) {
        chat_fail(e, CHAT_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < items->elements; i++)
        add_call(&calls[i], pos + (long)i, items->element[i], &names[i],
                 uids[i]);
    if (db_pipeline(db, calls, (int)items->elements, replies, e) != CHAT_OK)
        goto out;
    n = (long)items->elements;
    for (size_t i = 0; i < items->elements; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR && n > 0) {
            store_reply_error(replies[i], e);
            n = -1;
        }
        freeReplyObject(replies[i]);
    }
out:
    free(uids);
    free(names);
    free(calls);
    freeReplyObject(tail);
    return n;
}

int names_index_catch_up(struct db *db, long max, long *done,
                         struct chat_error *e)
{
    *done = 0;
    while (*done < max) {
        long n = index_page(db, e);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        *done += n;
    }
    return 1;
}
