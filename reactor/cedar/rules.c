/*
 * rules.c: what a policy set says about one action, for compiling into
 * enforcement (kernel maps, fanotify answers, proxy checks).
 *
 * Each policy whose action scope can match the action becomes a rule: its
 * effect, the resources it covers (the scope, or a top-level `when` condition
 * of the shapes `resource in E`, `resource == E`, `resource in [..]` and `||`
 * of them), the `context.K == "v"` conjuncts (HttpRewrite's header/value), and
 * a `residual` flag when anything else constrains it (a principal scope, an
 * `unless`, other conditions): a residual rule cannot be compiled exactly and
 * the caller must either evaluate it (cedar_authorize) or refuse it loudly.
 *
 * The strings in the result point into the policy set (ids, entity ids), or
 * into the result's own arena, so the result must not outlive the policy set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct rb {
	struct cedar_arena *a;
	struct cedar_target *t;
	size_t nt, capt;
	const char **keys, **vals;
	size_t nctx, capctx;
	bool residual;
	bool have_cond_targets;
	int err;
};

static const char *cstr(struct rb *b, struct cedar_str s)
{
	char *p = cedar_arena_strndup(b->a, s.p, s.n);

	if (!p)
		b->err = -ENOMEM;
	return p ? p : "";
}

static void add_target(struct rb *b, enum cedar_target_op op, struct cedar_str type,
		       struct cedar_str id)
{
	if (b->nt == b->capt) {
		size_t cap = b->capt ? b->capt * 2 : 4;
		struct cedar_target *t = cedar_arena_alloc(b->a, cap * sizeof(*t));

		if (!t) {
			b->err = -ENOMEM;
			return;
		}
		if (b->nt)
			memcpy(t, b->t, b->nt * sizeof(*t));
		b->t = t;
		b->capt = cap;
	}
	struct cedar_target *t = &b->t[b->nt++];

	t->op = op;
	t->type = op == CEDAR_TARGET_ANY ? NULL : cstr(b, type);
	t->id = op == CEDAR_TARGET_ANY || op == CEDAR_TARGET_IS ? NULL : cstr(b, id);
}

static bool is_resource(const struct cedar_expr *e)
{
	return e->op == X_VAR && e->var == CEDAR_VAR_RESOURCE;
}

/* Is e a resource constraint (or a || of them)? With add, record its targets. */
static bool resource_targets(struct rb *b, const struct cedar_expr *e, bool add)
{
	if (e->op == X_OR)
		return resource_targets(b, e->a, add) && resource_targets(b, e->b, add);
	if ((e->op != X_IN && e->op != X_EQ) || !is_resource(e->a))
		return false;
	if (e->op == X_IN && e->b->op == X_SET) {
		/* a set literal: every element must be an entity literal */
		for (size_t i = 0; i < e->b->n; i++)
			if (e->b->items[i]->op != X_LIT || e->b->items[i]->lit->t != CEDAR_V_ENTITY)
				return false;
		for (size_t i = 0; add && i < e->b->n; i++)
			add_target(b, CEDAR_TARGET_IN, e->b->items[i]->lit->e.type,
				   e->b->items[i]->lit->e.id);
		return true;
	}
	if (e->b->op != X_LIT)
		return false;
	const struct cedar_value *v = e->b->lit;

	if (v->t == CEDAR_V_ENTITY) {
		if (add)
			add_target(b, e->op == X_EQ ? CEDAR_TARGET_EQ : CEDAR_TARGET_IN, v->e.type,
				   v->e.id);
		return true;
	}
	if (e->op != X_IN || v->t != CEDAR_V_SET)
		return false;
	for (size_t i = 0; i < v->set.n; i++)
		if (v->set.v[i]->t != CEDAR_V_ENTITY)
			return false; /* a type error at run time: leave it to the evaluator */
	for (size_t i = 0; add && i < v->set.n; i++)
		add_target(b, CEDAR_TARGET_IN, v->set.v[i]->e.type, v->set.v[i]->e.id);
	return true;
}

static void add_ctx(struct rb *b, struct cedar_str k, struct cedar_str v)
{
	if (b->nctx == b->capctx) {
		size_t cap = b->capctx ? b->capctx * 2 : 4;
		const char **nk = cedar_arena_alloc(b->a, cap * sizeof(*nk));
		const char **nv = cedar_arena_alloc(b->a, cap * sizeof(*nv));

		if (!nk || !nv) {
			b->err = -ENOMEM;
			return;
		}
		if (b->nctx) {
			memcpy(nk, b->keys, b->nctx * sizeof(*nk));
			memcpy(nv, b->vals, b->nctx * sizeof(*nv));
		}
		b->keys = nk;
		b->vals = nv;
		b->capctx = cap;
	}
	b->keys[b->nctx] = cstr(b, k);
	b->vals[b->nctx++] = cstr(b, v);
}

static void conjunct(struct rb *b, const struct cedar_expr *e, bool scope_any)
{
	if (e->op == X_AND) {
		conjunct(b, e->a, scope_any);
		conjunct(b, e->b, scope_any);
		return;
	}
	if (e->op == X_LIT && e->lit->t == CEDAR_V_BOOL && e->lit->b)
		return; /* `when { true }` */
	if (e->op == X_EQ && e->a->op == X_ATTR && e->a->a->op == X_VAR &&
	    e->a->a->var == CEDAR_VAR_CONTEXT && e->b->op == X_LIT &&
	    e->b->lit->t == CEDAR_V_STRING) {
		add_ctx(b, e->a->name, e->b->lit->s);
		return;
	}
	if (scope_any && !b->have_cond_targets && resource_targets(b, e, false)) {
		resource_targets(b, e, true);
		b->have_cond_targets = true;
		return;
	}
	b->residual = true;
}

static bool action_matches(const struct cedar_uid *u, const char *action)
{
	if (!cedar_str_eq(u->type, cedar_cstr("Action")))
		return false;
	if (cedar_str_eq(u->id, cedar_cstr(action)))
		return true;
	/* a FileOpen policy also governs each mode (cedar_authorize_open) */
	return cedar_str_eq(u->id, cedar_cstr("FileOpen")) &&
	       (!strcmp(action, "FileOpenReadOnly") || !strcmp(action, "FileOpenReadWrite"));
}

static bool policy_matches(const struct cedar_policy *p, const char *action)
{
	switch (p->action.op) {
	case CEDAR_SCOPE_EQ:
	case CEDAR_SCOPE_IN:
		return action_matches(&p->action.uid, action);
	case CEDAR_SCOPE_IN_SET:
		for (size_t i = 0; i < p->action.n; i++)
			if (action_matches(&p->action.set[i], action))
				return true;
		return false;
	default:
		return true;
	}
}

static int build_rule(struct cedar_arena *a, const struct cedar_policy *p, struct cedar_rule *r)
{
	struct rb b = { .a = a };
	const struct cedar_scope *s = &p->resource;
	static const struct cedar_str none = { "", 0 };

	switch (s->op) {
	case CEDAR_SCOPE_EQ:
		add_target(&b, CEDAR_TARGET_EQ, s->uid.type, s->uid.id);
		break;
	case CEDAR_SCOPE_IN:
		add_target(&b, CEDAR_TARGET_IN, s->uid.type, s->uid.id);
		break;
	case CEDAR_SCOPE_IS:
		add_target(&b, CEDAR_TARGET_IS, s->type, none);
		break;
	case CEDAR_SCOPE_IS_IN:
		add_target(&b, CEDAR_TARGET_IN, s->uid.type, s->uid.id);
		b.residual = true; /* the type restriction */
		break;
	default:
		break;
	}
	if (p->principal.op != CEDAR_SCOPE_ANY)
		b.residual = true;
	for (size_t i = 0; i < p->nconds; i++) {
		if (p->conds[i].unless)
			b.residual = true;
		else
			conjunct(&b, p->conds[i].e, s->op == CEDAR_SCOPE_ANY);
	}
	if (b.nt == 0)
		add_target(&b, CEDAR_TARGET_ANY, none, none);
	r->policy_id = p->id;
	r->forbid = p->forbid;
	r->targets = b.t;
	r->ntargets = b.nt;
	r->ctx_keys = b.keys;
	r->ctx_values = b.vals;
	r->nctx = b.nctx;
	r->residual = b.residual;
	return b.err;
}

int cedar_rules_for_action(const struct cedar_policy_set *ps, const char *action,
			   struct cedar_rules *out)
{
	struct cedar_arena *a = calloc(1, sizeof(*a));
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!a)
		return -ENOMEM;
	out->mem = a;
	out->v = cedar_arena_alloc(a, (ps->n + 1) * sizeof(*out->v));
	if (!out->v) {
		cedar_rules_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ps->n && rc == 0; i++) {
		if (!policy_matches(&ps->pol[i], action))
			continue;
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		rc = build_rule(a, &ps->pol[i], &out->v[out->n]);
		out->n++;
	}
	if (rc < 0)
		cedar_rules_free(out);
	return rc;
}

void cedar_rules_free(struct cedar_rules *r)
{
	if (r->mem) {
		cedar_arena_free(r->mem);
		free(r->mem);
	}
	memset(r, 0, sizeof(*r));
}
