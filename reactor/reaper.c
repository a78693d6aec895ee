/* reaper.c: the watchdog that kills the session cgroup when leash dies. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "cgroup.h"
#include "reaper.h"

static void __attribute__((noreturn)) reaper_main(int fd, const char *path)
{
	static const int ignored[] = { SIGHUP,	SIGINT,	 SIGQUIT, SIGTERM,
				       SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE };
	char c;
	ssize_t n;

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "leash-reaper", 0, 0, 0);
	/* Hold nothing of leash's: no terminal, no BPF, no database. */
	if (fd != 3) {
		dup2(fd, 3);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	close(0);
	close(1);
	close(2);
	do
		n = read(fd, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	/* After a clean shutdown leash has removed the cgroup already. */
	cgroup_kill_path(path);
	cgroup_remove_path(path, 5000);
	_exit(0);
}

int reaper_start(const char *cgroup_path, pid_t *pid)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (*pid == 0) {
		close(p[1]);
		reaper_main(p[0], cgroup_path);
	}
	close(p[0]);
	return p[1];
}
