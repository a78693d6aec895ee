/* cgroup.c: find cgroup v2, make the session's directory, kill it, remove it.
 *
 * Session cgroups live under ROOT/leash/, one directory per session named
 * by the session's short id, so `ls /sys/fs/cgroup/.../leash` shows what is
 * running and a left-over directory (leash killed, reaper too) is easy to
 * recognise and remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgroup.h"

int cgroup_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	/* id parent major:minor root mountpoint opts ... - fstype source sopts */
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if ((size_t)snprintf(buf, len, "%s", mnt) >= len) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

int cgroup_create(struct cgroup *cg, const char *name, char *err, size_t errlen)
{
	char root[PATH_MAX], parent[PATH_MAX];
	struct stat st;
	int rc;

	cg->fd = -1;
	rc = cgroup_root(root, sizeof(root));
	if (rc) {
		snprintf(err, errlen, "cgroup v2 is not mounted (looked in /proc/self/mountinfo)");
		return rc;
	}
	snprintf(parent, sizeof(parent), "%s/leash", root);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create cgroup '%s': %s", parent, strerror(errno));
		return rc;
	}
	if ((size_t)snprintf(cg->path, sizeof(cg->path), "%s/%s", parent, name) >= sizeof(cg->path))
		return -ENAMETOOLONG;
	if (mkdir(cg->path, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create cgroup '%s': %s", cg->path, strerror(errno));
		return rc;
	}
	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0 || fstat(cg->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open cgroup '%s': %s", cg->path, strerror(errno));
		rmdir(cg->path);
		return rc;
	}
	cg->id = st.st_ino;
	cg->level = 2; /* ROOT/leash/NAME */
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

int cgroup_kill_path(const char *path)
{
	char file[PATH_MAX + 16];

	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	return write_file(file, "1");
}

int cgroup_kill(const struct cgroup *cg)
{
	return cgroup_kill_path(cg->path);
}

int cgroup_remove_path(const char *path, int timeout_ms)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };

	for (int waited = 0;; waited += 5) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= timeout_ms)
			return -errno;
		nanosleep(&pause, NULL);
	}
}

void cgroup_close(struct cgroup *cg)
{
	if (cg->fd >= 0)
		close(cg->fd);
	cg->fd = -1;
}
