/* network.c: the network module, NetworkConnect in the kernel.
 *
 * bpf/network.bpf.c decides every connect (TCP, UDP) and every UDP send
 * that names an address, for the session cgroup only, from an LPM trie this
 * file compiles from the policy (see the design comment there and the key
 * layout in events.h). This file:
 *
 *   - compiles cedar_rules_for_action(ps, "NetworkConnect") into a sorted
 *     table of prefixes (struct net_set): IP literals, CIDR ranges,
 *     address:port, "*". Each entry keeps the rules stated at that prefix
 *     and a link to its nearest ancestor entry, so the rules that decided a
 *     connect are named by walking the chain, and the kernel value of each
 *     entry carries the union (deny overrides permit) of its whole chain;
 *   - on policy_prepare builds a new trie map sized to the policy (no rule
 *     count cap), and on policy_commit swaps it into policy_map's slot (one
 *     atomic pointer: no connect is decided by neither policy). Record and
 *     shadow mode get a one-entry trie that allows everything;
 *   - reports what the kernel cannot apply: host names (their meaning comes
 *     with the proxy/DNS work) and rules with conditions or principal
 *     constraints (refused in enforce mode) become a policy.unenforced event
 *     and a warning, never a silent drop;
 *   - turns the ring buffer's records into network.connect/network.sendmsg
 *     events: enforce mode carries the kernel's decision and the policy
 *     ids; shadow mode asks the Cedar evaluator (policy_decide) and records
 *     would_deny; record mode allows;
 *   - keeps leash's own endpoints (network_protect) denied in every mode;
 *   - puts the transparent proxy in force (network_set_proxy): the ports
 *     it takes, where it listens, and the original destinations it reads
 *     back by client port (network_orig_dst, filled by handle_sockops).
 *   - where the kernel runs the bpf LSM, also loads bpf/network_lsm.bpf.c
 *     (modules/network_lsm.c) on the same maps: it decides by the calling
 *     task's cgroup, so a socket passed in from outside is decided too.
 *
 * Compiled sets of the last few generations are kept, so an event read
 * after a policy change still names the rules of the policy that decided it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cedar/cedar.h"
#include "bpfring.h"
#include "events.h"
#include "log.h"
#include "lsm.h"
#include "module.h"
#include "network.h"
#include "network_lsm.h"
#include "policy.h"
#include "reactor.h"
#include "network.skel.h"

/* ---- compiled sets ------------------------------------------------------ */

struct net_entry {
	struct net_key key; /* masked to key.prefixlen */
	int parent; /* nearest ancestor entry, or -1 */
	uint32_t first, n; /* this entry's own rules: refs[first .. first+n) */
	bool forbid, permit; /* a forbid / a permit matches, along the chain */
};

struct net_set {
	uint32_t gen;
	enum mode mode;
	struct net_entry *e;
	size_t n;
	uint32_t *refs; /* rule indexes, grouped by entry */
	char **ids; /* per rule: the policy id (owned) */
	bool *forbid; /* per rule: its effect */
	size_t nrules;
	uint16_t lens[NET_PLEN_PORT + 1]; /* prefix lengths present, longest first */
	int nlens;
	struct net_name_rule *names; /* rules on host names, for DNS answers */
	size_t nnames;
	int fd; /* the kernel trie, or -1 (kept open while in force) */
};

/* A rule on a host name: PATTERN is "name", "*.domain" or "*" (lower
 * case); PORT is -1 for every port. */
struct net_name_rule {
	char *pattern;
	int port;
	uint32_t rule;
};

/* A (prefix, rule) pair while compiling. */
struct net_pair {
	struct net_key key;
	uint32_t rule;
};

static uint32_t generations;

static void key_mask(struct net_key *k, unsigned plen)
{
	uint8_t *d = &k->family;

	for (unsigned i = 0; i < 20; i++) {
		unsigned lo = i * 8;

		if (plen <= lo)
			d[i] = 0;
		else if (plen < lo + 8)
			d[i] &= (uint8_t)(0xff << (lo + 8 - plen));
	}
	k->prefixlen = plen;
}

static int key_cmp(const void *a, const void *b)
{
	const struct net_key *x = a, *y = b;

	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	return memcmp(&x->family, &y->family, 20);
}

static int pair_cmp(const void *a, const void *b)
{
	const struct net_pair *x = a, *y = b;
	int c = key_cmp(&x->key, &y->key);

	return c ? c : (x->rule > y->rule) - (x->rule < y->rule);
}

/* The entry of S whose key is exactly K, or -1. */
static int set_find(const struct net_set *s, const struct net_key *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = key_cmp(k, &s->e[mid].key);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Longest-prefix match of full key K among lengths shorter than BELOW. */
static int set_match(const struct net_set *s, const struct net_key *k, unsigned below)
{
	for (int i = 0; i < s->nlens; i++) {
		struct net_key m = *k;

		if (s->lens[i] >= below)
			continue;
		key_mask(&m, s->lens[i]);
		int e = set_find(s, &m);

		if (e >= 0)
			return e;
	}
	return -1;
}

void network_resource_id(char *buf, size_t len, int family, const uint8_t *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	if (family == NET_FAMILY_V4) {
		inet_ntop(AF_INET, addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, port);
	}
}

/* ---- Host ids as prefixes ----------------------------------------------- */

enum target_kind {
	T_NOTHING, /* matches no connection (WHY says why, or NULL: nothing to say) */
	T_KEY, /* the connections under KEY */
	T_HOSTNAME, /* a name: the kernel sees only addresses */
};

static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool parse_plen(const char *s, unsigned max, unsigned *plen)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*plen = (unsigned)v;
	return true;
}

/* The canonical text of a prefix, as a request or an implied parent would
 * spell it: "a.b.c.d", "a.b.c.d:p", "a.b.c.d/n", "[v6]", "[v6]:p", "[v6]/n". */
static void prefix_text(char *buf, size_t len, int family, const uint8_t *addr, int plen, int port)
{
	char a[INET6_ADDRSTRLEN];
	const char *open = family == NET_FAMILY_V6 ? "[" : "";
	const char *close = family == NET_FAMILY_V6 ? "]" : "";

	inet_ntop(family == NET_FAMILY_V4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	if (port >= 0)
		snprintf(buf, len, "%s%s%s:%d", open, a, close, port);
	else if (plen >= 0)
		snprintf(buf, len, "%s%s%s/%d", open, a, close, plen);
	else
		snprintf(buf, len, "%s%s%s", open, a, close);
}

/* ::ffff:a.b.c.d (ADDR may be unaligned, so no IN6_IS_ADDR_V4MAPPED) */
static bool v4_mapped(const uint8_t *addr)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(addr, prefix, sizeof(prefix)) == 0;
}

static bool looks_numeric(const char *id)
{
	if (id[0] == '[')
		return true;
	for (const char *c = id; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.' || *c == ':' || *c == '/'))
			return false;
	return *id != '\0';
}

/* Parses an IP literal Host id into K. Returns T_KEY, T_NOTHING (with
 * WHY) when it is not a form a connection can be in, T_HOSTNAME for names. */
static enum target_kind parse_host(const char *id, bool eq, struct net_key *k, char *why,
				   size_t whylen)
{
	char addr_text[INET6_ADDRSTRLEN + 2], canon[128];
	const char *rest;
	int family, port = -1, cidr = -1;
	unsigned plen;
	uint16_t p16;

	memset(k, 0, sizeof(*k));
	if (!looks_numeric(id))
		return T_HOSTNAME;
	if (id[0] == '[') {
		const char *close = strchr(id, ']');

		if (!close || (size_t)(close - id - 1) >= sizeof(addr_text))
			goto malformed;
		memcpy(addr_text, id + 1, close - id - 1);
		addr_text[close - id - 1] = '\0';
		family = NET_FAMILY_V6;
		rest = close + 1;
		if (inet_pton(AF_INET6, addr_text, k->addr) != 1)
			goto malformed;
	} else {
		size_t n = strcspn(id, ":/");

		if (n >= sizeof(addr_text))
			goto malformed;
		memcpy(addr_text, id, n);
		addr_text[n] = '\0';
		family = NET_FAMILY_V4;
		rest = id + n;
		if (inet_pton(AF_INET, addr_text, k->addr) != 1)
			goto malformed;
	}
	if (*rest == ':') {
		if (!parse_port(rest + 1, &p16))
			goto malformed;
		port = p16;
	} else if (*rest == '/') {
		if (!parse_plen(rest + 1, family == NET_FAMILY_V4 ? 32 : 128, &plen))
			goto malformed;
		cidr = (int)plen;
	} else if (*rest) {
		goto malformed;
	}
	k->family = family;
	if (port >= 0) {
		k->port[0] = port >> 8;
		k->port[1] = port & 0xff;
		k->prefixlen = NET_PLEN_PORT;
	} else {
		key_mask(k, NET_PLEN_ADDR(cidr >= 0 ? cidr : family == NET_FAMILY_V4 ? 32 : 128));
	}
	prefix_text(canon, sizeof(canon), family, k->addr, cidr, port);
	if (family == NET_FAMILY_V6 && cidr < 0 && v4_mapped(k->addr)) {
		snprintf(
			why, whylen,
			"never matches: IPv4-mapped addresses are decided as IPv4 (write the IPv4 address)");
		return T_NOTHING;
	}
	if (strcmp(canon, id) != 0) {
		snprintf(why, whylen, "never matches: connections name this address '%s'", canon);
		return T_NOTHING;
	}
	if (eq && port < 0) {
		snprintf(why, whylen,
			 "never matches: a connection's resource always has a port (use `in`)");
		return T_NOTHING;
	}
	return T_KEY;
malformed:
	snprintf(why, whylen, "never matches: not an IP address, CIDR range or address:port");
	return T_NOTHING;
}

static enum target_kind parse_target(const struct cedar_target *t, struct net_key *k, char *why,
				     size_t whylen)
{
	why[0] = '\0';
	memset(k, 0, sizeof(*k));
	switch (t->op) {
	case CEDAR_TARGET_ANY:
		return T_KEY;
	case CEDAR_TARGET_IS:
		return strcmp(t->type, "Host") == 0 ? T_KEY : T_NOTHING;
	case CEDAR_TARGET_EQ:
	case CEDAR_TARGET_IN:
		break;
	}
	if (strcmp(t->type, "Host") != 0)
		return T_NOTHING;
	if (strcmp(t->id, "*") == 0) {
		if (t->op == CEDAR_TARGET_IN)
			return T_KEY;
		snprintf(why, whylen,
			 "never matches: no connection is Host::\"*\" itself (use `in`)");
		return T_NOTHING;
	}
	return parse_host(t->id, t->op == CEDAR_TARGET_EQ, k, why, whylen);
}

/* ---- compiling ---------------------------------------------------------- */

static void report_add(json_t *report, const char *policy, const char *target, const char *why)
{
	json_t *o = json_object();

	if (!o)
		return;
	json_object_set_new(o, "policy", json_string(policy));
	if (target)
		json_object_set_new(o, "target", json_string(target));
	json_object_set_new(o, "why", json_string(why));
	json_array_append_new(report, o);
}

static int pairs_push(struct net_pair **v, size_t *n, size_t *cap, const struct net_key *k,
		      uint32_t rule)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct net_pair *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[*n].key = *k;
	(*v)[(*n)++].rule = rule;
	return 0;
}

/* Turns sorted PAIRS into S's entries, adds the root entry, links parents
 * and computes the chain flags. */
static int set_build(struct net_set *s, const struct net_pair *pairs, size_t npairs)
{
	bool present[NET_PLEN_PORT + 1] = { false };
	size_t i;

	s->e = calloc(npairs + 1, sizeof(*s->e));
	s->refs = calloc(npairs + 1, sizeof(*s->refs));
	if (!s->e || !s->refs)
		return -ENOMEM;
	/* The root: default deny unless rules sit there. */
	if (npairs == 0 || pairs[0].key.prefixlen != 0)
		s->e[s->n++] = (struct net_entry){ .parent = -1 };
	for (i = 0; i < npairs; i++) {
		struct net_entry *last = s->n ? &s->e[s->n - 1] : NULL;

		if (!last || key_cmp(&last->key, &pairs[i].key) != 0) {
			last = &s->e[s->n++];
			*last = (struct net_entry){ .key = pairs[i].key, .parent = -1, .first = i };
		} else if (last->n && s->refs[last->first + last->n - 1] == pairs[i].rule) {
			continue; /* the same rule twice at one prefix */
		}
		if (last->n == 0)
			last->first = i;
		s->refs[last->first + last->n++] = pairs[i].rule;
	}
	for (i = 0; i < s->n; i++)
		present[s->e[i].key.prefixlen] = true;
	for (int l = NET_PLEN_PORT; l >= 0; l--)
		if (present[l])
			s->lens[s->nlens++] = (uint16_t)l;
	/* Entries are sorted by length, so parents come first. */
	for (i = 0; i < s->n; i++) {
		struct net_entry *e = &s->e[i];

		e->parent = e->key.prefixlen ? set_match(s, &e->key, e->key.prefixlen) : -1;
		if (e->parent >= 0) {
			e->forbid = s->e[e->parent].forbid;
			e->permit = s->e[e->parent].permit;
		}
		for (uint32_t r = 0; r < e->n; r++) {
			if (s->forbid[s->refs[e->first + r]])
				e->forbid = true;
			else
				e->permit = true;
		}
	}
	return 0;
}

static int names_push(struct net_set *s, const char *pattern, size_t len, int port, uint32_t rule)
{
	struct net_name_rule *v = realloc(s->names, (s->nnames + 1) * sizeof(*v));
	char *p = strndup(pattern, len);

	if (v)
		s->names = v;
	if (!v || !p) {
		free(p);
		return -ENOMEM;
	}
	for (char *c = p; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	s->names[s->nnames++] = (struct net_name_rule){ .pattern = p, .port = port, .rule = rule };
	return 0;
}

/* Host::"name", "name:port" or "*.domain" as a name rule of S, or WHY it
 * never matches (the implied hierarchy gives "name:port" the parents
 * "name", "*.d" and "*", never "*.d:port"). */
static int compile_name(struct net_set *s, const struct cedar_target *t, uint32_t idx, char *why,
			size_t whylen)
{
	const char *colon = strrchr(t->id, ':');
	uint16_t port;

	why[0] = '\0';
	if (colon && parse_port(colon + 1, &port)) {
		if (t->id[0] == '*') {
			snprintf(
				why, whylen,
				"never matches: a wildcard with a port holds no connection (write Host::\"*.domain\" or name:port)");
			return 0;
		}
		return names_push(s, t->id, colon - t->id, port, idx);
	}
	if (t->op == CEDAR_TARGET_EQ) {
		snprintf(why, whylen,
			 "never matches: a connection's resource always has a port (use `in`)");
		return 0;
	}
	return names_push(s, t->id, strlen(t->id), -1, idx);
}

/* Adds rule R's kernel prefixes to PAIRS and its host names to S, or
 * reports why it has none. */
static int compile_rule(struct net_set *s, const struct cedar_rule *r, uint32_t idx,
			struct net_pair **pairs, size_t *n, size_t *cap, json_t *report)
{
	char why[160];

	for (size_t t = 0; t < r->ntargets; t++) {
		struct net_key k;

		switch (parse_target(&r->targets[t], &k, why, sizeof(why))) {
		case T_KEY:
			if (pairs_push(pairs, n, cap, &k, idx))
				return -ENOMEM;
			/* Every host, named ones included. */
			if (k.prefixlen == 0 && names_push(s, "*", 1, -1, idx))
				return -ENOMEM;
			break;
		case T_HOSTNAME:
			if (compile_name(s, &r->targets[t], idx, why, sizeof(why)) < 0)
				return -ENOMEM;
			report_add(
				report, r->policy_id, r->targets[t].id,
				why[0] ? why
				       : "host name: the kernel decides by address; enforced for the addresses leash's DNS forwarder answered for the name, by name in the proxy");
			break;
		case T_NOTHING:
			if (why[0])
				report_add(report, r->policy_id, r->targets[t].id, why);
			break;
		}
	}
	return 0;
}

int network_compile(const struct cedar_policy_set *ps, enum mode m, struct net_set **out,
		    json_t **report, char *err, size_t errlen)
{
	struct cedar_rules rules = { 0 };
	struct net_pair *pairs = NULL;
	size_t npairs = 0, cap = 0;
	struct net_set *s;
	char residual[512] = "";
	int rc;

	*out = NULL;
	*report = json_array();
	s = calloc(1, sizeof(*s));
	if (!*report || !s || cedar_rules_for_action(ps, "NetworkConnect", &rules) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	s->fd = -1;
	s->mode = m;
	s->ids = calloc(rules.n + 1, sizeof(*s->ids));
	s->forbid = calloc(rules.n + 1, sizeof(*s->forbid));
	if (!s->ids || !s->forbid) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < rules.n; i++) {
		const struct cedar_rule *r = &rules.v[i];

		s->ids[i] = strdup(r->policy_id);
		s->forbid[i] = r->forbid;
		s->nrules = i + 1;
		if (!s->ids[i]) {
			rc = -ENOMEM;
			goto fail;
		}
		if (r->residual || r->nctx) {
			size_t used = strlen(residual);

			snprintf(residual + used, sizeof(residual) - used, "%s'%s'",
				 used ? ", " : "", r->policy_id);
			report_add(
				*report, r->policy_id, NULL,
				"a principal constraint or a condition the kernel cannot evaluate: decided by the evaluator in shadow mode, refused in enforce mode");
			continue;
		}
		rc = compile_rule(s, r, (uint32_t)i, &pairs, &npairs, &cap, *report);
		if (rc)
			goto fail;
	}
	if (m == MODE_ENFORCE && residual[0]) {
		snprintf(
			err, errlen,
			"network: cannot enforce %s in the kernel: NetworkConnect rules must be plain resource scopes (no principal constraint, no other condition); use shadow mode or rewrite them",
			residual);
		rc = -EINVAL;
		goto fail;
	}
	if (npairs)
		qsort(pairs, npairs, sizeof(*pairs), pair_cmp);
	rc = set_build(s, pairs, npairs);
	if (rc)
		goto fail;
	s->gen = ++generations;
	free(pairs);
	cedar_rules_free(&rules);
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "network: out of memory compiling the policy");
	free(pairs);
	cedar_rules_free(&rules);
	network_set_free(s);
	json_decref(*report);
	*report = NULL;
	return rc;
}

void network_set_free(struct net_set *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->nrules; i++)
		free(s->ids[i]);
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].pattern);
	free(s->names);
	free(s->ids);
	free(s->forbid);
	free(s->refs);
	free(s->e);
	free(s);
}

size_t network_set_entries(const struct net_set *s)
{
	return s->mode == MODE_ENFORCE ? s->n : 1;
}

/* The ids that decided at entry E: the forbids along its chain if any,
 * else the permits; each once, in policy text order. */
static json_t *entry_policies(const struct net_set *s, int e)
{
	bool want_forbid = e >= 0 && s->e[e].forbid;
	json_t *a = json_array();
	uint32_t *seen;
	size_t nseen = 0;

	if (!a || e < 0)
		return a;
	seen = calloc(s->nrules + 1, sizeof(*seen));
	if (!seen)
		return a;
	for (int i = e; i >= 0; i = s->e[i].parent) {
		const struct net_entry *x = &s->e[i];

		for (uint32_t r = 0; r < x->n; r++) {
			uint32_t rule = s->refs[x->first + r];
			size_t j;

			if (s->forbid[rule] != want_forbid)
				continue;
			for (j = 0; j < nseen && seen[j] != rule; j++)
				;
			if (j == nseen)
				seen[nseen++] = rule;
		}
	}
	for (size_t i = 1; i < nseen; i++)
		for (size_t j = i; j > 0 && seen[j - 1] > seen[j]; j--) {
			uint32_t t = seen[j];

			seen[j] = seen[j - 1];
			seen[j - 1] = t;
		}
	for (size_t i = 0; i < nseen; i++)
		json_array_append_new(a, json_string(s->ids[seen[i]]));
	free(seen);
	return a;
}

void network_set_decide(const struct net_set *s, int family, const uint8_t *addr, uint16_t port,
			bool *allow, json_t **policies)
{
	struct net_key k = { .prefixlen = NET_PLEN_PORT, .family = family };
	int e;

	memcpy(k.addr, addr, family == NET_FAMILY_V4 ? 4 : 16);
	k.port[0] = port >> 8;
	k.port[1] = port & 0xff;
	e = set_match(s, &k, NET_PLEN_PORT + 1);
	*allow = e >= 0 && !s->e[e].forbid && s->e[e].permit;
	if (policies)
		*policies = entry_policies(s, e);
}

int network_imply_cidr(struct cedar_entities *es, const char *rid)
{
	struct net_key k;
	char why[160], host[INET6_ADDRSTRLEN + 8], buf[128];
	const char *colon = strrchr(rid, ':');
	unsigned bits;

	if (!colon || (size_t)(colon - rid) >= sizeof(host))
		return 0;
	memcpy(host, rid, colon - rid);
	host[colon - rid] = '\0';
	if (parse_host(host, false, &k, why, sizeof(why)) != T_KEY)
		return 0;
	bits = k.family == NET_FAMILY_V4 ? 32 : 128;
	for (unsigned n = 0; n <= bits; n++) {
		struct net_key m = k;

		key_mask(&m, NET_PLEN_ADDR(n));
		prefix_text(buf, sizeof(buf), m.family, m.addr, (int)n, -1);
		if (cedar_entities_add_parent(es, "Host", rid, "Host", buf) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- the kernel side ---------------------------------------------------- */

#define SETS_KEPT 4
#define PROTECT_MAX 256

static struct network_bpf *skel;
static struct bpfring ring;
static struct net_set *kept[SETS_KEPT]; /* kept[0] is in force */
static struct net_protect_key protects[PROTECT_MAX];
static size_t nprotects;

struct binding;
struct dyn_entry;

/* A binding's entries, made for a staged set. */
struct dyn_stage {
	struct binding *b;
	struct dyn_entry *e;
	size_t n;
};

struct net_staged {
	struct net_set *set;
	json_t *report;
	struct dyn_stage *dyn; /* one per binding, in binds[] order */
	size_t ndyn;
};

static int dyn_stage(struct net_staged *st);
static void dyn_stage_commit(struct net_staged *st);
static void dyn_stage_free(struct net_staged *st);

/* ---- names the DNS forwarder answered ----------------------------------- */

/* An address the forwarder gave for names a NetworkConnect rule names
 * becomes trie entries of the policy in force (enforce mode): its /32 (or
 * /128) with the rules on its names that hold every port, and one entry per
 * port a rule names ("name:22"), each carrying the union of those rules
 * and the address rules along its chain, so the longest match still gives
 * deny-overrides. Entries are recomputed from every live name of the
 * address whenever a name is added or expires, and for each new policy
 * (written into the new trie before it is swapped in). */

#define BIND_MAX 4096 /* addresses with live names */
#define BIND_NAMES 8 /* names per address */
#define BIND_GRACE_MS 2000 /* past the TTL, for the connect after a TTL-0 answer */
#define DYN_MAX (4 * BIND_MAX) /* trie room for bindings */

struct bind_name {
	char name[256];
	int64_t expires_ms;
};

/* A trie entry a binding wrote. */
struct dyn_entry {
	struct net_key key;
	uint32_t id; /* its set_id, NET_DYN_BASE + n */
	bool forbid, permit;
	uint32_t *rules; /* the rules that hold it, in the set it was made for */
	size_t nrules;
};

struct binding {
	uint8_t family; /* NET_FAMILY_* */
	uint8_t addr[16];
	struct bind_name names[BIND_NAMES];
	int nnames;
	struct dyn_entry *dyn; /* in the trie in force */
	size_t ndyn;
};

struct rule_list {
	uint32_t *v;
	size_t n, cap;
};

static struct binding **binds;
static size_t nbinds;
static uint32_t dyn_ids;
static size_t dyn_total;
static struct reactor_watch *bind_watch;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the name pattern P ("name", "*.domain", "*") holds NAME. */
static bool pattern_holds(const char *p, const char *name)
{
	size_t pl = strlen(p), nl = strlen(name);

	if (strcmp(p, "*") == 0)
		return true;
	if (pl > 2 && p[0] == '*' && p[1] == '.')
		return nl > pl - 1 && name[nl - (pl - 1)] == '.' &&
		       strcmp(name + nl - (pl - 2), p + 2) == 0;
	return strcmp(p, name) == 0;
}

static int rules_add(struct rule_list *l, uint32_t r)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == r)
			return 0;
	if (l->n == l->cap) {
		size_t c = l->cap ? l->cap * 2 : 8;
		uint32_t *v = realloc(l->v, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = c;
	}
	l->v[l->n++] = r;
	return 0;
}

/* The compiled verdict of S's entry I. */
static struct net_verdict entry_verdict(const struct net_set *s, size_t i)
{
	const struct net_entry *e = &s->e[i];

	return (struct net_verdict){
		.gen = s->gen,
		.set_id = (uint32_t)i + 1,
		.action = !e->forbid && e->permit ? NET_ALLOW : NET_DENY,
		.mode = s->mode,
		.reason = e->forbid || e->permit ? NET_REASON_POLICY : NET_REASON_DEFAULT,
	};
}

static struct net_verdict dyn_verdict(const struct net_set *s, const struct dyn_entry *d)
{
	return (struct net_verdict){
		.gen = s->gen,
		.set_id = d->id,
		.action = !d->forbid && d->permit ? NET_ALLOW : NET_DENY,
		.mode = s->mode,
		.reason = d->nrules ? NET_REASON_POLICY : NET_REASON_DEFAULT,
	};
}

static void dyn_free(struct dyn_entry *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].rules);
	free(d);
}

/* One entry of S at KEY: the address rules along its chain plus EXTRA. */
static int dyn_make(const struct net_set *s, const struct net_key *key, const struct rule_list *a,
		    const struct rule_list *b, struct dyn_entry *out)
{
	struct rule_list l = { 0 };
	int rc = 0;

	for (int e = set_match(s, key, key->prefixlen + 1); e >= 0 && rc == 0; e = s->e[e].parent)
		for (uint32_t r = 0; r < s->e[e].n && rc == 0; r++)
			rc = rules_add(&l, s->refs[s->e[e].first + r]);
	for (size_t i = 0; a && i < a->n && rc == 0; i++)
		rc = rules_add(&l, a->v[i]);
	for (size_t i = 0; b && i < b->n && rc == 0; i++)
		rc = rules_add(&l, b->v[i]);
	if (rc) {
		free(l.v);
		return rc;
	}
	*out = (struct dyn_entry){ .key = *key,
				   .id = NET_DYN_BASE + (dyn_ids++ & 0x7fffffff),
				   .rules = l.v,
				   .nrules = l.n };
	for (size_t i = 0; i < l.n; i++) {
		if (s->forbid[l.v[i]])
			out->forbid = true;
		else
			out->permit = true;
	}
	return 0;
}

static void port_add(int *ports, int *n, int max, int p)
{
	for (int j = 0; j < *n; j++)
		if (ports[j] == p)
			return;
	if (*n < max)
		ports[(*n)++] = p;
}

/* The name rules of S that hold one of B's names, on every port (PORT < 0)
 * or on PORT, into L; *NAMED when one is more than Host::"*". */
static int bind_rules(const struct net_set *s, const struct binding *b, int port,
		      struct rule_list *l, bool *named)
{
	for (size_t i = 0; i < s->nnames; i++) {
		const struct net_name_rule *nr = &s->names[i];

		if (nr->port != port)
			continue;
		for (int j = 0; j < b->nnames; j++) {
			if (!pattern_holds(nr->pattern, b->names[j].name))
				continue;
			if (named && strcmp(nr->pattern, "*") != 0)
				*named = true;
			if (rules_add(l, nr->rule) < 0)
				return -ENOMEM;
			break;
		}
	}
	return 0;
}

/* The entries binding B needs in S (none when no rule names its names, or
 * outside enforce mode): *OUT, *N. 0 or -ENOMEM. */
static int bind_compute(const struct net_set *s, const struct binding *b, struct dyn_entry **out,
			size_t *n)
{
	struct rule_list any = { 0 }, port = { 0 };
	struct net_key k = { .family = b->family };
	int ports[64], nports = 0, rc = 0;
	size_t made = 0;
	bool named = false;
	struct dyn_entry *v = NULL;

	*out = NULL;
	*n = 0;
	if (!s || s->mode != MODE_ENFORCE)
		return 0;
	memcpy(k.addr, b->addr, sizeof(k.addr));
	rc = bind_rules(s, b, -1, &any, &named);
	/* Ports rules name for these names, and address rules on one port of
	 * this address (they need the names' rules too). */
	for (size_t i = 0; i < s->nnames && rc == 0; i++)
		for (int j = 0; j < b->nnames && s->names[i].port >= 0; j++)
			if (pattern_holds(s->names[i].pattern, b->names[j].name)) {
				named |= strcmp(s->names[i].pattern, "*") != 0;
				port_add(ports, &nports, 64, s->names[i].port);
				break;
			}
	for (size_t i = 0; i < s->n; i++) {
		const struct net_key *e = &s->e[i].key;

		if (e->prefixlen == NET_PLEN_PORT && e->family == k.family &&
		    memcmp(e->addr, k.addr, 16) == 0)
			port_add(ports, &nports, 64, e->port[0] << 8 | e->port[1]);
	}
	if (rc || !named)
		goto done;
	if (!(v = calloc(nports + 1, sizeof(*v)))) {
		rc = -ENOMEM;
		goto done;
	}
	key_mask(&k, NET_PLEN_ADDR(b->family == NET_FAMILY_V4 ? 32 : 128));
	rc = dyn_make(s, &k, &any, NULL, &v[made]);
	for (int j = 0; j < nports && rc == 0; j++) {
		struct net_key pk = k;

		made++;
		pk.prefixlen = NET_PLEN_PORT;
		pk.port[0] = ports[j] >> 8;
		pk.port[1] = ports[j] & 0xff;
		port.n = 0;
		rc = bind_rules(s, b, ports[j], &port, NULL);
		if (rc == 0)
			rc = dyn_make(s, &pk, &any, &port, &v[made]);
	}
	if (rc) {
		dyn_free(v, made); /* v[made] failed and holds nothing */
		goto done;
	}
	*out = v;
	*n = made + 1;
done:
	free(any.v);
	free(port.v);
	return rc;
}

/* Writes NEW (N) into S's trie FD, and puts back what OLD (NOLD) held
 * there and NEW does not: S's compiled entry, or nothing. */
static void dyn_write(const struct net_set *s, int fd, const struct dyn_entry *nv, size_t n,
		      const struct dyn_entry *old, size_t nold)
{
	for (size_t i = 0; i < n; i++) {
		struct net_verdict v = dyn_verdict(s, &nv[i]);

		if (bpf_map_update_elem(fd, &nv[i].key, &v, BPF_ANY) < 0)
			log_warn("network: cannot add a name's address to the trie: %s",
				 strerror(errno));
	}
	for (size_t i = 0; i < nold; i++) {
		size_t j;
		int e;

		for (j = 0; j < n && key_cmp(&old[i].key, &nv[j].key) != 0; j++)
			;
		if (j < n)
			continue;
		e = set_find(s, &old[i].key);
		if (e >= 0) {
			struct net_verdict v = entry_verdict(s, (size_t)e);

			bpf_map_update_elem(fd, &old[i].key, &v, BPF_ANY);
		} else {
			bpf_map_delete_elem(fd, &old[i].key);
		}
	}
}

/* Recomputes B's entries in the trie in force. */
static void bind_apply(struct binding *b)
{
	const struct net_set *s = kept[0];
	struct dyn_entry *nv = NULL;
	size_t n = 0;

	if (bind_compute(s, b, &nv, &n) < 0) {
		log_warn("network: out of memory binding a name to its address");
		return;
	}
	if (dyn_total - b->ndyn + n > DYN_MAX) {
		log_warn("network: more than %d name bindings in the trie: not adding more",
			 DYN_MAX);
		dyn_free(nv, n);
		n = 0;
		nv = NULL;
	}
	if (skel && s && s->fd >= 0)
		dyn_write(s, s->fd, nv, n, b->dyn, b->ndyn);
	dyn_total = dyn_total - b->ndyn + n;
	dyn_free(b->dyn, b->ndyn);
	b->dyn = nv;
	b->ndyn = n;
}

static void bind_drop(size_t i)
{
	struct binding *b = binds[i];

	b->nnames = 0;
	bind_apply(b);
	dyn_free(b->dyn, b->ndyn);
	free(b);
	binds[i] = binds[--nbinds];
}

/* Whether a rule of S names NAME (not just Host::"*"). */
static bool name_named(const struct net_set *s, const char *name)
{
	for (size_t i = 0; s && i < s->nnames; i++)
		if (strcmp(s->names[i].pattern, "*") != 0 &&
		    pattern_holds(s->names[i].pattern, name))
			return true;
	return false;
}

int network_bind_name(const char *name, int af, const void *addr, uint32_t ttl)
{
	int64_t now = now_ms(), exp = now + (int64_t)ttl * 1000 + BIND_GRACE_MS;
	uint8_t a[16] = { 0 }, fam = af == AF_INET ? NET_FAMILY_V4 : NET_FAMILY_V6;
	struct binding *b = NULL;
	int slot = -1;

	if (af != AF_INET && af != AF_INET6)
		return -EINVAL;
	memcpy(a, addr, af == AF_INET ? 4 : 16);
	if (af == AF_INET6 && v4_mapped(a)) {
		fam = NET_FAMILY_V4;
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
	}
	if (strlen(name) >= sizeof(b->names[0].name) || !name_named(kept[0], name))
		return 0;
	for (size_t i = 0; i < nbinds && !b; i++)
		if (binds[i]->family == fam && memcmp(binds[i]->addr, a, 16) == 0)
			b = binds[i];
	if (!b) {
		if (nbinds == BIND_MAX) {
			size_t old = 0;

			for (size_t i = 1; i < nbinds; i++)
				if (binds[i]->names[0].expires_ms < binds[old]->names[0].expires_ms)
					old = i;
			bind_drop(old);
		}
		if (!binds && !(binds = calloc(BIND_MAX, sizeof(*binds))))
			return -ENOMEM;
		if (!(b = calloc(1, sizeof(*b))))
			return -ENOMEM;
		b->family = fam;
		memcpy(b->addr, a, 16);
		binds[nbinds++] = b;
	}
	for (int i = 0; i < b->nnames && slot < 0; i++)
		if (strcmp(b->names[i].name, name) == 0)
			slot = i;
	if (slot >= 0) {
		if (b->names[slot].expires_ms < exp)
			b->names[slot].expires_ms = exp;
		return 0; /* the same entries */
	}
	if (b->nnames < BIND_NAMES) {
		slot = b->nnames++;
	} else {
		slot = 0;
		for (int i = 1; i < b->nnames; i++)
			if (b->names[i].expires_ms < b->names[slot].expires_ms)
				slot = i;
	}
	snprintf(b->names[slot].name, sizeof(b->names[slot].name), "%s", name);
	b->names[slot].expires_ms = exp;
	bind_apply(b);
	return 0;
}

static void bind_expire(void *arg)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < nbinds;) {
		struct binding *b = binds[i];
		int kept_names = 0;

		for (int j = 0; j < b->nnames; j++)
			if (b->names[j].expires_ms > now)
				b->names[kept_names++] = b->names[j];
		if (kept_names == 0) {
			bind_drop(i);
			continue;
		}
		if (kept_names != b->nnames) {
			b->nnames = kept_names;
			bind_apply(b);
		}
		i++;
	}
}

/* The binding whose trie entry has set_id ID, and the entry. */
static const struct dyn_entry *dyn_find(uint32_t id, const struct binding **owner)
{
	for (size_t i = 0; i < nbinds; i++)
		for (size_t j = 0; j < binds[i]->ndyn; j++)
			if (binds[i]->dyn[j].id == id) {
				*owner = binds[i];
				return &binds[i]->dyn[j];
			}
	return NULL;
}

int network_name_decide(const char *name, enum decision *d, json_t **policies)
{
	const struct net_set *s = kept[0];
	struct rule_list forbid = { 0 }, permit = { 0 };
	const struct rule_list *ids;
	bool allow;

	*policies = json_array();
	if (!*policies)
		return -ENOMEM;
	for (size_t i = 0; s && i < s->nnames; i++) {
		const struct net_name_rule *nr = &s->names[i];

		if (!pattern_holds(nr->pattern, name))
			continue;
		if (s->forbid[nr->rule] && nr->port < 0)
			rules_add(&forbid, nr->rule);
		else if (!s->forbid[nr->rule])
			rules_add(&permit, nr->rule);
	}
	allow = forbid.n == 0 && permit.n > 0;
	ids = forbid.n ? &forbid : &permit;
	for (size_t i = 0; i < ids->n; i++)
		json_array_append_new(*policies, json_string(s->ids[ids->v[i]]));
	if (!s || s->mode == MODE_RECORD)
		*d = DECISION_ALLOW;
	else
		*d = allow		       ? DECISION_ALLOW
		     : s->mode == MODE_ENFORCE ? DECISION_DENY
					       : DECISION_WOULD_DENY;
	free(forbid.v);
	free(permit.v);
	return 0;
}

/* Creates the kernel trie for S (sized to it) and fills it. */
static int set_load(struct net_set *s, char *err, size_t errlen)
{
	/* With trie_shape's BTF: 6.1 compares inner maps' timer offsets, which
	 * differ between a map created with BTF (libbpf's template) and one
	 * without, and refuses the swap with EINVAL. */
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC,
		    .btf_fd = (uint32_t)bpf_object__btf_fd(skel->obj),
		    .btf_key_type_id = bpf_map__btf_key_type_id(skel->maps.trie_shape),
		    .btf_value_type_id = bpf_map__btf_value_type_id(skel->maps.trie_shape));
	/* Enforce: room for the addresses of names (network_bind_name). */
	size_t n = network_set_entries(s) + (s->mode == MODE_ENFORCE ? DYN_MAX : 0);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "net_trie", sizeof(struct net_key),
			    sizeof(struct net_verdict), (uint32_t)n, &opts);
	if (fd < 0) {
		snprintf(err, errlen, "network: cannot create a trie of %zu entries: %s", n,
			 strerror(errno));
		return -errno;
	}
	s->fd = fd;
	if (s->mode != MODE_ENFORCE) {
		struct net_key root = { 0 };
		struct net_verdict v = { .gen = s->gen,
					 .action = NET_ALLOW,
					 .mode = s->mode,
					 .reason = NET_REASON_MODE };

		if (bpf_map_update_elem(fd, &root, &v, BPF_ANY) < 0)
			goto fail;
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct net_verdict v = entry_verdict(s, i);

		if (bpf_map_update_elem(fd, &s->e[i].key, &v, BPF_ANY) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "network: cannot fill the trie: %s", strerror(errno));
	return -errno;
}

static int network_prepare(const struct policy *p, enum mode m, void **staged, char *err,
			   size_t errlen)
{
	struct net_staged *st = calloc(1, sizeof(*st));
	int rc;

	if (!st) {
		snprintf(err, errlen, "network: out of memory");
		return -ENOMEM;
	}
	rc = network_compile(p->ps, m, &st->set, &st->report, err, errlen);
	if (rc == 0 && skel)
		rc = set_load(st->set, err, errlen);
	if (rc == 0 && (rc = dyn_stage(st)) < 0)
		snprintf(err, errlen, "network: out of memory binding names to addresses");
	if (rc) {
		dyn_stage_free(st);
		network_set_free(st->set);
		json_decref(st->report);
		free(st);
		return rc;
	}
	*staged = st;
	return 0;
}

static void publish_report(const struct net_set *s, json_t *report)
{
	struct record *r;
	char *text;

	if (!json_array_size(report))
		return;
	text = json_dumps(report, JSON_COMPACT);
	log_warn("network: %zu NetworkConnect rule target(s) not applied by the kernel: %s",
		 json_array_size(report), text ? text : "?");
	free(text);
	r = record_new("policy.unenforced");
	if (!r)
		return;
	r->action = "NetworkConnect";
	r->policies = json_array();
	for (size_t i = 0; i < json_array_size(report); i++) {
		json_t *id = json_object_get(json_array_get(report, i), "policy");
		size_t j;

		for (j = 0; j < json_array_size(r->policies); j++)
			if (json_equal(json_array_get(r->policies, j), id))
				break;
		if (j == json_array_size(r->policies))
			json_array_append(r->policies, id);
	}
	json_object_set_new(r->details, "module", json_string("network"));
	json_object_set_new(r->details, "generation", json_integer(s->gen));
	json_object_set(r->details, "rules", report);
	reactor_publish(r);
}

static void network_commit(void *staged)
{
	struct net_staged *st = staged;
	__u32 zero = 0;

	if (skel && st->set->fd >= 0) {
		/* One pointer swap; the kernel waits for programs still
		 * using the old trie before this returns. */
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.policy_map), &zero, &st->set->fd,
					BPF_ANY) < 0)
			log_err("network: cannot put the compiled policy in force: %s",
				strerror(errno));
	}
	network_set_free(kept[SETS_KEPT - 1]);
	memmove(&kept[1], &kept[0], (SETS_KEPT - 1) * sizeof(kept[0]));
	kept[0] = st->set;
	/* Only the trie in force stays open: bindings write to it. */
	if (kept[1] && kept[1]->fd >= 0) {
		close(kept[1]->fd);
		kept[1]->fd = -1;
	}
	dyn_stage_commit(st);
	publish_report(st->set, st->report);
	json_decref(st->report);
	free(st);
}

static void network_abort(void *staged)
{
	struct net_staged *st = staged;

	dyn_stage_free(st);
	network_set_free(st->set);
	json_decref(st->report);
	free(st);
}

/* ---- protected endpoints ------------------------------------------------ */

/* SA as a protect key; -EINVAL if it is not an IP address. */
static int protect_key(const struct sockaddr *sa, socklen_t len, struct net_protect_key *out)
{
	struct net_protect_key k = { 0 };

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		k.family = NET_FAMILY_V4;
		k.port = ntohs(in->sin_port);
		memcpy(k.addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		k.port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			k.family = NET_FAMILY_V4;
			memcpy(k.addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			k.family = NET_FAMILY_V6;
			memcpy(k.addr, &in6->sin6_addr, 16);
		}
	} else {
		return -EINVAL;
	}
	*out = k;
	return 0;
}

bool network_is_protected(const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t any[16];
	struct net_protect_key k;

	if (protect_key(sa, len, &k) < 0)
		return false;
	/* as the kernel looks: this address and port, or any address on it */
	for (size_t i = 0; i < nprotects; i++)
		if (protects[i].family == k.family && protects[i].port == k.port &&
		    (memcmp(protects[i].addr, k.addr, sizeof(k.addr)) == 0 ||
		     memcmp(protects[i].addr, any, sizeof(k.addr)) == 0))
			return true;
	return false;
}

int network_protect(const struct sockaddr *sa, socklen_t len)
{
	struct net_protect_key k;
	__u32 one = 1;
	int rc = protect_key(sa, len, &k);

	if (rc < 0)
		return rc;
	/* and its port for the unspecified address (family 0, events.h) */
	for (int i = 0; i < 2; i++) {
		if (i == 1)
			k = (struct net_protect_key){ .port = k.port };
		if (nprotects == PROTECT_MAX)
			return -ENOSPC;
		protects[nprotects++] = k;
		if (skel &&
		    bpf_map_update_elem(bpf_map__fd(skel->maps.protect_map), &k, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* ---- the transparent proxy ---------------------------------------------- */

int network_set_proxy(const struct sockaddr_in *sa, const uint16_t *ports, int nports)
{
	struct net_proxy_conf pc = { 0 };
	__u32 zero = 0;
	__u8 one = 1;

	if (!skel)
		return -ENOENT;
	if (sa->sin_family != AF_INET)
		return -EINVAL;
	for (int i = 0; i < nports; i++)
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.redirect_ports_map), &ports[i], &one,
					BPF_ANY))
			return -errno;
	pc.ip4 = sa->sin_addr.s_addr;
	pc.port = ntohs(sa->sin_port);
	pc.enabled = 1;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.proxy_map), &zero, &pc, BPF_ANY))
		return -errno;
	return 0;
}

int network_orig_dst(uint16_t port, char *addr, size_t len, uint16_t *dport, uint32_t *pid)
{
	struct net_origdst od;
	__u32 key = port;
	int fd;

	if (!skel)
		return -ENOENT;
	fd = bpf_map__fd(skel->maps.origdst_port_map);
	if (bpf_map_lookup_and_delete_elem(fd, &key, &od) < 0 &&
	    (bpf_map_lookup_elem(fd, &key, &od) < 0 || bpf_map_delete_elem(fd, &key) < 0))
		return -ENOENT;
	inet_ntop(od.family == NET_FAMILY_V4 ? AF_INET : AF_INET6, od.addr, addr, len);
	*dport = od.port;
	*pid = od.pid;
	return 0;
}

/* Makes every binding's entries for ST's set and writes them into its
 * trie (not in force yet). */
static int dyn_stage(struct net_staged *st)
{
	if (!nbinds)
		return 0;
	st->dyn = calloc(nbinds, sizeof(*st->dyn));
	if (!st->dyn)
		return -ENOMEM;
	for (size_t i = 0; i < nbinds; i++) {
		struct dyn_stage *d = &st->dyn[i];

		d->b = binds[i];
		st->ndyn = i + 1;
		if (bind_compute(st->set, binds[i], &d->e, &d->n) < 0)
			return -ENOMEM;
		if (skel && st->set->fd >= 0)
			dyn_write(st->set, st->set->fd, d->e, d->n, NULL, 0);
	}
	return 0;
}

/* ST's set is in force: its entries become the bindings' own. */
static void dyn_stage_commit(struct net_staged *st)
{
	dyn_total = 0;
	for (size_t i = 0; i < nbinds; i++) {
		struct binding *b = binds[i];

		dyn_free(b->dyn, b->ndyn);
		b->dyn = NULL;
		b->ndyn = 0;
		if (i < st->ndyn && st->dyn[i].b == b) {
			b->dyn = st->dyn[i].e;
			b->ndyn = st->dyn[i].n;
			st->dyn[i].e = NULL;
			st->dyn[i].n = 0;
		}
		dyn_total += b->ndyn;
	}
	dyn_stage_free(st);
}

static void dyn_stage_free(struct net_staged *st)
{
	for (size_t i = 0; i < st->ndyn; i++)
		dyn_free(st->dyn[i].e, st->dyn[i].n);
	free(st->dyn);
	st->dyn = NULL;
	st->ndyn = 0;
}

int network_set_dns(const struct sockaddr_in *sa)
{
	struct net_proxy_conf dc = { 0 };
	__u32 zero = 0;

	if (!skel)
		return -ENOENT;
	if (sa->sin_family != AF_INET)
		return -EINVAL;
	dc.ip4 = sa->sin_addr.s_addr;
	dc.port = ntohs(sa->sin_port);
	dc.enabled = 1;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.dns_map), &zero, &dc, BPF_ANY))
		return -errno;
	return 0;
}

/* ---- events ------------------------------------------------------------- */

static const struct net_set *set_of_gen(uint32_t gen)
{
	for (int i = 0; i < SETS_KEPT; i++)
		if (kept[i] && kept[i]->gen == gen)
			return kept[i];
	return NULL;
}

static const char *protocol_name(unsigned p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : NULL;
}

/* Shadow mode: what the policy in force says about this connect. */
static void stamp_shadow(struct record *r, const char *rid)
{
	struct policy_verdict v;
	json_t *ctx = json_object();

	if (ctx && r->pid > 0)
		json_object_set_new(ctx, "pid", json_integer(r->pid));
	if (policy_decide("NetworkConnect", "Host", rid, false, ctx, &v) < 0) {
		json_decref(ctx);
		return;
	}
	/* The kernel allowed it, whatever mode is in force now. */
	v.decision = v.cedar_allow ? DECISION_ALLOW : DECISION_WOULD_DENY;
	policy_verdict_stamp(&v, r);
	policy_verdict_free(&v);
	json_decref(ctx);
}

/* A connect decided by a name binding's entry: the rules that held it
 * (forbids if any, else permits) and the names the address had. */
static void stamp_binding(struct record *r, const struct net_set *s, uint32_t id)
{
	const struct binding *b = NULL;
	const struct dyn_entry *d = dyn_find(id, &b);
	json_t *names;

	if (!d) {
		r->policies = json_array();
		json_object_set_new(r->details, "policies_unknown", json_true());
		return;
	}
	r->policies = json_array();
	for (size_t i = 0; i < d->nrules; i++)
		if (d->rules[i] < s->nrules && s->forbid[d->rules[i]] == d->forbid)
			json_array_append_new(r->policies, json_string(s->ids[d->rules[i]]));
	names = json_array();
	for (int i = 0; i < b->nnames; i++)
		json_array_append_new(names, json_string(b->names[i].name));
	json_object_set_new(r->details, "names", names);
}

static void stamp_kernel(struct record *r, const struct ev_net *e)
{
	const struct net_set *s;
	const char *reason = "policy";

	r->decision = e->action == NET_ALLOW ? DECISION_ALLOW : DECISION_DENY;
	switch (e->reason) {
	case NET_REASON_PROTECTED:
		reason = "protected";
		break;
	case NET_REASON_NO_POLICY:
		reason = "no policy";
		break;
	case NET_REASON_DEFAULT:
		reason = "default deny";
		break;
	}
	json_object_set_new(r->details, "reason", json_string(reason));
	if (e->reason != NET_REASON_POLICY && e->reason != NET_REASON_DEFAULT) {
		r->policies = json_array();
		return;
	}
	s = set_of_gen(e->gen);
	if (s && e->set_id >= NET_DYN_BASE) {
		stamp_binding(r, s, e->set_id);
		return;
	}
	if (s && e->set_id >= 1 && e->set_id <= s->n)
		r->policies = entry_policies(s, (int)e->set_id - 1);
	else
		json_object_set_new(r->details, "policies_unknown", json_true());
}

/* A NetworkConnect record of KIND with E's time and task. */
static struct record *net_record(const char *kind, const struct ev_net *e)
{
	struct record *r = record_new(kind);
	char comm[EV_COMM_LEN + 1];

	if (!r)
		return NULL;
	r->time_ns = (int64_t)e->hdr.time_ns + reactor_session()->boot_to_wall_ns;
	r->pid = e->task.pid;
	r->ppid = e->task.ppid;
	r->uid = e->task.uid;
	r->cgroup = e->task.cgroup_id;
	memcpy(comm, e->task.comm, EV_COMM_LEN);
	comm[EV_COMM_LEN] = '\0';
	record_set_comm(r, comm);
	r->action = "NetworkConnect";
	return r;
}

/* A socket cgroup/sock_create refused: no destination, no rule. */
static void decode_socket(const struct ev_net *e)
{
	struct record *r = net_record("network.socket", e);

	if (!r)
		return;
	r->decision = DECISION_DENY;
	r->policies = json_array();
	json_object_set_new(r->details, "family",
			    json_string(e->family == NET_FAMILY_V4 ? "ipv4" : "ipv6"));
	json_object_set_new(r->details, "protocol", json_integer(e->protocol));
	json_object_set_new(r->details, "socket_type", json_integer(e->sock_type));
	json_object_set_new(r->details, "reason", json_string("protocol"));
	reactor_publish(r);
}

static void decode_net(const struct ev_net *e)
{
	struct record *r = net_record(
		e->hdr.type == EV_NET_CONNECT ? "network.connect" : "network.sendmsg", e);
	char rid[96], res[112], addr[INET6_ADDRSTRLEN];
	const char *proto = protocol_name(e->protocol);

	if (!r)
		return;
	network_resource_id(rid, sizeof(rid), e->family, e->addr, e->port);
	snprintf(res, sizeof(res), "Host::\"%s\"", rid);
	record_set_resource(r, res);
	inet_ntop(e->family == NET_FAMILY_V4 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr));
	json_object_set_new(r->details, "family",
			    json_string(e->family == NET_FAMILY_V4 ? "ipv4" : "ipv6"));
	json_object_set_new(r->details, "protocol",
			    proto ? json_string(proto) : json_integer(e->protocol));
	json_object_set_new(r->details, "address", json_string(addr));
	json_object_set_new(r->details, "port", json_integer(e->port));
	if (e->mapped)
		json_object_set_new(r->details, "ipv4_mapped", json_true());
	if (e->task.tid != e->task.pid)
		json_object_set_new(r->details, "tid", json_integer(e->task.tid));
	if (e->flags & NET_F_LSM)
		json_object_set_new(r->details, "backend", json_string("bpf-lsm"));
	if (e->flags & NET_F_FOREIGN)
		json_object_set_new(r->details, "socket_from_outside", json_true());
	if (e->reason == NET_REASON_DNS) {
		/* The forwarder decides by name (dns.query). */
		r->decision = e->action == NET_DENY ? DECISION_DENY : DECISION_NONE;
		json_object_set_new(
			r->details, "reason",
			json_string(e->action == NET_REDIRECT ? "redirected to leash's DNS"
				    : e->action == NET_ALLOW  ? "leash's DNS"
							      : "dns: no room to redirect"));
		r->policies = json_array();
	} else if (e->reason == NET_REASON_PROXY || e->reason == NET_REASON_QUIC) {
		/* The proxy decides redirected connections by name (http.request). */
		r->decision = e->action == NET_REDIRECT ? DECISION_NONE
			      : e->action == NET_ALLOW	? DECISION_ALLOW
							: DECISION_DENY;
		json_object_set_new(
			r->details, "reason",
			json_string(e->action == NET_REDIRECT ? "redirected to the proxy"
				    : e->action == NET_ALLOW  ? "the proxy"
							      : "udp to a proxied port"));
		r->policies = json_array();
	} else if (e->reason == NET_REASON_MODE && e->mode == MODE_SHADOW) {
		stamp_shadow(r, rid);
	} else if (e->reason == NET_REASON_MODE) {
		r->decision = DECISION_ALLOW;
		json_object_set_new(r->details, "reason", json_string("record mode"));
	} else {
		stamp_kernel(r, e);
	}
	reactor_publish(r);
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct ev_header *h = data;

	if (size != sizeof(struct ev_net) || h->version != EV_VERSION || h->size != size ||
	    (h->type != EV_NET_CONNECT && h->type != EV_NET_SENDMSG && h->type != EV_NET_SOCKET)) {
		ring.malformed++;
		return 0;
	}
	if (h->type == EV_NET_SOCKET)
		decode_socket(data);
	else
		decode_net(data);
	return 0;
}

/* ---- the module --------------------------------------------------------- */

static int attach(struct bpf_program *prog, struct bpf_link **link, int cgroup_fd, char *err,
		  size_t errlen)
{
	*link = bpf_program__attach_cgroup(prog, cgroup_fd);
	if (!*link) {
		snprintf(err, errlen, "network: cannot attach %s to the session cgroup: %s",
			 bpf_program__name(prog), strerror(errno));
		return -errno;
	}
	return 0;
}

static int network_session_start(char *err, size_t errlen)
{
	const struct session_info *s = reactor_session();
	__u32 one = 1;
	int rc;

	skel = network_bpf__open();
	if (skel) {
		skel->rodata->lsm_hooks = lsm_available();
		if ((rc = network_bpf__load(skel))) {
			network_bpf__destroy(skel);
			skel = NULL;
			errno = -rc;
		}
	}
	if (!skel) {
		snprintf(err, errlen, "network: cannot load BPF programs: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < nprotects; i++)
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.protect_map), &protects[i], &one,
					BPF_ANY)) {
			snprintf(err, errlen, "network: cannot protect an endpoint: %s",
				 strerror(errno));
			return -errno;
		}
	if ((rc = attach(skel->progs.handle_connect4, &skel->links.handle_connect4, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_connect6, &skel->links.handle_connect6, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_sendmsg4, &skel->links.handle_sendmsg4, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_sendmsg6, &skel->links.handle_sendmsg6, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_sockops, &skel->links.handle_sockops, s->cgroup_fd, err,
			 errlen)) ||
	    (rc = attach(skel->progs.handle_recvmsg4, &skel->links.handle_recvmsg4, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_recvmsg6, &skel->links.handle_recvmsg6, s->cgroup_fd,
			 err, errlen)) ||
	    (rc = attach(skel->progs.handle_sock_create, &skel->links.handle_sock_create,
			 s->cgroup_fd, err, errlen)))
		return rc;
	rc = bpfring_open(&ring, "network", bpf_map__fd(skel->maps.events_map), on_record,
			  bpf_map__fd(skel->maps.stats_map), NET_STAT_RINGBUF_DROPS, err, errlen);
	if (rc)
		return rc;
	/* The probe said the bpf LSM runs: a failure here is a real one. */
	if (lsm_available() &&
	    (rc = network_lsm_start(skel->obj, s->cgroup_id, s->cgroup_level, err, errlen)))
		return rc;
	bind_watch = reactor_every(1000, bind_expire, NULL);
	if (!bind_watch) {
		snprintf(err, errlen, "network: cannot watch the name bindings");
		return -ENOMEM;
	}
	return 0;
}

static void network_session_end(void)
{
	bpfring_drain(&ring);
}

static uint64_t network_lost(void)
{
	return bpfring_lost(&ring);
}

static void network_fini(void)
{
	bpfring_close(&ring);
	reactor_unwatch(bind_watch);
	bind_watch = NULL;
	while (nbinds)
		bind_drop(nbinds - 1);
	free(binds);
	binds = NULL;
	dyn_total = 0;
	network_lsm_stop();
	network_bpf__destroy(skel);
	skel = NULL;
	for (int i = 0; i < SETS_KEPT; i++) {
		network_set_free(kept[i]);
		kept[i] = NULL;
	}
	memset(&ring, 0, sizeof(ring));
}

/* HttpRewrite: the proxy (reactor/proxy.c) applies it toward verified hosts
 * only, in every mode, so enforce mode needs no --allow-degraded for it. */
static const char *const network_actions[] = { "NetworkConnect", "HttpRewrite", NULL };

const char *network_backend(void)
{
	return network_lsm_active() ? "cgroup-bpf + bpf-lsm" : "cgroup-bpf";
}

const struct module network_module = {
	.name = "network",
	.enforces = network_actions,
	.backend = network_backend,
	.session_start = network_session_start,
	.session_end = network_session_end,
	.policy_prepare = network_prepare,
	.policy_commit = network_commit,
	.policy_abort = network_abort,
	.lost = network_lost,
	.fini = network_fini,
};
