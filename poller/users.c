/* users.c - a chained hash table of the users the poller knows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poller/users.h"

#define BUCKETS 8192
#define UID_MAX (sizeof((struct poll_user *)0)->uid - 1)

static struct poll_user *buckets[BUCKETS];
static size_t count;
/* the last wake of a user nobody held: a read in flight for a user not
 * yet known may have missed it */
static unsigned long long unknown_seq;

static size_t bucket_of(const char *uid)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)uid; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

static struct poll_user *find(const char *uid)
{
    for (struct poll_user *u = buckets[bucket_of(uid)]; u; u = u->next_hash) {
        if (strcmp(u->uid, uid) == 0)
            return u;
    }
    return NULL;
}

struct poll_user *users_hold(const char *uid)
{
    struct poll_user *u;
    size_t n = strlen(uid);

    if (n == 0 || n > UID_MAX)
        return NULL;
    u = find(uid);
    if (!u) {
        size_t b = bucket_of(uid);
        u = calloc(1, sizeof *u);
        if (!u)
            return NULL;
        memcpy(u->uid, uid, n + 1);
        u->next_hash = buckets[b];
        buckets[b] = u;
        count++;
    }
    u->refs++;
    return u;
}

void users_ref(struct poll_user *u)
{
    u->refs++;
}

void users_release(struct poll_user *u)
{
    struct poll_user **pp;

    if (!u || --u->refs > 0)
        return;
    for (pp = &buckets[bucket_of(u->uid)]; *pp; pp = &(*pp)->next_hash) {
        if (*pp == u) {
            *pp = u->next_hash;
            free(u);
            count--;
            return;
        }
    }
}

struct poll_user *users_event(const char *uid, unsigned long long seq)
{
    struct poll_user *u = find(uid);

    if (!u) {
        unknown_seq = seq;
        return NULL;
    }
    u->event_seq = seq;
    return u;
}

int users_fresh(const struct poll_user *u, unsigned long long sent,
                int held_since_sent)
{
    if (u && u->event_seq > sent)
        return 0;
    return (u && held_since_sent) || unknown_seq <= sent;
}

size_t users_count(void)
{
    return count;
}
