/* log.c - formats and writes log lines to stderr, one write(2) per line so
 * lines from several threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utf8.h"

#define LINE_MAX_BYTES 1024 /* longer messages are cut, marked "..." */

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

/* Copies the message into out (at most room bytes) with everything that
 * could forge a line or drive a terminal escaped as \xNN: control bytes
 * (newline, ESC, DEL), UTF-8-encoded C1 controls and invalid UTF-8; a
 * backslash becomes \\. Client text reaches logs only through here.
 * Returns the bytes written. */
static size_t escape_into(char *out, size_t room, const char *msg)
{
    const unsigned char *s = (const unsigned char *)msg;
    size_t n = strlen(msg), o = 0, i = 0;

    while (i < n) {
        unsigned cp = 0;
        size_t len = s[i] < 0x80 ? 1 : utf8_next(s + i, n - i, &cp);
        int plain = len > 1 ? cp > 0x9f : (s[i] >= 0x20 && s[i] < 0x7f);
        size_t need = plain ? (s[i] == '\\' ? 2 : len) : 4;
        if (o + need + 3 > room) {
            out[o] = out[o + 1] = out[o + 2] = '.';
            return o + 3;
        }
        if (plain && s[i] == '\\') {
            out[o] = out[o + 1] = '\\';
        } else if (plain) {
            memcpy(out + o, s + i, len);
        } else {
            snprintf(out + o, 5, "\\x%02x", s[i]);
            len = 1; /* each byte of a bad sequence on its own */
        }
        o += need;
        i += len ? len : 1;
    }
    return o;
}

void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES * 2], msg[LINE_MAX_BYTES * 4];
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
    rc = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    n += escape_into(buf + n, n < LINE_MAX_BYTES ? LINE_MAX_BYTES : 0, msg);
    buf[n++] = '\n';
    /* One write per line: atomic for pipes and O_APPEND files. */
    if (write(STDERR_FILENO, buf, n) < 0)
        return;
}
