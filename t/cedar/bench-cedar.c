/*
 * bench-cedar.c: leash's side of scripts/bench-cedar.
 *
 *	bench-cedar parse FILE		best-of-5 parse time of FILE (ms), and its policy count
 *	bench-cedar decide FILE REQS	ns per decision over the requests (JSON Lines of
 *					{"principal","action","resource","server"} uid strings
 *					split as Type and id), repeated for at least a second
 *
 * A decision is what a module pays per request: build the request's entities
 * with the implied hierarchy (cedar_entities_imply), authorize, free. The allow
 * count is printed so the script can check both engines decided the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cedar/cedar.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len + 1);
	if (buf && fread(buf, 1, *len, f) != *len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static struct cedar_policy_set *load(const char *path, size_t *len, char **text)
{
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };

	*text = slurp(path, len);
	if (!*text || cedar_parse(*text, *len, 0, &ps, &d) < 0) {
		cedar_diags_print(stderr, &d, path);
		exit(1);
	}
	cedar_diags_free(&d);
	return ps;
}

struct req {
	char *pt, *pid, *aid, *rt, *rid, *server;
};

static char *get(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? strdup(s) : NULL;
}

int main(int argc, char **argv)
{
	size_t len;
	char *text;

	if (argc == 3 && !strcmp(argv[1], "parse")) {
		double best = 1e9;
		size_t n = 0;

		for (int i = 0; i < 5; i++) {
			double t0 = now();
			struct cedar_policy_set *ps = load(argv[2], &len, &text);
			double t = now() - t0;

			n = cedar_policy_count(ps);
			best = t < best ? t : best;
			cedar_policy_set_free(ps);
			free(text);
		}
		printf("{\"policies\":%zu,\"bytes\":%zu,\"parse_ms\":%.3f}\n", n, len, best * 1e3);
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "decide")) {
		fprintf(stderr, "usage: bench-cedar parse FILE | decide FILE REQUESTS\n");
		return 2;
	}
	struct cedar_policy_set *ps = load(argv[2], &len, &text);
	FILE *f = fopen(argv[3], "r");
	struct req *rq = NULL;
	size_t nrq = 0, cap = 0;
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);

		if (!o)
			continue;
		if (nrq == cap) {
			cap = cap ? cap * 2 : 256;
			rq = realloc(rq, cap * sizeof(*rq));
		}
		rq[nrq++] = (struct req){ get(o, "ptype"), get(o, "pid"), get(o, "action"),
					  get(o, "rtype"), get(o, "rid"), get(o, "server") };
		json_decref(o);
	}
	if (f)
		fclose(f);
	if (!nrq)
		return 1;
	size_t decisions = 0, allows = 0, first_allows = 0;
	double t0 = now();

	while (now() - t0 < 1.0 || decisions < nrq) {
		for (size_t i = 0; i < nrq; i++) {
			struct cedar_entities *es = cedar_entities_new();
			struct cedar_response r;
			struct cedar_request q = { rq[i].pt, rq[i].pid, NULL, rq[i].aid,
						   rq[i].rt, rq[i].rid, NULL };

			cedar_entities_imply(es, rq[i].rt, rq[i].rid, rq[i].server);
			cedar_entities_imply(es, "Action", rq[i].aid, NULL);
			if (cedar_authorize(ps, es, &q, &r) == 0 && r.allow) {
				allows++;
				if (decisions < nrq)
					first_allows++;
			}
			decisions++;
			cedar_response_free(&r);
			cedar_entities_free(es);
		}
	}
	double t = now() - t0;

	printf("{\"policies\":%zu,\"requests\":%zu,\"decisions\":%zu,\"ns_per_decision\":%.0f,"
	       "\"allows\":%zu}\n",
	       cedar_policy_count(ps), nrq, decisions, t * 1e9 / decisions, first_allows);
	(void)allows;
	cedar_policy_set_free(ps);
	free(text);
	return 0;
}
