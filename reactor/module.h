/* module.h: what a module is.
 *
 * A module turns its slice of the policy into enforcement and its events
 * into records: file, process, network, mcp. Each is a static struct of
 * hooks (NULL = not interested) listed in modules/modules.c; the session
 * calls the hooks in table order at each stage, and in reverse order on the
 * way down. Hooks return 0 or -errno and fill ERR; a failing start aborts
 * the session before the command runs (fail closed).
 *
 * Modules see reactor.h (fds, timers, publish, session facts) and event.h,
 * never libevent or SQLite.
 */
#ifndef LEASH_MODULE_H
#define LEASH_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct policy;

struct module {
	const char *name;
	/* The Cedar actions this module enforces (NULL-terminated). In enforce
	 * mode, an action without an enforcer refuses the mode (or, with
	 * --allow-degraded, is reported as degraded). */
	const char *const *enforces;
	/* The session cgroup exists, the command does not yet: load and
	 * attach whatever must see the command's first instruction. */
	int (*session_start)(char *err, size_t errlen);
	/* The sandbox's init is up (mounts done, command not started);
	 * reactor_session()->init_pid is valid. */
	int (*session_ready)(char *err, size_t errlen);
	/* The command has exited: collect what is still in flight. */
	void (*session_end)(void);
	/* A policy and mode are about to take effect (at start, or a live
	 * change): compile what this module's enforcement point needs into
	 * *STAGED without touching what is in force. Something the point
	 * cannot enforce exactly in enforce mode is an error (in ERR), which
	 * rejects the change for every module; in record and shadow mode it
	 * is reported, not fatal. See policy.h. */
	int (*policy_prepare)(const struct policy *p, enum mode m, void **staged, char *err,
			      size_t errlen);
	/* Put STAGED in force; cannot fail. */
	void (*policy_commit)(void *staged);
	/* Drop STAGED: another module refused the change. */
	void (*policy_abort)(void *staged);
	/* What enforces this module's actions in this session ("fanotify",
	 * "bpf-lsm", "cgroup-bpf", ...): for the banner, the status and the
	 * session.enforcement event. Valid once session_start has run; NULL
	 * when the module enforces nothing. */
	const char *(*backend)(void);
	/* Events this module could not deliver (kernel ring buffer full...). */
	uint64_t (*lost)(void);
	/* Release everything. Called even when session_start failed. */
	void (*fini)(void);
};

extern const struct module *const modules[];
extern const size_t modules_count;

#endif
