/* auth.h - passwords (argon2id via libsodium, bounded concurrency), access
 * keys and the other random and derived identifiers of the data model. */
#ifndef CHAT_AUTH_H
#define CHAT_AUTH_H

#include <stddef.h>
#include <sodium.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/uuid.h"

#define AUTH_HASH_MAX crypto_pwhash_STRBYTES

/* sodium_init and the hash semaphore. Returns 0 or -1. */
int auth_init(const struct config *cfg);
void auth_cleanup(void);

/* argon2id string of pw into out. At most cfg->pwhash_concurrency run at
 * once (each takes pwhash_mem bytes). Returns CHAT_OK, CHAT_E_HASH_MEMORY
 * when the memory cannot be had (a process memory cap: an outage, logged
 * with the setting to lower), or CHAT_E_INTERNAL. */
enum chat_err auth_hash_password(const char *pw, size_t len,
                                 char out[AUTH_HASH_MAX], struct chat_error *e);

/* Whether pw matches stored: an argon2id string, or the plaintext an
 * original Go server wrote (compared in constant time). */
enum auth_verdict {
    AUTH_MISMATCH = 0,
    AUTH_MATCH = 1,
    AUTH_NO_MEMORY = -1, /* the hash could not be computed: not a verdict */
};
enum auth_verdict auth_verify_password(const char *stored, size_t stored_len,
                                       const char *pw, size_t len);

/* The Password of a users record whose hash is in rcg:pw.<uuid>: the Go
 * server hands whole records to every WebSocket client, so the record
 * holds this instead of the hash: a prefix and 256 random bits (64 hex).
 * This server never compares a password with it. */
#define AUTH_SEALED_PREFIX "rcg-sealed:"
#define AUTH_SEALED_MAX    (sizeof AUTH_SEALED_PREFIX + 64)
void auth_sealed_token(char out[AUTH_SEALED_MAX]);

/* Nonzero for an argon2id string / a sealed token. */
int auth_is_hash(const char *s);
int auth_is_sealed(const char *s);

/* A random (uuid4) identifier, lowercase canonical. Access keys, sessions,
 * users, channels and messages all use it. */
void auth_new_uuid(char out[UUID_SIZE]);

/* Lowercase md5 hex of the raw name bytes (usersUsernameListIndex). */
void auth_username_md5(const char *name, size_t len, char out[33]);

#endif
