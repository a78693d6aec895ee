/* network_lsm.h: the network module's BPF LSM hooks (bpf/network_lsm.bpf.c).
 *
 * Where lsm_available() (modules/lsm.h) says the kernel runs the bpf LSM,
 * modules/network.c calls network_lsm_start() once its cgroup programs are
 * attached: lsm/socket_connect and lsm/socket_sendmsg then decide the
 * session's connects too, by the calling task's cgroup, from the cgroup
 * object's own maps (so one policy trie, one ring buffer). Elsewhere
 * nothing is loaded and the cgroup programs decide alone.
 */
#ifndef LEASH_NETWORK_LSM_H
#define LEASH_NETWORK_LSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_object;

/* Loads the LSM programs for the session cgroup CGID at LEVEL with every
 * map shared with NET (the loaded cgroup object: each map of the LSM
 * object is NET's map of the same name), and attaches them. 0, or -errno
 * with a message in ERR. */
int network_lsm_start(const struct bpf_object *net, uint64_t cgid, int level, char *err,
		      size_t errlen);

/* True once network_lsm_start() attached the programs. */
bool network_lsm_active(void);

/* Detaches and unloads (the shared maps stay NET's). */
void network_lsm_stop(void);

#endif
