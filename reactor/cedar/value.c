/*
 * value.c: Cedar values: construction, total order, equality, printing.
 *
 * Sets are kept sorted and deduplicated and records sorted by key, under one
 * total order (cedar_value_cmp), so set and record equality are a linear walk
 * and set membership a binary search. Values are immutable once built.
 */
#include <string.h>
#include <stdlib.h>

#include "internal.h"

const struct cedar_value cedar_true = { .t = CEDAR_V_BOOL, .b = true };
const struct cedar_value cedar_false = { .t = CEDAR_V_BOOL, .b = false };

uint64_t cedar_uid_hash(struct cedar_str type, struct cedar_str id)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < type.n; i++)
		h = (h ^ (unsigned char)type.p[i]) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < id.n; i++)
		h = (h ^ (unsigned char)id.p[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

void cedar_uid_init(struct cedar_uid *u, struct cedar_str type, struct cedar_str id)
{
	u->type = type;
	u->id = id;
	u->hash = cedar_uid_hash(type, id);
}

static int uid_cmp(const struct cedar_uid *a, const struct cedar_uid *b)
{
	int c = cedar_str_cmp(a->type, b->type);

	return c ? c : cedar_str_cmp(a->id, b->id);
}

int cedar_value_cmp(const struct cedar_value *a, const struct cedar_value *b)
{
	if (a == b)
		return 0;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	switch (a->t) {
	case CEDAR_V_BOOL:
		return (int)a->b - (int)b->b;
	case CEDAR_V_LONG:
		return a->l < b->l ? -1 : a->l > b->l;
	case CEDAR_V_STRING:
		return cedar_str_cmp(a->s, b->s);
	case CEDAR_V_ENTITY:
		return uid_cmp(&a->e, &b->e);
	case CEDAR_V_SET:
		for (size_t i = 0; i < a->set.n && i < b->set.n; i++) {
			int c = cedar_value_cmp(a->set.v[i], b->set.v[i]);

			if (c)
				return c;
		}
		return a->set.n < b->set.n ? -1 : a->set.n > b->set.n;
	case CEDAR_V_RECORD:
		for (size_t i = 0; i < a->rec.n && i < b->rec.n; i++) {
			int c = cedar_str_cmp(a->rec.k[i], b->rec.k[i]);

			if (!c)
				c = cedar_value_cmp(a->rec.v[i], b->rec.v[i]);
			if (c)
				return c;
		}
		return a->rec.n < b->rec.n ? -1 : a->rec.n > b->rec.n;
	}
	return 0;
}

bool cedar_value_eq(const struct cedar_value *a, const struct cedar_value *b)
{
	if (a->t != b->t)
		return false;
	if (a->t == CEDAR_V_ENTITY)
		return cedar_uid_eq(&a->e, &b->e);
	return cedar_value_cmp(a, b) == 0;
}

static int vp_cmp(const void *x, const void *y)
{
	return cedar_value_cmp(*(const struct cedar_value *const *)x,
			       *(const struct cedar_value *const *)y);
}

struct cedar_value *cedar_value_set(struct cedar_arena *a, const struct cedar_value **v, size_t n)
{
	struct cedar_value *s = cedar_arena_alloc(a, sizeof(*s));

	if (!s)
		return NULL;
	if (n > 1)
		qsort(v, n, sizeof(*v), vp_cmp);
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (m == 0 || cedar_value_cmp(v[m - 1], v[i]) != 0)
			v[m++] = v[i];
	s->t = CEDAR_V_SET;
	s->set.v = v;
	s->set.n = m;
	return s;
}

struct cedar_value *cedar_value_record(struct cedar_arena *a, struct cedar_str *k,
				       const struct cedar_value **v, size_t n)
{
	struct cedar_value *r = cedar_arena_alloc(a, sizeof(*r));

	if (!r)
		return NULL;
	/* insertion sort: records are small */
	for (size_t i = 1; i < n; i++) {
		struct cedar_str kk = k[i];
		const struct cedar_value *vv = v[i];
		size_t j = i;

		for (; j > 0 && cedar_str_cmp(k[j - 1], kk) > 0; j--) {
			k[j] = k[j - 1];
			v[j] = v[j - 1];
		}
		k[j] = kk;
		v[j] = vv;
	}
	r->t = CEDAR_V_RECORD;
	r->rec.k = k;
	r->rec.v = v;
	r->rec.n = n;
	return r;
}

const struct cedar_value *cedar_record_get(const struct cedar_value *rec, struct cedar_str key)
{
	size_t lo = 0, hi = rec->rec.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cedar_str_cmp(rec->rec.k[mid], key);

		if (c == 0)
			return rec->rec.v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct cedar_value *cedar_value_long(struct cedar_arena *a, int64_t l)
{
	struct cedar_value *v = cedar_arena_alloc(a, sizeof(*v));

	if (v) {
		v->t = CEDAR_V_LONG;
		v->l = l;
	}
	return v;
}

const struct cedar_value *cedar_value_string(struct cedar_arena *a, struct cedar_str s)
{
	struct cedar_value *v = cedar_arena_alloc(a, sizeof(*v));

	if (v) {
		v->t = CEDAR_V_STRING;
		v->s = s;
	}
	return v;
}

const struct cedar_value *cedar_value_entity(struct cedar_arena *a, struct cedar_str type,
					     struct cedar_str id)
{
	struct cedar_value *v = cedar_arena_alloc(a, sizeof(*v));

	if (v) {
		v->t = CEDAR_V_ENTITY;
		cedar_uid_init(&v->e, type, id);
	}
	return v;
}

const char *cedar_vtype_name(enum cedar_vtype t)
{
	static const char *const names[] = { "bool", "long", "string", "entity", "set", "record" };

	return names[t];
}

void cedar_value_print(struct cedar_buf *b, const struct cedar_value *v)
{
	switch (v->t) {
	case CEDAR_V_BOOL:
		cedar_buf_puts(b, v->b ? "true" : "false");
		break;
	case CEDAR_V_LONG:
		cedar_buf_printf(b, "%lld", (long long)v->l);
		break;
	case CEDAR_V_STRING:
		cedar_buf_puts(b, "\"");
		cedar_buf_escape(b, v->s);
		cedar_buf_puts(b, "\"");
		break;
	case CEDAR_V_ENTITY:
		cedar_buf_put(b, v->e.type.p, v->e.type.n);
		cedar_buf_puts(b, "::\"");
		cedar_buf_escape(b, v->e.id);
		cedar_buf_puts(b, "\"");
		break;
	case CEDAR_V_SET:
		cedar_buf_puts(b, "[");
		for (size_t i = 0; i < v->set.n; i++) {
			if (i)
				cedar_buf_puts(b, ", ");
			cedar_value_print(b, v->set.v[i]);
		}
		cedar_buf_puts(b, "]");
		break;
	case CEDAR_V_RECORD:
		cedar_buf_puts(b, "{");
		for (size_t i = 0; i < v->rec.n; i++) {
			cedar_buf_puts(b, i ? ", \"" : "\"");
			cedar_buf_escape(b, v->rec.k[i]);
			cedar_buf_puts(b, "\": ");
			cedar_value_print(b, v->rec.v[i]);
		}
		cedar_buf_puts(b, "}");
		break;
	}
}
