/* jbuf.h - a growable byte buffer that writes JSON the way Go's
 * encoding/json does (the original server's bytes): \u003c \u003e \u0026
 * \u2028 \u2029 escapes, raw UTF-8 otherwise. All appends are sticky on
 * allocation failure: jbuf_failed() tells at the end. */
#ifndef CHAT_JBUF_H
#define CHAT_JBUF_H

#include <stddef.h>

struct jbuf {
    char *data; /* NUL-terminated while !failed; owned */
    size_t len;
    size_t cap;
    int failed;
};

void jbuf_init(struct jbuf *b);
void jbuf_free(struct jbuf *b);  /* NULL-safe; leaves *b empty */
void jbuf_reset(struct jbuf *b); /* len = 0, keeps memory */
int jbuf_failed(const struct jbuf *b);

void jbuf_raw(struct jbuf *b, const char *s, size_t n);
void jbuf_cstr(struct jbuf *b, const char *s); /* raw, NUL-terminated */
void jbuf_long(struct jbuf *b, long v);
/* Appends s (n bytes of UTF-8) as a quoted, Go-escaped JSON string. */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
void jbuf_cstr_q(struct jbuf *b, const char *s); /* jbuf_str of a C string */
/* Appends "name": (name is a trusted literal). */
void jbuf_key(struct jbuf *b, const char *name);

/* Detaches the data; caller owns it (free()). NULL when failed. */
char *jbuf_take(struct jbuf *b, size_t *len);

#endif
