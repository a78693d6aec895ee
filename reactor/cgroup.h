/* cgroup.h: the session's cgroup v2 directory.
 *
 * Every process of a session lives in one cgroup v2 directory created for
 * it, so that BPF programs can scope themselves to it and cgroup.kill can
 * end all of it at once, whatever the processes did (setsid, double fork).
 */
#ifndef LEASH_CGROUP_H
#define LEASH_CGROUP_H

#include <limits.h>
#include <stdint.h>

struct cgroup {
	char path[PATH_MAX]; /* absolute directory path */
	uint64_t id; /* cgroup id as BPF sees it (the directory's inode) */
	int level; /* depth below the cgroup2 root (root is 0) */
	int fd; /* O_DIRECTORY fd, for CLONE_INTO_CGROUP and BPF attach */
};

/* Finds the cgroup2 mount (/sys/fs/cgroup on unified hosts,
 * /sys/fs/cgroup/unified on hybrid ones) in /proc/self/mountinfo.
 * 0, or -ENOENT when cgroup v2 is not mounted. */
int cgroup_root(char *buf, size_t len);

/* Creates ROOT/leash/NAME. 0, or -errno with a message in ERR. */
int cgroup_create(struct cgroup *cg, const char *name, char *err, size_t errlen);

/* Kills every process in the cgroup (cgroup.kill). 0 or -errno. */
int cgroup_kill(const struct cgroup *cg);
int cgroup_kill_path(const char *path);

/* Waits up to TIMEOUT_MS for the cgroup to empty, then removes it.
 * 0, or -EBUSY if something is still in it. Blocks: shutdown only. */
int cgroup_remove_path(const char *path, int timeout_ms);

void cgroup_close(struct cgroup *cg);

#endif
