/* handlers_unread.c - h_unread(): the caller's unread counts per channel
 * (CONTRACT §2 `unread`), from one read-only script (S_UNREAD). */
#include "common/store.h"
#include "fcgi/handlers.h"

/* The count pairs [recipient, count, ...] of the reply as the contract's
 * channels list; returns the total. */
static long write_channels(struct jbuf *out, const redisReply *pairs)
{
    long total = 0;
    int n = 0;

    jbuf_cstr(out, "\"channels\":[");
    for (size_t i = 0; i + 1 < pairs->elements; i += 2) {
        const redisReply *r = pairs->element[i], *c = pairs->element[i + 1];
        if (r->type != REDIS_REPLY_STRING || c->type != REDIS_REPLY_INTEGER)
            continue;
        if (n++)
            jbuf_raw(out, ",", 1);
        jbuf_cstr(out, "{\"recipientUUID\":");
        jbuf_cstr_q(out, r->str);
        jbuf_cstr(out, ",\"count\":");
        jbuf_long(out, (long)c->integer);
        jbuf_raw(out, "}", 1);
        total += (long)c->integer;
    }
    jbuf_raw(out, "]", 1);
    return total;
}

enum chat_err h_unread(struct hctx *cx, const struct chat_request *req,
                       struct jbuf *out, struct chat_error *e)
{
    struct store_call c;
    redisReply *r;
    enum chat_err rc;
    long total;

    if (req->body) { /* optional, and has no fields yet */
        rc = proto_body(req, e);
        if (rc != CHAT_OK)
            return rc;
    }
    store_unread(&c, cx->cfg, cx->key, cx->claimed);
    rc = db_call(cx->db, &c, &r, e);
    if (rc != CHAT_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return chat_fail(e, CHAT_E_INTERNAL, "unexpected store reply");
    }
    jbuf_cstr(out, "{\"type\":\"unread\",\"unread\":{");
    total = write_channels(out, r->element[1]);
    jbuf_cstr(out, ",\"total\":");
    jbuf_long(out, total);
    jbuf_cstr(out, "}}");
    freeReplyObject(r);
    return CHAT_OK;
}
