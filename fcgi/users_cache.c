/* users_cache.c - one cached users page behind a mutex. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi/users_cache.h"

static struct {
    pthread_mutex_t lock;
    long ttl_ms;
    long offset, limit, total;
    struct timespec built;
    char *json; /* owned; NULL when empty */
    size_t len;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

void users_cache_init(int ttl_ms)
{
    cache.ttl_ms = ttl_ms;
}

void users_cache_free(void)
{
    pthread_mutex_lock(&cache.lock);
    free(cache.json);
    cache.json = NULL;
    pthread_mutex_unlock(&cache.lock);
}

int users_cache_enabled(void)
{
    return cache.ttl_ms > 0;
}

static long age_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L +
           (now.tv_nsec - since->tv_nsec) / 1000000L;
}

int users_cache_get(long offset, long limit, long total, struct jbuf *out)
{
    int hit = 0;

    if (cache.ttl_ms <= 0)
        return 0;
    pthread_mutex_lock(&cache.lock);
    if (cache.json && cache.offset == offset && cache.limit == limit &&
        cache.total == total && age_ms(&cache.built) < cache.ttl_ms) {
        jbuf_raw(out, cache.json, cache.len);
        hit = !jbuf_failed(out);
    }
    pthread_mutex_unlock(&cache.lock);
    return hit;
}

void users_cache_put(long offset, long limit, long total, const char *json,
                     size_t len)
{
    char *copy;

    if (cache.ttl_ms <= 0)
        return;
    copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, json, len);
    pthread_mutex_lock(&cache.lock);
    free(cache.json);
    cache.json = copy;
    cache.len = len;
    cache.offset = offset;
    cache.limit = limit;
    cache.total = total;
    clock_gettime(CLOCK_MONOTONIC, &cache.built);
    pthread_mutex_unlock(&cache.lock);
}
