/* forbidden_inodes.h: the files a policy's forbids name, by inode.
 *
 * A path policy sees the name an access uses, and link(2) or rename(2)
 * (neither opens the file) would carry a forbidden file to a permitted
 * name. So both file backends remember, when a policy is compiled, every
 * regular file and directory named by a forbid on FileOpen* or ProcessExec
 * (a File, or a Dir and anything under it, at most
 * FORBIDDEN_INODES_SCAN_MAX entries) by (device, inode), and decide an
 * access to one of those inodes on its forbidden name, whatever name it is
 * reached by: the fanotify backend in the loop for files (modules/file.c),
 * the BPF LSM backend in the kernel for files and directories, from trie
 * entries compiled from this set (modules/lsm.c).
 *
 * Renaming a directory above a forbidden name moves the name with it: the
 * files inside that the scan found keep their inode entries, but one made
 * there later would be reached by its new path. So the set also keeps the
 * directories above each name a forbid names (up to the root), each with
 * that forbidden name, for the BPF LSM backend to refuse their renames.
 */
#ifndef LEASH_FORBIDDEN_INODES_H
#define LEASH_FORBIDDEN_INODES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FORBIDDEN_INODES_SCAN_MAX 20000

struct cedar_policy_set;

struct forbidden_inode {
	dev_t dev; /* st_dev, as stat(2) gives it */
	ino_t ino;
	char *path; /* the forbidden name (a directory's without a final '/') */
	bool dir;
};

struct forbidden_inodes {
	struct forbidden_inode *v; /* sorted by (dev, ino) */
	size_t n, cap;
	/* the directories above each forbidden name, sorted by (dev, ino);
	 * path and dir are the forbidden name's (one entry per pair) */
	struct forbidden_inode *above;
	size_t nabove, capabove;
	bool truncated; /* a forbidden directory had more entries than the scan reads */
};

/* Fills SET (zeroed by the caller) with the files and directories named by the
 * forbid rules of PS on FileOpen and ProcessExec. Files that cannot be
 * read or allocated are left out (the set is a best effort beyond the
 * policy's own paths). */
void forbidden_inodes_collect(const struct cedar_policy_set *ps, struct forbidden_inodes *set);

/* The forbidden name of (DEV, INO) in SET, or NULL. SET keeps it. Callers
 * deciding files only pass a regular file's inode. */
const char *forbidden_inodes_find(const struct forbidden_inodes *set, dev_t dev, ino_t ino);

/* An entry of SET->above for the directory (DEV, INO): a forbidden name
 * below it, or NULL. */
const struct forbidden_inode *forbidden_inodes_find_above(const struct forbidden_inodes *set,
							  dev_t dev, ino_t ino);

void forbidden_inodes_free(struct forbidden_inodes *set);

#endif
