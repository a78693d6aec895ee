/* reaper.h: kill the session when leash dies, however it dies.
 *
 * A small watchdog process, forked before the command starts and outside
 * the session cgroup, holds the read end of a pipe whose only write end is
 * leash's. When leash exits or is killed (even SIGKILL), the kernel closes
 * the write end; the reaper reads EOF, writes cgroup.kill and removes the
 * cgroup. Nothing in the session keeps running unwatched.
 */
#ifndef LEASH_REAPER_H
#define LEASH_REAPER_H

#include <sys/types.h>

/* Starts the reaper for CGROUP_PATH. Returns the write end (close it to
 * release the reaper after a clean shutdown) or -errno. */
int reaper_start(const char *cgroup_path, pid_t *pid);

#endif
