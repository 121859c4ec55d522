/* lp_client.c - a single-process epoll long-poll client for the fan-out
 * and latency benchmarks (bench/fanout.sh). No libraries.
 *
 *   lp_client setup   --http H:P --n N --user NAME --out FILE
 *       signs NAME in once (POST /api), makes N sessions (ready, then
 *       channelJoin public) and writes "session key" lines to FILE.
 *   lp_client setup-pairs (same options): N users NAME-i, each with one
 *       session in the private channel with its partner (latency runs).
 *   lp_client fanout  --target T --paths FILE --n N --publish H:P
 *                     --request FILE --expect MARK [--settle S]
 *       holds N GET requests (one path per line of FILE), waits S seconds,
 *       sends the raw HTTP request in --request to --publish and reports
 *       when the first and the last held request had a body with MARK.
 *   lp_client latency --target T --paths FILE --n N --publish H:P
 *                     --request FILE --rate R --seconds S
 *                     [--blocks K] [--gap-us G] [--settle W]
 *       holds N long polls that re-poll with the answer's cursor (paths end
 *       in "cursor="); once all are connected and W seconds passed, sends R
 *       messages a second for S seconds to Redis at --publish. The request
 *       file is K equal-size blocks of Redis commands (RESP), one block per
 *       message, in turn; in the block sent, every placeholder
 *       LAT-XXXXXXXXXXXXXXXXXXXX becomes "lat-" + run id + message number.
 *       --gap-us G: the block's first command is sent, the rest G us later
 *       (at the loop's 1 ms resolution): the Go server's PUBLISH, then
 *       RPUSH. A delivery's latency counts from the write of the block's
 *       last part, the one that stores the message; reports percentiles
 *       over all deliveries, and the messages that nobody received.
 * T is unix:PATH or HOST:PORT. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX     ((size_t)64 * 1024)
#define PLACEHOLDER "LAT-XXXXXXXXXXXXXXXXXXXX"
#define HIST_US     2000000 /* latency histogram: 1 us buckets up to 2 s */
#define PENDING_MAX 64      /* messages whose second part is not sent yet */

struct conn {
    int fd;
    int idx;
    char *path; /* request path (latency: prefix before the cursor) */
    char cursor[128];
    char *buf;
    size_t len;
    int sent;
    int done;
};

struct opts {
    const char *mode, *target, *paths, *publish, *request, *expect, *http,
        *user, *out;
    long n, settle, rate, seconds, blocks, gap_us;
};

/* Latency mode: a message whose block's second part waits for its gap. */
struct pending {
    long seq;
    long long due, first_ns;
};

/* Latency mode: the publisher (block seq-1 mod K is message seq's) and
 * what the polls received. */
struct lat_run {
    int fd;
    char *req;
    size_t block_len, head_len; /* head_len: the part sent first */
    size_t *marks;              /* placeholder offsets, ascending */
    long nmarks, blocks, total, sent;
    long long step_ns, gap_ns, next_ns, gap_sum_ns, run_id;
    struct pending ring[PENDING_MAX];
    int ring_head, ring_count;
    long long *stored_ns; /* [seq]: when the storing write went out */
    int *delivered;       /* [seq]: deliveries seen */
    long long *hist;      /* 1 us buckets */
    long long count, over, unmatched;
};

/* memmem is a GNU extension; this is the portable few lines. */
static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m)
        return NULL;
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

static void die(const char *what)
{
    fprintf(stderr, "lp_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* die() for what is not a failed system call. */
static void fail(const char *what)
{
    fprintf(stderr, "lp_client: %s\n", what);
    exit(1);
}

static long long now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Connects to unix:PATH or HOST:PORT; nonblocking when nb. */
static int dial(const char *target, int nb)
{
    int fd;

    if (strncmp(target, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", target + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
            die("socket");
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0 &&
            errno != EINPROGRESS && errno != EAGAIN)
            die("connect unix");
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        char host[64];
        const char *colon = strrchr(target, ':');
        int one = 1;
        if (!colon || (size_t)(colon - target) >= sizeof host)
            die("target");
        memcpy(host, target, (size_t)(colon - target));
        host[colon - target] = '\0';
        sin.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            die("address");
        fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
            die("socket");
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            die("setsockopt");
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 &&
            errno != EINPROGRESS)
            die("connect tcp");
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Length of a complete HTTP response in buf (Content-Length bodies), or
 * 0 while incomplete. *body points at its body. */
static size_t response_len(const char *buf, size_t len, const char **body,
                           size_t *body_len)
{
    const char *end = find(buf, len, "\r\n\r\n", 4), *cl;
    size_t hl, bl = 0;

    if (!end)
        return 0;
    hl = (size_t)(end - buf) + 4;
    cl = find(buf, hl, "Content-Length:", 15);
    if (!cl)
        cl = find(buf, hl, "content-length:", 15);
    if (cl)
        bl = (size_t)strtoul(cl + 15, NULL, 10);
    if (len < hl + bl)
        return 0;
    *body = buf + hl;
    *body_len = bl;
    return hl + bl;
}

/* Blocking request on fd; returns the body (static buffer) or NULL. */
static const char *roundtrip(int fd, const char *req, size_t req_len)
{
    static char buf[BUF_MAX];
    size_t len = 0;
    const char *body;
    size_t body_len;

    if (write_all(fd, req, req_len))
        return NULL;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        size_t total;
        if (r <= 0)
            return NULL;
        len += (size_t)r;
        total = response_len(buf, len, &body, &body_len);
        if (total) {
            buf[total] = '\0';
            return body;
        }
    }
}

/* Copies the string value of "name":"..." from json into out. */
static int json_str(const char *json, const char *name, char *out, size_t outsz)
{
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= outsz)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

/* POST /api on *fd; reconnects once when the server closed the
 * keep-alive connection (lighttpd ends one after 1000 requests). */
static const char *api(int *fd, const char *target, const char *body,
                       const char *key)
{
    char req[4096];
    const char *r;
    int n = snprintf(req, sizeof req,
                     "POST /api HTTP/1.1\r\nHost: bench\r\n%s%s%s"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     key ? "Authorization: Bearer " : "", key ? key : "",
                     key ? "\r\n" : "", strlen(body), body);
    r = roundtrip(*fd, req, (size_t)n);
    if (!r) {
        close(*fd);
        *fd = dial(target, 0);
        r = roundtrip(*fd, req, (size_t)n);
    }
    return r;
}

static int run_setup(const struct opts *o)
{
    int fd = dial(o->http, 0);
    FILE *out = fopen(o->out, "w");
    char key[160], body[512], session[64];
    const char *r;

    if (!out)
        die("output file");
    snprintf(body, sizeof body,
             "{\"type\":\"signIn\",\"signIn\":{\"username\":\"%s\","
             "\"password\":\"bench-password\"}}",
             o->user);
    r = api(&fd, o->http, body, NULL);
    if (!r || json_str(r, "accessKey", key, sizeof key))
        die("signIn");
    for (long i = 0; i < o->n; i++) {
        r = api(&fd, o->http, "{\"type\":\"ready\"}", NULL);
        if (!r || json_str(r, "sessionUUID", session, sizeof session))
            die("ready");
        snprintf(body, sizeof body,
                 "{\"type\":\"channelJoin\",\"sessionUUID\":\"%s\","
                 "\"channelJoin\":{\"recipientUUID\":\"\"}}",
                 session);
        r = api(&fd, o->http, body, key);
        if (!r || !strstr(r, "\"channelJoin\""))
            die("channelJoin");
        fprintf(out, "%s %s\n", session, key);
    }
    fclose(out);
    close(fd);
    return 0;
}

/* N users in pairs, each with one session that joins the private channel
 * with its partner: lines "session key". */
static int run_setup_pairs(const struct opts *o)
{
    int fd = dial(o->http, 0);
    FILE *out = fopen(o->out, "w");
    char body[512], (*keys)[160] = calloc((size_t)o->n, sizeof *keys),
                    (*uids)[64] = calloc((size_t)o->n, sizeof *uids),
                    (*sessions)[64] = calloc((size_t)o->n, sizeof *sessions);
    const char *r;

    if (!out || !keys || !uids || !sessions)
        die("setup");
    for (long i = 0; i < o->n; i++) {
        r = api(&fd, o->http, "{\"type\":\"ready\"}", NULL);
        if (!r || json_str(r, "sessionUUID", sessions[i], sizeof sessions[i]))
            die("ready");
        snprintf(body, sizeof body,
                 "{\"type\":\"signIn\",\"sessionUUID\":\"%s\",\"signIn\":{"
                 "\"username\":\"%s-%ld\",\"password\":\"bench-password\"}}",
                 sessions[i], o->user, i);
        r = api(&fd, o->http, body, NULL);
        if (!r || json_str(r, "accessKey", keys[i], sizeof keys[i]) ||
            json_str(r, "userUUID", uids[i], sizeof uids[i]))
            die("signIn");
    }
    for (long i = 0; i < o->n; i++) {
        long partner = i % 2 ? i - 1 : (i + 1 < o->n ? i + 1 : i);
        snprintf(body, sizeof body,
                 "{\"type\":\"channelJoin\",\"sessionUUID\":\"%s\","
                 "\"channelJoin\":{\"recipientUUID\":\"%s\"}}",
                 sessions[i], partner == i ? "" : uids[partner]);
        r = api(&fd, o->http, body, keys[i]);
        if (!r || !strstr(r, "\"channelJoin\""))
            die("channelJoin");
        fprintf(out, "%s %s\n", sessions[i], keys[i]);
    }
    free(keys);
    free(uids);
    free(sessions);
    fclose(out);
    close(fd);
    return 0;
}

static char **read_lines(const char *file, long n)
{
    FILE *f = fopen(file, "r");
    char **v = calloc((size_t)n, sizeof *v), line[2048];
    long i = 0;

    if (!f || !v)
        die("paths file");
    while (i < n && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        v[i++] = strdup(line);
    }
    fclose(f);
    if (i < n) {
        fprintf(stderr, "lp_client: only %ld paths\n", i);
        exit(1);
    }
    return v;
}

static char *read_file(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    size_t cap = 65536;
    char *p = malloc(cap);

    if (!f || !p)
        die("request file");
    *len = 0;
    for (;;) {
        size_t r = fread(p + *len, 1, cap - 1 - *len, f);
        *len += r;
        if (r == 0)
            break;
        if (*len + 1 >= cap) {
            char *q = realloc(p, cap * 2);
            if (!q)
                die("request file");
            p = q;
            cap *= 2;
        }
    }
    p[*len] = '\0';
    fclose(f);
    return p;
}

static void send_poll(struct conn *c, int latency)
{
    char req[2048];
    int n =
        snprintf(req, sizeof req, "GET %s%s HTTP/1.1\r\nHost: bench\r\n\r\n",
                 c->path, latency ? c->cursor : "");
    if (write_all(c->fd, req, (size_t)n))
        die("send poll");
    c->sent = 1;
}

/* Latency mode: a new connection for the next poll of c. */
static void redial(int ep, const struct opts *o, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

    if (c->fd >= 0) {
        if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) != 0)
            die("epoll_ctl del");
        close(c->fd);
    }
    c->fd = dial(o->target, 1);
    c->sent = 0;
    c->done = 0;
    c->len = 0;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

/* The answer's headers say the server closes the connection after it. */
static int closes(const char *head, size_t len)
{
    return find(head, len, "Connection: close", 17) != NULL ||
           find(head, len, "connection: close", 17) != NULL;
}

/* Length of the Redis command (RESP array of bulk strings) at the start
 * of p[0..n), or 0 when p does not start with a complete one. */
static size_t resp_command_len(const char *p, size_t n)
{
    const char *q = p, *end = p + n;
    char *e;
    long argc;

    if (n < 4 || *q != '*')
        return 0;
    argc = strtol(q + 1, &e, 10);
    if (argc <= 0 || end - e < 2 || memcmp(e, "\r\n", 2) != 0)
        return 0;
    q = e + 2;
    while (argc--) {
        long len;
        if (q >= end || *q != '$')
            return 0;
        len = strtol(q + 1, &e, 10);
        if (len < 0 || end - e < 4 || memcmp(e, "\r\n", 2) != 0 ||
            end - (e + 2) < len + 2 || memcmp(e + 2 + len, "\r\n", 2) != 0)
            return 0;
        q = e + 2 + len + 2;
    }
    return (size_t)(q - p);
}

/* Reads the request file and checks it against the options. */
static void lat_init(struct lat_run *l, const struct opts *o, int fd)
{
    size_t len;
    long room;

    l->fd = fd;
    l->req = read_file(o->request, &len);
    l->blocks = o->blocks;
    l->block_len = len / (size_t)o->blocks;
    if (len == 0 || len % (size_t)o->blocks != 0)
        fail("the request file is not --blocks blocks of one size");
    for (const char *m = strstr(l->req, PLACEHOLDER); m;
         m = strstr(m + 1, PLACEHOLDER))
        l->nmarks++;
    if (l->nmarks == 0)
        fail("no " PLACEHOLDER " in the request file");
    l->marks = calloc((size_t)l->nmarks, sizeof *l->marks);
    if (!l->marks)
        die("placeholders");
    l->nmarks = 0;
    for (const char *m = strstr(l->req, PLACEHOLDER); m;
         m = strstr(m + 1, PLACEHOLDER))
        l->marks[l->nmarks++] = (size_t)(m - l->req);
    l->head_len = l->block_len;
    if (o->gap_us > 0) {
        l->gap_ns = o->gap_us * 1000LL;
        l->head_len = resp_command_len(l->req, l->block_len);
        for (long b = 0; b < l->blocks; b++) {
            size_t h = resp_command_len(l->req + (size_t)b * l->block_len,
                                        l->block_len);
            if (h == 0 || h != l->head_len || h == l->block_len)
                fail("with --gap-us every block must be two Redis commands "
                     "or more, its first as long as in the other blocks");
        }
    }
    l->total = o->rate * o->seconds;
    l->step_ns = 1000000000LL / o->rate;
    room = l->blocks < PENDING_MAX ? l->blocks : PENDING_MAX;
    if (l->gap_ns && l->gap_ns / l->step_ns + 2 > room)
        fail("--gap-us is too long for --rate and --blocks");
    l->run_id = now_ns() / 1000 % 10000000000LL;
    l->stored_ns = calloc((size_t)l->total + 1, sizeof *l->stored_ns);
    l->delivered = calloc((size_t)l->total + 1, sizeof *l->delivered);
    l->hist = calloc(HIST_US, sizeof *l->hist);
    if (!l->stored_ns || !l->delivered || !l->hist)
        die("latency tables");
}

static void lat_free(struct lat_run *l)
{
    free(l->req);
    free(l->marks);
    free(l->stored_ns);
    free(l->delivered);
    free(l->hist);
}

static size_t block_of(const struct lat_run *l, long seq)
{
    return (size_t)((seq - 1) % l->blocks) * l->block_len;
}

/* Puts message seq's marker into every placeholder of its block. */
static void lat_stamp(struct lat_run *l, long seq)
{
    size_t lo = block_of(l, seq), hi = lo + l->block_len;
    char m[32];

    if (snprintf(m, sizeof m, "lat-%010lld%010ld", l->run_id, seq) !=
        (int)sizeof PLACEHOLDER - 1)
        fail("marker");
    for (long k = 0; k < l->nmarks; k++) {
        if (l->marks[k] >= lo && l->marks[k] < hi)
            memcpy(l->req + l->marks[k], m, sizeof PLACEHOLDER - 1);
    }
}

static void lat_send(const struct lat_run *l, size_t off, size_t n)
{
    if (write_all(l->fd, l->req + off, n))
        die("publish");
}

/* Sends what is due at t: second parts first (their gap is over), then
 * the next messages at the rate, while fewer messages than blocks wait
 * for their second part (a block is restamped for its next message). */
static void lat_tick(struct lat_run *l, long long t)
{
    int room = l->blocks < PENDING_MAX ? (int)l->blocks : PENDING_MAX;

    for (;;) {
        struct pending *q = &l->ring[l->ring_head];
        if (l->ring_count && q->due <= t) {
            long long ts = now_ns();
            l->stored_ns[q->seq] = ts;
            l->gap_sum_ns += ts - q->first_ns;
            lat_send(l, block_of(l, q->seq) + l->head_len,
                     l->block_len - l->head_len);
            l->ring_head = (l->ring_head + 1) % PENDING_MAX;
            l->ring_count--;
        } else if (l->sent < l->total && l->next_ns <= t &&
                   l->ring_count < room) {
            long seq = ++l->sent;
            long long ts;
            lat_stamp(l, seq);
            ts = now_ns();
            if (l->gap_ns) {
                q = &l->ring[(l->ring_head + l->ring_count++) % PENDING_MAX];
                q->seq = seq;
                q->first_ns = ts;
                q->due = ts + l->gap_ns;
            } else {
                l->stored_ns[seq] = ts;
            }
            lat_send(l, block_of(l, seq), l->head_len);
            l->next_ns += l->step_ns;
        } else {
            return;
        }
    }
}

/* Everything sent, and 2 s for the last deliveries. */
static int lat_done(const struct lat_run *l, long long t)
{
    return l->sent >= l->total && !l->ring_count &&
           t - l->next_ns > 2000000000LL;
}

/* The value of the n decimal digits at p, or -1. */
static long long digits(const char *p, int n)
{
    long long v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Every marker in a poll answer received at t is one delivery. */
static void lat_record(struct lat_run *l, const char *body, size_t len,
                       long long t)
{
    const char *p = body, *end = body + len;

    while ((p = find(p, (size_t)(end - p), "lat-", 4)) != NULL) {
        long long seq, us;
        p += 4;
        if (end - p < 20)
            break;
        seq = digits(p + 10, 10);
        if (digits(p, 10) != l->run_id || seq < 1 || seq > l->sent ||
            !l->stored_ns[seq]) {
            l->unmatched++;
            continue;
        }
        us = (t - l->stored_ns[seq]) / 1000;
        if (us >= 0 && us < HIST_US)
            l->hist[us]++;
        else
            l->over++;
        l->delivered[seq]++;
        l->count++;
    }
}

static double percentile(const struct lat_run *l, double q)
{
    long long want = (long long)(q * (double)l->count), seen = 0;

    for (long i = 0; i < HIST_US; i++) {
        seen += l->hist[i];
        if (seen > want)
            return (double)i / 1000.0;
    }
    return (double)HIST_US / 1000.0;
}

static void lat_report(const struct lat_run *l, long n)
{
    long undelivered = 0;

    for (long s = 1; s <= l->sent; s++)
        undelivered += l->delivered[s] == 0;
    printf("latency n=%ld published=%ld deliveries=%lld undelivered=%ld "
           "unmatched=%lld over2s=%lld gap_avg_ms=%.3f p50_ms=%.3f "
           "p90_ms=%.3f p99_ms=%.3f max_bucket_ms=%.3f\n",
           n, l->sent, l->count, undelivered, l->unmatched, l->over,
           l->gap_ns && l->sent ? (double)l->gap_sum_ns / 1e6 / (double)l->sent
                                : 0.0,
           percentile(l, 0.50), percentile(l, 0.90), percentile(l, 0.99),
           percentile(l, 0.99999));
}

/* One response on c is complete: returns 1 when it counts (fanout: has
 * the marker). Latency mode re-polls with the answer's cursor. */
static int on_response(const struct opts *o, struct conn *c, const char *body,
                       size_t body_len, long long t, struct lat_run *lat)
{
    int hit = 0;

    if (lat) {
        char tmp[128];
        char *copy = strndup(body, body_len);
        lat_record(lat, body, body_len, t);
        if (copy && json_str(copy, "cursor", tmp, sizeof tmp) == 0)
            snprintf(c->cursor, sizeof c->cursor, "%s", tmp);
        free(copy);
        return 0;
    }
    hit = find(body, body_len, o->expect, strlen(o->expect)) != NULL;
    return hit;
}

static int run_hold(const struct opts *o, int latency)
{
    char **paths = read_lines(o->paths, o->n);
    struct conn *cs = calloc((size_t)o->n, sizeof *cs);
    struct epoll_event *evs = calloc(1024, sizeof *evs);
    int ep = epoll_create1(0), pub;
    size_t pub_len = 0;
    char *pub_req = NULL; /* fanout: the request, sent once */
    struct lat_run lat = {0};
    long connected = 0, hits = 0, early = 0;
    long long t0 = 0, first = -1, last = -1, start;
    double pub_ms = -1;

    if (!cs || !evs || ep < 0)
        die("setup");
    if (!latency)
        pub_req = read_file(o->request, &pub_len);
    for (long i = 0; i < o->n; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                 .data.ptr = &cs[i]};
        cs[i].idx = (int)i;
        cs[i].path = paths[i];
        if (latency) {
            /* "path cursor": the path ends in "cursor=" */
            char *sp = strchr(paths[i], ' ');
            if (sp) {
                *sp = '\0';
                snprintf(cs[i].cursor, sizeof cs[i].cursor, "%s", sp + 1);
            }
        }
        cs[i].buf = malloc(BUF_MAX);
        cs[i].fd = dial(o->target, 1);
        if (!cs[i].buf || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0)
            die("epoll_ctl");
    }
    pub = dial(o->publish, 0);
    if (latency)
        lat_init(&lat, o, pub);
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, pub, &ev) != 0)
            die("epoll_ctl publisher");
    }
    start = now_ns();
    for (;;) {
        long long t = now_ns();
        int timeout = 50;
        int n;

        if (!latency && connected == o->n && !t0 &&
            t - start > o->settle * 1000000000LL) {
            t0 = now_ns();
            if (write_all(pub, pub_req, pub_len))
                die("publish");
            if (getenv("LP_DEBUG")) {
                struct timespec rt;
                clock_gettime(CLOCK_REALTIME, &rt);
                fprintf(stderr, "publish at %lld.%06ld\n", (long long)rt.tv_sec,
                        rt.tv_nsec / 1000);
            }
        }
        /* latency: starts once every poll is connected, then keeps the
         * rate while answered polls reconnect */
        if (latency && (lat.next_ns || connected == o->n)) {
            if (!lat.next_ns)
                lat.next_ns = t + o->settle * 1000000000LL;
            lat_tick(&lat, t);
            if (lat_done(&lat, t))
                break;
            timeout = 1;
        }
        if (!latency && t0 && (hits + early >= o->n || t - t0 > 30000000000LL))
            break;
        if (t - start > (o->settle + o->seconds + 120) * 1000000000LL)
            break;
        n = epoll_wait(ep, evs, 1024, timeout);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                /* the publisher's answers: read and drop */
                char junk[16384];
                if (t0 && pub_ms < 0)
                    pub_ms = (double)(now_ns() - t0) / 1e6;
                while (recv(pub, junk, sizeof junk, MSG_DONTWAIT) > 0)
                    ;
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && !c->sent) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                send_poll(c, latency);
                connected++;
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
                    die("epoll_ctl mod");
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, c->buf + c->len, BUF_MAX - 1 - c->len);
                const char *body;
                size_t body_len, total;
                long long tr = now_ns();
                if (r <= 0) {
                    if (!c->done && !latency)
                        early++;
                    c->done = 1;
                    if (latency) {
                        /* the server closed: re-poll on a new connection */
                        redial(ep, o, c);
                        connected--;
                        continue;
                    }
                    if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) != 0)
                        die("epoll_ctl del");
                    close(c->fd);
                    c->fd = -1;
                    continue;
                }
                c->len += (size_t)r;
                total = response_len(c->buf, c->len, &body, &body_len);
                if (!total)
                    continue;
                if (on_response(o, c, body, body_len, tr,
                                latency ? &lat : NULL)) {
                    if (!c->done && t0) {
                        hits++;
                        if (first < 0)
                            first = tr - t0;
                        last = tr - t0;
                    }
                    c->done = 1;
                } else if (!latency && !c->done) {
                    early++;
                    c->done = 1;
                }
                if (latency && closes(c->buf, total - body_len)) {
                    redial(ep, o, c); /* the next poll once it connects */
                    connected--;
                    continue;
                }
                memmove(c->buf, c->buf + total, c->len - total);
                c->len -= total;
                if (latency)
                    send_poll(c, 1);
            }
        }
    }
    if (latency) {
        lat_report(&lat, o->n);
    } else {
        printf("fanout n=%ld received=%ld early=%ld first_ms=%.2f "
               "last_ms=%.2f publish_answer_ms=%.2f\n",
               o->n, hits, early, first >= 0 ? (double)first / 1e6 : -1.0,
               last >= 0 ? (double)last / 1e6 : -1.0, pub_ms);
    }
    fflush(stdout);
    for (long i = 0; i < o->n; i++) {
        free(cs[i].buf);
        free(paths[i]);
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    }
    free(cs);
    free(paths);
    free(evs);
    free(pub_req);
    lat_free(&lat);
    close(pub);
    close(ep);
    return hits == o->n || latency ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .n = 1000, .settle = 3, .rate = 1000, .seconds = 5, .blocks = 1};

    if (argc < 2) {
        fprintf(stderr, "usage: see the header of bench/lp_client.c\n");
        return 2;
    }
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--target"))
            o.target = v;
        else if (!strcmp(k, "--paths"))
            o.paths = v;
        else if (!strcmp(k, "--publish"))
            o.publish = v;
        else if (!strcmp(k, "--request"))
            o.request = v;
        else if (!strcmp(k, "--expect"))
            o.expect = v;
        else if (!strcmp(k, "--http"))
            o.http = v;
        else if (!strcmp(k, "--user"))
            o.user = v;
        else if (!strcmp(k, "--out"))
            o.out = v;
        else if (!strcmp(k, "--n"))
            o.n = strtol(v, NULL, 10);
        else if (!strcmp(k, "--settle"))
            o.settle = strtol(v, NULL, 10);
        else if (!strcmp(k, "--rate"))
            o.rate = strtol(v, NULL, 10);
        else if (!strcmp(k, "--seconds"))
            o.seconds = strtol(v, NULL, 10);
        else if (!strcmp(k, "--blocks"))
            o.blocks = strtol(v, NULL, 10) > 0 ? strtol(v, NULL, 10) : 1;
        else if (!strcmp(k, "--gap-us"))
            o.gap_us = strtol(v, NULL, 10);
    }
    if (!strcmp(o.mode, "setup-pairs") && o.http && o.user && o.out)
        return run_setup_pairs(&o);
    if (!strcmp(o.mode, "setup") && o.http && o.user && o.out)
        return run_setup(&o);
    if (!strcmp(o.mode, "fanout") && o.target && o.paths && o.publish &&
        o.request && o.expect)
        return run_hold(&o, 0);
    if (!strcmp(o.mode, "latency") && o.target && o.paths && o.publish &&
        o.request && o.rate > 0 && o.rate <= 1000000000L && o.seconds > 0 &&
        o.gap_us >= 0)
        return run_hold(&o, 1);
    fprintf(stderr, "lp_client: bad arguments\n");
    return 2;
}
