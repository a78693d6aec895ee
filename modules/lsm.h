/* lsm.h: the BPF LSM backend, for the modules that delegate to it.
 *
 * Where the kernel runs the bpf LSM, FileOpen, FileOpenReadOnly,
 * FileOpenReadWrite and ProcessExec are decided in the kernel
 * (bpf/lsm.bpf.c) from a trie compiled from the policy, instead of by
 * fanotify round trips to the loop. lsm_module (below) is an ordinary
 * module: listed before "file" in modules/modules.c, it loads and attaches
 * the programs at session_start when lsm_available(), compiles every
 * policy change in policy_prepare and swaps the trie in policy_commit, and
 * publishes file.open and process.exec records from the ring buffer. When
 * the backend is not available every hook does nothing, and lsm_active()
 * says so: the file module then runs its fanotify backend as before.
 *
 * The compiler is exported for tests (t/unit/lsm-diff.c), which check the
 * compiled trie and the kernel's lookup code against the Cedar evaluator.
 */
#ifndef LEASH_LSM_H
#define LEASH_LSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "record.h"

struct bpf_map;
struct bpf_object;
struct cedar_policy_set;
struct lsm_set;
struct module;

extern const struct module lsm_module;

/* The capability probe: true when /sys/kernel/security/lsm lists bpf and
 * the LSM programs load (a trial load, kept for the session). The answer is
 * computed once. */
bool lsm_available(void);

/* True once lsm_module's session_start attached the programs: the file
 * module must then leave FileOpen* and ProcessExec to this backend. */
bool lsm_active(void);

/* Compiles what the policy set says about file opens and execs, for mode M,
 * as generation GEN, into *OUT. A rule the kernel cannot apply exactly (a
 * principal constraint or a condition the compiler does not capture, or a
 * path longer than the trie's key) is listed in *REPORT (a new JSON array
 * of {policy, why}); in enforce mode it is an error instead (-EINVAL, the
 * reason in ERR). 0, -EINVAL or -ENOMEM. */
int lsm_compile(const struct cedar_policy_set *ps, enum mode m, uint32_t gen, struct lsm_set **out,
		json_t **report, char *err, size_t errlen);
void lsm_set_free(struct lsm_set *s);
/* Trie entries of S (the root entry included). */
size_t lsm_set_entries(const struct lsm_set *s);
/* Creates a kernel LPM trie holding S (with the inode entries of the files
 * its forbids name), of the type of SHAPE (the trie_shape
 * map of OBJ, loaded): its fd, or -errno. */
int lsm_set_trie(const struct lsm_set *s, const struct bpf_object *obj,
		 const struct bpf_map *shape);
/* The ids of the policies that decided entry SET_ID of S: a new JSON array
 * ([] for default deny), or NULL for an id S does not have. */
json_t *lsm_set_policies(const struct lsm_set *s, uint32_t set_id);

#endif
