/* sandbox.h: start the command in the session's namespaces and cgroup.
 *
 * sandbox_start() clones an init process straight into the session cgroup
 * (clone3 CLONE_INTO_CGROUP) with new mount, pid, uts and ipc namespaces.
 * The init (pid 1 inside) makes the mounts private, mounts a /proc that
 * shows only the session, applies volumes and masks, reports ready, and on
 * sandbox_go() forks the command as pid 2, drops to the target identity
 * with no capabilities and no_new_privs, and execs it. It then reaps,
 * forwards signals, and exits with the command's status; when pid 1 exits
 * the kernel kills everything left in the namespace.
 */
#ifndef LEASH_SANDBOX_H
#define LEASH_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

struct volume {
	char *src; /* canonical absolute source path */
	char *dst; /* absolute destination inside the sandbox */
	bool ro;
};

struct sandbox_spec {
	char *const *argv;
	char **envp;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	const struct volume *volumes;
	int nvolumes;
	const char *const *masks; /* paths hidden from the command, NULL-terminated */
	const char *const *readonly; /* paths made read-only inside, NULL-terminated */
	int cgroup_fd;
	int stdio[3]; /* the command's fds 0, 1, 2 */
	int ctty; /* pty slave to make the controlling terminal, or -1 */
};

/* Messages on the control socket between leash and init. */
enum sandbox_msg_type {
	SANDBOX_READY = 1, /* init -> leash: mounts done, waiting for GO */
	SANDBOX_FAILED, /* init -> leash: set-up failed, text says why */
	SANDBOX_GO, /* leash -> init: start the command */
	SANDBOX_STARTED, /* init -> leash: value = command pid inside */
	SANDBOX_STOPPED, /* init -> leash: command stopped, value = signal */
	SANDBOX_CONT, /* leash -> init: continue the command */
	SANDBOX_SIGNAL, /* leash -> init: send signal `value` to the command */
	SANDBOX_EXITED, /* init -> leash: value = wait status of the command */
};

struct sandbox_msg {
	int type;
	int value;
	char text[256];
};

struct sandbox {
	pid_t pid; /* init, as seen from leash */
	int pidfd;
	int ctl; /* SOCK_SEQPACKET to init */
};

/* Starts init and waits (blocking, start-up only) until it is ready.
 * 0, or -errno with a message in ERR. */
int sandbox_start(struct sandbox *sb, const struct sandbox_spec *spec, char *err, size_t errlen);

int sandbox_send(struct sandbox *sb, int type, int value);
/* Reads one message. 0, -EAGAIN when none is waiting, -EPIPE when init is gone. */
int sandbox_recv(struct sandbox *sb, struct sandbox_msg *msg);

/* Reaps init. Returns leash's exit status for the session: the command's
 * exit code, or 128+N when killed by signal N. */
int sandbox_wait(struct sandbox *sb);

void sandbox_close(struct sandbox *sb);

/* Exit status from a wait status: code, or 128+signal. */
int sandbox_exit_code(int wstatus);

#endif
