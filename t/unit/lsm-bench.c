/* lsm-bench.c: the BPF LSM backend's cost, inside the test VM
 * (scripts/vm/bench). Not a test: it prints ratios, never asserts.
 *
 * For open+close and exec, from a process in the session cgroup with 10,
 * 1,000 and 10,000 rules in force (enforce mode), against the same
 * operations with no program loaded and from a process outside the
 * session while the programs are attached; and each program's run time
 * per call from the kernel's bpf_stats. Software emulation (TCG) makes
 * absolute times meaningless: only the ratios are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <event2/event.h>

#include "cgroup.h"
#include "log.h"
#include "lsm.h"
#include "module.h"
#include "policy.h"
#include "reactor.h"

#define DIR "/tmp/lb"
#define OPENS 20000
#define EXECS 200

static struct cgroup cg;
static char self[PATH_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void join(void)
{
	char path[PATH_MAX + 32], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg.path);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(99);
	close(fd);
}

static void work(bool execs)
{
	if (!execs) {
		for (int i = 0; i < OPENS; i++) {
			int fd = open(DIR "/f", O_RDONLY);

			if (fd >= 0)
				close(fd);
		}
		return;
	}
	for (int i = 0; i < EXECS; i++) {
		pid_t p = fork();

		if (p == 0) {
			execl(DIR "/prog", "prog", "--exit0", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	}
}

/* Seconds per operation of WORK in a child, inside the session or not;
 * the loop drains the ring buffer meanwhile. */
static double measure(bool inside, bool execs)
{
	double t0, t1;
	int status;
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		char c;

		if (inside)
			join();
		if (read(pfd[0], &c, 1) != 1)
			_exit(1);
		work(execs);
		_exit(0);
	}
	t0 = now();
	if (write(pfd[1], "g", 1) != 1)
		return 0;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
		usleep(500);
	}
	t1 = now();
	close(pfd[0]);
	close(pfd[1]);
	event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
	return (t1 - t0) / (execs ? EXECS : OPENS);
}

static char *policy_of(int nrules)
{
	size_t cap = (size_t)nrules * 160 + 1024, off = 0;
	char *t = malloc(cap);

	off += (size_t)snprintf(
		t + off, cap - off,
		"permit (principal, action == Action::\"FileOpenReadOnly\", resource in Dir::\"/\");\n"
		"permit (principal, action == Action::\"FileOpen\", resource in Dir::\"/dev/\");\n"
		"permit (principal, action == Action::\"ProcessExec\", resource);\n");
	for (int i = 3; i < nrules; i++)
		off += (size_t)snprintf(
			t + off, cap - off,
			"forbid (principal, action == Action::\"FileOpen\", resource in Dir::\"" DIR
			"/d%d/\");\n",
			i);
	return t;
}

static int apply(int nrules)
{
	char *text = policy_of(nrules), err[512];
	struct policy *p = NULL;
	void *staged = NULL;
	int rc = policy_build(text, strlen(text), "bench", &p, NULL, stderr);

	free(text);
	if (rc)
		return rc;
	rc = lsm_module.policy_prepare(p, MODE_ENFORCE, &staged, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		policy_free(p);
		return rc;
	}
	lsm_module.policy_commit(staged);
	policy_fini();
	policy_init("agent", p, MODE_ENFORCE, true);
	return 0;
}

static void run_stats(const char *label)
{
	uint32_t id = 0, len;
	struct bpf_prog_info info;

	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);

		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.run_cnt &&
		    strncmp(info.name, "handle_", 7) == 0)
			printf("bpf_stats %s %s: %llu calls, %.0f ns/call (TCG)\n", label,
			       info.name, (unsigned long long)info.run_cnt,
			       (double)info.run_time_ns / (double)info.run_cnt);
		if (fd >= 0)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct session_info info = { 0 };
	double base_open, base_exec;
	char err[512];
	int sfd;

	if (argc > 1 && strcmp(argv[1], "--exit0") == 0)
		return 0;
	if (!getenv("LEASH_IN_VM")) {
		fprintf(stderr, "lsm-bench: runs in the test VM only (LEASH_IN_VM=1)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_QUIET);
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return 2;
	mkdir(DIR, 0755);
	close(open(DIR "/f", O_WRONLY | O_CREAT, 0644));
	{
		char cmd[PATH_MAX * 2 + 16];

		snprintf(cmd, sizeof(cmd), "cp %s " DIR "/prog", self);
		if (system(cmd) != 0)
			return 2;
	}
	if (reactor_init() < 0 || cgroup_create(&cg, "lsm-bench", err, sizeof(err)) < 0) {
		fprintf(stderr, "lsm-bench: %s\n", err);
		return 1;
	}
	info.uuid = "lsm-bench";
	info.cgroup_path = cg.path;
	info.cgroup_id = cg.id;
	info.cgroup_level = cg.level;
	info.cgroup_fd = cg.fd;
	reactor_set_session(&info);

	base_open = measure(true, false);
	base_exec = measure(true, true);
	printf("baseline (no program loaded): open+close and exec = 1.00\n");
	{
		struct policy *p = NULL;
		char *t = policy_of(10);

		policy_build(t, strlen(t), "bench", &p, NULL, stderr);
		free(t);
		policy_init("agent", p, MODE_ENFORCE, true);
	}
	if (!lsm_available() || lsm_module.session_start(err, sizeof(err)) < 0) {
		fprintf(stderr, "lsm-bench: no BPF LSM: %s\n", err);
		return 1;
	}
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (apply(sizes[i]) < 0)
			return 1;
		printf("%5d rules, in the session: open+close x%.2f, exec x%.2f\n", sizes[i],
		       measure(true, false) / base_open, measure(true, true) / base_exec);
	}
	printf("outside the session, programs attached: open+close x%.2f, exec x%.2f\n",
	       measure(false, false) / base_open, measure(false, true) / base_exec);
	run_stats("over all runs");
	if (sfd >= 0)
		close(sfd);
	printf("records lost: %llu\n", (unsigned long long)lsm_module.lost());
	lsm_module.fini();
	policy_fini();
	cgroup_remove_path(cg.path, 2000);
	cgroup_close(&cg);
	return 0;
}
