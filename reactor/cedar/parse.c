/*
 * parse.c: Cedar policy text to AST, with errors people can act on.
 *
 * A recursive-descent parser over Cedar's grammar (the lalrpop grammar of the
 * Rust implementation), building struct cedar_policy / struct cedar_expr in the
 * policy set's arena. Literal values are built once here and shared by every
 * evaluation.
 *
 * Errors: a fatal error inside a policy records a diagnostic and longjmp()s back
 * to the policy loop, which skips to the next ';' and goes on, so one run
 * reports every broken policy. Non-fatal errors (a reserved word as an
 * attribute, a too-large integer, a duplicate key) are recorded and parsing
 * continues. A missing ';' before the next `permit`/`forbid`/`@` is reported
 * with a hint and the next policy parses normally.
 *
 * Bounds: text size (CEDAR_MAX_TEXT), bracket nesting (CEDAR_MAX_DEPTH) and AST
 * depth (AST_MAX_DEPTH, long `&&` chains) are checked, so evaluation recursion
 * is bounded too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define AST_MAX_DEPTH 1000
#define MAX_ERRORS 100

struct parser {
	const char *src;
	size_t n;
	struct cedar_lexer lx;
	struct cedar_token tok, prev;
	struct cedar_arena *a;
	struct cedar_diags *d;
	int nerrors;
	int depth;
	bool failed; /* the current policy has an error */
	char pid[32];
	jmp_buf jb;
	/* comments seen, in order */
	struct cedar_str *com;
	uint32_t *comoff;
	size_t ncom, capcom;
};

enum {
	R_TRUE,
	R_FALSE,
	R_IF,
	R_THEN,
	R_ELSE,
	R_IN,
	R_IS,
	R_LIKE,
	R_HAS,
	R_NONE
};

static const char *const reserved[] = { "true", "false", "if",	 "then", "else",
					"in",	"is",	 "like", "has" };

static int tok_reserved(const struct parser *p, const struct cedar_token *t)
{
	if (t->t != T_IDENT)
		return R_NONE;
	for (int i = 0; i < R_NONE; i++)
		if (strlen(reserved[i]) == t->len && !memcmp(p->src + t->off, reserved[i], t->len))
			return i;
	return R_NONE;
}

static bool tok_is(const struct parser *p, const char *word)
{
	size_t l = strlen(word);

	return p->tok.t == T_IDENT && p->tok.len == l && !memcmp(p->src + p->tok.off, word, l);
}

static void *alloc(struct parser *p, size_t n);

/* The token's text, copied: the AST never points into the caller's text. */
static struct cedar_str tok_str(struct parser *p, const struct cedar_token *t)
{
	char *s = alloc(p, t->len + 1);

	memcpy(s, p->src + t->off, t->len);
	return (struct cedar_str){ s, t->len };
}

/* --- errors --------------------------------------------------------------- */

static void err_at(struct parser *p, uint32_t off, uint32_t len, const char *code, const char *hint,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void err_at(struct parser *p, uint32_t off, uint32_t len, const char *code, const char *hint,
		   const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	p->failed = true;
	if (++p->nerrors > MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->nerrors == MAX_ERRORS)
		snprintf(msg, sizeof(msg), "too many errors, stopping here");
	cedar_diag_add(p->d, p->src, p->n, off, len, CEDAR_SEV_ERROR, code, hint,
		       p->pid[0] ? p->pid : NULL, "%s", msg);
}

static void __attribute__((noreturn)) fail(struct parser *p)
{
	longjmp(p->jb, 1);
}

static void tok_desc(const struct parser *p, char *buf, size_t n)
{
	if (p->tok.t == T_EOF)
		snprintf(buf, n, "end of input");
	else if (p->tok.t == T_BAD && p->src[p->tok.off] == '"')
		snprintf(buf, n, "unterminated string");
	else
		snprintf(buf, n, "'%.*s'", p->tok.len > 40 ? 40 : (int)p->tok.len,
			 p->src + p->tok.off);
}

static void __attribute__((noreturn))
unexpected(struct parser *p, const char *what, const char *hint)
{
	char got[64];

	if (p->tok.t == T_BAD && p->src[p->tok.off] == '"' && p->tok.off + p->tok.len < p->n) {
		err_at(p, p->tok.off + p->tok.len - 1, 1, "syntax.invalid-escape",
		       "write \\n for a line break inside a string",
		       "a backslash cannot end a line inside a string");
		fail(p);
	}
	if (p->tok.t == T_BAD && p->src[p->tok.off] == '"') {
		err_at(p, p->tok.off, 1, "syntax.unterminated-string", "add the closing '\"'",
		       "unterminated string literal");
		fail(p);
	}
	if (p->tok.t == T_BAD) {
		err_at(p, p->tok.off, p->tok.len, "syntax.invalid-character", NULL,
		       "invalid character '%.*s'", (int)p->tok.len, p->src + p->tok.off);
		fail(p);
	}
	if (p->tok.t == T_SLASH && p->tok.off + 1 < p->n && p->src[p->tok.off + 1] == '*') {
		err_at(p, p->tok.off, 2, "syntax.block-comment",
		       "Cedar has only '//' line comments", "'/*' comments are not Cedar");
		fail(p);
	}
	tok_desc(p, got, sizeof(got));
	err_at(p, p->tok.off, p->tok.len ? p->tok.len : 1, "syntax.unexpected-token", hint,
	       "expected %s, found %s", what, got);
	fail(p);
}

/* --- tokens --------------------------------------------------------------- */

static void next(struct parser *p)
{
	p->prev = p->tok;
	for (;;) {
		size_t before = p->lx.pos;

		cedar_lex_next(&p->lx, &p->tok);
		/* record the '//' comments between the previous token and this one */
		for (size_t i = before; i + 1 < p->tok.off; i++) {
			if (p->src[i] == '"')
				break; /* cannot happen in a gap, defensive */
			if (p->src[i] == '/' && p->src[i + 1] == '/') {
				size_t e = i;

				while (e < p->tok.off && p->src[e] != '\n' && p->src[e] != '\r')
					e++;
				if (p->ncom == p->capcom) {
					size_t cap = p->capcom ? p->capcom * 2 : 16;
					struct cedar_str *c = realloc(p->com, cap * sizeof(*c));
					uint32_t *o = realloc(p->comoff, cap * sizeof(*o));

					if (c)
						p->com = c;
					if (o)
						p->comoff = o;
					if (!c || !o)
						break;
					p->capcom = cap;
				}
				p->comoff[p->ncom] = i;
				p->com[p->ncom++] = (struct cedar_str){ p->src + i, e - i };
				i = e;
			}
		}
		return;
	}
}

static struct cedar_token peek(struct parser *p)
{
	struct cedar_lexer lx = p->lx;
	struct cedar_token t;

	cedar_lex_next(&lx, &t);
	return t;
}

static void expect(struct parser *p, enum cedar_tok t, const char *hint)
{
	if (p->tok.t != t)
		unexpected(p, cedar_tok_name(t), hint);
	next(p);
}

static void *alloc(struct parser *p, size_t n)
{
	void *x = cedar_arena_alloc(p->a, n);

	if (!x) {
		err_at(p, p->tok.off, 1, "internal.oom", NULL, "out of memory");
		fail(p);
	}
	memset(x, 0, n);
	return x;
}

/* A growable array of pointers, copied into the arena when done. */
struct vec {
	void **v;
	size_t n, cap;
};

static void vec_push(struct parser *p, struct vec *v, void *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void **nv = cedar_arena_alloc(p->a, cap * sizeof(*nv));

		if (!nv) {
			err_at(p, p->tok.off, 1, "internal.oom", NULL, "out of memory");
			fail(p);
		}
		if (v->n)
			memcpy(nv, v->v, v->n * sizeof(*nv));
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = x;
}

/* --- names ---------------------------------------------------------------- */

/* Checks an identifier used as a name (attribute, path component, record key). */
static void check_name(struct parser *p, const struct cedar_token *t, bool in_path)
{
	if (tok_reserved(p, t) != R_NONE)
		err_at(p, t->off, t->len, "syntax.reserved-identifier",
		       "quote it: use [\"name\"] for attributes or has \"name\"",
		       "'%.*s' is a reserved identifier", (int)t->len, p->src + t->off);
	else if (in_path && t->len == 7 && !memcmp(p->src + t->off, "__cedar", 7))
		err_at(p, t->off, t->len, "syntax.reserved-identifier", NULL,
		       "the name '__cedar' is reserved");
}

/*
 * Parses IDENT ('::' IDENT)* at the current token, stopping before a '::' that
 * is followed by a string (an entity literal). Returns the path text.
 */
static struct cedar_str parse_path(struct parser *p)
{
	uint32_t start = p->tok.off;

	if (p->tok.t != T_IDENT)
		unexpected(p, "a name", NULL);
	check_name(p, &p->tok, true);
	next(p);
	while (p->tok.t == T_COLONCOLON && peek(p).t == T_IDENT) {
		next(p);
		check_name(p, &p->tok, true);
		next(p);
	}
	/* copy without the whitespace Cedar allows around '::' */
	struct cedar_buf b = { 0 };
	struct cedar_lexer lx = { p->src, p->prev.off + p->prev.len, start };
	struct cedar_token t;

	for (;;) {
		cedar_lex_next(&lx, &t);
		if (t.t == T_EOF)
			break;
		cedar_buf_put(&b, p->src + t.off, t.len);
	}
	char *s = cedar_buf_steal(&b);

	if (!s) {
		err_at(p, start, 1, "internal.oom", NULL, "out of memory");
		fail(p);
	}
	struct cedar_str r = { cedar_arena_strndup(p->a, s, strlen(s)), strlen(s) };

	free(s);
	return r;
}

static struct cedar_str parse_string(struct parser *p, bool pattern, uint8_t **wild)
{
	struct cedar_str s = { "", 0 };
	size_t bo, bl;

	if (p->tok.t != T_STRING)
		unexpected(p, "a string literal", NULL);
	int rc = cedar_unescape(p->a, p->src + p->tok.off, p->tok.len, pattern, &s, wild, &bo, &bl);

	if (rc == -EINVAL)
		err_at(p, p->tok.off + bo, bl, "syntax.invalid-escape",
		       "valid escapes: \\n \\r \\t \\\\ \\0 \\' \\\" \\xHH (up to 7F) \\u{H..H}, and \\* in like patterns",
		       "invalid escape '%.*s'", (int)bl, p->src + p->tok.off + bo);
	else if (rc < 0)
		fail(p);
	next(p);
	return s;
}

/* Entity literal after its path: '::' STRING. */
static void parse_uid_rest(struct parser *p, struct cedar_str type, struct cedar_uid *u)
{
	expect(p, T_COLONCOLON, NULL);
	if (p->tok.t != T_STRING)
		unexpected(p, "a quoted entity id", "entity literals look like Type::\"id\"");
	struct cedar_str id = parse_string(p, false, NULL);

	cedar_uid_init(u, type, id);
}

static void parse_uid(struct parser *p, struct cedar_uid *u)
{
	if (p->tok.t == T_QUESTION) {
		err_at(p, p->tok.off, p->tok.len + peek(p).len, "unsupported.template",
		       "write the entity literally",
		       "templates (?principal, ?resource) are not supported");
		fail(p);
	}
	if (p->tok.t != T_IDENT)
		unexpected(p, "an entity literal", "entity literals look like Type::\"id\"");
	struct cedar_str type = parse_path(p);

	parse_uid_rest(p, type, u);
}

/* --- expressions ---------------------------------------------------------- */

static const struct cedar_expr *parse_expr(struct parser *p);

static struct cedar_expr *mk(struct parser *p, enum cedar_op op, uint32_t off)
{
	struct cedar_expr *e = alloc(p, sizeof(*e));

	e->op = op;
	e->off = off;
	e->end = p->prev.off + p->prev.len;
	return e;
}

static unsigned edepth(const struct cedar_expr *e)
{
	return e ? e->depth : 0;
}

static struct cedar_expr *mk2(struct parser *p, enum cedar_op op, uint32_t off,
			      const struct cedar_expr *a, const struct cedar_expr *b)
{
	struct cedar_expr *e = mk(p, op, off);
	unsigned d = edepth(a) > edepth(b) ? edepth(a) : edepth(b);

	e->a = a;
	e->b = b;
	e->depth = d + 1;
	if (e->depth > AST_MAX_DEPTH) {
		err_at(p, off, 1, "limit.too-deep", "split the condition into several policies",
		       "expression nested deeper than %d", AST_MAX_DEPTH);
		fail(p);
	}
	return e;
}

static void enter(struct parser *p)
{
	if (++p->depth > CEDAR_MAX_DEPTH) {
		err_at(p, p->tok.off, 1, "limit.too-deep", NULL, "expression nested deeper than %d",
		       CEDAR_MAX_DEPTH);
		fail(p);
	}
}

static const struct cedar_expr *lit(struct parser *p, uint32_t off, const struct cedar_value *v)
{
	struct cedar_expr *e = mk(p, X_LIT, off);

	if (!v) {
		err_at(p, off, 1, "internal.oom", NULL, "out of memory");
		fail(p);
	}
	e->lit = v;
	e->depth = 1;
	return e;
}

static const struct cedar_expr **parse_list(struct parser *p, enum cedar_tok close, size_t *n)
{
	struct vec v = { 0 };

	while (p->tok.t != close) {
		vec_push(p, &v, (void *)parse_expr(p));
		if (p->tok.t == T_COMMA)
			next(p);
		else if (p->tok.t != close)
			unexpected(p, close == T_RBRACKET ? "',' or ']'" : "',' or ')'", NULL);
	}
	next(p);
	*n = v.n;
	return (const struct cedar_expr **)v.v;
}

static unsigned list_depth(const struct cedar_expr *const *v, size_t n)
{
	unsigned d = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i]->depth > d)
			d = v[i]->depth;
	return d;
}

static const struct cedar_expr *parse_record(struct parser *p, uint32_t off)
{
	struct vec keys = { 0 }, vals = { 0 };

	next(p); /* '{' */
	while (p->tok.t != T_RBRACE) {
		struct cedar_str *k = alloc(p, sizeof(*k));
		struct cedar_token kt = p->tok;

		if (p->tok.t == T_STRING) {
			*k = parse_string(p, false, NULL);
		} else if (p->tok.t == T_IDENT) {
			check_name(p, &p->tok, false);
			*k = tok_str(p, &p->tok);
			next(p);
		} else {
			unexpected(p, "a record key", NULL);
		}
		for (size_t i = 0; i < keys.n; i++)
			if (cedar_str_eq(*(struct cedar_str *)keys.v[i], *k))
				err_at(p, kt.off, kt.len, "syntax.duplicate-key", NULL,
				       "duplicate key '%.*s' in record literal", (int)kt.len,
				       p->src + kt.off);
		expect(p, T_COLON, NULL);
		vec_push(p, &keys, k);
		vec_push(p, &vals, (void *)parse_expr(p));
		if (p->tok.t == T_COMMA)
			next(p);
		else if (p->tok.t != T_RBRACE)
			unexpected(p, "',' or '}'", NULL);
	}
	next(p);
	struct cedar_expr *e = mk(p, X_RECORD, off);

	e->n = keys.n;
	e->keys = alloc(p, (keys.n + 1) * sizeof(*e->keys));
	for (size_t i = 0; i < keys.n; i++)
		e->keys[i] = *(struct cedar_str *)keys.v[i];
	e->items = (const struct cedar_expr **)vals.v;
	e->depth = list_depth(e->items, e->n) + 1;
	return e;
}

static bool is_ext_function(struct cedar_str name)
{
	static const char *const fns[] = { "ip", "decimal", "datetime", "duration" };

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (cedar_str_eq(name, cedar_cstr(fns[i])))
			return true;
	return false;
}

static const struct cedar_expr *parse_primary(struct parser *p)
{
	uint32_t off = p->tok.off;
	struct cedar_expr *e;

	switch (p->tok.t) {
	case T_INT: {
		uint64_t v = 0;
		bool big = false;

		for (uint32_t i = 0; i < p->tok.len; i++) {
			v = v * 10 + (p->src[off + i] - '0');
			if (v > 9223372036854775807ull) {
				big = true;
				v = 0;
				break;
			}
		}
		if (big)
			err_at(p, off, p->tok.len, "syntax.integer-too-large",
			       "Cedar integers are 64-bit signed",
			       "integer literal '%.*s' is too large", (int)p->tok.len,
			       p->src + off);
		next(p);
		return lit(p, off, cedar_value_long(p->a, (int64_t)v));
	}
	case T_STRING: {
		struct cedar_str s = parse_string(p, false, NULL);

		return lit(p, off, cedar_value_string(p->a, s));
	}
	case T_LPAREN: {
		enter(p);
		next(p);
		const struct cedar_expr *x = parse_expr(p);

		p->depth--;
		expect(p, T_RPAREN, NULL);
		/* keep the parentheses' range, for positions and the formatter */
		e = mk(p, x->op, off);
		*e = *x;
		e->off = off;
		e->end = p->prev.off + p->prev.len;
		return e;
	}
	case T_LBRACKET:
		enter(p);
		next(p);
		e = mk(p, X_SET, off);
		e->items = parse_list(p, T_RBRACKET, &e->n);
		p->depth--;
		e->end = p->prev.off + p->prev.len;
		e->depth = list_depth(e->items, e->n) + 1;
		return e;
	case T_LBRACE:
		enter(p);
		e = (struct cedar_expr *)parse_record(p, off);
		p->depth--;
		return e;
	case T_QUESTION:
		err_at(p, off, p->tok.len + peek(p).len, "unsupported.template",
		       "write the entity literally",
		       "templates (?principal, ?resource) are not supported");
		fail(p);
	case T_IDENT:
		break;
	default:
		unexpected(p, "an expression", NULL);
	}

	switch (tok_reserved(p, &p->tok)) {
	case R_TRUE:
		next(p);
		return lit(p, off, &cedar_true);
	case R_FALSE:
		next(p);
		return lit(p, off, &cedar_false);
	case R_IF:
		unexpected(p, "an expression", "put parentheses around if-then-else here");
	case R_NONE:
		break;
	default:
		unexpected(p, "an expression", NULL);
	}

	static const char *const vars[] = { "principal", "action", "resource", "context" };
	struct cedar_token t = p->tok;
	struct cedar_token nt = peek(p);

	if (nt.t != T_COLONCOLON && nt.t != T_LPAREN) {
		for (int i = 0; i < 4; i++) {
			if (tok_is(p, vars[i])) {
				next(p);
				e = mk(p, X_VAR, off);
				e->var = i;
				e->depth = 1;
				return e;
			}
		}
		err_at(p, t.off, t.len, "syntax.invalid-variable",
		       "the variables are principal, action, resource and context; entity literals look like Type::\"id\"",
		       "unknown variable '%.*s'", (int)t.len, p->src + t.off);
		fail(p);
	}
	struct cedar_str path = parse_path(p);

	if (p->tok.t == T_LPAREN) {
		if (is_ext_function(path))
			err_at(p, off, p->prev.off + p->prev.len - off, "unsupported.extension",
			       NULL, "extension function '%.*s' is not supported by leash",
			       (int)path.n, path.p);
		else
			err_at(p, off, p->prev.off + p->prev.len - off, "syntax.unknown-function",
			       NULL, "'%.*s' is not a function", (int)path.n, path.p);
		fail(p);
	}
	struct cedar_uid u;

	parse_uid_rest(p, path, &u);
	return lit(p, off, cedar_value_entity(p->a, u.type, u.id));
}

static bool is_ext_method(struct cedar_str name)
{
	static const char *const m[] = {
		"isIpv4",	   "isIpv6",	    "isLoopback",
		"isMulticast",	   "isInRange",	    "lessThan",
		"lessThanOrEqual", "greaterThan",   "greaterThanOrEqual",
		"offset",	   "durationSince", "toDate",
		"toTime",	   "toDays",	    "toHours",
		"toMinutes",	   "toSeconds",	    "toMilliseconds",
		"getTag",	   "hasTag",
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (cedar_str_eq(name, cedar_cstr(m[i])))
			return true;
	return false;
}

static const struct cedar_expr *parse_method(struct parser *p, const struct cedar_expr *recv,
					     struct cedar_token nt, uint32_t off)
{
	static const struct {
		const char *name;
		enum cedar_op op;
		size_t nargs;
	} methods[] = {
		{ "contains", X_CONTAINS, 1 },
		{ "containsAll", X_CONTAINS_ALL, 1 },
		{ "containsAny", X_CONTAINS_ANY, 1 },
		{ "isEmpty", X_IS_EMPTY, 0 },
	};
	struct cedar_str name = tok_str(p, &nt);
	size_t nargs;

	next(p); /* '(' */
	enter(p);
	const struct cedar_expr **args = parse_list(p, T_RPAREN, &nargs);

	p->depth--;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (!cedar_str_eq(name, cedar_cstr(methods[i].name)))
			continue;
		if (nargs != methods[i].nargs) {
			err_at(p, nt.off, p->prev.off + p->prev.len - nt.off, "syntax.wrong-arity",
			       NULL, "'%s' takes %zu argument%s, not %zu", methods[i].name,
			       methods[i].nargs, methods[i].nargs == 1 ? "" : "s", nargs);
			fail(p);
		}
		return mk2(p, methods[i].op, off, recv, nargs ? args[0] : NULL);
	}
	if (is_ext_method(name))
		err_at(p, nt.off, nt.len, "unsupported.extension", NULL,
		       "method '%.*s' is not supported by leash", (int)nt.len, p->src + nt.off);
	else
		err_at(p, nt.off, nt.len, "syntax.unknown-method",
		       "the methods are contains, containsAll, containsAny and isEmpty",
		       "'%.*s' is not a method", (int)nt.len, p->src + nt.off);
	fail(p);
}

static const struct cedar_expr *parse_member(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *e = parse_primary(p);

	for (;;) {
		if (p->tok.t == T_DOT) {
			next(p);
			struct cedar_token nt = p->tok;

			if (nt.t != T_IDENT)
				unexpected(p, "an attribute name", NULL);
			next(p);
			if (p->tok.t == T_LPAREN) {
				e = parse_method(p, e, nt, off);
				continue;
			}
			check_name(p, &nt, false);
			if (nt.len == 7 && !memcmp(p->src + nt.off, "__cedar", 7))
				err_at(p, nt.off, nt.len, "syntax.reserved-identifier", NULL,
				       "the name '__cedar' is reserved");
			struct cedar_expr *x = mk2(p, X_ATTR, off, e, NULL);

			x->name = tok_str(p, &nt);
			e = x;
		} else if (p->tok.t == T_LBRACKET) {
			next(p);
			if (p->tok.t != T_STRING)
				unexpected(p, "a string attribute name", "write e[\"name\"]");
			struct cedar_str s = parse_string(p, false, NULL);

			expect(p, T_RBRACKET, NULL);
			struct cedar_expr *x = mk2(p, X_ATTR, off, e, NULL);

			x->name = s;
			x->quoted = true;
			e = x;
		} else {
			return e;
		}
	}
}

static const struct cedar_expr *parse_unary(struct parser *p)
{
	uint32_t off = p->tok.off;
	enum cedar_tok ops[64];
	uint32_t offs[64];
	int n = 0;

	while (p->tok.t == T_BANG || p->tok.t == T_MINUS) {
		if (n < 64) {
			offs[n] = p->tok.off;
			ops[n++] = p->tok.t;
		}
		next(p);
	}
	if (n > 4) {
		err_at(p, off, p->prev.off + p->prev.len - off, "syntax.too-many-unary",
		       "Cedar allows at most 4 '!' or '-' in a row; use parentheses",
		       "too many unary operators");
	}
	/* -INT is a negative literal (so -9223372036854775808 is valid) */
	if (n > 0 && ops[n - 1] == T_MINUS && p->tok.t == T_INT) {
		uint32_t loff = p->tok.off, llen = p->tok.len;
		uint64_t v = 0;
		bool big = false;

		for (uint32_t i = 0; i < llen; i++) {
			v = v * 10 + (p->src[loff + i] - '0');
			if (v > 9223372036854775808ull) {
				big = true;
				break;
			}
		}
		if (big)
			err_at(p, loff, llen, "syntax.integer-too-large",
			       "Cedar integers are 64-bit signed",
			       "integer literal '%.*s' is too large", (int)llen, p->src + loff);
		next(p);
		const struct cedar_expr *e =
			lit(p, offs[n - 1], cedar_value_long(p->a, big ? 0 : (int64_t)(0 - v)));

		n--;
		if (p->tok.t == T_DOT || p->tok.t == T_LBRACKET) {
			/* -1.foo: member access binds tighter; rebuild as -(1.foo) */
			p->lx.pos = loff;
			next(p);
			e = parse_member(p);
			e = mk2(p, X_NEG, offs[n], e, NULL);
		}
		while (n > 0) {
			n--;
			e = mk2(p, ops[n] == T_BANG ? X_NOT : X_NEG, offs[n], e, NULL);
		}
		return e;
	}
	const struct cedar_expr *e = parse_member(p);

	while (n > 0) {
		n--;
		e = mk2(p, ops[n] == T_BANG ? X_NOT : X_NEG, offs[n], e, NULL);
	}
	return e;
}

static const struct cedar_expr *parse_mult(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *e = parse_unary(p);

	while (p->tok.t == T_STAR) {
		next(p);
		e = mk2(p, X_MUL, off, e, parse_unary(p));
	}
	return e;
}

static const struct cedar_expr *parse_add(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *e = parse_mult(p);

	while (p->tok.t == T_PLUS || p->tok.t == T_MINUS) {
		enum cedar_op op = p->tok.t == T_PLUS ? X_ADD : X_SUB;

		next(p);
		e = mk2(p, op, off, e, parse_mult(p));
	}
	return e;
}

static int relop(const struct parser *p)
{
	switch (p->tok.t) {
	case T_EQEQ:
		return X_EQ;
	case T_NE:
		return X_NE;
	case T_LT:
		return X_LT;
	case T_LE:
		return X_LE;
	case T_GT:
		return X_GT;
	case T_GE:
		return X_GE;
	default:
		break;
	}
	switch (tok_reserved(p, &p->tok)) {
	case R_IN:
		return X_IN;
	case R_HAS:
		return X_HAS;
	case R_LIKE:
		return X_LIKE;
	case R_IS:
		return X_IS;
	}
	return -1;
}

static const struct cedar_expr *parse_has(struct parser *p, const struct cedar_expr *a,
					  uint32_t off)
{
	struct cedar_expr *e = mk2(p, X_HAS, off, a, NULL);

	if (p->tok.t == T_STRING) {
		struct cedar_str *k = alloc(p, sizeof(*k));

		*k = parse_string(p, false, NULL);
		e->keys = k;
		e->n = 1;
		e->quoted = true;
		if (p->tok.t == T_DOT) {
			err_at(p, p->tok.off, 1, "syntax.invalid-has",
			       "a dotted has path uses plain names: e has a.b",
			       "a quoted name cannot start a dotted has path");
			fail(p);
		}
	} else if (p->tok.t == T_IDENT) {
		struct vec v = { 0 };

		for (;;) {
			if (p->tok.t != T_IDENT)
				unexpected(p, "an attribute name", NULL);
			check_name(p, &p->tok, false);
			if (p->tok.len == 7 && !memcmp(p->src + p->tok.off, "__cedar", 7))
				err_at(p, p->tok.off, p->tok.len, "syntax.reserved-identifier",
				       NULL, "the name '__cedar' is reserved");
			struct cedar_str *k = alloc(p, sizeof(*k));

			*k = tok_str(p, &p->tok);
			vec_push(p, &v, k);
			next(p);
			if (p->tok.t != T_DOT)
				break;
			next(p);
		}
		e->keys = alloc(p, v.n * sizeof(*e->keys));
		for (size_t i = 0; i < v.n; i++)
			e->keys[i] = *(struct cedar_str *)v.v[i];
		e->n = v.n;
	} else {
		unexpected(p, "an attribute name or string after 'has'", NULL);
	}
	e->end = p->prev.off + p->prev.len;
	return e;
}

static const struct cedar_expr *parse_rel(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *a = parse_add(p);
	int op = relop(p);
	struct cedar_expr *e;

	if (op < 0)
		return a;
	struct cedar_token optok = p->tok;

	next(p);
	switch (op) {
	case X_HAS:
		e = (struct cedar_expr *)parse_has(p, a, off);
		break;
	case X_LIKE:
		if (p->tok.t != T_STRING)
			unexpected(p, "a string pattern after 'like'",
				   "the pattern of like must be a string literal");
		e = mk2(p, X_LIKE, off, a, NULL);
		e->pat.s = parse_string(p, true, &e->pat.wild);
		e->end = p->prev.off + p->prev.len;
		break;
	case X_IS: {
		struct cedar_str type = parse_path(p);
		const struct cedar_expr *b = NULL;

		if (tok_reserved(p, &p->tok) == R_IN) {
			next(p);
			b = parse_add(p);
		}
		e = mk2(p, X_IS, off, a, b);
		e->name = type;
		e->end = p->prev.off + p->prev.len;
		break;
	}
	default:
		e = mk2(p, op, off, a, parse_add(p));
		break;
	}
	if (relop(p) >= 0) {
		err_at(p, p->tok.off, p->tok.len, "syntax.chained-relation",
		       "add parentheses to make the order explicit",
		       "'%.*s' cannot follow '%.*s' without parentheses", (int)p->tok.len,
		       p->src + p->tok.off, (int)optok.len, p->src + optok.off);
		fail(p);
	}
	return e;
}

static const struct cedar_expr *parse_and(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *e = parse_rel(p);

	while (p->tok.t == T_ANDAND) {
		next(p);
		e = mk2(p, X_AND, off, e, parse_rel(p));
	}
	return e;
}

static const struct cedar_expr *parse_or(struct parser *p)
{
	uint32_t off = p->tok.off;
	const struct cedar_expr *e = parse_and(p);

	while (p->tok.t == T_OROR) {
		next(p);
		e = mk2(p, X_OR, off, e, parse_and(p));
	}
	return e;
}

static const struct cedar_expr *parse_expr(struct parser *p)
{
	if (tok_reserved(p, &p->tok) == R_IF) {
		uint32_t off = p->tok.off;

		next(p);
		enter(p);
		const struct cedar_expr *c = parse_expr(p);

		if (tok_reserved(p, &p->tok) != R_THEN)
			unexpected(p, "'then'", NULL);
		next(p);
		const struct cedar_expr *t = parse_expr(p);

		if (tok_reserved(p, &p->tok) != R_ELSE)
			unexpected(p, "'else'", NULL);
		next(p);
		const struct cedar_expr *f = parse_expr(p);

		p->depth--;
		struct cedar_expr *e = mk2(p, X_IF, off, c, t);

		e->c = f;
		if (f->depth + 1 > e->depth)
			e->depth = f->depth + 1;
		return e;
	}
	return parse_or(p);
}

/* --- policies ------------------------------------------------------------- */

static bool is_action_type(struct cedar_str t)
{
	return cedar_str_eq(t, cedar_cstr("Action")) ||
	       (t.n > 8 && !memcmp(t.p + t.n - 8, "::Action", 8));
}

static void check_action_uid(struct parser *p, const struct cedar_uid *u, uint32_t off)
{
	if (!is_action_type(u->type))
		err_at(p, off, p->prev.off + p->prev.len - off, "syntax.action-type",
		       "action entities must have type Action, e.g. Action::\"FileOpen\"",
		       "expected an entity of type Action, found '%.*s'", (int)u->type.n,
		       u->type.p);
}

static void parse_scope(struct parser *p, struct cedar_scope *s, int var)
{
	static const char *const names[] = { "principal", "action", "resource" };

	s->off = p->tok.off;
	if (!tok_is(p, names[var])) {
		char what[32];

		snprintf(what, sizeof(what), "'%s'", names[var]);
		unexpected(
			p, what,
			"the scope is (principal [..], action [..], resource [..]) in that order");
	}
	next(p);
	s->op = CEDAR_SCOPE_ANY;
	if (p->tok.t == T_EQEQ) {
		next(p);
		uint32_t off = p->tok.off;

		s->op = CEDAR_SCOPE_EQ;
		s->uid_off = off;
		parse_uid(p, &s->uid);
		s->uid_end = p->prev.off + p->prev.len;
		if (var == 1)
			check_action_uid(p, &s->uid, off);
	} else if (tok_reserved(p, &p->tok) == R_IN) {
		next(p);
		if (var == 1 && p->tok.t == T_LBRACKET) {
			struct cedar_uid *set = NULL;
			uint32_t(*pos)[2] = NULL;
			size_t n = 0, cap = 0;

			next(p);
			while (p->tok.t != T_RBRACKET) {
				uint32_t off = p->tok.off;

				if (n == cap) {
					cap = cap ? cap * 2 : 4;
					struct cedar_uid *ns = alloc(p, cap * sizeof(*ns));
					uint32_t(*np)[2] = alloc(p, cap * sizeof(*np));

					if (n) {
						memcpy(ns, set, n * sizeof(*ns));
						memcpy(np, pos, n * sizeof(*np));
					}
					set = ns;
					pos = np;
				}
				parse_uid(p, &set[n]);
				pos[n][0] = off;
				pos[n][1] = p->prev.off + p->prev.len;
				check_action_uid(p, &set[n], off);
				n++;
				if (p->tok.t == T_COMMA)
					next(p);
				else if (p->tok.t != T_RBRACKET)
					unexpected(p, "',' or ']'", NULL);
			}
			next(p);
			s->op = CEDAR_SCOPE_IN_SET;
			s->set = set;
			s->set_pos = pos;
			s->n = n;
		} else {
			uint32_t off = p->tok.off;

			s->op = CEDAR_SCOPE_IN;
			s->uid_off = off;
			parse_uid(p, &s->uid);
			s->uid_end = p->prev.off + p->prev.len;
			if (var == 1)
				check_action_uid(p, &s->uid, off);
		}
	} else if (tok_reserved(p, &p->tok) == R_IS) {
		if (var == 1) {
			err_at(p, p->tok.off, p->tok.len, "syntax.action-is",
			       "move `action is ..` into a when condition",
			       "'is' cannot appear in the action scope");
			fail(p);
		}
		next(p);
		s->op = CEDAR_SCOPE_IS;
		s->type = parse_path(p);
		if (tok_reserved(p, &p->tok) == R_IN) {
			next(p);
			s->op = CEDAR_SCOPE_IS_IN;
			s->uid_off = p->tok.off;
			parse_uid(p, &s->uid);
			s->uid_end = p->prev.off + p->prev.len;
		}
	}
	s->end = p->prev.off + p->prev.len;
}

static void parse_annotations(struct parser *p, struct cedar_policy *pol)
{
	struct vec v = { 0 };

	while (p->tok.t == T_AT) {
		struct cedar_annotation *an = alloc(p, sizeof(*an));

		next(p);
		if (p->tok.t != T_IDENT)
			unexpected(p, "an annotation name", "annotations look like @id(\"name\")");
		struct cedar_token kt = p->tok;

		an->key = tok_str(p, &p->tok);
		next(p);
		if (p->tok.t == T_LPAREN) {
			next(p);
			an->value = parse_string(p, false, NULL);
			an->has_value = true;
			expect(p, T_RPAREN, NULL);
		}
		for (size_t i = 0; i < v.n; i++)
			if (cedar_str_eq(((struct cedar_annotation *)v.v[i])->key, an->key))
				err_at(p, kt.off, kt.len, "syntax.duplicate-annotation", NULL,
				       "duplicate annotation '@%.*s'", (int)kt.len,
				       p->src + kt.off);
		vec_push(p, &v, an);
	}
	pol->nann = v.n;
	pol->ann = alloc(p, (v.n + 1) * sizeof(*pol->ann));
	for (size_t i = 0; i < v.n; i++)
		pol->ann[i] = *(struct cedar_annotation *)v.v[i];
}

static bool at_policy_start(struct parser *p)
{
	return p->tok.t == T_AT || tok_is(p, "permit") || tok_is(p, "forbid");
}

static void parse_policy(struct parser *p, struct cedar_policy *pol)
{
	pol->off = p->tok.off;
	parse_annotations(p, pol);
	if (tok_is(p, "forbid"))
		pol->forbid = true;
	else if (!tok_is(p, "permit"))
		unexpected(p, "'permit' or 'forbid'", NULL);
	next(p);
	expect(p, T_LPAREN, NULL);
	parse_scope(p, &pol->principal, 0);
	expect(p, T_COMMA, NULL);
	parse_scope(p, &pol->action, 1);
	expect(p, T_COMMA, NULL);
	parse_scope(p, &pol->resource, 2);
	if (p->tok.t == T_COMMA)
		next(p); /* Cedar accepts a trailing comma here */
	if (p->tok.t != T_RPAREN)
		unexpected(p, "')'",
			   p->tok.t == T_IDENT && tok_reserved(p, &p->tok) == R_NONE
				   ? "conditions go after the scope: permit (..) when { .. };"
				   : NULL);
	next(p);

	struct vec v = { 0 };

	while (tok_is(p, "when") || tok_is(p, "unless")) {
		struct cedar_cond *c = alloc(p, sizeof(*c));

		c->off = p->tok.off;
		c->unless = tok_is(p, "unless");
		next(p);
		expect(p, T_LBRACE, c->unless ? "unless { condition }" : "when { condition }");
		if (p->tok.t == T_RBRACE) {
			err_at(p, p->tok.off, 1, "syntax.empty-condition",
			       "write a condition, or remove the empty block", "empty condition");
			fail(p);
		}
		p->depth = 0;
		c->e = parse_expr(p);
		expect(p, T_RBRACE, NULL);
		c->end = p->prev.off + p->prev.len;
		vec_push(p, &v, c);
	}
	pol->nconds = v.n;
	pol->conds = alloc(p, (v.n + 1) * sizeof(*pol->conds));
	for (size_t i = 0; i < v.n; i++)
		pol->conds[i] = *(struct cedar_cond *)v.v[i];
	if (p->tok.t != T_SEMI) {
		if (at_policy_start(p) || p->tok.t == T_EOF) {
			uint32_t at = p->prev.off + p->prev.len;

			err_at(p, at, 1, "syntax.missing-semicolon", "missing ';' after policy?",
			       "expected ';' after the policy");
			pol->end = at;
			return;
		}
		unexpected(p, "';', 'when' or 'unless'", "missing ';' after policy?");
	}
	next(p);
	pol->end = p->prev.off + p->prev.len;
}

/*
 * After an error: skip to the end of the broken policy, i.e. past the next ';',
 * or up to a `permit (` / `forbid (` / `@name` that starts the next policy when
 * the broken one also lost its ';' (so that policy's own errors are reported).
 */
static void skip_policy(struct parser *p)
{
	bool moved = false;

	while (p->tok.t != T_EOF && p->tok.t != T_SEMI) {
		if (moved && (tok_is(p, "permit") || tok_is(p, "forbid")) &&
		    peek(p).t == T_LPAREN && p->prev.t != T_COLONCOLON && p->prev.t != T_DOT)
			return;
		if (moved && p->tok.t == T_AT && peek(p).t == T_IDENT &&
		    (p->prev.t == T_RBRACE || p->prev.t == T_RPAREN))
			return;
		next(p);
		moved = true;
	}
	if (p->tok.t == T_SEMI)
		next(p);
}

static int cmp_policy_id(const void *a, const void *b)
{
	const struct cedar_policy *x = *(const struct cedar_policy *const *)a;
	const struct cedar_policy *y = *(const struct cedar_policy *const *)b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->off > y->off) - (x->off < y->off);
}

static void assign_ids(struct parser *p, struct cedar_policy_set *ps, int flags)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct cedar_policy *pol = &ps->pol[i];
		char buf[32];

		pol->id = NULL;
		for (size_t k = 0; !(flags & CEDAR_PARSE_RAW_IDS) && k < pol->nann; k++)
			if (cedar_str_eq(pol->ann[k].key, cedar_cstr("id")) &&
			    pol->ann[k].has_value)
				pol->id = cedar_arena_strndup(p->a, pol->ann[k].value.p,
							      pol->ann[k].value.n);
		if (!pol->id) {
			snprintf(buf, sizeof(buf), "policy%zu", i);
			pol->id = cedar_arena_strndup(p->a, buf, strlen(buf));
		}
		if (!pol->id)
			return;
	}
	/* duplicates: sort the ids (a positional id can also clash with an @id) */
	struct cedar_policy **v = malloc(ps->n * sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < ps->n; i++)
		v[i] = &ps->pol[i];
	qsort(v, ps->n, sizeof(*v), cmp_policy_id);
	for (size_t i = 1; i < ps->n; i++) {
		if (strcmp(v[i - 1]->id, v[i]->id) == 0) {
			const struct cedar_policy *later =
				v[i - 1]->off > v[i]->off ? v[i - 1] : v[i];

			p->pid[0] = 0;
			err_at(p, later->off, 1, "syntax.duplicate-id",
			       "give each policy its own @id", "duplicate policy id '%s'",
			       later->id);
		}
	}
	free(v);
}

static void attach_comments(struct parser *p, struct cedar_policy_set *ps)
{
	size_t c = 0, first = 0;

	if (p->ncom == 0)
		return;
	/* copy the comment texts out of the caller's text, then share them out */
	for (size_t i = 0; i < p->ncom; i++) {
		char *t = cedar_arena_strndup(p->a, p->com[i].p, p->com[i].n);

		p->com[i].p = t ? t : "";
		if (!t)
			p->com[i].n = 0;
	}
	for (size_t i = 0; i < ps->n; i++) {
		struct cedar_policy *pol = &ps->pol[i];

		first = c;
		while (c < p->ncom && p->comoff[c] < pol->end)
			c++;
		pol->ncomments = c - first;
		pol->comments = cedar_arena_memdup(p->a, p->com + first,
						   pol->ncomments * sizeof(*pol->comments));
		if (!pol->comments)
			pol->ncomments = 0;
	}
	ps->ntrailing = p->ncom - c;
	ps->trailing_comments = cedar_arena_memdup(p->a, p->com + c,
						   ps->ntrailing * sizeof(*ps->trailing_comments));
	if (!ps->trailing_comments)
		ps->ntrailing = 0;
}

int cedar_parse(const char *text, size_t len, int flags, struct cedar_policy_set **out,
		struct cedar_diags *d)
{
	struct cedar_policy_set *ps = calloc(1, sizeof(*ps));
	struct parser *p = calloc(1, sizeof(*p));
	volatile size_t cap = 0;
	volatile int rc = 0;

	*out = NULL;
	if (!ps || !p) {
		free(ps);
		free(p);
		return -ENOMEM;
	}
	p->src = text;
	p->n = len;
	p->a = &ps->arena;
	p->d = d;
	if (len > CEDAR_MAX_TEXT) {
		cedar_diag_add(d, text, len, CEDAR_MAX_TEXT, 1, CEDAR_SEV_ERROR, "limit.too-large",
			       NULL, NULL, "policy text larger than %u bytes", CEDAR_MAX_TEXT);
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < len;) {
		/* Cedar text is Unicode: reject bytes that are not UTF-8 up front */
		size_t l = cedar_utf8_len((const unsigned char *)text + i, len - i);

		if (l == 0) {
			cedar_diag_add(d, text, len, i, 1, CEDAR_SEV_ERROR, "syntax.invalid-utf8",
				       NULL, NULL, "policy text is not valid UTF-8");
			rc = -EINVAL;
			goto out;
		}
		i += l;
	}
	p->lx.src = text;
	p->lx.n = len;
	next(p);
	while (p->tok.t != T_EOF && p->nerrors < MAX_ERRORS) {
		if (ps->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct cedar_policy *np = realloc(ps->pol, cap * sizeof(*np));

			if (!np) {
				rc = -ENOMEM;
				goto out;
			}
			ps->pol = np;
		}
		struct cedar_policy *pol = &ps->pol[ps->n];

		memset(pol, 0, sizeof(*pol));
		snprintf(p->pid, sizeof(p->pid), "policy%zu", ps->n);
		p->failed = false;
		p->depth = 0;
		if (setjmp(p->jb) == 0) {
			parse_policy(p, pol);
		} else {
			skip_policy(p);
		}
		ps->n++;
	}
	p->pid[0] = 0;
	if (p->nerrors == 0)
		assign_ids(p, ps, flags);
	if (p->nerrors == 0)
		attach_comments(p, ps);
	if (p->nerrors)
		rc = -EINVAL;
	else if (cedar_index_build(ps) < 0)
		rc = -ENOMEM;
	ps->index_always = flags & CEDAR_PARSE_INDEX_ALWAYS;
out:
	free(p->com);
	free(p->comoff);
	free(p);
	if (rc < 0) {
		cedar_policy_set_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

void cedar_policy_set_free(struct cedar_policy_set *ps)
{
	if (!ps)
		return;
	cedar_index_free(ps->index);
	free(ps->pol);
	cedar_arena_free(&ps->arena);
	free(ps);
}

size_t cedar_policy_count(const struct cedar_policy_set *ps)
{
	return ps->n;
}

const char *cedar_policy_id(const struct cedar_policy_set *ps, size_t i)
{
	return i < ps->n ? ps->pol[i].id : NULL;
}
