/* room.c - each followed channel's rendered messages and its shared read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cursor.h"
#include "common/log.h"
#include "common/pollreq.h"
#include "common/render.h"
#include "common/store.h"
#include "poller/feed.h"
#include "poller/metrics.h"
#include "poller/room.h"

struct room_item {
    char *json; /* push object; NULL = undecodable (its position counts) */
    size_t len;
    char chk[CURSOR_CHK_LEN + 1]; /* its cursor check, "" = unknown */
};

struct room {
    unsigned long gen;                 /* which room a read reply belongs to */
    int valid;                         /* base/end describe the list */
    long base, end;                    /* positions held: [base, end) */
    char base_chk[CURSOR_CHK_LEN + 1]; /* cursor check at base */
    long llen;                         /* list length the last read saw */
    unsigned long long read_seq;       /* feed sequence when it was sent */
    struct room_item *ring; /* ROOM_MAX slots, position p at p % ROOM_MAX */
    unsigned reading : 1;   /* a read is in flight */
    unsigned again : 1;     /* woken during it: read once more */
    struct jbuf joined;     /* items [joined_from, joined_to), comma-joined */
    long joined_from, joined_to;
};

/* A read in flight: the channel is found again by name, and the reply
 * applies only to the room that sent it. */
struct room_read {
    unsigned long gen;
    long from;
    unsigned long long sent;
    char channel[];
};

static room_ready_fn ready_cb;
static unsigned long next_gen = 1;

void room_init(room_ready_fn ready)
{
    ready_cb = ready;
}

static void items_clear(struct room *r)
{
    for (long p = r->base; r->ring && p < r->end; p++) {
        free(r->ring[p % ROOM_MAX].json);
        r->ring[p % ROOM_MAX].json = NULL;
    }
    r->joined_from = r->joined_to = -1;
}

void room_free(struct room *r)
{
    if (!r)
        return;
    items_clear(r);
    free(r->ring);
    jbuf_free(&r->joined);
    free(r);
}

static struct room *room_of(struct chan *ch)
{
    struct room *r = ch->room;

    if (r)
        return r;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ring = calloc(ROOM_MAX, sizeof *r->ring);
    if (!r->ring) {
        free(r);
        return NULL;
    }
    jbuf_init(&r->joined);
    r->joined_from = r->joined_to = -1;
    r->gen = next_gen++;
    ch->room = r;
    return r;
}

/* The cursor check at pos when the room knows it, else NULL. */
static const char *check_at(const struct room *r, long pos)
{
    if (!r->valid || pos < r->base || pos > r->end)
        return NULL;
    return pos == r->base ? r->base_chk : r->ring[(pos - 1) % ROOM_MAX].chk;
}

/* 1 when the cursor's check (if it has one) is the room's at its
 * position; else its own read checks it against the list. */
static int check_matches(const struct room *r, const struct cursor *c)
{
    const char *k;

    if (!c->chk[0])
        return 1;
    k = check_at(r, c->pos);
    return k && strcmp(k, c->chk) == 0;
}

static void forget_one(struct chan *ch, void *ctx)
{
    struct room *r = ch->room;

    (void)ctx;
    if (!r)
        return;
    items_clear(r);
    r->valid = 0;
    r->base = r->end = r->llen = 0;
    r->gen = next_gen++; /* a reply in flight no longer applies */
    r->reading = r->again = 0;
}

void room_forget(struct chan *ch)
{
    if (ch)
        forget_one(ch, NULL);
    else
        chan_each(forget_one, NULL);
}

/* Appends the rendered message of position end; the oldest goes when the
 * ring is full. */
static void append(struct room *r, const redisReply *msg,
                   const struct user_map *m, struct jbuf *item)
{
    struct room_item *slot = &r->ring[r->end % ROOM_MAX];

    if (r->end - r->base == ROOM_MAX) {
        free(slot->json);
        memcpy(r->base_chk, slot->chk, sizeof r->base_chk);
        r->base++;
    }
    slot->json = NULL;
    slot->len = 0;
    slot->chk[0] = '\0';
    if (msg->type == REDIS_REPLY_STRING)
        store_element_check(msg->str, msg->len, slot->chk);
    jbuf_reset(item);
    if (msg->type == REDIS_REPLY_STRING &&
        render_pushed_message(item, msg->str, msg->len, m) == 0 &&
        !jbuf_failed(item)) {
        slot->json = jbuf_take(item, &slot->len);
        jbuf_init(item);
    }
    r->end++;
}

/* The reply's messages at [from, from + n) into the room. Returns 0, or
 * -1 when the room must be emptied (list shrank, a gap, no memory). */
static int fill(struct room *r, const struct room_read *q,
                const struct store_channel_result *res)
{
    struct user_map m = {0};
    struct jbuf item;

    if (r->valid && (res->llen < r->end || q->from != r->end ||
                     strcmp(check_at(r, r->end), res->chk_from) != 0))
        return -1; /* shrank, a gap, or not the list the room holds */
    if (user_map_load(&m, res->userinfo))
        return -1;
    if (!r->valid) {
        r->valid = 1;
        r->base = r->end = q->from;
        snprintf(r->base_chk, sizeof r->base_chk, "%s", res->chk_from);
    }
    jbuf_init(&item);
    for (size_t i = 0; i < res->messages->elements; i++)
        append(r, res->messages->element[i], &m, &item);
    jbuf_free(&item);
    user_map_free(&m);
    r->llen = res->llen;
    r->read_seq = q->sent;
    r->joined_from = r->joined_to = -1;
    return 0;
}

static int send_read(struct chan *ch, struct room *r, long from);

static void on_read(const redisReply *reply, void *priv)
{
    struct room_read *q = priv;
    struct chan *ch = chan_find(q->channel);
    struct room *r = ch ? ch->room : NULL;
    struct store_channel_result res;
    int ok;

    if (!r || r->gen != q->gen) { /* emptied or freed meanwhile */
        free(q);
        return;
    }
    r->reading = 0;
    ok = reply && store_parse_channel_read(reply, &res) == 0;
    if (ok && fill(r, q, &res) != 0) {
        log_info("channel %.40s: list moved; its room starts again", ch->name);
        forget_one(ch, NULL);
        ok = 0;
    }
    free(q);
    ready_cb(ch, ok); /* answers the parked polls, then reads on */
}

static int send_read(struct chan *ch, struct room *r, long from)
{
    size_t n = strlen(ch->name);
    struct room_read *q = malloc(sizeof *q + n + 1);
    struct store_call c;

    if (!q)
        return -1;
    q->gen = r->gen;
    q->from = from;
    q->sent = feed_seq();
    memcpy(q->channel, ch->name, n + 1);
    store_channel_read(&c, q->channel, from, ROOM_READ_MAX);
    if (feed_call(&c, on_read, q) != 0) {
        free(q);
        return -1;
    }
    r->reading = 1;
    r->again = 0;
    metrics.shared_reads++;
    return 0;
}

void room_wake(struct chan *ch, long from)
{
    struct room *r = room_of(ch);

    if (!r) {
        ready_cb(ch, 0);
        return;
    }
    if (r->reading) {
        r->again = 1;
        return;
    }
    if (r->valid)
        from = r->end;
    if (from < 0)
        return; /* nothing kept, nobody waits: the next poll reads */
    if (send_read(ch, r, from) != 0)
        ready_cb(ch, 0);
}

/* After the parked polls were answered: read on when more came. */
void room_read_more(struct chan *ch)
{
    struct room *r = ch->room;

    if (!r || r->reading || !r->valid)
        return;
    if ((r->again || r->end < r->llen) && send_read(ch, r, r->end) != 0)
        ready_cb(ch, 0);
}

void room_seed(struct chan *ch, long llen, const char *chk,
               unsigned long long sent)
{
    struct room *r;

    if (ch->room && (ch->room->valid || ch->room->reading))
        return;
    r = room_of(ch);
    if (!r)
        return;
    r->valid = 1;
    r->base = r->end = r->llen = llen;
    snprintf(r->base_chk, sizeof r->base_chk, "%s", chk);
    r->read_seq = sent;
}

int room_can_park(const struct chan *ch, const struct cursor *c)
{
    const struct room *r = ch->room;

    if (!r || !r->valid || c->pos != r->end || !check_matches(r, c))
        return 0;
    if (r->reading)
        return 1; /* its reply answers the poll */
    return r->end == r->llen && feed_messages_fresh(ch, r->read_seq);
}

/* The comma-joined items [from, to), kept for the next poll at from. */
static const struct jbuf *joined(struct room *r, long from, long to)
{
    int first = 1;

    if (r->joined_from == from && r->joined_to == to)
        return &r->joined;
    jbuf_reset(&r->joined);
    for (long p = from; p < to; p++) {
        const struct room_item *it = &r->ring[p % ROOM_MAX];
        if (!it->json)
            continue;
        if (!first)
            jbuf_raw(&r->joined, ",", 1);
        jbuf_raw(&r->joined, it->json, it->len);
        first = 0;
    }
    r->joined_from = from;
    r->joined_to = to;
    return &r->joined;
}

/* Where an answer from the room to a cursor c ends (> c->pos), c->pos when
 * nothing is new, -1 when the room cannot answer. */
static long answer_end(const struct room *r, const struct cursor *c)
{
    long pos = c->pos;

    if (!r || !r->valid || pos < r->base || pos > r->end ||
        !check_matches(r, c))
        return -1;
    return pos + POLLREQ_BATCH < r->end ? pos + POLLREQ_BATCH : r->end;
}

long room_each(struct chan *ch, const struct pollreq *p, poll_item_fn fn,
               void *ctx, struct cursor *next)
{
    const struct room *r = ch->room;
    const struct cursor *c = &p->cur;
    char cur[CURSOR_MAX];
    long to = answer_end(r, c);

    if (to <= c->pos)
        return to < 0 ? -1 : 0;
    for (long q = c->pos; q < to; q++) {
        const struct room_item *it = &r->ring[q % ROOM_MAX];
        if (!it->json)
            continue; /* undecodable: its position counts, as in S_POLL */
        cursor_format(cur, p->session, c->sys, c->jn, q + 1, check_at(r, q + 1),
                      c->nid);
        if (fn(ctx, it->json, it->len, cur))
            return -1;
    }
    *next = *c;
    next->pos = to;
    snprintf(next->chk, sizeof next->chk, "%s", check_at(r, to));
    return to - c->pos;
}

long room_answer(struct chan *ch, struct jbuf *out, const struct pollreq *p)
{
    struct room *r = ch->room;
    const struct jbuf *items;
    char cur[CURSOR_MAX];
    long pos = p->cur.pos, to = answer_end(r, &p->cur);

    if (to <= pos)
        return to < 0 ? -1 : 0;
    items = joined(r, pos, to);
    if (jbuf_failed(items))
        return -1;
    cursor_format(cur, p->session, p->cur.sys, p->cur.jn, to, check_at(r, to),
                  p->cur.nid);
    render_poll_answer(out, cur, 0, items->data, items->len, 0);
    return jbuf_failed(out) ? -1 : to - pos;
}
