/* proxy_secret.c: header rules (HttpRewrite) and secrets, at the proxy.
 *
 * A secret is named on the command line (--secret NAME=HOST[,HOST]); its
 * real value comes from leash's own environment or a --secrets FILE
 * (NAME=VALUE lines), never from the policy text. The agent's environment
 * gets NAME=leash-placeholder-<random> instead. In a request head, a
 * placeholder is swapped for the real value only when the request goes,
 * over TLS, to a host the secret is bound to (the verified destination,
 * after NetworkConnect allowed it); a placeholder on its way anywhere else
 * refuses the request (403) and is recorded as a high-severity event with
 * the secret's name.
 *
 * HttpRewrite rules set a header on requests to their hosts:
 *
 *	permit (principal, action == Action::"HttpRewrite", resource in Host::"api.x.com")
 *	when { context.header == "Authorization" && context.value == "Bearer ${X_TOKEN}" };
 *
 * ${NAME} in the value stands for secret NAME, and the rule fires only
 * toward a host that secret is bound to. Events name the rules that fired
 * (policy ids), never the values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "cedar/cedar.h"
#include "policy.h"
#include "proxy_int.h"

#define PLACEHOLDER_PREFIX "leash-placeholder-"

static const struct proxy_secret *secret_named(const char *name, size_t n)
{
	const struct proxy_opts *o = proxy_options();

	for (int i = 0; i < o->nsecrets; i++)
		if (strlen(o->secrets[i].name) == n && strncmp(o->secrets[i].name, name, n) == 0)
			return &o->secrets[i];
	return NULL;
}

static bool secret_bound(const struct proxy_secret *s, const char *host)
{
	for (int i = 0; i < s->nhosts; i++)
		if (proxy_host_matches(s->hosts[i], host))
			return true;
	return false;
}

/* Whether rule target T covers HOST:PORT. */
static bool target_covers(const struct cedar_target *t, const char *host, uint16_t port)
{
	char hp[300];

	switch (t->op) {
	case CEDAR_TARGET_ANY:
		return true;
	case CEDAR_TARGET_IS:
		return strcmp(t->type, "Host") == 0;
	case CEDAR_TARGET_EQ:
	case CEDAR_TARGET_IN:
		break;
	}
	if (strcmp(t->type, "Host") != 0)
		return false;
	snprintf(hp, sizeof(hp), "%s:%u", host, port);
	if (strcasecmp(t->id, hp) == 0)
		return true;
	if (t->op == CEDAR_TARGET_EQ)
		return strcasecmp(t->id, host) == 0;
	return proxy_host_matches(t->id, host);
}

/* VALUE with each ${NAME} replaced by secret NAME's value; NULL (and *BAD
 * set to the name) when a named secret is unknown or not bound to HOST. */
static char *expand(const char *value, const char *host, const char **bad, size_t *badlen)
{
	size_t cap = strlen(value) + 1, n = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (const char *p = value; *p;) {
		const char *end;
		const struct proxy_secret *s;
		const char *add = p;
		size_t alen = 1;

		if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
			s = secret_named(p + 2, end - p - 2);
			if (!s || !secret_bound(s, host)) {
				*bad = p + 2;
				*badlen = end - p - 2;
				free(out);
				return NULL;
			}
			add = s->value;
			alen = strlen(s->value);
			p = end + 1;
		} else {
			p++;
		}
		if (n + alen + 1 > cap) {
			char *o2;

			cap = (n + alen + 1) * 2;
			o2 = realloc(out, cap);
			if (!o2) {
				free(out);
				return NULL;
			}
			out = o2;
		}
		memcpy(out + n, add, alen);
		n += alen;
	}
	out[n] = '\0';
	return out;
}

static int set_header(struct proxy_req *r, const char *name, char *value)
{
	struct proxy_header *h;

	for (size_t i = 0; i < r->nh; i++)
		if (r->h[i].name && strcasecmp(r->h[i].name, name) == 0) {
			free(r->h[i].value);
			r->h[i].value = value;
			r->h[i].vlen = strlen(value);
			return 0;
		}
	h = realloc(r->h, (r->nh + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	r->h = h;
	h = &r->h[r->nh];
	h->name = strdup(name);
	if (!h->name)
		return -ENOMEM;
	h->nlen = strlen(name);
	h->value = value;
	h->vlen = strlen(value);
	r->nh++;
	return 0;
}

static int apply_rules(struct proxy_conn *c, char *why, size_t whylen)
{
	const struct policy *p = policy_current();
	struct proxy_req *r = &c->req;
	struct cedar_rules rules;
	int status = 0;

	if (!p || cedar_rules_for_action(p->ps, "HttpRewrite", &rules) < 0)
		return 0;
	for (size_t i = 0; i < rules.n && !status; i++) {
		const struct cedar_rule *rule = &rules.v[i];
		const char *header = NULL, *value = NULL, *bad = NULL;
		size_t badlen = 0;
		bool covers = false;
		char *v;

		if (rule->forbid)
			continue;
		for (size_t k = 0; k < rule->nctx; k++) {
			if (strcmp(rule->ctx_keys[k], "header") == 0)
				header = rule->ctx_values[k];
			else if (strcmp(rule->ctx_keys[k], "value") == 0)
				value = rule->ctx_values[k];
		}
		for (size_t k = 0; k < rule->ntargets && !covers; k++)
			covers = target_covers(&rule->targets[k], r->host, r->port);
		if (!header || !value || !covers)
			continue;
		if (strstr(value, "${") && !c->tls) {
			snprintf(why, whylen,
				 "leash: rule %s puts a secret in a header: only over https",
				 rule->policy_id);
			status = 403;
			break;
		}
		v = expand(value, r->host, &bad, &badlen);
		if (!v && bad) {
			snprintf(why, whylen,
				 "leash: rule %s names secret '%.*s', which is not bound to %s",
				 rule->policy_id, (int)badlen, bad, r->host);
			status = 403;
			break;
		}
		if (!v || set_header(r, header, v) < 0) {
			free(v);
			status = 502;
			snprintf(why, whylen, "leash: out of memory");
			break;
		}
		if (!r->rules)
			r->rules = json_array();
		json_array_append_new(r->rules, json_string(rule->policy_id));
	}
	cedar_rules_free(&rules);
	return status;
}

/* Swaps the placeholder of S in *TEXT for its value (a new string). */
static int swap(char **text, const struct proxy_secret *s)
{
	size_t pl = strlen(s->placeholder), vl = strlen(s->value), n = 0;
	char *out, *hit;
	const char *p = *text;
	size_t count = 0;

	for (const char *q = p; (q = strstr(q, s->placeholder)); q += pl)
		count++;
	out = malloc(strlen(p) + count * vl + 1);
	if (!out)
		return -ENOMEM;
	while ((hit = strstr(p, s->placeholder))) {
		memcpy(out + n, p, hit - p);
		n += hit - p;
		memcpy(out + n, s->value, vl);
		n += vl;
		p = hit + pl;
	}
	strcpy(out + n, p);
	free(*text);
	*text = out;
	return 0;
}

static int swap_placeholders(struct proxy_conn *c, char *why, size_t whylen)
{
	const struct proxy_opts *o = proxy_options();
	struct proxy_req *r = &c->req;

	for (int i = 0; i < o->nsecrets; i++) {
		const struct proxy_secret *s = &o->secrets[i];
		bool in_path = strstr(r->path, s->placeholder) != NULL, found = in_path;

		for (size_t k = 0; k < r->nh && !found; k++)
			found = r->h[k].value && strstr(r->h[k].value, s->placeholder);
		if (!found)
			continue;
		if (!c->tls || !secret_bound(s, r->host) || in_path) {
			free(r->blocked);
			r->blocked = strdup(s->name);
			snprintf(why, whylen,
				 "leash: the placeholder of secret %s may not go to %s%s", s->name,
				 r->host,
				 in_path  ? " (in the URL)"
				 : c->tls ? ""
					  : " (plain http)");
			return 403;
		}
		for (size_t k = 0; k < r->nh; k++)
			if (r->h[k].value && strstr(r->h[k].value, s->placeholder) &&
			    swap(&r->h[k].value, s) < 0)
				return 502;
		if (!r->rules)
			r->rules = json_array();
		{
			char label[300];

			snprintf(label, sizeof(label), "secret:%s", s->name);
			json_array_append_new(r->rules, json_string(label));
		}
	}
	return 0;
}

int proxy_secret_apply(struct proxy_conn *c, char *why, size_t whylen)
{
	int status = swap_placeholders(c, why, whylen);

	return status ? status : apply_rules(c, why, whylen);
}

/* ---- building the secrets -------------------------------------------------- */

static char *file_value(const char *file, const char *name)
{
	FILE *f = file ? fopen(file, "re") : NULL;
	size_t nl = strlen(name), cap = 0;
	char *line = NULL, *val = NULL;
	ssize_t n;

	if (!f)
		return NULL;
	while (!val && (n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strncmp(line, name, nl) == 0 && line[nl] == '=')
			val = strdup(line + nl + 1);
	}
	free(line);
	fclose(f);
	return val;
}

int proxy_secrets_build(char *const *specs, int n, const char *file, struct proxy_secret **out,
			char *err, size_t errlen)
{
	struct proxy_secret *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(specs[i], '=');
		char *hosts, *save = NULL;
		unsigned char rnd[16];
		char hex[33];

		v[i].name = strndup(specs[i], eq - specs[i]);
		v[i].value = file_value(file, v[i].name);
		if (!v[i].value && getenv(v[i].name))
			v[i].value = strdup(getenv(v[i].name));
		if (!v[i].value || !v[i].value[0]) {
			snprintf(
				err, errlen,
				"--secret %s: no value (set it in leash's environment or --secrets FILE)",
				v[i].name);
			proxy_secrets_free(v, i + 1);
			return -EINVAL;
		}
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			proxy_secrets_free(v, i + 1);
			return -EIO;
		}
		for (int k = 0; k < 16; k++)
			sprintf(hex + 2 * k, "%02x", rnd[k]);
		if (asprintf(&v[i].placeholder, PLACEHOLDER_PREFIX "%s", hex) < 0) {
			proxy_secrets_free(v, i + 1);
			return -ENOMEM;
		}
		hosts = strdup(eq + 1);
		for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
			char **nh = realloc(v[i].hosts, (v[i].nhosts + 1) * sizeof(*nh));

			if (!nh)
				break;
			v[i].hosts = nh;
			v[i].hosts[v[i].nhosts++] = strdup(h);
		}
		free(hosts);
	}
	*out = v;
	return 0;
}

void proxy_secrets_free(struct proxy_secret *v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++) {
		if (v[i].value)
			explicit_bzero(v[i].value, strlen(v[i].value));
		free(v[i].name);
		free(v[i].value);
		free(v[i].placeholder);
		for (int k = 0; k < v[i].nhosts; k++)
			free(v[i].hosts[k]);
		free(v[i].hosts);
	}
	free(v);
}
