/* seccomp.c: a classic-BPF seccomp filter for the agent's floor.
 *
 * The filter checks the architecture first (a foreign ABI, x32 included,
 * is killed: its syscall numbers would dodge the list), then refuses the
 * listed syscalls with EPERM, clone/unshare only when asked for a new
 * namespace, and clone3 with ENOSYS: its flags live in memory the filter
 * cannot read, and every libc falls back to clone on ENOSYS.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "seccomp.h"

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | \
	 CLONE_NEWCGROUP | 0x80 /* CLONE_NEWTIME */)
#define X32_SYSCALL_BIT 0x40000000

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG0_LO BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), RET(SECCOMP_RET_ERRNO | EPERM)

int seccomp_floor_install(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
		LOAD_NR,
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
		RET(SECCOMP_RET_KILL_PROCESS),

		/* clone and unshare: only the namespace flags are refused */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 4),
		LOAD_ARG0_LO,
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1),
		RET(SECCOMP_RET_ERRNO | EPERM),
		RET(SECCOMP_RET_ALLOW),

		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		RET(SECCOMP_RET_ERRNO | ENOSYS),
		DENY(__NR_setns),
		DENY(__NR_mount),
		DENY(__NR_umount2),
		DENY(__NR_pivot_root),
		DENY(__NR_chroot), /* would change the paths bpf_d_path gives the LSM backend */
		DENY(__NR_open_tree),
		DENY(__NR_move_mount),
		DENY(__NR_fsopen),
		DENY(__NR_fsconfig),
		DENY(__NR_fsmount),
		DENY(__NR_fspick),
		DENY(__NR_mount_setattr),
		DENY(__NR_bpf),
		DENY(__NR_init_module),
		DENY(__NR_finit_module),
		DENY(__NR_delete_module),
		DENY(__NR_kexec_load),
		DENY(__NR_kexec_file_load),
		DENY(__NR_open_by_handle_at),
		DENY(__NR_perf_event_open),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}
