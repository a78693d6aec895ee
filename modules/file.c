/* file.c: the file module: FileOpen, FileOpenReadOnly, FileOpenReadWrite
 * and ProcessExec, decided in the loop from fanotify permission events.
 *
 * Why fanotify: BPF LSM programs do not load on many kernels (this
 * project's CI among them). FAN_OPEN_PERM and FAN_OPEN_EXEC_PERM give a
 * real EPERM and let the loop decide live, with the exact Cedar evaluator.
 *
 * Modes: only enforce mode needs the agent to wait for an answer. In
 * record and shadow mode the marks ask for notifications instead
 * (FAN_CLOSE_WRITE / FAN_CLOSE_NOWRITE, which also say whether the file
 * was open for writing), so the agent never waits on leash; a mode change
 * re-marks every mount, adding the new events before removing the old.
 * Execs in those modes are decided by the process module from its exec
 * events.
 *
 * Scope: only the sandbox's own mounts are marked (each mount of init's
 * mount namespace, reached through /proc/<init>/root), never the host's:
 * processes outside the session pay nothing, and leash's own opens, which
 * happen in the host namespace, can never wait on the loop. The seccomp
 * floor stops the agent from making new, unmarked mounts.
 *
 * The open mode: fanotify does not say whether an open is for reading or
 * writing. The opening thread is blocked in its syscall while we decide
 * (FAN_REPORT_TID names it), so /proc/<tid>/syscall shows the call and
 * its register arguments: open/openat/creat flags are read there. Anything
 * else (openat2, whose flags live in user memory another thread could
 * change; io_uring workers; unknown) is decided as a write, the stricter.
 * The open that execve does on the program is decided as the exec.
 *
 * Cache: decisions that depend only on the resource (the policy reads no
 * context but context.path) are cached per (class, resource); the cache
 * is emptied whenever the policy or the mode changes. Cached allows make
 * no event; every deny does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cedar/cedar.h"
#include "forbidden_inodes.h"
#include "log.h"
#include "lsm.h"
#include "module.h"
#include "policy.h"
#include "process.h"
#include "reactor.h"

/* FAN_ONDIR: directory opens (ls, opendir) are decided too, on Dir. */
#define FAN_PERM_EVENTS (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_ONDIR)
#define FAN_NOTE_EVENTS (FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_ONDIR)
#define CACHE_SLOTS 65536 /* power of two */
#define SYSCALL_RETRIES 500 /* 10 us apart: see open_access */

enum access {
	ACCESS_READ,
	ACCESS_WRITE,
	ACCESS_EXEC,
};

struct cache_entry {
	char *key; /* "<class><resource>", NULL when free */
	struct policy_verdict v;
};

static int fan = -1;
static struct reactor_watch *watch;
static struct cache_entry *cache;
static size_t cache_used;
static bool cache_usable; /* the policy reads nothing but context.path */
static char cgroup_rel[PATH_MAX]; /* the session cgroup, as /proc/PID/cgroup shows it */
static uint64_t unmarked;
#define IGNORE_MAX 100000 /* inode ignore marks at most (kernel memory) */
static size_t fd_ignored;
static char **marked; /* /proc/<init>/root<mountpoint> of each marked mount */
static size_t nmarked;
static uint64_t mark_mask; /* what the marks ask for now */

/* Hard links and renames: an open of a file named by a forbid is decided
 * on its forbidden name, whatever name it is opened by (forbidden_inodes.h). */
static struct forbidden_inodes forbidden;

struct staged {
	const struct policy *p;
	enum mode m;
	struct forbidden_inodes forbidden;
};

static const char *const file_actions[] = {
	"FileOpen", "FileOpenReadOnly", "FileOpenReadWrite", "ProcessExec", NULL,
};

/* ---- cache --------------------------------------------------------------- */

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void cache_clear(void)
{
	if (!cache)
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		free(cache[i].key);
		cache[i].key = NULL;
		policy_verdict_free(&cache[i].v);
	}
	cache_used = 0;
}

static struct cache_entry *cache_slot(const char *key)
{
	size_t i = hash(key) & (CACHE_SLOTS - 1);

	for (size_t n = 0; n < CACHE_SLOTS; n++, i = (i + 1) & (CACHE_SLOTS - 1))
		if (!cache[i].key || strcmp(cache[i].key, key) == 0)
			return &cache[i];
	return NULL;
}

static void cache_put(const char *key, const struct policy_verdict *v)
{
	struct cache_entry *e;

	/* Full at three quarters: start over rather than probe forever. */
	if (cache_used >= CACHE_SLOTS / 4 * 3)
		cache_clear();
	e = cache_slot(key);
	if (!e || e->key || !(e->key = strdup(key)))
		return;
	e->v = *v;
	e->v.policies = v->policies ? json_incref(v->policies) : NULL;
	e->v.errors = v->errors ? json_incref(v->errors) : NULL;
	cache_used++;
}

/* ---- what is being opened, by whom, how --------------------------------- */

/* Is TID in the session cgroup (or below it)? Only the sandbox's mounts
 * are marked, but a host process could reach them through /proc/PID/root;
 * it is not the agent and must not be governed. */
static bool in_session(pid_t tid)
{
	char path[64], line[PATH_MAX + 8];
	size_t n = strlen(cgroup_rel);
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", tid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone already (a notification): it was on our mounts */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		yes = strncmp(line + 3, cgroup_rel, n) == 0 &&
		      (line[3 + n] == '\n' || line[3 + n] == '/');
		break;
	}
	fclose(f);
	return yes;
}

/* /proc/TID/syscall into BUF: the length read, or -1. */
static ssize_t read_syscall(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The class of an open from the syscall the thread is blocked in.
 *
 * "running" instead of a syscall: every answer to the group wakes all the
 * threads waiting on it (one wait queue), and each goes back to sleep once
 * it sees its own event unanswered; caught in between, the kernel cannot
 * show its registers. Seen with multi-threaded agents (codex loads its CA
 * roots from several threads at once): without retrying, their read-only
 * opens were denied as writes. A few short retries see it asleep again. */
static enum access open_access(pid_t tid)
{
	char path[64], buf[512];
	unsigned long long a[6] = { 0 };
	long nr = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	for (int tries = 0;; tries++) {
		n = read_syscall(path, buf, sizeof(buf));
		if (n <= 0 || strncmp(buf, "running", 7) != 0 || tries == SYSCALL_RETRIES)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10000 }, NULL);
	}
	if (n <= 0)
		return ACCESS_WRITE;
	if (sscanf(buf, "%ld %llx %llx %llx %llx", &nr, &a[0], &a[1], &a[2], &a[3]) < 1)
		return ACCESS_WRITE;
	switch (nr) {
	case 2: /* open(path, flags, mode) */
		a[2] = a[1];
		break;
	case 257: /* openat(dirfd, path, flags, mode) */
		break;
	case 59: /* execve: the program (and its interpreter) being read */
	case 322: /* execveat */
		return ACCESS_EXEC;
	default: /* creat, openat2, io_uring workers, anything unknown */
		return ACCESS_WRITE;
	}
	if ((a[2] & O_ACCMODE) != O_RDONLY || (a[2] & (O_CREAT | O_TRUNC)))
		return ACCESS_WRITE;
	return ACCESS_READ;
}

static void read_text(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Is TID's program the dynamic loader, run directly, and FD an ELF file? */
static bool via_loader(pid_t tid, int fd)
{
	char exe[PATH_MAX], magic[4];
	const char *base;

	read_text(tid, "exe", exe, sizeof(exe));
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	if (strncmp(base, "ld-linux", 8) != 0 && strncmp(base, "ld.so", 5) != 0 &&
	    strncmp(base, "ld-musl", 7) != 0)
		return false;
	return pread(fd, magic, 4, 0) == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

/* The request's context: what is known about the process. */
static json_t *request_context(pid_t tid, const char *path)
{
	json_t *ctx = json_object();
	unsigned keys = policy_current()->context_keys;
	char exe[PATH_MAX];

	json_object_set_new(ctx, "path", json_string(path));
	json_object_set_new(ctx, "pid", json_integer(tid));
	if (keys & (POLICY_CTX_EXE | POLICY_CTX_OTHER)) {
		read_text(tid, "exe", exe, sizeof(exe));
		json_object_set_new(ctx, "exe", json_string(exe));
	}
	return ctx;
}

/* ---- kernel-side allow cache --------------------------------------------- */

/* An enforced open costs a round trip to the loop (~10 us). When the policy
 * allows a file every way it can be opened (read, write, exec) and the
 * decision depends on nothing but its path, the kernel is told to stop
 * asking about plain opens of that inode (an ignore mark), so repeated
 * opens cost nothing. Execs are still asked (their events carry the
 * decision). Not for files with several names: the decision is per name.
 * Every policy or mode change flushes these marks. */
static void maybe_ignore(int fd, const struct stat *st, const char *rtype, const char *path)
{
	struct policy_verdict v;
	bool all = true;

	if (!cache_usable || !S_ISREG(st->st_mode) || st->st_nlink != 1 || fd_ignored >= IGNORE_MAX)
		return;
	for (int i = 0; i < 3 && all; i++) {
		json_t *ctx = json_pack("{s:s}", "path", path);
		int rc = i == 2 ? policy_decide("ProcessExec", rtype, path, false, ctx, &v)
				: policy_decide("FileOpen", rtype, path, i == 1, ctx, &v);

		json_decref(ctx);
		all = rc == 0 && v.cedar_allow;
		if (rc == 0)
			policy_verdict_free(&v);
	}
	if (all &&
	    fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  FAN_OPEN_PERM, fd, NULL) == 0)
		fd_ignored++;
}

static void ignore_flush(void)
{
	if (fan >= 0 && fd_ignored)
		fanotify_mark(fan, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL);
	fd_ignored = 0;
}

/* ---- one permission event ---------------------------------------------- */

static void respond(int fd, bool allow)
{
	struct fanotify_response r = { .fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY };

	if (write(fan, &r, sizeof(r)) != sizeof(r))
		log_warn("file: cannot answer a permission event: %s", strerror(errno));
}

static void publish(pid_t tid, enum access acc, const char *rtype, const char *path,
		    const char *resource, const struct policy_verdict *v, bool cached, bool loaded,
		    const char *opened_as)
{
	struct record *r = record_new(acc == ACCESS_EXEC ? "process.exec" : "file.open");
	char exe[PATH_MAX];

	if (!r)
		return;
	r->pid = tid;
	r->action = acc == ACCESS_EXEC	 ? "ProcessExec"
		    : acc == ACCESS_READ ? "FileOpenReadOnly"
					 : "FileOpenReadWrite";
	record_set_resource(r, resource);
	read_text(tid, "exe", exe, sizeof(exe));
	record_set_exe(r, exe);
	r->cgroup = reactor_session()->cgroup_id;
	json_object_set_new(r->details, "path", json_string(path));
	json_object_set_new(r->details, "type", json_string(rtype));
	if (acc == ACCESS_EXEC && v->decision == DECISION_DENY)
		json_object_set_new(r->details, "refused", json_true());
	if (cached)
		json_object_set_new(r->details, "cached", json_true());
	if (loaded)
		json_object_set_new(r->details, "via_loader", json_true());
	if (opened_as[0])
		json_object_set_new(r->details, "opened_as", json_string(opened_as));
	policy_verdict_stamp(v, r);
	reactor_publish(r);
}

static void handle(const struct fanotify_event_metadata *m)
{
	char link[64], path[PATH_MAX], resource[PATH_MAX + 16], key[PATH_MAX + 24];
	const char *rtype;
	struct policy_verdict v;
	struct cache_entry *hit;
	enum access acc;
	struct stat st;
	ssize_t n;
	bool cached = false, loaded = false;
	const char *linked;
	char opened_as[PATH_MAX] = "";

	bool perm = m->mask & FAN_PERM_EVENTS;

	if (!(m->mask & (FAN_PERM_EVENTS | FAN_NOTE_EVENTS)) || m->fd < 0) {
		if (m->fd >= 0)
			close(m->fd);
		return;
	}
	if (!in_session(m->pid)) {
		if (perm)
			respond(m->fd, true);
		close(m->fd);
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	n = readlink(link, path, sizeof(path) - 2);
	if (n <= 0 || fstat(m->fd, &st) < 0) {
		/* Nothing to decide on: fail closed where it matters. */
		if (perm)
			respond(m->fd, policy_mode() != MODE_ENFORCE);
		close(m->fd);
		return;
	}
	path[n] = '\0';
	linked = S_ISREG(st.st_mode) ? forbidden_inodes_find(&forbidden, st.st_dev, st.st_ino)
				     : NULL;
	if (linked) {
		snprintf(opened_as, sizeof(opened_as), "%s", path);
		snprintf(path, sizeof(path), "%s", linked);
	}
	if (!perm) {
		acc = m->mask & FAN_CLOSE_WRITE ? ACCESS_WRITE : ACCESS_READ;
	} else if (m->mask & FAN_OPEN_EXEC_PERM) {
		acc = ACCESS_EXEC;
	} else {
		acc = open_access(m->pid);
		/* execve's own open of the program: decided as the exec. */
		if (acc == ACCESS_EXEC) {
			respond(m->fd, true);
			close(m->fd);
			return;
		}
	}
	/* `ld.so PROGRAM` runs PROGRAM by reading and mapping it, never
	 * exec'ing it: when the loader itself is the program, an ELF file it
	 * reads is decided as an exec. */
	if (acc == ACCESS_READ && S_ISREG(st.st_mode) && via_loader(m->pid, m->fd)) {
		acc = ACCESS_EXEC;
		loaded = true;
	}
	rtype = S_ISDIR(st.st_mode) ? "Dir" : "File";
	if (S_ISDIR(st.st_mode) && strcmp(path, "/") != 0)
		strcat(path, "/");
	snprintf(resource, sizeof(resource), "%s::\"%s\"", rtype, path);

	snprintf(key, sizeof(key), "%c%s", "rwx"[acc], resource);
	hit = cache_usable ? cache_slot(key) : NULL;
	if (hit && hit->key) {
		cached = true;
		v = hit->v;
	} else {
		json_t *ctx = request_context(m->pid, path);
		int rc = acc == ACCESS_EXEC
				 ? policy_decide("ProcessExec", rtype, path, false, ctx, &v)
				 : policy_decide("FileOpen", rtype, path, acc == ACCESS_WRITE, ctx,
						 &v);

		json_decref(ctx);
		if (rc < 0) {
			if (perm)
				respond(m->fd, policy_mode() != MODE_ENFORCE);
			close(m->fd);
			return;
		}
	}
	if (perm)
		respond(m->fd, v.decision != DECISION_DENY);
	if (perm && !cached && acc != ACCESS_EXEC && v.decision == DECISION_ALLOW && !linked)
		maybe_ignore(m->fd, &st, rtype, path);
	close(m->fd);
	/* An allowed exec is recorded by its exec event, which takes this
	 * verdict; a cached allow is not news; anything else is an event. */
	if (acc == ACCESS_EXEC && !loaded && v.decision != DECISION_DENY)
		process_exec_decided(m->pid, (major(st.st_dev) << 20) | minor(st.st_dev), st.st_ino,
				     &v);
	else if (!cached || v.decision != DECISION_ALLOW)
		publish(m->pid, acc, rtype, path, resource, &v, cached, loaded, opened_as);
	if (cached)
		return;
	if (cache_usable)
		cache_put(key, &v);
	policy_verdict_free(&v);
}

static void on_fanotify(void *arg)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));

	for (;;) {
		ssize_t len = read(fan, buf, sizeof(buf));
		const struct fanotify_event_metadata *m = (const void *)buf;

		if (len <= 0)
			return;
		for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
			if (m->vers != FANOTIFY_METADATA_VERSION) {
				if (m->fd >= 0) {
					if (m->mask & FAN_PERM_EVENTS)
						respond(m->fd, policy_mode() != MODE_ENFORCE);
					close(m->fd);
				}
				continue;
			}
			handle(m);
		}
	}
}

/* ---- marking the sandbox's mounts --------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int add_marked(const char *target)
{
	char **v = realloc(marked, (nmarked + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	marked = v;
	marked[nmarked] = strdup(target);
	if (!marked[nmarked])
		return -ENOMEM;
	nmarked++;
	return 0;
}

/* Marks every mount of init's namespace for MASK. Pseudo filesystems
 * that refuse permission events (proc) are listed in a file.unmarked
 * event: nothing is skipped in silence. */
static int mark_mounts(pid_t init, uint64_t mask, char *err, size_t errlen)
{
	char mi[64], line[8192], target[PATH_MAX + 32];
	json_t *skipped = json_array();
	FILE *f;

	snprintf(mi, sizeof(mi), "/proc/%d/mountinfo", init);
	f = fopen(mi, "re");
	if (!f) {
		snprintf(err, errlen, "file: cannot read '%s': %s", mi, strerror(errno));
		json_decref(skipped);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], fstype[64];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep, " - %63s", fstype) != 1)
			continue;
		unescape(mp);
		snprintf(target, sizeof(target), "/proc/%d/root%s", init, mp);
		/* Probe with permission events: a mount that refuses them
		 * could not be enforced, so it is reported in every mode. */
		if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_PERM_EVENTS, AT_FDCWD,
				  target) < 0) {
			json_array_append_new(skipped,
					      json_pack("{s:s, s:s, s:s}", "mount", mp, "fstype",
							fstype, "error", strerror(errno)));
			continue;
		}
		if ((mask != FAN_PERM_EVENTS &&
		     (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, target) <
			      0 ||
		      fanotify_mark(fan, FAN_MARK_REMOVE | FAN_MARK_MOUNT, FAN_PERM_EVENTS & ~mask,
				    AT_FDCWD, target) < 0)) ||
		    add_marked(target) < 0) {
			snprintf(err, errlen, "file: cannot mark '%s': %s", mp, strerror(errno));
			fclose(f);
			json_decref(skipped);
			return -EIO;
		}
	}
	fclose(f);
	mark_mask = mask;
	unmarked = json_array_size(skipped);
	if (unmarked) {
		struct record *r = record_new("file.unmarked");

		if (r) {
			json_object_set_new(r->details, "mounts", json_incref(skipped));
			reactor_publish(r);
		}
		log_debug("file: %llu mounts cannot be governed (see the file.unmarked event)",
			  (unsigned long long)unmarked);
	}
	json_decref(skipped);
	if (!nmarked) {
		snprintf(err, errlen, "file: no mount of the sandbox could be marked");
		return -EIO;
	}
	return 0;
}

/* Switches every mark to MASK: the new events first, then the old ones
 * go, so no mount is ever unwatched. */
static int remark(uint64_t mask)
{
	int rc = 0;

	if (mask == mark_mask)
		return 0;
	for (size_t i = 0; i < nmarked; i++) {
		if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, marked[i]) <
			    0 ||
		    fanotify_mark(fan, FAN_MARK_REMOVE | FAN_MARK_MOUNT, mark_mask & ~mask,
				  AT_FDCWD, marked[i]) < 0)
			rc = -errno;
	}
	mark_mask = mask;
	return rc;
}

static uint64_t mask_for(enum mode m)
{
	return m == MODE_ENFORCE ? FAN_PERM_EVENTS : FAN_NOTE_EVENTS;
}

/* ---- module hooks --------------------------------------------------------- */

static int file_session_ready(char *err, size_t errlen)
{
	const struct session_info *s = reactor_session();
	int rc;

	/* The bpf LSM backend decides opens and execs in the kernel. */
	if (lsm_active())
		return 0;

	/* The cgroup path relative to the cgroup2 root, as /proc/PID/cgroup
	 * shows it: ROOT/leash/UUID -> /leash/UUID. */
	snprintf(cgroup_rel, sizeof(cgroup_rel), "/leash/%s", s->uuid);

	cache = calloc(CACHE_SLOTS, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
				    FAN_UNLIMITED_QUEUE,
			    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan < 0) {
		snprintf(err, errlen, "file: fanotify_init: %s", strerror(errno));
		return -errno;
	}
	rc = mark_mounts(s->init_pid, mask_for(policy_mode()), err, errlen);
	if (rc)
		return rc;
	watch = reactor_watch_fd(fan, on_fanotify, NULL);
	if (!watch) {
		snprintf(err, errlen, "file: cannot watch the fanotify fd");
		return -ENOMEM;
	}
	return 0;
}

/* Decisions are made by the evaluator in the loop, so any policy can be
 * enforced exactly; what a change needs is an empty cache, and to know
 * whether the new policy lets decisions be cached per resource. */
static int file_policy_prepare(const struct policy *p, enum mode m, void **staged, char *err,
			       size_t errlen)
{
	struct staged *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->p = p;
	st->m = m;
	forbidden_inodes_collect(p->ps, &st->forbidden);
	if (st->forbidden.truncated)
		log_warn(
			"file: a forbidden directory has more than %d entries: hard links to files past that are not recognised",
			FORBIDDEN_INODES_SCAN_MAX);
	*staged = st;
	return 0;
}

static void file_policy_abort(void *staged)
{
	struct staged *st = staged;

	forbidden_inodes_free(&st->forbidden);
	free(st);
}

static void file_policy_commit(void *staged)
{
	struct staged *st = staged;

	cache_clear();
	ignore_flush();
	cache_usable = !(st->p->context_keys & ~POLICY_CTX_PATH);
	forbidden_inodes_free(&forbidden);
	forbidden = st->forbidden;
	/* Before the session is ready there are no marks yet; session_ready
	 * marks for the mode in force. */
	if (nmarked && remark(mask_for(st->m)) < 0)
		log_err("file: cannot switch the marks to %s mode: %s", mode_name(st->m),
			strerror(errno));
	free(st);
}

/* The command is gone: record what its last closes left in the queue. */
static void file_session_end(void)
{
	if (fan >= 0)
		on_fanotify(NULL);
}

static void file_fini(void)
{
	reactor_unwatch(watch);
	watch = NULL;
	if (fan >= 0)
		close(fan);
	fan = -1;
	cache_clear();
	free(cache);
	cache = NULL;
	forbidden_inodes_free(&forbidden);
	for (size_t i = 0; i < nmarked; i++)
		free(marked[i]);
	free(marked);
	marked = NULL;
	nmarked = 0;
}

static const char *file_backend(void)
{
	return lsm_active() ? "bpf-lsm" : "fanotify";
}

const struct module file_module = {
	.name = "file",
	.enforces = file_actions,
	.backend = file_backend,
	.session_ready = file_session_ready,
	.session_end = file_session_end,
	.policy_prepare = file_policy_prepare,
	.policy_commit = file_policy_commit,
	.policy_abort = file_policy_abort,
	.fini = file_fini,
};
