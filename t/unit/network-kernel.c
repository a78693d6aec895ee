/* network-kernel.c: the network module with its real BPF programs, on a
 * test cgroup of its own (root, cgroup v2, BTF; t/t2110 says so).
 *
 * Children moved into the cgroup make real connects and sends; their
 * errno is the kernel's answer, and the events the module publishes (read
 * from the ring buffer by running the reactor's loop) must carry the same
 * decision and the policy ids. Checked: each rule form and mode, IPv4-mapped
 * IPv6, UDP sendto without connect, protected endpoints, the parent outside
 * the cgroup unaffected; a differential test of random policies in the
 * real kernel against the evaluator; and live policy/mode switches while a
 * child keeps connecting, where every connect must be decided by exactly
 * one of the policies in turn (never "no policy", never lost).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bus.h"
#include "cedar/cedar.h"
#include "cgroup.h"
#include "log.h"
#include "module.h"
#include "network-gen.h"
#include "network.h"
#include "policy.h"
#include "reactor.h"
#include "tap.h"

extern const struct module network_module;

static struct cgroup cg;

/* ---- events seen -------------------------------------------------------- */

#define MAX_SEEN 200000
static struct seen {
	char kind[24];
	char resource[96];
	enum decision decision;
	char policies[128];
	char reason[24];
	int64_t pid;
	bool mapped;
} * seen;
static size_t nseen;

static void collect(struct record *r, void *arg)
{
	struct seen *s;
	json_t *reason;
	char *pol;

	if (strncmp(r->kind, "network.", 8) != 0 || nseen == MAX_SEEN)
		return;
	s = &seen[nseen++];
	snprintf(s->kind, sizeof(s->kind), "%s", r->kind);
	snprintf(s->resource, sizeof(s->resource), "%s", r->resource ? r->resource : "");
	s->decision = r->decision;
	pol = r->policies ? json_dumps(r->policies, JSON_COMPACT) : NULL;
	snprintf(s->policies, sizeof(s->policies), "%s", pol ? pol : "null");
	free(pol);
	reason = json_object_get(r->details, "reason");
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? json_string_value(reason) : "");
	s->pid = r->pid;
	s->mapped = json_object_get(r->details, "ipv4_mapped") != NULL;
}

/* Runs the loop until N events have been seen (or 2 s pass). */
static void pump(size_t n)
{
	for (int i = 0; i < 2000 && nseen < n; i++) {
		event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
		if (nseen < n)
			usleep(1000);
	}
}

/* ---- connects from inside the cgroup ------------------------------------ */

static void join_cgroup(void)
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

static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, addr, &s4->sin_addr);
	return sizeof(*s4);
}

enum how {
	TCP_CONNECT,
	UDP_CONNECT,
	UDP_SENDTO
};

/* errno of one connect (0 on success), from the cgroup when INSIDE. */
static int try_connect(const char *addr, uint16_t port, enum how how, bool inside)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(addr, port, &ss);
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd, rc;

		if (inside)
			join_cgroup();
		fd = socket(ss.ss_family, how == TCP_CONNECT ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (how == UDP_SENDTO)
			rc = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
		else
			rc = connect(fd, (struct sockaddr *)&ss, len);
		_exit(rc < 0 ? errno : 0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- policies ----------------------------------------------------------- */

static struct policy *build(const char *text)
{
	struct policy *p = NULL;

	if (policy_build(text, strlen(text), "test", &p, NULL, stdout) < 0)
		return NULL;
	return p;
}

static int apply(const char *text, enum mode m)
{
	char err[512] = "";
	int rc = policy_apply(text ? build(text) : NULL, m, "test", err, sizeof(err));

	if (rc)
		diag("policy_apply: %s", err);
	return rc;
}

/* Puts a policy that need not pass leash's validation (CIDR ranges) in
 * force through the module's own hooks, in enforce mode. */
static int force_compiled(const char *text)
{
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };
	struct policy p = { 0 };
	void *staged = NULL;
	char err[512];
	int rc;

	rc = cedar_parse(text, strlen(text), 0, &ps, &d);
	cedar_diags_free(&d);
	if (rc)
		return rc;
	p.ps = ps;
	rc = network_module.policy_prepare(&p, MODE_ENFORCE, &staged, err, sizeof(err));
	if (rc == 0)
		network_module.policy_commit(staged);
	else
		diag("prepare: %s", err);
	cedar_policy_set_free(ps);
	return rc;
}

static const char *const base =
	"@id(\"files\") permit (principal, action in [Action::\"FileOpen\", "
	"Action::\"ProcessExec\"], resource);\n";

/* ---- the tests ---------------------------------------------------------- */

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	listen(fd, 64);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static const struct seen *last(void)
{
	return nseen ? &seen[nseen - 1] : NULL;
}

static void test_modes(void)
{
	char policy[2048];
	uint16_t port, other = 1;
	int lfd = listener(&port);
	size_t before;

	snprintf(policy, sizeof(policy),
		 "%s@id(\"lo\") permit (principal, " NC ", resource in Host::\"127.0.0.1:%u\");\n"
		 "@id(\"v4\") permit (principal, " NC ", resource in Host::\"127.0.0.2\");\n"
		 "@id(\"no-v4\") forbid (principal, " NC ", resource in Host::\"127.0.0.2:7\");\n"
		 "@id(\"v6\") permit (principal, " NC ", resource in Host::\"[::1]:%u\");\n",
		 base, port, port);
	ok(apply(policy, MODE_ENFORCE) == 0, "enforce mode with an address policy");

	before = nseen;
	is_int(try_connect("127.0.0.1", port, TCP_CONNECT, true), 0,
	       "enforce: a permitted TCP connect succeeds");
	is_int(try_connect("127.0.0.1", other, TCP_CONNECT, true), EPERM,
	       "enforce: another port of the same address fails with EPERM");
	is_int(try_connect("127.0.0.2", 7, UDP_CONNECT, true), EPERM,
	       "enforce: a forbid on address:port overrides the address permit (UDP connect)");
	is_int(try_connect("::ffff:127.0.0.2", 7, UDP_CONNECT, true), EPERM,
	       "enforce: IPv4-mapped IPv6 to the forbidden IPv4 fails with EPERM");
	is_int(try_connect("127.0.0.2", 7, UDP_SENDTO, true), EPERM,
	       "enforce: UDP sendto without connect to it fails with EPERM");
	is_int(try_connect("127.0.0.2", 9, UDP_SENDTO, true), 0,
	       "enforce: UDP sendto to a permitted address succeeds");
	is_int(try_connect("::1", 1, UDP_CONNECT, true), EPERM, "enforce: IPv6 default deny");
	is_int(try_connect("127.0.0.1", other, TCP_CONNECT, false), ECONNREFUSED,
	       "a process outside the session cgroup is not affected");
	pump(before + 7);
	is_int(nseen - before, 7, "one event per connect inside, none for the one outside");
	if (nseen - before == 7) {
		const struct seen *e = &seen[before];
		char want[64];

		snprintf(want, sizeof(want), "Host::\"127.0.0.1:%u\"", port);
		is_str(e[0].resource, want, "resource of the permitted connect");
		ok(e[0].decision == DECISION_ALLOW && strcmp(e[0].policies, "[\"lo\"]") == 0,
		   "allowed, by policy lo: %s", e[0].policies);
		ok(e[1].decision == DECISION_DENY && strcmp(e[1].policies, "[]") == 0 &&
			   strcmp(e[1].reason, "default deny") == 0,
		   "denied, default deny: %s %s", e[1].policies, e[1].reason);
		ok(e[2].decision == DECISION_DENY && strcmp(e[2].policies, "[\"no-v4\"]") == 0,
		   "denied by no-v4: %s", e[2].policies);
		ok(e[3].decision == DECISION_DENY && e[3].mapped &&
			   strcmp(e[3].resource, "Host::\"127.0.0.2:7\"") == 0,
		   "the mapped connect is decided and named as IPv4: %s", e[3].resource);
		ok(strcmp(e[4].kind, "network.sendmsg") == 0 && e[4].decision == DECISION_DENY,
		   "sendto is a network.sendmsg event, denied");
		ok(strcmp(e[5].kind, "network.sendmsg") == 0 && e[5].decision == DECISION_ALLOW &&
			   strcmp(e[5].policies, "[\"v4\"]") == 0,
		   "allowed sendmsg names v4: %s", e[5].policies);
		is_str(e[6].resource, "Host::\"[::1]:1\"", "IPv6 resource is [addr]:port");
	}

	ok(apply(NULL, MODE_SHADOW) == 0, "switch to shadow mode, same policy");
	before = nseen;
	is_int(try_connect("127.0.0.1", other, TCP_CONNECT, true), ECONNREFUSED,
	       "shadow: the forbidden connect reaches the stack");
	is_int(try_connect("127.0.0.1", port, TCP_CONNECT, true), 0,
	       "shadow: the permitted connect succeeds");
	pump(before + 2);
	ok(nseen == before + 2 && seen[before].decision == DECISION_WOULD_DENY &&
		   strcmp(seen[before].reason, "default deny") == 0,
	   "shadow: a would_deny event (default deny)");
	ok(nseen == before + 2 && seen[before + 1].decision == DECISION_ALLOW &&
		   strcmp(seen[before + 1].policies, "[\"lo\"]") == 0,
	   "shadow: the permitted one names lo");

	ok(apply(NULL, MODE_RECORD) == 0, "switch to record mode");
	before = nseen;
	is_int(try_connect("127.0.0.2", 7, UDP_CONNECT, true), 0,
	       "record: the forbidden UDP connect succeeds");
	pump(before + 1);
	ok(nseen == before + 1 && last()->decision == DECISION_ALLOW &&
		   strcmp(last()->reason, "record mode") == 0,
	   "record: an allow event");
	close(lfd);
}

static void test_protect(void)
{
	uint16_t port;
	int lfd = listener(&port);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	size_t before = nseen;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ok(network_protect((struct sockaddr *)&a, sizeof(a)) == 0, "protect 127.0.0.1:%u", port);
	ok(apply("@id(\"all\") permit (principal, action, resource);", MODE_RECORD) == 0,
	   "record mode, a policy that permits everything");
	is_int(try_connect("127.0.0.1", port, TCP_CONNECT, true), EPERM,
	       "a protected endpoint is denied even in record mode");
	is_int(try_connect("::ffff:127.0.0.1", port, TCP_CONNECT, true), EPERM,
	       "also through IPv4-mapped IPv6");
	is_int(try_connect("127.0.0.1", port, TCP_CONNECT, false), 0,
	       "leash itself (outside the cgroup) still reaches it");
	pump(before + 2);
	ok(nseen == before + 2 && last()->decision == DECISION_DENY &&
		   strcmp(last()->reason, "protected") == 0,
	   "the event says protected");
	close(lfd);
}

/* Random policies, in the kernel, against the evaluator: one child makes
 * all the connects of a round (UDP connect: no packet is sent). */
static void test_kernel_differential(void)
{
	unsigned rounds =
		getenv("NETWORK_KERNEL_ROUNDS") ? atoi(getenv("NETWORK_KERNEL_ROUNDS")) : 60;
	unsigned checked = 0, bad = 0;

	for (unsigned round = 0; round < rounds && !bad; round++) {
		char *rules[16], *text;
		unsigned n = 1 + rnd(8);
		struct conn conns[40];
		struct cedar_policy_set *ps = NULL;
		struct cedar_diags d = { 0 };
		int pipefd[2], status;
		unsigned char results[40];
		size_t before = nseen;
		pid_t pid;

		text = rand_policy(n, rules);
		for (unsigned j = 0; j < n; j++)
			free(rules[j]);
		if (force_compiled(text) < 0 || cedar_parse(text, strlen(text), 0, &ps, &d) < 0) {
			diag("cannot compile:\n%s", text);
			bad++;
			cedar_diags_free(&d);
			free(text);
			break;
		}
		cedar_diags_free(&d);
		for (int i = 0; i < 40; i++)
			rand_conn(&conns[i]);
		if (pipe(pipefd) < 0)
			abort();
		pid = fork();
		if (pid == 0) {
			join_cgroup();
			for (int i = 0; i < 40; i++) {
				struct sockaddr_storage ss;
				char a[INET6_ADDRSTRLEN];
				socklen_t len;
				int fd;

				inet_ntop(conns[i].family == NET_FAMILY_V4 ? AF_INET : AF_INET6,
					  conns[i].addr, a, sizeof(a));
				len = sockaddr_of(a, conns[i].port, &ss);
				fd = socket(ss.ss_family, SOCK_DGRAM, 0);
				results[i] = connect(fd, (struct sockaddr *)&ss, len) < 0 &&
					     errno == EPERM;
				close(fd);
			}
			_exit(write(pipefd[1], results, 40) == 40 ? 0 : 1);
		}
		close(pipefd[1]);
		if (read(pipefd[0], results, 40) != 40)
			bad++;
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		pump(before + 40);
		for (int i = 0; i < 40 && !bad; i++) {
			struct cedar_entities *es = cedar_entities_new();
			struct cedar_response r = { 0 };
			char rid[96], want[128] = "[";
			struct cedar_request rq = { .principal_type = "Agent",
						    .principal_id = "agent",
						    .action_id = "NetworkConnect",
						    .resource_type = "Host",
						    .resource_id = rid };
			const struct seen *e = before + i < nseen ? &seen[before + i] : NULL;

			network_resource_id(rid, sizeof(rid), conns[i].family, conns[i].addr,
					    conns[i].port);
			cedar_entities_imply(es, "Host", rid, NULL);
			network_imply_cidr(es, rid);
			cedar_authorize(ps, es, &rq, &r);
			/* the module names ids in text order: so do policy ids p0, p1.. */
			for (size_t k = 0; k < r.nreasons; k++)
				for (size_t m = k + 1; m < r.nreasons; m++)
					if (atoi(r.reasons[m] + 1) < atoi(r.reasons[k] + 1)) {
						const char *t = r.reasons[k];

						r.reasons[k] = r.reasons[m];
						r.reasons[m] = t;
					}
			for (size_t k = 0; k < r.nreasons; k++)
				snprintf(want + strlen(want), sizeof(want) - strlen(want),
					 "%s\"%s\"", k ? "," : "", r.reasons[k]);
			strcat(want, "]");
			checked++;
			if (results[i] == r.allow || !e ||
			    (e->decision == DECISION_ALLOW) != r.allow ||
			    strcmp(e->policies, want) != 0) {
				bad++;
				diag("kernel %s, event %s %s, evaluator %s %s for Host::\"%s\"",
				     results[i] ? "EPERM" : "allowed",
				     e ? decision_name(e->decision) : "(none)",
				     e ? e->policies : "", r.allow ? "allow" : "deny", want, rid);
				diag("policy:\n%s", text);
			}
			cedar_response_free(&r);
			cedar_entities_free(es);
		}
		cedar_policy_set_free(ps);
		free(text);
	}
	ok(bad == 0, "the kernel and the evaluator agree on %u real connects (%u policies)",
	   checked, rounds);
}

/* A child connects in a loop while policies and modes switch under it:
 * allow/enforce, deny/enforce, allow/shadow, deny/shadow, allow/record,
 * deny/record, twice over. */
static void test_live_switch(void)
{
	static const enum mode modes[] = { MODE_ENFORCE, MODE_SHADOW, MODE_RECORD };
	char allow[512], deny[512];
	int pipefd[2], status, counts[2] = { 0, 0 }, failed = 0;
	size_t before = nseen, n, allowed = 0, denied = 0, would = 0, odd = 0;
	volatile int *stop =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct timespec t0, t1;
	pid_t pid;

	snprintf(allow, sizeof(allow),
		 "%s@id(\"allow-lo\") permit (principal, " NC ", resource in Host::\"127.0.0.1\");",
		 base);
	snprintf(deny, sizeof(deny),
		 "%s@id(\"deny-lo\") forbid (principal, " NC ", resource in Host::\"127.0.0.1\");\n"
		 "@id(\"any\") permit (principal, " NC ", resource);",
		 base);
	ok(apply(allow, MODE_ENFORCE) == 0, "enforce, 127.0.0.1 allowed");
	if (pipe(pipefd) < 0 || stop == MAP_FAILED)
		abort();
	*stop = 0;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_storage ss;
		socklen_t len = sockaddr_of("127.0.0.1", 9, &ss);
		int c[2] = { 0, 0 };

		join_cgroup();
		while (!*stop && c[0] + c[1] < MAX_SEEN / 2) {
			int fd = socket(AF_INET, SOCK_DGRAM, 0);

			c[connect(fd, (struct sockaddr *)&ss, len) < 0 && errno == EPERM]++;
			close(fd);
			usleep(20); /* a busy agent, not a flood: loss is tested elsewhere */
		}
		_exit(write(pipefd[1], c, sizeof(c)) == sizeof(c) ? 0 : 1);
	}
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i <= 12; i++) {
		failed += apply(i % 2 ? deny : allow, modes[(i / 2) % 3]) != 0;
		event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
		usleep(5000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*stop = 1;
	if (read(pipefd[0], counts, sizeof(counts)) != sizeof(counts))
		counts[0] = counts[1] = -1;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	pump(before + counts[0] + counts[1]);
	n = nseen - before;
	for (size_t i = before; i < nseen; i++) {
		const struct seen *e = &seen[i];

		if (e->decision == DECISION_DENY && strcmp(e->policies, "[\"deny-lo\"]") == 0)
			denied++;
		else if (e->decision == DECISION_WOULD_DENY &&
			 strcmp(e->policies, "[\"deny-lo\"]") == 0)
			would++;
		else if (e->decision == DECISION_ALLOW && (!strcmp(e->policies, "[\"allow-lo\"]") ||
							   !strcmp(e->reason, "record mode")))
			allowed++;
		else if (odd++ < 5)
			diag("odd event: %s %s %s", decision_name(e->decision), e->policies,
			     e->reason);
	}
	diag("12 switches in %.1f ms; child: %d allowed, %d EPERM; events: %zu allow, %zu deny, %zu would_deny",
	     (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, counts[0], counts[1],
	     allowed, denied, would);
	is_int(failed, 0, "every switch was accepted");
	is_int(n, (size_t)(counts[0] + counts[1]),
	       "every connect under live switching has its event");
	is_int(odd, 0, "each was decided by one of the two policies (never none)");
	is_int(denied, counts[1], "the kernel's EPERMs are exactly the deny events");
	ok(denied > 0 && would > 0 && allowed > 0,
	   "both policies decided connects, in several modes");
	munmap((void *)stop, 4096);
}

int main(void)
{
	char err[512];
	struct session_info info = { 0 };
	char name[64];

	snprintf(name, sizeof(name), "network-test-%d", getpid());
	seen = calloc(MAX_SEEN, sizeof(*seen));
	if (!getenv("TEST_VERBOSE"))
		log_set_level(LOG_QUIET);
	if (reactor_init() < 0 || cgroup_create(&cg, name, err, sizeof(err)) < 0) {
		printf("not ok 1 - set up a test cgroup: %s\n1..1\n", err);
		return 1;
	}
	info.uuid = "network-test";
	info.cgroup_path = cg.path;
	info.cgroup_id = cg.id;
	info.cgroup_level = cg.level;
	info.cgroup_fd = cg.fd;
	reactor_set_session(&info);
	bus_subscribe(collect, NULL);
	policy_init("agent", build(base), MODE_RECORD, true);
	if (!ok(network_module.session_start(err, sizeof(err)) == 0,
		"the module loads and attaches"))
		diag("%s", err);
	else {
		test_modes();
		test_kernel_differential();
		test_live_switch();
		test_protect();
		network_module.session_end();
		is_int(network_module.lost(), 0, "no event lost");
	}
	network_module.fini();
	policy_fini();
	if (cgroup_remove_path(cg.path, 2000) < 0)
		diag("cannot remove %s", cg.path);
	cgroup_close(&cg);
	free(seen);
	return done_testing();
}
