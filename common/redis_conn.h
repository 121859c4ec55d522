/* redis_conn.h - the one way both programs reach Redis.
 *
 * The primary is REDIS_ADDRESS, or with REDIS_SENTINELS the one Sentinel
 * names: each sentinel in turn (the last one that answered first) is asked
 * SENTINEL get-master-addr-by-name REDIS_SENTINEL_MASTER with a short
 * timeout (AUTH REDIS_SENTINEL_PASSWORD first), and the answer is checked
 * with ROLE on the primary itself; a sentinel whose answer is not a primary
 * (it has not seen a switch yet) is passed over for the next. The answer is
 * kept for the process until redis_conn_forget() (a connection error,
 * READONLY): the next connection asks again.
 *
 * A connection uses CHAT_REDIS_TIMEOUT_MS for connect and commands, then
 * AUTH (REDIS_USERNAME, REDIS_PASSWORD) and SELECT REDIS_DB.
 *
 * Synchronous, thread-safe (chat.fcgi's workers). The poller's async
 * connections take the address from poller/sentinel.c, which uses the
 * parsers below. */
#ifndef CHAT_REDIS_CONN_H
#define CHAT_REDIS_CONN_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "common/config.h"

/* A sentinel is given at most this long (or CHAT_REDIS_TIMEOUT_MS when
 * shorter) to connect and to answer, so that a dead one costs little. */
#define REDIS_CONN_SENTINEL_TIMEOUT_MS 500

struct redis_addr {
    char host[256]; /* a host, or a unix socket path (port 0) */
    int port;
};

/* A ready connection to the primary, or NULL with the reason in why. */
redisContext *redis_conn_open(const struct config *cfg, char *why, size_t n);

/* The primary may have moved: the next redis_conn_open() asks Sentinel
 * again. A no-op without REDIS_SENTINELS. */
void redis_conn_forget(void);

/* A sentinel announced that the primary is now at a (+switch-master). */
void redis_conn_switched(const struct redis_addr *a);

/* Counts the primary's moves seen by this process (a switch announced, or
 * a new address found after redis_conn_forget()). A connection opened at
 * an older count is to be dropped: the old primary may still take writes
 * (until Sentinel demotes it), and they would be lost. */
unsigned redis_conn_generation(void);

/* A connection to sentinel i of cfg->sentinel[] (short timeout, AUTH
 * done), or NULL with why. */
redisContext *redis_conn_sentinel_open(const struct config *cfg, int i,
                                       char *why, size_t n);

/* Asks sentinel i where the primary is: 0 with *out, or -1 with why. */
int redis_conn_sentinel_ask(const struct config *cfg, int i,
                            struct redis_addr *out, char *why, size_t n);

/* A connection to a (the primary's) address with cfg's timeout, AUTH and
 * SELECT; no Sentinel and no ROLE check. NULL with why on failure. */
redisContext *redis_conn_open_addr(const struct config *cfg,
                                   const struct redis_addr *a, char *why,
                                   size_t n);

/* The address REDIS_ADDRESS names. */
void redis_conn_plain_addr(const struct config *cfg, struct redis_addr *out);

/* "host:port" (or the socket path) of a, into buf; returns buf. */
const char *redis_conn_addr_str(const struct redis_addr *a, char *buf,
                                size_t n);

/* Nonzero when two addresses are the same. */
int redis_conn_addr_eq(const struct redis_addr *a, const struct redis_addr *b);

/* --- the replies of Sentinel and of ROLE (pure: unit-tested) --- */

/* The reply of SENTINEL get-master-addr-by-name: [host, port]. 0, or -1
 * (nil: the sentinel does not know the name; an error; malformed). */
int redis_conn_parse_master_addr(const redisReply *r, struct redis_addr *out);

/* 1 when a ROLE reply says "master". */
int redis_conn_role_is_master(const redisReply *r);

/* The payload of a +switch-master message, "<name> <old-host> <old-port>
 * <new-host> <new-port>": 0 with the new address when it is about master,
 * -1 otherwise. */
int redis_conn_parse_switch(const char *payload, const char *master,
                            struct redis_addr *out);

/* 1 when r is an error saying that this server no longer takes writes as
 * the primary (READONLY, NOREPLICAS, MASTERDOWN): ask Sentinel again. */
int redis_conn_moved_error(const redisReply *r);

#endif
