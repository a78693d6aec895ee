/*
 * policy_cmd.c: `leash policy check|eval|fmt|complete`.
 *
 *	leash policy check [--json] FILE
 *	leash policy eval FILE --principal T::"id" --action NAME|Action::"NAME"
 *		--resource T::"id" [--context JSON] [--entities FILE] [--server NAME]
 *		[--json] [--raw-ids] [--explain]
 *	leash policy eval --batch [--raw-ids] [--reformat] [--index-always] < requests.jsonl
 *	leash policy fmt [--check | -w] FILE
 *	leash policy complete FILE OFFSET
 *
 * FILE may be "-" for stdin. Single evaluations build their entities with the
 * implied hierarchy (cedar_entities_imply) and add --entities on top; batch
 * lines carry their own entities and are evaluated on exactly those, which is
 * what the conformance replay and the differential tests need (--reformat
 * decides on `fmt`'s output of each policy text instead; --index-always sends
 * every request through the policy index, which small sets otherwise skip). Batch keeps the
 * last parsed policy set and entity store, since suites repeat them line after
 * line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"
#include "cedar/internal.h"
#include "policy_cmd.h"

static int usage(const char *msg)
{
	fprintf(stderr,
		"leash policy: %s (usage: leash policy check|eval|fmt|complete|default|synthesize ...)\n",
		msg);
	return 2;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct cedar_buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cedar_buf_put(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	*len = b.n;
	return cedar_buf_steal(&b);
}

/* --- check ---------------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
	bool json = false;
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!path)
			path = argv[i];
		else
			return usage("check takes one FILE");
	}
	if (!path)
		return usage("check needs a FILE");
	size_t len;
	char *text = read_all(path, &len);

	if (!text) {
		fprintf(stderr, "leash policy: cannot read '%s': %s\n", path, strerror(errno));
		return 1;
	}
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };
	int rc = cedar_parse(text, len, 0, &ps, &d);
	size_t n = ps ? cedar_policy_count(ps) : 0;

	if (rc == 0)
		cedar_validate(ps, text, len, &d);
	if (json) {
		json_t *o = json_pack("{s:b, s:I, s:o}", "ok", d.nerrors == 0, "policies",
				      (json_int_t)n, "diagnostics", cedar_diags_json(&d));
		char *s = json_dumps(o, JSON_COMPACT);

		puts(s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		cedar_diags_print(stderr, &d, path);
		if (d.nerrors == 0)
			printf("%s: ok, %zu polic%s, %zu warning%s\n", path, n,
			       n == 1 ? "y" : "ies", d.nwarnings, d.nwarnings == 1 ? "" : "s");
		else
			fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", path, d.nerrors,
				d.nerrors == 1 ? "" : "s", d.nwarnings,
				d.nwarnings == 1 ? "" : "s");
	}
	rc = d.nerrors ? 1 : 0;
	cedar_diags_free(&d);
	cedar_policy_set_free(ps);
	free(text);
	return rc;
}

/* --- fmt ------------------------------------------------------------------ */

static int cmd_fmt(int argc, char **argv)
{
	bool check = false, write = false;
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = true;
		else if (strcmp(argv[i], "-w") == 0)
			write = true;
		else if (!path)
			path = argv[i];
		else
			return usage("fmt takes one FILE");
	}
	if (!path)
		return usage("fmt needs a FILE");
	size_t len;
	char *text = read_all(path, &len);

	if (!text) {
		fprintf(stderr, "leash policy: cannot read '%s': %s\n", path, strerror(errno));
		return 1;
	}
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };
	int rc = cedar_parse(text, len, CEDAR_PARSE_RAW_IDS, &ps, &d);

	if (rc < 0) {
		cedar_diags_print(stderr, &d, path);
		cedar_diags_free(&d);
		free(text);
		return 1;
	}
	char *out = cedar_format(ps);

	rc = 0;
	if (!out) {
		rc = 1;
	} else if (check) {
		rc = strlen(out) != len || memcmp(out, text, len) != 0;
		if (rc)
			fprintf(stderr, "%s: not formatted\n", path);
	} else if (write && strcmp(path, "-") != 0) {
		FILE *f = fopen(path, "wb");

		if (!f || fputs(out, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "leash policy: cannot write '%s'\n", path);
			rc = 1;
		}
	} else {
		fputs(out, stdout);
	}
	free(out);
	cedar_diags_free(&d);
	cedar_policy_set_free(ps);
	free(text);
	return rc;
}

/* --- eval ----------------------------------------------------------------- */

/* Parses `T::"id"` with the Cedar parser itself (escapes, namespaces). */
static int parse_uid_text(const char *s, char **type, char **id)
{
	struct cedar_buf b = { 0 };
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };

	cedar_buf_printf(&b, "permit(principal == %s, action, resource);", s);
	int rc = b.p ? cedar_parse(b.p, b.n, CEDAR_PARSE_RAW_IDS, &ps, &d) : -ENOMEM;

	free(b.p);
	cedar_diags_free(&d);
	if (rc < 0 || ps->n != 1 || ps->pol[0].nconds) {
		cedar_policy_set_free(ps);
		return -EINVAL;
	}
	const struct cedar_uid *u = &ps->pol[0].principal.uid;

	/* the C API takes NUL-terminated ids */
	bool nul = memchr(u->id.p, 0, u->id.n) || memchr(u->type.p, 0, u->type.n);

	*type = strndup(u->type.p, u->type.n);
	*id = strndup(u->id.p, u->id.n);
	cedar_policy_set_free(ps);
	if (nul) {
		free(*type);
		free(*id);
		*type = *id = NULL;
		return -EINVAL;
	}
	return 0;
}

static json_t *response_json(const struct cedar_response *r)
{
	json_t *reasons = json_array(), *errors = json_array();

	for (size_t i = 0; i < r->nreasons; i++)
		json_array_append_new(reasons, json_string(r->reasons[i]));
	for (size_t i = 0; i < r->nerrors; i++)
		json_array_append_new(errors, json_string(r->errors[i]));
	return json_pack("{s:s, s:o, s:o}", "decision", r->allow ? "allow" : "deny", "reasons",
			 reasons, "errors", errors);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_response(struct cedar_response *r)
{
	/* reasons/errors are sets; print them in a stable order */
	if (r->nreasons > 1)
		qsort(r->reasons, r->nreasons, sizeof(*r->reasons), cmp_str);
	for (size_t i = 1; i < r->nerrors; i++) {
		for (size_t j = i; j > 0 && strcmp(r->errors[j - 1], r->errors[j]) > 0; j--) {
			const char *t = r->errors[j];
			char *m = r->messages[j];

			r->errors[j] = r->errors[j - 1];
			r->messages[j] = r->messages[j - 1];
			r->errors[j - 1] = t;
			r->messages[j - 1] = m;
		}
	}
}

/* `eval --explain`: one line per policy saying what it did with the request. */
static void explain(const struct cedar_policy_set *ps, struct cedar_entities *es,
		    const struct cedar_request *rq, const char *text, size_t len)
{
	static const char *const scope[] = { "", "principal", "action", "resource" };
	struct cedar_explanation *x;
	size_t n;

	if (cedar_explain(ps, es, rq, &x, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned line = 1;

		for (size_t k = 0; k < x[i].off && k < len; k++)
			line += text[k] == '\n';
		printf("explain: %s (%s, line %u): ", x[i].policy_id,
		       x[i].forbid ? "forbid" : "permit", line);
		switch (x[i].why) {
		case CEDAR_WHY_SATISFIED:
			printf("satisfied\n");
			break;
		case CEDAR_WHY_PRINCIPAL:
		case CEDAR_WHY_ACTION:
		case CEDAR_WHY_RESOURCE:
			printf("%s scope does not match\n", scope[x[i].why]);
			break;
		case CEDAR_WHY_CONDITION:
			printf("condition %u stops it\n", x[i].condition + 1);
			break;
		case CEDAR_WHY_ERROR:
			printf("condition %u errors: %s\n", x[i].condition + 1, x[i].message);
			break;
		}
	}
	cedar_explanations_free(x, n);
}

struct eval_opts {
	const char *path, *principal, *action, *resource, *context, *entities, *server;
	bool json, raw_ids, batch, reformat, index_always, explain;
};

static int eval_one(const struct eval_opts *o)
{
	char *pt = NULL, *pid = NULL, *at = NULL, *aid = NULL, *rt = NULL, *rid = NULL;
	struct cedar_policy_set *ps = NULL;
	struct cedar_entities *es = NULL;
	struct cedar_diags d = { 0 };
	struct cedar_response r = { 0 };
	json_t *ctx = NULL, *ents = NULL;
	char *text = NULL;
	size_t len;
	int rc = 2;

	if (!o->principal || !o->action || !o->resource) {
		rc = usage("eval needs --principal, --action and --resource");
		goto out;
	}
	if (parse_uid_text(o->principal, &pt, &pid) < 0 ||
	    parse_uid_text(o->resource, &rt, &rid) < 0) {
		rc = usage("entities look like Type::\"id\" (quote them for the shell)");
		goto out;
	}
	if (strchr(o->action, ':')) {
		if (parse_uid_text(o->action, &at, &aid) < 0) {
			rc = usage("--action looks like FileOpen or Action::\"FileOpen\"");
			goto out;
		}
	} else {
		at = strdup("Action");
		aid = strdup(o->action);
	}
	if (o->context) {
		json_error_t je;

		ctx = json_loads(o->context, JSON_ALLOW_NUL, &je);
		if (!json_is_object(ctx)) {
			rc = usage("--context must be a JSON object");
			goto out;
		}
	}
	text = read_all(o->path, &len);
	if (!text) {
		fprintf(stderr, "leash policy: cannot read '%s': %s\n", o->path, strerror(errno));
		rc = 1;
		goto out;
	}
	if (cedar_parse(text, len, o->raw_ids ? CEDAR_PARSE_RAW_IDS : 0, &ps, &d) < 0) {
		cedar_diags_print(stderr, &d, o->path);
		rc = 1;
		goto out;
	}
	es = cedar_entities_new();
	if (!es)
		goto out;
	cedar_entities_imply(es, pt, pid, NULL);
	cedar_entities_imply(es, at, aid, NULL);
	cedar_entities_imply(es, rt, rid, o->server);
	if (o->entities) {
		json_error_t je;
		char err[256];

		ents = json_load_file(o->entities, JSON_ALLOW_NUL, &je);
		if (!ents || cedar_entities_add_json(es, ents, err, sizeof(err)) < 0) {
			fprintf(stderr, "leash policy: bad entities in '%s': %s\n", o->entities,
				ents ? err : je.text);
			rc = 1;
			goto out;
		}
	}
	struct cedar_request rq = { pt, pid, at, aid, rt, rid, ctx };

	if (cedar_authorize(ps, es, &rq, &r) < 0) {
		fprintf(stderr, "leash policy: %s\n", r.error ? r.error : "cannot evaluate");
		rc = 1;
		goto out;
	}
	sort_response(&r);
	if (o->json) {
		json_t *j = response_json(&r);
		char *s = json_dumps(j, JSON_COMPACT);

		puts(s);
		free(s);
		json_decref(j);
	} else {
		printf("decision: %s\n", r.allow ? "allow" : "deny");
		printf("reasons:");
		for (size_t i = 0; i < r.nreasons; i++)
			printf(" %s", r.reasons[i]);
		printf("\n");
		for (size_t i = 0; i < r.nerrors; i++)
			printf("error: %s: %s\n", r.errors[i], r.messages[i]);
	}
	if (o->explain)
		explain(ps, es, &rq, text, len);
	rc = r.allow ? 0 : 1;
out:
	cedar_response_free(&r);
	cedar_entities_free(es);
	cedar_policy_set_free(ps);
	cedar_diags_free(&d);
	json_decref(ctx);
	json_decref(ents);
	free(text);
	free(pt), free(pid), free(at), free(aid), free(rt), free(rid);
	return rc;
}

/* --- batch ---------------------------------------------------------------- */

struct batch {
	char *text; /* policies of the cached policy set */
	size_t len;
	struct cedar_policy_set *ps;
	json_t *diags; /* when the cached text did not parse */
	json_t *ents_json;
	struct cedar_entities *es;
	char *ents_err;
	int flags;
	bool reformat;
};

static int batch_uid(struct cedar_arena *a, const json_t *j, const struct cedar_value **out)
{
	if (json_is_string(j)) {
		char *t, *id;

		if (parse_uid_text(json_string_value(j), &t, &id) < 0)
			return -EINVAL;
		struct cedar_str ts = { cedar_arena_strndup(a, t, strlen(t)), strlen(t) };
		struct cedar_str is = { cedar_arena_strndup(a, id, strlen(id)), strlen(id) };

		free(t);
		free(id);
		*out = cedar_value_entity(a, ts, is);
		return *out ? 0 : -ENOMEM;
	}
	char err[64];
	json_t *w = json_object_get(j, "__entity") ? json_incref((json_t *)j)
						   : json_pack("{s:O}", "__entity", j);
	int rc = cedar_value_from_json(a, w, out, err, sizeof(err));

	json_decref(w);
	if (rc == 0 && (*out)->t != CEDAR_V_ENTITY)
		rc = -EINVAL;
	return rc;
}

static void batch_policies(struct batch *b, const char *text, size_t len)
{
	struct cedar_diags d = { 0 };

	if (b->text && b->len == len && memcmp(b->text, text, len) == 0)
		return;
	cedar_policy_set_free(b->ps);
	json_decref(b->diags);
	free(b->text);
	b->ps = NULL;
	b->diags = NULL;
	b->text = strndup(text, len);
	b->len = len;
	if (cedar_parse(text, len, b->flags, &b->ps, &d) < 0)
		b->diags = cedar_diags_json(&d);
	cedar_diags_free(&d);
	if (b->ps && b->reformat) {
		/* decide on fmt's output instead: proves formatting keeps the meaning */
		char *f = cedar_format(b->ps);

		cedar_policy_set_free(b->ps);
		b->ps = NULL;
		if (f && cedar_parse(f, strlen(f), b->flags, &b->ps, &d) < 0)
			b->diags = cedar_diags_json(&d);
		cedar_diags_free(&d);
		free(f);
	}
}

static void batch_entities(struct batch *b, json_t *ents)
{
	char err[256];

	if (b->ents_json && ents && json_equal(b->ents_json, ents))
		return;
	cedar_entities_free(b->es);
	json_decref(b->ents_json);
	free(b->ents_err);
	b->ents_err = NULL;
	b->ents_json = json_incref(ents);
	b->es = cedar_entities_new();
	if (ents && cedar_entities_add_json(b->es, ents, err, sizeof(err)) < 0)
		b->ents_err = strdup(err);
	cedar_entities_seal(b->es);
}

static json_t *batch_line(struct batch *b, const char *line)
{
	json_error_t je;
	json_t *req = cedar_json_loads(line, strlen(line), &je), *out = NULL;
	struct cedar_arena a = { 0 };
	const struct cedar_value *vars[4];
	struct cedar_response r = { 0 };
	char err[256] = "";
	static const struct cedar_value empty = { .t = CEDAR_V_RECORD };

	if (!json_is_object(req)) {
		out = json_pack("{s:n, s:s}", "decision", "request_error", "invalid JSON line");
		goto done;
	}
	const json_t *pol = json_object_get(req, "policies");

	if (!json_is_string(pol)) {
		out = json_pack("{s:n, s:s}", "decision", "request_error",
				"no \"policies\" string");
		goto done;
	}
	batch_policies(b, json_string_value(pol), json_string_length(pol));
	if (!b->ps) {
		out = json_pack("{s:n, s:[], s:[], s:O}", "decision", "reasons", "errors",
				"parse_errors", b->diags);
		goto done;
	}
	batch_entities(b, json_object_get(req, "entities"));
	if (b->ents_err) {
		out = json_pack("{s:n, s:s}", "decision", "request_error", b->ents_err);
		goto done;
	}
	static const char *const names[] = { "principal", "action", "resource" };

	for (int i = 0; i < 3; i++) {
		if (batch_uid(&a, json_object_get(req, names[i]), &vars[i]) < 0) {
			out = json_pack("{s:n, s:s+}", "decision", "request_error", "bad ",
					names[i]);
			goto done;
		}
	}
	vars[3] = &empty;
	const json_t *ctx = json_object_get(req, "context");

	if (ctx && (!json_is_object(ctx) ||
		    cedar_value_from_json(&a, ctx, &vars[3], err, sizeof(err)) < 0)) {
		out = json_pack("{s:n, s:s}", "decision", "request_error",
				err[0] ? err : "context must be an object");
		goto done;
	}
	if (cedar_authorize_values(b->ps, b->es, vars, &r) < 0) {
		out = json_pack("{s:n, s:s}", "decision", "request_error", "out of memory");
		goto done;
	}
	sort_response(&r);
	out = response_json(&r);
done:
	if (out && json_is_object(req) && json_object_get(req, "tag"))
		json_object_set(out, "tag", json_object_get(req, "tag"));
	cedar_response_free(&r);
	cedar_arena_free(&a);
	json_decref(req);
	return out;
}

static int eval_batch(const struct eval_opts *o)
{
	struct batch b = { .flags = o->raw_ids ? CEDAR_PARSE_RAW_IDS : 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (n == 1 && line[0] == '\n')
			continue;
		json_t *out = batch_line(&b, line);
		char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;

		puts(s ? s : "{\"decision\":null,\"request_error\":\"out of memory\"}");
		free(s);
		json_decref(out);
	}
	free(line);
	cedar_policy_set_free(b.ps);
	json_decref(b.diags);
	free(b.text);
	json_decref(b.ents_json);
	cedar_entities_free(b.es);
	free(b.ents_err);
	return 0;
}

static int cmd_eval(int argc, char **argv)
{
	struct eval_opts o = { 0 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (strcmp(a, "--batch") == 0)
			o.batch = true;
		else if (strcmp(a, "--json") == 0)
			o.json = true;
		else if (strcmp(a, "--explain") == 0)
			o.explain = true;
		else if (strcmp(a, "--raw-ids") == 0)
			o.raw_ids = true;
		else if (strcmp(a, "--reformat") == 0)
			o.reformat = true;
		else if (strcmp(a, "--index-always") == 0)
			o.index_always = true;
		else if (strcmp(a, "--principal") == 0)
			slot = &o.principal;
		else if (strcmp(a, "--action") == 0)
			slot = &o.action;
		else if (strcmp(a, "--resource") == 0)
			slot = &o.resource;
		else if (strcmp(a, "--context") == 0)
			slot = &o.context;
		else if (strcmp(a, "--entities") == 0)
			slot = &o.entities;
		else if (strcmp(a, "--server") == 0)
			slot = &o.server;
		else if (a[0] == '-' && a[1])
			return usage("unknown eval option");
		else if (!o.path)
			o.path = a;
		else
			return usage("eval takes one FILE");
		if (slot) {
			if (++i >= argc)
				return usage("option needs a value");
			*slot = argv[i];
		}
	}
	if (o.batch)
		return o.path ? usage("eval --batch reads stdin, no FILE") : eval_batch(&o);
	if (!o.path)
		return usage("eval needs a FILE");
	return eval_one(&o);
}

/* --- complete ------------------------------------------------------------- */

static int cmd_complete(int argc, char **argv)
{
	if (argc != 3)
		return usage("complete needs FILE OFFSET");
	size_t len;
	char *text = read_all(argv[1], &len);
	char *end;
	unsigned long off = strtoul(argv[2], &end, 10);

	if (!text)
		return 1;
	if (*end || off > len) {
		free(text);
		return usage("OFFSET must be a byte offset into FILE");
	}
	struct cedar_completion c = { 0 };

	if (cedar_complete(text, len, off, NULL, &c) < 0) {
		free(text);
		return 1;
	}
	printf("range %zu %zu\n", c.from, c.to);
	for (size_t i = 0; i < c.n; i++)
		printf("%s\t%s\n", c.v[i].kind, c.v[i].label);
	cedar_completion_free(&c);
	free(text);
	return 0;
}

int policy_cmd_main(int argc, char **argv)
{
	if (argc < 2)
		return usage("missing subcommand");
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "eval") == 0)
		return cmd_eval(argc - 1, argv + 1);
	if (strcmp(argv[1], "fmt") == 0)
		return cmd_fmt(argc - 1, argv + 1);
	if (strcmp(argv[1], "complete") == 0)
		return cmd_complete(argc - 1, argv + 1);
	return usage("unknown subcommand");
}
