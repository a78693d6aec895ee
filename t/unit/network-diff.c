/* network-diff.c: the network module's compiled policy against the Cedar
 * evaluator.
 *
 * First fixed checks of the compiler (each rule form, what it reports, what
 * enforce mode refuses), then a differential test: random NetworkConnect
 * policies (IPv4 and IPv6 addresses, CIDR ranges, address:port, "*", host
 * names, non-canonical spellings, IPv4-mapped IPv6; permit and forbid; in
 * scopes, == scopes and `when { resource in [..] }`) and random connections
 * are decided (a) by network_compile + network_set_decide, the longest-prefix
 * match the kernel runs, over the exact table the kernel trie is filled from,
 * and (b) by cedar_authorize on the implied entities (plus the CIDR parents
 * of network_imply_cidr). Decisions and the policy ids that decided must be
 * equal; a disagreement is shrunk to a minimal policy and printed.
 *
 * NETWORK_DIFF_ROUNDS overrides the number of random policies.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar.h"
#include "events.h"
#include "network.h"
#include "network-gen.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------------ */

static struct cedar_policy_set *parse(const char *text)
{
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };

	if (cedar_parse(text, strlen(text), 0, &ps, &d) < 0) {
		cedar_diags_print(stdout, &d, "policy");
		ps = NULL;
	}
	cedar_diags_free(&d);
	return ps;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "allow [a,b]" or "deny [..]", ids sorted. Caller frees. */
static char *verdict_text(bool allow, const char **ids, size_t n)
{
	size_t len = 16;
	char *s;

	if (n)
		qsort(ids, n, sizeof(*ids), id_cmp);
	for (size_t i = 0; i < n; i++)
		len += strlen(ids[i]) + 1;
	s = malloc(len);
	strcpy(s, allow ? "allow [" : "deny [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, ids[i]);
	}
	strcat(s, "]");
	return s;
}

static char *compiled(const struct net_set *set, const struct conn *c)
{
	const char *ids[256];
	json_t *pol = NULL;
	bool allow;
	size_t n;
	char *s;

	network_set_decide(set, c->family, c->addr, c->port, &allow, &pol);
	n = json_array_size(pol);
	for (size_t i = 0; i < n && i < 256; i++)
		ids[i] = json_string_value(json_array_get(pol, i));
	s = verdict_text(allow, ids, n < 256 ? n : 256);
	json_decref(pol);
	return s;
}

static char *evaluated(const struct cedar_policy_set *ps, const struct conn *c)
{
	struct cedar_entities *es = cedar_entities_new();
	struct cedar_response r = { 0 };
	char rid[96];
	char *s;

	network_resource_id(rid, sizeof(rid), c->family, c->addr, c->port);
	cedar_entities_imply(es, "Host", rid, NULL);
	network_imply_cidr(es, rid);
	struct cedar_request rq = {
		.principal_type = "Agent",
		.principal_id = "agent",
		.action_id = "NetworkConnect",
		.resource_type = "Host",
		.resource_id = rid,
	};
	if (cedar_authorize(ps, es, &rq, &r) < 0)
		s = strdup(r.error ? r.error : "error");
	else
		s = verdict_text(r.allow, r.reasons, r.nreasons);
	cedar_response_free(&r);
	cedar_entities_free(es);
	return s;
}

/* Both answers for TEXT and C; true when they agree. */
static bool agree(const char *text, const struct conn *c, char **a, char **b)
{
	struct cedar_policy_set *ps = parse(text);
	struct net_set *set = NULL;
	json_t *report = NULL;
	char err[512];
	bool same;

	*a = *b = NULL;
	if (!ps)
		return false;
	if (network_compile(ps, MODE_ENFORCE, &set, &report, err, sizeof(err)) < 0) {
		*a = strdup(err);
		*b = strdup("");
		cedar_policy_set_free(ps);
		return false;
	}
	*a = compiled(set, c);
	*b = evaluated(ps, c);
	same = strcmp(*a, *b) == 0;
	network_set_free(set);
	json_decref(report);
	cedar_policy_set_free(ps);
	return same;
}

/* ---- fixed checks ------------------------------------------------------- */

static const char *decide(const char *text, const char *addr, uint16_t port)
{
	static char out[512];
	struct cedar_policy_set *ps = parse(text);
	struct net_set *set = NULL;
	json_t *report = NULL;
	struct conn c = conn_of(addr, port);
	char err[512], *s;

	if (!ps)
		return "parse error";
	if (network_compile(ps, MODE_ENFORCE, &set, &report, err, sizeof(err)) < 0) {
		snprintf(out, sizeof(out), "error: %s", err);
		cedar_policy_set_free(ps);
		return out;
	}
	s = compiled(set, &c);
	snprintf(out, sizeof(out), "%s", s);
	free(s);
	network_set_free(set);
	json_decref(report);
	cedar_policy_set_free(ps);
	return out;
}

static void test_forms(void)
{
	const char *p;

	p = "@id(\"a\") permit (principal, " NC ", resource in Host::\"10.0.0.0/8\");";
	is_str(decide(p, "10.200.3.4", 80), "allow [a]", "a CIDR covers an address inside it");
	is_str(decide(p, "11.0.0.1", 80), "deny []", "and not one outside it (default deny)");

	p = "@id(\"a\") permit (principal, " NC ", resource in Host::\"1.2.3.4:443\");";
	is_str(decide(p, "1.2.3.4", 443), "allow [a]", "address:port allows that port");
	is_str(decide(p, "1.2.3.4", 80), "deny []", "and no other port");

	p = "@id(\"a\") permit (principal, " NC ", resource == Host::\"[::1]:8080\");";
	is_str(decide(p, "::1", 8080), "allow [a]", "== on [v6]:port");
	is_str(decide(p, "::2", 8080), "deny []", "another v6 address is denied");

	p = "@id(\"a\") permit (principal, " NC ", resource);"
	    "@id(\"f\") forbid (principal, " NC ", resource in Host::\"192.168.0.0/16\");"
	    "@id(\"g\") forbid (principal, " NC ", resource in Host::\"192.168.1.1:22\");";
	is_str(decide(p, "8.8.8.8", 53), "allow [a]", "permit all allows the rest");
	is_str(decide(p, "192.168.5.5", 80), "deny [f]", "a forbid CIDR overrides permit all");
	is_str(decide(p, "192.168.1.1", 22), "deny [f,g]", "every forbid that matches is named");

	p = "@id(\"a\") permit (principal, " NC ", resource in Host::\"*\");"
	    "@id(\"f\") forbid (principal, " NC ", resource in Host::\"[2001:db8::]/32\");";
	is_str(decide(p, "2001:db8::5", 1), "deny [f]", "a v6 CIDR forbid");
	is_str(decide(p, "2001:db9::5", 1), "allow [a]", "outside the v6 range");

	p = "@id(\"a\") permit (principal, " NC ", resource in Host::\"[::]/0\");";
	is_str(decide(p, "1.2.3.4", 1), "deny []", "a v6 range never covers an IPv4 address");

	p = "@id(\"a\") permit (principal, " NC ", resource == Host::\"1.2.3.4\");";
	is_str(decide(p, "1.2.3.4", 80), "deny []",
	       "== an address without port matches no connection");

	p = "@id(\"a\") permit (principal, " NC ", resource in Host::\"10.1.2.3/8\");";
	is_str(decide(p, "10.1.2.3", 80), "deny []",
	       "a CIDR with host bits set is never an implied parent");

	p = "@id(\"a\") permit (principal, " NC
	    ", resource) when { resource in [Host::\"1.1.1.1\", Host::\"2.2.2.0/24\"] };";
	is_str(decide(p, "2.2.2.9", 5), "allow [a]", "when { resource in [..] } is compiled");

	p = "@id(\"a\") permit (principal == Agent::\"x\", " NC ", resource);";
	ok(strncmp(decide(p, "1.1.1.1", 1), "error: network: cannot enforce 'a'", 34) == 0,
	   "enforce refuses a principal constraint, naming the policy: %s",
	   decide(p, "1.1.1.1", 1));
	p = "@id(\"a\") permit (principal, " NC ", resource) when { context.pid > 3 };";
	ok(strncmp(decide(p, "1.1.1.1", 1), "error:", 6) == 0,
	   "enforce refuses any other condition");
}

static void test_reports(void)
{
	const char *p =
		"@id(\"h\") permit (principal, " NC ", resource in Host::\"github.com\");"
		"@id(\"w\") forbid (principal, " NC ", resource in Host::\"*.evil.com\");"
		"@id(\"r\") permit (principal, " NC ", resource) when { context.pid == 1 };"
		"@id(\"m\") permit (principal, " NC ", resource in Host::\"[::ffff:1.2.3.4]\");";
	struct cedar_policy_set *ps = parse(p);
	struct net_set *set = NULL;
	json_t *report = NULL;
	char err[512] = "", *txt;
	int rc;

	rc = network_compile(ps, MODE_SHADOW, &set, &report, err, sizeof(err));
	is_int(rc, 0, "shadow mode compiles a policy with conditions (the evaluator decides)");
	is_int(json_array_size(report), 4,
	       "host names, the condition and the mapped address are reported");
	txt = json_dumps(report, JSON_COMPACT);
	ok(txt && strstr(txt, "\"policy\":\"h\"") && strstr(txt, "\"policy\":\"w\"") &&
		   strstr(txt, "\"policy\":\"r\"") && strstr(txt, "IPv4-mapped"),
	   "each report names its policy and why");
	if (txt)
		diag("%s", txt);
	free(txt);
	is_int(network_set_entries(set), 1, "record/shadow put one allow-all entry in the kernel");
	network_set_free(set);
	json_decref(report);
	cedar_policy_set_free(ps);
}

/* ---- the differential test ---------------------------------------------- */

/* Drops rules while the disagreement stays; prints what is left. */
static void shrink_and_print(char **rules, unsigned n, const struct conn *c)
{
	static char empty[1];
	char text[16384], *a, *b, rid[96];

	for (unsigned i = 0; i < n;) {
		char *saved = rules[i];

		text[0] = '\0';
		rules[i] = empty;
		for (unsigned j = 0; j < n; j++)
			strcat(text, rules[j]);
		if (!agree(text, c, &a, &b)) {
			free(saved);
			memmove(&rules[i], &rules[i + 1], (n - i - 1) * sizeof(*rules));
			n--;
		} else {
			rules[i] = saved;
			i++;
		}
		free(a);
		free(b);
	}
	text[0] = '\0';
	for (unsigned j = 0; j < n; j++)
		strcat(text, rules[j]);
	agree(text, c, &a, &b);
	network_resource_id(rid, sizeof(rid), c->family, c->addr, c->port);
	diag("minimal reproducer: resource Host::\"%s\"", rid);
	diag("policy:");
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		diag("  %s", line);
	diag("compiled: %s", a);
	diag("evaluator: %s", b);
	free(a);
	free(b);
	for (unsigned j = 0; j < n; j++)
		free(rules[j]);
}

static void test_differential(void)
{
	const char *env = getenv("NETWORK_DIFF_ROUNDS");
	unsigned rounds = env ? (unsigned)atoi(env) : 400, checked = 0, bad = 0;

	for (unsigned round = 0; round < rounds && !bad; round++) {
		unsigned n = 1 + rnd(10);
		char *rules[16];
		char *text = rand_policy(n, rules);
		struct cedar_policy_set *ps = parse(text);
		struct net_set *set = NULL;
		json_t *report = NULL;
		char err[512];

		if (!ps || network_compile(ps, MODE_ENFORCE, &set, &report, err, sizeof(err)) < 0) {
			diag("cannot compile:\n%s", text);
			bad++;
		}
		for (unsigned q = 0; set && q < 60 && !bad; q++) {
			struct conn c;
			char *a, *b;

			rand_conn(&c);
			a = compiled(set, &c);
			b = evaluated(ps, &c);
			checked++;
			if (strcmp(a, b) != 0) {
				bad++;
				shrink_and_print(rules, n, &c);
				n = 0;
			}
			free(a);
			free(b);
		}
		for (unsigned j = 0; j < n; j++)
			free(rules[j]);
		network_set_free(set);
		json_decref(report);
		cedar_policy_set_free(ps);
		free(text);
	}
	ok(bad == 0, "compiled and evaluator agree on %u random connections (%u policies)", checked,
	   rounds);
}

int main(void)
{
	test_forms();
	test_reports();
	test_differential();
	return done_testing();
}
