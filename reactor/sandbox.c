/* sandbox.c: clone3 into the session cgroup and namespaces; the init inside.
 *
 * Why an init: a command that is pid 1 of its namespace ignores every
 * signal it has no handler for, so Ctrl-C would not stop `sleep`. Init
 * stays pid 1, the command runs as pid 2 with normal signal semantics.
 *
 * Why a control socket: leash must learn when the mounts are in place
 * (modules attach to the session's mount namespace before the command
 * runs), when the command stops (Ctrl-Z: leash gives the terminal back and
 * suspends itself), and must be able to resume it. SOCK_SEQPACKET keeps
 * message boundaries, and EOF on it tells init that leash is gone.
 *
 * Everything between clone3 and exec runs in a forked copy of leash: no
 * libevent, no allocation that matters, only syscalls, and errors are
 * reported over the socket as text.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "sandbox.h"
#include "seccomp.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#endif

int sandbox_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 125;
}

static int send_msg(int fd, int type, int value, const char *text)
{
	struct sandbox_msg m = { .type = type, .value = value };

	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	return send(fd, &m, sizeof(m), MSG_NOSIGNAL) == sizeof(m) ? 0 : -errno;
}

int sandbox_send(struct sandbox *sb, int type, int value)
{
	return send_msg(sb->ctl, type, value, NULL);
}

int sandbox_recv(struct sandbox *sb, struct sandbox_msg *msg)
{
	ssize_t n = recv(sb->ctl, msg, sizeof(*msg), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -EPIPE;
	if (n != sizeof(*msg))
		return -EPIPE;
	return 0;
}

/* ---- inside: the init and the command -------------------------------- */

/* Init's failure: say why to leash, then die. */
static void __attribute__((noreturn)) init_fail(int ctl, const char *what, const char *path)
{
	char text[256];

	snprintf(text, sizeof(text), "%s '%s': %s", what, path, strerror(errno));
	send_msg(ctl, SANDBOX_FAILED, errno, text);
	_exit(125);
}

static void mount_volume(int ctl, const struct volume *v)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (mount(v->src, v->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		init_fail(ctl, "cannot bind-mount onto", v->dst);
	if (v->ro && mount_setattr(AT_FDCWD, v->dst, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		init_fail(ctl, "cannot make read-only", v->dst);
}

/* Hide PATH: an empty read-only tmpfs over a directory, /dev/null over a
 * file. Mounts made before the command starts are locked for it: even in
 * a user namespace of its own it cannot unmount them. */
static void mask_path(int ctl, const char *path)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	struct stat st;

	if (stat(path, &st) < 0)
		return; /* nothing there to hide */
	if (S_ISDIR(st.st_mode)) {
		if (mount("leash-mask", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=4k,mode=0555") < 0)
			init_fail(ctl, "cannot mask", path);
		return;
	}
	if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0 ||
	    mount_setattr(AT_FDCWD, path, 0, &attr, sizeof(attr)) < 0)
		init_fail(ctl, "cannot mask", path);
}

/* Read-only view of PATH (and everything mounted below it). Bound onto
 * itself first, so that only this namespace's view changes. */
static void make_readonly(int ctl, const char *path)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		init_fail(ctl, "cannot make read-only", path);
}

static void setup_mounts(int ctl, const struct sandbox_spec *spec)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		init_fail(ctl, "cannot make mounts private at", "/");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		init_fail(ctl, "cannot mount", "/proc");
	for (int i = 0; i < spec->nvolumes; i++)
		mount_volume(ctl, &spec->volumes[i]);
	for (int i = 0; spec->readonly && spec->readonly[i]; i++)
		make_readonly(ctl, spec->readonly[i]);
	for (int i = 0; spec->masks && spec->masks[i]; i++)
		mask_path(ctl, spec->masks[i]);
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

/* The command's identity: the target user, an empty bounding set, no
 * capabilities in any set, no_new_privs, the seccomp floor. Returns 0 or
 * -errno. */
static int drop_privileges(const struct sandbox_spec *spec)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	int top = last_cap();

	for (int c = 0; c <= top; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			  SECBIT_NO_SETUID_FIXUP_LOCKED,
		  0, 0, 0) < 0)
		return -errno;
	if (setgroups(spec->ngroups, spec->groups) < 0 ||
	    setresgid(spec->gid, spec->gid, spec->gid) < 0 ||
	    setresuid(spec->uid, spec->uid, spec->uid) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return seccomp_floor_install();
}

/* leash's own open-file limit before sandbox_start raised it. */
static struct rlimit nofile_before;
static bool nofile_raised;

/* The agent can make leash hold about two fds per proxy connection and per
 * DNS TCP connection (up to the caps in proxy.c and dns.c, some 2,600): at
 * the usual soft limit of 1,024 it could exhaust leash's fds, and a leash
 * without fds denies every exec and file open it must decide. So leash
 * takes its hard limit; the command gets the limit leash was given. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (nofile_raised || getrlimit(RLIMIT_NOFILE, &nofile_before) < 0)
		return;
	r = nofile_before;
	r.rlim_cur = r.rlim_max;
	if (r.rlim_cur != nofile_before.rlim_cur && setrlimit(RLIMIT_NOFILE, &r) == 0)
		nofile_raised = true;
	if (r.rlim_max < 4096)
		log_warn("open-file limit %llu: the agent can exhaust leash's fds with idle "
			 "connections (raise the hard limit: ulimit -Hn 4096)",
			 (unsigned long long)r.rlim_max);
}

static void __attribute__((noreturn)) run_command(const struct sandbox_spec *spec)
{
	extern char **environ;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (spec->ctty >= 0) {
		/* Own session, the pty as controlling terminal: the line
		 * discipline sends ^C and ^Z to the command's foreground
		 * group, and TIOCSTI cannot reach the user's real terminal. */
		if (setsid() < 0 || ioctl(spec->ctty, TIOCSCTTY, 0) < 0)
			goto fail;
	} else if (setpgid(0, 0) < 0) {
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (spec->stdio[i] != i && dup2(spec->stdio[i], i) < 0)
			goto fail;
	close_range(3, ~0U, 0);
	if (nofile_raised && setrlimit(RLIMIT_NOFILE, &nofile_before) < 0)
		goto fail;
	rc = drop_privileges(spec);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	if (chdir(spec->cwd) < 0)
		dprintf(2, "leash: cannot enter '%s' in the sandbox: %s\n", spec->cwd,
			strerror(errno));
	environ = spec->envp;
	execvp(spec->argv[0], spec->argv);
	rc = errno;
	dprintf(2, "leash: cannot run '%s': %s\n", spec->argv[0], strerror(rc));
	/* as shells do: 127 not found, 126 found but not runnable */
	_exit(rc == ENOENT ? 127 : 126);
fail:
	dprintf(2, "leash: cannot start the command: %s\n", strerror(errno));
	_exit(125);
}

static void forward(pid_t cmd, int sig)
{
	/* The group first (a shell's children), then the process itself in
	 * case it left its group. */
	kill(-cmd, sig);
	kill(cmd, sig);
}

/* Init's loop: reap everything, report the command's stops and its exit,
 * forward signals. Leash going away (EOF) kills the session. */
static void __attribute__((noreturn)) init_loop(int ctl, pid_t cmd, int sfd)
{
	struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ctl, .events = POLLIN } };

	for (;;) {
		struct signalfd_siginfo si;
		struct sandbox_msg m;
		int st;
		pid_t p;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			_exit(125);
		if (pfd[1].revents) {
			ssize_t n = recv(ctl, &m, sizeof(m), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				_exit(137); /* leash is gone: take everything down */
			if (n == sizeof(m) && m.type == SANDBOX_CONT)
				forward(cmd, SIGCONT);
			else if (n == sizeof(m) && m.type == SANDBOX_SIGNAL && m.value > 0 &&
				 m.value < NSIG)
				forward(cmd, m.value);
		}
		if (!pfd[0].revents)
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			forward(cmd, si.ssi_signo);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
			if (p != cmd)
				continue;
			if (WIFSTOPPED(st)) {
				send_msg(ctl, SANDBOX_STOPPED, WSTOPSIG(st), NULL);
				continue;
			}
			send_msg(ctl, SANDBOX_EXITED, st, NULL);
			_exit(sandbox_exit_code(st));
		}
	}
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Init keeps only what it and the command need: the control socket and
 * the command's stdio and terminal. leash's BPF, database and reaper
 * fds must not live on inside the sandbox. */
static void close_other_fds(int ctl, const struct sandbox_spec *spec)
{
	int keep[] = { 0, 1, 2, ctl, spec->stdio[0], spec->stdio[1], spec->stdio[2], spec->ctty };
	unsigned int next = 0;
	size_t n = sizeof(keep) / sizeof(keep[0]);

	qsort(keep, n, sizeof(keep[0]), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < next)
			continue;
		if ((unsigned int)keep[i] > next)
			close_range(next, keep[i] - 1, 0);
		next = keep[i] + 1;
	}
	close_range(next, ~0U, 0);
}

static void __attribute__((noreturn)) init_main(int ctl, const struct sandbox_spec *spec)
{
	static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };
	struct sandbox_msg m;
	sigset_t mask;
	pid_t cmd;
	int sfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_NAME, "leash-init", 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	close_other_fds(ctl, spec);
	if (setsid() < 0)
		init_fail(ctl, "cannot start a session in", "init");
	setup_mounts(ctl, spec);

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&mask, forwarded[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		init_fail(ctl, "cannot create", "signalfd");

	send_msg(ctl, SANDBOX_READY, 0, NULL);
	if (recv(ctl, &m, sizeof(m), 0) != sizeof(m) || m.type != SANDBOX_GO)
		_exit(125);
	cmd = fork();
	if (cmd < 0)
		init_fail(ctl, "cannot fork", "command");
	if (cmd == 0) {
		close(ctl);
		close(sfd);
		run_command(spec);
	}
	send_msg(ctl, SANDBOX_STARTED, cmd, NULL);
	init_loop(ctl, cmd, sfd);
}

/* ---- outside: leash's side ------------------------------------------- */

int sandbox_start(struct sandbox *sb, const struct sandbox_spec *spec, char *err, size_t errlen)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP | CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID |
			 CLONE_NEWUTS | CLONE_NEWIPC,
		.exit_signal = SIGCHLD,
		.cgroup = (unsigned)spec->cgroup_fd,
	};
	struct sandbox_msg m;
	int sv[2], pidfd = -1, rc;
	long pid;

	sb->pid = -1;
	sb->pidfd = sb->ctl = -1;
	raise_nofile();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return rc;
	}
	args.pidfd = (unsigned long)&pidfd;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot start the sandbox (clone3): %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		close(sv[0]);
		init_main(sv[1], spec);
	}
	close(sv[1]);
	sb->pid = pid;
	sb->pidfd = pidfd;
	sb->ctl = sv[0];
	/* Start-up only: init answers in milliseconds or has died. */
	if (recv(sb->ctl, &m, sizeof(m), 0) != sizeof(m)) {
		snprintf(err, errlen, "the sandbox's init died during set-up");
		return -EPIPE;
	}
	if (m.type != SANDBOX_READY) {
		snprintf(err, errlen, "%s", m.text);
		return m.value ? -m.value : -EIO;
	}
	return 0;
}

int sandbox_wait(struct sandbox *sb)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, sb->pidfd, &si, WEXITED) < 0)
		return 125;
	if (si.si_code == CLD_EXITED)
		return si.si_status;
	return 128 + si.si_status;
}

void sandbox_close(struct sandbox *sb)
{
	if (sb->ctl >= 0)
		close(sb->ctl);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	sb->ctl = sb->pidfd = -1;
}
