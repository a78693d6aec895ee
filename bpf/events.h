/* events.h: the one contract between leash's BPF programs and the reactor.
 *
 * Every record in the ring buffer starts with struct ev_header (type,
 * version, size, kernel time). The reactor checks all three before it reads
 * a payload, so a stale object or a torn record is counted and dropped, never
 * trusted. Layouts are plain data with explicit padding, zeroed before use,
 * and pinned by static asserts so BPF (clang -target bpf) and the reactor
 * (gcc) agree byte for byte.
 *
 * When adding an event kind: add an EV_* type, a struct with the header
 * first, a size assert, the decoder in reactor/ (modules/process.c for
 * process events) and the schema documentation in schema/.
 */
#ifndef LEASH_BPF_EVENTS_H
#define LEASH_BPF_EVENTS_H

#ifdef __bpf__
/* vmlinux.h already defines __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define EV_VERSION 1

enum ev_type {
	EV_EXEC = 1,
	EV_EXIT = 2,
};

#define EV_PATH_MAX 256 /* executable path, NUL-terminated, may be truncated */
#define EV_ARGS_MAX 1024 /* argv, NUL-separated as in /proc/PID/cmdline */
#define EV_COMM_LEN 16

/* ev_exec.flags */
#define EV_F_ARGS_TRUNCATED (1u << 0) /* argv did not fit in EV_ARGS_MAX */
#define EV_F_PATH_TRUNCATED (1u << 1) /* filename did not fit in EV_PATH_MAX */

struct ev_header {
	__u16 type; /* enum ev_type */
	__u16 version; /* EV_VERSION */
	__u32 size; /* bytes of the whole record, header included */
	__u64 time_ns; /* bpf_ktime_get_boot_ns() at the hook */
};

/* The task a record is about. Pids are as seen from the initial pid
 * namespace (the reactor's view), not from inside the session. */
struct ev_task {
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid; /* tgid of real_parent */
	__u32 uid; /* real uid */
	__u32 gid;
	__u32 _pad;
	__u64 cgroup_id;
	char comm[EV_COMM_LEN];
};

struct ev_exec {
	struct ev_header hdr;
	struct ev_task task;
	__u32 old_pid; /* pid before exec (differs when a thread execs) */
	__u32 flags; /* EV_F_* */
	__u32 args_len; /* bytes used in args, NULs included */
	__u32 argc; /* number of arguments captured */
	char path[EV_PATH_MAX];
	char args[EV_ARGS_MAX];
};

struct ev_exit {
	struct ev_header hdr;
	struct ev_task task;
	__u32 exit_code; /* wait status: (status << 8) | termsig, core bit 0x80 */
	__u32 _pad;
};

/* Index into stats_map (a per-CPU array): counters the reactor sums and
 * reports, so that loss in the kernel is never silent. */
enum ev_stat {
	STAT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: ring buffer full */
	STAT_EXEC_SEEN,
	STAT_EXIT_SEEN,
	STAT_MAX,
};

_Static_assert(sizeof(struct ev_header) == 16, "ev_header layout");
_Static_assert(sizeof(struct ev_task) == 48, "ev_task layout");
_Static_assert(sizeof(struct ev_exec) == 16 + 48 + 16 + EV_PATH_MAX + EV_ARGS_MAX,
	       "ev_exec layout");
_Static_assert(sizeof(struct ev_exit) == 16 + 48 + 8, "ev_exit layout");

#endif
