/* metrics.h - the poller's counters and gauges, and their Prometheus text
 * exposition for GET /metrics. Plain globals: the poller is one thread. */
#ifndef CHAT_POLLER_METRICS_H
#define CHAT_POLLER_METRICS_H

#include <event2/buffer.h>

struct metrics {
    long parked;                      /* long polls held now */
    long streams;                     /* SSE streams open now */
    unsigned long long delivered;     /* objects sent to clients */
    unsigned long long answers;       /* long-poll answers sent */
    unsigned long long catchup_reads; /* per-session reads (S_POLL) */
    unsigned long long shared_reads;  /* per-channel room reads */
    unsigned long long cached_polls;  /* polls answered/parked w/o Redis */
    unsigned long long wakes;         /* PUBLISH notifications seen */
    unsigned long long redis_reconnects;
    unsigned long long hangups;        /* clients gone while waiting */
    unsigned long long rejected;       /* 4xx/5xx answers */
    unsigned long long keyspace_wakes; /* list-write notifications seen */
    unsigned long long probes;         /* LPOS answers after a PUBLISH */
    unsigned long long probes_dropped; /* PUBLISHes not probed (cap) */
    long keyspace;                     /* notifications of list writes on */
    unsigned long long conns_refused;  /* over CHAT_POLLER_MAX_CONNS */
    unsigned long long head_timeouts;  /* no request head in time */
};

extern struct metrics metrics;

/* Appends the Prometheus text of every metric to out. Returns 0 or -1. */
int metrics_render(struct evbuffer *out, long redis_up, long channels);

#endif
