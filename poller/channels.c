/* channels.c - a chained hash table of struct chan keyed by channel id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poller/channels.h"
#include "poller/room.h"

#define CHAN_BUCKETS  4096
#define CHAN_NAME_MAX 200

static struct chan *buckets[CHAN_BUCKETS];
static size_t count;

static size_t bucket_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % CHAN_BUCKETS;
}

struct chan *chan_find(const char *name)
{
    for (struct chan *c = buckets[bucket_of(name)]; c; c = c->next_hash) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

struct chan *chan_get(const char *name)
{
    size_t n = strlen(name), b;
    struct chan *c = chan_find(name);

    if (c)
        return c;
    if (n > CHAN_NAME_MAX)
        return NULL;
    c = calloc(1, sizeof *c + n + 1);
    if (!c)
        return NULL;
    memcpy(c->name, name, n + 1);
    c->idle_since = time(NULL);
    b = bucket_of(name);
    c->next_hash = buckets[b];
    buckets[b] = c;
    count++;
    return c;
}

void chan_maybe_free(struct chan *ch)
{
    struct chan **pp;

    if (!ch || ch->refs || ch->head || ch->sub != CHAN_UNSUB || ch->want_sub)
        return;
    for (pp = &buckets[bucket_of(ch->name)]; *pp; pp = &(*pp)->next_hash) {
        if (*pp == ch) {
            *pp = ch->next_hash;
            room_free(ch->room);
            free(ch);
            count--;
            return;
        }
    }
}

void chan_each(void (*fn)(struct chan *ch, void *ctx), void *ctx)
{
    for (size_t b = 0; b < CHAN_BUCKETS; b++) {
        struct chan *c = buckets[b], *next;
        for (; c; c = next) {
            next = c->next_hash;
            fn(c, ctx);
        }
    }
}

size_t chan_count(void)
{
    return count;
}

void chan_free_all(void)
{
    for (size_t b = 0; b < CHAN_BUCKETS; b++) {
        struct chan *c = buckets[b], *next;
        for (; c; c = next) {
            next = c->next_hash;
            room_free(c->room);
            free(c);
        }
        buckets[b] = NULL;
    }
    count = 0;
}
