/*
 * cedar-api.c: the parts of the Cedar API the modules build on: leash
 * vocabulary validation (codes, severities, positions), the implied-hierarchy
 * entity provider, rules for compilation into enforcement, and completion.
 */
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"
#include "tap.h"

/* --- validation ------------------------------------------------------------ */

static struct cedar_diags d;

static void validate(const char *text)
{
	struct cedar_policy_set *ps = NULL;

	cedar_diags_free(&d);
	if (cedar_parse(text, strlen(text), 0, &ps, &d) == 0)
		cedar_validate(ps, text, strlen(text), &d);
	cedar_policy_set_free(ps);
}

static const struct cedar_diag *find(const char *code)
{
	for (size_t i = 0; i < d.n; i++)
		if (!strcmp(d.v[i].code, code))
			return &d.v[i];
	return NULL;
}

/* at: the text the diagnostic must point at (its first occurrence) */
static void expect_code(const char *text, const char *code, enum cedar_severity sev, const char *at,
			const char *what)
{
	unsigned col = strstr(text, at) ? strstr(text, at) - text + 1 : 0;

	validate(text);
	const struct cedar_diag *g = find(code);

	ok(g != NULL, "%s: %s reported", what, code);
	if (!g) {
		for (size_t i = 0; i < d.n; i++)
			diag("  got %s: %s", d.v[i].code, d.v[i].message);
		return;
	}
	ok(g->severity == sev, "%s: it is %s", what,
	   sev == CEDAR_SEV_ERROR ? "an error" : "a warning");
	is_int(g->col, col, "%s: column", what);
}

static void validation(void)
{
	validate(
		"permit(principal, action in [Action::\"FileOpen\", Action::\"ProcessExec\"], resource in Dir::\"/usr/\");\n"
		"forbid(principal, action == Action::\"NetworkConnect\", resource) when { resource in [Host::\"*.evil.com\", Host::\"10.0.0.1:443\", Host::\"*\"] };\n"
		"permit(principal, action == Action::\"HttpRewrite\", resource == Host::\"api.github.com\") when { context.header == \"Authorization\" && context.value == \"Bearer x\" };\n"
		"forbid(principal, action == Action::\"McpCall\", resource in MCP::Server::\"mcp.example.com\");\n"
		"forbid(principal, action == Action::\"McpCall\", resource == MCP::Tool::\"delete\");\n");
	is_int(d.n, 0, "the seed's vocabulary validates clean");
	for (size_t i = 0; i < d.n; i++)
		diag("  %s: %s", d.v[i].code, d.v[i].message);

	expect_code("permit(principal, action == Action::\"FileRead\", resource);",
		    "leash.unknown-action", CEDAR_SEV_ERROR, "Action::\"FileRead\"",
		    "unknown action");
	expect_code("permit(principal, action == Action::\"fileopen\", resource);",
		    "leash.unknown-action", CEDAR_SEV_ERROR, "Action::\"fileopen\"", "wrong case");
	is_str(find("leash.unknown-action") ? find("leash.unknown-action")->hint : NULL,
	       "did you mean Action::\"FileOpen\"?", "wrong case: hint names the action");
	expect_code(
		"permit(principal, action == Action::\"FileOpen\", resource == Host::\"a.com\");",
		"leash.resource-mismatch", CEDAR_SEV_ERROR, "Host::", "Host with FileOpen");
	expect_code(
		"permit(principal, action == Action::\"NetworkConnect\", resource) when { resource in [Dir::\"/x/\"] };",
		"leash.resource-mismatch", CEDAR_SEV_ERROR,
		"Dir::", "Dir with NetworkConnect, in a condition");
	expect_code("permit(principal, action == Action::\"FileOpen\", resource in Dir::\"/etc\");",
		    "leash.dir-slash", CEDAR_SEV_WARNING, "Dir::", "Dir without trailing slash");
	expect_code(
		"permit(principal, action == Action::\"FileOpen\", resource == File::\"etc/passwd\");",
		"leash.bad-path", CEDAR_SEV_ERROR, "File::", "relative path");
	expect_code(
		"permit(principal, action == Action::\"FileOpen\", resource in Dir::\"/a/../b/\");",
		"leash.bad-path", CEDAR_SEV_ERROR, "Dir::", "path with ..");
	expect_code(
		"permit(principal, action == Action::\"FileOpen\", resource == File::\"/tmp/\");",
		"leash.file-slash", CEDAR_SEV_WARNING, "File::", "File with trailing slash");
	expect_code(
		"permit(principal, action == Action::\"NetworkConnect\", resource == Host::\"api.*.com\");",
		"leash.bad-host", CEDAR_SEV_ERROR, "Host::", "wildcard in the middle");
	expect_code(
		"permit(principal, action == Action::\"NetworkConnect\", resource == Host::\"a.com:99999\");",
		"leash.bad-host", CEDAR_SEV_ERROR, "Host::", "port out of range");
	expect_code(
		"permit(principal, action == Action::\"NetworkConnect\", resource == Host::\"API.com\");",
		"leash.host-case", CEDAR_SEV_WARNING, "Host::", "upper-case host");
	expect_code(
		"permit(principal, action == Action::\"HttpRewrite\", resource == Host::\"a.com\") when { context.header == \"X\" };",
		"leash.rewrite-context", CEDAR_SEV_ERROR, "permit",
		"HttpRewrite without context.value");
	expect_code(
		"permit(principal, action == Action::\"McpCall\", resource == MCP::Tool::\"\");",
		"leash.bad-entity", CEDAR_SEV_ERROR, "MCP::Tool", "empty tool name");
	expect_code(
		"permit(principal, action == Action::\"FileOpen\", resource in Folder::\"/x/\");",
		"leash.unknown-type", CEDAR_SEV_WARNING, "Folder::", "unknown resource type");
	cedar_diags_free(&d);
}

/* --- the entity provider --------------------------------------------------- */

static bool allowed(const char *policy, const char *rtype, const char *rid, const char *server)
{
	struct cedar_policy_set *ps;
	struct cedar_diags dd = { 0 };
	struct cedar_response r;
	struct cedar_entities *es = cedar_entities_new();
	bool allow = false;

	if (cedar_parse(policy, strlen(policy), 0, &ps, &dd) == 0) {
		cedar_entities_imply(es, rtype, rid, server);
		struct cedar_request rq = { "User", "agent", NULL, "NetworkConnect",
					    rtype,  rid,     NULL };

		cedar_authorize(ps, es, &rq, &r);
		allow = r.allow;
		cedar_response_free(&r);
		cedar_policy_set_free(ps);
	}
	cedar_diags_free(&dd);
	cedar_entities_free(es);
	return allow;
}

#define IN(t, id) "permit(principal, action, resource in " t "::\"" id "\");"

static void provider(void)
{
	ok(allowed(IN("Dir", "/a/b/"), "File", "/a/b/c", NULL), "File /a/b/c is in Dir /a/b/");
	ok(allowed(IN("Dir", "/a/"), "File", "/a/b/c", NULL), "File /a/b/c is in Dir /a/");
	ok(allowed(IN("Dir", "/"), "File", "/a/b/c", NULL), "File /a/b/c is in Dir /");
	ok(!allowed(IN("Dir", "/a/b/c/"), "File", "/a/b/c", NULL),
	   "a file is not in a Dir of its own name");
	ok(!allowed(IN("Dir", "/a/b/"), "File", "/a/bc", NULL), "Dir /a/b/ does not hold /a/bc");
	ok(allowed(IN("Dir", "/a/"), "Dir", "/a/b/", NULL), "Dir /a/b/ is in Dir /a/");
	ok(!allowed(IN("Dir", "/a/b/"), "Dir", "/a/", NULL), "a parent Dir is not in its child");
	ok(allowed(IN("Host", "*.openai.com"), "Host", "api.openai.com", NULL), "host in *.parent");
	ok(allowed(IN("Host", "*.com"), "Host", "api.openai.com", NULL), "host in *.tld");
	ok(allowed(IN("Host", "*"), "Host", "api.openai.com", NULL), "host in *");
	ok(!allowed(IN("Host", "*.openai.com"), "Host", "openai.com", NULL),
	   "*.d does not hold d itself");
	ok(!allowed(IN("Host", "*.ai.com"), "Host", "api.openai.com", NULL),
	   "*.ai.com does not hold openai.com");
	ok(allowed(IN("Host", "api.openai.com"), "Host", "api.openai.com:443", NULL),
	   "host:port in host");
	ok(allowed(IN("Host", "*.openai.com"), "Host", "api.openai.com:443", NULL),
	   "host:port in *.parent");
	ok(allowed(IN("Host", "*"), "Host", "10.0.0.1:53", NULL), "ip:port in *");
	ok(allowed(IN("Host", "10.0.0.1"), "Host", "10.0.0.1:53", NULL), "ip:port in ip");
	ok(!allowed(IN("Host", "*.0.0.1"), "Host", "10.0.0.1", NULL),
	   "IP addresses have no wildcard parents");
	ok(allowed(IN("Host", "[::1]"), "Host", "[::1]:443", NULL), "[v6]:port in [v6]");
	ok(allowed(IN("MCP::Server", "mcp.example.com"), "MCP::Tool", "search", "mcp.example.com"),
	   "a tool is in the server of its call");
	ok(!allowed(IN("MCP::Server", "other"), "MCP::Tool", "search", "mcp.example.com"),
	   "a tool is not in another server");
	ok(allowed("permit(principal, action, resource) when { resource == Host::\"a.com\" };",
		   "Host", "a.com", NULL),
	   "== is exact");

	/* the action hierarchy */
	struct cedar_entities *es = cedar_entities_new();
	struct cedar_policy_set *ps;
	struct cedar_diags dd = { 0 };
	struct cedar_response r;
	const char *p = "permit(principal, action in Action::\"FileOpen\", resource);";

	cedar_entities_imply(es, "Action", "FileOpenReadOnly", NULL);
	cedar_parse(p, strlen(p), 0, &ps, &dd);
	struct cedar_request rq = { "User", "agent", NULL, "FileOpenReadOnly", "File", "/x", NULL };

	cedar_authorize(ps, es, &rq, &r);
	ok(r.allow, "FileOpenReadOnly is in Action::\"FileOpen\"");
	cedar_response_free(&r);
	cedar_policy_set_free(ps);
	cedar_entities_free(es);
}

/* --- rules ------------------------------------------------------------------ */

static void rules(void)
{
	const char *text =
		"permit(principal, action == Action::\"FileOpen\", resource in Dir::\"/w/\");\n"
		"forbid(principal, action == Action::\"FileOpenReadWrite\", resource) when { resource in [Dir::\"/etc/\", File::\"/bin/sh\"] || resource == File::\"/x\" };\n"
		"permit(principal, action == Action::\"NetworkConnect\", resource in Host::\"*\");\n"
		"permit(principal, action == Action::\"HttpRewrite\", resource == Host::\"a.com\") when { context.header == \"Authorization\" && context.value == \"Bearer t\" };\n"
		"permit(principal == User::\"x\", action, resource) when { context.n > 1 };\n";
	struct cedar_policy_set *ps;
	struct cedar_diags dd = { 0 };
	struct cedar_rules rs;

	cedar_parse(text, strlen(text), 0, &ps, &dd);
	cedar_rules_for_action(ps, "FileOpenReadWrite", &rs);
	is_int(rs.n, 3, "FileOpenReadWrite: FileOpen, FileOpenReadWrite and any-action policies");
	if (rs.n == 3) {
		ok(!rs.v[0].forbid && rs.v[0].ntargets == 1 &&
			   rs.v[0].targets[0].op == CEDAR_TARGET_IN &&
			   !strcmp(rs.v[0].targets[0].id, "/w/") && !rs.v[0].residual,
		   "scope `in Dir` becomes an IN target, exactly");
		ok(rs.v[1].forbid && rs.v[1].ntargets == 3 &&
			   rs.v[1].targets[1].op == CEDAR_TARGET_IN &&
			   !strcmp(rs.v[1].targets[1].id, "/bin/sh") &&
			   rs.v[1].targets[2].op == CEDAR_TARGET_EQ && !rs.v[1].residual,
		   "`when { resource in [..] || resource == E }` becomes targets, exactly");
		ok(rs.v[2].residual && rs.v[2].targets[0].op == CEDAR_TARGET_ANY,
		   "principal scope and other conditions make a residual rule");
	}
	cedar_rules_free(&rs);
	cedar_rules_for_action(ps, "HttpRewrite", &rs);
	ok(rs.n == 2 && rs.v[0].nctx == 2 && !strcmp(rs.v[0].ctx_keys[0], "header") &&
		   !strcmp(rs.v[0].ctx_values[1], "Bearer t") && !rs.v[0].residual,
	   "HttpRewrite's header and value are extracted");
	cedar_rules_free(&rs);
	cedar_rules_for_action(ps, "NetworkConnect", &rs);
	ok(rs.n == 2 && !strcmp(rs.v[0].targets[0].type, "Host") &&
		   !strcmp(rs.v[0].targets[0].id, "*"),
	   "NetworkConnect: Host::\"*\"");
	cedar_rules_free(&rs);
	cedar_policy_set_free(ps);
	cedar_diags_free(&dd);
}

/* --- completion ------------------------------------------------------------- */

static bool has(const struct cedar_completion *c, const char *label)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].label, label))
			return true;
	return false;
}

static void completion(void)
{
	struct cedar_completion c;
	const char *known[] = { "Host::\"api.github.com\"", NULL };
	const char *t1 = "permit(principal, action == Act";

	cedar_complete(t1, strlen(t1), strlen(t1), known, &c);
	ok(has(&c, "Action::\"FileOpen\"") && has(&c, "Action::\"McpCall\"") && c.n == 7,
	   "action slot: the seven actions");
	ok(c.from == strlen(t1) - 3 && c.to == strlen(t1), "replaces the typed prefix");
	cedar_completion_free(&c);

	const char *t2 = "permit(principal, action, resource in Ho";

	cedar_complete(t2, strlen(t2), strlen(t2), known, &c);
	ok(has(&c, "Host::\"") && has(&c, "Host::\"api.github.com\"") && !has(&c, "File::\""),
	   "resource slot: entity types and known resources, by prefix");
	cedar_completion_free(&c);

	const char *t3 = "permit(principal, action, resource) when { context.h";

	cedar_complete(t3, strlen(t3), strlen(t3), NULL, &c);
	ok(c.n == 1 && has(&c, "header") && c.from == strlen(t3) - 1,
	   "after context.: context keys");
	cedar_completion_free(&c);

	const char *t4 = "permit(principal, action, resource) ";

	cedar_complete(t4, strlen(t4), strlen(t4), NULL, &c);
	ok(c.n == 2 && has(&c, "when") && has(&c, "unless"), "after the scope: when, unless");
	cedar_completion_free(&c);

	const char *t5 = "permit(principal, action, resource);\nfo";

	cedar_complete(t5, strlen(t5), strlen(t5), NULL, &c);
	ok(c.n == 1 && has(&c, "forbid"), "between policies: forbid by prefix");
	cedar_completion_free(&c);

	const char *t6 = "permit(principal, action, resource) when { resource ";

	cedar_complete(t6, strlen(t6), strlen(t6), NULL, &c);
	ok(has(&c, "in") && has(&c, "like") && has(&c, "&&") && c.from == c.to,
	   "after an operand: operators, empty range");
	cedar_completion_free(&c);

	const char *t7 = "permit(principal, action, resource in Dir::\"/wo";

	cedar_complete(t7, strlen(t7), strlen(t7), (const char *[]){ "Dir::\"/work/\"", NULL }, &c);
	ok(has(&c, "Dir::\"/work/\"") && c.from == strlen("permit(principal, action, resource in "),
	   "inside an entity literal: the whole literal is replaced");
	cedar_completion_free(&c);

	const char *t8 = "permit(principal, action, resource) when { x == \"when { con";

	cedar_complete(t8, strlen(t8), strlen(t8), NULL, &c);
	ok(!has(&c, "context"), "inside a string: no variables");
	cedar_completion_free(&c);
}

static void offsets(void)
{
	const char *t = "ab\n\xc3\xa9x\nz";

	is_int(cedar_offset(t, strlen(t), 1, 1), 0, "line 1 column 1 is byte 0");
	is_int(cedar_offset(t, strlen(t), 2, 2), 5, "columns count characters (after a 2-byte é)");
	is_int(cedar_offset(t, strlen(t), 2, 99), 6, "past the end of a line clamps to it");
	is_int(cedar_offset(t, strlen(t), 3, 2), 8, "last line");
	is_int(cedar_offset(t, strlen(t), 9, 1), 8, "past the end of the text clamps to it");
}

int main(void)
{
	offsets();
	validation();
	provider();
	rules();
	completion();
	return done_testing();
}
