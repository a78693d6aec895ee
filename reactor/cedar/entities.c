/*
 * entities.c: the entity store, its JSON form, and leash's implied hierarchy.
 *
 * A store is an open-addressing hash table of entities keyed by uid. Parents are
 * stored as given; cedar_entities_seal() computes each entity's transitive
 * ancestors once (cycles are fine), after which `a in b` is one lookup and a
 * scan of a's ancestors. The store copies every string into its arena.
 *
 * cedar_entities_imply() is the entity provider leash uses for its own
 * requests: the hierarchy is implied by the values (see cedar.h and
 * docs-cedar.md), so plain Cedar `in` works on the seed's policies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cedar_entities *cedar_entities_new(void)
{
	return calloc(1, sizeof(struct cedar_entities));
}

void cedar_entities_free(struct cedar_entities *es)
{
	if (!es)
		return;
	free(es->slots);
	cedar_arena_free(&es->arena);
	free(es);
}

const struct cedar_entity *cedar_entities_get(const struct cedar_entities *es,
					      const struct cedar_uid *uid)
{
	if (!es || !es->nslots)
		return NULL;
	for (size_t i = uid->hash & (es->nslots - 1);; i = (i + 1) & (es->nslots - 1)) {
		const struct cedar_entity *e = es->slots[i];

		if (!e)
			return NULL;
		if (cedar_uid_eq(&e->uid, uid))
			return e;
	}
}

static int grow(struct cedar_entities *es)
{
	size_t n = es->nslots ? es->nslots * 2 : 64;
	struct cedar_entity **s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < es->nslots; i++) {
		struct cedar_entity *e = es->slots[i];

		if (!e)
			continue;
		size_t j = e->uid.hash & (n - 1);

		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = e;
	}
	free(es->slots);
	es->slots = s;
	es->nslots = n;
	return 0;
}

static bool copy_str(struct cedar_arena *a, struct cedar_str *s)
{
	char *p = cedar_arena_memdup(a, s->p, s->n);

	if (!p)
		return false;
	s->p = p;
	return true;
}

static bool copy_uid(struct cedar_arena *a, struct cedar_uid *u)
{
	return copy_str(a, &u->type) && copy_str(a, &u->id);
}

static const struct cedar_value empty_record = { .t = CEDAR_V_RECORD };

struct cedar_entity *cedar_entities_put(struct cedar_entities *es, const struct cedar_uid *uid,
					bool *existed)
{
	struct cedar_entity *e = (struct cedar_entity *)cedar_entities_get(es, uid);

	*existed = e != NULL;
	if (e)
		return e;
	if ((es->count + 1) * 2 > es->nslots && grow(es) < 0)
		return NULL;
	e = cedar_arena_alloc(&es->arena, sizeof(*e));
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->uid = *uid;
	if (!copy_uid(&es->arena, &e->uid))
		return NULL;
	e->attrs = &empty_record;
	size_t i = uid->hash & (es->nslots - 1);

	while (es->slots[i])
		i = (i + 1) & (es->nslots - 1);
	es->slots[i] = e;
	es->count++;
	es->sealed = false;
	return e;
}

static int add_parent(struct cedar_entities *es, struct cedar_entity *e, const struct cedar_uid *p)
{
	for (size_t i = 0; i < e->nparents; i++)
		if (cedar_uid_eq(&e->parents[i], p))
			return 0;
	struct cedar_uid *np = cedar_arena_alloc(&es->arena, (e->nparents + 1) * sizeof(*np));

	if (!np)
		return -ENOMEM;
	if (e->nparents)
		memcpy(np, e->parents, e->nparents * sizeof(*np));
	np[e->nparents] = *p;
	if (!copy_uid(&es->arena, &np[e->nparents]))
		return -ENOMEM;
	e->parents = np;
	e->nparents++;
	es->sealed = false;
	return 0;
}

/* --- transitive closure ---------------------------------------------------- */

struct anc_acc {
	const struct cedar_uid **v;
	size_t n, cap;
};

static int acc_push(struct anc_acc *acc, const struct cedar_uid *u)
{
	for (size_t i = 0; i < acc->n; i++)
		if (cedar_uid_eq(acc->v[i], u))
			return 0;
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 16;
		const struct cedar_uid **v = realloc(acc->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		acc->v = v;
		acc->cap = cap;
	}
	acc->v[acc->n++] = u;
	return 1;
}

void cedar_entities_seal(struct cedar_entities *es)
{
	struct anc_acc acc = { 0 };

	if (!es || es->sealed)
		return;
	for (size_t s = 0; s < es->nslots; s++) {
		struct cedar_entity *e = es->slots[s];

		if (!e)
			continue;
		acc.n = 0;
		/* breadth-first over parents; acc doubles as the visited set and queue */
		for (size_t i = 0; i < e->nparents; i++)
			acc_push(&acc, &e->parents[i]);
		for (size_t q = 0; q < acc.n; q++) {
			const struct cedar_entity *pe = cedar_entities_get(es, acc.v[q]);

			for (size_t i = 0; pe && i < pe->nparents; i++)
				acc_push(&acc, &pe->parents[i]);
		}
		e->nanc = acc.n;
		e->anc = cedar_arena_memdup(&es->arena, acc.v, acc.n * sizeof(*acc.v));
		if (!e->anc)
			e->nanc = 0;
	}
	free(acc.v);
	es->sealed = true;
}

/* Is e one of its own ancestors? */
static bool cedar_entities_in_strict(const struct cedar_entity *e)
{
	for (size_t i = 0; i < e->nanc; i++)
		if (cedar_uid_eq(e->anc[i], &e->uid))
			return true;
	return false;
}

bool cedar_entities_in(const struct cedar_entities *es, const struct cedar_uid *a,
		       const struct cedar_uid *b)
{
	if (cedar_uid_eq(a, b))
		return true;
	const struct cedar_entity *e = cedar_entities_get(es, a);

	for (size_t i = 0; e && i < e->nanc; i++)
		if (cedar_uid_eq(e->anc[i], b))
			return true;
	return false;
}

/* --- JSON ------------------------------------------------------------------- */

/*
 * jansson refuses NUL in object keys, but Cedar record keys may hold it. Keys
 * are therefore decoded with "\u0000" spelled as U+10FFFE (a noncharacter) and
 * turned back into NUL when they become Cedar strings; input that already uses
 * U+10FFFE in a key reads it as NUL (documented limitation).
 */
#define NUL_SENTINEL "\xf4\x8f\xbf\xbe"
#define NUL_SENTINEL_ESC "\\udbff\\udffe"

json_t *cedar_json_loads(const char *text, size_t len, json_error_t *je)
{
	struct cedar_buf b = { 0 };
	size_t last = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] != '"')
			continue;
		size_t s = i++;

		while (i < len && text[i] != '"')
			i += text[i] == '\\' ? 2 : 1;
		size_t e = i < len ? i : len, k = i + 1;

		while (k < len &&
		       (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r'))
			k++;
		if (k >= len || text[k] != ':')
			continue; /* not an object key */
		for (size_t j = s; j + 6 <= e; j++) {
			if (text[j] != '\\')
				continue;
			if (!strncmp(text + j, "\\u0000", 6)) {
				cedar_buf_put(&b, text + last, j - last);
				cedar_buf_puts(&b, NUL_SENTINEL_ESC);
				last = j + 6;
				j += 5;
			} else {
				j++;
			}
		}
	}
	if (last == 0)
		return json_loadb(text, len, JSON_ALLOW_NUL, je);
	cedar_buf_put(&b, text + last, len - last);
	json_t *j = b.oom ? NULL : json_loadb(b.p, b.n, JSON_ALLOW_NUL, je);

	free(b.p);
	return j;
}

/* Copies a decoded object key, turning the sentinel back into NUL. */
static bool copy_key(struct cedar_arena *a, struct cedar_str *s)
{
	char *p = cedar_arena_memdup(a, s->p, s->n);
	size_t k = 0;

	if (!p)
		return false;
	for (size_t i = 0; i < s->n; i++) {
		if (i + 4 <= s->n && !memcmp(s->p + i, NUL_SENTINEL, 4)) {
			p[k++] = 0;
			i += 3;
		} else {
			p[k++] = s->p[i];
		}
	}
	s->p = p;
	s->n = k;
	return true;
}

static int json_uid(struct cedar_arena *a, const json_t *j, struct cedar_uid *u, bool escaped_only,
		    char *err, size_t errlen)
{
	const json_t *x = json_object_get(j, "__entity");

	if (x)
		j = x;
	else if (escaped_only)
		return -EINVAL;
	const json_t *t = json_object_get(j, "type"), *id = json_object_get(j, "id");

	if (!json_is_string(t) || !json_is_string(id)) {
		snprintf(err, errlen, "entity reference needs string \"type\" and \"id\"");
		return -EINVAL;
	}
	struct cedar_str ts = { json_string_value(t), json_string_length(t) };
	struct cedar_str is = { json_string_value(id), json_string_length(id) };

	if (a && (!copy_str(a, &ts) || !copy_str(a, &is)))
		return -ENOMEM;
	cedar_uid_init(u, ts, is);
	return 0;
}

int cedar_value_from_json(struct cedar_arena *a, const json_t *j, const struct cedar_value **out,
			  char *err, size_t errlen)
{
	switch (json_typeof(j)) {
	case JSON_TRUE:
		*out = &cedar_true;
		return 0;
	case JSON_FALSE:
		*out = &cedar_false;
		return 0;
	case JSON_INTEGER:
		*out = cedar_value_long(a, json_integer_value(j));
		return *out ? 0 : -ENOMEM;
	case JSON_STRING: {
		struct cedar_str s = { json_string_value(j), json_string_length(j) };

		if (!copy_str(a, &s))
			return -ENOMEM;
		*out = cedar_value_string(a, s);
		return *out ? 0 : -ENOMEM;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		const struct cedar_value **v = cedar_arena_alloc(a, (n + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			int rc = cedar_value_from_json(a, json_array_get(j, i), &v[i], err, errlen);

			if (rc < 0)
				return rc;
		}
		*out = cedar_value_set(a, v, n);
		return *out ? 0 : -ENOMEM;
	}
	case JSON_OBJECT: {
		if (json_object_get(j, "__entity") && json_object_size(j) == 1) {
			struct cedar_uid u;
			int rc = json_uid(a, j, &u, true, err, errlen);

			if (rc < 0)
				return rc;
			*out = cedar_value_entity(a, u.type, u.id);
			return *out ? 0 : -ENOMEM;
		}
		if (json_object_get(j, "__extn")) {
			snprintf(err, errlen, "extension values (__extn) are not supported");
			return -EINVAL;
		}
		size_t n = json_object_size(j), i = 0;
		struct cedar_str *k = cedar_arena_alloc(a, (n + 1) * sizeof(*k));
		const struct cedar_value **v = cedar_arena_alloc(a, (n + 1) * sizeof(*v));
		const char *key;
		json_t *val;

		if (!k || !v)
			return -ENOMEM;
		json_object_foreach((json_t *)j, key, val)
		{
			k[i] = cedar_cstr(key);
			if (!copy_key(a, &k[i]))
				return -ENOMEM;
			int rc = cedar_value_from_json(a, val, &v[i], err, errlen);

			if (rc < 0)
				return rc;
			i++;
		}
		*out = cedar_value_record(a, k, v, i);
		return *out ? 0 : -ENOMEM;
	}
	case JSON_REAL:
		snprintf(err, errlen, "floating-point numbers are not Cedar values");
		return -EINVAL;
	case JSON_NULL:
		snprintf(err, errlen, "null is not a Cedar value");
		return -EINVAL;
	}
	return -EINVAL;
}

static bool is_action_type(struct cedar_str t)
{
	return cedar_str_eq(t, cedar_cstr("Action")) ||
	       (t.n > 8 && !memcmp(t.p + t.n - 8, "::Action", 8));
}

static bool same_parents(const struct cedar_entity *e, const struct cedar_uid *p, size_t n)
{
	size_t distinct = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = false, found = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = cedar_uid_eq(&p[k], &p[i]);
		distinct += !dup;
		for (size_t k = 0; k < e->nparents && !found; k++)
			found = cedar_uid_eq(&e->parents[k], &p[i]);
		if (!found)
			return false;
	}
	return distinct == e->nparents;
}

/* One entity of the JSON array; see cedar_entities_add_json(). */
static int add_json_entity(struct cedar_entities *es, const json_t *ej, char *err, size_t errlen)
{
	struct cedar_uid u, *pu = NULL;
	const struct cedar_value *attrs = NULL;
	const json_t *ja = json_object_get(ej, "attrs"), *jp = json_object_get(ej, "parents");
	size_t np = json_array_size(jp), k;
	json_t *pj;
	bool existed;
	int rc = json_uid(NULL, json_object_get(ej, "uid"), &u, false, err, errlen);

	if (rc < 0)
		return rc;
	/* as Cedar: attrs and parents are required */
	if (!json_is_object(ja) || !json_is_array(jp)) {
		snprintf(err, errlen,
			 "entity %.*s::\"%.*s\" needs \"attrs\" (object) and \"parents\" (array)",
			 (int)u.type.n, u.type.p, (int)u.id.n, u.id.p);
		return -EINVAL;
	}
	rc = cedar_value_from_json(&es->arena, ja, &attrs, err, errlen);
	if (rc < 0)
		return rc;
	if (attrs->t != CEDAR_V_RECORD) {
		snprintf(err, errlen, "entity attrs must be a record");
		return -EINVAL;
	}
	pu = cedar_arena_alloc(&es->arena, (np + 1) * sizeof(*pu));
	if (!pu)
		return -ENOMEM;
	json_array_foreach(jp, k, pj)
	{
		rc = json_uid(&es->arena, pj, &pu[k], false, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* as Cedar: an action's parents are actions */
	for (k = 0; k < np && is_action_type(u.type); k++) {
		if (!is_action_type(pu[k].type)) {
			snprintf(err, errlen,
				 "action %.*s::\"%.*s\" has a parent that is not an action",
				 (int)u.type.n, u.type.p, (int)u.id.n, u.id.p);
			return -EINVAL;
		}
	}
	struct cedar_entity *e = cedar_entities_put(es, &u, &existed);

	if (!e)
		return -ENOMEM;
	if (existed && e->from_json) {
		/* Cedar accepts a repeated entity only when it is the same entity */
		if (cedar_value_eq(e->attrs, attrs) && same_parents(e, pu, np))
			return 0;
		snprintf(err, errlen, "duplicate entity entry %.*s::\"%.*s\"", (int)u.type.n,
			 u.type.p, (int)u.id.n, u.id.p);
		return -EINVAL;
	}
	/* new, or built by the provider: the JSON gives the attributes and more parents */
	e->from_json = true;
	e->attrs = attrs;
	for (k = 0; k < np; k++) {
		rc = add_parent(es, e, &pu[k]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int cedar_entities_add_json(struct cedar_entities *es, const json_t *arr, char *err, size_t errlen)
{
	size_t i;
	json_t *ej;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "entities must be a JSON array");
		return -EINVAL;
	}
	json_array_foreach(arr, i, ej)
	{
		int rc = add_json_entity(es, ej, err, errlen);

		if (rc < 0)
			return rc;
	}
	/* as Cedar: the parent relation must not have a cycle */
	cedar_entities_seal(es);
	for (size_t s = 0; s < es->nslots; s++) {
		const struct cedar_entity *e = es->slots[s];

		if (e && cedar_entities_in_strict(e)) {
			snprintf(err, errlen,
				 "the entity hierarchy has a cycle through %.*s::\"%.*s\"",
				 (int)e->uid.type.n, e->uid.type.p, (int)e->uid.id.n, e->uid.id.p);
			return -EINVAL;
		}
	}
	return 0;
}

int cedar_entities_add_parent(struct cedar_entities *es, const char *type, const char *id,
			      const char *ptype, const char *pid)
{
	struct cedar_uid u, pu;
	bool existed;

	if (!es || !type || !id || (ptype && !pid))
		return -EINVAL;
	cedar_uid_init(&u, cedar_cstr(type), cedar_cstr(id));
	struct cedar_entity *e = cedar_entities_put(es, &u, &existed);

	if (!e)
		return -ENOMEM;
	if (!ptype)
		return 0;
	cedar_uid_init(&pu, cedar_cstr(ptype), cedar_cstr(pid));
	return add_parent(es, e, &pu);
}

/* --- the implied hierarchy ------------------------------------------------- */

static int imply_path(struct cedar_entities *es, const char *type, const char *path)
{
	size_t n = strlen(path);
	char *buf;
	int rc = 0;

	if (n == 0 || path[0] != '/')
		return cedar_entities_add_parent(es, type, path, NULL, NULL);
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	/* every proper ancestor directory, with its trailing slash */
	size_t end = n;

	if (strcmp(type, "Dir") == 0 && n > 1 && path[n - 1] == '/')
		end = n - 1;
	rc = cedar_entities_add_parent(es, type, path, NULL, NULL);
	for (size_t i = end; rc == 0 && i-- > 0;) {
		if (path[i] != '/')
			continue;
		memcpy(buf, path, i + 1);
		buf[i + 1] = 0;
		rc = cedar_entities_add_parent(es, type, path, "Dir", buf);
	}
	free(buf);
	return rc;
}

static bool is_ip_literal(const char *h, size_t n)
{
	if (n && h[0] == '[')
		return true;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || h[i] == '.'))
			return false;
	return n > 0;
}

/* An address is in every CIDR range that holds it: "a.b.c.d/n" for n in
 * 0..32, "[v6]/n" for n in 0..128, each in canonical text (network
 * address masked, inet_ntop form), so `resource in Host::"10.0.0.0/8"`
 * holds for Host::"10.1.2.3:443". HOST is the address part of ID. */
static int imply_cidrs(struct cedar_entities *es, const char *id, const char *host, size_t hn)
{
	char text[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
	unsigned char addr[16], m[16];
	int family = AF_INET, bits = 32;

	if (hn >= sizeof(text) - 1)
		return 0;
	memcpy(text, host, hn);
	text[hn] = 0;
	if (text[0] == '[' && hn > 2 && text[hn - 1] == ']') {
		text[hn - 1] = 0;
		memmove(text, text + 1, hn - 1);
		family = AF_INET6;
		bits = 128;
	}
	if (inet_pton(family, text, addr) != 1)
		return 0;
	for (int n = 0; n <= bits; n++) {
		int rc;

		memcpy(m, addr, bits / 8);
		for (int b = n; b < bits; b++)
			m[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
		inet_ntop(family, m, a, sizeof(a));
		snprintf(text, sizeof(text), family == AF_INET6 ? "[%s]/%d" : "%s/%d", a, n);
		rc = cedar_entities_add_parent(es, "Host", id, "Host", text);
		if (rc)
			return rc;
	}
	return 0;
}

static int imply_host(struct cedar_entities *es, const char *id)
{
	size_t n = strlen(id), hn = n;
	char *buf = malloc(n + 3);
	int rc;

	if (!buf)
		return -ENOMEM;
	/* "name:port" (or "[v6]:port"): the part before the port is the host */
	const char *colon = strrchr(id, ':');

	if (colon && (id[0] != '[' || colon > strchr(id, ']')) &&
	    (id[0] == '[' || strchr(id, ':') == colon))
		hn = colon - id;
	rc = cedar_entities_add_parent(es, "Host", id, NULL, NULL);
	if (rc == 0 && strcmp(id, "*") != 0)
		rc = cedar_entities_add_parent(es, "Host", id, "Host", "*");
	if (rc == 0 && hn < n) {
		memcpy(buf, id, hn);
		buf[hn] = 0;
		rc = cedar_entities_add_parent(es, "Host", id, "Host", buf);
	}
	if (rc == 0 && (is_ip_literal(id, hn) || id[0] == '['))
		rc = imply_cidrs(es, id, id, hn);
	if (rc == 0 && !is_ip_literal(id, hn) && id[0] != '[') {
		/* "*.d" for each parent domain d of the name (a wildcard id starts after "*.") */
		size_t start = (hn >= 2 && id[0] == '*' && id[1] == '.') ? 2 : 0;

		for (size_t i = start; rc == 0 && i < hn; i++) {
			if (id[i] != '.' || i + 1 >= hn)
				continue;
			buf[0] = '*';
			buf[1] = '.';
			memcpy(buf + 2, id + i + 1, hn - i - 1);
			buf[2 + hn - i - 1] = 0;
			rc = cedar_entities_add_parent(es, "Host", id, "Host", buf);
		}
	}
	free(buf);
	return rc;
}

int cedar_entities_imply(struct cedar_entities *es, const char *type, const char *id,
			 const char *server)
{
	if (!es || !type || !id)
		return -EINVAL;
	if (strcmp(type, "File") == 0 || strcmp(type, "Dir") == 0)
		return imply_path(es, type, id);
	if (strcmp(type, "Host") == 0)
		return imply_host(es, id);
	if (strcmp(type, "MCP::Tool") == 0)
		return cedar_entities_add_parent(es, type, id, server ? "MCP::Server" : NULL,
						 server);
	if (strcmp(type, "Action") == 0 &&
	    (strcmp(id, "FileOpenReadOnly") == 0 || strcmp(id, "FileOpenReadWrite") == 0))
		return cedar_entities_add_parent(es, type, id, "Action", "FileOpen");
	return cedar_entities_add_parent(es, type, id, NULL, NULL);
}
