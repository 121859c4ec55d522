/* store.h - every Redis key and command of the data model.
 *
 * Each operation is one Lua script, common/lua/<operation>.lua (one round
 * trip, atomic: checks first, then writes, so a user, channel or message is
 * stored whole or not at all).
 * This module builds the argv of EVALSHA (EVAL on NOSCRIPT) and parses the
 * replies; it never sends: fcgi uses hiredis sync, the poller hiredis async.
 *
 * Keys of the original Go server (names, types, encodings kept):
 *   users                          list   user JSON + "\n" each     -
 *   usersUsernameListIndex.<md5>   string index into users          -
 *   usersUUIDListIndex.<uuid>      string index into users          -
 *   userAccessKey.<uuid>           string newest access key         -
 *   userStatus.<uuid>              string time; exists = online     60 s
 *   userSession.<session>          string time                      session
 *   channelSenderRecipient.<a>.<b> string private channel (both ways) -
 *   channelUsers.<channel>         hash   member uuid -> time        -
 *   channelMessages.<channel>      list   message JSON + "\n"        -
 *   PUBLISH <channel>              the same bytes as the RPUSH (the Go
 *                                  server sends it first, then RPUSHes)
 *   __keyspace@<db>__:channelMessages.<channel>  keyspace notification of
 *                                  each list write, when the server has
 *                                  notify-keyspace-events K + l (or A)
 * Keys of this project (prefix "rcg:", never touched by the original):
 *   rcg:key.<accessKey>            string user uuid          key TTL, sliding
 *   rcg:session.<session>          hash   user ch r jn pos sys nid  session
 *   rcg:events                     stream s t u n r        capped (MAXLEN ~)
 *   PUBLISH rcg:wake <scope>       wakes pollers after each XADD
 *   rcg:pw.<uuid>                  string argon2id hash of the password  -
 *                                  (the users record's Password holds a
 *                                  sealed token: see auth.h)
 *   rcg:fails.<md5>                string failed sign-ins of a name   300 s
 *   rcg:tries.<md5>.<addr>         string sign-in attempts of a name from
 *                                  one client address                 300 s
 *   rcg:slow.<md5>                 string one attempt per 10 s (a name
 *                                  past 10 x CHAT_SIGNIN_FAILS failures) 10 s
 *   rcg:rate.<uuid>                string messages in the window      10 s
 *   rcg:cid.<uuid>.<clientId>      string channel TAB list length after
 *                                  it TAB message uuid (a retried
 *                                  channelMessage reads it back)       600 s
 *   rcg:holds                      zset   chat.fcgi polls held now (token ->
 *                                  expiry), CHAT_POLL_HOLD_SLOTS > 0   hold
 *   rcg:skel.<md5>                 string uuid of the first user whose
 *                                  name has that confusable key (names.h) -
 *   rcg:skelpos                    string users elements the rcg:skel
 *                                  index has seen, in list order       -
 *   rcg:read.<uuid>                hash   unread counts: "public" or the
 *                                  other member's uuid -> position of
 *                                  channelMessages.<ch> read to        -
 *   rcg:notice.<uuid>              stream private-message notices of the
 *                                  user: t u n r m (MAXLEN ~ 100) session
 *   PUBLISH rcg:wake u.<uuid>      wakes that user's polls (a notice)
 * A session follows one channel: ch (channel id, "" = none), r (recipient
 * uuid as seen by this session, "" = public), jn (join counter), pos (length
 * of channelMessages.<ch> when its last channelJoin read history), sys
 * (rcg:events id at its ready), nid ("<ms>-0" at its ready: the notices of
 * its user after it are due).
 */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/cursor.h"
#include "common/errors.h"
#include "common/names.h"
#include "common/uuid.h"

#define STORE_PREFIX       "rcg:"
#define STORE_WAKE_CHANNEL STORE_PREFIX "wake"
/* the rcg:wake scope of one user's notices: "u.<uid>" */
#define STORE_USER_SCOPE "u."
#define STORE_HISTORY    10
/* messages in one S_MESSAGE call (a channelMessageBatch request) */
#define STORE_BATCH_MAX 32
/* 3 common + 9 for the first message + 6 for each further one */
#define STORE_ARGS_MAX  (12 + 6 * (STORE_BATCH_MAX - 1))
#define STORE_SKEL_KEYS NAMES_KEYS_MAX
#define STORE_KEY_MAX   256 /* a key or pub/sub name built here */
/* notify-keyspace-events flags this project needs: K (keyspace channel)
 * and l (list commands; A includes it). */
#define STORE_NOTIFY_FLAGS_MAX 32

/* One per file of common/lua/ (the build checks the count). */
enum store_script {
    S_PLAIN = -1, /* not a script: a plain command */
    S_READY,
    S_USER_BY_NAME,
    S_SIGNIN_FAIL,
    S_SIGNIN_REFUND,
    S_SIGNIN,
    S_SIGNOUT,
    S_JOIN,
    S_LEAVE,
    S_MESSAGE,
    S_POLL,
    S_CHANNEL_READ,
    S_AUTH,
    S_PW_MOVE,
    S_HOLD_TAKE,
    S_SKEL_TAIL,
    S_SKEL_ADD,
    S_UNREAD,
    S__MAX
};

/* A built command. argv points into the caller's strings (borrowed until
 * the command is sent) and into numbuf. */
struct store_call {
    enum store_script script;
    int argc;
    const char *argv[STORE_ARGS_MAX];
    size_t argvlen[STORE_ARGS_MAX];
    char numbuf[6][24];
    int nums;
    char keybuf[STORE_KEY_MAX]; /* a key name built for a plain command */
};

/* Computes the scripts' SHA1s (the texts are built into the program from
 * common/lua/); call once at startup, before any thread builds a command.
 * Returns 0. */
int store_init(void);

/* After a NOSCRIPT reply: switch c to EVAL with the script text (a plain
 * command stays as it is). */
void store_call_use_eval(struct store_call *c);

/* Nonzero when r is a NOSCRIPT error (send again after use_eval). */
int store_reply_noscript(const redisReply *r);

/* Maps an error reply to chat_err (script errors, or CHAT_E_REDIS for
 * server errors such as LOADING or OOM) and fills e. */
enum chat_err store_reply_error(const redisReply *r, struct chat_error *e);

/* --- builders: one per operation; strings are borrowed --- */

/* S_READY -- input: session uuid. output: bulk id of rcg:events at ready.
 * Writes userSession.<s>, rcg:session.<s>. */
void store_ready(struct store_call *c, const struct config *cfg,
                 const char *session);

/* A name as the store looks it up: the md5 hex of its NFC form (the
 * usersUsernameListIndex of a name created here), of the bytes as typed
 * ("" when those are the NFC form; a Go record may be stored so), and its
 * confusable keys (rcg:skel). */
struct store_name {
    char md5[33];
    char typed_md5[33];
    char skel[STORE_SKEL_KEYS][33];
    int nskel;
};

/* S_USER_BY_NAME -- input: the name, attempt limit, the client's address
 * (counts this attempt in rcg:tries.<md5>.<addr>, md5 of the NFC form;
 * past ten times the limit in failures of the name, one attempt per 10 s).
 * output: [user JSON, rcg:pw hash or nil, 0, 0] for the NFC name's record,
 * else the typed name's; [nil, nil, similar, behind] when the name is
 * free: similar 1 when an rcg:skel key of the name is taken, behind 1 when
 * rcg:skelpos is short of the users list. Error CHAT429:signin <ttl>. */
void store_user_by_name(struct store_call *c, const struct store_name *n,
                        int fail_limit, const char *addr);

/* S_SIGNIN_REFUND -- input: md5, client address. output: 1. Gives back
 * an attempt that never reached a verdict (hashing had no memory). */
void store_signin_refund(struct store_call *c, const char *md5,
                         const char *addr);

/* S_SIGNIN_FAIL -- input: md5. output: failure count. */
void store_signin_fail(struct store_call *c, const char *md5);

/* S_SIGNIN -- input: the fields below. output: 1. Errors
 * CHAT404/403:session, CHAT409:taken (create: the name exists),
 * CHAT409:similar (create: one of its rcg:skel keys is taken). Writes
 * users + indexes + rcg:pw + rcg:skel keys (create; rcg:skelpos follows
 * when it had reached the new record) or the record + rcg:pw (hash
 * moved), rcg:key, userAccessKey, userStatus, rcg:session user, XADD
 * signIn. */
struct store_signin_args {
    const char *uid, *name, *md5;
    const char *user_json; /* "" = existing user; else the record to store */
    const char *old_json;  /* "" = create user_json; else the record that
                              user_json replaces (its hash moved to pw_hash) */
    const char *pw_hash;   /* rcg:pw value for a create or a move */
    const char *key;       /* the new access key */
    const char *session;   /* "" = none */
    const char *addr;      /* the client's address: its attempts are reset */
    const struct store_name *skel; /* create: the rcg:skel keys; NULL = none */
};
void store_signin(struct store_call *c, const struct config *cfg,
                  const struct store_signin_args *a);

/* S_SKEL_TAIL -- input: count. output: [rcg:skelpos, [users elements
 * from there, at most count]]: the records the confusable index has not
 * seen. Read only. */
void store_skel_tail(struct store_call *c, long count);

/* S_SKEL_ADD -- input: the record's position, its uuid, its name's keys
 * (n NULL = none: an unreadable record). output: 1. SET NX of each
 * rcg:skel key (the first user keeps it), and rcg:skelpos = pos + 1 when
 * it was pos. Pipelined in list order by the catch-up. */
void store_skel_add(struct store_call *c, long pos, const char *uid,
                    const struct store_name *n);

/* S_PW_MOVE -- input: uid, the record as read, the record with a sealed
 * Password, the hash. output: 1 moved, 0 the record changed meanwhile
 * (nothing written). For `chat.fcgi --migrate`. */
void store_pw_move(struct store_call *c, const char *uid, const char *old_json,
                   size_t old_len, const char *new_json, const char *pw_hash);

/* S_SIGNOUT -- input: key, claimed uid ("" = none), target uid ("" = self),
 * session. output: bulk uid. Deletes the key, userStatus; clears the
 * session's user and channel; XADD channelLeave, signOut. */
void store_signout(struct store_call *c, const struct config *cfg,
                   const char *key, const char *claimed, const char *target,
                   const char *session);

/* S_JOIN -- input: key, claimed, recipient ("" = public), session, a fresh
 * uuid for a new private channel. output: [channel, [history...],
 * [member uuid...], userinfo] where userinfo is flat [uuid, name|nil,
 * online]... Writes channelSenderRecipient (new pair), channelUsers,
 * rcg:session ch/r/jn/pos, XADD channelLeave (old channel), channelJoin. */
void store_join(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed, const char *recipient, const char *session,
                const char *new_channel);

/* S_LEAVE -- input: key, claimed, recipient, session. output: [uid].
 * Clears the session's channel when it is that one; XADD channelLeave. */
void store_leave(struct store_call *c, const struct config *cfg,
                 const char *key, const char *claimed, const char *recipient,
                 const char *session);

/* One message of S_MESSAGE; strings borrowed. */
struct store_new_message {
    const char *recipient;   /* "" = public */
    const char *new_channel; /* a fresh uuid, for a new private pair */
    const char *uuid;
    const char *json; /* the text already encoded as a JSON string */
    size_t json_len;
    const char *created;
    const char *client_id; /* "" = none */
};

/* S_MESSAGE -- input: key, claimed, n messages of one sender (1 ..
 * STORE_BATCH_MAX), stored in order, all or none. output: [uid, stored
 * bytes, channel, userinfo of the sender and every recipient, replayed,
 * [bytes, channel, replayed, ...] of messages 2..n]. RPUSH
 * channelMessages.<ch> and PUBLISH <ch> of the same bytes (the original's
 * format); CHAT429:rate <ttl> over the rate limit. With a client id the
 * bytes are kept in rcg:cid.<uid>.<id> for 10 minutes, and a retry answers
 * them (replayed 1) without storing or counting anything. */
void store_messages(struct store_call *c, const struct config *cfg,
                    const char *key, const char *claimed,
                    const struct store_new_message *m, size_t n);

/* S_POLL -- input: key, session, cursor parts (jn "" = none, sys id "",
 * pos, check "" = none), batch limit, the cursor's notice id ("" = the
 * session's start). output: [sys id, jn, pos, channel, reset,
 * [[id, [field, value...]]...], [message...], userinfo, uid, notice id it
 * started after, notice id, [[id, [field, value...]]...]
 * (rcg:notice.<uid>), check before the messages]. Refreshes the session,
 * userSession and userStatus (presence); moves the user's rcg:read
 * position of the channel followed to the answer's pos. */
void store_poll(struct store_call *c, const struct config *cfg, const char *key,
                const char *session, const char *jn, const char *sys_after,
                long pos, const char *chk, int limit, const char *notice_after);

/* S_UNREAD -- input: key, claimed uid ("" = none). output: [uid,
 * [recipient ("" = public), count, ...]] for every channel of the caller
 * with unread messages (rcg:read.<uid>). Read only. */
void store_unread(struct store_call *c, const struct config *cfg,
                  const char *key, const char *claimed);

/* S_CHANNEL_READ -- input: channel id, first position, count (read
 * only; the poller's fan-out: one read answers every parked poll of the
 * channel). output: [llen, [message...], userinfo, cursor check at the
 * first position]. */
void store_channel_read(struct store_call *c, const char *channel, long from,
                        long count);

/* S_AUTH -- input: key, claimed uid ("" = none). output: bulk uid.
 * Refreshes the key's TTL; CHAT401:key / CHAT403:user. */
void store_auth(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed);

/* S_HOLD_TAKE -- input: a token, the hold's seconds, the slot count.
 * output: 1 (rcg:holds has the token until now + hold) or 0 (all taken).
 * Expired holders are dropped first. ZREM gives it back. */
void store_hold_take(struct store_call *c, const char *token, int hold_s,
                     int max);
void store_hold_give(struct store_call *c, const char *token);

/* LLEN users -- output: integer. */
void store_users_count(struct store_call *c);

/* LRANGE users offset offset+limit-1 -- output: [user JSON...]. */
void store_users_range(struct store_call *c, long offset, long limit);

/* MGET userStatus.<uuid>... -- presence of n users (online = non-nil).
 * A command whose argv is allocated: free with store_mget_free. */
struct store_mget {
    int argc;
    const char **argv;
    size_t *argvlen;
    char *keys;
};
int store_presence(struct store_mget *c, char (*uuids)[UUID_SIZE], size_t n);
void store_mget_free(struct store_mget *c); /* NULL-safe */

/* The AUTH argv of cfg (AUTH [username] password) into argv[3]; returns
 * its length, 0 when no password is set (no AUTH). */
int store_auth_argv(const struct config *cfg, const char *argv[3]);

/* Health probe argv: PING. */
void store_ping(struct store_call *c);

/* LPOS channelMessages.<channel> <payload> RANK -1 MAXLEN 1000 -- output:
 * integer (stored) or nil (not yet). The poller asks this after a PUBLISH
 * to know whether the Go server's RPUSH has landed. payload borrowed.
 * Returns -1 when the channel name is too long. */
int store_message_probe(struct store_call *c, const char *channel,
                        const char *payload, size_t len);

/* --- keyspace notifications (wake on the list write itself) --- */

/* The keyspace channel of channelMessages.<channel> in db into out;
 * channel "*" gives the PSUBSCRIBE pattern of every chat list. Returns
 * -1 when it does not fit. */
int store_keyspace_name(char *out, size_t n, int db, const char *channel);

/* The chat channel a keyspace notification name is about, or NULL when
 * name is not the keyspace channel of a chat list of db. */
const char *store_keyspace_channel_of(const char *name, int db);

/* CONFIG GET notify-keyspace-events. */
void store_notify_get(struct store_call *c);

/* The flags of a CONFIG GET reply into flags. Returns 0, or -1 when the
 * reply is an error (CONFIG renamed away, ACL) or of another shape. */
int store_notify_parse(const redisReply *r, char *flags, size_t n);

/* Nonzero when flags make Redis notify every chat list write. */
int store_notify_covers(const char *flags);

/* CONFIG SET notify-keyspace-events <current flags + K + l>. */
void store_notify_set(struct store_call *c, const char *current);

/* --- reply shapes --- */

/* One user of a userinfo list (flat [uuid, name|nil, online]...).
 * Strings borrowed from the reply. */
struct store_user {
    const char *uuid;
    const char *name; /* NULL when the user is unknown */
    size_t name_len;
    int online;
};

/* Flat userinfo reply -> array (caller frees *out with free()). Returns the
 * count, or -1 when the reply is malformed. */
long store_parse_userinfo(const redisReply *flat, struct store_user **out);

/* The poll reply, borrowed from the redisReply. */
struct store_poll_result {
    const char *sys_id;
    const char *jn;
    long pos;
    const char *channel;
    int reset;
    const redisReply *events;   /* array of [id, [k, v, ...]] */
    const redisReply *messages; /* array of stored message bulks */
    const redisReply *userinfo;
    const char *uid;           /* the session's user */
    const char *notice_from;   /* rcg:notice id the read started after */
    const char *notice_id;     /* rcg:notice id after its notices */
    const redisReply *notices; /* array of [id, [k, v, ...]] */
    const char *chk0; /* cursor check before the messages ("" = none) */
};

/* The cursor check of a list element (for a cursor just past it) into
 * out: the first CURSOR_CHK_LEN hex digits of its SHA-1, as the scripts'
 * chk_before computes it with redis.sha1hex. */
void store_element_check(const char *elem, size_t len,
                         char out[CURSOR_CHK_LEN + 1]);

/* The cursor check at r->pos (after the messages) into out. */
void store_poll_check(const struct store_poll_result *r,
                      char out[CURSOR_CHK_LEN + 1]);

/* The channel read reply, borrowed from the redisReply. */
struct store_channel_result {
    long llen;
    const redisReply *messages;
    const redisReply *userinfo;
    const char *chk_from; /* cursor check at the first position read */
};

/* Returns 0, or -1 when the reply has an unexpected shape. */
int store_parse_channel_read(const redisReply *r,
                             struct store_channel_result *out);

/* Returns 0, or -1 when the reply has an unexpected shape. */
int store_parse_poll(const redisReply *r, struct store_poll_result *out);

#endif
