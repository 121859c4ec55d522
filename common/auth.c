/* auth.c - password hashing and verification, identifiers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <semaphore.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/md5.h>
#include <uuid/uuid.h>

#include "common/auth.h"

static sem_t hash_slots;
static int hash_slots_ready;
static unsigned long long ops_limit;
static size_t mem_limit;

int auth_init(const struct config *cfg)
{
    if (sodium_init() < 0)
        return -1;
    ops_limit = (unsigned long long)cfg->pwhash_ops;
    mem_limit = (size_t)cfg->pwhash_mem;
    if (!hash_slots_ready) {
        if (sem_init(&hash_slots, 0, (unsigned)cfg->pwhash_concurrency))
            return -1;
        hash_slots_ready = 1;
    }
    return 0;
}

void auth_cleanup(void)
{
    if (hash_slots_ready) {
        sem_destroy(&hash_slots);
        hash_slots_ready = 0;
    }
}

static void slot_take(void)
{
    while (sem_wait(&hash_slots) != 0 && errno == EINTR)
        ;
}

enum chat_err auth_hash_password(const char *pw, size_t len,
                                 char out[AUTH_HASH_MAX], struct chat_error *e)
{
    int rc;

    slot_take();
    errno = 0;
    rc = crypto_pwhash_str_alg(out, pw, len, ops_limit, mem_limit,
                               crypto_pwhash_ALG_ARGON2ID13);
    sem_post(&hash_slots);
    if (rc != 0 && errno == ENOMEM)
        return chat_fail(e, CHAT_E_HASH_MEMORY, NULL);
    if (rc != 0)
        return chat_fail(e, CHAT_E_INTERNAL, "password hashing failed");
    return CHAT_OK;
}

/* Whether the m= cost (KiB) of an argon2id string can be allocated now. */
static int hash_memory_available(const char *hash)
{
    const char *m = strstr(hash, "$m=");
    unsigned long kib;
    void *p;

    if (!m)
        return 1;
    kib = strtoul(m + 3, NULL, 10);
    if (kib == 0 || kib > SIZE_MAX / 1024)
        return 1;
    p = malloc(kib * 1024);
    free(p);
    return p != NULL;
}

enum auth_verdict auth_verify_password(const char *stored, size_t stored_len,
                                       const char *pw, size_t len)
{
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];

    if (auth_is_sealed(stored))
        return AUTH_MISMATCH; /* its hash is elsewhere; never a password */
    if (auth_is_hash(stored)) {
        char hash[AUTH_HASH_MAX];
        int ok;
        if (stored_len >= sizeof hash)
            return 0;
        memcpy(hash, stored, stored_len);
        hash[stored_len] = '\0';
        slot_take();
        ok = crypto_pwhash_str_verify(hash, pw, len) == 0;
        /* libsodium answers -1 alike for a mismatch and for memory it
         * could not get: ask for that memory to tell them apart */
        if (!ok && !hash_memory_available(hash))
            ok = -1;
        sem_post(&hash_slots);
        return ok == 1 ? AUTH_MATCH : ok ? AUTH_NO_MEMORY : AUTH_MISMATCH;
    }
    /* Plaintext record of the original server: compare digests so neither
     * the content nor the length leaks through timing. */
    crypto_generichash(a, sizeof a, (const unsigned char *)stored, stored_len,
                       NULL, 0);
    crypto_generichash(b, sizeof b, (const unsigned char *)pw, len, NULL, 0);
    return sodium_memcmp(a, b, sizeof a) == 0 ? AUTH_MATCH : AUTH_MISMATCH;
}

int auth_is_hash(const char *s)
{
    return strncmp(s, "$argon2id$", 10) == 0;
}

int auth_is_sealed(const char *s)
{
    return strncmp(s, AUTH_SEALED_PREFIX, sizeof AUTH_SEALED_PREFIX - 1) == 0;
}

void auth_sealed_token(char out[AUTH_SEALED_MAX])
{
    unsigned char r[32];

    randombytes_buf(r, sizeof r);
    memcpy(out, AUTH_SEALED_PREFIX, sizeof AUTH_SEALED_PREFIX - 1);
    sodium_bin2hex(out + sizeof AUTH_SEALED_PREFIX - 1, 65, r, sizeof r);
}

void auth_new_uuid(char out[UUID_SIZE])
{
    /* libsodium's CSPRNG, not uuid_generate_random: libuuid reseeds
     * random(3) under a lock on every call, which showed in profiles. */
    uuid_t u;
    randombytes_buf(u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, out);
}

void auth_username_md5(const char *name, size_t len, char out[33])
{
    struct md5_ctx ctx;
    uint8_t d[MD5_DIGEST_SIZE];

    md5_init(&ctx);
    md5_update(&ctx, len, (const uint8_t *)name);
    md5_digest(&ctx, sizeof d, d);
    base16_encode_update(out, sizeof d, d); /* lowercase hex */
    out[32] = '\0';
}
