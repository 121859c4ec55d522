/* config.h - every setting of both programs, read from the environment once.
 * config.c holds the only getenv() calls of the tree. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#define CONFIG_SENTINELS_MAX 8

/* One "host:port" of a list (REDIS_SENTINELS). */
struct config_addr {
    char host[256];
    int port;
};

struct config {
    char redis_host[256];     /* from REDIS_ADDRESS host part */
    int redis_port;           /* from REDIS_ADDRESS port part */
    char redis_address[300];  /* REDIS_ADDRESS, "host:port" or a socket path */
    char redis_password[256]; /* REDIS_PASSWORD (original), "" = no AUTH */
    char redis_username[128]; /* REDIS_USERNAME: ACL user for AUTH */
    int redis_db;             /* REDIS_DB: database number (SELECT) */
    int keyspace_setup;       /* CHAT_KEYSPACE_SETUP: may CONFIG SET notify */
    int redis_timeout_ms;     /* CHAT_REDIS_TIMEOUT_MS: connect and command */
    char sentinels[1024];     /* REDIS_SENTINELS: "host:port,..." or "" */
    struct config_addr sentinel[CONFIG_SENTINELS_MAX]; /* parsed from it */
    int n_sentinels;             /* 0 = REDIS_ADDRESS is the primary */
    char sentinel_master[128];   /* REDIS_SENTINEL_MASTER: monitored name */
    char sentinel_password[256]; /* REDIS_SENTINEL_PASSWORD: AUTH, "" none */
    int redis_wait;              /* CHAT_REDIS_WAIT: replicas a write waits
                                    for (WAIT) before its 200, 0 = none */
    int redis_wait_ms;           /* CHAT_REDIS_WAIT_MS: WAIT's timeout */
    char redis_label[1200];      /* what logs call the Redis */
    int threads;                 /* CHAT_THREADS: FastCGI worker threads */
    int pwhash_ops;              /* CHAT_PWHASH_OPSLIMIT: argon2id passes */
    long pwhash_mem;             /* CHAT_PWHASH_MEMLIMIT: argon2id bytes */
    int pwhash_concurrency;      /* CHAT_PWHASH_CONCURRENCY: hashes at once */
    int msg_rate;                /* CHAT_MSG_RATE: messages per user per 10 s */
    int signin_fails;         /* CHAT_SIGNIN_FAILS: failures per name / 5 min */
    int key_ttl;              /* CHAT_KEY_TTL: access key idle expiry, s */
    int session_ttl;          /* CHAT_SESSION_TTL: session idle expiry, s */
    int events_maxlen;        /* CHAT_EVENTS_MAXLEN: retained sys events */
    int log_level;            /* CHAT_LOG_LEVEL: err|warn|info|debug */
    char poller_socket[256];  /* CHAT_POLLER_SOCKET: unix socket path */
    char poller_address[300]; /* CHAT_POLLER_ADDRESS: "host:port" or "" */
    int poll_max_waiters;     /* CHAT_POLL_MAX_WAITERS: parked polls cap */
    int poll_max_hold;        /* CHAT_POLL_MAX_HOLD: longest poll hold, s */
    int poll_hold_slots;      /* CHAT_POLL_HOLD_SLOTS: 0 = per process */
    char cors_origins[1024];  /* CHAT_CORS_ORIGINS: "" = same origin only */
    int fcgi_poll;            /* CHAT_FCGI_POLL: chat.fcgi answers /poll */
    int users_cache_ms;       /* CHAT_USERS_CACHE_MS: reuse a users page, ms */
    int sse_heartbeat;        /* CHAT_SSE_HEARTBEAT: SSE comment every N s */
    int poller_idle;      /* CHAT_POLLER_IDLE: s to send a request (poller) */
    int poller_max_conns; /* CHAT_POLLER_MAX_CONNS: client connections */
    int poller_head_timeout; /* CHAT_POLLER_HEAD_TIMEOUT: s for a first head */
};

/* Loads every setting from the environment into *cfg. On a bad value writes
 * a message naming the variable into err and returns -1, else 0. */
int config_load(struct config *cfg, char *err, unsigned errlen);

/* Splits "host:port" into its parts; returns -1 when malformed. */
int config_split_address(const char *addr, char *host, unsigned hostlen,
                         int *port);

#endif
