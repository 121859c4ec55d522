/* fanout.c - the shared per-channel read and its rendered answers. */
#include <stdlib.h>
#include <string.h>

#include "common/cursor.h"
#include "common/pollreq.h"
#include "common/render.h"
#include "common/store.h"
#include "poller/fanout.h"
#include "poller/feed.h"
#include "poller/metrics.h"

struct fanout_req {
    fanout_done_fn fn;
    void *priv;
    long from;
    char channel[];
};

static void batch_free(struct fanout_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i]);
    free(b->items);
    free(b->lens);
    jbuf_free(&b->joined);
}

static int batch_render(struct fanout_batch *b,
                        const struct store_channel_result *res)
{
    struct user_map m = {0};
    struct jbuf item;

    b->n = res->messages->elements;
    b->items = calloc(b->n ? b->n : 1, sizeof *b->items);
    b->lens = calloc(b->n ? b->n : 1, sizeof *b->lens);
    if (!b->items || !b->lens || user_map_load(&m, res->userinfo))
        return -1;
    jbuf_init(&item);
    for (size_t i = 0; i < b->n; i++) {
        const redisReply *msg = res->messages->element[i];
        jbuf_reset(&item);
        if (msg->type != REDIS_REPLY_STRING ||
            render_pushed_message(&item, msg->str, msg->len, &m) ||
            jbuf_failed(&item))
            continue; /* undecodable: skipped, its position still counts */
        b->items[i] = jbuf_take(&item, &b->lens[i]);
        jbuf_init(&item);
    }
    jbuf_free(&item);
    user_map_free(&m);
    return 0;
}

static void on_reply(const redisReply *r, void *priv)
{
    struct fanout_req *q = priv;
    struct store_channel_result res;
    struct fanout_batch b;

    memset(&b, 0, sizeof b);
    jbuf_init(&b.joined);
    b.from = q->from;
    b.joined_off = b.joined_end = -1;
    if (!r || store_parse_channel_read(r, &res) || batch_render(&b, &res)) {
        q->fn(NULL, q->priv);
    } else {
        b.llen = res.llen;
        q->fn(&b, q->priv);
    }
    batch_free(&b);
    free(q);
}

int fanout_read(const char *channel, long from, long count, fanout_done_fn fn,
                void *priv)
{
    size_t n = strlen(channel);
    struct fanout_req *q = malloc(sizeof *q + n + 1);
    struct store_call c;

    if (!q)
        return -1;
    q->fn = fn;
    q->priv = priv;
    q->from = from;
    memcpy(q->channel, channel, n + 1);
    store_channel_read(&c, q->channel, from, count);
    if (feed_call(&c, on_reply, q) != 0) {
        free(q);
        return -1;
    }
    metrics.shared_reads++;
    return 0;
}

/* The comma-joined items [off, end), cached for the next waiter. */
static const struct jbuf *joined(struct fanout_batch *b, long off, long end)
{
    int first = 1;

    if (b->joined_off == off && b->joined_end == end)
        return &b->joined;
    jbuf_reset(&b->joined);
    for (long i = off; i < end; i++) {
        if (!b->items[i])
            continue;
        if (!first)
            jbuf_raw(&b->joined, ",", 1);
        jbuf_raw(&b->joined, b->items[i], b->lens[i]);
        first = 0;
    }
    b->joined_off = off;
    b->joined_end = end;
    return &b->joined;
}

long fanout_answer(struct fanout_batch *b, struct jbuf *out,
                   const char *session, const char *sys, const char *jn,
                   long pos)
{
    long off = pos - b->from, end;
    char cur[CURSOR_MAX];
    const struct jbuf *items;

    if (pos > b->llen || off < 0 || off > (long)b->n)
        return -1;
    if (off == (long)b->n)
        return pos < b->llen ? -1 : 0;
    end = off + POLLREQ_BATCH < (long)b->n ? off + POLLREQ_BATCH : (long)b->n;
    items = joined(b, off, end);
    if (jbuf_failed(items))
        return -1;
    cursor_format(cur, session, sys, jn, pos + (end - off));
    jbuf_cstr(out, "{\"cursor\":");
    jbuf_cstr_q(out, cur);
    jbuf_cstr(out, ",\"messages\":[");
    if (items->len)
        jbuf_raw(out, items->data, items->len);
    jbuf_cstr(out, "]}");
    return jbuf_failed(out) ? -1 : end - off;
}
