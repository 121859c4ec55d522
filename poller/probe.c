/* probe.c - re-asking whether a PUBLISHed message is stored yet. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/store.h"
#include "poller/feed.h"
#include "poller/metrics.h"
#include "poller/probe.h"

#define PROBES_MAX     1024 /* pending at once; more are not probed */
#define FIRST_GAP_MS   1
#define LAST_GAP_MS    2048
#define BLIND_FIRST_MS 16
#define BLIND_LAST_MS  256

struct probe {
    struct probe *prev, *next;
    struct event *timer;
    int gap_ms;  /* the next wait */
    int last_ms; /* the schedule ends after this gap */
    int asked;   /* LPOS answers seen */
    int sent;    /* an LPOS is in flight: the reply frees or re-arms */
    int cancelled;
    char *payload; /* NULL = blind */
    size_t len;
    char channel[];
};

static struct event_base *base;
static void (*wake_fn)(const char *channel);
static struct probe *head;
static size_t count;

static void unlink_probe(struct probe *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    count--;
}

static void probe_free(struct probe *p)
{
    unlink_probe(p);
    event_free(p->timer);
    free(p->payload);
    free(p);
}

/* Waits p->gap_ms for the next step, or ends p after the last one. */
static void rearm(struct probe *p)
{
    struct timeval tv = {.tv_sec = p->gap_ms / 1000,
                         .tv_usec = (long)(p->gap_ms % 1000) * 1000};

    if (p->cancelled || p->gap_ms > p->last_ms) {
        if (!p->cancelled && p->payload)
            log_debug("message published on %.40s not stored after %d ms",
                      p->channel, 2 * p->last_ms);
        probe_free(p);
        return;
    }
    p->gap_ms *= 2;
    if (evtimer_add(p->timer, &tv) != 0) {
        log_err("cannot arm a probe timer");
        probe_free(p);
    }
}

static void on_lpos(const redisReply *r, void *arg)
{
    struct probe *p = arg;
    int first = p->asked++ == 0;

    p->sent = 0;
    metrics.probes++;
    if (p->cancelled) {
        probe_free(p);
        return;
    }
    if (r && r->type == REDIS_REPLY_INTEGER) {
        /* Stored. A first positive answer came before the PUBLISH's own
         * wake was sent, whose reads see it. */
        if (!first)
            wake_fn(p->channel);
        probe_free(p);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR)
        wake_fn(p->channel); /* no LPOS (Redis < 6.0.6): wake on schedule */
    rearm(p);
}

static void ask(struct probe *p)
{
    struct store_call c;

    if (store_message_probe(&c, p->channel, p->payload, p->len) != 0 ||
        feed_call(&c, on_lpos, p) != 0) {
        probe_free(p); /* the reconnect wakes every waiter */
        return;
    }
    p->sent = 1;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;

    (void)fd;
    (void)what;
    if (p->payload) {
        ask(p);
        return;
    }
    wake_fn(p->channel);
    rearm(p);
}

int probe_init(struct event_base *b, void (*wake)(const char *channel))
{
    base = b;
    wake_fn = wake;
    return 0;
}

void probe_start(const char *channel, const char *payload, size_t len)
{
    size_t n = strlen(channel);
    struct probe *p;

    if (count >= PROBES_MAX) {
        metrics.probes_dropped++;
        return;
    }
    p = calloc(1, sizeof *p + n + 1);
    if (!p)
        return;
    memcpy(p->channel, channel, n + 1);
    p->timer = evtimer_new(base, on_timer, p);
    if (payload) {
        p->payload = malloc(len ? len : 1);
        if (p->payload)
            memcpy(p->payload, payload, len);
        p->len = len;
    }
    if (!p->timer || (payload && !p->payload)) {
        if (p->timer)
            event_free(p->timer);
        free(p->payload);
        free(p);
        return;
    }
    p->next = head;
    if (head)
        head->prev = p;
    head = p;
    count++;
    if (payload) {
        p->gap_ms = FIRST_GAP_MS;
        p->last_ms = LAST_GAP_MS;
        ask(p);
    } else {
        p->gap_ms = BLIND_FIRST_MS;
        p->last_ms = BLIND_LAST_MS;
        rearm(p);
    }
}

void probe_cancel(const char *channel)
{
    struct probe *p = head, *next;

    for (; p; p = next) {
        next = p->next;
        if (p->cancelled || strcmp(p->channel, channel) != 0)
            continue;
        p->cancelled = 1;
        if (!p->sent)
            probe_free(p);
    }
}

size_t probe_count(void)
{
    return count;
}

void probe_free_all(void)
{
    /* In-flight probes are freed by their (NULL) replies when the command
     * connection closes; mark them so those replies only free. */
    struct probe *p = head, *next;

    for (; p; p = next) {
        next = p->next;
        if (p->sent)
            p->cancelled = 1;
        else
            probe_free(p);
    }
}
