/*
 * cedar-parse.c: the Cedar parser's diagnostics (code, line, column, width,
 * hint, every error of a file), its bounds (depth, size, UTF-8), and the
 * formatter's round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"
#include "tap.h"

static struct cedar_diags d;

static int parse(const char *text)
{
	struct cedar_policy_set *ps = NULL;
	int rc;

	cedar_diags_free(&d);
	rc = cedar_parse(text, strlen(text), 0, &ps, &d);
	cedar_policy_set_free(ps);
	return rc;
}

/* One error expected: its code, line and column. */
static void err1(const char *text, const char *code, unsigned line, unsigned col, const char *what)
{
	int rc = parse(text);

	ok(rc == -EINVAL && d.nerrors == 1, "%s: one error", what);
	if (d.n == 0)
		return;
	is_str(d.v[0].code, code, "%s: code", what);
	is_int(d.v[0].line, line, "%s: line", what);
	is_int(d.v[0].col, col, "%s: column", what);
}

static void diagnostics(void)
{
	err1("permit(principal, action, resource)\npermit(principal, action, resource);",
	     "syntax.missing-semicolon", 1, 36, "missing ';'");
	is_str(d.n ? d.v[0].hint : NULL, "missing ';' after policy?", "missing ';': hint");
	is_str(d.n ? d.v[0].source_line : NULL, "permit(principal, action, resource)",
	       "missing ';': source line");
	err1("permit(principal, action, resource) when { \"abc };", "syntax.unterminated-string", 1,
	     44, "unterminated string");
	err1("permit(principal, action, resource) when { \"a\\qb\" == \"\" };",
	     "syntax.invalid-escape", 1, 46, "invalid escape");
	is_int(d.n ? d.v[0].width : 0, 2, "invalid escape: caret covers the escape");
	err1("permit(principal, action, resource) when { principal.if };",
	     "syntax.reserved-identifier", 1, 54, "reserved identifier");
	err1("permit(principal, action, resource) when { user == 1 };", "syntax.invalid-variable",
	     1, 44, "unknown variable");
	err1("permit(principal, action, resource) /* no */;", "syntax.block-comment", 1, 37,
	     "block comment");
	err1("permit(principal, action, resource) when { 1 == 2 == 3 };", "syntax.chained-relation",
	     1, 51, "chained ==");
	err1("permit(principal, action, resource) when { !!!!!true };", "syntax.too-many-unary", 1,
	     44, "five '!'");
	err1("permit(principal, action, resource) when { 9223372036854775808 > 1 };",
	     "syntax.integer-too-large", 1, 44, "integer overflow");
	err1("permit(principal, action == Foo::\"x\", resource);", "syntax.action-type", 1, 29,
	     "action of the wrong type");
	err1("permit(principal in ?principal, action, resource);", "unsupported.template", 1, 21,
	     "template");
	err1("permit(principal, action, resource) when { ip(\"1.2.3.4\") == ip(\"1.2.3.4\") };",
	     "unsupported.extension", 1, 44, "extension function");
	err1("permit(principal, action, resource) when { [1].foo() };", "syntax.unknown-method", 1,
	     48, "unknown method");
	err1("permit(principal, action, resource) when { {a: 1, a: 2} == {} };",
	     "syntax.duplicate-key", 1, 51, "duplicate record key");
	err1("@id(\"x\") @id(\"y\") permit(principal, action, resource);",
	     "syntax.duplicate-annotation", 1, 11, "duplicate annotation");
	err1("@id(\"x\") permit(principal, action, resource);\n@id(\"x\") permit(principal, action, resource);",
	     "syntax.duplicate-id", 2, 1, "duplicate @id");
	err1("permit(principal, action, resource) when { true } when {};", "syntax.empty-condition",
	     1, 57, "empty condition");
	err1("permit(action, principal, resource);", "syntax.unexpected-token", 1, 8,
	     "scope out of order");
	err1("permit(principal, action, resource) when { \"é\" == é };", "syntax.invalid-character",
	     1, 51, "column counts characters, not bytes");

	/* several errors, each with its own line and policy */
	parse("permit(principal, action, resource) when { 1 == };\n"
	      "permit(principal, action, resource);\n"
	      "forbid(principal action, resource);\n"
	      "permit(principal, action, resource) when { x };\n");
	is_int(d.nerrors, 3, "three broken policies: three errors");
	ok(d.n == 3 && d.v[0].line == 1 && d.v[1].line == 3 && d.v[2].line == 4,
	   "errors are on lines 1, 3 and 4");
	is_str(d.n == 3 ? d.v[1].policy_id : NULL, "policy2", "errors name their policy");

	/* a broken policy that also lost its ';' does not swallow the next one */
	parse("permit(principal, action, resource) when { 1 == }\n"
	      "permit(principal, action, resource) when { x }\n"
	      "@id(\"z\")\n"
	      "forbid(principal, action resource);\n");
	ok(d.n == 3 && d.v[0].line == 1 && d.v[1].line == 2 && d.v[2].line == 4,
	   "recovery resumes at the next permit/forbid/@ when ';' is missing too");

	/* rendering: file:line:col, source line and a caret under the column */
	parse("permit(principal, action, resource)\n  when { principal.if };");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cedar_diags_print(f, &d, "p.cedar");
	fclose(f);
	ok(buf && strstr(buf,
			 "p.cedar:2:20: error[syntax.reserved-identifier]: 'if' is a reserved identifier\n"),
	   "rendered header");
	ok(buf && strstr(buf, " 2 |   when { principal.if };\n   | "
			      "                   ^^\n"), /* 19 spaces: column 20 */
	   "rendered source line and caret");
	ok(buf && strstr(buf, "= hint: "), "rendered hint");
	free(buf);

	json_t *j = cedar_diags_json(&d);
	json_t *e0 = json_array_get(j, 0);

	ok(json_integer_value(json_object_get(e0, "line")) == 2 &&
		   json_integer_value(json_object_get(e0, "column")) == 20 &&
		   !strcmp(json_string_value(json_object_get(e0, "code")),
			   "syntax.reserved-identifier"),
	   "JSON diagnostics carry line, column and code");
	json_decref(j);
}

static void bounds(void)
{
	size_t n = 300;
	char *s = malloc(4 * n + 100);
	char *p = s;

	p += sprintf(p, "permit(principal, action, resource) when { ");
	for (size_t i = 0; i < n; i++)
		*p++ = '(';
	*p++ = '1';
	for (size_t i = 0; i < n; i++)
		*p++ = ')';
	strcpy(p, " };");
	err1(s, "limit.too-deep", 1, 44 + CEDAR_MAX_DEPTH, "300 nested parentheses");
	free(s);

	n = 20000;
	s = malloc(n * 10 + 100);
	p = s + sprintf(s, "permit(principal, action, resource) when { true");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, " && true");
	strcpy(p, " };");
	ok(parse(s) == -EINVAL && d.nerrors == 1 && !strcmp(d.v[0].code, "limit.too-deep"),
	   "a 20000-long && chain is refused, not a stack overflow");
	free(s);

	s = malloc(CEDAR_MAX_TEXT + 2);
	memset(s, ' ', CEDAR_MAX_TEXT + 1);
	s[CEDAR_MAX_TEXT + 1] = 0;
	ok(parse(s) == -EINVAL && d.n && !strcmp(d.v[0].code, "limit.too-large"),
	   "text over the size bound is refused");
	free(s);

	ok(parse("permit(principal, action, resource) when { \"\xff\" };") == -EINVAL && d.n &&
		   !strcmp(d.v[0].code, "syntax.invalid-utf8"),
	   "invalid UTF-8 is refused");
	ok(parse("") == 0 && d.n == 0, "empty text is an empty policy set");
	ok(parse("// only a comment\n") == 0, "a comment alone is an empty policy set");
	ok(parse("permit(principal, action, resource,);") == 0,
	   "trailing comma in the scope is Cedar");
	ok(parse("permit(principal, action, resource)\xc2\xa0when { true };") == 0,
	   "Unicode whitespace separates tokens");

	s = malloc(120 * 1000 + 10);
	p = s;
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "permit(principal, action, resource) when { x%d };\n", i);
	parse(s);
	is_int(d.nerrors, 100, "error reporting stops at 100");
	free(s);
}

static void roundtrip(const char *text)
{
	struct cedar_policy_set *a = NULL, *b = NULL;
	struct cedar_diags dd = { 0 };
	char *f1 = NULL, *f2 = NULL;

	if (cedar_parse(text, strlen(text), CEDAR_PARSE_RAW_IDS, &a, &dd) == 0)
		f1 = cedar_format(a);
	if (f1 && cedar_parse(f1, strlen(f1), CEDAR_PARSE_RAW_IDS, &b, &dd) == 0)
		f2 = cedar_format(b);
	ok(f1 && f2 && !strcmp(f1, f2), "fmt is a fixed point: %.*s", (int)strcspn(text, "\n"),
	   text);
	if (f1 && f2 && strcmp(f1, f2))
		diag("first:\n%s\nsecond:\n%s", f1, f2);
	free(f1);
	free(f2);
	cedar_policy_set_free(a);
	cedar_policy_set_free(b);
	cedar_diags_free(&dd);
}

static void formatting(void)
{
	const char *in =
		"@id(\"ws\")  permit(principal,action in [Action::\"FileOpen\",Action::\"FileOpenReadOnly\"],resource in Dir::\"/w/\")when{resource.a like \"*.x\\*\"&&!(context has a.b)||[1,-2]=={\"a b\":1}[\"a b\"]};\n";
	const char *want =
		"@id(\"ws\")\n"
		"permit (\n"
		"  principal,\n"
		"  action in [Action::\"FileOpen\", Action::\"FileOpenReadOnly\"],\n"
		"  resource in Dir::\"/w/\"\n"
		")\n"
		"when { resource.a like \"*.x\\*\" && !(context has a.b) || [1, -2] == {\"a b\": 1}[\"a b\"] };\n";
	struct cedar_policy_set *ps;
	struct cedar_diags dd = { 0 };

	cedar_parse(in, strlen(in), 0, &ps, &dd);
	char *out = cedar_format(ps);

	is_str(out, want, "canonical layout, minimal parentheses");
	free(out);
	cedar_policy_set_free(ps);

	roundtrip(in);
	roundtrip("// leading\npermit(principal, action, resource); // after\n// end\n");
	roundtrip("permit(principal, action, resource) when { (1 + 2) * 3 == -(4) && - -5 == 5 };");
	roundtrip(
		"forbid(principal is User in Group::\"a\", action, resource) unless { if context.x then (if true then 1 else 2) == 1 else false };");
	roundtrip("permit(principal, action, resource) when { !!!!(!true) || (!!true) };");
	roundtrip(
		"permit(principal, action, resource) when { \"\\u{0}\\n\\t\\\"é\\u{1f600}\" like \"\\u{2a}\\*\" };");
	roundtrip(
		"permit(principal, action, resource) when { principal has \"if\" && principal[\"if\"] && {\"if\": 1}.a };");
	roundtrip(
		"permit(principal, action, resource) when { (principal is User) == (1 in [2]) && [].isEmpty() && [1].containsAll([1]) };");
	roundtrip(
		"@a @b(\"x\") permit(principal, action == Action::\"x\", resource == File::\"/a\");\n// tail\n");
	cedar_diags_free(&dd);
}

int main(void)
{
	diagnostics();
	bounds();
	formatting();
	cedar_diags_free(&d);
	return done_testing();
}
