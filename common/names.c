/* names.c - NFC, the visibility rule and the confusable keys of usernames
 * (ICU: unorm2, uchar, uspoof). Every UErrorCode is checked; ICU strings
 * are UTF-16, so a name is converted once and back once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/md5.h>
#include <unicode/uchar.h>
#include <unicode/uclean.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "common/names.h"
#include "common/utf8.h"

static USpoofChecker *checker;
static const UNormalizer2 *nfc, *nfkc_cf; /* ICU-owned, never closed */

int names_init(void)
{
    UErrorCode ec = U_ZERO_ERROR;

    if (checker)
        return 0;
    nfc = unorm2_getNFCInstance(&ec);
    if (U_SUCCESS(ec))
        nfkc_cf = unorm2_getNFKCCasefoldInstance(&ec);
    if (U_SUCCESS(ec))
        checker = uspoof_open(&ec);
    if (U_FAILURE(ec)) {
        uspoof_close(checker);
        checker = NULL;
        return -1;
    }
    return 0;
}

void names_cleanup(void)
{
    uspoof_close(checker); /* NULL-safe */
    checker = NULL;
    nfc = nfkc_cf = NULL;
    u_cleanup();
}

/* A UTF-16 string; the holder frees p. */
struct u16 {
    UChar *p;
    int32_t n;
};

enum step { STEP_NFC, STEP_FOLD, STEP_SKEL };

static int32_t run_step(enum step st, const struct u16 *in, UChar *dest,
                        int32_t cap, UErrorCode *ec)
{
    switch (st) {
    case STEP_NFC:
        return unorm2_normalize(nfc, in->p, in->n, dest, cap, ec);
    case STEP_FOLD:
        return unorm2_normalize(nfkc_cf, in->p, in->n, dest, cap, ec);
    case STEP_SKEL:
        /* the type argument is ignored since ICU 58 */
        return uspoof_getSkeleton(checker, 0, in->p, in->n, dest, cap, ec);
    }
    *ec = U_ILLEGAL_ARGUMENT_ERROR;
    return 0;
}

/* out = st(in), in a new buffer: a guess first, the exact size when the
 * guess was short (ICU reports the full length on overflow). Returns 0 or
 * -1 (ICU failed, or no memory). */
static int apply(enum step st, const struct u16 *in, struct u16 *out)
{
    int32_t cap = in->n * 2 + 16;

    out->p = NULL;
    out->n = 0;
    if (!checker || in->n > INT32_MAX / 4)
        return -1;
    for (int tries = 0; tries < 2; tries++) {
        UChar *p = realloc(out->p, (size_t)cap * sizeof *p);
        if (!p)
            break;
        out->p = p;
        UErrorCode ec = U_ZERO_ERROR;
        int32_t n = run_step(st, in, out->p, cap, &ec);
        if ((ec == U_BUFFER_OVERFLOW_ERROR ||
             ec == U_STRING_NOT_TERMINATED_WARNING) &&
            n >= cap && n < INT32_MAX) {
            cap = n + 1; /* room for ICU's terminator too */
            continue;
        }
        if (U_FAILURE(ec) || n >= cap)
            break;
        out->n = n;
        return 0;
    }
    free(out->p);
    out->p = NULL;
    return -1;
}

/* Applies the steps in order, starting from in. */
static int chain(const struct u16 *in, const enum step *steps, int nsteps,
                 struct u16 *out)
{
    struct u16 cur = *in, next;

    for (int i = 0; i < nsteps; i++) {
        int rc = apply(steps[i], &cur, &next);
        if (cur.p != in->p)
            free(cur.p);
        if (rc)
            return -1;
        cur = next;
    }
    *out = cur;
    return 0;
}

/* UTF-8 (invalid bytes read as U+FFFD) -> a new UTF-16 string. */
static int from_utf8(const char *s, size_t len, struct u16 *out)
{
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n = 0;
    UChar *p;

    out->n = 0;
    out->p = NULL;
    if (len > INT32_MAX / 2)
        return -1;
    /* one UTF-16 unit per byte at most, plus the terminator ICU writes */
    p = malloc((len + 1) * sizeof *p);
    if (!p)
        return -1;
    u_strFromUTF8WithSub(p, (int32_t)len + 1, &n, s, (int32_t)len, 0xfffd, NULL,
                         &ec);
    if (U_FAILURE(ec)) {
        free(p);
        return -1;
    }
    out->p = p;
    out->n = n;
    return 0;
}

/* UTF-16 -> UTF-8 into out (NUL-terminated). Returns its length, -2 when
 * it does not fit, -1 when ICU fails. */
static long to_utf8(const struct u16 *in, char *out, size_t outsz)
{
    UErrorCode ec = U_ZERO_ERROR;
    int32_t n = 0;
    int32_t cap = outsz > INT32_MAX ? INT32_MAX : (int32_t)outsz;

    u_strToUTF8(out, cap, &n, in->p, in->n, &ec);
    if (ec == U_BUFFER_OVERFLOW_ERROR || ec == U_STRING_NOT_TERMINATED_WARNING)
        return -2;
    if (U_FAILURE(ec))
        return -1;
    return n;
}

enum chat_err names_nfc(const char *in, size_t len, char *out, size_t outsz,
                        size_t max, struct chat_error *e)
{
    static const enum step steps[] = {STEP_NFC};
    struct u16 src, res;
    long n;

    if (from_utf8(in, len, &src))
        return chat_fail(e, CHAT_E_INTERNAL, "cannot normalise the name");
    if (chain(&src, steps, 1, &res)) {
        free(src.p);
        return chat_fail(e, CHAT_E_INTERNAL, "cannot normalise the name");
    }
    free(src.p);
    n = to_utf8(&res, out, outsz);
    free(res.p);
    if (n == -1)
        return chat_fail(e, CHAT_E_INTERNAL, "cannot normalise the name");
    if (n < 0 || (size_t)n > max)
        return chat_fail(e, CHAT_E_BAD_USERNAME, NULL);
    return CHAT_OK;
}

/* Zero-width and bidi characters are Cf; Default_Ignorable_Code_Point adds
 * the blank-looking letters (Hangul fillers) and variation selectors. */
static int is_invisible(unsigned cp)
{
    UChar32 c = (UChar32)cp;

    return u_charType(c) == U_FORMAT_CHAR ||
           u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

enum chat_err names_check_visible(const char *name, size_t len,
                                  struct chat_error *e)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t i = 0;
    unsigned cp;

    while (i < len) {
        size_t l = utf8_next(p + i, len - i, &cp);
        if (!l)
            return chat_fail(e, CHAT_E_BAD_UTF8, "username is not valid UTF-8");
        if (is_invisible(cp)) {
            char msg[96];
            snprintf(msg, sizeof msg,
                     "username must not contain invisible or formatting "
                     "characters (U+%04X)",
                     cp);
            return chat_fail(e, CHAT_E_BAD_USERNAME, msg);
        }
        i += l;
    }
    return CHAT_OK;
}

/* F = skeleton . NFKC_Casefold, twice; with shape_first, one skeleton
 * before (F(skeleton(x))). */
static int folded_skeleton(const char *name, size_t len, int shape_first,
                           struct u16 *out)
{
    static const enum step steps[] = {STEP_SKEL, STEP_FOLD, STEP_SKEL,
                                      STEP_FOLD, STEP_SKEL};
    struct u16 src;
    int rc;

    if (from_utf8(name, len, &src))
        return -1;
    rc = shape_first ? chain(&src, steps, 5, out)
                     : chain(&src, steps + 1, 4, out);
    free(src.p);
    return rc;
}

int names_skeleton(const char *name, size_t len, char *out, size_t outsz)
{
    struct u16 s;
    long n;

    if (folded_skeleton(name, len, 0, &s))
        return -1;
    n = to_utf8(&s, out, outsz);
    free(s.p);
    return n < 0 ? -1 : 0;
}

/* md5 hex of the UTF-16 string s as UTF-8. */
static int key_of(const struct u16 *s, char key[33])
{
    struct md5_ctx ctx;
    uint8_t d[MD5_DIGEST_SIZE];
    char *buf;
    size_t cap = (size_t)s->n * 3 + 1; /* UTF-8: at most 3 bytes a unit */
    long n;

    buf = malloc(cap);
    if (!buf)
        return -1;
    n = to_utf8(s, buf, cap);
    if (n < 0) {
        free(buf);
        return -1;
    }
    md5_init(&ctx);
    md5_update(&ctx, (size_t)n, (const uint8_t *)buf);
    md5_digest(&ctx, sizeof d, d);
    base16_encode_update(key, sizeof d, d); /* lowercase hex */
    key[32] = '\0';
    free(buf);
    return 0;
}

int names_keys(const char *name, size_t len, char keys[NAMES_KEYS_MAX][33])
{
    struct u16 s;
    int n = 0;

    for (int shape_first = 0; shape_first < NAMES_KEYS_MAX; shape_first++) {
        int rc = folded_skeleton(name, len, shape_first, &s);
        if (rc == 0) {
            rc = key_of(&s, keys[n]);
            free(s.p);
        }
        if (rc)
            return -1;
        if (n == 0 || strcmp(keys[0], keys[n]) != 0)
            n++;
    }
    return n;
}
