/* sessions.c - a chained hash table of the sessions last read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "common/uuid.h"
#include "poller/channels.h"
#include "poller/feed.h"
#include "poller/sessions.h"

#define BUCKETS       8192
#define CHANNEL_MAX   64
#define SWEEP_SECONDS 5

struct session_entry {
    struct session_entry *next;
    time_t at; /* monotonic seconds of the read */
    unsigned long long sent;
    struct poll_user *user; /* held */
    char session[UUID_SIZE];
    char key[PROTO_KEY_MAX + 1];
    char channel[CHANNEL_MAX + 1];
    char jn[sizeof((struct cursor *)0)->jn];
    char sys[sizeof((struct cursor *)0)->sys];
    char nid[sizeof((struct cursor *)0)->nid];
};

static struct session_entry *buckets[BUCKETS];
static long count;
static struct event *sweeper;

time_t sessions_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return ts.tv_sec;
}

static size_t bucket_of(const char *session)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)session; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

static struct session_entry **slot_of(const char *session)
{
    struct session_entry **pp = &buckets[bucket_of(session)];

    while (*pp && strcmp((*pp)->session, session) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void unlink_entry(struct session_entry **pp)
{
    struct session_entry *e = *pp;

    *pp = e->next;
    sodium_memzero(e->key, sizeof e->key);
    users_release(e->user);
    free(e);
    count--;
}

static int copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

void sessions_put(const struct pollreq *p, const struct session_seen *seen,
                  unsigned long long sent)
{
    struct session_entry **pp = slot_of(p->session), *e = *pp;

    if (!seen->user) {
        if (e)
            unlink_entry(pp);
        return;
    }
    if (!e) {
        if (count >= SESSIONS_MAX)
            return;
        e = calloc(1, sizeof *e);
        if (!e)
            return;
        e->next = NULL;
        *pp = e;
        count++;
        memcpy(e->session, p->session, sizeof e->session);
    }
    if (e->user != seen->user) {
        users_release(e->user);
        e->user = seen->user;
        users_ref(seen->user);
    }
    if (copy(e->key, sizeof e->key, p->key) ||
        copy(e->channel, sizeof e->channel, seen->channel) ||
        copy(e->jn, sizeof e->jn, seen->jn) ||
        copy(e->sys, sizeof e->sys, seen->sys) ||
        copy(e->nid, sizeof e->nid, seen->nid)) {
        unlink_entry(pp); /* too long to keep: always read */
        return;
    }
    e->at = sessions_now();
    e->sent = sent;
}

static int same_key(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

int sessions_check(const struct pollreq *p, char *channel, size_t size,
                   struct poll_user **user)
{
    const struct session_entry *e = *slot_of(p->session);
    const struct chan *ch = NULL;

    if (!e || !p->has_cursor || sessions_now() - e->at >= SESSIONS_TTL ||
        strcmp(e->sys, p->cur.sys) != 0 || strcmp(e->jn, p->cur.jn) != 0 ||
        strcmp(e->nid, p->cur.nid) != 0 || e->user->event_seq > e->sent ||
        !same_key(e->key, p->key))
        return 0;
    if (e->channel[0]) {
        ch = chan_find(e->channel);
        if (!ch)
            return 0;
    }
    if (!feed_events_fresh(ch, e->sent) || !feed_no_event_since(e->sent) ||
        copy(channel, size, e->channel))
        return 0;
    *user = e->user;
    return 1;
}

void sessions_drop(const char *session)
{
    if (session) {
        struct session_entry **pp = slot_of(session);
        if (*pp)
            unlink_entry(pp);
        return;
    }
    for (size_t b = 0; b < BUCKETS; b++) {
        while (buckets[b])
            unlink_entry(&buckets[b]);
    }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    time_t now = sessions_now();

    (void)fd;
    (void)what;
    (void)arg;
    for (size_t b = 0; b < BUCKETS; b++) {
        struct session_entry **pp = &buckets[b];
        while (*pp) {
            if (now - (*pp)->at >= SESSIONS_TTL)
                unlink_entry(pp);
            else
                pp = &(*pp)->next;
        }
    }
}

int sessions_init(struct event_base *base)
{
    struct timeval tv = {.tv_sec = SWEEP_SECONDS, .tv_usec = 0};

    sweeper = event_new(base, -1, EV_PERSIST, on_sweep, NULL);
    if (!sweeper || event_add(sweeper, &tv) != 0) {
        log_err("cannot start the session sweep");
        return -1;
    }
    return 0;
}

long sessions_count(void)
{
    return count;
}

void sessions_free_all(void)
{
    sessions_drop(NULL);
    if (sweeper)
        event_free(sweeper);
    sweeper = NULL;
}
