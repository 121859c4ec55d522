/* names.h - the Unicode rules of usernames, through ICU: the NFC form a
 * name is stored and looked up by, the characters a new name may not
 * hold, and the confusable keys (UTS #39 skeletons of the case-folded
 * name) that keep two new names from looking alike.
 *
 * One USpoofChecker and the normalisers are opened by names_init and shared
 * by every thread: ICU's spoof functions that take a const USpoofChecker
 * are thread safe (uspoof.h, "Thread Safety"), and so are the const
 * UNormalizer2 singletons. */
#ifndef CHAT_NAMES_H
#define CHAT_NAMES_H

#include <stddef.h>

#include "common/errors.h"

/* A name has one or two confusable keys (see names_keys). */
#define NAMES_KEYS_MAX 2

/* Opens the shared ICU objects. Call once, before any thread calls a
 * names_* function. Returns 0, or -1 when ICU fails (its data missing). */
int names_init(void);

/* Closes them and frees ICU's own caches (u_cleanup): call once, after
 * every thread has stopped using ICU. Safe without names_init. */
void names_cleanup(void);

/* The NFC form of in (len bytes of valid UTF-8) into out, NUL-terminated.
 * CHAT_E_BAD_USERNAME when it takes more than max bytes (or outsz - 1),
 * CHAT_E_INTERNAL when ICU fails. */
enum chat_err names_nfc(const char *in, size_t len, char *out, size_t outsz,
                        size_t max, struct chat_error *e);

/* CHAT_OK, or CHAT_E_BAD_USERNAME naming the first character of name
 * (valid UTF-8) that is invisible or steers text: general category Cf
 * (zero-width, bidi controls, BOM...) or Default_Ignorable_Code_Point
 * (Hangul fillers, variation selectors...). */
enum chat_err names_check_visible(const char *name, size_t len,
                                  struct chat_error *e);

/* The case-insensitive skeleton of name as UTF-8 into out: F(name) with
 * F = skeleton . NFKC_Casefold, applied twice so that the result is
 * stable (a skeleton may hold capitals: "0" -> "O"). Returns 0, or -1
 * when ICU fails or out is too small. Invalid UTF-8 reads as U+FFFD. */
int names_skeleton(const char *name, size_t len, char *out, size_t outsz);

/* The confusable keys of name: the lowercase md5 hex of F(name) and of
 * F(skeleton(name)). The second catches what folding first hides (capital
 * I and small l: "aIice" and "alice"); it is left out when equal. Returns
 * the count (1 or 2), or -1 when ICU fails. */
int names_keys(const char *name, size_t len, char keys[NAMES_KEYS_MAX][33]);

#endif
