/* migrate.c - moving password hashes out of the users records, and
 * indexing every name for confusables. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/jbuf.h"
#include "common/render.h"
#include "common/store.h"
#include "fcgi/db.h"
#include "fcgi/migrate.h"
#include "fcgi/names_index.h"

#define PAGE 500

struct tally {
    long moved, changed, plaintext, sealed, unreadable;
};

/* Moves the hash of one record, if it holds one. Returns 0, or -1 when
 * Redis failed. */
static int migrate_one(struct db *db, const redisReply *el, struct tally *t)
{
    char *uid = NULL, *name = NULL, *pw = NULL, token[AUTH_SEALED_MAX];
    struct store_call c;
    struct chat_error e = {0};
    struct jbuf rec;
    redisReply *r = NULL;
    int rc = 0;

    jbuf_init(&rec);
    if (el->type != REDIS_REPLY_STRING ||
        user_record_parse(el->str, el->len, &uid, &name, &pw)) {
        t->unreadable++;
        goto out;
    }
    if (!auth_is_hash(pw)) {
        if (auth_is_sealed(pw))
            t->sealed++;
        else
            t->plaintext++;
        goto out;
    }
    auth_sealed_token(token);
    render_user_record(&rec, uid, name, token);
    if (jbuf_failed(&rec)) {
        rc = -1;
        goto out;
    }
    store_pw_move(&c, uid, el->str, el->len, rec.data, pw);
    if (db_call(db, &c, &r, &e) != CHAT_OK || r->type != REDIS_REPLY_INTEGER) {
        fprintf(stderr, "chat.fcgi --migrate: redis failed for user %s\n", uid);
        rc = -1;
        goto out;
    }
    if (r->integer == 1)
        t->moved++;
    else
        t->changed++;
out:
    freeReplyObject(r);
    jbuf_free(&rec);
    free(uid);
    free(name);
    if (pw)
        sodium_memzero(pw, strlen(pw));
    free(pw);
    return rc;
}

/* The confusable-name index up to the end of the users list (the Go
 * server's users and those from before the index). Returns 0 or -1. */
static int index_names(struct db *db, const struct config *cfg)
{
    struct chat_error e = {0};
    long done = 0;

    if (names_index_catch_up(db, LONG_MAX, &done, &e) < 0) {
        fprintf(stderr, "chat.fcgi --migrate: cannot index names in %s\n",
                cfg->redis_label);
        return -1;
    }
    printf("indexed %ld names for confusables (rcg:skel)\n", done);
    return 0;
}

int migrate_password_hashes(const struct config *cfg)
{
    struct db db;
    struct store_call c;
    struct chat_error e = {0};
    struct tally t = {0};
    int rc = 1;

    db_init(&db, cfg);
    for (long off = 0;; off += PAGE) {
        redisReply *r;
        store_users_range(&c, off, PAGE);
        if (db_call(&db, &c, &r, &e) != CHAT_OK ||
            r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r); /* NULL when the call failed */
            fprintf(stderr, "chat.fcgi --migrate: cannot read users from %s\n",
                    cfg->redis_label);
            goto out;
        }
        for (size_t i = 0; i < r->elements; i++) {
            if (migrate_one(&db, r->element[i], &t)) {
                freeReplyObject(r);
                goto out;
            }
        }
        if (r->elements < PAGE) {
            freeReplyObject(r);
            break;
        }
        freeReplyObject(r);
    }
    printf("moved %ld password hashes to rcg:pw; %ld already moved, %ld "
           "plaintext (Go server) records, %ld changed meanwhile (run again), "
           "%ld unreadable\n",
           t.moved, t.sealed, t.plaintext, t.changed, t.unreadable);
    if (index_names(&db, cfg))
        goto out;
    rc = t.changed ? 3 : 0;
out:
    db_close(&db);
    return rc;
}
