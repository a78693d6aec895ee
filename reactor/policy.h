/* policy.h: the policy in force, the mode, and decisions against them.
 *
 * One policy (Cedar text, parsed) and one mode are in force at a time.
 * Replacing either is a transaction over every module: each module
 * compiles what its enforcement point needs from the candidate
 * (policy_prepare hook) without touching what is in force; only if all of
 * them succeed does every module put its compiled state in force
 * (policy_commit), in the same loop iteration, so an access is decided
 * either wholly by the old policy or wholly by the new one. A candidate
 * that does not parse, validate or compile leaves the old one in force and
 * returns every error. Each change is published as a policy.change or
 * mode.change event.
 *
 * Requests: principal Agent::"<name>" (the session's agent, from --name
 * or the command's basename), the action, the resource, and a context of
 * what is known about the process (see README, "The request").
 */
#ifndef LEASH_POLICY_H
#define LEASH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "record.h"

struct cedar_policy_set;

/* A policy in force or a candidate; immutable once built. */
struct policy {
	char *text;
	size_t len;
	char *origin; /* file path, "(default)", or who set it ("ctl", "api") */
	struct cedar_policy_set *ps;
	uint64_t generation; /* 1, 2, ... per session */
	unsigned context_keys; /* POLICY_CTX_* the text refers to */
};

/* Which context keys a policy's conditions read: decisions that depend
 * only on the resource can be cached per resource. */
enum {
	POLICY_CTX_PATH = 1 << 0,
	POLICY_CTX_EXE = 1 << 1,
	POLICY_CTX_PID = 1 << 2,
	POLICY_CTX_ARGV = 1 << 3,
	POLICY_CTX_OTHER = 1 << 4, /* anything else, or context used whole */
};

/* The embedded default policy with @WORKSPACE@ and @HOME@ filled in.
 * Caller frees. */
char *policy_default_text(const char *workspace, const char *home);

/* Parses and validates TEXT into *OUT. On failure returns -EINVAL and, if
 * DIAGS is not NULL, a new JSON array of every error and warning (the
 * shape of cedar_diags_json); PRINT_TO, if not NULL, gets them printed for
 * a terminal, named by ORIGIN. */
int policy_build(const char *text, size_t len, const char *origin, struct policy **out,
		 json_t **diags, FILE *print_to);
void policy_free(struct policy *p);

/* Set up the session's principal and first policy and mode (before the
 * modules start; no module is asked). Takes ownership of P. */
void policy_init(const char *agent_name, struct policy *p, enum mode m, bool allow_degraded);
void policy_fini(void);

/* Makes candidate P (owned) and/or mode M the ones in force: NULL keeps
 * the policy, M == the current mode keeps the mode. 0, or -EINVAL with the
 * reason in ERR (a module could not compile P for M); then nothing changed
 * and P is freed. BY names who asked ("ctl", "api", ...), for the event. */
int policy_apply(struct policy *p, enum mode m, const char *by, char *err, size_t errlen);

const struct policy *policy_current(void);
/* Actions the policy needs enforced that nothing in this build enforces,
 * as a JSON array (borrowed; empty unless enforce mode runs degraded). */
const json_t *policy_degraded(void);
enum mode policy_mode(void);
const char *policy_agent(void);

/* One decision, with the mode applied. */
struct policy_verdict {
	enum decision decision; /* allow, deny (enforce) or would_deny (shadow) */
	bool cedar_allow; /* what the policy says, whatever the mode */
	json_t *policies; /* owned: ids that decided ([] for default deny) */
	json_t *errors; /* owned: ids whose conditions errored, or NULL */
	const char *reason; /* "policy", "default deny", "record mode" */
};

/* Decides ACTION on RTYPE::"RID" for the agent, with CONTEXT (borrowed,
 * may be NULL). In record mode nothing is evaluated: allow. For file opens
 * use ACTION "FileOpen" and WRITE: the open is decided as FileOpen plus
 * FileOpenReadWrite (WRITE) or FileOpenReadOnly. 0 or -ENOMEM; on a
 * request Cedar rejects, the verdict is deny and errors say why. */
int policy_decide(const char *action, const char *rtype, const char *rid, bool write,
		  const json_t *context, struct policy_verdict *out);
/* McpCall on MCP::Tool::"TOOL", a tool in MCP::Server::"SERVER" (so rules
 * on the server apply to its tools); otherwise as policy_decide. */
int policy_decide_tool(const char *tool, const char *server, const json_t *context,
		       struct policy_verdict *out);
void policy_verdict_free(struct policy_verdict *v);

/* Copies the verdict's decision, policies and reason onto R. */
void policy_verdict_stamp(const struct policy_verdict *v, struct record *r);

#endif
