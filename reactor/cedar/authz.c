/*
 * authz.c: the authorizer: the policy index and the decision.
 *
 * Index: each policy is filed under (action key, resource key) pairs taken from
 * its scope: the action entity of `action == A` or each entity of
 * `action in [..]` (NULL for an unconstrained action) crossed with the entity
 * of `resource ==/in/is..in E` (NULL otherwise). A request looks up every pair
 * of {NULL, the action, its ancestors} x {NULL, the resource, its ancestors};
 * `x in E` holds only if E is x or one of its ancestors, so no policy that can
 * match is missed, and the policies found are then evaluated exactly. With few
 * policies, or entities with very many ancestors, a plain scan is cheaper and
 * is used instead. A policy whose scope leaves the resource open but whose first
 * condition starts with `resource in [..]` is filed under those entities (see
 * cond_keys() for why that is exact).
 *
 * Decision: forbid overrides permit, default deny; a policy whose evaluation
 * errors is skipped and listed in errors, whatever the decision.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct bucket {
	const struct cedar_uid *a, *r; /* NULL = any */
	uint64_t hash;
	uint32_t *ids;
	size_t n, cap;
};

struct cedar_index {
	struct bucket *b;
	size_t nb; /* power of two */
	size_t used;
};

#define SCAN_BELOW 16 /* policies: scan instead of index */
#define SCAN_PROBES 512 /* key pairs: scan instead of index */

static uint64_t pair_hash(const struct cedar_uid *a, const struct cedar_uid *r)
{
	uint64_t h =
		(a ? a->hash : 0x9e3779b97f4a7c15ull) * 31 + (r ? r->hash : 0x7f4a7c159e3779b9ull);

	return h ^ (h >> 31);
}

static bool key_eq(const struct cedar_uid *x, const struct cedar_uid *y)
{
	if (!x || !y)
		return x == y;
	return cedar_uid_eq(x, y);
}

static struct bucket *find(const struct cedar_index *ix, const struct cedar_uid *a,
			   const struct cedar_uid *r, uint64_t h)
{
	for (size_t i = h & (ix->nb - 1);; i = (i + 1) & (ix->nb - 1)) {
		struct bucket *b = &ix->b[i];

		if (!b->ids)
			return b;
		if (b->hash == h && key_eq(b->a, a) && key_eq(b->r, r))
			return b;
	}
}

static int ix_grow(struct cedar_index *ix)
{
	size_t nb = ix->nb ? ix->nb * 2 : 64;
	struct bucket *nbk = calloc(nb, sizeof(*nbk));
	struct cedar_index tmp = { nbk, nb, 0 };

	if (!nbk)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nb; i++) {
		if (!ix->b[i].ids)
			continue;
		*find(&tmp, ix->b[i].a, ix->b[i].r, ix->b[i].hash) = ix->b[i];
	}
	free(ix->b);
	ix->b = nbk;
	ix->nb = nb;
	return 0;
}

static int ix_add(struct cedar_index *ix, const struct cedar_uid *a, const struct cedar_uid *r,
		  uint32_t id)
{
	if ((ix->used + 1) * 2 > ix->nb && ix_grow(ix) < 0)
		return -ENOMEM;
	uint64_t h = pair_hash(a, r);
	struct bucket *b = find(ix, a, r, h);

	if (!b->ids) {
		b->a = a;
		b->r = r;
		b->hash = h;
		ix->used++;
	}
	if (b->n && b->ids[b->n - 1] == id)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		uint32_t *ids = realloc(b->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		b->ids = ids;
		b->cap = cap;
	}
	b->ids[b->n++] = id;
	return 0;
}

/*
 * Resource keys from a condition: when the scope leaves the resource open but the
 * first `when` starts with `resource in [E..]` / `resource == E` (or a || of
 * them), the policy can only be satisfied, and can only error, for resources in
 * one of those entities: that test runs first and never errors, and when it is
 * false nothing after it is evaluated. The seed's policies are written this way.
 * Returns the number of keys, or -1 when the condition has another shape.
 */
static int cond_keys(const struct cedar_expr *e, const struct cedar_uid **keys, int max, int n)
{
	if (n < 0)
		return n;
	if (e->op == X_OR)
		return cond_keys(e->b, keys, max, cond_keys(e->a, keys, max, n));
	if ((e->op != X_IN && e->op != X_EQ) || e->a->op != X_VAR ||
	    e->a->var != CEDAR_VAR_RESOURCE)
		return -1;
	if (e->b->op == X_LIT && e->b->lit->t == CEDAR_V_ENTITY) {
		if (n >= max)
			return -1;
		keys[n] = &e->b->lit->e;
		return n + 1;
	}
	if (e->op != X_IN || e->b->op != X_SET)
		return -1;
	for (size_t i = 0; i < e->b->n; i++) {
		const struct cedar_expr *x = e->b->items[i];

		if (x->op != X_LIT || x->lit->t != CEDAR_V_ENTITY || n >= max)
			return -1;
		keys[n++] = &x->lit->e;
	}
	return n;
}

#define MAX_COND_KEYS 64

static int resource_keys(const struct cedar_policy *p, const struct cedar_uid **keys)
{
	if (p->resource.op == CEDAR_SCOPE_EQ || p->resource.op == CEDAR_SCOPE_IN ||
	    p->resource.op == CEDAR_SCOPE_IS_IN) {
		keys[0] = &p->resource.uid;
		return 1;
	}
	keys[0] = NULL;
	if (p->resource.op != CEDAR_SCOPE_ANY || p->nconds == 0 || p->conds[0].unless)
		return 1;
	const struct cedar_expr *e = p->conds[0].e;

	while (e->op == X_AND)
		e = e->a;
	int n = cond_keys(e, keys, MAX_COND_KEYS, 0);

	if (n < 0) {
		keys[0] = NULL;
		return 1;
	}
	return n; /* 0 for `resource in []`: never satisfied, never a candidate */
}

int cedar_index_build(struct cedar_policy_set *ps)
{
	struct cedar_index *ix = calloc(1, sizeof(*ix));
	const struct cedar_uid *rkeys[MAX_COND_KEYS];

	if (!ix)
		return -ENOMEM;
	ps->index = ix;
	for (size_t i = 0; i < ps->n; i++) {
		const struct cedar_policy *p = &ps->pol[i];
		const struct cedar_uid *one[1];
		const struct cedar_uid *const *acts = one;
		size_t na = 1;
		struct cedar_uid **tmp = NULL;
		int nr = resource_keys(p, rkeys);

		one[0] = NULL;
		if (p->action.op == CEDAR_SCOPE_EQ || p->action.op == CEDAR_SCOPE_IN) {
			one[0] = &p->action.uid;
		} else if (p->action.op == CEDAR_SCOPE_IN_SET) {
			tmp = malloc((p->action.n + 1) * sizeof(*tmp));
			if (!tmp)
				return -ENOMEM;
			for (size_t k = 0; k < p->action.n; k++)
				tmp[k] = &p->action.set[k];
			acts = (const struct cedar_uid *const *)tmp;
			na = p->action.n;
		}
		for (size_t k = 0; k < na; k++) {
			for (int r = 0; r < nr; r++) {
				if (ix_add(ix, acts[k], rkeys[r], i) < 0) {
					free(tmp);
					return -ENOMEM;
				}
			}
		}
		free(tmp);
	}
	return 0;
}

void cedar_index_free(struct cedar_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->nb; i++)
		free(ix->b[i].ids);
	free(ix->b);
	free(ix);
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static bool push(uint32_t **out, size_t *cap, size_t *n, uint32_t id)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		uint32_t *v = realloc(*out, nc * sizeof(*v));

		if (!v)
			return false;
		*out = v;
		*cap = nc;
	}
	(*out)[(*n)++] = id;
	return true;
}

size_t cedar_index_candidates(const struct cedar_policy_set *ps, const struct cedar_entities *es,
			      const struct cedar_uid *action, const struct cedar_uid *resource,
			      uint32_t **out, size_t *cap)
{
	const struct cedar_entity *ae = cedar_entities_get(es, action);
	const struct cedar_entity *re = cedar_entities_get(es, resource);
	size_t na = 2 + (ae ? ae->nanc : 0), nr = 2 + (re ? re->nanc : 0), n = 0;

	if (!ps->index || (!ps->index_always && (ps->n < SCAN_BELOW || na * nr > SCAN_PROBES))) {
		for (size_t i = 0; i < ps->n; i++)
			if (!push(out, cap, &n, i))
				return (size_t)-1;
		return n;
	}
	for (size_t i = 0; i < na; i++) {
		const struct cedar_uid *a = i == 0 ? NULL : i == 1 ? action : ae->anc[i - 2];

		for (size_t k = 0; k < nr; k++) {
			const struct cedar_uid *r = k == 0   ? NULL
						    : k == 1 ? resource
							     : re->anc[k - 2];
			const struct bucket *b = find(ps->index, a, r, pair_hash(a, r));

			for (size_t j = 0; j < b->n; j++)
				if (!push(out, cap, &n, b->ids[j]))
					return (size_t)-1;
		}
	}
	if (n > 1)
		qsort(*out, n, sizeof(**out), cmp_u32);
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (m == 0 || (*out)[m - 1] != (*out)[i])
			(*out)[m++] = (*out)[i];
	return m;
}

/* --- decisions ------------------------------------------------------------- */

struct outcome {
	const char **sat_permit, **sat_forbid;
	size_t np, nf;
	const char **err;
	char **msg;
	size_t ne;
};

static int list_add(const char ***v, size_t *n, const char *id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == id || strcmp((*v)[i], id) == 0)
			return 0;
	const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = id;
	*v = nv;
	return 0;
}

static int evaluate(const struct cedar_policy_set *ps, struct cedar_entities *es,
		    const struct cedar_value *vars[4], struct outcome *o)
{
	struct cedar_arena arena = { 0 };
	struct cedar_eval ev = { .es = es, .arena = &arena };
	uint32_t *cand = NULL;
	size_t cap = 0, n;
	int rc = 0;

	memcpy(ev.vars, vars, sizeof(ev.vars));
	n = cedar_index_candidates(ps, es, &vars[CEDAR_VAR_ACTION]->e, &vars[CEDAR_VAR_RESOURCE]->e,
				   &cand, &cap);
	if (n == (size_t)-1) {
		free(cand);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct cedar_policy *p = &ps->pol[cand[i]];
		int r = cedar_eval_policy(&ev, p);

		if (r < 0) {
			size_t before = o->ne;

			rc = list_add(&o->err, &o->ne, p->id);
			if (rc == 0 && o->ne > before) {
				char **m = realloc(o->msg, o->ne * sizeof(*m));

				if (!m)
					rc = -ENOMEM;
				else
					o->msg = m, m[o->ne - 1] = strdup(ev.err);
			}
		} else if (r > 0) {
			rc = p->forbid ? list_add(&o->sat_forbid, &o->nf, p->id)
				       : list_add(&o->sat_permit, &o->np, p->id);
		}
	}
	free(cand);
	cedar_arena_free(&arena);
	return rc;
}

static void finish(struct outcome *o, struct cedar_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (o->nf) {
		resp->allow = false;
		resp->reasons = o->sat_forbid;
		resp->nreasons = o->nf;
		free(o->sat_permit);
	} else {
		resp->allow = o->np > 0;
		resp->reasons = o->sat_permit;
		resp->nreasons = o->np;
		free(o->sat_forbid);
	}
	resp->errors = o->err;
	resp->messages = o->msg;
	resp->nerrors = o->ne;
}

int cedar_authorize_values(const struct cedar_policy_set *ps, struct cedar_entities *es,
			   const struct cedar_value *vars[4], struct cedar_response *resp)
{
	struct outcome o = { 0 };
	int rc;

	cedar_entities_seal(es);
	rc = evaluate(ps, es, vars, &o);
	finish(&o, resp);
	if (rc < 0)
		cedar_response_free(resp);
	return rc;
}

static int request_vars(struct cedar_arena *a, const struct cedar_request *req, const char *action,
			const struct cedar_value *vars[4], char *err, size_t errlen)
{
	static const struct cedar_value empty = { .t = CEDAR_V_RECORD };

	vars[0] = cedar_value_entity(a, cedar_cstr(req->principal_type),
				     cedar_cstr(req->principal_id));
	vars[1] = cedar_value_entity(a, cedar_cstr(req->action_type ? req->action_type : "Action"),
				     cedar_cstr(action));
	vars[2] =
		cedar_value_entity(a, cedar_cstr(req->resource_type), cedar_cstr(req->resource_id));
	vars[3] = &empty;
	if (!vars[0] || !vars[1] || !vars[2])
		return -ENOMEM;
	if (req->context) {
		if (!json_is_object(req->context)) {
			snprintf(err, errlen, "context must be a JSON object");
			return -EINVAL;
		}
		return cedar_value_from_json(a, req->context, &vars[3], err, errlen);
	}
	return 0;
}

static int authorize_actions(const struct cedar_policy_set *ps, struct cedar_entities *es,
			     const struct cedar_request *req, const char *const *actions,
			     size_t nact, struct cedar_response *resp)
{
	struct cedar_arena a = { 0 };
	struct outcome o = { 0 };
	const struct cedar_value *vars[4];
	char err[200] = "";
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	if (!req->principal_type || !req->principal_id || !req->resource_type ||
	    !req->resource_id || !actions[0]) {
		resp->error = strdup("a request needs a principal, an action and a resource");
		return -EINVAL;
	}
	cedar_entities_seal(es);
	for (size_t i = 0; i < nact && rc == 0; i++) {
		rc = request_vars(&a, req, actions[i], vars, err, sizeof(err));
		if (rc == 0)
			rc = evaluate(ps, es, vars, &o);
	}
	finish(&o, resp);
	if (rc < 0) {
		cedar_response_free(resp);
		if (rc == -EINVAL && err[0])
			resp->error = strdup(err);
	}
	cedar_arena_free(&a);
	return rc;
}

int cedar_authorize(const struct cedar_policy_set *ps, struct cedar_entities *es,
		    const struct cedar_request *req, struct cedar_response *resp)
{
	const char *act[1] = { req->action_id };
	struct cedar_entities empty = { 0 };

	return authorize_actions(ps, es ? es : &empty, req, act, 1, resp);
}

int cedar_authorize_open(const struct cedar_policy_set *ps, struct cedar_entities *es,
			 const struct cedar_request *req, bool write, struct cedar_response *resp)
{
	const char *act[2] = { "FileOpen", write ? "FileOpenReadWrite" : "FileOpenReadOnly" };
	struct cedar_entities empty = { 0 };

	return authorize_actions(ps, es ? es : &empty, req, act, 2, resp);
}

int cedar_explain(const struct cedar_policy_set *ps, struct cedar_entities *es,
		  const struct cedar_request *req, struct cedar_explanation **out, size_t *n)
{
	struct cedar_arena a = { 0 };
	struct cedar_entities empty = { 0 };
	const struct cedar_value *vars[4];
	char err[200] = "";
	int rc;

	*out = NULL;
	*n = 0;
	if (!req->principal_type || !req->principal_id || !req->resource_type ||
	    !req->resource_id || !req->action_id)
		return -EINVAL;
	es = es ? es : &empty;
	cedar_entities_seal(es);
	rc = request_vars(&a, req, req->action_id, vars, err, sizeof(err));
	if (rc == 0 && ps->n && !(*out = calloc(ps->n, sizeof(**out))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < ps->n; i++) {
		const struct cedar_policy *p = &ps->pol[i];
		struct cedar_explanation *x = &(*out)[i];
		struct cedar_eval ev = { .es = es, .arena = &a };
		int why, r;

		memcpy(ev.vars, vars, sizeof(ev.vars));
		r = cedar_eval_policy_why(&ev, p, &why);
		x->policy_id = p->id;
		x->forbid = p->forbid;
		x->off = p->off;
		if (why >= 0) {
			x->why = why;
		} else {
			x->condition = -1 - why;
			x->off = p->conds[x->condition].off;
			x->why = r < 0 ? CEDAR_WHY_ERROR : CEDAR_WHY_CONDITION;
			if (r < 0 && !(x->message = strdup(ev.err)))
				rc = -ENOMEM;
		}
		*n = i + 1;
	}
	cedar_arena_free(&a);
	if (rc < 0) {
		cedar_explanations_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void cedar_explanations_free(struct cedar_explanation *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].message);
	free(v);
}

void cedar_response_free(struct cedar_response *r)
{
	free(r->reasons);
	free(r->errors);
	for (size_t i = 0; r->messages && i < r->nerrors; i++)
		free(r->messages[i]);
	free(r->messages);
	free(r->error);
	memset(r, 0, sizeof(*r));
}
