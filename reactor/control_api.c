/* control_api.c: the REST handlers of the control server.
 *
 * Each handler answers synchronously from what the reactor holds (the
 * policy in force, the mode, the recent events) or from the read-only
 * store connection (control_db.c). Policy and mode changes go through
 * policy_apply(), the same transaction `leash --policy` and the modules
 * use: a candidate that does not parse, validate or compile changes
 * nothing and every error comes back with its line and column.
 *
 * Positions in and out are 1-based lines and columns counted in
 * characters (Unicode code points), as the diagnostics count them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bus.h"
#include "cedar/cedar.h"
#include "control.h"
#include "control_int.h"
#include "module.h"
#include "policy.h"
#include "reactor.h"
#include "synth.h"

static const char *const actions[] = { "FileOpen",	    "FileOpenReadOnly",
				       "FileOpenReadWrite", "ProcessExec",
				       "NetworkConnect",    "HttpRewrite",
				       "McpCall",	    NULL };

/* ---- status -------------------------------------------------------------- */

static json_t *modules_json(json_t *enforced)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < modules_count; i++) {
		json_t *acts = json_array();

		for (size_t k = 0; modules[i]->enforces && modules[i]->enforces[k]; k++) {
			json_array_append_new(acts, json_string(modules[i]->enforces[k]));
			json_array_append_new(enforced, json_string(modules[i]->enforces[k]));
		}
		json_array_append_new(
			arr, json_pack("{s:s, s:o, s:s?, s:I}", "name", modules[i]->name,
				       "enforces", acts, "backend",
				       modules[i]->backend ? modules[i]->backend() : NULL, "lost",
				       (json_int_t)(modules[i]->lost ? modules[i]->lost() : 0)));
	}
	return arr;
}

void api_status(struct http_conn *c, const struct http_request *rq)
{
	const struct policy *p = policy_current();
	int64_t now = record_now_ns();
	json_t *enforced = json_array();
	json_t *mods = modules_json(enforced);

	control_json(
		c, 200,
		json_pack(
			"{s:{s:s, s:s, s:i, s:I}, s:s, s:{s:I, s:s}, s:o, s:o, s:O, s:o, s:I, s:I}",
			"session", "uuid", control.uuid, "agent", policy_agent(), "pid",
			(int)getpid(), "started_ns", (json_int_t)control.started_ns, "mode",
			mode_name(policy_mode()), "policy", "generation",
			(json_int_t)(p ? p->generation : 0), "origin", p ? p->origin : "",
			"modules", mods, "enforced", enforced, "degraded", policy_degraded(),
			"stream", control_stream_stats(), "uptime_s",
			(json_int_t)((now - control.started_ns) / 1000000000), "last_seq",
			(json_int_t)bus_last_seq()));
}

/* ---- policies ------------------------------------------------------------ */

static json_t *target_json(const struct cedar_target *t)
{
	static const char *const ops[] = { "any", "==", "in", "is" };

	return json_pack("{s:s, s:s?, s:s?}", "op", ops[t->op], "type", t->type, "id", t->id);
}

/* What each action's enforcement point is given: the rules, in text order. */
static json_t *summary_json(const struct policy *p)
{
	json_t *sum = json_object();

	for (size_t i = 0; actions[i]; i++) {
		struct cedar_rules r = { 0 };
		json_t *arr = json_array();

		if (cedar_rules_for_action(p->ps, actions[i], &r) == 0) {
			for (size_t k = 0; k < r.n; k++) {
				json_t *targets = json_array();

				for (size_t t = 0; t < r.v[k].ntargets; t++)
					json_array_append_new(targets,
							      target_json(&r.v[k].targets[t]));
				json_array_append_new(arr,
						      json_pack("{s:s, s:s, s:o, s:b}", "policy",
								r.v[k].policy_id, "effect",
								r.v[k].forbid ? "forbid" : "permit",
								"targets", targets, "residual",
								r.v[k].residual));
			}
		}
		cedar_rules_free(&r);
		json_object_set_new(sum, actions[i], arr);
	}
	return sum;
}

void api_policies_get(struct http_conn *c, const struct http_request *rq)
{
	const struct policy *p = policy_current();
	json_t *ids = json_array();

	if (!p) {
		control_error(c, 503, "no-policy", "no policy is in force yet", NULL);
		json_decref(ids);
		return;
	}
	for (size_t i = 0; i < cedar_policy_count(p->ps); i++)
		json_array_append_new(ids, json_string(cedar_policy_id(p->ps, i)));
	control_json(c, 200,
		     json_pack("{s:s%, s:s, s:I, s:s, s:o, s:o, s:O}", "cedar", p->text, p->len,
			       "origin", p->origin, "generation", (json_int_t)p->generation, "mode",
			       mode_name(policy_mode()), "policies", ids, "summary",
			       summary_json(p), "degraded", policy_degraded()));
}

/* The Cedar text of a request: {"cedar": "..."} as JSON, else the raw
 * body. *MODE_OUT gets "mode" when the JSON has one. */
static int policy_text(const struct http_request *rq, json_t **holder, const char **text,
		       size_t *len, const char **mode_out)
{
	json_t *j = control_body_json(rq);
	json_t *cedar = j ? json_object_get(j, "cedar") : NULL;

	*holder = j;
	if (mode_out)
		*mode_out = j ? json_string_value(json_object_get(j, "mode")) : NULL;
	if (j) {
		if (!json_is_string(cedar))
			return -EINVAL;
		*text = json_string_value(cedar);
		*len = json_string_length(cedar);
		return 0;
	}
	*text = rq->body;
	*len = rq->body_len;
	return 0;
}

/* Splits DIAGS (stolen) into {"errors":[..],"warnings":[..]}. */
static json_t *split_diags(json_t *diags)
{
	json_t *errors = json_array(), *warnings = json_array(), *d;
	size_t i;

	json_array_foreach(diags, i, d)
	{
		const char *sev = json_string_value(json_object_get(d, "severity"));

		json_array_append(sev && strcmp(sev, "error") == 0 ? errors : warnings, d);
	}
	json_decref(diags);
	return json_pack("{s:o, s:o}", "errors", errors, "warnings", warnings);
}

/* 400 with every diagnostic and the first error's position. */
static void policy_invalid(struct http_conn *c, json_t *diags)
{
	json_t *split = split_diags(diags);
	json_t *errors = json_object_get(split, "errors");
	json_t *first = json_array_get(errors, 0);
	char msg[200];

	snprintf(msg, sizeof(msg), "the policy has %zu error%s; nothing was changed",
		 json_array_size(errors), json_array_size(errors) == 1 ? "" : "s");
	if (first) {
		json_object_set(split, "line", json_object_get(first, "line"));
		json_object_set(split, "column", json_object_get(first, "column"));
		json_object_set(split, "detail", json_object_get(first, "message"));
	}
	control_error(c, 400, "policy.invalid", msg, split);
}

/* Builds TEXT and makes it (and MODE, if not NULL) the one in force;
 * answers the request either way. */
static void apply_text(struct http_conn *c, const char *text, size_t len, const char *mode,
		       json_t *extra)
{
	struct policy *p;
	json_t *diags = NULL, *split;
	enum mode m = policy_mode();
	char err[512] = "";

	if (mode && mode_parse(mode, &m) < 0) {
		json_decref(extra);
		control_error(c, 400, "mode.invalid", "mode is one of record, shadow, enforce",
			      NULL);
		return;
	}
	if (policy_build(text, len, "api", &p, &diags, NULL) < 0) {
		json_decref(extra);
		policy_invalid(c, diags);
		return;
	}
	/* An empty body is far more often a mistake (a missing file in a
	 * curl command) than a wish to deny everything: say so. */
	if (cedar_policy_count(p->ps) == 0) {
		policy_free(p);
		json_decref(extra);
		json_decref(diags);
		control_error(
			c, 400, "policy.empty",
			"the policy has no statements; nothing was changed (to deny everything, say so: forbid (principal, action, resource);)",
			NULL);
		return;
	}
	if (policy_apply(p, m, "api", err, sizeof(err)) < 0) {
		json_decref(extra);
		json_decref(diags);
		control_error(c, 409, "policy.refused", err[0] ? err : "the change was refused",
			      NULL);
		return;
	}
	if (!extra)
		extra = json_object();
	json_object_set_new(extra, "applied", json_true());
	json_object_set_new(extra, "generation",
			    json_integer((json_int_t)policy_current()->generation));
	json_object_set_new(extra, "mode", json_string(mode_name(policy_mode())));
	split = split_diags(diags ? diags : json_array());
	json_object_set(extra, "warnings", json_object_get(split, "warnings"));
	json_decref(split);
	control_json(c, 200, extra);
}

void api_policies_post(struct http_conn *c, const struct http_request *rq)
{
	json_t *holder;
	const char *text, *mode;
	size_t len;

	if (policy_text(rq, &holder, &text, &len, &mode) < 0) {
		json_decref(holder);
		control_error(c, 400, "bad-request", "expected Cedar text or {\"cedar\": TEXT}",
			      NULL);
		return;
	}
	apply_text(c, text, len, mode, NULL);
	json_decref(holder);
}

void api_validate(struct http_conn *c, const struct http_request *rq)
{
	json_t *holder, *diags = NULL, *out;
	const char *text;
	struct policy *p;
	size_t len;
	int rc;

	if (policy_text(rq, &holder, &text, &len, NULL) < 0) {
		json_decref(holder);
		control_error(c, 400, "bad-request", "expected Cedar text or {\"cedar\": TEXT}",
			      NULL);
		return;
	}
	rc = policy_build(text, len, "api", &p, &diags, NULL);
	out = split_diags(diags ? diags : json_array());
	json_object_set_new(out, "valid", json_boolean(rc == 0));
	json_object_set_new(out, "policies",
			    json_integer(p ? (json_int_t)cedar_policy_count(p->ps) : 0));
	policy_free(p);
	json_decref(holder);
	control_json(c, 200, out);
}

/* ---- completion ---------------------------------------------------------- */

/* Byte offset of 1-based LINE:COL (characters) in TEXT, clamped. */
static size_t offset_of(const char *text, size_t len, long line, long col)
{
	size_t i = 0;

	for (long l = 1; l < line && i < len; i++)
		if (text[i] == '\n')
			l++;
	for (long k = 1; k < col && i < len && text[i] != '\n'; k++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

static json_t *position_of(const char *text, size_t off)
{
	long line = 1, col = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	return json_pack("{s:I, s:I}", "line", (json_int_t)line, "column", (json_int_t)col);
}

void api_complete(struct http_conn *c, const struct http_request *rq)
{
	json_t *j = control_body_json(rq), *items, *cursor;
	struct cedar_completion comp = { 0 };
	const char *text;
	size_t len, off, max;

	cursor = j ? json_object_get(j, "cursor") : NULL;
	if (!j || !json_is_string(json_object_get(j, "cedar")) || !json_is_object(cursor)) {
		json_decref(j);
		control_error(c, 400, "bad-request",
			      "expected {\"cedar\": TEXT, \"cursor\": {\"line\", \"column\"}}",
			      NULL);
		return;
	}
	text = json_string_value(json_object_get(j, "cedar"));
	len = json_string_length(json_object_get(j, "cedar"));
	max = json_integer_value(json_object_get(j, "maxItems"));
	off = offset_of(text, len, (long)json_integer_value(json_object_get(cursor, "line")),
			(long)json_integer_value(json_object_get(cursor, "column")));
	if (cedar_complete(text, len, off, control_stream_resources(), &comp) < 0) {
		json_decref(j);
		control_error(c, 500, "internal", "out of memory", NULL);
		return;
	}
	items = json_array();
	for (size_t i = 0; i < comp.n && (!max || i < max); i++)
		json_array_append_new(
			items,
			json_pack("{s:s, s:s, s:s, s:s?, s:{s:o, s:o}}", "label", comp.v[i].label,
				  "kind", comp.v[i].kind, "insertText", comp.v[i].label, "detail",
				  comp.v[i].detail, "range", "start", position_of(text, comp.from),
				  "end", position_of(text, comp.to)));
	cedar_completion_free(&comp);
	json_decref(j);
	control_json(c, 200, json_pack("{s:o}", "items", items));
}

/* ---- add-from-event ------------------------------------------------------ */

/* RES ("Type::\"id\"") with a file or directory id made canonical
 * (symlinks resolved, as the kernel reports what it opens and runs:
 * /bin/echo is /usr/bin/echo), so the rule matches what is enforced. Ids
 * with escapes, or that do not resolve, stay as they are. */
static void canonical_resource(const char *res, char *out, size_t len)
{
	bool file = strncmp(res, "File::\"", 7) == 0, dir = strncmp(res, "Dir::\"", 6) == 0;
	const char *id = res + (file ? 7 : 6);
	size_t n = strlen(res);
	char path[4096], real[4096];

	snprintf(out, len, "%s", res);
	if ((!file && !dir) || res[n - 1] != '"' || strchr(id, '\\') ||
	    (size_t)(res + n - 1 - id) >= sizeof(path))
		return;
	snprintf(path, sizeof(path), "%.*s", (int)(res + n - 1 - id), id);
	if (path[0] != '/' || !realpath(path, real))
		return;
	snprintf(out, len, "%s::\"%s%s\"", file ? "File" : "Dir", real,
		 dir && strcmp(real, "/") ? "/" : "");
}

/* The wider resource "Allow/Deny this" offers: a file's directory, a
 * host's parent domain wildcard. Writes the whole scope clause. */
static int parent_scope(const char *res, char *out, size_t len)
{
	const char *q = strstr(res, "::\"");
	const char *id = q ? q + 3 : NULL;
	size_t idlen = id ? strlen(id) : 0;
	char buf[4096];

	if (!id || idlen < 2 || id[idlen - 1] != '"' || strchr(id, '\\') || idlen > sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(idlen - 1), id);
	if (strncmp(res, "File::", 6) == 0 || strncmp(res, "Dir::", 5) == 0) {
		char *slash = strrchr(buf, '/');

		if (!slash || buf[0] != '/')
			return -EINVAL;
		if (strncmp(res, "Dir::", 5) == 0 && slash[1] == '\0' && slash != buf) {
			*slash = '\0';
			slash = strrchr(buf, '/');
		}
		slash[1] = '\0';
		snprintf(out, len, "resource in Dir::\"%s\"", buf);
		return 0;
	}
	if (strncmp(res, "Host::", 6) == 0) {
		char *colon = strrchr(buf, ':'), *dot;

		if (colon && !strchr(buf, ']')) {
			*colon = '\0';
			snprintf(out, len, "resource in Host::\"%s\"", buf);
			return 0;
		}
		dot = strchr(buf[0] == '*' ? buf + 2 : buf, '.');
		if (!dot || !strchr(dot + 1, '.') || strspn(buf, "0123456789.") == strlen(buf))
			return -EINVAL;
		snprintf(out, len, "resource in Host::\"*%s\"", dot);
		return 0;
	}
	return -EINVAL;
}

static json_t *find_event(const json_t *j)
{
	const char *session = json_string_value(json_object_get(j, "session"));
	int64_t seq = json_integer_value(json_object_get(j, "seq"));
	json_t *ev = session && strcmp(session, control.uuid) ? NULL : control_stream_event(seq);

	return ev ? ev : control_db_event(session, seq);
}

void api_add_from_event(struct http_conn *c, const struct http_request *rq)
{
	json_t *j = control_body_json(rq), *ev = NULL, *extra;
	const char *effect, *scope, *action, *res, *kind;
	char clause[4200], canon[4120], *stmt = NULL, *text = NULL;
	bool apply;

	effect = j ? json_string_value(json_object_get(j, "effect")) : NULL;
	scope = j ? json_string_value(json_object_get(j, "scope")) : NULL;
	apply = !j || !json_is_false(json_object_get(j, "apply"));
	if (!effect || (strcmp(effect, "permit") && strcmp(effect, "forbid")) ||
	    !json_is_integer(json_object_get(j, "seq"))) {
		control_error(
			c, 400, "bad-request",
			"expected {\"seq\": N, \"effect\": \"permit\"|\"forbid\", \"scope\": \"exact\"|\"parent\"}",
			NULL);
		goto out;
	}
	ev = find_event(j);
	action = json_string_value(json_object_get(ev, "action"));
	res = json_string_value(json_object_get(ev, "resource"));
	kind = json_string_value(json_object_get(ev, "kind"));
	if (!ev || !action || !res) {
		control_error(c, ev ? 400 : 404, ev ? "event.no-resource" : "event.not-found",
			      ev ? "this event is not about an action on a resource"
				 : "no such event",
			      NULL);
		goto out;
	}
	canonical_resource(res, canon, sizeof(canon));
	if (scope && strcmp(scope, "parent") == 0) {
		if (parent_scope(canon, clause, sizeof(clause)) < 0) {
			control_error(c, 400, "event.no-parent",
				      "this resource has no wider scope; use \"exact\"", NULL);
			goto out;
		}
	} else {
		snprintf(clause, sizeof(clause), "resource == %s", canon);
	}
	if (asprintf(&stmt, "%s (principal, action == Action::\"%s\", %s);", effect, action,
		     clause) < 0 ||
	    asprintf(&text, "%s%s\n// from event %lld (%s), via the control API\n%s\n",
		     policy_current()->text,
		     policy_current()->len &&
				     policy_current()->text[policy_current()->len - 1] != '\n'
			     ? "\n"
			     : "",
		     (long long)json_integer_value(json_object_get(j, "seq")), kind ? kind : "?",
		     stmt) < 0) {
		stmt = text = NULL;
		control_error(c, 500, "internal", "out of memory", NULL);
		goto out;
	}
	extra = json_pack("{s:s, s:s}", "statement", stmt, "cedar", text);
	if (apply) {
		apply_text(c, text, strlen(text), NULL, extra);
	} else {
		json_object_set_new(extra, "applied", json_false());
		control_json(c, 200, extra);
	}
out:
	free(stmt);
	free(text);
	json_decref(ev);
	json_decref(j);
}

/* ---- mode ---------------------------------------------------------------- */

void api_mode_get(struct http_conn *c, const struct http_request *rq)
{
	control_json(c, 200,
		     json_pack("{s:s, s:O}", "mode", mode_name(policy_mode()), "degraded",
			       policy_degraded()));
}

void api_mode_post(struct http_conn *c, const struct http_request *rq)
{
	json_t *j = control_body_json(rq);
	const char *name = j ? json_string_value(json_object_get(j, "mode")) : rq->body;
	char buf[32], err[512] = "";
	enum mode m;

	snprintf(buf, sizeof(buf), "%s", name ? name : "");
	buf[strcspn(buf, " \r\n\t")] = '\0';
	json_decref(j);
	if (mode_parse(buf, &m) < 0) {
		control_error(c, 400, "mode.invalid", "mode is one of record, shadow, enforce",
			      NULL);
		return;
	}
	if (policy_apply(NULL, m, "api", err, sizeof(err)) < 0) {
		control_error(c, 409, "mode.refused", err[0] ? err : "the change was refused",
			      json_pack("{s:s}", "mode", mode_name(policy_mode())));
		return;
	}
	control_json(c, 200,
		     json_pack("{s:s, s:O}", "mode", mode_name(policy_mode()), "degraded",
			       policy_degraded()));
}

/* ---- events and sessions ------------------------------------------------- */

void api_events(struct http_conn *c, const struct http_request *rq)
{
	char err[256] = "";
	json_t *out = NULL;
	int rc = control_db_events(rq, &out, err, sizeof(err));

	if (rc == 0)
		control_json(c, 200, out);
	else
		control_error(c,
			      rc == -EINVAL   ? 400
			      : rc == -ENOENT ? 404
					      : 503,
			      rc == -EINVAL ? "bad-request" : "events", err, NULL);
}

/* GET /api/policies/synthesized?session=UUID&collapse=N: what `leash
 * policy synthesize` prints, for a session of the audit log (default:
 * this one). Nothing is applied: the UI loads it into the editor. */
void api_synthesized(struct http_conn *c, const struct http_request *rq)
{
	char session[40] = "", collapse[16] = "", err[512] = "", *end, *text;
	int rs = http_query(rq->query, "session", session, sizeof(session));
	int rc = http_query(rq->query, "collapse", collapse, sizeof(collapse));
	long n = SYNTH_COLLAPSE_DEFAULT;

	if ((rs < 0 && rs != -ENOENT) || (rc < 0 && rc != -ENOENT)) {
		control_error(c, 400, "bad-request", "session or collapse is malformed", NULL);
		return;
	}
	if (collapse[0] && ((n = strtol(collapse, &end, 10)) < 0 || n > 1000000 || *end)) {
		control_error(c, 400, "bad-request", "collapse must be a number (0: never)", NULL);
		return;
	}
	text = control_db_synthesize(session[0] ? session : control.uuid, (unsigned)n, err,
				     sizeof(err));
	if (!text) {
		control_error(c, 400, "synthesize", err, NULL);
		return;
	}
	control_json(c, 200,
		     json_pack("{s:s, s:s}", "cedar", text, "session",
			       session[0] ? session : control.uuid));
	free(text);
}

void api_sessions(struct http_conn *c, const struct http_request *rq)
{
	json_t *out = NULL;

	if (control_db_sessions(&out) < 0)
		control_error(c, 503, "sessions", "cannot read the sessions", NULL);
	else
		control_json(c, 200, out);
}
