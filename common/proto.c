/* proto.c - request parsing (json-c) and field checks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/proto.h"
#include "common/utf8.h"

/* json-c counts the levels of values, not containers: every value at most
 * 16 deep, the object at 1 (docs/contract.md §5) */
#define JSON_DEPTH 16

json_object *proto_field(json_object *obj, const char *name)
{
    json_object *v = NULL, *found = NULL;

    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (json_object_object_get_ex(obj, name, &v))
        return v;
    json_object_object_foreach(obj, k, val)
    {
        if (strcasecmp(k, name) == 0) {
            found = val;
            break;
        }
    }
    return found;
}

enum chat_err proto_string(json_object *obj, const char *name, int required,
                           enum chat_err err_missing, const char **out,
                           size_t *len, struct chat_error *e)
{
    json_object *v = proto_field(obj, name);
    char msg[96];

    *out = NULL;
    if (len)
        *len = 0;
    if (!v) {
        if (!required)
            return CHAT_OK;
        snprintf(msg, sizeof msg, "missing field %s", name);
        return chat_fail(e, err_missing, msg);
    }
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(msg, sizeof msg, "field %s must be a string", name);
        return chat_fail(e, CHAT_E_FIELD_TYPE, msg);
    }
    *out = json_object_get_string(v);
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return CHAT_OK;
}

static int only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isspace((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* A JSON number as RFC 8259 has it: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int is_rfc_number(const char *s, size_t n)
{
    size_t i = 0, d;

    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
            ;
        if (i == d)
            return 0;
    }
    return i == n;
}

/* json-c takes NaN, Infinity, "1." and raw control characters inside
 * strings even in strict mode: every bare token outside strings must be a
 * literal or an RFC 8259 number, and a string holds no byte below 0x20
 * (RFC 8259 §7: they must be escaped; Go's decoder refuses them too). */
static int bare_tokens_strict(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t t;
        if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if ((unsigned char)s[i] < 0x20)
                    return 0;
                i += s[i] == '\\';
            }
            i++;
            continue;
        }
        if (!isalnum((unsigned char)s[i]) && !strchr("-+.", s[i])) {
            i++;
            continue;
        }
        for (t = i;
             t < n && (isalnum((unsigned char)s[t]) || strchr("-+.", s[t]));
             t++)
            ;
        if (!is_rfc_number(s + i, t - i) &&
            !(t - i == 4 &&
              (!memcmp(s + i, "true", 4) || !memcmp(s + i, "null", 4))) &&
            !(t - i == 5 && !memcmp(s + i, "false", 5)))
            return 0;
        i = t;
    }
    return 1;
}

/* 1 when a ' stands outside every string: json-c reads 'text' as a
 * string even in strict mode, RFC 8259 has no such thing (found by
 * tests/fuzz/request.c). */
static int single_quote_outside_strings(const char *data, size_t len)
{
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        if (in_string && data[i] == '\\')
            i++; /* the escaped byte */
        else if (data[i] == '"')
            in_string = !in_string;
        else if (!in_string && data[i] == '\'')
            return 1;
    }
    return 0;
}

static enum chat_err parse_json(const char *data, size_t len, json_object **out,
                                struct chat_error *e)
{
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;
    size_t end;

    *out = NULL;
    if (!utf8_valid(data, len))
        return chat_fail(e, CHAT_E_BAD_UTF8, "request body is not UTF-8");
    if (memchr(data, '\0', len))
        return chat_fail(e, CHAT_E_BAD_JSON, "invalid JSON: NUL byte");
    if (single_quote_outside_strings(data, len))
        return chat_fail(e, CHAT_E_BAD_JSON, "invalid JSON");
    tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return chat_fail(e, CHAT_E_INTERNAL, "out of memory");
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, data, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_error_parse_utf8_string)
            return chat_fail(e, CHAT_E_BAD_UTF8, "invalid UTF-8 in a string");
        return chat_fail(e, CHAT_E_BAD_JSON, "invalid JSON");
    }
    if (!only_space(data + end, len - end)) {
        json_object_put(obj);
        return chat_fail(e, CHAT_E_BAD_JSON,
                         "invalid JSON: bytes after the object");
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return chat_fail(e, CHAT_E_BAD_JSON,
                         "invalid JSON: the request must be an object");
    }
    if (!bare_tokens_strict(data, len)) {
        json_object_put(obj);
        return chat_fail(e, CHAT_E_BAD_JSON,
                         "invalid JSON: not an RFC 8259 number or literal");
    }
    *out = obj;
    return CHAT_OK;
}

/* The first present of two alternative names (e.g. sessionUUID, SUUID). */
static enum chat_err envelope_string(json_object *root, const char *a,
                                     const char *b, const char **out,
                                     struct chat_error *e)
{
    enum chat_err rc = proto_string(root, a, 0, CHAT_OK, out, NULL, e);
    if (rc != CHAT_OK || *out || !b)
        return rc;
    return proto_string(root, b, 0, CHAT_OK, out, NULL, e);
}

enum chat_err proto_parse(const char *data, size_t len,
                          struct chat_request *req, struct chat_error *e)
{
    enum chat_err rc;
    const char *type = NULL;

    memset(req, 0, sizeof *req);
    rc = parse_json(data, len, &req->root, e);
    if (rc != CHAT_OK)
        return rc;
    rc = proto_string(req->root, "type", 0, CHAT_OK, &type, NULL, e);
    if (rc != CHAT_OK)
        goto fail;
    if (!type || !*type) {
        rc = chat_fail(e, CHAT_E_NO_TYPE, NULL);
        goto fail;
    }
    req->type = type;
    rc = envelope_string(req->root, "accessKey", "userAccessKey", &req->key, e);
    if (rc == CHAT_OK)
        rc = envelope_string(req->root, "userUUID", NULL, &req->user_uuid, e);
    if (rc == CHAT_OK)
        rc = envelope_string(req->root, "sessionUUID", "SUUID", &req->session,
                             e);
    if (rc != CHAT_OK)
        goto fail;
    req->body = proto_field(req->root, type);
    return CHAT_OK;
fail:
    proto_request_free(req);
    return rc;
}

void proto_request_free(struct chat_request *req)
{
    if (!req)
        return;
    json_object_put(req->root);
    memset(req, 0, sizeof *req);
}

enum chat_err proto_body(const struct chat_request *req, struct chat_error *e)
{
    char msg[96];

    if (!req->body) {
        snprintf(msg, sizeof msg, "missing body object %s", req->type);
        return chat_fail(e, CHAT_E_MISSING_BODY, msg);
    }
    if (!json_object_is_type(req->body, json_type_object)) {
        snprintf(msg, sizeof msg, "field %s must be an object", req->type);
        return chat_fail(e, CHAT_E_FIELD_TYPE, msg);
    }
    return CHAT_OK;
}

enum chat_err proto_uuid(const char *in, const char *field, char out[UUID_SIZE],
                         struct chat_error *e)
{
    char msg[96];

    for (int i = 0; i < UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = in[i];
        if (dash ? c != '-' : !isxdigit((unsigned char)c))
            goto bad;
        out[i] = (char)tolower((unsigned char)c);
    }
    if (in[UUID_LEN] != '\0')
        goto bad;
    out[UUID_LEN] = '\0';
    return CHAT_OK;
bad:
    snprintf(msg, sizeof msg, "%s is not a valid UUID", field);
    return chat_fail(e, CHAT_E_BAD_UUID, msg);
}

/* Trims Unicode white space at both ends; returns the new bounds. */
static void trim(const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t start = 0, end = *n;
    unsigned cp;

    while (start < end) {
        size_t l = utf8_next(p + start, end - start, &cp);
        if (!l || !utf8_is_space(cp))
            break;
        start += l;
    }
    while (end > start) {
        size_t back = 1;
        while (back < 4 && end - back > start && (p[end - back] & 0xc0) == 0x80)
            back++;
        if (utf8_next(p + end - back, back, &cp) != back || !utf8_is_space(cp))
            break;
        end -= back;
    }
    *s += start;
    *n = end - start;
}

enum chat_err proto_username(const char *in, size_t len, char *out,
                             size_t outsz, struct chat_error *e)
{
    const unsigned char *p;
    size_t i = 0;
    unsigned cp;

    if (!utf8_valid(in, len))
        return chat_fail(e, CHAT_E_BAD_UTF8, "username is not valid UTF-8");
    trim(&in, &len);
    if (len < 1 || len > PROTO_USERNAME_MAX || len >= outsz)
        return chat_fail(e, CHAT_E_BAD_USERNAME, NULL);
    p = (const unsigned char *)in;
    while (i < len) {
        size_t l = utf8_next(p + i, len - i, &cp);
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return chat_fail(e, CHAT_E_BAD_USERNAME, NULL);
        i += l;
    }
    memcpy(out, in, len);
    out[len] = '\0';
    return CHAT_OK;
}

enum chat_err proto_password(const char *in, size_t len, struct chat_error *e)
{
    (void)in;
    if (len < 1 || len > PROTO_PASSWORD_MAX)
        return chat_fail(e, CHAT_E_BAD_PASSWORD, NULL);
    return CHAT_OK;
}

enum chat_err proto_message(const char *in, size_t len, struct chat_error *e)
{
    const char *t = in;
    size_t n = len;

    if (!utf8_valid(in, len))
        return chat_fail(e, CHAT_E_BAD_UTF8, "message is not valid UTF-8");
    if (len < 1 || len > PROTO_MESSAGE_MAX)
        return chat_fail(e, CHAT_E_BAD_MESSAGE, NULL);
    trim(&t, &n);
    if (n == 0)
        return chat_fail(e, CHAT_E_BAD_MESSAGE, NULL);
    return CHAT_OK;
}
