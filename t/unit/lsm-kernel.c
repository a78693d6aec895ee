/* lsm-kernel.c: the BPF LSM backend in a kernel that runs the bpf LSM
 * (the test VM: scripts/vm/run, t/vm/t0100-lsm-kernel.t). Refuses to run
 * elsewhere: it creates /tmp/lk and a test cgroup.
 *
 * lsm_module is started on a test cgroup of its own, as a session would
 * start it; children moved into the cgroup (or into a cgroup created
 * below it after the start) open and exec real files. Their errno is the
 * kernel's answer, and the records the module publishes (read from the
 * ring buffer by running the reactor's loop) must carry the same decision,
 * the action (read-only versus read-write from f_mode), the canonical
 * resource and the ids of the policies that decided. Also: the parent,
 * outside the cgroup, is never governed; paths longer than the trie's key;
 * a live policy switch and record and shadow modes; no record lost. The
 * bypasses a path policy invites: a hard link or a rename of a forbidden
 * file or directory made outside (decided on its forbidden name), hard
 * links and renames made in the session (decided as writes of both names,
 * files newer than the policy included), `ld.so PROGRAM` and a loader's mprotect to PROT_EXEC
 * (decided as ProcessExec), an O_PATH descriptor reopened through
 * /proc/self/fd. The verifier's instruction count of each program is
 * printed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <event2/event.h>

#include "bus.h"
#include "cgroup.h"
#include "events.h"
#include "log.h"
#include "lsm.h"
#include "module.h"
#include "policy.h"
#include "reactor.h"
#include "tap.h"

#define BASE "/tmp/lk"
#define LOADER "/lib64/ld-linux-x86-64.so.2"

static struct cgroup cg;
static char self[PATH_MAX];

/* ---- records seen ------------------------------------------------------- */

#define MAX_SEEN 4096
static struct seen {
	char kind[24], action[24], resource[PATH_MAX + 16], policies[128];
	enum decision decision;
	bool refused, via_loader, opened_as;
} seen[MAX_SEEN];
static size_t nseen;

static void collect(struct record *r, void *arg)
{
	struct seen *s;
	char *pol;

	if (nseen == MAX_SEEN || (strncmp(r->kind, "file.", 5) && strcmp(r->kind, "process.exec")))
		return;
	s = &seen[nseen++];
	snprintf(s->kind, sizeof(s->kind), "%s", r->kind);
	snprintf(s->action, sizeof(s->action), "%s", r->action ? r->action : "");
	snprintf(s->resource, sizeof(s->resource), "%s", r->resource ? r->resource : "");
	pol = r->policies ? json_dumps(r->policies, JSON_COMPACT) : NULL;
	snprintf(s->policies, sizeof(s->policies), "%s", pol ? pol : "null");
	free(pol);
	s->decision = r->decision;
	s->refused = json_object_get(r->details, "refused") != NULL;
	s->via_loader = json_object_get(r->details, "via_loader") != NULL;
	s->opened_as = json_object_get(r->details, "opened_as") != NULL;
}

static void pump(void)
{
	for (int i = 0; i < 50; i++) {
		event_base_loop(reactor_base(), EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* The newest record about RESOURCE, as "action decision policies". */
static const char *row(const char *resource)
{
	static char buf[256];

	pump();
	for (size_t i = nseen; i-- > 0;) {
		if (strcmp(seen[i].resource, resource) != 0)
			continue;
		/* file.link, file.rename, ...: "link ", "rename ", ... */
		bool other = strncmp(seen[i].kind, "file.", 5) == 0 &&
			     strcmp(seen[i].kind, "file.open") != 0;

		snprintf(buf, sizeof(buf), "%s%s%s %s %s%s%s%s", other ? seen[i].kind + 5 : "",
			 other ? " " : "", seen[i].action,
			 decision_name(seen[i].decision) ? decision_name(seen[i].decision) : "none",
			 seen[i].policies, seen[i].refused ? " refused" : "",
			 seen[i].via_loader ? " via_loader" : "",
			 seen[i].opened_as ? " opened_as" : "");
		return buf;
	}
	return "(no record)";
}

/* ---- accesses from inside the cgroup ------------------------------------- */

static void join(const char *cgpath)
{
	char path[PATH_MAX + 32], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgpath);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(99);
	close(fd);
}

/* errno of open(PATH, FLAGS) (0 on success), from cgroup CGPATH or, when
 * NULL, from outside. */
static int try_open(const char *cgpath, const char *path, int flags)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd;

		if (cgpath)
			join(cgpath);
		fd = open(path, flags, 0644);
		_exit(fd < 0 ? errno : 0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* errno of execve(PATH) from the cgroup, or 0 when it ran and exited 0. */
static int try_exec(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { (char *)path, (char *)"--exit0", NULL };

		join(cg.path);
		execv(path, argv);
		_exit(errno);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs FN(A, B) in a child in the session cgroup: its errno, 0 on
 * success. */
static int in_session(int (*fn)(const char *, const char *), const char *a, const char *b)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		join(cg.path);
		_exit(fn(a, b) < 0 ? errno : 0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int do_link(const char *from, const char *to)
{
	return link(from, to);
}

static int do_rename(const char *from, const char *to)
{
	return rename(from, to);
}

static int do_symlink(const char *target, const char *path)
{
	return symlink(target, path);
}

static int do_unlink(const char *path, const char *unused)
{
	(void)unused;
	return unlink(path);
}

static int do_rmdir(const char *path, const char *unused)
{
	(void)unused;
	return rmdir(path);
}

static int do_mkdir(const char *path, const char *unused)
{
	(void)unused;
	return mkdir(path, 0755);
}

static int do_truncate(const char *path, const char *unused)
{
	(void)unused;
	return truncate(path, 0);
}

static int do_chmod(const char *path, const char *unused)
{
	(void)unused;
	return chmod(path, 0600);
}

/* open(PATH, O_PATH), then a real open of it through /proc/self/fd. */
static int do_reopen(const char *path, const char *unused)
{
	char proc[64];
	int fd = open(path, O_PATH);

	(void)unused;
	if (fd < 0)
		return 100;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return open(proc, O_RDONLY);
}

/* The exit status of `ld.so PROGRAM ARG` run in the session cgroup (the
 * loader exits 127 when it cannot map the program). */
static int try_loader(const char *program, const char *arg, const char *arg2)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { (char *)LOADER, (char *)program, (char *)arg, (char *)arg2, NULL };
		int null = open("/dev/null", O_WRONLY);

		join(cg.path);
		dup2(null, 2);
		execv(LOADER, argv);
		_exit(errno);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --mprotect FILE (this program run by the loader): maps FILE readable,
 * then asks for PROT_EXEC; exits with mprotect's errno, 0 on success. */
static int mprotect_exec(const char *path)
{
	int fd = open(path, O_RDONLY);
	void *p;

	if (fd < 0)
		return 100;
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 101;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0 ? errno : 0;
}

/* ---- fixture and policies ------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			diag("cannot write %s", path);
		close(fd);
	}
}

static void copy_self(const char *to)
{
	char buf[65536];
	int in = open(self, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	close(in);
	close(out);
}

static char long_pub[PATH_MAX], long_secret[PATH_MAX];

/* Makes DIR/<100 x 'd'>/<100 x 'e'>/<100 x 'e'>/f: a file whose path
 * passes the trie's key length. */
static void long_path(const char *dir, char *out)
{
	char a[128], b[128];

	memset(a, 'd', 100);
	a[100] = '\0';
	memset(b, 'e', 100);
	b[100] = '\0';
	snprintf(out, PATH_MAX, "%s/%s", dir, a);
	mkdir(out, 0755);
	for (int i = 0; i < 2; i++) {
		snprintf(out + strlen(out), PATH_MAX - strlen(out), "/%s", b);
		mkdir(out, 0755);
	}
	strcat(out, "/f");
	write_file(out, "long\n");
}

static void fixture(void)
{
	mkdir(BASE, 0755);
	mkdir(BASE "/secret", 0755);
	mkdir(BASE "/secretx", 0755);
	mkdir(BASE "/pub", 0755);
	mkdir(BASE "/ro", 0755);
	mkdir(BASE "/rw", 0755);
	mkdir(BASE "/bin", 0755);
	write_file(BASE "/secret/a.txt", "secret\n");
	write_file(BASE "/secretx/c.txt", "c\n");
	write_file(BASE "/pub/b.txt", "b\n");
	write_file(BASE "/ro/c.txt", "ro\n");
	unlink(BASE "/pub/link");
	if (symlink("../secret/a.txt", BASE "/pub/link") < 0)
		diag("symlink: %s", strerror(errno));
	copy_self(BASE "/bin/denied");
	copy_self(BASE "/bin/allowed");
	long_path(BASE "/pub", long_pub);
	long_path(BASE "/secret", long_secret);
}

static const char *const policy_text =
	"@id(\"read-all\") permit (principal, action == Action::\"FileOpenReadOnly\", resource);\n"
	"@id(\"write-rw\") permit (principal, action == Action::\"FileOpen\", resource)\n"
	"  when { resource in Dir::\"" BASE "/rw/\" };\n"
	"@id(\"run-all\") permit (principal, action == Action::\"ProcessExec\", resource);\n"
	"@id(\"no-secret\") forbid (principal, action == Action::\"FileOpen\", resource)\n"
	"  when { resource in Dir::\"" BASE "/secret/\" };\n"
	"@id(\"no-denied\") forbid (principal, action == Action::\"ProcessExec\",\n"
	"  resource == File::\"" BASE "/bin/denied\");\n";

static struct policy *build(const char *text)
{
	struct policy *p = NULL;

	if (policy_build(text, strlen(text), "test", &p, NULL, stdout) < 0)
		return NULL;
	return p;
}

/* Puts TEXT in force in mode M: the evaluator (for records in record and
 * shadow mode) and the module's trie, as policy_apply would. */
static int apply(const char *text, enum mode m)
{
	struct policy *p = build(text);
	void *staged = NULL;
	char err[512] = "";
	int rc;

	if (!p)
		return -EINVAL;
	rc = lsm_module.policy_prepare(p, m, &staged, err, sizeof(err));
	if (rc) {
		diag("prepare: %s", err);
		policy_free(p);
		return rc;
	}
	lsm_module.policy_commit(staged);
	policy_fini();
	policy_init("agent", p, m, true);
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_enforce(void)
{
	char child[PATH_MAX + 16], res[PATH_MAX + 32];
	int rc;

	ok(apply(policy_text, MODE_ENFORCE) == 0, "the policy compiles and is put in force");

	is_int(try_open(cg.path, BASE "/secret/a.txt", O_RDONLY), EPERM,
	       "a read-only open under a forbidden Dir fails with EPERM");
	is_str(row("File::\"" BASE "/secret/a.txt\""), "FileOpenReadOnly deny [\"no-secret\"]",
	       "...its record: read-only, deny, no-secret");
	is_int(try_open(cg.path, BASE "/pub/b.txt", O_RDONLY), 0, "a permitted read succeeds");
	is_str(row("File::\"" BASE "/pub/b.txt\""), "FileOpenReadOnly allow [\"read-all\"]",
	       "...its record: allow, read-all");
	is_int(try_open(cg.path, BASE "/ro/c.txt", O_WRONLY), EPERM,
	       "a write open where only reading is permitted fails with EPERM");
	is_str(row("File::\"" BASE "/ro/c.txt\""), "FileOpenReadWrite deny []",
	       "...its record: read-write, default deny");
	is_int(try_open(cg.path, BASE "/ro/c.txt", O_RDONLY | O_TRUNC), EPERM,
	       "O_RDONLY|O_TRUNC is decided as a write: EPERM");
	is_int(try_open(cg.path, BASE "/rw/new", O_WRONLY | O_CREAT), 0,
	       "creating a file where writing is permitted works");
	is_str(row("File::\"" BASE "/rw/new\""), "FileOpenReadWrite allow [\"write-rw\"]",
	       "...its record: read-write, allow, write-rw");
	is_int(try_open(cg.path, BASE "/secret", O_RDONLY | O_DIRECTORY), EPERM,
	       "opening the forbidden directory itself fails with EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "FileOpenReadOnly deny [\"no-secret\"]",
	       "...its record names Dir::\"" BASE "/secret/\"");
	is_int(try_open(cg.path, BASE "/secretx/c.txt", O_RDONLY), 0,
	       "a sibling sharing the name's prefix (secretx) is not under secret/");
	is_int(try_open(cg.path, BASE "/pub/link", O_RDONLY), EPERM,
	       "a symlink into the forbidden Dir fails with EPERM");
	is_str(row("File::\"" BASE "/secret/a.txt\""), "FileOpenReadOnly deny [\"no-secret\"]",
	       "...decided on the real path");
	ok(strlen(long_pub) > LSM_KEY_PATH, "a path of %zu bytes (key: %d)", strlen(long_pub),
	   LSM_KEY_PATH);
	is_int(try_open(cg.path, long_pub, O_RDONLY), 0, "...under a permitted Dir: allowed");
	is_int(try_open(cg.path, long_secret, O_RDONLY), EPERM,
	       "...under the forbidden Dir: EPERM");
	snprintf(res, sizeof(res), "File::\"%s\"", long_secret);
	is_str(row(res), "FileOpenReadOnly deny [\"no-secret\"]",
	       "...its record has the whole path");

	rc = try_exec(BASE "/bin/denied");
	is_int(rc, EPERM, "exec of a forbidden program fails with EPERM");
	is_str(row("File::\"" BASE "/bin/denied\""), "ProcessExec deny [\"no-denied\"] refused",
	       "...its process.exec record: deny, no-denied, refused");
	is_int(try_exec(BASE "/bin/allowed"), 0, "exec of a permitted program runs");

	is_int(try_open(NULL, BASE "/secret/a.txt", O_RDONLY), 0,
	       "outside the session cgroup nothing is governed");

	/* a cgroup the agent creates after the start is covered */
	snprintf(child, sizeof(child), "%s/nested", cg.path);
	mkdir(child, 0755);
	is_int(try_open(child, BASE "/secret/a.txt", O_RDONLY), EPERM,
	       "a cgroup created below the session after the start is governed");
	rmdir(child);
}

static void test_bypasses(void)
{
	static const char *secret = "File::\"" BASE "/secret/a.txt\"";
	static const char *denied = "File::\"" BASE "/bin/denied\"";

	ok(apply(policy_text, MODE_ENFORCE) == 0, "bypasses: enforce");

	/* a hard link made where the kernel does not govern (outside the
	 * session, or before it) */
	unlink(BASE "/pub/hard");
	ok(link(BASE "/secret/a.txt", BASE "/pub/hard") == 0,
	   "a hard link pub/hard -> secret/a.txt, made outside the session");
	is_int(try_open(cg.path, BASE "/pub/hard", O_RDONLY), EPERM,
	       "reading the forbidden file by its hard link in a permitted Dir: EPERM");
	is_str(row(secret), "FileOpenReadOnly deny [\"no-secret\"] opened_as",
	       "...its record names the forbidden name, no-secret, and the name used");
	is_int(try_open(cg.path, BASE "/pub/b.txt", O_RDONLY), 0,
	       "...a file of the permitted Dir still opens");
	unlink(BASE "/pub/hard");

	is_int(in_session(do_link, BASE "/secret/a.txt", BASE "/rw/hard2"), EPERM,
	       "ln secret/a.txt rw/hard2 in the session (rw/ is writable): EPERM");
	is_str(row(secret), "link FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.link record: read-write, deny, no-secret");
	ok(access(BASE "/rw/hard2", F_OK) < 0, "...and no link exists");
	write_file(BASE "/rw/x", "x\n");
	is_int(in_session(do_link, BASE "/rw/x", BASE "/rw/x2"), 0,
	       "a hard link in a writable Dir to a file no forbid names is made");
	is_int(in_session(do_link, BASE "/rw/x", BASE "/secret/x2"), EPERM,
	       "...a hard link named in the forbidden Dir: EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "link FileOpenReadWrite deny [\"no-secret\"]",
	       "...its record names the forbidden Dir");

	/* a file created in the forbidden Dir after the policy was compiled:
	 * not among the inode entries */
	write_file(BASE "/secret/late.txt", "late\n");
	is_int(in_session(do_link, BASE "/secret/late.txt", BASE "/rw/late"), EPERM,
	       "ln secret/late.txt rw/late (a file newer than the policy): EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "link FileOpenReadWrite deny [\"no-secret\"]",
	       "...decided on the forbidden directory above it");
	is_int(in_session(do_rename, BASE "/secret/late.txt", BASE "/rw/late"), EPERM,
	       "mv secret/late.txt rw/late: EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "rename FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.rename record: the forbidden Dir above it, no-secret");
	is_int(in_session(do_rename, BASE "/secret/a.txt", BASE "/rw/moved"), EPERM,
	       "mv secret/a.txt rw/moved: EPERM");
	is_str(row(secret), "rename FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.rename record names the file");
	is_int(in_session(do_rename, BASE "/secret", BASE "/rw/secret2"), EPERM,
	       "mv secret rw/secret2 (the forbidden directory itself): EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "rename FileOpenReadWrite deny [\"no-secret\"]",
	       "...its record names Dir::\"" BASE "/secret/\"");
	is_int(in_session(do_rename, BASE "/rw/x", BASE "/secret/x"), EPERM,
	       "mv rw/x secret/x (into the forbidden Dir): EPERM");
	is_int(in_session(do_rename, BASE "/rw/x", BASE "/rw/y"), 0,
	       "mv rw/x rw/y (both names writable) works");
	unlink(BASE "/rw/y");
	unlink(BASE "/rw/x2");

	/* changes no open decides */
	is_int(in_session(do_unlink, BASE "/secret/a.txt", NULL), EPERM, "rm secret/a.txt: EPERM");
	is_str(row(secret), "unlink FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.unlink record: read-write, deny, no-secret");
	is_int(in_session(do_truncate, BASE "/secret/a.txt", NULL), EPERM,
	       "truncate(2) of secret/a.txt: EPERM");
	is_str(row(secret), "setattr FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.setattr record");
	is_int(in_session(do_chmod, BASE "/secret/a.txt", NULL), EPERM,
	       "chmod of secret/a.txt: EPERM");
	mkdir(BASE "/secret/sub", 0755);
	is_int(in_session(do_rmdir, BASE "/secret/sub", NULL), EPERM,
	       "rmdir secret/sub (a directory newer than the policy): EPERM");
	is_int(in_session(do_mkdir, BASE "/secret/new", NULL), EPERM, "mkdir secret/new: EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "create FileOpenReadWrite deny [\"no-secret\"]",
	       "...its file.create record names the forbidden Dir");
	is_int(in_session(do_symlink, BASE "/pub/b.txt", BASE "/secret/ln"), EPERM,
	       "ln -s pub/b.txt secret/ln: EPERM");
	ok(access(BASE "/secret/a.txt", R_OK) == 0 && access(BASE "/secret/sub", F_OK) == 0 &&
		   access(BASE "/secret/new", F_OK) < 0,
	   "...secret/a.txt and secret/sub are still there, secret/new is not");
	rmdir(BASE "/secret/sub");
	write_file(BASE "/rw/z", "z\n");
	ok(in_session(do_chmod, BASE "/rw/z", NULL) == 0 &&
		   in_session(do_truncate, BASE "/rw/z", NULL) == 0 &&
		   in_session(do_mkdir, BASE "/rw/d", NULL) == 0 &&
		   in_session(do_rmdir, BASE "/rw/d", NULL) == 0 &&
		   in_session(do_symlink, "z", BASE "/rw/zl") == 0 &&
		   in_session(do_unlink, BASE "/rw/zl", NULL) == 0 &&
		   in_session(do_unlink, BASE "/rw/z", NULL) == 0,
	   "chmod, truncate, mkdir, rmdir, symlink and rm under no forbid all work");

	/* renames made where the kernel does not govern keep the inode */
	ok(rename(BASE "/secret/a.txt", BASE "/pub/moved") == 0,
	   "mv secret/a.txt pub/moved, outside the session");
	is_int(try_open(cg.path, BASE "/pub/moved", O_RDONLY), EPERM,
	       "...reading pub/moved: EPERM");
	is_str(row(secret), "FileOpenReadOnly deny [\"no-secret\"] opened_as",
	       "...decided on the forbidden name");
	rename(BASE "/pub/moved", BASE "/secret/a.txt");
	ok(rename(BASE "/secret", BASE "/pub/secret2") == 0,
	   "mv secret pub/secret2 (the forbidden directory), outside the session");
	is_int(try_open(cg.path, BASE "/pub/secret2/a.txt", O_RDONLY), EPERM,
	       "...reading pub/secret2/a.txt: EPERM");
	is_int(try_open(cg.path, BASE "/pub/secret2", O_RDONLY | O_DIRECTORY), EPERM,
	       "...listing pub/secret2: EPERM");
	is_str(row("Dir::\"" BASE "/secret/\""), "FileOpenReadOnly deny [\"no-secret\"] opened_as",
	       "...decided on the forbidden directory's name");
	rename(BASE "/pub/secret2", BASE "/secret");
	unlink(BASE "/secret/late.txt");

	unlink(BASE "/pub/denied");
	ok(link(BASE "/bin/denied", BASE "/pub/denied") == 0,
	   "a hard link pub/denied -> bin/denied (a forbidden program)");
	is_int(try_exec(BASE "/pub/denied"), EPERM, "exec of the link: EPERM");
	is_str(row(denied), "ProcessExec deny [\"no-denied\"] refused opened_as",
	       "...its process.exec record names bin/denied and no-denied");
	unlink(BASE "/pub/denied");

	is_int(in_session(do_reopen, BASE "/secret/a.txt", NULL), EPERM,
	       "an O_PATH descriptor of the forbidden file reopened by /proc/self/fd: EPERM");

	is_int(try_loader(BASE "/bin/denied", "--exit0", NULL), 127,
	       "ld.so bin/denied (the loader maps the forbidden program): refused, exit 127");
	is_str(row(denied), "ProcessExec deny [\"no-denied\"] refused via_loader",
	       "...its process.exec record: deny, no-denied, via_loader");
	is_int(try_loader(BASE "/bin/allowed", "--exit0", NULL), 0, "ld.so bin/allowed runs");
	is_str(row("File::\"" BASE "/bin/allowed\""), "ProcessExec allow [\"run-all\"] via_loader",
	       "...its record: allow, run-all, via_loader");
	is_int(try_loader(BASE "/bin/allowed", "--mprotect", BASE "/bin/denied"), EPERM,
	       "under the loader, mprotect(PROT_EXEC) of a readable mapping of bin/denied: EPERM");
	is_str(row(denied), "ProcessExec deny [\"no-denied\"] refused via_loader",
	       "...its process.exec record names bin/denied");
	is_int(try_loader(BASE "/bin/allowed", "--mprotect", BASE "/bin/allowed"), 0,
	       "...of a file the loader mapped executable, allowed: permitted");

	ok(apply(policy_text, MODE_SHADOW) == 0, "bypasses in shadow mode");
	ok(link(BASE "/secret/a.txt", BASE "/pub/hard") == 0, "...a hard link made outside");
	is_int(try_open(cg.path, BASE "/pub/hard", O_RDONLY), 0, "...reading it is allowed");
	is_str(row(secret), "FileOpenReadOnly would_deny [\"no-secret\"] opened_as",
	       "...its record says would_deny, no-secret");
	unlink(BASE "/pub/hard");
	is_int(in_session(do_link, BASE "/secret/a.txt", BASE "/rw/hard2"), 0,
	       "...ln in the session is allowed");
	is_str(row(secret), "link FileOpenReadWrite would_deny [\"no-secret\"]",
	       "...its file.link record says would_deny");
	unlink(BASE "/rw/hard2");
	is_int(in_session(do_rename, BASE "/secret/a.txt", BASE "/rw/moved"), 0,
	       "...mv secret/a.txt rw/moved is allowed");
	is_str(row(secret), "rename FileOpenReadWrite would_deny [\"no-secret\"]",
	       "...its file.rename record says would_deny");
	rename(BASE "/rw/moved", BASE "/secret/a.txt");
	is_int(try_loader(BASE "/bin/denied", "--exit0", NULL), 0, "...ld.so bin/denied runs");
	is_str(row(denied), "ProcessExec would_deny [\"no-denied\"] via_loader",
	       "...its record says would_deny, no-denied");

	ok(apply(policy_text, MODE_RECORD) == 0, "bypasses in record mode");
	is_int(try_loader(BASE "/bin/denied", "--exit0", NULL), 0, "...ld.so bin/denied runs");
	is_str(row(denied), "ProcessExec allow null via_loader", "...its record says allow");
	is_int(in_session(do_link, BASE "/secret/a.txt", BASE "/rw/hard2"), 0,
	       "...ln in the session is allowed");
	unlink(BASE "/rw/hard2");
}

static void test_switch_and_modes(void)
{
	static const char *no_forbid =
		"@id(\"read-all\") permit (principal, action == Action::\"FileOpenReadOnly\", resource);\n"
		"@id(\"run-all\") permit (principal, action == Action::\"ProcessExec\", resource);\n";

	ok(apply(no_forbid, MODE_ENFORCE) == 0, "live switch to a policy without the forbid");
	is_int(try_open(cg.path, BASE "/secret/a.txt", O_RDONLY), 0,
	       "...the open is allowed at once");
	is_str(row("File::\"" BASE "/secret/a.txt\""), "FileOpenReadOnly allow [\"read-all\"]",
	       "...and its record names the new policy's rule");
	ok(apply(policy_text, MODE_SHADOW) == 0, "shadow mode");
	is_int(try_open(cg.path, BASE "/secret/a.txt", O_RDONLY), 0, "...the open is allowed");
	is_str(row("File::\"" BASE "/secret/a.txt\""),
	       "FileOpenReadOnly would_deny [\"no-secret\"]",
	       "...its record says would_deny, no-secret");
	ok(apply(policy_text, MODE_RECORD) == 0, "record mode");
	is_int(try_open(cg.path, BASE "/secret/a.txt", O_RDONLY), 0, "...the open is allowed");
	is_str(row("File::\"" BASE "/secret/a.txt\""), "FileOpenReadOnly allow null",
	       "...its record says allow (record mode asks no policy)");
	ok(apply(policy_text, MODE_ENFORCE) == 0, "back to enforce");
	is_int(try_open(cg.path, BASE "/secret/a.txt", O_RDONLY), EPERM, "...EPERM again");
}

/* The full name of program FD (the kernel keeps 15 characters of it in
 * bpf_prog_info, so it is read from the program's BTF), into NAME. */
static void prog_name(int fd, char *name, size_t len)
{
	struct bpf_func_info fi = { 0 };
	struct bpf_prog_info info = { .nr_func_info = 1,
				      .func_info_rec_size = sizeof(fi),
				      .func_info = (uint64_t)(uintptr_t)&fi };
	uint32_t ilen = sizeof(info);
	const struct btf_type *t;
	struct btf *btf;

	name[0] = '\0';
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) < 0 || !info.btf_id)
		return;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	t = btf ? btf__type_by_id(btf, fi.type_id) : NULL;
	if (t)
		snprintf(name, len, "%s", btf__name_by_offset(btf, t->name_off));
	btf__free(btf);
}

/* The verifier's count for each of the backend's programs (kernel 5.16
 * and later). */
static void verified_insns(void)
{
	struct bpf_prog_info info;
	uint32_t id = 0, len;
	char name[128];

	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);

		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_PROG_TYPE_LSM) {
			prog_name(fd, name, sizeof(name));
			diag("verified_insns %s=%u", name, info.verified_insns);
		}
		if (fd >= 0)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	struct session_info info = { 0 };
	char err[512], name[64];

	if (argc > 1 && strcmp(argv[1], "--exit0") == 0)
		return 0;
	if (argc > 2 && strcmp(argv[1], "--mprotect") == 0)
		return mprotect_exec(argv[2]);
	if (!getenv("LEASH_IN_VM")) {
		fprintf(stderr, "lsm-kernel: runs in the test VM only (LEASH_IN_VM=1)\n");
		return 2;
	}
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return 2;
	if (!getenv("TEST_VERBOSE"))
		log_set_level(LOG_QUIET);
	snprintf(name, sizeof(name), "lsm-test-%d", getpid());
	fixture();
	if (reactor_init() < 0 || cgroup_create(&cg, name, err, sizeof(err)) < 0) {
		printf("not ok 1 - set up a test cgroup: %s\n1..1\n", err);
		return 1;
	}
	info.uuid = "lsm-test";
	info.cgroup_path = cg.path;
	info.cgroup_id = cg.id;
	info.cgroup_level = cg.level;
	info.cgroup_fd = cg.fd;
	reactor_set_session(&info);
	bus_subscribe(collect, NULL);
	policy_init("agent", build(policy_text), MODE_ENFORCE, true);
	ok(lsm_available(), "the capability probe finds the bpf LSM and loads the programs");
	if (!ok(lsm_module.session_start(err, sizeof(err)) == 0 && lsm_active(),
		"the module attaches to the session"))
		diag("%s", err);
	else {
		verified_insns();
		test_enforce();
		test_switch_and_modes();
		test_bypasses();
		lsm_module.session_end();
		is_int(lsm_module.lost(), 0, "no record lost");
	}
	lsm_module.fini();
	policy_fini();
	if (cgroup_remove_path(cg.path, 2000) < 0)
		diag("cannot remove %s", cg.path);
	cgroup_close(&cg);
	return done_testing();
}
