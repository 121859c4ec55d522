/* check.h - the unit tests' one check: counts it, prints a failure. */
#ifndef CHAT_TESTS_UNIT_CHECK_H
#define CHAT_TESTS_UNIT_CHECK_H

#include <stdio.h>

static int checks, failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);             \
        }                                                                      \
    } while (0)

#endif
