/*
 * eval.c: Cedar expression and policy evaluation, with Cedar's exact semantics.
 *
 * An expression evaluates to a value or to an error (NULL, message in ev->err).
 * Errors propagate: any operand error is the result's error, except where
 * && / || / if-then-else short-circuit past the erroring operand. Type rules
 * follow Cedar: == and != compare any two values (different types are simply
 * unequal), everything else checks its operand types. `in` looks only at the
 * explicit entity store, `has` on a missing entity is false, `.attr` on one is
 * an error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct cedar_value *fail(struct cedar_eval *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const struct cedar_value *fail(struct cedar_eval *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	return NULL;
}

static const struct cedar_value *type_err(struct cedar_eval *ev, const char *want,
					  const struct cedar_value *got)
{
	return fail(ev, "type error: expected %s, got %s", want, cedar_vtype_name(got->t));
}

static const struct cedar_value *oom(struct cedar_eval *ev)
{
	return fail(ev, "out of memory");
}

static const struct cedar_value *boolean(bool b)
{
	return b ? &cedar_true : &cedar_false;
}

bool cedar_like(struct cedar_str s, const struct cedar_pattern *pat)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
	const struct cedar_str p = pat->s;

#define WILD(i) (pat->wild && (pat->wild[(i) / 8] >> ((i) % 8) & 1))
	while (si < s.n) {
		if (pi < p.n && WILD(pi)) {
			star_p = pi++;
			star_s = si;
		} else if (pi < p.n && p.p[pi] == s.p[si]) {
			pi++;
			si++;
		} else if (star_p != (size_t)-1) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < p.n && WILD(pi))
		pi++;
#undef WILD
	return pi == p.n;
}

static bool set_has(const struct cedar_value *set, const struct cedar_value *x)
{
	size_t lo = 0, hi = set->set.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cedar_value_cmp(set->set.v[mid], x);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static const struct cedar_value *eval_long(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value *a = cedar_eval_expr(ev, e->a), *b = NULL;
	int64_t r;

	if (!a)
		return NULL;
	if (e->op == X_NEG) {
		if (a->t != CEDAR_V_LONG)
			return type_err(ev, "long", a);
		if (a->l == INT64_MIN)
			return fail(ev, "integer overflow negating %lld", (long long)a->l);
		return cedar_value_long(ev->arena, -a->l) ?: oom(ev);
	}
	b = cedar_eval_expr(ev, e->b);
	if (!b)
		return NULL;
	if (a->t != CEDAR_V_LONG)
		return type_err(ev, "long", a);
	if (b->t != CEDAR_V_LONG)
		return type_err(ev, "long", b);
	switch (e->op) {
	case X_LT:
		return boolean(a->l < b->l);
	case X_LE:
		return boolean(a->l <= b->l);
	case X_GT:
		return boolean(a->l > b->l);
	case X_GE:
		return boolean(a->l >= b->l);
	case X_ADD:
		if (__builtin_add_overflow(a->l, b->l, &r))
			return fail(ev, "integer overflow adding %lld and %lld", (long long)a->l,
				    (long long)b->l);
		break;
	case X_SUB:
		if (__builtin_sub_overflow(a->l, b->l, &r))
			return fail(ev, "integer overflow subtracting %lld and %lld",
				    (long long)a->l, (long long)b->l);
		break;
	default:
		if (__builtin_mul_overflow(a->l, b->l, &r))
			return fail(ev, "integer overflow multiplying %lld and %lld",
				    (long long)a->l, (long long)b->l);
		break;
	}
	return cedar_value_long(ev->arena, r) ?: oom(ev);
}

static const struct cedar_value *eval_in(struct cedar_eval *ev, const struct cedar_value *a,
					 const struct cedar_value *b)
{
	if (a->t != CEDAR_V_ENTITY)
		return type_err(ev, "entity", a);
	if (b->t == CEDAR_V_ENTITY)
		return boolean(cedar_entities_in(ev->es, &a->e, &b->e));
	if (b->t != CEDAR_V_SET)
		return type_err(ev, "set or entity", b);
	/* every element is checked, even after a match */
	for (size_t i = 0; i < b->set.n; i++)
		if (b->set.v[i]->t != CEDAR_V_ENTITY)
			return type_err(ev, "entity", b->set.v[i]);
	for (size_t i = 0; i < b->set.n; i++)
		if (cedar_entities_in(ev->es, &a->e, &b->set.v[i]->e))
			return &cedar_true;
	return &cedar_false;
}

/* The attributes of an entity or record value, or NULL with *missing for an absent entity. */
static const struct cedar_value *attrs_of(struct cedar_eval *ev, const struct cedar_value *v,
					  bool *missing)
{
	*missing = false;
	if (v->t == CEDAR_V_RECORD)
		return v;
	if (v->t != CEDAR_V_ENTITY)
		return type_err(ev, "entity or record", v);
	const struct cedar_entity *ent = cedar_entities_get(ev->es, &v->e);

	if (!ent) {
		*missing = true;
		return NULL;
	}
	return ent->attrs;
}

static const struct cedar_value *eval_has(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value *v = cedar_eval_expr(ev, e->a);

	if (!v)
		return NULL;
	/* e has a.b.c is e has a && e.a has b && e.a.b has c */
	for (size_t i = 0; i < e->n; i++) {
		bool missing;
		const struct cedar_value *attrs = attrs_of(ev, v, &missing);

		if (missing)
			return &cedar_false;
		if (!attrs)
			return NULL;
		v = cedar_record_get(attrs, e->keys[i]);
		if (!v)
			return &cedar_false;
	}
	return &cedar_true;
}

static const struct cedar_value *eval_attr(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value *v = cedar_eval_expr(ev, e->a);
	bool missing;

	if (!v)
		return NULL;
	const struct cedar_value *attrs = attrs_of(ev, v, &missing);

	if (missing) {
		struct cedar_buf b = { 0 };

		cedar_value_print(&b, v);
		fail(ev, "entity %.100s does not exist", b.p ? b.p : "?");
		free(b.p);
		return NULL;
	}
	if (!attrs)
		return NULL;
	const struct cedar_value *r = cedar_record_get(attrs, e->name);

	if (!r)
		return fail(ev, "%s does not have the attribute '%.*s'",
			    v->t == CEDAR_V_ENTITY ? "entity" : "record",
			    (int)(e->name.n > 60 ? 60 : e->name.n), e->name.p);
	return r;
}

static const struct cedar_value *eval_set_op(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value *a = cedar_eval_expr(ev, e->a), *b = NULL;

	if (!a)
		return NULL;
	if (e->op != X_IS_EMPTY) {
		b = cedar_eval_expr(ev, e->b);
		if (!b)
			return NULL;
	}
	if (a->t != CEDAR_V_SET)
		return type_err(ev, "set", a);
	switch (e->op) {
	case X_IS_EMPTY:
		return boolean(a->set.n == 0);
	case X_CONTAINS:
		return boolean(set_has(a, b));
	default:
		break;
	}
	if (b->t != CEDAR_V_SET)
		return type_err(ev, "set", b);
	bool all = true, any = false;

	for (size_t i = 0; i < b->set.n; i++) {
		bool h = set_has(a, b->set.v[i]);

		all = all && h;
		any = any || h;
	}
	return boolean(e->op == X_CONTAINS_ALL ? all : any);
}

static const struct cedar_value *eval_list(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value **v = cedar_arena_alloc(ev->arena, (e->n + 1) * sizeof(*v));

	if (!v)
		return oom(ev);
	for (size_t i = 0; i < e->n; i++) {
		v[i] = cedar_eval_expr(ev, e->items[i]);
		if (!v[i])
			return NULL;
	}
	if (e->op == X_SET)
		return cedar_value_set(ev->arena, v, e->n) ?: oom(ev);
	struct cedar_str *k = cedar_arena_memdup(ev->arena, e->keys, (e->n + 1) * sizeof(*k));

	if (!k)
		return oom(ev);
	return cedar_value_record(ev->arena, k, v, e->n) ?: oom(ev);
}

static const struct cedar_value *want_bool(struct cedar_eval *ev, const struct cedar_value *v)
{
	if (v && v->t != CEDAR_V_BOOL)
		return type_err(ev, "bool", v);
	return v;
}

const struct cedar_value *cedar_eval_expr(struct cedar_eval *ev, const struct cedar_expr *e)
{
	const struct cedar_value *a, *b;

	switch (e->op) {
	case X_LIT:
		return e->lit;
	case X_VAR:
		return ev->vars[e->var];
	case X_SLOT:
		return fail(ev, "template slots are not supported");
	case X_AND:
	case X_OR:
		a = want_bool(ev, cedar_eval_expr(ev, e->a));
		if (!a)
			return NULL;
		if (a->b == (e->op == X_OR))
			return a;
		return want_bool(ev, cedar_eval_expr(ev, e->b));
	case X_NOT:
		a = want_bool(ev, cedar_eval_expr(ev, e->a));
		return a ? boolean(!a->b) : NULL;
	case X_EQ:
	case X_NE:
		a = cedar_eval_expr(ev, e->a);
		if (!a)
			return NULL;
		b = cedar_eval_expr(ev, e->b);
		if (!b)
			return NULL;
		return boolean(cedar_value_eq(a, b) == (e->op == X_EQ));
	case X_NEG:
	case X_LT:
	case X_LE:
	case X_GT:
	case X_GE:
	case X_ADD:
	case X_SUB:
	case X_MUL:
		return eval_long(ev, e);
	case X_IN:
		a = cedar_eval_expr(ev, e->a);
		if (!a)
			return NULL;
		b = cedar_eval_expr(ev, e->b);
		if (!b)
			return NULL;
		return eval_in(ev, a, b);
	case X_HAS:
		return eval_has(ev, e);
	case X_LIKE:
		a = cedar_eval_expr(ev, e->a);
		if (!a)
			return NULL;
		if (a->t != CEDAR_V_STRING)
			return type_err(ev, "string", a);
		return boolean(cedar_like(a->s, &e->pat));
	case X_IS:
		a = cedar_eval_expr(ev, e->a);
		if (!a)
			return NULL;
		if (a->t != CEDAR_V_ENTITY)
			return type_err(ev, "entity", a);
		if (!cedar_str_eq(a->e.type, e->name))
			return &cedar_false;
		if (!e->b)
			return &cedar_true;
		b = cedar_eval_expr(ev, e->b);
		if (!b)
			return NULL;
		return eval_in(ev, a, b);
	case X_ATTR:
		return eval_attr(ev, e);
	case X_IF:
		a = want_bool(ev, cedar_eval_expr(ev, e->a));
		if (!a)
			return NULL;
		return cedar_eval_expr(ev, a->b ? e->b : e->c);
	case X_SET:
	case X_RECORD:
		return eval_list(ev, e);
	case X_CONTAINS:
	case X_CONTAINS_ALL:
	case X_CONTAINS_ANY:
	case X_IS_EMPTY:
		return eval_set_op(ev, e);
	}
	return fail(ev, "unknown expression");
}

static bool scope_match(const struct cedar_eval *ev, const struct cedar_scope *s,
			const struct cedar_value *v)
{
	const struct cedar_uid *u = &v->e;

	switch (s->op) {
	case CEDAR_SCOPE_ANY:
		return true;
	case CEDAR_SCOPE_EQ:
		return cedar_uid_eq(u, &s->uid);
	case CEDAR_SCOPE_IN:
		return cedar_entities_in(ev->es, u, &s->uid);
	case CEDAR_SCOPE_IS:
		return cedar_str_eq(u->type, s->type);
	case CEDAR_SCOPE_IS_IN:
		return cedar_str_eq(u->type, s->type) && cedar_entities_in(ev->es, u, &s->uid);
	case CEDAR_SCOPE_IN_SET:
		for (size_t i = 0; i < s->n; i++)
			if (cedar_entities_in(ev->es, u, &s->set[i]))
				return true;
		return false;
	}
	return false;
}

int cedar_eval_policy_why(struct cedar_eval *ev, const struct cedar_policy *p, int *why)
{
	int dummy;

	why = why ? why : &dummy;
	*why = CEDAR_WHY_PRINCIPAL;
	if (!scope_match(ev, &p->principal, ev->vars[CEDAR_VAR_PRINCIPAL]))
		return 0;
	*why = CEDAR_WHY_ACTION;
	if (!scope_match(ev, &p->action, ev->vars[CEDAR_VAR_ACTION]))
		return 0;
	*why = CEDAR_WHY_RESOURCE;
	if (!scope_match(ev, &p->resource, ev->vars[CEDAR_VAR_RESOURCE]))
		return 0;
	for (size_t i = 0; i < p->nconds; i++) {
		const struct cedar_value *v = want_bool(ev, cedar_eval_expr(ev, p->conds[i].e));

		*why = -1 - (int)i; /* condition i */
		if (!v)
			return -1;
		if (v->b == p->conds[i].unless)
			return 0;
	}
	*why = CEDAR_WHY_SATISFIED;
	return 1;
}

int cedar_eval_policy(struct cedar_eval *ev, const struct cedar_policy *p)
{
	return cedar_eval_policy_why(ev, p, NULL);
}
