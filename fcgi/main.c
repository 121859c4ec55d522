/* main.c - chat.fcgi: startup, FastCGI-or-CGI mode, the worker threads
 * (accept -> read -> dispatch -> write -> finish) and a clean SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <fcgiapp.h>

#include "common/auth.h"
#include "common/config.h"
#include "common/log.h"
#include "common/names.h"
#include "common/store.h"
#include "common/version.h"
#include "fcgi/db.h"
#include "fcgi/dispatch.h"
#include "fcgi/migrate.h"
#include "fcgi/poll.h"
#include "fcgi/request.h"
#include "fcgi/sentinel_watch.h"
#include "fcgi/users_cache.h"

static struct config cfg;

static void serve_one(struct db *db, struct request *rq, int read_rc,
                      struct reply *rep)
{
    if (read_rc == 0) {
        dispatch_request(db, &cfg, rq, rep);
        return;
    }
    struct chat_error e = {0};
    chat_fail(&e, CHAT_E_INTERNAL, "cannot read the request");
    reply_error(rep, &e);
}

static void *worker(void *arg)
{
    FCGX_Request fr;
    struct db db;

    (void)arg;
    db_init(&db, &cfg);
    if (FCGX_InitRequest(&fr, 0, 0) != 0) {
        log_err("FCGX_InitRequest failed");
        return NULL;
    }
    while (FCGX_Accept_r(&fr) >= 0) {
        struct request rq;
        struct reply rep;
        reply_init(&rep);
        serve_one(&db, &rq, request_read_fcgi(&rq, &fr), &rep);
        if (reply_write_fcgi(&rep, &fr))
            log_info("client went away before the reply");
        request_free(&rq);
        reply_free(&rep);
        request_finish_fcgi(&fr);
    }
    FCGX_Free(&fr, 0);
    db_close(&db);
    return NULL;
}

static int serve_cgi(void)
{
    struct request rq;
    struct reply rep;
    struct db db;
    int rc;

    db_init(&db, &cfg);
    reply_init(&rep);
    serve_one(&db, &rq, request_read_cgi(&rq), &rep);
    rc = reply_write_cgi(&rep);
    request_free(&rq);
    reply_free(&rep);
    db_close(&db);
    return rc ? 1 : 0;
}

/* libfcgi's own handlers only set a flag that threads blocked in accept()
 * never see (PLATFORM F2): block the signals in every thread, wait for
 * them here, then wake the acceptors by shutting the listen socket. */
static int serve_fcgi(void)
{
    pthread_t *tids;
    sigset_t set;
    int sig = 0, started = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    tids = calloc((size_t)cfg.threads, sizeof *tids);
    if (!tids)
        return 1;
    for (int i = 0; i < cfg.threads; i++) {
        if (pthread_create(&tids[i], NULL, worker, NULL) != 0) {
            log_err("cannot start worker thread %d", i);
            break;
        }
        started++;
    }
    if (cfg.n_sentinels && sentinel_watch_start(&cfg) != 0)
        log_err("cannot start the sentinel switch watch");
    log_info("chat.fcgi ready: %d threads, redis %s", started, cfg.redis_label);
    if (cfg.fcgi_poll && cfg.poll_hold_slots == 0 && cfg.threads == 1)
        log_warn("CHAT_THREADS=1 with CHAT_POLL_HOLD_SLOTS=0: this process "
                 "holds no /poll (each answers at once with pollAfter); set "
                 "CHAT_POLL_HOLD_SLOTS for one-request processes (mod_fcgid)");
    if (started > 0)
        sigwait(&set, &sig);
    log_info("chat.fcgi stopping (signal %d)", sig);
    FCGX_ShutdownPending();
    poll_shutdown();
    shutdown(0, SHUT_RDWR);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    sentinel_watch_stop();
    free(tids);
    return started > 0 ? 0 : 1;
}

static const char usage[] =
    "usage: chat.fcgi               FastCGI responder (stdin is the socket, "
    "as\n"
    "                               spawn-fcgi, lighttpd and mod_fcgid start "
    "it),\n"
    "                               or one CGI request (GATEWAY_INTERFACE "
    "set)\n"
    "       chat.fcgi --migrate     move password hashes out of the users "
    "records\n"
    "                               and index every name for confusables\n"
    "       chat.fcgi --help | --version\n"
    "Settings come from the environment (REDIS_ADDRESS, REDIS_PASSWORD,\n"
    "REDIS_DB, CHAT_*): see the README's Configuration table.\n";

/* A CGI request under a bad configuration still gets a JSON 500 (the
 * server would otherwise show its own page for an empty reply). */
static int cgi_config_error(void)
{
    struct reply rep;
    struct chat_error e = {0};

    reply_init(&rep);
    chat_fail(&e, CHAT_E_INTERNAL, "server configuration (see its log)");
    reply_error(&rep, &e);
    reply_write_cgi(&rep);
    reply_free(&rep);
    return 1;
}

int main(int argc, char **argv)
{
    char err[256];
    int rc, migrate = 0;

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("chat.fcgi %s\n", CHAT_VERSION);
            return 0;
        }
        if (strcmp(argv[1], "--migrate") != 0 || argc > 2) {
            fputs(usage, stderr);
            return 2;
        }
        migrate = 1;
    }
    if (!migrate && FCGX_IsCGI() && !request_is_cgi_env()) {
        /* started by hand: no FastCGI socket on stdin, no CGI request */
        fputs(usage, stderr);
        return 2;
    }
    if (config_load(&cfg, err, sizeof err)) {
        log_err("configuration: %s", err);
        if (!migrate && FCGX_IsCGI())
            return cgi_config_error();
        return 2;
    }
    log_set_level((enum log_level)cfg.log_level);
    if (store_init() || auth_init(&cfg) || names_init()) {
        log_err("initialisation failed");
        return 1;
    }
    if (migrate) {
        rc = migrate_password_hashes(&cfg);
        names_cleanup();
        auth_cleanup();
        return rc;
    }
    if (FCGX_Init() != 0) {
        log_err("FCGX_Init failed");
        return 1;
    }
    /* one request per process as CGI: nothing to share */
    users_cache_init(FCGX_IsCGI() ? 0 : cfg.users_cache_ms);
    rc = FCGX_IsCGI() ? serve_cgi() : serve_fcgi();
    users_cache_free();
    names_cleanup(); /* every worker has stopped */
    auth_cleanup();
    return rc;
}
