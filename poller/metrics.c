/* metrics.c - the counters and their Prometheus text. */
#include "poller/metrics.h"

struct metrics metrics;

struct metric_row {
    const char *name;
    const char *type;
    const char *help;
    unsigned long long value;
};

int metrics_render(struct evbuffer *out, long redis_up, long channels)
{
    const struct metric_row rows[] = {
        {"chat_poller_parked_polls", "gauge", "Long polls held now.",
         (unsigned long long)metrics.parked},
        {"chat_poller_sse_streams", "gauge", "Server-Sent Event streams open.",
         (unsigned long long)metrics.streams},
        {"chat_poller_channels", "gauge", "Chat channels followed.",
         (unsigned long long)channels},
        {"chat_poller_redis_up", "gauge",
         "1 when both Redis connections are up.", (unsigned long long)redis_up},
        {"chat_poller_delivered_total", "counter", "Objects sent to clients.",
         metrics.delivered},
        {"chat_poller_poll_answers_total", "counter", "Long-poll answers sent.",
         metrics.answers},
        {"chat_poller_catchup_reads_total", "counter",
         "Per-session catch-up reads.", metrics.catchup_reads},
        {"chat_poller_shared_reads_total", "counter",
         "Per-channel reads of new messages into the room.",
         metrics.shared_reads},
        {"chat_poller_cached_polls_total", "counter",
         "Polls answered or parked without a Redis round trip.",
         metrics.cached_polls},
        {"chat_poller_wakes_total", "counter", "Redis notifications received.",
         metrics.wakes},
        {"chat_poller_redis_reconnects_total", "counter",
         "Redis connections re-established.", metrics.redis_reconnects},
        {"chat_poller_hangups_total", "counter",
         "Clients that hung up while waiting.", metrics.hangups},
        {"chat_poller_errors_total", "counter",
         "Requests answered with an error.", metrics.rejected},
        {"chat_poller_keyspace_notifications", "gauge",
         "1 when Redis notifies chat list writes (notify-keyspace-events).",
         (unsigned long long)metrics.keyspace},
        {"chat_poller_keyspace_wakes_total", "counter",
         "Chat list writes notified by Redis.", metrics.keyspace_wakes},
        {"chat_poller_probes_total", "counter",
         "LPOS answers: is a PUBLISHed message stored yet.", metrics.probes},
        {"chat_poller_probes_dropped_total", "counter",
         "PUBLISHes not probed (too many pending).", metrics.probes_dropped},
        {"chat_poller_connections_refused_total", "counter",
         "Connections refused over CHAT_POLLER_MAX_CONNS.",
         metrics.conns_refused},
        {"chat_poller_head_timeouts_total", "counter",
         "Connections closed without a request head in time.",
         metrics.head_timeouts},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
                                rows[i].name, rows[i].help, rows[i].name,
                                rows[i].type, rows[i].name, rows[i].value) < 0)
            return -1;
    }
    return 0;
}
