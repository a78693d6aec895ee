/*
 * cedar.h: leash's Cedar policy engine, the API the reactor and the modules use.
 *
 * One policy set is parsed once (cedar_parse), validated against leash's
 * vocabulary (cedar_validate), and then answers requests (cedar_authorize)
 * against an entity store. The entity store is explicit: the engine evaluates
 * plain Cedar on exactly the entities it is given. leash builds the entities of
 * its own requests with the implied hierarchy (cedar_entities_imply): a file is
 * in every ancestor Dir, a host in the "*." wildcard of every parent domain and
 * in Host::"*", an MCP tool in its server.
 *
 * Typical use by a module:
 *
 *	struct cedar_policy_set *ps;
 *	struct cedar_diags d = {0};
 *	if (cedar_parse(text, len, 0, &ps, &d) < 0) { cedar_diags_print(stderr, &d, text, len, path); ... }
 *	cedar_validate(ps, &d);			// leash vocabulary warnings/errors
 *
 *	struct cedar_entities *es = cedar_entities_new();
 *	cedar_entities_imply(es, "File", "/work/a.c", NULL);
 *	struct cedar_request rq = { .principal_type = "User", .principal_id = "agent",
 *		.action_id = "FileOpenReadOnly", .resource_type = "File", .resource_id = "/work/a.c" };
 *	struct cedar_response r;
 *	cedar_authorize(ps, es, &rq, &r);	// r.allow, r.reasons[], r.errors[]
 *	cedar_response_free(&r);
 *	cedar_entities_free(es);
 *
 * Ownership: a policy set owns its policies and ids; response reason/error ids
 * point into the policy set and live as long as it does. Nothing here keeps
 * global state or logs; every call is reentrant on distinct objects. A parsed
 * policy set is read-only and may be shared by concurrent calls; an entity
 * store is sealed (ancestors computed) by its first authorization, so share it
 * only after that.
 */
#ifndef CEDAR_H
#define CEDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Bounds: inputs beyond them are rejected with a diagnostic, never a crash. */
#define CEDAR_MAX_TEXT (32u << 20) /* bytes of policy text */
#define CEDAR_MAX_DEPTH 128 /* nesting of expressions */

/* --- diagnostics ---------------------------------------------------------- */

enum cedar_severity {
	CEDAR_SEV_ERROR,
	CEDAR_SEV_WARNING,
};

struct cedar_diag {
	enum cedar_severity severity;
	const char *code; /* stable, static: "syntax.unexpected-token", "leash.dir-slash", ... */
	char *message; /* short, lower case */
	char *hint; /* or NULL */
	char *policy_id; /* or NULL when not inside a policy */
	unsigned line; /* 1-based */
	unsigned col; /* 1-based, in characters */
	unsigned width; /* characters underlined, >= 1 */
	size_t off, len; /* byte range in the text */
	char *source_line; /* the whole source line, without newline */
};

struct cedar_diags {
	struct cedar_diag *v;
	size_t n, cap;
	size_t nerrors, nwarnings;
};

void cedar_diags_free(struct cedar_diags *d);
/*
 * Prints each diagnostic as
 *	file:line:col: error[code]: message
 *	  12 | source line
 *	     |     ^^^^
 *	  hint: ...
 */
void cedar_diags_print(FILE *f, const struct cedar_diags *d, const char *filename);
/* A JSON array of {severity,code,message,hint,policy,line,column,width,offset,length,source}. */
json_t *cedar_diags_json(const struct cedar_diags *d);

/* --- policy sets ---------------------------------------------------------- */

struct cedar_policy_set;

enum {
	CEDAR_PARSE_RAW_IDS = 1, /* ignore @id("x"): ids are always policy0, policy1, ... */
	CEDAR_PARSE_INDEX_ALWAYS = 2, /* always use the policy index, even where a scan is
				       * cheaper: lets tests run every request through it */
};

/*
 * Parses Cedar policy text (text need not be NUL-terminated). Policy ids are
 * "policyN" (N = position in the text) unless the policy has @id("x"), as the
 * Cedar CLI does. Every syntax error is appended to *d (which may already hold
 * diagnostics). Returns 0 with *out set, -EINVAL on syntax errors (*out NULL),
 * -ENOMEM. Free with cedar_policy_set_free().
 */
int cedar_parse(const char *text, size_t len, int flags, struct cedar_policy_set **out,
		struct cedar_diags *d);
void cedar_policy_set_free(struct cedar_policy_set *ps);
size_t cedar_policy_count(const struct cedar_policy_set *ps);
const char *cedar_policy_id(const struct cedar_policy_set *ps, size_t i);

/*
 * Checks leash's vocabulary (actions, resource types per action, paths, hosts,
 * HttpRewrite context keys) and appends warnings/errors with codes "leash.*".
 * Needs the policy text again for positions. Returns the number of errors added.
 */
int cedar_validate(const struct cedar_policy_set *ps, const char *text, size_t len,
		   struct cedar_diags *d);

/* Canonical text of a policy set (comments kept); caller frees. NULL on ENOMEM. */
char *cedar_format(const struct cedar_policy_set *ps);

/* --- entities ------------------------------------------------------------- */

struct cedar_entities;

struct cedar_entities *cedar_entities_new(void);
void cedar_entities_free(struct cedar_entities *es);
/*
 * Adds entities in Cedar's JSON format: [{"uid":{"type","id"},"attrs":{..},"parents":[uid..]}],
 * with Cedar's rules: attrs and parents are required, a repeated entity must be
 * identical, the hierarchy must not have a cycle. An entity the provider already
 * built gets the JSON's attributes and parents added. Returns 0, or -EINVAL with a
 * message in err.
 */
int cedar_entities_add_json(struct cedar_entities *es, const json_t *arr, char *err, size_t errlen);
/* Adds (or extends) entity type::id with one parent (ptype NULL: none). 0, -EINVAL, -ENOMEM. */
int cedar_entities_add_parent(struct cedar_entities *es, const char *type, const char *id,
			      const char *ptype, const char *pid);
/*
 * The entity provider: adds type::id with the parents leash's implied hierarchy
 * gives it (see docs: File in each ancestor Dir; Dir in each ancestor Dir; Host
 * "h[:port]" in Host "h" (with a port), in "*.d" for every parent domain d and in
 * "*"; MCP::Tool in MCP::Server server (server may be NULL otherwise); the
 * actions FileOpenReadOnly and FileOpenReadWrite in Action FileOpen).
 * 0, -EINVAL (NULL type or id), -ENOMEM.
 */
int cedar_entities_imply(struct cedar_entities *es, const char *type, const char *id,
			 const char *server);

/* --- authorization -------------------------------------------------------- */

struct cedar_request {
	const char *principal_type, *principal_id;
	const char *action_type; /* NULL means "Action" */
	const char *action_id;
	const char *resource_type, *resource_id;
	const json_t *context; /* a JSON object (Cedar JSON values) or NULL for {} */
};

struct cedar_response {
	bool allow;
	const char **reasons; /* ids of the policies that decided; point into the policy set */
	size_t nreasons;
	const char **errors; /* ids of the policies whose evaluation errored */
	char **messages; /* one message per errors[i] */
	size_t nerrors;
	char *error; /* why the request itself was rejected (-EINVAL), else NULL */
};

/*
 * Decides one request: forbid overrides permit, default deny, policies that
 * error are skipped and listed. The entity store is sealed (ancestors computed)
 * on first use (adding to it later unseals it). es may be NULL (no entities).
 * Returns 0, -EINVAL (bad request: missing uid or a context that is not a Cedar
 * record; resp->error says why), -ENOMEM. Free with cedar_response_free()
 * whatever the return.
 */
int cedar_authorize(const struct cedar_policy_set *ps, struct cedar_entities *es,
		    const struct cedar_request *req, struct cedar_response *resp);
void cedar_response_free(struct cedar_response *r);

/*
 * A file open in leash is decided as the union of two requests: FileOpen and the
 * mode action (FileOpenReadOnly or FileOpenReadWrite): a satisfied forbid in
 * either denies, else a satisfied permit in either allows. req->action_id is
 * ignored; reasons and errors are the union.
 */
int cedar_authorize_open(const struct cedar_policy_set *ps, struct cedar_entities *es,
			 const struct cedar_request *req, bool write, struct cedar_response *resp);

/* --- explanation ---------------------------------------------------------- */

enum cedar_why {
	CEDAR_WHY_SATISFIED,
	CEDAR_WHY_PRINCIPAL, /* the principal scope does not match */
	CEDAR_WHY_ACTION,
	CEDAR_WHY_RESOURCE,
	CEDAR_WHY_CONDITION, /* condition number `condition` is false (when) or true (unless) */
	CEDAR_WHY_ERROR, /* condition number `condition` errors: message */
};

struct cedar_explanation {
	const char *policy_id; /* points into the policy set */
	bool forbid;
	enum cedar_why why;
	unsigned condition; /* CONDITION, ERROR: 0-based index of the when/unless */
	size_t off; /* byte offset in the text of the policy, or of that condition */
	char *message; /* ERROR only */
};

/*
 * What every policy did with one request (the editor's "why"), in text order:
 * satisfied, which scope part did not match, which condition stopped it or
 * errored. Uses no index: every policy is evaluated. 0, -EINVAL (a missing uid
 * or a context that is not a Cedar record), -ENOMEM. Free with
 * cedar_explanations_free().
 */
int cedar_explain(const struct cedar_policy_set *ps, struct cedar_entities *es,
		  const struct cedar_request *req, struct cedar_explanation **out, size_t *n);
void cedar_explanations_free(struct cedar_explanation *v, size_t n);

/* --- compilation into enforcement ----------------------------------------- */

enum cedar_target_op {
	CEDAR_TARGET_ANY, /* every resource */
	CEDAR_TARGET_EQ, /* exactly this entity */
	CEDAR_TARGET_IN, /* this entity and everything in it (implied hierarchy) */
	CEDAR_TARGET_IS, /* every entity of this type */
};

struct cedar_target {
	enum cedar_target_op op;
	const char *type; /* NULL for ANY */
	const char *id; /* NULL for ANY and IS */
};

struct cedar_rule {
	const char *policy_id;
	bool forbid;
	/* The resources the policy covers: the scope, intersected with a top-level
	 * `when { resource in [..] }` / `resource == E` condition (or a || of them). */
	struct cedar_target *targets;
	size_t ntargets;
	/* context.KEY == "value" conjuncts of the conditions (HttpRewrite header/value). */
	const char **ctx_keys, **ctx_values;
	size_t nctx;
	/* True when the policy has a principal constraint or a condition that was
	 * not captured above: the rule cannot be compiled exactly. */
	bool residual;
};

struct cedar_rules {
	struct cedar_rule *v;
	size_t n;
	void *mem;
};

/*
 * Lists what the policy set says about one leash action (e.g. "NetworkConnect"):
 * the policies whose action scope can match it, in text order. A policy naming
 * FileOpen is listed for "FileOpenReadOnly" and "FileOpenReadWrite" too (a file
 * open is decided as FileOpen plus its mode, see cedar_authorize_open), and
 * policies with an unconstrained action are listed for every action. Strings
 * point into the policy set or the result: free the result first.
 * 0 or -ENOMEM. Free with cedar_rules_free().
 */
int cedar_rules_for_action(const struct cedar_policy_set *ps, const char *action,
			   struct cedar_rules *out);
void cedar_rules_free(struct cedar_rules *r);

/* --- completion ----------------------------------------------------------- */

struct cedar_candidate {
	char *label; /* text to insert */
	const char
		*kind; /* "keyword", "action", "entityType", "resource", "contextKey", "variable" */
	char *detail; /* or NULL */
};

struct cedar_completion {
	size_t from, to; /* byte range of the text the candidate replaces */
	struct cedar_candidate *v;
	size_t n;
};

/*
 * Candidates fitting at byte offset cursor of text. known_resources (NULL-ended,
 * may be NULL) are entity literals such as `Host::"api.github.com"` seen in
 * events. 0 or -ENOMEM. Free with cedar_completion_free().
 */
int cedar_complete(const char *text, size_t len, size_t cursor, const char *const *known_resources,
		   struct cedar_completion *out);
void cedar_completion_free(struct cedar_completion *c);

/*
 * Byte offset of 1-based line and column (in characters, as in diagnostics) in
 * text; past the end of a line or of the text it clamps to that end. Editors
 * send cursors as line/column; cedar_complete() takes bytes.
 */
size_t cedar_offset(const char *text, size_t len, unsigned line, unsigned col);

#endif
