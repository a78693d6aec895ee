/* reactor.h: the one event loop, and the narrow API modules get from it.
 *
 * leash is one thread around one libevent base. Modules never see libevent
 * or SQLite: they watch fds, run timers and publish events through these
 * calls, and learn about the session from struct session_info.
 */
#ifndef LEASH_REACTOR_H
#define LEASH_REACTOR_H

#include <stdint.h>
#include <sys/types.h>

#include "record.h"

struct event_base;
struct reactor_watch;

typedef void (*reactor_fn)(void *arg);

/* What a module may know about the running session. */
struct session_info {
	const char *uuid;
	const char *cgroup_path;
	uint64_t cgroup_id;
	int cgroup_level; /* depth below the cgroup2 root */
	int cgroup_fd;
	pid_t init_pid; /* the sandbox's pid 1, as leash sees it; 0 before start */
	int64_t boot_to_wall_ns; /* add to a CLOCK_BOOTTIME value to get wall time */
};

int reactor_init(void);
struct event_base *reactor_base(void);
/* Runs until reactor_stop(). 0, or -EIO if the loop failed. */
int reactor_run(void);
void reactor_stop(void);
void reactor_fini(void);

/* Calls FN(ARG) whenever FD is readable, until reactor_unwatch(). NULL on
 * failure. */
struct reactor_watch *reactor_watch_fd(int fd, reactor_fn fn, void *arg);
/* Calls FN(ARG) every MS milliseconds, until reactor_unwatch(). */
struct reactor_watch *reactor_every(int ms, reactor_fn fn, void *arg);
void reactor_unwatch(struct reactor_watch *w);

/* Hands EV to the bus (see bus.h): the caller gives its reference away. */
void reactor_publish(struct record *ev);

const struct session_info *reactor_session(void);
void reactor_set_session(const struct session_info *info);

#endif
