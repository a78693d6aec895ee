/* policy.c: the policy and mode in force, changed as one transaction over
 * the modules, and decisions against them.
 *
 * Data: the policy in force (immutable, replaced whole), the mode, the
 * agent's name. One session per process, so these are file statics.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cedar/cedar.h"
#include "embed.h"
#include "log.h"
#include "module.h"
#include "policy.h"
#include "reactor.h"

static struct policy *current;
static enum mode mode = MODE_RECORD;
static char *agent;
static uint64_t generations;
static bool allow_degraded;
static json_t *degraded;

/* ---- building a policy ------------------------------------------------- */

/* Replaces every NAME in TEXT with VALUE minus trailing slashes, so that
 * "@HOME@/" with HOME "/" gives "/", not "//". */
static char *substitute(const char *text, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), n = 0;
	const char *p;
	char *out, *o;

	while (vl > 0 && value[vl - 1] == '/')
		vl--;
	for (p = text; (p = strstr(p, name)); p += nl)
		n++;
	out = malloc(strlen(text) + n * vl + 1);
	if (!out)
		return NULL;
	for (o = out, p = text;;) {
		const char *hit = strstr(p, name);

		if (!hit) {
			strcpy(o, p);
			return out;
		}
		memcpy(o, p, hit - p);
		o += hit - p;
		memcpy(o, value, vl);
		o += vl;
		p = hit + nl;
	}
}

char *policy_default_text(const char *workspace, const char *home)
{
	char *a = substitute(default_policy_files[0].text, "@WORKSPACE@", workspace);
	char *b = a ? substitute(a, "@HOME@", home) : NULL;

	free(a);
	return b;
}

static unsigned context_key(const char *name, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} keys[] = {
		{ "path", POLICY_CTX_PATH },
		{ "exe", POLICY_CTX_EXE },
		{ "pid", POLICY_CTX_PID },
		{ "argv", POLICY_CTX_ARGV },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, name, n) == 0)
			return keys[i].bit;
	return POLICY_CTX_OTHER;
}

/* Which context keys the text reads: `context.KEY` and `context["KEY"]`;
 * any other use of `context` counts as reading everything. Strings and
 * comments are skipped. The parse has already succeeded, so this only
 * needs to be a conservative scan. */
static unsigned scan_context_keys(const char *t, size_t len)
{
	unsigned keys = 0;
	size_t i = 0;

	while (i < len) {
		if (t[i] == '"') {
			for (i++; i < len && t[i] != '"'; i++)
				if (t[i] == '\\')
					i++;
			i++;
		} else if (t[i] == '/' && i + 1 < len && t[i + 1] == '/') {
			while (i < len && t[i] != '\n')
				i++;
		} else if (isalpha((unsigned char)t[i]) || t[i] == '_') {
			size_t s = i;

			while (i < len && (isalnum((unsigned char)t[i]) || t[i] == '_'))
				i++;
			if (i - s != 7 || memcmp(t + s, "context", 7) != 0)
				continue;
			while (i < len && isspace((unsigned char)t[i]))
				i++;
			if (i < len && t[i] == '.') {
				for (i++; i < len && isspace((unsigned char)t[i]); i++)
					;
				s = i;
				while (i < len && (isalnum((unsigned char)t[i]) || t[i] == '_'))
					i++;
				keys |= context_key(t + s, i - s);
			} else if (i + 1 < len && t[i] == '[' && t[i + 1] == '"') {
				s = i + 2;
				for (i = s; i < len && t[i] != '"' && t[i] != '\\'; i++)
					;
				keys |= (i < len && t[i] == '"') ? context_key(t + s, i - s)
								 : POLICY_CTX_OTHER;
			} else {
				keys |= POLICY_CTX_OTHER;
			}
		} else {
			i++;
		}
	}
	return keys;
}

/* The canonical form of PATH (symlinks resolved, as the kernel reports
 * opens and execs): the whole path if it exists, else its directory's
 * canonical form plus the last name, else PATH itself. DIR paths keep
 * their trailing slash. */
static void canonical_path(const char *path, bool dir, char *out, size_t len)
{
	char buf[PATH_MAX], real[PATH_MAX];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	if (dir && strlen(buf) > 1)
		buf[strlen(buf) - 1] = '\0';
	if (realpath(buf, real)) {
		snprintf(out, len, "%s%s", real, dir && strcmp(real, "/") != 0 ? "/" : "");
		return;
	}
	slash = strrchr(buf, '/');
	if (slash && slash != buf) {
		*slash = '\0';
		if (realpath(buf, real)) {
			snprintf(out, len, "%s/%s%s", strcmp(real, "/") == 0 ? "" : real, slash + 1,
				 dir ? "/" : "");
			return;
		}
	}
	snprintf(out, len, "%s", path);
}

/* TEXT with every File::"p" and Dir::"p/" literal rewritten to its
 * canonical path, so that a rule on /bin/sh governs /usr/bin/sh, which is
 * what the kernel reports. Comments and other strings are left alone;
 * a literal with escapes is left alone too. Caller frees. */
static char *canonical_text(const char *t, size_t len)
{
	size_t cap = len * 2 + PATH_MAX, o = 0, i = 0;
	char *out = malloc(cap);

	while (out && i < len) {
		size_t start = i;
		bool file = len - i > 7 && memcmp(t + i, "File::\"", 7) == 0;
		bool dir = len - i > 6 && memcmp(t + i, "Dir::\"", 6) == 0;

		if ((file || dir) && (i == 0 || !(isalnum((unsigned char)t[i - 1]) ||
						  t[i - 1] == '_' || t[i - 1] == ':'))) {
			size_t q = i + (file ? 7 : 6), e = q;
			char path[PATH_MAX], canon[PATH_MAX];

			while (e < len && t[e] != '"' && t[e] != '\\' && t[e] != '\n')
				e++;
			if (e < len && t[e] == '"' && e - q < sizeof(path) && e > q) {
				memcpy(path, t + q, e - q);
				path[e - q] = '\0';
				canonical_path(path, dir, canon, sizeof(canon));
				if (o + (q - i) + strlen(canon) + 2 >= cap)
					break;
				memcpy(out + o, t + i, q - i);
				o += q - i;
				memcpy(out + o, canon, strlen(canon));
				o += strlen(canon);
				out[o++] = '"';
				i = e + 1;
				continue;
			}
		}
		if (t[i] == '"') { /* any other string, copied whole */
			for (i++; i < len && t[i] != '"'; i++)
				if (t[i] == '\\')
					i++;
			i = i < len ? i + 1 : len;
		} else if (t[i] == '/' && i + 1 < len && t[i + 1] == '/') {
			while (i < len && t[i] != '\n')
				i++;
		} else {
			i++;
		}
		if (o + (i - start) + 1 >= cap)
			break;
		memcpy(out + o, t + start, i - start);
		o += i - start;
	}
	if (!out || i < len) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	return out;
}

int policy_build(const char *text, size_t len, const char *origin, struct policy **out,
		 json_t **diags, FILE *print_to)
{
	char *canon;
	struct cedar_diags d = { 0 };
	struct policy *p;
	int rc;

	*out = NULL;
	if (diags)
		*diags = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->text = malloc(len + 1);
	p->origin = strdup(origin);
	if (!p->text || !p->origin) {
		policy_free(p);
		return -ENOMEM;
	}
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->len = len;
	rc = cedar_parse(p->text, len, 0, &p->ps, &d);
	if (rc == 0 && cedar_validate(p->ps, p->text, len, &d) > 0)
		rc = -EINVAL;
	if (print_to && d.n)
		cedar_diags_print(print_to, &d, origin);
	if (diags && d.n)
		*diags = cedar_diags_json(&d);
	cedar_diags_free(&d);
	if (rc) {
		policy_free(p);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	p->context_keys = scan_context_keys(p->text, len);
	/* Decide with canonical paths; show and return the text as written.
	 * Ids are positional or @id, so they are the same in both. */
	canon = canonical_text(p->text, len);
	if (!canon || strcmp(canon, p->text) != 0) {
		struct cedar_policy_set *ps = NULL;
		struct cedar_diags d2 = { 0 };

		rc = canon ? cedar_parse(canon, strlen(canon), 0, &ps, &d2) : -ENOMEM;
		cedar_diags_free(&d2);
		free(canon);
		if (rc) {
			policy_free(p);
			return rc == -ENOMEM ? rc : -EINVAL;
		}
		cedar_policy_set_free(p->ps);
		p->ps = ps;
	} else {
		free(canon);
	}
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	cedar_policy_set_free(p->ps);
	free(p->text);
	free(p->origin);
	free(p);
}

/* ---- what is in force -------------------------------------------------- */

void policy_init(const char *agent_name, struct policy *p, enum mode m, bool degraded_ok)
{
	allow_degraded = degraded_ok;
	json_decref(degraded);
	degraded = json_array();
	free(agent);
	agent = strdup(agent_name);
	policy_free(current);
	current = p;
	current->generation = ++generations;
	mode = m;
	bus_set_mode(m);
}

void policy_fini(void)
{
	policy_free(current);
	current = NULL;
	free(agent);
	agent = NULL;
	json_decref(degraded);
	degraded = NULL;
}

const json_t *policy_degraded(void)
{
	return degraded;
}

const struct policy *policy_current(void)
{
	return current;
}

enum mode policy_mode(void)
{
	return mode;
}

const char *policy_agent(void)
{
	return agent;
}

static void publish_change(const char *kind, const char *by, enum mode old_mode)
{
	struct record *r = record_new(kind);

	if (!r)
		return;
	json_object_set_new(r->details, "by", json_string(by));
	if (strcmp(kind, "mode.change") == 0) {
		json_object_set_new(r->details, "from", json_string(mode_name(old_mode)));
		json_object_set_new(r->details, "to", json_string(mode_name(mode)));
	} else {
		json_object_set_new(r->details, "origin", json_string(current->origin));
		json_object_set_new(r->details, "generation",
				    json_integer((json_int_t)current->generation));
		json_object_set_new(r->details, "policies",
				    json_integer((json_int_t)cedar_policy_count(current->ps)));
	}
	reactor_publish(r);
}

static bool enforced_by_a_module(const char *action)
{
	for (size_t i = 0; i < modules_count; i++)
		for (const char *const *a = modules[i]->enforces; a && *a; a++)
			if (strcmp(*a, action) == 0)
				return true;
	return false;
}

/* Enforce mode needs an enforcer for the kernel-level actions (default
 * deny applies to them whatever the policy says) and for every other action
 * the policy mentions. Fills NEEDED with what is missing; returns how many. */
static size_t missing_enforcers(const struct policy *p, json_t *missing)
{
	static const struct {
		const char *action;
		bool always;
	} vocab[] = {
		{ "FileOpen", true },	       { "FileOpenReadOnly", true },
		{ "FileOpenReadWrite", true }, { "ProcessExec", true },
		{ "NetworkConnect", true },    { "HttpRewrite", false },
		{ "McpCall", false },
	};

	for (size_t i = 0; i < sizeof(vocab) / sizeof(vocab[0]); i++) {
		struct cedar_rules rules = { 0 };
		bool needed = vocab[i].always;

		if (enforced_by_a_module(vocab[i].action))
			continue;
		/* A blanket permit (any action, any resource) says nothing that
		 * needs enforcing; a forbid or a permit on named resources (an
		 * allow-list, with default deny for the rest) does. */
		if (!needed && cedar_rules_for_action(p->ps, vocab[i].action, &rules) == 0)
			for (size_t r = 0; r < rules.n && !needed; r++)
				needed = rules.v[r].forbid ||
					 (rules.v[r].ntargets &&
					  rules.v[r].targets[0].op != CEDAR_TARGET_ANY);
		cedar_rules_free(&rules);
		if (needed)
			json_array_append_new(missing, json_string(vocab[i].action));
	}
	return json_array_size(missing);
}

int policy_apply(struct policy *p, enum mode m, const char *by, char *err, size_t errlen)
{
	const struct policy *cand = p ? p : current;
	void *staged[16] = { 0 };
	enum mode old_mode = mode;
	size_t i;
	int rc = 0;

	json_t *missing = json_array();

	if (modules_count > sizeof(staged) / sizeof(staged[0]))
		abort(); /* our own table outgrew this function */
	if (!missing) {
		policy_free(p);
		return -ENOMEM;
	}
	if (m == MODE_ENFORCE && missing_enforcers(cand, missing) && !allow_degraded) {
		char *list = json_dumps(missing, JSON_COMPACT);

		snprintf(
			err, errlen,
			"enforce mode: nothing in this build enforces %s (run with --allow-degraded to enforce the rest)",
			list ? list : "some actions");
		free(list);
		json_decref(missing);
		policy_free(p);
		return -ENOTSUP;
	}
	for (i = 0; i < modules_count; i++) {
		if (!modules[i]->policy_prepare)
			continue;
		rc = modules[i]->policy_prepare(cand, m, &staged[i], err, errlen);
		if (rc)
			break;
	}
	if (rc) {
		while (i-- > 0)
			if (modules[i]->policy_abort && staged[i])
				modules[i]->policy_abort(staged[i]);
		json_decref(missing);
		policy_free(p);
		return rc;
	}
	/* All compiled: everything below is in-memory swaps, in one loop
	 * iteration, so no access is decided between the old and the new. */
	for (i = 0; i < modules_count; i++)
		if (modules[i]->policy_commit)
			modules[i]->policy_commit(staged[i]);
	if (p) {
		p->generation = ++generations;
		policy_free(current);
		current = p;
	}
	mode = m;
	bus_set_mode(m);
	json_decref(degraded);
	degraded = m == MODE_ENFORCE ? missing : json_array();
	if (m != MODE_ENFORCE)
		json_decref(missing);
	if (json_array_size(degraded)) {
		char *list = json_dumps(degraded, JSON_COMPACT);

		log_warn("enforce mode is degraded: nothing enforces %s", list ? list : "?");
		free(list);
	}
	if (p)
		publish_change("policy.change", by, old_mode);
	if (m != old_mode)
		publish_change("mode.change", by, old_mode);
	return 0;
}

/* ---- decisions ---------------------------------------------------------- */

static json_t *id_array(const char **ids, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

static int decide(const char *action, const char *rtype, const char *rid, const char *server,
		  bool write, const json_t *context, struct policy_verdict *out)
{
	struct cedar_request rq = {
		.principal_type = "Agent",
		.principal_id = agent ? agent : "agent",
		.action_id = action,
		.resource_type = rtype,
		.resource_id = rid,
		.context = context,
	};
	struct cedar_response r = { 0 };
	struct cedar_entities *es;
	int rc;

	memset(out, 0, sizeof(*out));
	if (mode == MODE_RECORD) {
		out->decision = DECISION_ALLOW;
		out->cedar_allow = true;
		out->reason = "record mode";
		return 0;
	}
	es = cedar_entities_new();
	if (!es || cedar_entities_imply(es, rtype, rid, server) < 0) {
		cedar_entities_free(es);
		return -ENOMEM;
	}
	if (strcmp(action, "FileOpen") == 0)
		rc = cedar_authorize_open(current->ps, es, &rq, write, &r);
	else
		rc = cedar_authorize(current->ps, es, &rq, &r);
	if (rc == -ENOMEM) {
		cedar_response_free(&r);
		cedar_entities_free(es);
		return rc;
	}
	out->cedar_allow = rc == 0 && r.allow;
	out->policies = id_array(r.reasons, r.nreasons);
	if (r.nerrors || r.error) {
		out->errors = id_array(r.errors, r.nerrors);
		if (r.error)
			json_array_append_new(out->errors, json_string(r.error));
	}
	if (out->cedar_allow)
		out->reason = "policy";
	else
		out->reason = r.nreasons ? "policy" : "default deny";
	if (out->cedar_allow)
		out->decision = DECISION_ALLOW;
	else
		out->decision = mode == MODE_ENFORCE ? DECISION_DENY : DECISION_WOULD_DENY;
	cedar_response_free(&r);
	cedar_entities_free(es);
	return 0;
}

int policy_decide(const char *action, const char *rtype, const char *rid, bool write,
		  const json_t *context, struct policy_verdict *out)
{
	return decide(action, rtype, rid, NULL, write, context, out);
}

int policy_decide_tool(const char *tool, const char *server, const json_t *context,
		       struct policy_verdict *out)
{
	return decide("McpCall", "MCP::Tool", tool, server, false, context, out);
}

void policy_verdict_free(struct policy_verdict *v)
{
	json_decref(v->policies);
	json_decref(v->errors);
	v->policies = v->errors = NULL;
}

void policy_verdict_stamp(const struct policy_verdict *v, struct record *r)
{
	r->decision = v->decision;
	json_decref(r->policies);
	r->policies = v->policies ? json_incref(v->policies) : NULL;
	json_object_set_new(r->details, "reason", json_string(v->reason));
	if (current)
		json_object_set_new(r->details, "policy_generation",
				    json_integer((json_int_t)current->generation));
	if (v->errors)
		json_object_set(r->details, "policy_errors", v->errors);
}
