/* request.c - fuzz target: a POST /api body through proto_parse and the
 * checks the handlers apply to its fields (fcgi/dispatch.c envelope,
 * fcgi/handlers.c bodies). Invariants: the body is taken as JSON exactly
 * when an independent RFC 8259 reader (rfc8259.h) takes it, and invalid
 * UTF-8 anywhere is CHAT_E_BAD_UTF8 (docs/contract.md §5); an accepted body
 * has a non-empty type; every validated field passes its own check again
 * unchanged; every error renders as one JSON object. */
#include <string.h>

#include "common/errors.h"
#include "common/jbuf.h"
#include "common/proto.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/rfc8259.h"

static void check_error_json(const struct chat_error *e)
{
    struct jbuf b;

    jbuf_init(&b);
    chat_error_json(&b, e);
    FUZZ_CHECK(!jbuf_failed(&b) && fuzz_json_object(b.data, b.len));
    jbuf_free(&b);
}

/* A UUID that proto_uuid takes comes out canonical and stays so. */
static void check_uuid(const char *in)
{
    struct chat_error e;
    char out[37], again[37];

    if (!in || !*in)
        return;
    if (proto_uuid(in, "field", out, &e) != CHAT_OK) {
        check_error_json(&e);
        return;
    }
    FUZZ_CHECK(strlen(out) == UUID_LEN);
    FUZZ_CHECK(proto_uuid(out, "field", again, &e) == CHAT_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    for (size_t i = 0; i < UUID_LEN; i++)
        FUZZ_CHECK(out[i] < 'A' || out[i] > 'Z');
}

static void check_username(const char *in, size_t len)
{
    struct chat_error e;
    char out[PROTO_USERNAME_MAX + 1], again[PROTO_USERNAME_MAX + 1];
    size_t n;

    if (proto_username(in, len, out, sizeof out, &e) != CHAT_OK) {
        check_error_json(&e);
        return;
    }
    n = strlen(out);
    FUZZ_CHECK(n >= 1 && n <= PROTO_USERNAME_MAX && utf8_valid(out, n));
    /* trimmed already: a second pass keeps every byte */
    FUZZ_CHECK(proto_username(out, n, again, sizeof again, &e) == CHAT_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
}

static void check_message(const char *in, size_t len)
{
    struct chat_error e;

    if (proto_message(in, len, &e) != CHAT_OK) {
        check_error_json(&e);
        return;
    }
    FUZZ_CHECK(len >= 1 && len <= PROTO_MESSAGE_MAX && utf8_valid(in, len));
}

/* Each body field the handlers read, checked the way they check it. */
static void check_body(json_object *body)
{
    static const char *const uuids[] = {"recipientUUID", "uuid", "clientId"};
    struct chat_error e;
    const char *s;
    size_t len;

    if (proto_string(body, "username", 1, CHAT_E_BAD_USERNAME, &s, &len, &e) ==
        CHAT_OK)
        check_username(s, len);
    if (proto_string(body, "password", 1, CHAT_E_BAD_PASSWORD, &s, &len, &e) ==
            CHAT_OK &&
        proto_password(s, len, &e) == CHAT_OK)
        FUZZ_CHECK(len >= 1 && len <= PROTO_PASSWORD_MAX);
    if (proto_string(body, "message", 1, CHAT_E_BAD_MESSAGE, &s, &len, &e) ==
        CHAT_OK)
        check_message(s, len);
    for (size_t i = 0; i < sizeof uuids / sizeof uuids[0]; i++) {
        if (proto_string(body, uuids[i], 0, CHAT_OK, &s, NULL, &e) == CHAT_OK)
            check_uuid(s);
        else
            check_error_json(&e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chat_request req;
    struct chat_error e;
    enum chat_err rc;

    if (size > PROTO_BODY_MAX) /* fcgi/request.c answers 413 first */
        return 0;
    rc = proto_parse((const char *)data, size, &req, &e);
    if (!utf8_valid((const char *)data, size))
        FUZZ_CHECK(rc == CHAT_E_BAD_UTF8);
    else /* past the JSON reading, only envelope errors are left */
        FUZZ_CHECK((rc != CHAT_E_BAD_JSON && rc != CHAT_E_BAD_UTF8) ==
                   rfc8259_object(data, size));
    if (rc != CHAT_OK) {
        check_error_json(&e);
        return 0;
    }
    FUZZ_CHECK(req.root && req.type && *req.type);
    check_uuid(req.user_uuid);
    check_uuid(req.session);
    if (proto_body(&req, &e) == CHAT_OK)
        check_body(req.body);
    else
        check_error_json(&e);
    proto_request_free(&req);
    return 0;
}
