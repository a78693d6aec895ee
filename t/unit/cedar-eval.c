/*
 * cedar-eval.c: checklist tests of the Cedar evaluator, one rule of the
 * language or of the decision at a time. Each expression's expected result
 * was checked against cedar-wasm 4.13.0 (the oracle in t/cedar/oracle).
 */
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"
#include "tap.h"

/* The store every expression sees (principal P::"p" does not exist). */
static const char *entities_json =
	"[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},"
	"  \"attrs\":{\"name\":\"alice\",\"level\":3,\"tags\":[\"a\",\"b\"],"
	"            \"meta\":{\"owner\":{\"__entity\":{\"type\":\"User\",\"id\":\"bob\"}},\"n\":1},"
	"            \"a b\":true},"
	"  \"parents\":[{\"type\":\"Group\",\"id\":\"admins\"}]},"
	" {\"uid\":{\"type\":\"Group\",\"id\":\"admins\"},\"attrs\":{},"
	"  \"parents\":[{\"type\":\"Group\",\"id\":\"staff\"}]},"
	" {\"uid\":{\"type\":\"Group\",\"id\":\"staff\"},\"attrs\":{},\"parents\":[]},"
	" {\"uid\":{\"type\":\"File\",\"id\":\"/w/a.c\"},\"attrs\":{\"size\":10},"
	"  \"parents\":[{\"type\":\"Dir\",\"id\":\"/w/\"}]}]";

static struct cedar_entities *store(void)
{
	json_error_t je;
	json_t *j = json_loads(entities_json, 0, &je);
	struct cedar_entities *es = cedar_entities_new();
	char err[128];

	if (!j || cedar_entities_add_json(es, j, err, sizeof(err)) < 0)
		diag("bad test entities: %s", j ? err : je.text);
	json_decref(j);
	return es;
}

/* "true", "false", "error" or "parse" for `permit(...) when { expr };` */
static const char *eval(const char *expr, const char *principal)
{
	static char text[2048];
	struct cedar_policy_set *ps;
	struct cedar_diags d = { 0 };
	struct cedar_response r;
	struct cedar_entities *es = store();
	json_t *ctx =
		json_pack("{s:s, s:i, s:{s:i}}", "header", "Authorization", "n", 5, "rec", "a", 1);
	const char *res;

	snprintf(text, sizeof(text), "permit(principal, action, resource) when { %s };", expr);
	if (cedar_parse(text, strlen(text), 0, &ps, &d) < 0) {
		cedar_diags_free(&d);
		cedar_entities_free(es);
		json_decref(ctx);
		return "parse";
	}
	struct cedar_request rq = { "User", principal, "Action", "FileOpen", "File", "/w/a.c", ctx };

	if (cedar_authorize(ps, es, &rq, &r) < 0)
		res = "request-error";
	else
		res = r.nerrors ? "error" : r.allow ? "true" : "false";
	cedar_response_free(&r);
	cedar_policy_set_free(ps);
	cedar_entities_free(es);
	json_decref(ctx);
	return res;
}

static void t(const char *expr, const char *want)
{
	is_str(eval(expr, "alice"), want, "%s => %s", expr, want);
}

static void decision_tests(void)
{
	struct cedar_policy_set *ps;
	struct cedar_diags d = { 0 };
	struct cedar_response r;
	const char *text =
		"permit(principal, action, resource);\n"
		"@id(\"no-etc\") forbid(principal, action, resource in Dir::\"/etc/\");\n"
		"permit(principal, action, resource) when { principal.nope };\n"
		"forbid(principal, action, resource) when { 1 };\n"
		"permit(principal == User::\"alice\", action, resource);\n";
	struct cedar_entities *es = cedar_entities_new();

	ok(cedar_parse(text, strlen(text), 0, &ps, &d) == 0, "decision policy set parses");
	cedar_entities_imply(es, "File", "/etc/passwd", NULL);
	cedar_entities_imply(es, "File", "/w/a.c", NULL);

	struct cedar_request rq = { "User", "alice", NULL, "FileOpen", "File", "/w/a.c", NULL };

	cedar_authorize(ps, es, &rq, &r);
	ok(r.allow, "permit without a matching forbid allows");
	is_int(r.nreasons, 2, "both satisfied permits are the reasons");
	is_int(r.nerrors, 2, "erroring permit and erroring forbid are both reported");
	ok(r.nerrors == 2 &&
		   ((!strcmp(r.errors[0], "policy2") && !strcmp(r.errors[1], "policy3")) ||
		    (!strcmp(r.errors[1], "policy2") && !strcmp(r.errors[0], "policy3"))),
	   "error ids are the positional ids of the erroring policies");
	cedar_response_free(&r);

	rq.resource_id = "/etc/passwd";
	cedar_authorize(ps, es, &rq, &r);
	ok(!r.allow, "a satisfied forbid overrides permits");
	is_int(r.nreasons, 1, "the forbid is the only reason");
	is_str(r.nreasons ? r.reasons[0] : NULL, "no-etc", "@id names the policy");
	cedar_response_free(&r);
	cedar_policy_set_free(ps);

	text = "permit(principal == User::\"bob\", action, resource);";
	cedar_parse(text, strlen(text), 0, &ps, &d);
	cedar_authorize(ps, es, &rq, &r);
	ok(!r.allow && r.nreasons == 0 && r.nerrors == 0, "default deny: no reasons, no errors");
	cedar_response_free(&r);
	cedar_policy_set_free(ps);

	text = "permit(principal, action == Action::\"FileOpenReadOnly\", resource in Dir::\"/w/\");\n"
	       "forbid(principal, action == Action::\"FileOpenReadWrite\", resource in Dir::\"/w/\");\n"
	       "permit(principal, action == Action::\"FileOpen\", resource in Dir::\"/tmp/\");\n";
	cedar_parse(text, strlen(text), 0, &ps, &d);
	rq.resource_id = "/w/a.c";
	cedar_authorize_open(ps, es, &rq, false, &r);
	ok(r.allow, "read-only open allowed by a FileOpenReadOnly permit");
	cedar_response_free(&r);
	cedar_authorize_open(ps, es, &rq, true, &r);
	ok(!r.allow && r.nreasons == 1 && !strcmp(r.reasons[0], "policy1"),
	   "read-write open denied by a FileOpenReadWrite forbid");
	cedar_response_free(&r);
	cedar_entities_imply(es, "File", "/tmp/x", NULL);
	rq.resource_id = "/tmp/x";
	cedar_authorize_open(ps, es, &rq, true, &r);
	ok(r.allow && r.nreasons == 1 && !strcmp(r.reasons[0], "policy2"),
	   "a FileOpen permit covers a read-write open");
	cedar_response_free(&r);

	json_t *bad = json_pack("{s:f}", "x", 1.5);

	rq.context = bad;
	ok(cedar_authorize(ps, es, &rq, &r) == -22 && r.error && strstr(r.error, "floating"),
	   "a context that is not a Cedar record is rejected with a reason");
	cedar_response_free(&r);
	json_decref(bad);
	cedar_policy_set_free(ps);
	cedar_entities_free(es);
	cedar_diags_free(&d);
}

int main(void)
{
	/* literals and equality */
	t("true", "true");
	t("1 == 1", "true");
	t("1 == \"1\"", "false");
	t("User::\"alice\" == User::\"alice\"", "true");
	t("[1, 2, 2] == [2, 1]", "true");
	t("{a: [1, 2]} == {a: [2, 1, 1]}", "true");
	t("[principal] == [User::\"alice\"]", "true");
	t("\"\\u{0}\" == \"\\0\"", "true");
	t("\"\\x7f\" == \"\\u{7f}\"", "true");
	t("-9223372036854775808 == -9223372036854775807 - 1", "true");
	/* boolean operators, short-circuit and error propagation */
	t("false && 1", "false");
	t("true || 1", "true");
	t("1 || true", "error");
	t("true && 1", "error");
	t("!principal", "error");
	t("!!!!true", "true");
	t("if 1 then true else false", "error");
	t("if false then 1 else true", "true");
	/* in: entities, sets, transitive, missing entities */
	t("principal in Group::\"staff\"", "true");
	t("principal in [Group::\"x\", Group::\"admins\"]", "true");
	t("principal in [Group::\"admins\", 1]", "error");
	t("principal in 1", "error");
	t("1 in [1]", "error");
	t("User::\"ghost\" in User::\"ghost\"", "true");
	t("User::\"ghost\" in Group::\"staff\"", "false");
	t("resource in Dir::\"/w/\"", "true");
	/* has / attribute access */
	t("principal has name", "true");
	t("principal has \"a b\"", "true");
	t("principal has nope", "false");
	t("principal has meta.owner", "true");
	t("principal has meta.nope", "false");
	t("principal has name.x", "error");
	t("User::\"ghost\" has name", "false");
	t("User::\"ghost\".name == 1", "error");
	t("principal.nope == 1", "error");
	t("principal.meta.n == 1", "true");
	t("principal[\"a b\"]", "true");
	t("context.rec.a == 1", "true");
	t("context.nope == 1", "error");
	t("context has header", "true");
	t("1.x == 1", "error");
	/* like */
	t("\"abc\" like \"a*c\"", "true");
	t("\"abc\" like \"\\x2A\"", "true");
	t("\"a*c\" like \"a\\*c\"", "true");
	t("\"abc\" like \"a\\*c\"", "false");
	t("\"\" like \"*\"", "true");
	t("\"aXbXc\" like \"a*b*c\"", "true");
	t("\"é/x\" like \"é*\"", "true");
	t("principal like \"a\"", "error");
	/* is */
	t("principal is User", "true");
	t("principal is Group", "false");
	t("principal is User in Group::\"staff\"", "true");
	t("principal is Group in 1", "false");
	t("1 is User", "error");
	/* arithmetic and comparison */
	t("1 + 2 == 3", "true");
	t("9223372036854775807 + 1 == 0", "error");
	t("- -9223372036854775808 == 1", "error");
	t("2 * 3 > 5", "true");
	t("\"a\" < \"b\"", "error");
	/* set methods */
	t("[1, 2].contains(1)", "true");
	t("[1, principal].containsAll([principal])", "true");
	t("[1].containsAny([2, 3])", "false");
	t("[].isEmpty()", "true");
	t("[].containsAny(1)", "error");
	t("principal.tags.contains(\"a\")", "true");
	/* condition must be boolean */
	t("1", "error");
	t("context", "error");
	/* parse-time rejections inside a condition */
	t("1 == 1 == 1", "parse");
	t("!!!!!true", "parse");
	t("principal.if", "parse");
	t("\"a\\*\" == \"a\"", "parse");
	t("9223372036854775808 == 1", "parse");
	t("{a: 1, a: 2} == {a: 1}", "parse");
	t("foo", "parse");
	t("principal.foo()", "parse");
	t("[1].contains()", "parse");
	t("ip(\"1.2.3.4\") == ip(\"1.2.3.4\")", "parse");
	t("true && if true then true else false", "parse");
	/* principal that does not exist */
	is_str(eval("principal.name == \"x\"", "ghost"), "error",
	       "attribute of a missing principal is an error");
	is_str(eval("principal has name", "ghost"), "false", "has on a missing principal is false");
	decision_tests();
	return done_testing();
}
