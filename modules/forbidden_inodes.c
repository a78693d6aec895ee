/* forbidden_inodes.c: the files a policy's forbids name, by inode (see
 * forbidden_inodes.h).
 *
 * The scan is depth first over each forbidden File or Dir, with one budget
 * for the whole policy, so a forbid on a huge tree costs a bounded time at
 * compile time; the set is then sorted for binary search.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cedar/cedar.h"
#include "forbidden_inodes.h"

void forbidden_inodes_free(struct forbidden_inodes *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i].path);
	free(set->v);
	for (size_t i = 0; i < set->nabove; i++)
		free(set->above[i].path);
	free(set->above);
	memset(set, 0, sizeof(*set));
}

static int inode_cmp(const void *a, const void *b)
{
	const struct forbidden_inode *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Appends (ST's dev and ino, PATH without a final '/', DIR) to *V. */
static void vec_add(struct forbidden_inode **v, size_t *n, size_t *cap, const struct stat *st,
		    const char *path, bool dir)
{
	size_t len = strlen(path);

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct forbidden_inode *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return;
		*v = nv;
		*cap = c;
	}
	/* a Dir id ends in '/', the root is "/" */
	if (len > 1 && path[len - 1] == '/')
		len--;
	(*v)[*n].path = strndup(path, len);
	if (!(*v)[*n].path)
		return;
	(*v)[*n].dir = dir;
	(*v)[*n].dev = st->st_dev;
	(*v)[*n].ino = st->st_ino;
	(*n)++;
}

static void inode_add(struct forbidden_inodes *set, const struct stat *st, const char *path)
{
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		vec_add(&set->v, &set->n, &set->cap, st, path, S_ISDIR(st->st_mode));
}

/* Adds each directory above PATH (a File or Dir id; DIR says which), up to
 * the root, with PATH as its forbidden name. */
static void above_add(struct forbidden_inodes *set, const char *path, bool dir)
{
	char up[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;

	if (len >= sizeof(up) || path[0] != '/')
		return;
	memcpy(up, path, len + 1);
	while (len > 1) {
		if (up[len - 1] == '/')
			len--;
		while (len > 1 && up[len - 1] != '/')
			len--;
		up[len] = '\0';
		if (lstat(up, &st) == 0 && S_ISDIR(st.st_mode))
			vec_add(&set->above, &set->nabove, &set->capabove, &st, path, dir);
	}
}

/* Adds the files at or under PATH, depth first, while BUDGET lasts. */
static void inode_scan(struct forbidden_inodes *set, const char *path, size_t *budget)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;

	if (lstat(path, &st) < 0)
		return;
	inode_add(set, &st, path);
	if (!S_ISDIR(st.st_mode))
		return;
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char child[PATH_MAX];

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (!*budget) {
			set->truncated = true;
			break;
		}
		(*budget)--;
		snprintf(child, sizeof(child), "%s%s%s", path,
			 path[strlen(path) - 1] == '/' ? "" : "/", d->d_name);
		inode_scan(set, child, budget);
	}
	closedir(dir);
}

void forbidden_inodes_collect(const struct cedar_policy_set *ps, struct forbidden_inodes *set)
{
	static const char *const actions[] = { "FileOpen", "ProcessExec" };
	size_t budget = FORBIDDEN_INODES_SCAN_MAX;

	for (size_t a = 0; a < 2; a++) {
		struct cedar_rules rules = { 0 };

		if (cedar_rules_for_action(ps, actions[a], &rules) < 0)
			continue;
		for (size_t i = 0; i < rules.n; i++) {
			const struct cedar_rule *r = &rules.v[i];

			for (size_t t = 0; r->forbid && t < r->ntargets; t++) {
				const struct cedar_target *tg = &r->targets[t];

				if ((tg->op == CEDAR_TARGET_EQ || tg->op == CEDAR_TARGET_IN) &&
				    tg->type && tg->id &&
				    (strcmp(tg->type, "File") == 0 ||
				     strcmp(tg->type, "Dir") == 0)) {
					inode_scan(set, tg->id, &budget);
					above_add(set, tg->id, strcmp(tg->type, "Dir") == 0);
				}
			}
		}
		cedar_rules_free(&rules);
	}
	if (set->n)
		qsort(set->v, set->n, sizeof(set->v[0]), inode_cmp);
	if (set->nabove)
		qsort(set->above, set->nabove, sizeof(set->above[0]), inode_cmp);
}

const char *forbidden_inodes_find(const struct forbidden_inodes *set, dev_t dev, ino_t ino)
{
	struct forbidden_inode key = { .dev = dev, .ino = ino };
	const struct forbidden_inode *hit;

	if (!set->n)
		return NULL;
	hit = bsearch(&key, set->v, set->n, sizeof(key), inode_cmp);
	return hit ? hit->path : NULL;
}

const struct forbidden_inode *forbidden_inodes_find_above(const struct forbidden_inodes *set,
							  dev_t dev, ino_t ino)
{
	struct forbidden_inode key = { .dev = dev, .ino = ino };

	if (!set->nabove)
		return NULL;
	return bsearch(&key, set->above, set->nabove, sizeof(key), inode_cmp);
}
