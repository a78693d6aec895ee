/*
 * validate.c: leash's vocabulary on top of plain Cedar (`leash policy check`).
 *
 * Cedar accepts any action or entity; leash only acts on its own vocabulary, so
 * a policy that names something else is almost always a typo that would
 * silently do nothing. This pass walks each parsed policy, collects the actions
 * of its scope and every resource entity it mentions (scope and conditions),
 * and reports with stable codes:
 *
 *   error   leash.unknown-action       action not in leash's list (hint: closest name)
 *   error   leash.resource-mismatch    resource type that the action never sees
 *   error   leash.bad-path             File/Dir id not an absolute, normal path
 *   warning leash.dir-slash            Dir id without the trailing '/'
 *   warning leash.file-slash           File id with a trailing '/'
 *   error   leash.bad-host             Host id that is not a name, IP, "*.domain" or "*"
 *   warning leash.host-case            Host id with upper case (hosts are matched lower case)
 *   error   leash.bad-entity           empty MCP::Server / MCP::Tool id
 *   warning leash.unknown-type         resource type leash never uses
 *   error   leash.rewrite-context      HttpRewrite permit without context.header and context.value
 *
 * When adding an action or resource type, update the tables below, the
 * completion lists (complete.c) and docs-cedar.md.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

enum {
	R_FILE = 1,
	R_DIR = 2,
	R_HOST = 4,
	R_SERVER = 8,
	R_TOOL = 16
};

static const struct {
	const char *name;
	unsigned resources; /* the resource types its requests carry */
} actions[] = {
	{ "FileOpen", R_FILE | R_DIR },
	{ "FileOpenReadOnly", R_FILE | R_DIR },
	{ "FileOpenReadWrite", R_FILE | R_DIR },
	{ "ProcessExec", R_FILE | R_DIR },
	{ "NetworkConnect", R_HOST },
	{ "HttpRewrite", R_HOST },
	{ "McpCall", R_SERVER | R_TOOL },
};

#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static const struct {
	const char *name;
	unsigned bit;
} types[] = {
	{ "File", R_FILE },	     { "Dir", R_DIR },	      { "Host", R_HOST },
	{ "MCP::Server", R_SERVER }, { "MCP::Tool", R_TOOL },
};

const char *const cedar_leash_actions[] = { "FileOpen",		 "FileOpenReadOnly",
					    "FileOpenReadWrite", "ProcessExec",
					    "NetworkConnect",	 "HttpRewrite",
					    "McpCall",		 NULL };
const char *const cedar_leash_types[] = { "File", "Dir", "Host", "MCP::Server", "MCP::Tool", NULL };

struct vctx {
	const struct cedar_policy *pol;
	const char *text;
	size_t len;
	struct cedar_diags *d;
	unsigned action_res; /* union of resource types the policy's actions allow; 0 = any */
	bool any_action;
	int errors;
	bool saw_header, saw_value;
};

static void report(struct vctx *v, uint32_t off, uint32_t end, enum cedar_severity sev,
		   const char *code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static void report(struct vctx *v, uint32_t off, uint32_t end, enum cedar_severity sev,
		   const char *code, const char *hint, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cedar_diag_add(v->d, v->text, v->len, off, end > off ? end - off : 1, sev, code, hint,
		       v->pol->id, "%s", msg);
	if (sev == CEDAR_SEV_ERROR)
		v->errors++;
}

static int action_index(struct cedar_str id)
{
	for (size_t i = 0; i < NACTIONS; i++)
		if (cedar_str_eq(id, cedar_cstr(actions[i].name)))
			return i;
	return -1;
}

static void check_action(struct vctx *v, const struct cedar_uid *u, uint32_t off, uint32_t end)
{
	int i = action_index(u->id);
	char hint[160] = "";

	if (i >= 0 && cedar_str_eq(u->type, cedar_cstr("Action"))) {
		v->action_res |= actions[i].resources;
		return;
	}
	for (size_t k = 0; k < NACTIONS; k++)
		if (strlen(actions[k].name) == u->id.n &&
		    !strncasecmp(actions[k].name, u->id.p, u->id.n))
			snprintf(hint, sizeof(hint), "did you mean Action::\"%s\"?",
				 actions[k].name);
	if (!hint[0])
		snprintf(
			hint, sizeof(hint),
			"leash's actions: FileOpen, FileOpenReadOnly, FileOpenReadWrite, ProcessExec, NetworkConnect, HttpRewrite, McpCall");
	v->action_res = ~0u; /* do not pile mismatch errors on an unknown action */
	report(v, off, end, CEDAR_SEV_ERROR, "leash.unknown-action", hint,
	       "unknown action %.*s::\"%.*s\"", (int)u->type.n, u->type.p,
	       (int)(u->id.n > 60 ? 60 : u->id.n), u->id.p);
}

static bool bad_path(struct cedar_str p)
{
	if (p.n == 0 || p.p[0] != '/' || memchr(p.p, 0, p.n))
		return true;
	for (size_t i = 0; i + 1 < p.n; i++)
		if (p.p[i] == '/' && p.p[i + 1] == '/')
			return true;
	/* "." and ".." components */
	for (size_t i = 0; i < p.n; i++) {
		if (p.p[i] != '/')
			continue;
		size_t e = i + 1;

		while (e < p.n && p.p[e] != '/')
			e++;
		size_t l = e - i - 1;

		if ((l == 1 && p.p[i + 1] == '.') ||
		    (l == 2 && p.p[i + 1] == '.' && p.p[i + 2] == '.'))
			return true;
	}
	return false;
}

static bool valid_port(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool valid_ipv4(const char *s, size_t n)
{
	int parts = 0, digits = 0, val = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (digits == 0 || val > 255)
				return false;
			parts++;
			digits = val = 0;
		} else if (isdigit((unsigned char)s[i]) && digits < 3) {
			val = val * 10 + (s[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return parts == 4;
}

/* "a.b.c.d/n" or "[v6]/n": a CIDR range of addresses */
static bool valid_cidr(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	char addr[INET6_ADDRSTRLEN + 2];
	unsigned char bin[16];
	size_t an, bits;
	int family = AF_INET;

	if (!slash || slash == s || slash + 1 == s + n || (size_t)(slash - s) >= sizeof(addr))
		return false;
	an = slash - s;
	memcpy(addr, s, an);
	addr[an] = 0;
	if (addr[0] == '[') {
		if (an < 3 || addr[an - 1] != ']')
			return false;
		addr[an - 1] = 0;
		memmove(addr, addr + 1, an - 1);
		family = AF_INET6;
	}
	bits = 0;
	for (const char *d = slash + 1; d < s + n; d++) {
		if (!isdigit((unsigned char)*d) || bits > 128)
			return false;
		bits = bits * 10 + (size_t)(*d - '0');
	}
	return inet_pton(family, addr, bin) == 1 && bits <= (family == AF_INET ? 32u : 128u);
}

/* 0 ok, 1 bad, 2 ok but upper case */
static int check_host(struct cedar_str h)
{
	const char *s = h.p;
	size_t n = h.n;
	bool upper = false;

	if (n == 1 && s[0] == '*')
		return 0;
	if (memchr(s, '/', n))
		return valid_cidr(s, n) ? 0 : 1;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return 1;
		for (const char *c = s + 1; c < close; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return 1;
		size_t rest = n - (close + 1 - s);

		if (rest == 0)
			return 0;
		return close[1] == ':' && valid_port(close + 2, rest - 1) ? 0 : 1;
	}
	const char *colon = memchr(s, ':', n);

	if (colon) {
		if (!valid_port(colon + 1, n - (colon + 1 - s)))
			return 1;
		n = colon - s;
	}
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 253)
		return 1;
	if (valid_ipv4(s, n))
		return 0;
	size_t label = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 1;
			label = 0;
			continue;
		}
		char c = s[i];

		if (isupper((unsigned char)c))
			upper = true;
		else if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' ||
			   c == '_'))
			return 1;
		if (label == 0 && c == '-')
			return 1;
		label++;
	}
	return upper ? 2 : 0;
}

static unsigned type_bit(struct cedar_str t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (cedar_str_eq(t, cedar_cstr(types[i].name)))
			return types[i].bit;
	return 0;
}

static void check_type(struct vctx *v, struct cedar_str type, uint32_t off, uint32_t end)
{
	unsigned bit = type_bit(type);

	if (!bit) {
		report(v, off, end, CEDAR_SEV_WARNING, "leash.unknown-type",
		       "leash's resources are File, Dir, Host, MCP::Server and MCP::Tool",
		       "leash never uses resources of type '%.*s'", (int)type.n, type.p);
		return;
	}
	if (v->any_action || !v->action_res || (v->action_res & bit))
		return;
	report(v, off, end, CEDAR_SEV_ERROR, "leash.resource-mismatch",
	       bit & (R_FILE | R_DIR) ? "File and Dir go with FileOpen*, ProcessExec"
	       : bit & R_HOST	      ? "Host goes with NetworkConnect and HttpRewrite"
				      : "MCP::Server and MCP::Tool go with McpCall",
	       "the policy's actions never see a %.*s resource", (int)type.n, type.p);
}

static void check_entity(struct vctx *v, const struct cedar_uid *u, uint32_t off, uint32_t end)
{
	struct cedar_str id = u->id;

	check_type(v, u->type, off, end);
	switch (type_bit(u->type)) {
	case R_FILE:
		if (bad_path(id))
			report(v, off, end, CEDAR_SEV_ERROR, "leash.bad-path",
			       "write an absolute path without '//', '.' or '..' components",
			       "malformed path in File::\"%.*s\"", (int)(id.n > 80 ? 80 : id.n),
			       id.p);
		else if (id.n > 1 && id.p[id.n - 1] == '/')
			report(v, off, end, CEDAR_SEV_WARNING, "leash.file-slash",
			       "a directory is Dir::\"...\"/", "File id ends with '/'");
		break;
	case R_DIR:
		if (bad_path(id))
			report(v, off, end, CEDAR_SEV_ERROR, "leash.bad-path",
			       "write an absolute path without '//', '.' or '..' components",
			       "malformed path in Dir::\"%.*s\"", (int)(id.n > 80 ? 80 : id.n),
			       id.p);
		else if (id.p[id.n - 1] != '/')
			report(v, off, end, CEDAR_SEV_WARNING, "leash.dir-slash",
			       "write Dir::\"/path/\": a Dir id ends with '/'",
			       "Dir id without a trailing '/'");
		break;
	case R_HOST:
		switch (check_host(id)) {
		case 1:
			report(v, off, end, CEDAR_SEV_ERROR, "leash.bad-host",
			       "hosts look like api.example.com, api.example.com:443, 10.0.0.1, *.example.com or *",
			       "malformed host '%.*s'", (int)(id.n > 80 ? 80 : id.n), id.p);
			break;
		case 2:
			report(v, off, end, CEDAR_SEV_WARNING, "leash.host-case",
			       "write host names in lower case",
			       "host '%.*s' has upper case letters", (int)(id.n > 80 ? 80 : id.n),
			       id.p);
			break;
		}
		break;
	case R_SERVER:
	case R_TOOL:
		if (id.n == 0)
			report(v, off, end, CEDAR_SEV_ERROR, "leash.bad-entity", NULL,
			       "empty %.*s id", (int)u->type.n, u->type.p);
		break;
	}
}

/* Visits the conditions: resource entities, and context.header/value use. */
static void walk(struct vctx *v, const struct cedar_expr *e, bool resource_side)
{
	if (!e)
		return;
	switch (e->op) {
	case X_LIT:
		if (resource_side && e->lit->t == CEDAR_V_ENTITY)
			check_entity(v, &e->lit->e, e->off, e->end);
		if (resource_side && e->lit->t == CEDAR_V_SET)
			for (size_t i = 0; i < e->lit->set.n; i++)
				if (e->lit->set.v[i]->t == CEDAR_V_ENTITY)
					check_entity(v, &e->lit->set.v[i]->e, e->off, e->end);
		return;
	case X_ATTR:
		if (e->a->op == X_VAR && e->a->var == CEDAR_VAR_CONTEXT) {
			v->saw_header |= cedar_str_eq(e->name, cedar_cstr("header"));
			v->saw_value |= cedar_str_eq(e->name, cedar_cstr("value"));
		}
		walk(v, e->a, false);
		return;
	case X_EQ:
	case X_NE:
	case X_IN: {
		bool res = (e->a->op == X_VAR && e->a->var == CEDAR_VAR_RESOURCE);

		walk(v, e->a, false);
		walk(v, e->b, res);
		return;
	}
	case X_IS:
		if (e->a->op == X_VAR && e->a->var == CEDAR_VAR_RESOURCE)
			check_type(v, e->name, e->off, e->end);
		walk(v, e->a, false);
		walk(v, e->b, e->a->op == X_VAR && e->a->var == CEDAR_VAR_RESOURCE);
		return;
	case X_SET:
		for (size_t i = 0; i < e->n; i++)
			walk(v, e->items[i], resource_side);
		return;
	case X_RECORD:
		for (size_t i = 0; i < e->n; i++)
			walk(v, e->items[i], false);
		return;
	default:
		walk(v, e->a, false);
		walk(v, e->b, false);
		walk(v, e->c, false);
		return;
	}
}

int cedar_validate(const struct cedar_policy_set *ps, const char *text, size_t len,
		   struct cedar_diags *d)
{
	int errors = 0;

	for (size_t i = 0; i < ps->n; i++) {
		const struct cedar_policy *p = &ps->pol[i];
		struct vctx v = { .pol = p, .text = text, .len = len, .d = d };
		const struct cedar_scope *a = &p->action, *r = &p->resource;
		bool rewrite = false;

		switch (a->op) {
		case CEDAR_SCOPE_EQ:
		case CEDAR_SCOPE_IN:
			check_action(&v, &a->uid, a->uid_off, a->uid_end);
			rewrite = cedar_str_eq(a->uid.id, cedar_cstr("HttpRewrite"));
			break;
		case CEDAR_SCOPE_IN_SET:
			for (size_t k = 0; k < a->n; k++) {
				check_action(&v, &a->set[k], a->set_pos[k][0], a->set_pos[k][1]);
				rewrite |= cedar_str_eq(a->set[k].id, cedar_cstr("HttpRewrite"));
			}
			break;
		default:
			v.any_action = true;
			break;
		}
		if (r->op == CEDAR_SCOPE_EQ || r->op == CEDAR_SCOPE_IN ||
		    r->op == CEDAR_SCOPE_IS_IN)
			check_entity(&v, &r->uid, r->uid_off, r->uid_end);
		if (r->op == CEDAR_SCOPE_IS)
			check_type(&v, r->type, r->off, r->end);
		for (size_t k = 0; k < p->nconds; k++)
			walk(&v, p->conds[k].e, false);
		if (rewrite && !p->forbid && (!v.saw_header || !v.saw_value))
			report(&v, p->off, p->off + 6, CEDAR_SEV_ERROR, "leash.rewrite-context",
			       "when { context.header == \"Authorization\" && context.value == \"Bearer ...\" }",
			       "HttpRewrite needs context.header and context.value in its condition");
		errors += v.errors;
	}
	return errors;
}
