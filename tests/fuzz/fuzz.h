/* fuzz.h - what the libFuzzer targets of tests/fuzz/ share: the entry
 * point's prototype, an invariant check that aborts (libFuzzer keeps the
 * input as a crash), and the check that rendered bytes are one strict JSON
 * value of valid UTF-8, as every reply and push must be. */
#ifndef CHAT_FUZZ_H
#define CHAT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Nonzero when s[0..n) is exactly one JSON object (strict json-c, valid
 * UTF-8, nothing after it). */
static inline int fuzz_json_object(const char *s, size_t n)
{
    json_tokener *tok;
    json_object *o;
    int ok;

    if (!s || !utf8_valid(s, n))
        return 0;
    tok = json_tokener_new();
    if (!tok)
        abort();
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)n);
    ok = o && json_tokener_get_error(tok) == json_tokener_success &&
         json_tokener_get_parse_end(tok) == n &&
         json_object_is_type(o, json_type_object);
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* A NUL-terminated copy of the input (the C-string APIs); caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
