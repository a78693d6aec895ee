/* identity.h: who the command runs as.
 *
 * Under sudo, the invoking user (SUDO_UID, SUDO_GID, that user's
 * supplementary groups, home and name); otherwise leash's own real ids.
 */
#ifndef LEASH_IDENTITY_H
#define LEASH_IDENTITY_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define IDENTITY_MAX_GROUPS 256

struct identity {
	uid_t uid;
	gid_t gid;
	gid_t groups[IDENTITY_MAX_GROUPS];
	int ngroups;
	char name[64];
	char home[PATH_MAX];
	char shell[PATH_MAX];
	bool via_sudo;
};

/* 0, or -errno with a message in ERR (a SUDO_UID that is not a number or
 * names no user). */
int identity_resolve(struct identity *id, char *err, size_t errlen);

/* leash's data directory of the invoking user (the audit log's default
 * place): $XDG_DATA_HOME/leash, or ~/.local/share/leash (under sudo
 * always the latter: sudo's environment is root's, so XDG_DATA_HOME is
 * only trusted without sudo). Never invents a home directory (nobody's is
 * /nonexistent): -ENOENT with a message. */
int identity_data_dir(const struct identity *id, char *out, size_t len, char *err, size_t errlen);

/* mkdir -p PATH, giving each directory it creates (0700) to UID:GID, so
 * the invoking user owns what leash makes in their home. 0 or -errno. */
int identity_mkdirs(const char *path, uid_t uid, gid_t gid);

#endif
