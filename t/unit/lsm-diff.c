/* lsm-diff.c: the BPF LSM backend's compiled trie and its kernel lookup
 * code against the Cedar evaluator, on any kernel (no BPF LSM needed).
 *
 * bpf/lsm.bpf.c's handle_test_lookup is a tc program running the same
 * key building and trie lookup as the LSM hooks, on a request put in
 * test_req_map; BPF_PROG_TEST_RUN runs it here on the host. Random file
 * and exec policies (permit and forbid; FileOpen, FileOpenReadOnly,
 * FileOpenReadWrite, ProcessExec and action lists; File and Dir with ==,
 * in, is, when { resource in [..] }, unconstrained resources; paths that
 * share a prefix but not a component, and paths near and over the key's
 * length) are compiled by lsm_compile into a real kernel trie; random
 * requests (read-only, read-write, exec; files and directories; long
 * paths) are decided (a) by the kernel lookup and (b) by
 * cedar_authorize_open / cedar_authorize on the implied entities. The
 * decision and the ids of the policies that decided must be equal.
 * Fixed checks first: what the compiler refuses in enforce mode. Then the
 * inode entries: a file a forbid names, reached by a hard link from a
 * permitted Dir, is decided by the kernel lookup as the evaluator decides
 * its forbidden name, in every class.
 *
 * LSM_DIFF_ROUNDS overrides the number of random policies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cedar/cedar.h"
#include "events.h"
#include "lsm.h"
#include "lsm.skel.h"
#include "tap.h"

static struct lsm_bpf *skel;
static int req_fd, prog_fd;

static struct cedar_policy_set *parse(const char *text)
{
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };

	if (cedar_parse(text, strlen(text), 0, &ps, &d) < 0) {
		cedar_diags_print(stdout, &d, "policy");
		ps = NULL;
	}
	cedar_diags_free(&d);
	return ps;
}

/* ---- the universe of paths ------------------------------------------------ */

static char long_dir[260], long_file[260], at_limit[260], over_limit[300], deep[600];
static const char *rule_files[8], *rule_dirs[8], *req_files[16], *req_dirs[10];
static size_t n_rule_files, n_rule_dirs, n_req_files, n_req_dirs;

static void universe(void)
{
	static char deep_dir[600];

	/* a Dir id of 250 bytes, a File id of 253 (the longest == File the key
	 * holds with its NUL), files beyond the key inside the long Dir */
	snprintf(long_dir, sizeof(long_dir), "/ld/a/%0243d/", 7);
	snprintf(at_limit, sizeof(at_limit), "/ld/a/%0247d", 5);
	snprintf(long_file, sizeof(long_file), "%sf", long_dir);
	snprintf(over_limit, sizeof(over_limit), "%s%040d", long_dir, 3);
	snprintf(deep, sizeof(deep), "/ld/a/b/%0300d/%0200d", 1, 2);
	snprintf(deep_dir, sizeof(deep_dir), "%s%0100d", long_dir, 9);

	const char *rf[] = { "/ld/a", "/ld/a/b", "/ld/ab", "/ld/a/b/c", "/ld/x", at_limit };
	const char *rd[] = { "/", "/ld/", "/ld/a/", "/ld/a/b/", "/ld/ab/", long_dir };
	const char *qf[] = { "/ld/a",	"/ld/a/b", "/ld/ab",  "/ld/a/b/c", "/ld/x", "/ld/a/b/cd",
			     "/ld/abc", at_limit,  long_file, over_limit,  deep,    "/etc/passwd" };
	const char *qd[] = { "/", "/ld", "/ld/a", "/ld/a/b", "/ld/ab", deep_dir };

	memcpy(rule_files, rf, sizeof(rf));
	n_rule_files = sizeof(rf) / sizeof(rf[0]);
	memcpy(rule_dirs, rd, sizeof(rd));
	n_rule_dirs = sizeof(rd) / sizeof(rd[0]);
	memcpy(req_files, qf, sizeof(qf));
	n_req_files = sizeof(qf) / sizeof(qf[0]);
	memcpy(req_dirs, qd, sizeof(qd));
	n_req_dirs = sizeof(qd) / sizeof(qd[0]);
}

/* ---- random policies --------------------------------------------------- */

static const char *pick(const char **v, size_t n)
{
	return v[(size_t)rand() % n];
}

static void rand_resource(char *buf, size_t len)
{
	const char *f = pick(rule_files, n_rule_files), *d = pick(rule_dirs, n_rule_dirs);

	switch (rand() % 9) {
	case 0:
		snprintf(buf, len, "resource");
		break;
	case 1:
		snprintf(buf, len, "resource == File::\"%s\"", f);
		break;
	case 2:
		snprintf(buf, len, "resource == Dir::\"%s\"", d);
		break;
	case 3:
	case 4:
		snprintf(buf, len, "resource in Dir::\"%s\"", d);
		break;
	case 5:
		snprintf(buf, len, "resource is %s", rand() % 2 ? "File" : "Dir");
		break;
	case 6:
		snprintf(buf, len, "resource in File::\"%s\"", f);
		break;
	case 7:
		snprintf(buf, len, "resource) when { resource in [Dir::\"%s\", File::\"%s\"] }", d,
			 f);
		return;
	default:
		snprintf(buf, len,
			 "resource) when { resource == File::\"%s\" || resource in Dir::\"%s\" }",
			 f, d);
		return;
	}
	strncat(buf, ")", len - strlen(buf) - 1);
}

static char *rand_policy(unsigned nrules)
{
	static const char *actions[] = {
		"action",
		"action == Action::\"FileOpen\"",
		"action == Action::\"FileOpenReadOnly\"",
		"action == Action::\"FileOpenReadWrite\"",
		"action == Action::\"ProcessExec\"",
		"action in [Action::\"FileOpenReadOnly\", Action::\"ProcessExec\"]",
		"action in [Action::\"FileOpen\", Action::\"NetworkConnect\"]",
	};
	size_t cap = 4096 * nrules + 1, off = 0;
	char *text = malloc(cap);

	text[0] = '\0';
	for (unsigned i = 0; i < nrules; i++) {
		char res[1024];

		rand_resource(res, sizeof(res));
		off += (size_t)snprintf(
			text + off, cap - off, "@id(\"p%u\")\n%s (principal, %s, %s;\n", i,
			rand() % 3 ? "permit" : "forbid",
			actions[rand() % (sizeof(actions) / sizeof(actions[0]))], res);
	}
	return text;
}

/* ---- the two deciders --------------------------------------------------- */

/* "allow [a,b]" / "deny [..]", ids sorted. */
static void text_of(bool allow, json_t *ids, char *buf, size_t len)
{
	size_t n = json_array_size(ids), off;
	const char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(ids, i));
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	off = (size_t)snprintf(buf, len, "%s [", allow ? "allow" : "deny");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", v[i]);
	snprintf(buf + off, len - off, "]");
	free(v);
}

/* The kernel lookup of an access of class CLS to PATH, whose inode is ST
 * (NULL: none), as "allow|deny [ids]" into BUF. */
static int kernel_decide_inode(const struct lsm_set *s, uint8_t cls, uint8_t type, const char *path,
			       const struct stat *st, char *buf, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	static struct {
		struct ev_lsm_file ev;
		struct lsm_key key;
	} req;
	uint8_t pkt[64] = { 0 };
	uint32_t zero = 0;
	json_t *ids;

	memset(&req, 0, sizeof(req));
	req.ev.cls = cls;
	req.ev.type = type;
	snprintf(req.ev.path, sizeof(req.ev.path), "%s", path);
	req.ev.path_len = (uint32_t)strlen(path) + 1; /* as bpf_d_path returns it */
	if (st) {
		req.ev.dev = (uint32_t)(major(st->st_dev) << 20 | minor(st->st_dev));
		req.ev.ino = st->st_ino;
	}
	if (bpf_map_update_elem(req_fd, &zero, &req, BPF_ANY) < 0)
		return -errno;
	opts.data_in = pkt;
	opts.data_size_in = sizeof(pkt);
	if (bpf_prog_test_run_opts(prog_fd, &opts) < 0)
		return -errno;
	if (bpf_map_lookup_elem(req_fd, &zero, &req) < 0)
		return -errno;
	ids = lsm_set_policies(s, req.ev.v.set_id);
	if (!ids)
		return -ENOENT;
	text_of(req.ev.v.action == LSM_ALLOW, ids, buf, len);
	if ((req.ev.flags & LSM_F_LONG) && strlen(path) + (type == LSM_TYPE_DIR) < LSM_KEY_PATH)
		snprintf(buf, len, "LSM_F_LONG on a short path");
	json_decref(ids);
	return 0;
}

static int kernel_decide(const struct lsm_set *s, uint8_t cls, uint8_t type, const char *path,
			 char *buf, size_t len)
{
	return kernel_decide_inode(s, cls, type, path, NULL, buf, len);
}

static void cedar_decide(const struct cedar_policy_set *ps, uint8_t cls, uint8_t type,
			 const char *path, char *buf, size_t len)
{
	char id[700];
	struct cedar_entities *es = cedar_entities_new();
	struct cedar_request rq = { .principal_type = "Agent", .principal_id = "agent" };
	struct cedar_response r = { 0 };
	json_t *ids = json_array();

	snprintf(id, sizeof(id), "%s%s", path,
		 type == LSM_TYPE_DIR && strcmp(path, "/") != 0 ? "/" : "");
	rq.resource_type = type == LSM_TYPE_DIR ? "Dir" : "File";
	rq.resource_id = id;
	cedar_entities_imply(es, rq.resource_type, id, NULL);
	if (cls == LSM_CLASS_EXEC) {
		rq.action_id = "ProcessExec";
		cedar_authorize(ps, es, &rq, &r);
	} else {
		cedar_authorize_open(ps, es, &rq, cls == LSM_CLASS_WRITE, &r);
	}
	for (size_t i = 0; i < r.nreasons; i++) {
		bool dup = false;

		for (size_t j = 0; j < json_array_size(ids); j++)
			dup |= strcmp(json_string_value(json_array_get(ids, j)), r.reasons[i]) == 0;
		if (!dup)
			json_array_append_new(ids, json_string(r.reasons[i]));
	}
	text_of(r.allow, ids, buf, len);
	json_decref(ids);
	cedar_response_free(&r);
	cedar_entities_free(es);
}

/* ---- tests ------------------------------------------------------------------ */

static int put_in_force(const struct lsm_set *s)
{
	uint32_t zero = 0;
	int fd = lsm_set_trie(s, skel->obj, skel->maps.trie_shape), rc = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.lsm_policy_map), &zero, &fd, BPF_ANY) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void test_refusals(void)
{
	char text[1024], err[256] = "";
	struct cedar_policy_set *ps;
	struct lsm_set *s = NULL;
	json_t *report = NULL;
	int rc;

	ps = parse("permit (principal == Agent::\"x\", action == Action::\"FileOpen\", resource);");
	ok(ps && lsm_compile(ps, MODE_ENFORCE, 1, &s, &report, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "principal constraint"),
	   "enforce: a principal constraint is refused (%s)", err);
	err[0] = '\0';
	ok(ps && lsm_compile(ps, MODE_SHADOW, 1, &s, &report, err, sizeof(err)) == 0 &&
		   json_array_size(report) == 2,
	   "shadow: the same policy compiles and is reported for both open classes");
	lsm_set_free(s);
	json_decref(report);
	cedar_policy_set_free(ps);

	snprintf(
		text, sizeof(text),
		"forbid (principal, action == Action::\"FileOpen\", resource == File::\"/ld/%0260d\");",
		1);
	ps = parse(text);
	s = NULL;
	ok(ps && lsm_compile(ps, MODE_ENFORCE, 1, &s, NULL, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "longer than"),
	   "enforce: a rule path longer than the key is refused (%s)", err);
	cedar_policy_set_free(ps);

	ps = parse(
		"forbid (principal, action == Action::\"ProcessExec\", resource in Dir::\"/ld/a/\");\n"
		"permit (principal, action, resource);");
	s = NULL;
	rc = ps ? lsm_compile(ps, MODE_ENFORCE, 1, &s, NULL, err, sizeof(err)) : -EINVAL;
	ok(rc == 0 && lsm_set_entries(s) == 6,
	   "entries: the root, each class whole, exec of /ld/a/ as File and as Dir (got %zu%s%s)",
	   s ? lsm_set_entries(s) : 0, s ? "" : ": ", s ? "" : err);
	lsm_set_free(s);
	cedar_policy_set_free(ps);
}

static void test_no_policy(void)
{
	char got[256];
	struct cedar_policy_set *ps = parse("permit (principal, action, resource);");
	struct lsm_set *s = NULL;
	char err[256];

	lsm_compile(ps, MODE_ENFORCE, 7, &s, NULL, err, sizeof(err));
	ok(s && put_in_force(s) == 0 &&
		   kernel_decide(s, LSM_CLASS_WRITE, LSM_TYPE_FILE, "/ld/a", got, sizeof(got)) ==
			   0 &&
		   strcmp(got, "allow [policy0]") == 0,
	   "the kernel lookup allows under permit-all and names the policy (%s)", got);
	lsm_set_free(s);
	cedar_policy_set_free(ps);
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f)
		fclose(f);
}

/* A hard link from a permitted Dir to a forbidden file, and a file of its
 * own there: each decided as the evaluator decides the forbidden name (the
 * link) or its own name (the other file), in each class, under policies
 * that forbid per class. */
static void test_inodes(void)
{
	char dir[] = "/tmp/lsm-diff-XXXXXX", path[128], text[1024];
	unsigned checked = 0, bad = 0;
	struct stat st;

	if (!mkdtemp(dir)) {
		ok(false, "inodes: a fixture directory: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/secret", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/pub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/secret/k", dir);
	write_file(path);
	snprintf(text, sizeof(text), "%s/pub/h", dir);
	if (link(path, text) < 0)
		diag("link: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/pub/p", dir);
	write_file(path);
	for (size_t i = 0; i < 2; i++) {
		struct cedar_policy_set *ps;
		struct lsm_set *s = NULL;
		char err[256];

		if (i == 0)
			snprintf(
				text, sizeof(text),
				"permit (principal, action, resource);\n"
				"forbid (principal, action == Action::\"FileOpen\", resource in Dir::\"%s/secret/\");",
				dir);
		else
			snprintf(
				text, sizeof(text),
				"permit (principal, action == Action::\"FileOpenReadOnly\", resource);\n"
				"permit (principal, action == Action::\"ProcessExec\", resource in Dir::\"%s/\");\n"
				"forbid (principal, action == Action::\"FileOpenReadWrite\", resource in Dir::\"%s/secret/\");\n"
				"forbid (principal, action == Action::\"ProcessExec\", resource == File::\"%s/secret/k\");",
				dir, dir, dir);
		ps = parse(text);
		if (!ps ||
		    lsm_compile(ps, MODE_ENFORCE, 1000 + (uint32_t)i, &s, NULL, err, sizeof(err)) <
			    0 ||
		    put_in_force(s) < 0) {
			bad++;
			cedar_policy_set_free(ps);
			continue;
		}
		for (uint8_t cls = LSM_CLASS_READ; cls <= LSM_CLASS_EXEC; cls++) {
			static const char *const names[][2] = { { "pub/h", "secret/k" },
								{ "pub/p", "pub/p" } };

			for (size_t n = 0; n < 2; n++) {
				char used[128], decided[128], a[512], b[512];

				snprintf(used, sizeof(used), "%s/%s", dir, names[n][0]);
				snprintf(decided, sizeof(decided), "%s/%s", dir, names[n][1]);
				if (stat(used, &st) < 0 ||
				    kernel_decide_inode(s, cls, LSM_TYPE_FILE, used, &st, a,
							sizeof(a)) < 0)
					snprintf(a, sizeof(a), "lookup failed: %s",
						 strerror(errno));
				cedar_decide(ps, cls, LSM_TYPE_FILE, decided, b, sizeof(b));
				checked++;
				if (strcmp(a, b) != 0 && bad++ < 3)
					diag("class %u, %s (decided as %s): kernel %s, evaluator %s",
					     cls, used, decided, a, b);
			}
		}
		lsm_set_free(s);
		cedar_policy_set_free(ps);
	}
	ok(bad == 0 && checked == 12,
	   "inodes: a hard link to a forbidden file is decided on the forbidden name, another file on its own (%u checks)",
	   checked);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		diag("cannot remove %s", dir);
}

static void test_differential(void)
{
	unsigned rounds =
		getenv("LSM_DIFF_ROUNDS") ? (unsigned)atoi(getenv("LSM_DIFF_ROUNDS")) : 300;
	unsigned checked = 0, bad = 0, policies = 0, allows = 0, forbids = 0;

	srand(5);
	for (unsigned i = 0; i < rounds && bad < 3; i++) {
		char *text = rand_policy(1 + (unsigned)rand() % 6), err[256];
		struct cedar_policy_set *ps = parse(text);
		struct lsm_set *s = NULL;

		if (!ps || lsm_compile(ps, MODE_ENFORCE, i + 1, &s, NULL, err, sizeof(err)) < 0 ||
		    put_in_force(s) < 0) {
			diag("cannot compile or load (%s):\n%s", err, text);
			bad++;
		}
		policies++;
		for (unsigned q = 0; s && q < 40; q++) {
			uint8_t cls = (uint8_t)(1 + rand() % 3);
			bool dir = cls != LSM_CLASS_EXEC && rand() % 3 == 0;
			const char *path =
				dir ? pick(req_dirs, n_req_dirs) : pick(req_files, n_req_files);
			uint8_t type = dir ? LSM_TYPE_DIR : LSM_TYPE_FILE;
			char a[512], b[512];

			if (kernel_decide(s, cls, type, path, a, sizeof(a)) < 0)
				snprintf(a, sizeof(a), "kernel lookup failed: %s", strerror(errno));
			cedar_decide(ps, cls, type, path, b, sizeof(b));
			checked++;
			allows += strncmp(b, "allow", 5) == 0;
			forbids += strncmp(b, "deny [p", 7) == 0;
			if (strcmp(a, b) != 0 && bad++ < 3)
				diag("disagree on %s %s %.80s%s: kernel %s, evaluator %s, policy:\n%s",
				     cls == LSM_CLASS_EXEC    ? "exec"
				     : cls == LSM_CLASS_WRITE ? "rw"
							      : "ro",
				     dir ? "Dir" : "File", path, strlen(path) > 80 ? "..." : "", a,
				     b, text);
		}
		lsm_set_free(s);
		cedar_policy_set_free(ps);
		free(text);
	}
	ok(bad == 0 && checked > 0,
	   "the kernel lookup and the evaluator agree on %u requests over %u random policies",
	   checked, policies);
	/* not vacuous: every outcome is well represented */
	ok(allows > checked / 10 && forbids > checked / 10 &&
		   checked - allows - forbids > checked / 10,
	   "outcomes: %u allowed, %u denied by a forbid, %u denied by default", allows, forbids,
	   checked - allows - forbids);
}

int main(void)
{
	universe();
	test_refusals();
	skel = lsm_bpf__open();
	ok(skel != NULL, "open the LSM BPF object");
	if (!skel)
		return done_testing();
	bpf_program__set_autoload(skel->progs.handle_file_open, false);
	bpf_program__set_autoload(skel->progs.handle_bprm_check, false);
	bpf_program__set_autoload(skel->progs.handle_inode_link, false);
	bpf_program__set_autoload(skel->progs.handle_inode_rename, false);
	bpf_program__set_autoload(skel->progs.handle_inode_unlink, false);
	bpf_program__set_autoload(skel->progs.handle_inode_rmdir, false);
	bpf_program__set_autoload(skel->progs.handle_inode_mkdir, false);
	bpf_program__set_autoload(skel->progs.handle_inode_mknod, false);
	bpf_program__set_autoload(skel->progs.handle_inode_symlink, false);
	bpf_program__set_autoload(skel->progs.handle_path_truncate, false);
	bpf_program__set_autoload(skel->progs.handle_path_chmod, false);
	bpf_program__set_autoload(skel->progs.handle_path_chown, false);
	bpf_program__set_autoload(skel->progs.handle_mmap_file, false);
	bpf_program__set_autoload(skel->progs.handle_file_mprotect, false);
	if (!ok(lsm_bpf__load(skel) == 0, "load its test program (tc, BPF_PROG_TEST_RUN)"))
		return done_testing();
	req_fd = bpf_map__fd(skel->maps.test_req_map);
	prog_fd = bpf_program__fd(skel->progs.handle_test_lookup);
	test_no_policy();
	test_inodes();
	test_differential();
	lsm_bpf__destroy(skel);
	return done_testing();
}
