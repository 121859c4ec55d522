/* errors.h - every failure of the contract: enum chat_err, and the one table
 * (errors.c) that maps it to an HTTP status, a JSON error code and text. */
#ifndef CHAT_ERRORS_H
#define CHAT_ERRORS_H

#include <stddef.h>

#include "common/jbuf.h"

enum chat_err {
    CHAT_OK = 0,
    CHAT_E_BAD_JSON,       /* 400 code 1 */
    CHAT_E_FIELD_TYPE,     /* 400 code 1 */
    CHAT_E_NO_TYPE,        /* 400 code 0 */
    CHAT_E_UNKNOWN_TYPE,   /* 400 code 0 */
    CHAT_E_MISSING_BODY,   /* 400 */
    CHAT_E_BAD_UUID,       /* 400 */
    CHAT_E_BAD_UTF8,       /* 400 */
    CHAT_E_BAD_USERNAME,   /* 400 */
    CHAT_E_BAD_PASSWORD,   /* 400 */
    CHAT_E_BAD_MESSAGE,    /* 400 */
    CHAT_E_BAD_PARAM,      /* 400 */
    CHAT_E_BAD_CURSOR,     /* 400 */
    CHAT_E_NO_KEY,         /* 401 */
    CHAT_E_BAD_KEY,        /* 401 */
    CHAT_E_WRONG_PASSWORD, /* 401 code 4 */
    CHAT_E_OTHER_USER,     /* 403 */
    CHAT_E_SESSION_OWNER,  /* 403 */
    CHAT_E_NO_RECIPIENT,   /* 404 code 100 */
    CHAT_E_NO_SESSION,     /* 404 */
    CHAT_E_NOT_FOUND,      /* 404 (route) */
    CHAT_E_METHOD,         /* 405 */
    CHAT_E_NAME_TAKEN,     /* 409 */
    CHAT_E_NAME_SIMILAR,   /* 409: like a taken name (same code) */
    CHAT_E_TOO_LARGE,      /* 413 */
    CHAT_E_MSG_RATE,       /* 429 */
    CHAT_E_SIGNIN_RATE,    /* 429 */
    CHAT_E_BUSY,           /* 503: too many parked polls */
    CHAT_E_REDIS,          /* 503 */
    CHAT_E_HASH_MEMORY,    /* 503: password hashing got no memory */
    CHAT_E_INTERNAL,       /* 500, JSON, never a page */
    CHAT_E_SLOW_HEAD,      /* 408: no complete request head in time */
    CHAT_E_NOT_REPLICATED, /* 503: fewer than CHAT_REDIS_WAIT replicas */
    CHAT_E_HEAD_TOO_LARGE, /* 431: chat-poller, a request head over 8 KiB */
    CHAT_E__MAX
};

/* A failure and its detail; detail "" means the table's text. */
struct chat_error {
    enum chat_err err;
    int retry_after; /* seconds for 429/503, 0 = none */
    char detail[160];
};

/* Sets e and returns err, so `return chat_fail(e, X, "...")` reads well. */
enum chat_err chat_fail(struct chat_error *e, enum chat_err err,
                        const char *detail);

int chat_err_status(enum chat_err err); /* HTTP status */
int chat_err_code(enum chat_err err);   /* JSON error.code */
const char *chat_err_text(enum chat_err err);

/* Appends {"type":"error","error":{"code":N,"error":T,"message":T}}. */
void chat_error_json(struct jbuf *b, const struct chat_error *e);

/* The body chat_error_json() writes for err with the table's text, into out
 * (cap bytes, NUL-terminated) without allocating: for the answer of a
 * process that could not allocate one. Returns its length, 0 when cap is
 * too small. CHAT_ERROR_FIXED_MAX always fits. */
#define CHAT_ERROR_FIXED_MAX 320
size_t chat_error_json_fixed(enum chat_err err, char *out, size_t cap);

/* Maps a Redis script error reply "CHATnnn[ detail]" to chat_err; returns
 * CHAT_E_INTERNAL for any other error text. */
enum chat_err chat_err_from_script(const char *text, int *retry_after);

#endif
