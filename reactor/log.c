/* log.c: leash's own messages on stderr, filtered by one global level.
 *
 * The level is the only global here: it is set once at start-up from the
 * command line, and every message in the process obeys it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static enum log_level level = LOG_NORMAL;
static int crlf;

void log_set_level(enum log_level l)
{
	level = l;
}

enum log_level log_get_level(void)
{
	return level;
}

void log_set_crlf(int on)
{
	crlf = on;
}

/* One write(2) per message, so lines from leash and its children never
 * interleave mid-line. */
static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	int n, m;

	n = snprintf(buf, sizeof(buf), "leash: %s", prefix);
	m = vsnprintf(buf + n, sizeof(buf) - n - 2, fmt, ap);
	if (m < 0)
		return;
	n += m < (int)(sizeof(buf) - n - 2) ? m : (int)(sizeof(buf) - n - 3);
	if (crlf)
		buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

#define LOG_FN(name, min, prefix)                                                                  \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		if (level < (min))                                                                 \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		emit(prefix, fmt, ap);                                                             \
		va_end(ap);                                                                        \
	}

LOG_FN(log_err, LOG_QUIET, "")
LOG_FN(log_warn, LOG_NORMAL, "warning: ")
LOG_FN(log_info, LOG_NORMAL, "")
LOG_FN(log_debug, LOG_VERBOSE, "")
