// SPDX-License-Identifier: GPL-2.0
/* process.bpf.c: exec and exit events for every process of a leash session.
 *
 * tp_btf programs are global (not attached to a cgroup), so each hook first
 * asks whether the current task lives in the session cgroup or below it:
 * bpf_get_current_ancestor_cgroup_id(session_level) == session_cgid. That
 * follows the agent into child cgroups it (or podman) creates, which an
 * exact cgroup-id compare would miss. tp_btf is used, not BPF LSM, because
 * it loads on kernels that refuse BPF trampolines.
 *
 * Records go to one ring buffer; a failed reserve is counted in stats_map
 * (never silent), and the reactor reports the count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the reactor before load. */
const volatile __u64 session_cgid = 0;
const volatile __u32 session_level = 0;

/* Set live (enforce mode): a program with no name on disk cannot be
 * checked by fanotify (its mount is internal), so it is killed here,
 * before its first instruction. */
__u32 kill_anon_exec = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 4 MiB: ~2,900 exec records, seconds of headroom at the fastest
	 * exec rate a 2-core machine reaches; LEASH_RINGBUF_KB overrides. */
	__uint(max_entries, 4 << 20);
} events_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats_map SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats_map, &which);

	if (v)
		*v += 1;
}

static __always_inline bool in_session(void)
{
	return bpf_get_current_ancestor_cgroup_id(session_level) == session_cgid;
}

static __always_inline void fill_task(struct ev_task *t, struct task_struct *task)
{
	__u64 ugid = bpf_get_current_uid_gid();

	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
	t->uid = (__u32)ugid;
	t->gid = ugid >> 32;
	t->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

static __always_inline void fill_header(struct ev_header *h, __u16 type, __u32 size)
{
	h->type = type;
	h->version = EV_VERSION;
	h->size = size;
	h->time_ns = bpf_ktime_get_boot_ns();
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct ev_exec *ev;
	unsigned long start, end, len;
	long n;

	if (!in_session())
		return 0;
	stat_inc(STAT_EXEC_SEEN);
	ev = bpf_ringbuf_reserve(&events_map, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(STAT_RINGBUF_DROPS);
		return 0;
	}
	/* The reserved slot is not zeroed: clear what we may not overwrite. */
	__builtin_memset(ev, 0, sizeof(struct ev_header) + sizeof(struct ev_task) + 32);
	fill_header(&ev->hdr, EV_EXEC, sizeof(*ev));
	fill_task(&ev->task, task);
	ev->old_pid = old_pid;
	ev->argc = BPF_CORE_READ(bprm, argc);
	ev->ino = BPF_CORE_READ(bprm, file, f_inode, i_ino);
	ev->dev = BPF_CORE_READ(bprm, file, f_inode, i_sb, s_dev);
	/* memfd and unlinked files: an unhashed dentry or no links */
	if (!BPF_CORE_READ(bprm, file, f_path.dentry, d_hash.pprev) ||
	    !BPF_CORE_READ(bprm, file, f_inode, i_nlink)) {
		ev->flags |= EV_F_ANON;
		if (kill_anon_exec) {
			bpf_send_signal(9 /* SIGKILL */);
			ev->flags |= EV_F_KILLED;
		}
	}

	n = bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), BPF_CORE_READ(bprm, filename));
	if (n < 0)
		ev->path[0] = '\0';
	else if (n == sizeof(ev->path))
		ev->flags |= EV_F_PATH_TRUNCATED;

	/* The new image's argv sits on its fresh stack, just written by the
	 * kernel, so the pages are present for a non-sleepable read. */
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > EV_ARGS_MAX) {
		len = EV_ARGS_MAX;
		ev->flags |= EV_F_ARGS_TRUNCATED;
	}
	if (len && bpf_probe_read_user(ev->args, len & (EV_ARGS_MAX * 2 - 1), (void *)start) < 0)
		len = 0;
	ev->args_len = len;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* Only the task argument: kernels before 6.16 have no group_dead one. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	struct ev_exit *ev;

	/* One record per process, when its last thread goes: do_exit() has
	 * already counted this thread out of signal->live. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0 || !in_session())
		return 0;
	stat_inc(STAT_EXIT_SEEN);
	ev = bpf_ringbuf_reserve(&events_map, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(STAT_RINGBUF_DROPS);
		return 0;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	fill_header(&ev->hdr, EV_EXIT, sizeof(*ev));
	fill_task(&ev->task, task);
	ev->exit_code = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}
