/* proto.h - the request side of the message contract: one JSON object in,
 * its envelope fields out, and the checks of every field (types, UUIDs,
 * UTF-8, lengths). No Redis, no I/O. */
#ifndef CHAT_PROTO_H
#define CHAT_PROTO_H

#include <stddef.h>
#include <json-c/json.h>

#include "common/errors.h"
#include "common/uuid.h"

#define PROTO_BODY_MAX     65536
#define PROTO_MESSAGE_MAX  4096
#define PROTO_USERNAME_MAX 64
#define PROTO_PASSWORD_MAX 256
#define PROTO_KEY_MAX      64 /* an access key's bytes; longer is 401 */

/* A parsed request. Strings are borrowed from root. */
struct chat_request {
    json_object *root;     /* owned */
    const char *type;      /* non-empty */
    const char *key;       /* accessKey / userAccessKey, or NULL */
    const char *user_uuid; /* claimed userUUID, or NULL */
    const char *session;   /* sessionUUID / SUUID, or NULL */
    json_object *body;     /* the object named like the type, or NULL */
};

/* Parses a request body (strict RFC 8259, one object, valid UTF-8) and its
 * envelope fields. On success the caller frees with proto_request_free. */
enum chat_err proto_parse(const char *data, size_t len,
                          struct chat_request *req, struct chat_error *e);

void proto_request_free(struct chat_request *req); /* NULL-safe */

/* Looks a key up in obj: exact name first, then case-insensitively (as
 * Go's decoder). Borrowed; NULL when absent or JSON null. */
json_object *proto_field(json_object *obj, const char *name);

/* Reads a string field. Absent: *out = NULL and CHAT_OK unless required
 * (then err_missing). Not a string: CHAT_E_FIELD_TYPE. */
enum chat_err proto_string(json_object *obj, const char *name, int required,
                           enum chat_err err_missing, const char **out,
                           size_t *len, struct chat_error *e);

/* The request's body object: CHAT_E_MISSING_BODY when absent or null,
 * CHAT_E_FIELD_TYPE when not an object. */
enum chat_err proto_body(const struct chat_request *req, struct chat_error *e);

/* Copies a canonical UUID (8-4-4-4-12 hex) into out, lowercased. Returns
 * CHAT_OK or CHAT_E_BAD_UUID naming the field. */
enum chat_err proto_uuid(const char *in, const char *field, char out[UUID_SIZE],
                         struct chat_error *e);

/* Trims surrounding white space and checks 1..64 bytes of UTF-8 without
 * control characters; writes the trimmed name into out (NUL-terminated). */
enum chat_err proto_username(const char *in, size_t len, char *out,
                             size_t outsz, struct chat_error *e);

enum chat_err proto_password(const char *in, size_t len, struct chat_error *e);

/* 1..4096 bytes of UTF-8, not only white space. */
enum chat_err proto_message(const char *in, size_t len, struct chat_error *e);

#endif
