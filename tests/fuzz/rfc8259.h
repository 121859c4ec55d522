/* rfc8259.h - an independent, deliberately plain reader of RFC 8259 JSON
 * for the request target: the oracle for which bodies proto_parse must
 * take. A text is one object (the contract's requests), white space is
 * only space, tab, LF and CR, strings hold no raw control character, and
 * every value is at most RFC8259_DEPTH levels deep, the object being level
 * 1 (so a container at the last level is empty), as docs/contract.md §5
 * has it: json-c's depth counts the values, not the containers. */
#ifndef CHAT_FUZZ_RFC8259_H
#define CHAT_FUZZ_RFC8259_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RFC8259_DEPTH 16

struct rfc8259 {
    const uint8_t *s;
    size_t n, i;
};

static int rfc8259_value(struct rfc8259 *r, int depth);

static int rfc8259_peek(const struct rfc8259 *r)
{
    return r->i < r->n ? r->s[r->i] : -1;
}

static void rfc8259_ws(struct rfc8259 *r)
{
    int c;

    while ((c = rfc8259_peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        r->i++;
}

static int rfc8259_eat(struct rfc8259 *r, int c)
{
    if (rfc8259_peek(r) != c)
        return 0;
    r->i++;
    return 1;
}

static size_t rfc8259_digits(struct rfc8259 *r)
{
    size_t from = r->i;

    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++;
    return r->i - from;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int rfc8259_number(struct rfc8259 *r)
{
    rfc8259_eat(r, '-');
    if (!rfc8259_eat(r, '0')) {
        if (rfc8259_peek(r) < '1' || rfc8259_peek(r) > '9')
            return 0;
        rfc8259_digits(r);
    }
    if (rfc8259_eat(r, '.') && !rfc8259_digits(r))
        return 0;
    if (rfc8259_eat(r, 'e') || rfc8259_eat(r, 'E')) {
        if (!rfc8259_eat(r, '+'))
            rfc8259_eat(r, '-');
        if (!rfc8259_digits(r))
            return 0;
    }
    return 1;
}

static int rfc8259_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int rfc8259_string(struct rfc8259 *r)
{
    if (!rfc8259_eat(r, '"'))
        return 0;
    for (;;) {
        int c = rfc8259_peek(r);
        if (c < 0x20) /* the end, or a control character */
            return 0;
        r->i++;
        if (c == '"')
            return 1;
        if (c != '\\')
            continue;
        c = rfc8259_peek(r);
        r->i++;
        if (c == 'u') {
            for (int k = 0; k < 4; k++, r->i++) {
                if (!rfc8259_hex(rfc8259_peek(r)))
                    return 0;
            }
        } else if (c <= 0 || !strchr("\"\\/bfnrt", c)) {
            return 0;
        }
    }
}

static int rfc8259_literal(struct rfc8259 *r, const char *w)
{
    size_t n = strlen(w);

    if (r->n - r->i < n || memcmp(r->s + r->i, w, n) != 0)
        return 0;
    r->i += n;
    return 1;
}

/* The members of an object (close '}') or the elements of an array. */
static int rfc8259_container(struct rfc8259 *r, int depth, int close)
{
    r->i++;
    rfc8259_ws(r);
    if (rfc8259_eat(r, close))
        return 1;
    for (;;) {
        if (close == '}') {
            if (!rfc8259_string(r))
                return 0;
            rfc8259_ws(r);
            if (!rfc8259_eat(r, ':'))
                return 0;
            rfc8259_ws(r);
        }
        if (!rfc8259_value(r, depth))
            return 0;
        rfc8259_ws(r);
        if (rfc8259_eat(r, close))
            return 1;
        if (!rfc8259_eat(r, ','))
            return 0;
        rfc8259_ws(r);
    }
}

/* A value inside a container at level depth (0: the text itself). */
static int rfc8259_value(struct rfc8259 *r, int depth)
{
    if (depth + 1 > RFC8259_DEPTH)
        return 0;
    switch (rfc8259_peek(r)) {
    case '{':
        return rfc8259_container(r, depth + 1, '}');
    case '[':
        return rfc8259_container(r, depth + 1, ']');
    case '"':
        return rfc8259_string(r);
    case 't':
        return rfc8259_literal(r, "true");
    case 'f':
        return rfc8259_literal(r, "false");
    case 'n':
        return rfc8259_literal(r, "null");
    default:
        return rfc8259_number(r);
    }
}

/* Nonzero when s[0..n) is one JSON object with only white space around. */
static inline int rfc8259_object(const uint8_t *s, size_t n)
{
    struct rfc8259 r = {.s = s, .n = n, .i = 0};

    rfc8259_ws(&r);
    if (rfc8259_peek(&r) != '{' || !rfc8259_value(&r, 0))
        return 0;
    rfc8259_ws(&r);
    return r.i == n;
}

#endif
