/* synth.h: a least-privilege Cedar policy from what a session did.
 *
 * Record mode answers "what does this agent do?"; synthesis turns the
 * answer into a policy that permits exactly that (and nothing else), to be
 * reviewed, then run in shadow mode, then enforced. See synth.c for the
 * rules it follows.
 */
#ifndef LEASH_SYNTH_H
#define LEASH_SYNTH_H

#include <stddef.h>

#include <sqlite3.h>

struct synth_options {
	const char *session; /* a uuid or a unique prefix of one; NULL: the latest */
	/* Files of one directory become the directory when the session opened
	 * at least this many of its entries (0: never). */
	unsigned collapse;
};

#define SYNTH_COLLAPSE_DEFAULT 3

/* The policy, as Cedar text (malloc'd), or NULL with ERR filled: no such
 * session, an ambiguous prefix, a database that is not leash's. */
char *synth_policy(sqlite3 *db, const struct synth_options *o, char *err, size_t errlen);

/* `leash policy synthesize [--db FILE] [--session UUID] [--collapse N]` */
int synth_main(int argc, char **argv);

#endif
