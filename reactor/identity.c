/* identity.c: resolve the identity the command runs as. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "identity.h"

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return (!*s || *end || errno || *out >= (unsigned long)(uid_t)-1) ? -EINVAL : 0;
}

int identity_resolve(struct identity *id, char *err, size_t errlen)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	unsigned long uid, gid;
	struct passwd *pw;

	memset(id, 0, sizeof(*id));
	if (su && geteuid() == 0) {
		if (parse_id(su, &uid) < 0 || (sg && parse_id(sg, &gid) < 0)) {
			snprintf(err, errlen, "SUDO_UID/SUDO_GID are not user and group ids");
			return -EINVAL;
		}
		id->via_sudo = true;
	} else {
		uid = getuid();
		gid = getgid();
	}
	pw = getpwuid(uid);
	if (!pw) {
		snprintf(err, errlen, "user id %lu has no passwd entry", uid);
		return -ENOENT;
	}
	if (!id->via_sudo || !sg)
		gid = id->via_sudo ? pw->pw_gid : gid;
	id->uid = uid;
	id->gid = gid;
	snprintf(id->name, sizeof(id->name), "%s", pw->pw_name);
	snprintf(id->home, sizeof(id->home), "%s", pw->pw_dir);
	snprintf(id->shell, sizeof(id->shell), "%s", pw->pw_shell);
	if (id->via_sudo) {
		id->ngroups = IDENTITY_MAX_GROUPS;
		if (getgrouplist(pw->pw_name, gid, id->groups, &id->ngroups) < 0) {
			snprintf(err, errlen, "user '%s' is in more than %d groups", pw->pw_name,
				 IDENTITY_MAX_GROUPS);
			return -E2BIG;
		}
	} else {
		id->ngroups = getgroups(IDENTITY_MAX_GROUPS, id->groups);
		if (id->ngroups < 0) {
			snprintf(err, errlen, "cannot read supplementary groups: %s",
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int identity_data_dir(const struct identity *id, char *out, size_t len, char *err, size_t errlen)
{
	const char *xdg = id->via_sudo ? NULL : getenv("XDG_DATA_HOME");
	struct stat st;

	if (xdg && xdg[0] == '/') {
		snprintf(out, len, "%s/leash", xdg);
		return 0;
	}
	if (stat(id->home, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(
			err, errlen,
			"user '%s' has no home directory '%s' for the audit database; use --db FILE",
			id->name, id->home);
		return -ENOENT;
	}
	snprintf(out, len, "%s/.local/share/leash", id->home);
	return 0;
}

int identity_mkdirs(const char *path, uid_t uid, gid_t gid)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) == 0) {
			if (chown(buf, uid, gid) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = c;
		if (!c)
			return 0;
	}
}
