/* lsm.c: the BPF LSM backend for FileOpen* and ProcessExec (see lsm.h).
 *
 * Compiling: for each class of access (read-only open, read-write open,
 * exec) the rules Cedar lists for its action (cedar_rules_for_action: a
 * policy on FileOpen is listed for both open classes) become trie prefixes
 * (events.h says what a key is): `in Dir::"/a/"` is the prefix "/a/" for
 * File and Dir resources, `== File::"/a/b"` is "/a/b" plus its NUL, `is
 * Dir` is every Dir, an unconstrained resource is the whole class. The
 * distinct prefixes become entries, and each entry gets the rules of every
 * prefix that contains it: any forbid among them denies, else any permit
 * allows, else the default denies; the ids that decided are kept per entry
 * for the records. A root entry (prefix length 0) answers when no rule
 * matches. Ancestors are found by looking up the entry's key cut at each
 * prefix length some rule uses, so compiling N rules costs N x (distinct
 * lengths) binary searches, not N^2 compares.
 *
 * Inodes: the files the policy's forbids name (forbidden_inodes.h) get
 * one entry per class, keyed by their kernel (dev, ino), whose value is
 * the verdict their forbidden name gets in that class (the same lookup the
 * kernel does for the path, done here), so a hard link or a rename never
 * reaches a file by a more permissive name. They live in the same trie,
 * so they switch with the policy they came from.
 *
 * Switching: a new trie is created and filled for each policy or mode
 * change (prepare, nothing in force touched) and put in lsm_policy_map's
 * one slot (commit): one pointer swap, so every access is decided wholly by
 * one policy. The last few sets stay in memory so that records still in
 * the ring name the policies of the set that decided them.
 *
 * Records: in enforce mode a record carries the kernel's decision and the
 * policies of the entry that made it. In record and shadow mode nobody
 * waited: the record is decided again by the evaluator (exactly, whatever
 * the compiler could capture), as the portable backend does.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfring.h"
#include "cedar/cedar.h"
#include "events.h"
#include "forbidden_inodes.h"
#include "log.h"
#include "lsm.h"
#include "module.h"
#include "policy.h"
#include "process.h"
#include "reactor.h"
#include "lsm.skel.h"

#define SETS_KEPT 4

struct lsm_pair {
	struct lsm_key key;
	uint32_t rule;
};

struct lsm_entry {
	struct lsm_key key;
	uint32_t *direct; /* rules whose prefix is exactly this key */
	size_t ndirect;
	bool forbid, permit; /* over the rules of every containing prefix */
	json_t *policies; /* the ids that decide */
};

struct lsm_set {
	uint32_t gen;
	enum mode mode;
	struct lsm_entry *e;
	size_t n;
	char **ids; /* policy id of each rule */
	bool *forbids; /* each rule's effect */
	size_t nrules;
	unsigned lens[LSM_PLEN_MAX + 1]; /* the distinct prefix lengths, ascending */
	size_t nlens;
	struct forbidden_inodes inodes; /* files named by a forbid */
	int fd; /* the kernel trie, -1 until created */
};

static struct lsm_bpf *skel;
static int probed = -1; /* -1: not yet; 0: unavailable; 1: loaded */
static bool active;
static struct bpfring ring;
static struct lsm_set *kept[SETS_KEPT]; /* kept[0] is in force */
static uint32_t next_gen = 1;

static const char *const class_action[] = {
	[LSM_CLASS_READ] = "FileOpenReadOnly",
	[LSM_CLASS_WRITE] = "FileOpenReadWrite",
	[LSM_CLASS_EXEC] = "ProcessExec",
};

/* ---- the compiler ------------------------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
	const struct lsm_key *x = a, *y = b;
	int c = memcmp(&x->cls, &y->cls, 2 + LSM_KEY_PATH);

	if (c)
		return c;
	return x->prefixlen < y->prefixlen ? -1 : x->prefixlen > y->prefixlen;
}

static void report_add(json_t *report, const char *policy, const char *why)
{
	if (report)
		json_array_append_new(report,
				      json_pack("{s:s, s:s}", "policy", policy, "why", why));
}

static int pairs_push(struct lsm_pair **v, size_t *n, size_t *cap, uint8_t cls, uint8_t type,
		      const char *id, bool exact, unsigned head_bits, uint32_t rule)
{
	struct lsm_pair *p;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;

		p = realloc(*v, c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	p = &(*v)[(*n)++];
	memset(p, 0, sizeof(*p));
	p->key.cls = cls;
	p->key.type = type;
	p->rule = rule;
	if (!id) {
		p->key.prefixlen = head_bits;
		return 0;
	}
	memcpy(p->key.path, id, strlen(id));
	p->key.prefixlen = 16 + 8 * (unsigned)(strlen(id) + exact);
	return 0;
}

/* Adds the prefixes target T of rule RULE covers in class CLS. 0, -ENOMEM,
 * or -E2BIG for a path too long for the key. */
static int compile_target(const struct cedar_target *t, uint8_t cls, uint32_t rule,
			  struct lsm_pair **v, size_t *n, size_t *cap)
{
	bool file, dir;
	size_t len;
	int rc = 0;

	if (t->op == CEDAR_TARGET_ANY)
		return pairs_push(v, n, cap, cls, 0, NULL, false, 8, rule);
	file = t->type && strcmp(t->type, "File") == 0;
	dir = t->type && strcmp(t->type, "Dir") == 0;
	if (!file && !dir)
		return 0; /* another type: never a file open or an exec */
	if (t->op == CEDAR_TARGET_IS)
		return pairs_push(v, n, cap, cls, file ? LSM_TYPE_FILE : LSM_TYPE_DIR, NULL, false,
				  16, rule);
	len = strlen(t->id);
	/* == File, in File (a file contains nothing else), == Dir: exact. */
	if (file || t->op == CEDAR_TARGET_EQ) {
		if (len + 1 > LSM_KEY_PATH)
			return -E2BIG;
		return pairs_push(v, n, cap, cls, file ? LSM_TYPE_FILE : LSM_TYPE_DIR, t->id, true,
				  0, rule);
	}
	/* in Dir: the directory and everything below it. */
	if (len > LSM_KEY_PATH)
		return -E2BIG;
	rc = pairs_push(v, n, cap, cls, LSM_TYPE_FILE, t->id, false, 0, rule);
	if (!rc)
		rc = pairs_push(v, n, cap, cls, LSM_TYPE_DIR, t->id, false, 0, rule);
	return rc;
}

static int set_add_rule(struct lsm_set *s, const struct cedar_rule *r)
{
	char **ids = realloc(s->ids, (s->nrules + 1) * sizeof(*ids));
	bool *f;

	if (!ids)
		return -ENOMEM;
	s->ids = ids;
	f = realloc(s->forbids, (s->nrules + 1) * sizeof(*f));
	if (!f)
		return -ENOMEM;
	s->forbids = f;
	s->ids[s->nrules] = strdup(r->policy_id);
	if (!s->ids[s->nrules])
		return -ENOMEM;
	s->forbids[s->nrules++] = r->forbid;
	return 0;
}

/* Turns the sorted pairs into entries with their direct rules. */
static int set_entries(struct lsm_set *s, const struct lsm_pair *p, size_t np)
{
	s->e = calloc(np + 1, sizeof(*s->e));
	if (!s->e)
		return -ENOMEM;
	s->n = 1; /* e[0]: the root, prefix length 0 */
	for (size_t i = 0; i < np; i++) {
		struct lsm_entry *e = &s->e[s->n - 1];
		uint32_t *d;

		if (s->n == 1 || key_cmp(&e->key, &p[i].key) != 0)
			e = &s->e[s->n++];
		e->key = p[i].key;
		d = realloc(e->direct, (e->ndirect + 1) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		e->direct = d;
		d[e->ndirect++] = p[i].rule;
	}
	return 0;
}

/* The entry whose key is exactly K, or NULL. */
static struct lsm_entry *set_find(const struct lsm_set *s, const struct lsm_key *k)
{
	if (k->prefixlen == 0)
		return &s->e[0];
	return bsearch(k, s->e + 1, s->n - 1, sizeof(*s->e), key_cmp);
}

/* Each entry's decision, from the rules of every prefix containing it. */
static int set_decide(struct lsm_set *s)
{
	const unsigned *lens = s->lens;
	bool seen[LSM_PLEN_MAX + 1] = { false };
	size_t nlens = 0;

	for (size_t i = 1; i < s->n; i++)
		seen[s->e[i].key.prefixlen] = true;
	for (unsigned l = 1; l <= LSM_PLEN_MAX; l++)
		if (seen[l])
			s->lens[nlens++] = l;
	s->nlens = nlens;
	for (size_t i = 0; i < s->n; i++) {
		struct lsm_entry *e = &s->e[i];
		json_t *forbids = json_array(), *permits = json_array();

		for (size_t j = 0; j < nlens && lens[j] <= e->key.prefixlen; j++) {
			struct lsm_key k = e->key;
			const struct lsm_entry *a;
			unsigned bytes = lens[j] / 8;

			k.prefixlen = lens[j];
			memset((uint8_t *)&k.cls + bytes, 0, 2 + LSM_KEY_PATH - bytes);
			a = set_find(s, &k);
			for (size_t r = 0; a && r < a->ndirect; r++) {
				uint32_t rule = a->direct[r];

				json_array_append_new(s->forbids[rule] ? forbids : permits,
						      json_string(s->ids[rule]));
			}
		}
		e->forbid = json_array_size(forbids) > 0;
		e->permit = json_array_size(permits) > 0;
		e->policies = e->forbid ? forbids : e->permit ? permits : json_array();
		if (e->policies != forbids)
			json_decref(forbids);
		if (e->policies != permits)
			json_decref(permits);
		if (!e->policies)
			return -ENOMEM;
	}
	return 0;
}

/* The entry the kernel's trie answers for an access of class CLS to PATH,
 * a directory when DIR (the longest prefix containing its key, as
 * build_key in lsm.bpf.c makes it): never NULL, the root answers when
 * nothing else. */
static const struct lsm_entry *set_match(const struct lsm_set *s, uint8_t cls, bool dir,
					 const char *path)
{
	struct lsm_key full = { .prefixlen = LSM_PLEN_MAX,
				.cls = cls,
				.type = dir ? LSM_TYPE_DIR : LSM_TYPE_FILE };
	char id[PATH_MAX + 2];
	size_t len;

	snprintf(id, sizeof(id), "%s%s", path, dir && strcmp(path, "/") != 0 ? "/" : "");
	len = strlen(id);
	memcpy(full.path, id, len < LSM_KEY_PATH ? len : LSM_KEY_PATH);
	for (size_t j = s->nlens; j-- > 0;) {
		struct lsm_key k = full;
		unsigned bytes = s->lens[j] / 8;
		const struct lsm_entry *e;

		k.prefixlen = s->lens[j];
		memset((uint8_t *)&k.cls + bytes, 0, 2 + LSM_KEY_PATH - bytes);
		e = set_find(s, &k);
		if (e)
			return e;
	}
	return &s->e[0];
}

/* The kernel's encoding of a stat(2) device (sb->s_dev). */
static uint32_t kernel_dev(dev_t d)
{
	return (uint32_t)(major(d) << 20 | minor(d));
}

/* Ids in a decided set: unique, in the order Cedar lists reasons
 * (policy text order) would differ, so sort for stable comparison. */
static int id_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

static void policies_normalise(json_t *a)
{
	size_t n = json_array_size(a);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof(*v), id_cmp);
	json_array_clear(a);
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(json_string_value(v[i]), json_string_value(v[k - 1])) == 0) {
			json_decref(v[i]);
			continue;
		}
		v[k++] = v[i];
		json_array_append(a, v[i]);
		json_decref(v[i]);
	}
	free(v);
}

int lsm_compile(const struct cedar_policy_set *ps, enum mode m, uint32_t gen, struct lsm_set **out,
		json_t **report, char *err, size_t errlen)
{
	struct lsm_set *s = calloc(1, sizeof(*s));
	struct lsm_pair *pairs = NULL;
	size_t np = 0, cap = 0;
	json_t *rep = json_array();
	int rc = 0;

	if (!s || !rep) {
		rc = -ENOMEM;
		goto fail;
	}
	s->gen = gen;
	s->mode = m;
	s->fd = -1;
	for (uint8_t cls = LSM_CLASS_READ; cls <= LSM_CLASS_EXEC && !rc; cls++) {
		struct cedar_rules rules = { 0 };

		rc = cedar_rules_for_action(ps, class_action[cls], &rules);
		for (size_t i = 0; !rc && i < rules.n; i++) {
			const struct cedar_rule *r = &rules.v[i];
			uint32_t idx = (uint32_t)s->nrules;

			if (r->residual) {
				report_add(
					rep, r->policy_id,
					"a principal constraint or a condition the kernel cannot evaluate");
				if (m == MODE_ENFORCE) {
					snprintf(
						err, errlen,
						"lsm: policy '%s' has a principal constraint or a condition the kernel cannot evaluate",
						r->policy_id);
					rc = -EINVAL;
				}
				continue;
			}
			rc = set_add_rule(s, r);
			for (size_t t = 0; !rc && t < r->ntargets; t++) {
				rc = compile_target(&r->targets[t], cls, idx, &pairs, &np, &cap);
				if (rc != -E2BIG)
					continue;
				report_add(rep, r->policy_id,
					   "a path longer than the kernel trie's key");
				rc = 0;
				if (m == MODE_ENFORCE) {
					snprintf(
						err, errlen,
						"lsm: policy '%s' names a path longer than %d bytes",
						r->policy_id, LSM_KEY_PATH - 1);
					rc = -EINVAL;
				}
			}
		}
		cedar_rules_free(&rules);
	}
	if (rc)
		goto fail;
	if (np)
		qsort(pairs, np, sizeof(*pairs), key_cmp);
	rc = set_entries(s, pairs, np);
	if (!rc)
		rc = set_decide(s);
	if (rc)
		goto fail;
	for (size_t i = 0; i < s->n; i++)
		policies_normalise(s->e[i].policies);
	forbidden_inodes_collect(ps, &s->inodes);
	free(pairs);
	*out = s;
	if (report)
		*report = rep;
	else
		json_decref(rep);
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "lsm: out of memory compiling the policy");
	free(pairs);
	lsm_set_free(s);
	json_decref(rep);
	return rc;
}

void lsm_set_free(struct lsm_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].direct);
		json_decref(s->e[i].policies);
	}
	for (size_t i = 0; i < s->nrules; i++)
		free(s->ids[i]);
	free(s->ids);
	free(s->forbids);
	free(s->e);
	forbidden_inodes_free(&s->inodes);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

size_t lsm_set_entries(const struct lsm_set *s)
{
	return s->n;
}

json_t *lsm_set_policies(const struct lsm_set *s, uint32_t set_id)
{
	if (set_id >= s->n)
		return NULL;
	return json_copy(s->e[set_id].policies);
}

static struct lsm_verdict entry_verdict(const struct lsm_set *s, const struct lsm_entry *e)
{
	return (struct lsm_verdict){
		.gen = s->gen,
		.set_id = (uint32_t)(e - s->e),
		.action = !e->forbid && e->permit ? LSM_ALLOW : LSM_DENY,
		.mode = (uint16_t)s->mode,
		.reason = e->forbid || e->permit ? LSM_REASON_POLICY : LSM_REASON_DEFAULT,
	};
}

/* The inode entries of S into the trie FD: for each file a forbid names,
 * in each class, its forbidden name's verdict. */
static int set_put_inodes(const struct lsm_set *s, int fd)
{
	for (size_t i = 0; i < s->inodes.n; i++) {
		const struct forbidden_inode *f = &s->inodes.v[i];
		struct lsm_inode_id id = { .dev = kernel_dev(f->dev),
					   .ino_lo = (uint32_t)f->ino,
					   .ino_hi = (uint32_t)((uint64_t)f->ino >> 32) };

		for (uint8_t cls = LSM_CLASS_READ; cls <= LSM_CLASS_EXEC; cls++) {
			struct lsm_key k = { .prefixlen = LSM_PLEN_INODE,
					     .cls = cls,
					     .type = LSM_TYPE_INODE };
			struct lsm_verdict v = entry_verdict(s, set_match(s, cls, f->dir, f->path));

			v.flags = LSM_V_INODE;
			memcpy(k.path, &id, sizeof(id));
			if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0)
				return -errno;
		}
	}
	/* Directories above a forbidden name: only the denying verdicts, so
	 * that of two names below one directory, a denial is what stays. */
	for (size_t i = 0; i < s->inodes.nabove; i++) {
		const struct forbidden_inode *f = &s->inodes.above[i];
		struct lsm_inode_id id = { .dev = kernel_dev(f->dev),
					   .ino_lo = (uint32_t)f->ino,
					   .ino_hi = (uint32_t)((uint64_t)f->ino >> 32) };
		struct lsm_key k = { .prefixlen = LSM_PLEN_INODE,
				     .cls = LSM_CLASS_WRITE,
				     .type = LSM_TYPE_ABOVE };
		struct lsm_verdict v =
			entry_verdict(s, set_match(s, LSM_CLASS_WRITE, f->dir, f->path));

		if (v.action == LSM_ALLOW)
			continue;
		v.flags = LSM_V_INODE;
		memcpy(k.path, &id, sizeof(id));
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int lsm_set_trie(const struct lsm_set *s, const struct bpf_object *obj, const struct bpf_map *shape)
{
	/* With the shape's BTF: 6.1 compares inner maps' timer offsets, which
	 * differ between a map created with BTF (libbpf's template) and one
	 * without, and refuses the swap with EINVAL. */
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC,
		    .btf_fd = (uint32_t)bpf_object__btf_fd(obj),
		    .btf_key_type_id = bpf_map__btf_key_type_id(shape),
		    .btf_value_type_id = bpf_map__btf_value_type_id(shape));
	int fd, rc = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "lsm_trie", sizeof(struct lsm_key),
			    sizeof(struct lsm_verdict),
			    (uint32_t)(s->n + 3 * s->inodes.n + s->inodes.nabove), &opts);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < s->n && !rc; i++) {
		struct lsm_verdict v = entry_verdict(s, &s->e[i]);

		if (bpf_map_update_elem(fd, &s->e[i].key, &v, BPF_ANY) < 0)
			rc = -errno;
	}
	if (!rc)
		rc = set_put_inodes(s, fd);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- the capability probe ------------------------------------------------ */

static bool lsm_listed(void)
{
	char buf[512];
	FILE *f = fopen("/sys/kernel/security/lsm", "re");
	bool yes = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
			yes |= strcmp(tok, "bpf") == 0;
	}
	fclose(f);
	return yes;
}

bool lsm_available(void)
{
	uint32_t ring_bytes = 0;
	char err[256];

	if (probed >= 0)
		return probed;
	probed = 0;
	if (!lsm_listed())
		return false;
	if (bpfring_size(&ring_bytes, err, sizeof(err)) < 0)
		return false;
	skel = lsm_bpf__open();
	if (!skel)
		return false;
	/* the test program is for tests (t/unit/lsm-diff.c) only */
	bpf_program__set_autoload(skel->progs.handle_test_lookup, false);
	if ((ring_bytes && bpf_map__set_max_entries(skel->maps.events_map, ring_bytes)) ||
	    lsm_bpf__load(skel)) {
		log_debug("lsm: the BPF LSM programs do not load: the portable backend runs");
		lsm_bpf__destroy(skel);
		skel = NULL;
		return false;
	}
	probed = 1;
	return true;
}

bool lsm_active(void)
{
	return active;
}

/* ---- records ----------------------------------------------------------- */

static const struct lsm_set *set_of_gen(uint32_t gen)
{
	for (int i = 0; i < SETS_KEPT; i++)
		if (kept[i] && kept[i]->gen == gen)
			return kept[i];
	return NULL;
}

static void read_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static const char *reason_text(unsigned reason)
{
	switch (reason) {
	case LSM_REASON_POLICY:
		return "policy";
	case LSM_REASON_DEFAULT:
		return "default deny";
	case LSM_REASON_NO_PATH:
		return "no path (fail closed)";
	default:
		return "no policy (fail closed)";
	}
}

/* The decision of record R: the kernel's in enforce mode, else the
 * evaluator's (nobody waited). Fills V for an allowed exec's hand-over. */
static int stamp(struct record *r, const struct ev_lsm_file *e, const char *rtype, const char *id,
		 struct policy_verdict *v)
{
	const struct lsm_set *s = set_of_gen(e->v.gen);
	json_t *ctx;
	int rc;

	if (e->v.mode == MODE_ENFORCE) {
		memset(v, 0, sizeof(*v));
		v->decision = e->flags & LSM_F_DENIED ? DECISION_DENY : DECISION_ALLOW;
		v->cedar_allow = e->v.action == LSM_ALLOW;
		v->policies = s ? lsm_set_policies(s, e->v.set_id) : json_array();
		v->reason = reason_text(e->v.reason);
		policy_verdict_stamp(v, r);
		json_object_set_new(r->details, "kernel", json_true());
		return 0;
	}
	ctx = json_pack("{s:s, s:I}", "path", id, "pid", (json_int_t)e->task.pid);
	rc = e->cls == LSM_CLASS_EXEC
		     ? policy_decide("ProcessExec", rtype, id, false, ctx, v)
		     : policy_decide("FileOpen", rtype, id, e->cls == LSM_CLASS_WRITE, ctx, v);
	json_decref(ctx);
	if (rc == 0)
		policy_verdict_stamp(v, r);
	return rc;
}

/* The forbidden name of the inode of E, when the kernel decided by it
 * (for a directory above one, that name; *DIR says whether it is a Dir). */
static const char *forbidden_name(const struct ev_lsm_file *e, bool *dir)
{
	const struct lsm_set *s = set_of_gen(e->v.gen);
	dev_t dev = makedev(e->dev >> 20, e->dev & 0xfffff);
	const struct forbidden_inode *f;

	*dir = e->type == LSM_TYPE_DIR;
	if (!s || !(e->flags & (LSM_F_INODE | LSM_F_MPROTECT)))
		return NULL;
	if (!(e->flags & LSM_F_ABOVE))
		return forbidden_inodes_find(&s->inodes, dev, (ino_t)e->ino);
	/* one of the names below; a denying one, as the kernel's entry */
	f = forbidden_inodes_find_above(&s->inodes, dev, (ino_t)e->ino);
	if (f)
		*dir = f->dir;
	return f ? f->path : NULL;
}

static const char *record_kind(const struct ev_lsm_file *e)
{
	if (e->flags & LSM_F_LINK)
		return "file.link";
	if (e->flags & (LSM_F_RENAME_FROM | LSM_F_RENAME_TO))
		return "file.rename";
	if (e->flags & LSM_F_UNLINK)
		return "file.unlink";
	if (e->flags & LSM_F_CREATE)
		return "file.create";
	if (e->flags & LSM_F_SETATTR)
		return "file.setattr";
	return e->cls == LSM_CLASS_EXEC ? "process.exec" : "file.open";
}

static void decode(const struct ev_lsm_file *e, size_t size)
{
	char id[LSM_PATH_MAX + 2], resource[LSM_PATH_MAX + 16], exe[PATH_MAX];
	bool exec = e->cls == LSM_CLASS_EXEC, dir;
	const char *name = forbidden_name(e, &dir);
	const char *rtype = dir ? "Dir" : "File";
	struct policy_verdict v;
	struct record *r;
	size_t n = e->path_len;

	if (n > size - offsetof(struct ev_lsm_file, path) || (n && e->path[n - 1] != '\0')) {
		ring.malformed++;
		return;
	}
	snprintf(id, sizeof(id), "%s", name ? name : n ? e->path : "");
	if (dir && id[0] && strcmp(id, "/") != 0)
		strcat(id, "/");
	r = record_new(record_kind(e));
	if (!r)
		return;
	r->time_ns = (int64_t)e->hdr.time_ns + reactor_session()->boot_to_wall_ns;
	r->pid = e->task.tid;
	r->ppid = e->task.ppid;
	r->uid = e->task.uid;
	r->cgroup = e->task.cgroup_id;
	r->action = exec ? "ProcessExec" : class_action[e->cls == LSM_CLASS_WRITE ? 2 : 1];
	snprintf(resource, sizeof(resource), "%s::\"%s\"", rtype, id);
	record_set_resource(r, resource);
	read_exe(e->task.pid, exe, sizeof(exe));
	record_set_exe(r, exe);
	json_object_set_new(r->details, "path", json_string(id));
	json_object_set_new(r->details, "type", json_string(rtype));
	if (name && n && strcmp(name, e->path) != 0)
		json_object_set_new(r->details, "opened_as", json_string(e->path));
	if (e->flags & LSM_F_NO_PATH && !name)
		json_object_set_new(r->details, "no_path", json_true());
	if (e->flags & LSM_F_LOADER)
		json_object_set_new(r->details, "via_loader", json_true());
	if (e->flags & LSM_F_MPROTECT)
		json_object_set_new(r->details, "mprotect", json_true());
	if (e->flags & LSM_F_LINK)
		json_object_set_new(r->details, "link", json_true());
	if (e->flags & (LSM_F_RENAME_FROM | LSM_F_RENAME_TO))
		json_object_set_new(r->details, "rename",
				    json_string(e->flags & LSM_F_RENAME_FROM ? "from" : "to"));
	if (e->flags & LSM_F_ABOVE)
		json_object_set_new(r->details, "above", json_true());
	if (stamp(r, e, rtype, id, &v) < 0) {
		record_unref(r);
		return;
	}
	if (exec && v.decision == DECISION_DENY)
		json_object_set_new(r->details, "refused", json_true());
	/* An allowed exec is recorded by the process module's exec event,
	 * which takes this verdict (as with the portable backend); a program
	 * the loader maps has no exec event. */
	if (exec && v.decision != DECISION_DENY && !(e->flags & LSM_F_LOADER)) {
		process_exec_decided(e->task.tid, e->dev, e->ino, &v);
		record_unref(r);
	} else {
		reactor_publish(r);
	}
	policy_verdict_free(&v);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct ev_lsm_file *e = data;

	if (size < offsetof(struct ev_lsm_file, path) || e->hdr.version != EV_VERSION ||
	    e->hdr.size != size || e->hdr.type != EV_LSM_FILE ||
	    (e->cls != LSM_CLASS_READ && e->cls != LSM_CLASS_WRITE && e->cls != LSM_CLASS_EXEC)) {
		ring.malformed++;
		return 0;
	}
	decode(e, size);
	return 0;
}

/* ---- module hooks ---------------------------------------------------------- */

/* Can the kernel decide all of P's file and program rules itself? If
 * not (a `like` on context.path, as in the default policy's .env rule; a
 * principal constraint; a path past the trie's key), this session's files
 * and programs are better decided by the portable backend, which runs the
 * evaluator on every rule, than refused in enforce mode, now or at a live
 * switch to enforce. WHY gets the first rule it cannot take. */
static bool kernel_decides_all(const struct policy *p, char *why, size_t len)
{
	struct lsm_set *s = NULL;
	int rc = lsm_compile(p->ps, MODE_ENFORCE, 0, &s, NULL, why, len);

	lsm_set_free(s);
	return rc == 0;
}

static int lsm_session_start(char *err, size_t errlen)
{
	const struct session_info *s = reactor_session();
	char why[256] = "";
	int rc;

	if (!lsm_available())
		return 0;
	if (policy_current() && !kernel_decides_all(policy_current(), why, sizeof(why))) {
		log_info("files and programs: fanotify, not the bpf LSM (%s)", why);
		return 0;
	}
	skel->bss->session_cgid = s->cgroup_id;
	skel->bss->session_level = (uint32_t)s->cgroup_level;
	skel->bss->policy_mode = kept[0] ? (uint32_t)kept[0]->mode : (uint32_t)policy_mode();
	rc = lsm_bpf__attach(skel);
	if (rc) {
		snprintf(err, errlen, "lsm: cannot attach the BPF LSM programs: %s", strerror(-rc));
		return rc;
	}
	active = true;
	bpfring_log_libbpf();
	return bpfring_open(&ring, "lsm", bpf_map__fd(skel->maps.events_map), on_record,
			    bpf_map__fd(skel->maps.stats_map), LSM_STAT_RINGBUF_DROPS, err, errlen);
}

struct lsm_staged {
	struct lsm_set *set;
};

static int lsm_policy_prepare(const struct policy *p, enum mode m, void **staged, char *err,
			      size_t errlen)
{
	struct lsm_set *s;
	json_t *report = NULL;
	int rc;

	if (!active) {
		*staged = NULL;
		return 0;
	}
	rc = lsm_compile(p->ps, m, next_gen, &s, &report, err, errlen);
	if (rc)
		return rc;
	if (json_array_size(report))
		log_debug("lsm: %zu rules are decided by the evaluator in %s mode",
			  json_array_size(report), mode_name(m));
	json_decref(report);
	if (s->inodes.truncated)
		log_warn(
			"lsm: a forbidden directory has more than %d entries: hard links to files past that are not recognised",
			FORBIDDEN_INODES_SCAN_MAX);
	s->fd = lsm_set_trie(s, skel->obj, skel->maps.trie_shape);
	if (s->fd < 0) {
		snprintf(err, errlen, "lsm: cannot create a trie of %zu entries: %s", s->n,
			 strerror(-s->fd));
		rc = s->fd;
		lsm_set_free(s);
		return rc;
	}
	next_gen++;
	*staged = s;
	return 0;
}

static void lsm_policy_commit(void *staged)
{
	struct lsm_set *s = staged;
	uint32_t zero = 0;

	if (!s)
		return;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.lsm_policy_map), &zero, &s->fd, BPF_ANY) < 0)
		log_err("lsm: cannot put the policy in force: %s", strerror(errno));
	skel->bss->policy_mode = (uint32_t)s->mode;
	skel->bss->policy_gen = s->gen;
	lsm_set_free(kept[SETS_KEPT - 1]);
	memmove(kept + 1, kept, (SETS_KEPT - 1) * sizeof(kept[0]));
	kept[0] = s;
}

static void lsm_policy_abort(void *staged)
{
	lsm_set_free(staged);
}

static void lsm_session_end(void)
{
	if (active)
		bpfring_drain(&ring);
}

static uint64_t lsm_lost(void)
{
	return active ? bpfring_lost(&ring) : 0;
}

static void lsm_fini(void)
{
	if (active)
		bpfring_close(&ring);
	active = false;
	lsm_bpf__destroy(skel);
	skel = NULL;
	probed = -1;
	for (int i = 0; i < SETS_KEPT; i++) {
		lsm_set_free(kept[i]);
		kept[i] = NULL;
	}
}

const struct module lsm_module = {
	.name = "lsm",
	.session_start = lsm_session_start,
	.session_end = lsm_session_end,
	.policy_prepare = lsm_policy_prepare,
	.policy_commit = lsm_policy_commit,
	.policy_abort = lsm_policy_abort,
	.lost = lsm_lost,
	.fini = lsm_fini,
};
