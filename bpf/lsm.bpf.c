// SPDX-License-Identifier: GPL-2.0
/* lsm.bpf.c: FileOpen* and ProcessExec decided in the kernel with BPF LSM.
 *
 * Where the kernel runs the bpf LSM (lsm=...,bpf), lsm/file_open and
 * lsm/bprm_check_security decide each open and exec of the session from
 * the trie described in events.h, with no round trip to the reactor:
 *
 *   1. scope: the task's cgroup or one of its ancestors is the session
 *      cgroup (bpf_get_current_ancestor_cgroup_id at the session's level),
 *      so cgroups the agent or podman create later are covered too;
 *   2. the path: bpf_d_path of the file (absolute, symlinks resolved, as
 *      rules are written), into a per-CPU scratch buffer; a path that does
 *      not fit fails closed in enforce mode;
 *   3. the class: execve's own open of the program (FMODE_EXEC) is left to
 *      bprm_check_security, which decides it as ProcessExec; an open with
 *      FMODE_WRITE or O_TRUNC is a read-write open, else read-only;
 *   4. the trie (lsm_policy_map slot 0, swapped whole by the reactor: each
 *      call is decided wholly by one policy): first the inode's entry (a
 *      file or directory a forbid names is decided on its forbidden name,
 *      whatever name reaches it: hard links, renames), else the path's;
 *   5. a record of the access and the verdict into the ring buffer (a
 *      failed output is counted in stats_map, never silent); in enforce
 *      mode a deny returns -EPERM.
 *
 * The bypasses a path policy invites, closed here as the fanotify backend
 * closes them (modules/file.c):
 *   - lsm/inode_link, lsm/inode_rename: the source and the new name of a
 *     hard link or a rename are decided as read-write opens of the
 *     nearest file or directory a forbid names at or above them (so
 *     nothing is linked or moved out of, or into, a forbidden Dir, even a
 *     file created there after the policy was compiled), and a directory
 *     renamed as the forbidden name below it (which it would move); so are the names
 *     unlink, rmdir, mkdir, mknod and symlink remove or create, and the
 *     files truncate, chmod and chown change (no open decides those);
 *   - lsm/mmap_file: `ld.so PROGRAM` reads and maps PROGRAM instead of
 *     exec'ing it, so a file the dynamic loader (the task's exe is
 *     ld-linux*, ld.so*, ld-musl*) maps executable is decided as
 *     ProcessExec (bpf_d_path is allowed in this hook on 6.1 and 6.12),
 *     and each one allowed is remembered in loader_map;
 *   - lsm/file_mprotect: the loader making a file mapping executable later
 *     (bpf_d_path is not allowed there): allowed only for a file it mapped
 *     executable, allowed, under the policy in force; else denied in
 *     enforce mode.
 *
 * handle_test_lookup (a tc program, which BPF_PROG_TEST_RUN can run on any
 * kernel) runs steps 3-4 on a request from test_req_map: the host's
 * differential test checks the compiled trie and this lookup code against
 * the Cedar evaluator without needing BPF LSM.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define FMODE_WRITE 0x2
#define FMODE_EXEC 0x20
#define O_TRUNC 01000
#define S_IFMT 00170000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define PROT_EXEC 0x4
#define VM_EXEC 0x4
#define LINK_DEPTH 16 /* directories above a hard link's source looked up */

/* Set by the reactor after load, before attach (writable: the object is
 * loaded once by the capability probe, before the session exists). */
__u64 session_cgid = 0;
__u32 session_level = 0;
__u32 policy_mode = 0; /* enum mode: without a policy, enforce denies */
__u32 policy_gen = 0; /* the generation in lsm_policy_map */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LSM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats_map SEC(".maps");

/* The shape of the inner tries; the reactor creates each one with as many
 * entries as its policy needs. */
struct lsm_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lsm_key);
	__type(value, struct lsm_verdict);
} trie_shape SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct lsm_trie);
} lsm_policy_map SEC(".maps");

/* Per CPU: the event being built (its path is bpf_d_path's buffer) and the
 * lookup key. LSM programs of this kind do not sleep, so one per CPU. */
struct scratch {
	struct ev_lsm_file ev;
	struct lsm_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Files the dynamic loader mapped executable, allowed, by (dev, ino, the
 * generation that allowed it): file_mprotect cannot compute a path. */
struct loader_key {
	struct lsm_inode_id id;
	__u32 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct loader_key);
	__type(value, __u32);
} loader_map SEC(".maps");

/* handle_test_lookup's request (ev.cls, ev.type, ev.path, ev.path_len as
 * bpf_d_path returns it) and its answer (ev.v, ev.flags). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} test_req_map SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats_map, &which);

	if (v)
		*v += 1;
}

/* Builds the lookup key of the resource id for E's path: the path, with
 * a '/' after a directory's (Dir ids end in '/', the root is "/"), cut at
 * LSM_KEY_PATH bytes (flagged LSM_F_LONG). */
static __always_inline void build_key(struct lsm_key *k, struct ev_lsm_file *e)
{
	/* 64-bit: a u32 is widened with shifts that lose the verifier's
	 * bounds between the compare and the call */
	__u64 n = e->path_len ? (__u64)e->path_len - 1 : 0;
	__u64 id = n;

	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = LSM_PLEN_MAX;
	k->cls = e->cls;
	k->type = e->type;
	if (e->type == LSM_TYPE_DIR && !(n == 1 && e->path[0] == '/'))
		id = n + 1;
	if (id >= LSM_KEY_PATH)
		e->flags |= LSM_F_LONG;
	if (n > LSM_KEY_PATH)
		n = LSM_KEY_PATH;
	/* keep the clamped value in the register the call uses (clang may
	 * reuse the unclamped copy, which the verifier cannot bound) */
	asm volatile("" : "+r"(n));
	bpf_probe_read_kernel(k->path, n, e->path);
	if (id != n && n < LSM_KEY_PATH)
		k->path[n] = '/';
}

/* The inode entry (TYPE LSM_TYPE_INODE, or LSM_TYPE_ABOVE) of (DEV, INO)
 * in class CLS of TRIE, K as scratch: the verdict of the file's forbidden
 * name (of one below it), or NULL when no forbid names it. */
static __always_inline struct lsm_verdict *inode_entry(void *trie, struct lsm_key *k, __u8 cls,
						       __u8 type, __u32 dev, __u64 ino)
{
	struct lsm_inode_id id = { .dev = dev, .ino_lo = (__u32)ino, .ino_hi = ino >> 32 };
	struct lsm_verdict *v;

	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = LSM_PLEN_MAX;
	k->cls = cls;
	k->type = type;
	__builtin_memcpy(k->path, &id, sizeof(id));
	v = bpf_map_lookup_elem(trie, k);
	return v && (v->flags & LSM_V_INODE) ? v : NULL;
}

static __always_inline struct lsm_verdict *inode_verdict(void *trie, struct lsm_key *k, __u8 cls,
							 __u32 dev, __u64 ino)
{
	return inode_entry(trie, k, cls, LSM_TYPE_INODE, dev, ino);
}

/* The verdict for E (cls, type, path, dev, ino filled in), into E->v. */
static __always_inline void decide(struct scratch *s)
{
	struct ev_lsm_file *e = &s->ev;
	struct lsm_verdict *v;
	__u32 zero = 0;
	void *trie;

	e->v.gen = 0;
	e->v.set_id = 0;
	e->v.mode = policy_mode;
	e->v.action = LSM_DENY;
	e->v.flags = 0;
	trie = bpf_map_lookup_elem(&lsm_policy_map, &zero);
	if (!trie) {
		e->v.reason = LSM_REASON_NO_POLICY;
		return;
	}
	if (e->ino) {
		v = inode_verdict(trie, &s->key, e->cls, e->dev, e->ino);
		if (v) {
			e->v = *v;
			e->flags |= LSM_F_INODE;
			stat_inc(LSM_STAT_INODE);
			return;
		}
	}
	if (!e->path_len) {
		e->v.reason = LSM_REASON_NO_PATH;
		return;
	}
	build_key(&s->key, e);
	v = bpf_map_lookup_elem(trie, &s->key);
	if (!v) {
		e->v.reason = LSM_REASON_NO_POLICY;
		return;
	}
	e->v = *v;
}

static __always_inline bool in_session(void)
{
	return session_cgid && bpf_get_current_ancestor_cgroup_id(session_level) == session_cgid;
}

/* The scratch event of this CPU with the task's part and CLS filled in,
 * no path, or NULL. */
static __always_inline struct scratch *start_task(__u8 cls)
{
	struct task_struct *task = (void *)bpf_get_current_task_btf();
	__u64 ugid = bpf_get_current_uid_gid();
	struct ev_lsm_file *e;
	struct scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return NULL;
	e = &s->ev;
	__builtin_memset(e, 0, sizeof(struct ev_header) + sizeof(struct ev_task) + 40);
	e->hdr.type = EV_LSM_FILE;
	e->hdr.version = EV_VERSION;
	e->hdr.time_ns = bpf_ktime_get_boot_ns();
	e->task.pid = task->tgid;
	e->task.tid = task->pid;
	e->task.ppid = task->real_parent->tgid;
	e->task.uid = (__u32)ugid;
	e->task.gid = ugid >> 32;
	e->task.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->task.comm, sizeof(e->task.comm));
	e->cls = cls;
	e->type = LSM_TYPE_FILE;
	return s;
}

/* start_task, then the file F: its type, inode and path. */
static __always_inline struct scratch *start(struct file *f, __u8 cls)
{
	struct ev_lsm_file *e;
	struct scratch *s;
	long n;

	s = start_task(cls);
	if (!s)
		return NULL;
	e = &s->ev;
	e->type = (f->f_inode->i_mode & S_IFMT) == S_IFDIR ? LSM_TYPE_DIR : LSM_TYPE_FILE;
	e->ino = f->f_inode->i_ino;
	e->dev = f->f_inode->i_sb->s_dev;
	e->f_mode = f->f_mode;
	n = bpf_d_path((struct path *)&f->f_path, e->path, sizeof(e->path));
	if (n <= 0 || n > LSM_PATH_MAX) {
		e->flags |= LSM_F_NO_PATH;
		e->path[0] = '\0';
		stat_inc(LSM_STAT_NO_PATH);
	} else {
		e->path_len = n;
	}
	return s;
}

/* Records S and says what the hook returns. */
static __always_inline int finish(struct scratch *s)
{
	struct ev_lsm_file *e = &s->ev;
	bool deny = e->v.action != LSM_ALLOW && e->v.mode == 2 /* MODE_ENFORCE */;
	__u64 size = (offsetof(struct ev_lsm_file, path) + (__u64)e->path_len + 7) & ~7ull;

	if (deny) {
		e->flags |= LSM_F_DENIED;
		stat_inc(LSM_STAT_DENIED);
	}
	if (size > sizeof(*e))
		size = sizeof(*e);
	asm volatile("" : "+r"(size)); /* the call must see the clamped value */
	e->hdr.size = size;
	if (bpf_ringbuf_output(&events_map, e, size, 0) < 0)
		stat_inc(LSM_STAT_RINGBUF_DROPS);
	return deny ? -EPERM : 0;
}

SEC("lsm/file_open")
int BPF_PROG(handle_file_open, struct file *file)
{
	struct scratch *s;
	__u8 cls;

	if (!in_session())
		return 0;
	/* execve's open of the program or its interpreter: ProcessExec
	 * decides it, in bprm_check_security. */
	if (file->f_mode & FMODE_EXEC)
		return 0;
	stat_inc(LSM_STAT_SEEN);
	cls = (file->f_mode & FMODE_WRITE) || (file->f_flags & O_TRUNC) ? LSM_CLASS_WRITE
									: LSM_CLASS_READ;
	s = start(file, cls);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	decide(s);
	return finish(s);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(handle_bprm_check, struct linux_binprm *bprm)
{
	struct scratch *s;

	if (!in_session())
		return 0;
	stat_inc(LSM_STAT_SEEN);
	s = start(bprm->file, LSM_CLASS_EXEC);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	decide(s);
	return finish(s);
}

/* Whether the current task's program is the dynamic loader, run as a
 * program (`ld.so PROGRAM`): its file name starts ld-linux, ld.so or
 * ld-musl, as the fanotify backend checks it. */
static __always_inline bool run_by_loader(void)
{
	struct task_struct *task = (void *)bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	struct file *exe;
	char name[8] = {};

	if (!mm)
		return false;
	exe = mm->exe_file;
	if (!exe)
		return false;
	if (bpf_probe_read_kernel_str(name, sizeof(name), exe->f_path.dentry->d_name.name) < 0)
		return false;
	if (name[0] != 'l' || name[1] != 'd')
		return false;
	if (name[2] == '.' && name[3] == 's' && name[4] == 'o')
		return true;
	if (name[2] != '-')
		return false;
	return (name[3] == 'l' && name[4] == 'i' && name[5] == 'n' && name[6] == 'u') ||
	       (name[3] == 'm' && name[4] == 'u' && name[5] == 's' && name[6] == 'l');
}

/* A name being created, replaced or removed for a link or a rename: D
 * (whose inode is INODE, NULL for a name that does not exist yet), decided
 * on the read-write verdict of the nearest of INODE and the directories
 * above D, up to LINK_DEPTH, that a forbid names (its forbidden name's
 * verdict); a name with none of them is left to the opens that use it.
 * bpf_d_path is not allowed in these hooks on 6.1, so inodes stand in for
 * the paths. Only a denial is recorded. FLAG says which side. */
static __always_inline int decide_inodes(struct dentry *d, struct inode *inode, __u16 flag)
{
	struct lsm_verdict *v = NULL;
	struct scratch *s;
	__u32 zero = 0;
	void *trie;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	trie = bpf_map_lookup_elem(&lsm_policy_map, &zero);
	if (!s || !trie)
		return policy_mode == 2 ? -EPERM : 0;
	if (inode)
		v = inode_verdict(trie, &s->key, LSM_CLASS_WRITE, inode->i_sb->s_dev, inode->i_ino);
	for (int i = 0; i < LINK_DEPTH && !v; i++) {
		struct dentry *up = d->d_parent;

		if (!up || up == d)
			break;
		d = up;
		inode = d->d_inode;
		if (!inode)
			break;
		v = inode_verdict(trie, &s->key, LSM_CLASS_WRITE, inode->i_sb->s_dev, inode->i_ino);
	}
	if (!v || !inode || v->action == LSM_ALLOW)
		return 0;
	s = start_task(LSM_CLASS_WRITE);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	s->ev.type = (inode->i_mode & S_IFMT) == S_IFDIR ? LSM_TYPE_DIR : LSM_TYPE_FILE;
	s->ev.ino = inode->i_ino;
	s->ev.dev = inode->i_sb->s_dev;
	s->ev.flags |= flag | LSM_F_INODE;
	s->ev.v = *v;
	return finish(s);
}

/* Renaming the directory D moves every name below it: a directory above
 * a name a forbid denies read-write opens of is refused as that name
 * would be (files made there after the policy was compiled have no inode
 * entry, and would be reached by their new path). */
static __always_inline int decide_above(struct dentry *d, __u16 flag)
{
	struct inode *inode = d->d_inode;
	struct lsm_verdict *v;
	struct scratch *s;
	__u32 zero = 0;
	void *trie;

	if (!inode || (inode->i_mode & S_IFMT) != S_IFDIR)
		return 0;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	trie = bpf_map_lookup_elem(&lsm_policy_map, &zero);
	if (!s || !trie)
		return policy_mode == 2 ? -EPERM : 0;
	v = inode_entry(trie, &s->key, LSM_CLASS_WRITE, LSM_TYPE_ABOVE, inode->i_sb->s_dev,
			inode->i_ino);
	if (!v || v->action == LSM_ALLOW)
		return 0;
	s = start_task(LSM_CLASS_WRITE);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	s->ev.type = LSM_TYPE_DIR;
	s->ev.ino = inode->i_ino;
	s->ev.dev = inode->i_sb->s_dev;
	s->ev.flags |= flag | LSM_F_INODE | LSM_F_ABOVE;
	s->ev.v = *v;
	return finish(s);
}

SEC("lsm/inode_link")
int BPF_PROG(handle_inode_link, struct dentry *old_dentry, struct inode *dir,
	     struct dentry *new_dentry)
{
	int rc;

	if (!in_session())
		return 0;
	stat_inc(LSM_STAT_SEEN);
	rc = decide_inodes(old_dentry, old_dentry->d_inode, LSM_F_LINK);
	if (rc)
		return rc;
	return decide_inodes(new_dentry, NULL, LSM_F_LINK);
}

/* RENAME_EXCHANGE calls this twice, the second time with the sides
 * swapped. */
SEC("lsm/inode_rename")
int BPF_PROG(handle_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	int rc;

	if (!in_session())
		return 0;
	stat_inc(LSM_STAT_SEEN);
	rc = decide_inodes(old_dentry, old_dentry->d_inode, LSM_F_RENAME_FROM);
	if (rc)
		return rc;
	rc = decide_above(old_dentry, LSM_F_RENAME_FROM);
	if (rc)
		return rc;
	return decide_inodes(new_dentry, new_dentry->d_inode, LSM_F_RENAME_TO);
}

/* Removing, creating or changing the attributes of a name: decided as
 * a read-write open of the nearest file or directory a forbid names at or
 * above it, as links and renames are (a path policy sees opens only). */
SEC("lsm/inode_unlink")
int BPF_PROG(handle_inode_unlink, struct inode *dir, struct dentry *dentry)
{
	return in_session() ? decide_inodes(dentry, dentry->d_inode, LSM_F_UNLINK) : 0;
}

SEC("lsm/inode_rmdir")
int BPF_PROG(handle_inode_rmdir, struct inode *dir, struct dentry *dentry)
{
	return in_session() ? decide_inodes(dentry, dentry->d_inode, LSM_F_UNLINK) : 0;
}

SEC("lsm/inode_mkdir")
int BPF_PROG(handle_inode_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	return in_session() ? decide_inodes(dentry, NULL, LSM_F_CREATE) : 0;
}

SEC("lsm/inode_mknod")
int BPF_PROG(handle_inode_mknod, struct inode *dir, struct dentry *dentry, umode_t mode, dev_t dev)
{
	return in_session() ? decide_inodes(dentry, NULL, LSM_F_CREATE) : 0;
}

SEC("lsm/inode_symlink")
int BPF_PROG(handle_inode_symlink, struct inode *dir, struct dentry *dentry, const char *old_name)
{
	return in_session() ? decide_inodes(dentry, NULL, LSM_F_CREATE) : 0;
}

SEC("lsm/path_truncate")
int BPF_PROG(handle_path_truncate, const struct path *path)
{
	return in_session() ? decide_inodes(path->dentry, path->dentry->d_inode, LSM_F_SETATTR) : 0;
}

SEC("lsm/path_chmod")
int BPF_PROG(handle_path_chmod, const struct path *path, umode_t mode)
{
	return in_session() ? decide_inodes(path->dentry, path->dentry->d_inode, LSM_F_SETATTR) : 0;
}

SEC("lsm/path_chown")
int BPF_PROG(handle_path_chown, const struct path *path)
{
	return in_session() ? decide_inodes(path->dentry, path->dentry->d_inode, LSM_F_SETATTR) : 0;
}

SEC("lsm/mmap_file")
int BPF_PROG(handle_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags)
{
	struct loader_key k = {};
	struct scratch *s;
	__u32 one = 1;
	int rc;

	if (!file || !(prot & PROT_EXEC) || !in_session() || !run_by_loader())
		return 0;
	stat_inc(LSM_STAT_SEEN);
	s = start(file, LSM_CLASS_EXEC);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	s->ev.flags |= LSM_F_LOADER;
	decide(s);
	rc = finish(s);
	if (!rc && s->ev.v.action == LSM_ALLOW) {
		k.id.dev = s->ev.dev;
		k.id.ino_lo = (__u32)s->ev.ino;
		k.id.ino_hi = s->ev.ino >> 32;
		k.gen = s->ev.v.gen;
		bpf_map_update_elem(&loader_map, &k, &one, BPF_ANY);
	}
	return rc;
}

SEC("lsm/file_mprotect")
int BPF_PROG(handle_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot)
{
	struct file *file = vma->vm_file;
	struct loader_key k = {};
	struct lsm_verdict *v;
	struct scratch *s;
	__u32 zero = 0;
	void *trie;

	if (!file || !(prot & PROT_EXEC) || (vma->vm_flags & VM_EXEC) || !in_session() ||
	    !run_by_loader())
		return 0;
	k.id.dev = file->f_inode->i_sb->s_dev;
	k.id.ino_lo = (__u32)file->f_inode->i_ino;
	k.id.ino_hi = file->f_inode->i_ino >> 32;
	k.gen = policy_gen;
	if (bpf_map_lookup_elem(&loader_map, &k))
		return 0;
	/* Not mapped executable (and allowed) under this policy. A file a
	 * forbid names is decided on that name; for any other there is no
	 * path here to decide on, so it fails closed. */
	stat_inc(LSM_STAT_SEEN);
	s = start_task(LSM_CLASS_EXEC);
	trie = bpf_map_lookup_elem(&lsm_policy_map, &zero);
	if (!s)
		return policy_mode == 2 ? -EPERM : 0;
	s->ev.ino = file->f_inode->i_ino;
	s->ev.dev = k.id.dev;
	s->ev.flags |= LSM_F_LOADER | LSM_F_MPROTECT;
	v = trie ? inode_verdict(trie, &s->key, LSM_CLASS_EXEC, s->ev.dev, s->ev.ino) : NULL;
	if (v) {
		s->ev.flags |= LSM_F_INODE;
		s->ev.v = *v;
		return finish(s);
	}
	s->ev.flags |= LSM_F_NO_PATH;
	s->ev.v.gen = policy_gen;
	s->ev.v.mode = policy_mode;
	s->ev.v.action = LSM_DENY;
	s->ev.v.reason = LSM_REASON_NO_PATH;
	return finish(s);
}

SEC("tc")
int handle_test_lookup(struct __sk_buff *skb)
{
	struct scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&test_req_map, &zero);
	if (!s)
		return 0;
	s->ev.flags = 0;
	if (s->ev.path_len > LSM_PATH_MAX)
		s->ev.path_len = 0;
	decide(s);
	return 0;
}
