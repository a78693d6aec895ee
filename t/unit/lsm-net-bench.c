/* lsm-net-bench.c: the cost of deciding connects with the BPF LSM hooks
 * beside the cgroup ones, inside the test VM (scripts/vm/bench). Not a
 * test: it prints ratios, never asserts.
 *
 * TCP connect+close and UDP connect+close to loopback, from a process in
 * the session cgroup with 10, 1,000 and 10,000 rules in force (enforce
 * mode, the destination permitted, every other rule a forbid elsewhere),
 * against the same calls with no program loaded and from a process outside
 * the session while the programs are attached; and, from the kernel's
 * bpf_stats, each hook's run time per call in each phase, so the LSM
 * hook's own share shows beside the cgroup hook's. Software emulation
 * (TCG) makes absolute times meaningless: only ratios are printed, and the
 * per-call times are for comparing the hooks with each other.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <event2/event.h>

#include "cgroup.h"
#include "log.h"
#include "module.h"
#include "network.h"
#include "policy.h"
#include "reactor.h"

#define PORT 4660 /* 0x1234 */
#define TCP_N 1000
#define UDP_N 5000
#define RUNS 3 /* best of */

extern const struct module network_module;

static struct cgroup cg;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void join(void)
{
	char path[4200], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg.path);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(99);
	close(fd);
}

static const struct sockaddr_in dst = {
	.sin_family = AF_INET,
	.sin_port = __builtin_bswap16(PORT),
	.sin_addr = { .s_addr = __builtin_bswap32(0x7f000001) },
};

/* Accepts and closes, outside the session, until killed. */
static pid_t listener(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&dst, sizeof(dst)) < 0 || listen(fd, 4096) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);

			if (c >= 0)
				close(c);
		}
	}
	close(fd);
	return pid;
}

static void work(bool tcp)
{
	/* RST on close: no TIME_WAIT, so the ephemeral ports last */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (int i = 0; i < (tcp ? TCP_N : UDP_N); i++) {
		int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);

		if (fd < 0)
			_exit(2);
		if (tcp)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (const struct sockaddr *)&dst, sizeof(dst)) < 0)
			_exit(3);
		close(fd);
	}
}

/* Seconds per connect+close in a child, inside the session or not; the
 * loop drains the ring buffer meanwhile. Negative if a connect failed. */
static double measure_once(bool inside, bool tcp)
{
	double t0, t1;
	int status = 0;
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;

		if (inside)
			join();
		if (read(pfd[0], &c, 1) != 1)
			_exit(1);
		work(tcp);
		_exit(0);
	}
	t0 = now();
	if (write(pfd[1], "g", 1) != 1)
		return -1;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
		usleep(500);
	}
	t1 = now();
	close(pfd[0]);
	close(pfd[1]);
	event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (t1 - t0) / (tcp ? TCP_N : UDP_N);
}

/* The best of RUNS: TCG's noise is mostly one-sided. */
static double measure(bool inside, bool tcp)
{
	double best = -1;

	for (int i = 0; i < RUNS; i++) {
		double t = measure_once(inside, tcp);

		if (t < 0)
			return t;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

static char *policy_of(int nrules)
{
	size_t cap = (size_t)nrules * 160 + 512, off = 0;
	char *t = malloc(cap);

	off += (size_t)snprintf(t + off, cap - off,
				"permit (principal, action == Action::\"NetworkConnect\", "
				"resource in Host::\"127.0.0.1:%d\");\n",
				PORT);
	for (int i = 1; i < nrules; i++)
		off += (size_t)snprintf(t + off, cap - off,
					"forbid (principal, action == Action::\"NetworkConnect\", "
					"resource in Host::\"10.%d.%d.%d:%d\");\n",
					(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff,
					1000 + i % 50000);
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
	rc = network_module.policy_prepare(p, MODE_ENFORCE, &staged, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		policy_free(p);
		return rc;
	}
	network_module.policy_commit(staged);
	policy_fini();
	policy_init("agent", p, MODE_ENFORCE, true);
	return 0;
}

/* Run count and time so far of the loaded program named NAME (as the
 * kernel keeps it: 15 characters). */
static void prog_stats(const char *name, uint64_t *cnt, uint64_t *ns)
{
	struct bpf_prog_info info;
	uint32_t id = 0, len;

	*cnt = *ns = 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);

		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    strncmp(info.name, name, sizeof(info.name) - 1) == 0) {
			*cnt += info.run_cnt;
			*ns += info.run_time_ns;
		}
		if (fd >= 0)
			close(fd);
	}
}

static const char *const hooks[] = { "handle_socket_connect", "handle_connect4" };
#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))

struct snap {
	uint64_t cnt[NHOOKS], ns[NHOOKS];
};

static void snap_take(struct snap *s)
{
	for (size_t i = 0; i < NHOOKS; i++)
		prog_stats(hooks[i], &s->cnt[i], &s->ns[i]);
}

/* "socket_connect 850 ns/call, connect4 900 ns/call" since A. */
static void snap_print(const char *label, const struct snap *a)
{
	struct snap b;

	snap_take(&b);
	printf("  bpf_stats %s:", label);
	for (size_t i = 0; i < NHOOKS; i++) {
		uint64_t n = b.cnt[i] - a->cnt[i];

		printf(" %s %.0f ns/call (%llu calls)%s", hooks[i] + 7,
		       n ? (double)(b.ns[i] - a->ns[i]) / (double)n : 0.0, (unsigned long long)n,
		       i + 1 < NHOOKS ? "," : "\n");
	}
}

int main(void)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct session_info info = { 0 };
	double base_tcp, base_udp, tcp, udp;
	struct snap s;
	char err[512];
	pid_t lp;
	int sfd;

	if (!getenv("LEASH_IN_VM")) {
		fprintf(stderr, "lsm-net-bench: runs in the test VM only (LEASH_IN_VM=1)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_QUIET);
	if (reactor_init() < 0 || cgroup_create(&cg, "lsm-net-bench", err, sizeof(err)) < 0) {
		fprintf(stderr, "lsm-net-bench: %s\n", err);
		return 1;
	}
	lp = listener();
	if (lp < 0) {
		fprintf(stderr, "lsm-net-bench: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	info.uuid = "lsm-net-bench";
	info.cgroup_path = cg.path;
	info.cgroup_id = cg.id;
	info.cgroup_level = cg.level;
	info.cgroup_fd = cg.fd;
	reactor_set_session(&info);

	measure_once(true, true); /* warm caches and the listener up */
	base_tcp = measure(true, true);
	base_udp = measure(true, false);
	printf("connect+close to 127.0.0.1 (TCP n=%d, UDP n=%d, best of %d), ratios to no program loaded\n",
	       TCP_N, UDP_N, RUNS);
	if (apply(10) < 0 || network_module.session_start(err, sizeof(err)) < 0) {
		fprintf(stderr, "lsm-net-bench: %s\n", err);
		return 1;
	}
	printf("  decided by: %s\n", network_backend());
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (apply(sizes[i]) < 0)
			return 1;
		snap_take(&s);
		tcp = measure(true, true);
		udp = measure(true, false);
		if (tcp < 0 || udp < 0) {
			fprintf(stderr, "lsm-net-bench: a permitted connect failed\n");
			return 1;
		}
		printf("  %5d rules, in the session: TCP x%.2f, UDP x%.2f\n", sizes[i],
		       tcp / base_tcp, udp / base_udp);
		snap_print("  in the session", &s);
	}
	snap_take(&s);
	tcp = measure(false, true);
	udp = measure(false, false);
	printf("  outside the session, programs attached: TCP x%.2f, UDP x%.2f\n", tcp / base_tcp,
	       udp / base_udp);
	snap_print("outside the session", &s);
	if (sfd >= 0)
		close(sfd);
	printf("  records lost: %llu\n", (unsigned long long)network_module.lost());
	kill(lp, SIGKILL);
	waitpid(lp, NULL, 0);
	network_module.fini();
	policy_fini();
	cgroup_remove_path(cg.path, 2000);
	cgroup_close(&cg);
	return 0;
}
