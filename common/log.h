/* log.h - one line per event on stderr: "ts level pid file:line msg".
 * The only code in the tree that writes log lines; common/ modules other
 * than this one never log, programs log at their edges. */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level that is written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Returns nonzero when a line of this level would be written. */
int log_enabled(enum log_level level);

/* Writes one line; use the macros below, which add the location. */
void log_write(enum log_level level, const char *file, int line,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_at(lvl, ...)                                                       \
    do {                                                                       \
        if (log_enabled(lvl))                                                  \
            log_write(lvl, __FILE__, __LINE__, __VA_ARGS__);                   \
    } while (0)
#define log_err(...)   log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
