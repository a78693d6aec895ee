/* embed.h: text files compiled into the binary by scripts/embed. */
#ifndef LEASH_EMBED_H
#define LEASH_EMBED_H

struct embedded {
	const char *name; /* file's basename, e.g. "0001-init.sql" */
	const char *text;
};

/* The files of schema/ (*.sql) in file-name order, ended by a { NULL, NULL } entry. */
extern const struct embedded schema_files[];

/* reactor/default-policy.cedar, one entry. */
extern const struct embedded default_policy_files[];

#endif
