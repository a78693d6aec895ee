/* log.h: leash's own messages on stderr.
 *
 * Messages are lower-case, no trailing period, prefixed "leash: ". The
 * level is set once from -q/--verbose. Helpers elsewhere return -errno and
 * fill an error buffer; only the layer that decides calls these.
 */
#ifndef LEASH_LOG_H
#define LEASH_LOG_H

enum log_level {
	LOG_QUIET = 0, /* errors only */
	LOG_NORMAL = 1, /* plus warnings and the session banner */
	LOG_VERBOSE = 2, /* plus every event and internal progress */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Raw-mode terminals need "\r\n"; the tty relay flips this while it owns
 * the terminal so messages stay readable. */
void log_set_crlf(int on);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
