/* utf8.h - strict UTF-8 decoding (no overlongs, no surrogates). */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stddef.h>

/* Decodes the sequence at s (n bytes left, n > 0) into *cp; returns its
 * length, or 0 when the bytes are not valid UTF-8. */
size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp);

/* Nonzero when all n bytes are valid UTF-8. */
int utf8_valid(const char *s, size_t n);

/* Nonzero for Unicode white space (White_Space property). */
int utf8_is_space(unsigned cp);

#endif
