/*
 * fuzz-cedar.c: libFuzzer target for the Cedar engine (`make fuzz`).
 *
 * The input is policy text. Every input goes through the parser; a text that
 * parses is also validated, formatted (and the formatter's output must parse
 * and format to itself: a broken invariant aborts), asked for completions at a
 * few cursors, evaluated against a fixed entity store and two requests (and
 * explained, and listed as rules for enforcement), so
 * the evaluator sees every expression the fuzzer can make. Any crash, leak or
 * undefined behaviour is a finding (ASan/UBSan, -fno-sanitize-recover).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"

static struct cedar_entities *es;
static json_t *ctx;

static void setup(void)
{
	static const char *ents =
		"[{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"attrs\":{\"n\":1,\"s\":\"x\",\"t\":[1,\"a\"],"
		"\"r\":{\"e\":{\"__entity\":{\"type\":\"User\",\"id\":\"b\"}}}},"
		"\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]},"
		"{\"uid\":{\"type\":\"Group\",\"id\":\"g\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"h\"}]}]";
	json_error_t je;
	json_t *j = json_loads(ents, 0, &je);
	char err[128];

	es = cedar_entities_new();
	if (!j || cedar_entities_add_json(es, j, err, sizeof(err)) < 0)
		abort();
	json_decref(j);
	cedar_entities_imply(es, "File", "/w/a/b.c", NULL);
	cedar_entities_imply(es, "Host", "api.github.com:443", NULL);
	cedar_entities_imply(es, "Action", "FileOpenReadOnly", NULL);
	ctx = json_pack("{s:s, s:s, s:i, s:[i,s]}", "header", "Authorization", "value", "x", "n",
			-3, "l", 1, "a");
}

static void roundtrip(const struct cedar_policy_set *ps)
{
	struct cedar_policy_set *again = NULL, *third = NULL;
	struct cedar_diags d = { 0 };
	char *f1 = cedar_format(ps), *f2 = NULL;

	if (!f1)
		return;
	if (cedar_parse(f1, strlen(f1), CEDAR_PARSE_RAW_IDS, &again, &d) < 0) {
		fprintf(stderr, "formatted text does not parse:\n%s\n", f1);
		cedar_diags_print(stderr, &d, "fmt");
		abort();
	}
	f2 = cedar_format(again);
	if (!f2 || strcmp(f1, f2) != 0) {
		fprintf(stderr, "fmt is not a fixed point:\n%s\n---\n%s\n", f1, f2 ? f2 : "(null)");
		abort();
	}
	if (cedar_policy_count(again) != cedar_policy_count(ps))
		abort();
	cedar_policy_set_free(third);
	cedar_policy_set_free(again);
	cedar_diags_free(&d);
	free(f1);
	free(f2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };
	const char *text = (const char *)data;

	if (!es)
		setup();
	for (size_t cur = 0; cur <= size; cur += size / 3 + 1) {
		struct cedar_completion c;

		if (cedar_complete(text, size, cur, NULL, &c) == 0)
			cedar_completion_free(&c);
	}
	if (cedar_parse(text, size, CEDAR_PARSE_RAW_IDS, &ps, &d) == 0) {
		struct cedar_response r;
		struct cedar_rules rules;

		cedar_validate(ps, text, size, &d);
		roundtrip(ps);
		struct cedar_request rq = { "User", "a",	NULL, "FileOpenReadOnly",
					    "File", "/w/a/b.c", ctx };

		if (cedar_authorize(ps, es, &rq, &r) == 0 && r.nreasons && !ps)
			abort();
		cedar_response_free(&r);
		rq.principal_id = "nobody";
		rq.resource_type = "Host";
		rq.resource_id = "api.github.com:443";
		cedar_authorize_open(ps, es, &rq, true, &r);
		cedar_response_free(&r);
		if (cedar_rules_for_action(ps, "FileOpenReadOnly", &rules) == 0)
			cedar_rules_free(&rules);
		struct cedar_explanation *x;
		size_t nx;

		if (cedar_explain(ps, es, &rq, &x, &nx) == 0)
			cedar_explanations_free(x, nx);
	}
	json_t *j = cedar_diags_json(&d);

	json_decref(j);
	cedar_diags_free(&d);
	cedar_policy_set_free(ps);
	return 0;
}
