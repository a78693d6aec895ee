// SPDX-License-Identifier: GPL-2.0
/* lsm.bpf.c: FileOpen* and ProcessExec decided in the kernel with BPF LSM.
 *
 * Where the kernel runs the bpf LSM (lsm=...,bpf), lsm/file_open and
 * lsm/bprm_check_security decide each open and exec of the session from
 * the trie described in events.h, with no round trip to the reactor:
 *
 *   1. scope: the task's cgroup or one of its ancestors is the session
 *      cgroup (bpf_get_current_ancestor_cgroup_id at the session's level),
 *      so cgroups the agent or podman create later are covered too;
 *   2. the path: bpf_d_path of the file (absolute, symlinks resolved, as
 *      rules are written), into a per-CPU scratch buffer; a path that does
 *      not fit fails closed in enforce mode;
 *   3. the class: execve's own open of the program (FMODE_EXEC) is left to
 *      bprm_check_security, which decides it as ProcessExec; an open with
 *      FMODE_WRITE or O_TRUNC is a read-write open, else read-only;
 *   4. one trie lookup (lsm_policy_map slot 0, swapped whole by the
 *      reactor: each call is decided wholly by one policy);
 *   5. a record of the access and the verdict into the ring buffer (a
 *      failed output is counted in stats_map, never silent); in enforce
 *      mode a deny returns -EPERM.
 *
 * handle_test_lookup (a tc program, which BPF_PROG_TEST_RUN can run on any
 * kernel) runs steps 3-4 on a request from test_req_map: the host's
 * differential test checks the compiled trie and this lookup code against
 * the Cedar evaluator without needing BPF LSM.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define FMODE_WRITE 0x2
#define FMODE_EXEC 0x20
#define O_TRUNC 01000
#define S_IFMT 00170000
#define S_IFDIR 0040000

/* Set by the reactor after load, before attach (writable: the object is
 * loaded once by the capability probe, before the session exists). */
__u64 session_cgid = 0;
__u32 session_level = 0;
__u32 policy_mode = 0; /* enum mode: without a policy, enforce denies */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LSM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats_map SEC(".maps");

/* The shape of the inner tries; the reactor creates each one with as many
 * entries as its policy needs. */
struct lsm_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lsm_key);
	__type(value, struct lsm_verdict);
} trie_shape SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct lsm_trie);
} lsm_policy_map SEC(".maps");

/* Per CPU: the event being built (its path is bpf_d_path's buffer) and the
 * lookup key. LSM programs of this kind do not sleep, so one per CPU. */
struct scratch {
	struct ev_lsm_file ev;
	struct lsm_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* handle_test_lookup's request (ev.cls, ev.type, ev.path, ev.path_len as
 * bpf_d_path returns it) and its answer (ev.v, ev.flags). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} test_req_map SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats_map, &which);

	if (v)
		*v += 1;
}

/* Builds the lookup key of the resource id for E's path: the path, with
 * a '/' after a directory's (Dir ids end in '/', the root is "/"), cut at
 * LSM_KEY_PATH bytes (flagged LSM_F_LONG). */
static __always_inline void build_key(struct lsm_key *k, struct ev_lsm_file *e)
{
	/* 64-bit: a u32 is widened with shifts that lose the verifier's
	 * bounds between the compare and the call */
	__u64 n = e->path_len ? (__u64)e->path_len - 1 : 0;
	__u64 id = n;

	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = LSM_PLEN_MAX;
	k->cls = e->cls;
	k->type = e->type;
	if (e->type == LSM_TYPE_DIR && !(n == 1 && e->path[0] == '/'))
		id = n + 1;
	if (id >= LSM_KEY_PATH)
		e->flags |= LSM_F_LONG;
	if (n > LSM_KEY_PATH)
		n = LSM_KEY_PATH;
	/* keep the clamped value in the register the call uses (clang may
	 * reuse the unclamped copy, which the verifier cannot bound) */
	asm volatile("" : "+r"(n));
	bpf_probe_read_kernel(k->path, n, e->path);
	if (id != n && n < LSM_KEY_PATH)
		k->path[n] = '/';
}

/* The verdict for E (cls, type, path filled in), into E->v. */
static __always_inline void decide(struct scratch *s)
{
	struct ev_lsm_file *e = &s->ev;
	struct lsm_verdict *v;
	__u32 zero = 0;
	void *trie;

	e->v.gen = 0;
	e->v.set_id = 0;
	e->v.mode = policy_mode;
	e->v.action = LSM_DENY;
	if (!e->path_len) {
		e->v.reason = LSM_REASON_NO_PATH;
		return;
	}
	trie = bpf_map_lookup_elem(&lsm_policy_map, &zero);
	if (!trie) {
		e->v.reason = LSM_REASON_NO_POLICY;
		return;
	}
	build_key(&s->key, e);
	v = bpf_map_lookup_elem(trie, &s->key);
	if (!v) {
		e->v.reason = LSM_REASON_NO_POLICY;
		return;
	}
	e->v = *v;
}

static __always_inline bool in_session(void)
{
	return session_cgid && bpf_get_current_ancestor_cgroup_id(session_level) == session_cgid;
}

static __always_inline struct scratch *start(struct file *f, __u8 cls)
{
	struct task_struct *task = (void *)bpf_get_current_task_btf();
	__u64 ugid = bpf_get_current_uid_gid();
	struct ev_lsm_file *e;
	struct scratch *s;
	__u32 zero = 0;
	long n;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return NULL;
	e = &s->ev;
	__builtin_memset(e, 0, sizeof(struct ev_header) + sizeof(struct ev_task) + 40);
	e->hdr.type = EV_LSM_FILE;
	e->hdr.version = EV_VERSION;
	e->hdr.time_ns = bpf_ktime_get_boot_ns();
	e->task.pid = task->tgid;
	e->task.tid = task->pid;
	e->task.ppid = task->real_parent->tgid;
	e->task.uid = (__u32)ugid;
	e->task.gid = ugid >> 32;
	e->task.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->task.comm, sizeof(e->task.comm));
	e->cls = cls;
	e->type = (f->f_inode->i_mode & S_IFMT) == S_IFDIR ? LSM_TYPE_DIR : LSM_TYPE_FILE;
	e->ino = f->f_inode->i_ino;
	e->dev = f->f_inode->i_sb->s_dev;
	e->f_mode = f->f_mode;
	n = bpf_d_path((struct path *)&f->f_path, e->path, sizeof(e->path));
	if (n <= 0 || n > LSM_PATH_MAX) {
		e->flags |= LSM_F_NO_PATH;
		e->path[0] = '\0';
		stat_inc(LSM_STAT_NO_PATH);
	} else {
		e->path_len = n;
	}
	return s;
}

/* Records S and says what the hook returns. */
static __always_inline int finish(struct scratch *s)
{
	struct ev_lsm_file *e = &s->ev;
	bool deny = e->v.action != LSM_ALLOW && e->v.mode == 2 /* MODE_ENFORCE */;
	__u64 size = (offsetof(struct ev_lsm_file, path) + (__u64)e->path_len + 7) & ~7ull;

	if (deny) {
		e->flags |= LSM_F_DENIED;
		stat_inc(LSM_STAT_DENIED);
	}
	if (size > sizeof(*e))
		size = sizeof(*e);
	asm volatile("" : "+r"(size)); /* the call must see the clamped value */
	e->hdr.size = size;
	if (bpf_ringbuf_output(&events_map, e, size, 0) < 0)
		stat_inc(LSM_STAT_RINGBUF_DROPS);
	return deny ? -EPERM : 0;
}

SEC("lsm/file_open")
int BPF_PROG(handle_file_open, struct file *file)
{
	struct scratch *s;
	__u8 cls;

	if (!in_session())
		return 0;
	/* execve's open of the program or its interpreter: ProcessExec
	 * decides it, in bprm_check_security. */
	if (file->f_mode & FMODE_EXEC)
		return 0;
	stat_inc(LSM_STAT_SEEN);
	cls = (file->f_mode & FMODE_WRITE) || (file->f_flags & O_TRUNC) ? LSM_CLASS_WRITE
									: LSM_CLASS_READ;
	s = start(file, cls);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	decide(s);
	return finish(s);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(handle_bprm_check, struct linux_binprm *bprm)
{
	struct scratch *s;

	if (!in_session())
		return 0;
	stat_inc(LSM_STAT_SEEN);
	s = start(bprm->file, LSM_CLASS_EXEC);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	decide(s);
	return finish(s);
}

SEC("tc")
int handle_test_lookup(struct __sk_buff *skb)
{
	struct scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&test_req_map, &zero);
	if (!s)
		return 0;
	s->ev.flags = 0;
	if (s->ev.path_len > LSM_PATH_MAX)
		s->ev.path_len = 0;
	decide(s);
	return 0;
}
