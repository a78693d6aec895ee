/* process.c: the process module, exec and exit events from the kernel.
 *
 * Loads bpf/process.bpf.c scoped to the session cgroup (rodata set before
 * load), attaches the tp_btf programs before the command exists, and reads
 * the ring buffer in the loop through reactor/bpfring.c, which also
 * reports the kernel's drops (stats.loss). Every record is checked (type,
 * version, size) before it is decoded; malformed ones are counted as lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfring.h"
#include "events.h"
#include "log.h"
#include "module.h"
#include "policy.h"
#include "process.h"
#include "reactor.h"
#include "process.skel.h"

static struct process_bpf *skel;
static struct bpfring ring;

/* Exec verdicts waiting for their exec event, by thread. A thread has at
 * most one exec in flight, so a small table with oldest-out replacement is
 * enough; an entry whose exec failed is simply overwritten later. */
#define PENDING_EXECS 256
static struct pending_exec {
	pid_t tid;
	uint32_t dev;
	uint64_t ino;
	struct policy_verdict v;
} pending[PENDING_EXECS];
static unsigned pending_next;

void process_exec_decided(pid_t tid, uint32_t dev, uint64_t ino, const struct policy_verdict *v)
{
	/* One exec checks several files (the program, its interpreter, a
	 * script's shell): keep each, the exec event takes the one it ran. */
	struct pending_exec *p = &pending[pending_next++ % PENDING_EXECS];

	policy_verdict_free(&p->v);
	p->tid = tid;
	p->dev = dev;
	p->ino = ino;
	p->v = *v;
	p->v.policies = v->policies ? json_incref(v->policies) : NULL;
	p->v.errors = v->errors ? json_incref(v->errors) : NULL;
}

/* Stamps R with the decision made for this exec's program, if one was,
 * and forgets every pending decision of the thread. Returns whether one
 * was found. */
static bool stamp_pending(struct record *r, const struct ev_exec *e)
{
	bool found = false;

	for (unsigned i = 0; i < PENDING_EXECS; i++) {
		struct pending_exec *p = &pending[i];

		if (p->tid != (pid_t)e->old_pid || !p->tid)
			continue;
		if (p->dev == e->dev && p->ino == e->ino) {
			policy_verdict_stamp(&p->v, r);
			found = true;
		}
		policy_verdict_free(&p->v);
		p->tid = 0;
	}
	return found;
}

/* Every exec event carries a decision. In enforce mode it was made before
 * the exec (fanotify, in the file module). In record and shadow mode no
 * one waited, so it is made here. An exec in enforce mode that was never
 * asked about ran a file on a mount fanotify cannot see (a memfd, say): it
 * is decided now, marked unchecked, and killed if the policy denies it; it
 * ran for the time this took. */
static void stamp_exec(struct record *r, const struct ev_exec *e, const char *given)
{
	char link[64], path[PATH_MAX];
	struct policy_verdict v;
	json_t *ctx;
	ssize_t n;

	if (e->flags & EV_F_ANON)
		json_object_set_new(r->details, "anonymous", json_true());
	if (e->flags & EV_F_KILLED) {
		r->decision = DECISION_DENY;
		json_object_set_new(r->details, "killed", json_true());
		json_object_set_new(r->details, "reason",
				    json_string("enforce mode: a program with no name on disk"));
		return;
	}
	if (stamp_pending(r, e))
		return;
	/* Rules name canonical paths (/bin/sh is /usr/bin/sh): the kernel's
	 * view of the running program, else the given path resolved. */
	snprintf(link, sizeof(link), "/proc/%u/exe", e->task.pid);
	n = readlink(link, path, sizeof(path) - 1);
	if (n > 0)
		path[n] = '\0';
	else if (!realpath(given, path))
		snprintf(path, sizeof(path), "%s", given);
	record_set_resource(r, NULL);
	{
		char resource[PATH_MAX + 16];

		snprintf(resource, sizeof(resource), "File::\"%s\"", path);
		record_set_resource(r, resource);
	}
	ctx = json_pack("{s:s, s:i}", "path", path, "pid", (int)e->task.pid);
	if (policy_decide("ProcessExec", "File", path, false, ctx, &v) == 0) {
		policy_verdict_stamp(&v, r);
		if (policy_mode() == MODE_ENFORCE) {
			json_object_set_new(r->details, "unchecked", json_true());
			if (v.decision == DECISION_DENY) {
				kill(e->task.pid, SIGKILL);
				json_object_set_new(r->details, "killed", json_true());
			}
		}
		policy_verdict_free(&v);
	}
	json_decref(ctx);
}

static void fill_task(struct record *ev, const struct ev_task *t)
{
	char comm[EV_COMM_LEN + 1];

	ev->pid = t->pid;
	ev->ppid = t->ppid;
	ev->uid = t->uid;
	ev->cgroup = t->cgroup_id;
	memcpy(comm, t->comm, EV_COMM_LEN);
	comm[EV_COMM_LEN] = '\0';
	record_set_comm(ev, comm);
	if (t->tid != t->pid)
		json_object_set_new(ev->details, "tid", json_integer(t->tid));
}

static int64_t wall_ns(uint64_t boot_ns)
{
	return (int64_t)boot_ns + reactor_session()->boot_to_wall_ns;
}

/* argv arrives NUL-separated and may be cut anywhere: every complete or
 * partial argument becomes one JSON string. */
static json_t *argv_json(const char *buf, uint32_t len)
{
	json_t *a = json_array();
	uint32_t i = 0;

	while (a && i < len) {
		size_t n = strnlen(buf + i, len - i);

		json_array_append_new(a, record_json_text(buf + i, n));
		i += n + 1;
	}
	return a;
}

static void decode_exec(const struct ev_exec *e)
{
	struct record *ev = record_new("process.exec");
	char path[EV_PATH_MAX + 1];
	char resource[EV_PATH_MAX + 16];
	json_t *argv;

	if (!ev)
		return;
	ev->time_ns = wall_ns(e->hdr.time_ns);
	fill_task(ev, &e->task);
	memcpy(path, e->path, EV_PATH_MAX);
	path[EV_PATH_MAX] = '\0';
	record_set_exe(ev, path);
	ev->action = "ProcessExec";
	snprintf(resource, sizeof(resource), "File::\"%s\"", path);
	record_set_resource(ev, resource);
	argv = argv_json(e->args, e->args_len < EV_ARGS_MAX ? e->args_len : EV_ARGS_MAX);
	json_object_set_new(ev->details, "argv", argv);
	json_object_set_new(ev->details, "argc", json_integer(e->argc));
	if (e->flags & EV_F_ARGS_TRUNCATED)
		json_object_set_new(ev->details, "argv_truncated", json_true());
	if (e->flags & EV_F_PATH_TRUNCATED)
		json_object_set_new(ev->details, "path_truncated", json_true());
	if (e->old_pid != e->task.pid)
		json_object_set_new(ev->details, "old_pid", json_integer(e->old_pid));
	stamp_exec(ev, e, path);
	reactor_publish(ev);
}

static void decode_exit(const struct ev_exit *e)
{
	struct record *ev = record_new("process.exit");
	int status = e->exit_code;

	if (!ev)
		return;
	ev->time_ns = wall_ns(e->hdr.time_ns);
	fill_task(ev, &e->task);
	if (status & 0x7f) {
		json_object_set_new(ev->details, "signal", json_integer(status & 0x7f));
		if (status & 0x80)
			json_object_set_new(ev->details, "core_dumped", json_true());
	} else {
		json_object_set_new(ev->details, "exit_code", json_integer((status >> 8) & 0xff));
	}
	reactor_publish(ev);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct ev_header *h = data;

	if (size < sizeof(*h) || h->version != EV_VERSION || h->size != size)
		goto bad;
	switch (h->type) {
	case EV_EXEC:
		if (size != sizeof(struct ev_exec))
			goto bad;
		decode_exec(data);
		return 0;
	case EV_EXIT:
		if (size != sizeof(struct ev_exit))
			goto bad;
		decode_exit(data);
		return 0;
	}
bad:
	ring.malformed++;
	return 0;
}

static int process_session_start(char *err, size_t errlen)
{
	const struct session_info *s = reactor_session();
	uint32_t ring_bytes;
	int rc;

	rc = bpfring_size(&ring_bytes, err, errlen);
	if (rc)
		return rc;
	bpfring_log_libbpf();
	skel = process_bpf__open();
	if (!skel) {
		snprintf(err, errlen, "process: cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->session_cgid = s->cgroup_id;
	skel->rodata->session_level = s->cgroup_level;
	if (ring_bytes && (rc = bpf_map__set_max_entries(skel->maps.events_map, ring_bytes))) {
		snprintf(err, errlen, "process: cannot size the ring buffer: %s", strerror(-rc));
		return rc;
	}
	rc = process_bpf__load(skel);
	if (rc) {
		snprintf(err, errlen, "process: cannot load BPF programs: %s", strerror(-rc));
		return rc;
	}
	rc = process_bpf__attach(skel);
	if (rc) {
		snprintf(err, errlen, "process: cannot attach tp_btf programs: %s", strerror(-rc));
		return rc;
	}
	return bpfring_open(&ring, "process", bpf_map__fd(skel->maps.events_map), on_record,
			    bpf_map__fd(skel->maps.stats_map), STAT_RINGBUF_DROPS, err, errlen);
}

/* The command is gone: its last exit records are already in the ring
 * (the exit tracepoint fires before the parent can reap), so one more
 * consume gets them all. */
static void process_session_end(void)
{
	bpfring_drain(&ring);
}

/* enforce mode arms the kernel's kill of anonymous programs; a bss
 * variable is mmapped, so the switch is one store, seen at the next exec. */
static int process_policy_prepare(const struct policy *p, enum mode m, void **staged, char *err,
				  size_t errlen)
{
	*staged = (void *)(uintptr_t)(m == MODE_ENFORCE ? 2 : 1);
	return 0;
}

static void process_policy_commit(void *staged)
{
	if (skel)
		skel->bss->kill_anon_exec = (uintptr_t)staged == 2;
}

static uint64_t process_lost(void)
{
	return bpfring_lost(&ring);
}

static void process_fini(void)
{
	for (unsigned i = 0; i < PENDING_EXECS; i++) {
		policy_verdict_free(&pending[i].v);
		pending[i].tid = 0;
	}
	bpfring_close(&ring);
	process_bpf__destroy(skel);
	skel = NULL;
}

const struct module process_module = {
	.name = "process",
	.session_start = process_session_start,
	.session_end = process_session_end,
	.policy_prepare = process_policy_prepare,
	.policy_commit = process_policy_commit,
	.lost = process_lost,
	.fini = process_fini,
};
