/* seccomp.h: the syscall floor under the agent.
 *
 * Whatever the policy says, the command and everything it starts may not
 * make namespaces, touch mounts, load BPF or kernel code, open files by
 * handle or use perf events: each of those would let it step around the
 * sandbox or the enforcement. They fail with EPERM (clone3 with ENOSYS, so
 * libc falls back to clone, whose flags can be checked).
 */
#ifndef LEASH_SECCOMP_H
#define LEASH_SECCOMP_H

/* Installs the filter on the calling thread (no_new_privs must be set).
 * 0 or -errno. */
int seccomp_floor_install(void);

#endif
