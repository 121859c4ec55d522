/* log.c - formats and writes log lines to stderr, one write(2) per line so
 * lines from several threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"ERR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_enabled(enum log_level level)
{
    return level <= current_level;
}

void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...)
{
    char buf[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int rc;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    rc = snprintf(buf + n, sizeof buf - n, ".%03ldZ %s %ld %s:%d ",
                  ts.tv_nsec / 1000000L, level_names[level], (long)getpid(),
                  file, line);
    if (rc < 0 || (size_t)rc >= sizeof buf - n)
        return;
    n += (size_t)rc;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
    rc = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    n += (size_t)rc < sizeof buf - n - 1 ? (size_t)rc : sizeof buf - n - 2;
    buf[n++] = '\n';
    /* One write per line: atomic for pipes and O_APPEND files. */
    if (write(STDERR_FILENO, buf, n) < 0)
        return;
}
