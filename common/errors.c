/* errors.c - the error table: status, code and text of each chat_err. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

struct err_row {
    int status;
    int code;
    const char *text;
};

static const struct err_row rows[CHAT_E__MAX] = {
    [CHAT_OK] = {.status = 200, .code = 0, .text = "ok"},
    [CHAT_E_BAD_JSON] = {.status = 400, .code = 1, .text = "invalid JSON"},
    [CHAT_E_FIELD_TYPE] = {.status = 400,
                           .code = 1,
                           .text = "a field has the wrong JSON type"},
    [CHAT_E_NO_TYPE] = {.status = 400,
                        .code = 0,
                        .text = "missing or empty type"},
    [CHAT_E_UNKNOWN_TYPE] = {.status = 400,
                             .code = 0,
                             .text = "unknown request type"},
    [CHAT_E_MISSING_BODY] = {.status = 400,
                             .code = 200,
                             .text = "missing body object"},
    [CHAT_E_BAD_UUID] = {.status = 400, .code = 201, .text = "invalid UUID"},
    [CHAT_E_BAD_UTF8] = {.status = 400, .code = 202, .text = "invalid UTF-8"},
    [CHAT_E_BAD_USERNAME] = {.status = 400,
                             .code = 203,
                             .text = "username must be 1..64 bytes of UTF-8 "
                                     "(NFC) without control, invisible or "
                                     "formatting characters"},
    [CHAT_E_BAD_PASSWORD] = {.status = 400,
                             .code = 204,
                             .text = "password must be 1..256 bytes"},
    [CHAT_E_BAD_MESSAGE] =
        {.status = 400,
         .code = 205,
         .text =
             "message must be 1..4096 bytes of UTF-8, not only white space"},
    [CHAT_E_BAD_PARAM] = {.status = 400,
                          .code = 206,
                          .text = "invalid parameter"},
    [CHAT_E_BAD_CURSOR] = {.status = 400,
                           .code = 207,
                           .text = "invalid cursor"},
    [CHAT_E_NO_KEY] = {.status = 401,
                       .code = 208,
                       .text = "missing access key"},
    [CHAT_E_BAD_KEY] = {.status = 401,
                        .code = 209,
                        .text = "unknown or expired access key"},
    [CHAT_E_WRONG_PASSWORD] = {.status = 401,
                               .code = 4,
                               .text = "wrong password"},
    [CHAT_E_OTHER_USER] = {.status = 403,
                           .code = 210,
                           .text = "acting for another user"},
    [CHAT_E_SESSION_OWNER] = {.status = 403,
                              .code = 212,
                              .text = "session belongs to another user"},
    [CHAT_E_NO_RECIPIENT] = {.status = 404,
                             .code = 100,
                             .text = "unknown recipient"},
    [CHAT_E_NO_SESSION] = {.status = 404,
                           .code = 213,
                           .text = "unknown or expired session"},
    [CHAT_E_NOT_FOUND] = {.status = 404, .code = 214, .text = "not found"},
    [CHAT_E_METHOD] = {.status = 405,
                       .code = 215,
                       .text = "method not allowed"},
    [CHAT_E_NAME_TAKEN] = {.status = 409,
                           .code = 216,
                           .text = "username taken"},
    [CHAT_E_NAME_SIMILAR] = {.status = 409,
                             .code = 216,
                             .text = "username taken: it looks like the name "
                                     "of another user"},
    [CHAT_E_TOO_LARGE] = {.status = 413,
                          .code = 217,
                          .text = "request body larger than 64 KiB"},
    [CHAT_E_MSG_RATE] = {.status = 429,
                         .code = 218,
                         .text = "too many messages, slow down"},
    [CHAT_E_SIGNIN_RATE] = {.status = 429,
                            .code = 219,
                            .text = "too many failed sign-ins for this name"},
    [CHAT_E_BUSY] = {.status = 503,
                     .code = 220,
                     .text = "too many waiting requests"},
    [CHAT_E_REDIS] = {.status = 503,
                      .code = 221,
                      .text = "storage unavailable, retry later"},
    [CHAT_E_INTERNAL] = {.status = 500, .code = 222, .text = "internal error"},
    [CHAT_E_HASH_MEMORY] = {.status = 503,
                            .code = 223,
                            .text = "sign-in unavailable, retry later"},
    /* 224..226 are the front servers' own errors (deploy/errors/) */
    [CHAT_E_SLOW_HEAD] = {.status = 408,
                          .code = 227,
                          .text = "request head not received in time"},
    /* a write Redis stored that CHAT_REDIS_WAIT replicas did not confirm */
    [CHAT_E_NOT_REPLICATED] = {.status = 503,
                               .code = 230,
                               .text = "write not confirmed by the Redis "
                                       "replicas in time, retry later"},
    /* the front servers' own 431 (deploy/errors/431.json), same code */
    [CHAT_E_HEAD_TOO_LARGE] = {.status = 431,
                               .code = 225,
                               .text = "request header fields too large"},
};

enum chat_err chat_fail(struct chat_error *e, enum chat_err err,
                        const char *detail)
{
    e->err = err;
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
    return err;
}

static const struct err_row *row(enum chat_err err)
{
    if ((int)err < 0 || err >= CHAT_E__MAX)
        err = CHAT_E_INTERNAL;
    return &rows[err];
}

int chat_err_status(enum chat_err err)
{
    return row(err)->status;
}

int chat_err_code(enum chat_err err)
{
    return row(err)->code;
}

const char *chat_err_text(enum chat_err err)
{
    return row(err)->text;
}

void chat_error_json(struct jbuf *b, const struct chat_error *e)
{
    const char *text = e->detail[0] ? e->detail : chat_err_text(e->err);

    jbuf_cstr(b, "{\"type\":\"error\",\"error\":{\"code\":");
    jbuf_long(b, chat_err_code(e->err));
    jbuf_cstr(b, ",\"error\":");
    jbuf_cstr_q(b, text);
    jbuf_cstr(b, ",\"message\":");
    jbuf_cstr_q(b, text);
    jbuf_cstr(b, "}}");
}

size_t chat_error_json_fixed(enum chat_err err, char *out, size_t cap)
{
    /* the table's texts are plain ASCII: nothing to escape (test_common
     * checks this equals chat_error_json()) */
    const char *text = chat_err_text(err);
    int n = snprintf(out, cap,
                     "{\"type\":\"error\",\"error\":{\"code\":%d,\"error\":"
                     "\"%s\",\"message\":\"%s\"}}",
                     chat_err_code(err), text, text);

    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

enum chat_err chat_err_from_script(const char *text, int *retry_after)
{
    /* Scripts fail with "CHAT<status>:<name>[ <seconds>]". */
    static const struct {
        const char *name;
        enum chat_err err;
    } map[] = {
        {"CHAT401:key", CHAT_E_BAD_KEY},
        {"CHAT403:user", CHAT_E_OTHER_USER},
        {"CHAT403:session", CHAT_E_SESSION_OWNER},
        {"CHAT404:recipient", CHAT_E_NO_RECIPIENT},
        {"CHAT404:session", CHAT_E_NO_SESSION},
        {"CHAT409:taken", CHAT_E_NAME_TAKEN},
        {"CHAT409:similar", CHAT_E_NAME_SIMILAR},
        {"CHAT429:rate", CHAT_E_MSG_RATE},
        {"CHAT429:signin", CHAT_E_SIGNIN_RATE},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].name);
        if (strncmp(text, map[i].name, n) == 0 &&
            (text[n] == '\0' || text[n] == ' ')) {
            if (retry_after)
                *retry_after =
                    text[n] == ' ' ? (int)strtol(text + n + 1, NULL, 10) : 0;
            return map[i].err;
        }
    }
    return CHAT_E_INTERNAL;
}
