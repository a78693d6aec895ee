/*
 * fmt.c: canonical Cedar text for a policy set (`leash policy fmt`).
 *
 * The layout is the Cedar CLI's: the scope one element a line indented by two
 * spaces, each condition on its own line, a blank line between policies.
 * Expressions get exactly the parentheses precedence needs. Attribute names and
 * record keys are written as identifiers when they can be, else quoted. The
 * output parses back to the same policies, and formatting it again gives the
 * same text (the tests check both).
 *
 * Comments: the parser keeps `//` comments; those before or inside a policy are
 * written above it (a comment inside a policy moves above it), those after the
 * last policy at the end.
 */
#include <string.h>

#include "internal.h"

enum {
	L_IF,
	L_OR,
	L_AND,
	L_REL,
	L_ADD,
	L_MUL,
	L_UNARY,
	L_MEMBER,
	L_PRIMARY
};

static int level(const struct cedar_expr *e)
{
	switch (e->op) {
	case X_IF:
		return L_IF;
	case X_OR:
		return L_OR;
	case X_AND:
		return L_AND;
	case X_EQ:
	case X_NE:
	case X_LT:
	case X_LE:
	case X_GT:
	case X_GE:
	case X_IN:
	case X_HAS:
	case X_LIKE:
	case X_IS:
		return L_REL;
	case X_ADD:
	case X_SUB:
		return L_ADD;
	case X_MUL:
		return L_MUL;
	case X_NOT:
	case X_NEG:
		return L_UNARY;
	case X_ATTR:
	case X_CONTAINS:
	case X_CONTAINS_ALL:
	case X_CONTAINS_ANY:
	case X_IS_EMPTY:
		return L_MEMBER;
	case X_LIT:
		return e->lit->t == CEDAR_V_LONG && e->lit->l < 0 ? L_UNARY : L_PRIMARY;
	default:
		return L_PRIMARY;
	}
}

static bool is_ident(struct cedar_str s)
{
	static const char *const reserved[] = { "true", "false", "if",	 "then", "else",
						"in",	"is",	 "like", "has",	 "__cedar" };

	if (s.n == 0 || !((s.p[0] >= 'a' && s.p[0] <= 'z') || (s.p[0] >= 'A' && s.p[0] <= 'Z') ||
			  s.p[0] == '_'))
		return false;
	for (size_t i = 1; i < s.n; i++)
		if (!((s.p[i] >= 'a' && s.p[i] <= 'z') || (s.p[i] >= 'A' && s.p[i] <= 'Z') ||
		      (s.p[i] >= '0' && s.p[i] <= '9') || s.p[i] == '_'))
			return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (cedar_str_eq(s, cedar_cstr(reserved[i])))
			return false;
	return true;
}

static void put_quoted(struct cedar_buf *b, struct cedar_str s)
{
	cedar_buf_puts(b, "\"");
	cedar_buf_escape(b, s);
	cedar_buf_puts(b, "\"");
}

static void put_uid(struct cedar_buf *b, const struct cedar_uid *u)
{
	cedar_buf_put(b, u->type.p, u->type.n);
	cedar_buf_puts(b, "::");
	put_quoted(b, u->id);
}

static void put_pattern(struct cedar_buf *b, const struct cedar_pattern *pat)
{
	size_t start = 0;

	cedar_buf_puts(b, "\"");
	for (size_t i = 0; i <= pat->s.n; i++) {
		if (i < pat->s.n && pat->s.p[i] != '*')
			continue;
		cedar_buf_escape(b, (struct cedar_str){ pat->s.p + start, i - start });
		if (i < pat->s.n)
			cedar_buf_puts(b, pat->wild && (pat->wild[i / 8] >> (i % 8) & 1) ? "*"
											 : "\\*");
		start = i + 1;
	}
	cedar_buf_puts(b, "\"");
}

static void expr(struct cedar_buf *b, const struct cedar_expr *e, int min);

static void binary(struct cedar_buf *b, const struct cedar_expr *e, const char *op, int l, int r)
{
	expr(b, e->a, l);
	cedar_buf_puts(b, op);
	expr(b, e->b, r);
}

static void list(struct cedar_buf *b, const struct cedar_expr *e)
{
	for (size_t i = 0; i < e->n; i++) {
		if (i)
			cedar_buf_puts(b, ", ");
		if (e->op == X_RECORD) {
			if (is_ident(e->keys[i]))
				cedar_buf_put(b, e->keys[i].p, e->keys[i].n);
			else
				put_quoted(b, e->keys[i]);
			cedar_buf_puts(b, ": ");
		}
		expr(b, e->items[i], L_IF);
	}
}

static void method(struct cedar_buf *b, const struct cedar_expr *e, const char *name)
{
	expr(b, e->a, L_MEMBER);
	cedar_buf_printf(b, ".%s(", name);
	if (e->b)
		expr(b, e->b, L_IF);
	cedar_buf_puts(b, ")");
}

/* Cedar allows at most four unary operators in a row. */
static int unary_run(const struct cedar_expr *e)
{
	int n = 0;

	while (e->op == X_NOT || e->op == X_NEG) {
		n++;
		e = e->a;
	}
	if (e->op == X_LIT && e->lit->t == CEDAR_V_LONG && e->lit->l < 0)
		n++;
	return n;
}

static void expr_inner(struct cedar_buf *b, const struct cedar_expr *e)
{
	static const char *const vars[] = { "principal", "action", "resource", "context" };

	switch (e->op) {
	case X_LIT:
		cedar_value_print(b, e->lit);
		break;
	case X_VAR:
		cedar_buf_puts(b, vars[e->var]);
		break;
	case X_SLOT:
		cedar_buf_puts(b, "?slot");
		break;
	case X_IF:
		cedar_buf_puts(b, "if ");
		expr(b, e->a, L_IF);
		cedar_buf_puts(b, " then ");
		expr(b, e->b, L_IF);
		cedar_buf_puts(b, " else ");
		expr(b, e->c, L_IF);
		break;
	case X_OR:
		binary(b, e, " || ", L_OR, L_AND);
		break;
	case X_AND:
		binary(b, e, " && ", L_AND, L_REL);
		break;
	case X_EQ:
		binary(b, e, " == ", L_ADD, L_ADD);
		break;
	case X_NE:
		binary(b, e, " != ", L_ADD, L_ADD);
		break;
	case X_LT:
		binary(b, e, " < ", L_ADD, L_ADD);
		break;
	case X_LE:
		binary(b, e, " <= ", L_ADD, L_ADD);
		break;
	case X_GT:
		binary(b, e, " > ", L_ADD, L_ADD);
		break;
	case X_GE:
		binary(b, e, " >= ", L_ADD, L_ADD);
		break;
	case X_IN:
		binary(b, e, " in ", L_ADD, L_ADD);
		break;
	case X_ADD:
		binary(b, e, " + ", L_ADD, L_MUL);
		break;
	case X_SUB:
		binary(b, e, " - ", L_ADD, L_MUL);
		break;
	case X_MUL:
		binary(b, e, " * ", L_MUL, L_UNARY);
		break;
	case X_HAS:
		expr(b, e->a, L_ADD);
		cedar_buf_puts(b, " has ");
		if (e->quoted) {
			put_quoted(b, e->keys[0]);
			break;
		}
		for (size_t i = 0; i < e->n; i++) {
			if (i)
				cedar_buf_puts(b, ".");
			cedar_buf_put(b, e->keys[i].p, e->keys[i].n);
		}
		break;
	case X_LIKE:
		expr(b, e->a, L_ADD);
		cedar_buf_puts(b, " like ");
		put_pattern(b, &e->pat);
		break;
	case X_IS:
		expr(b, e->a, L_ADD);
		cedar_buf_puts(b, " is ");
		cedar_buf_put(b, e->name.p, e->name.n);
		if (e->b) {
			cedar_buf_puts(b, " in ");
			expr(b, e->b, L_ADD);
		}
		break;
	case X_NOT:
	case X_NEG:
		cedar_buf_puts(b, e->op == X_NOT ? "!" : "-");
		/* "- 1" would read back as the literal -1; keep a space before digits */
		if (e->op == X_NEG && e->a->op == X_LIT && e->a->lit->t == CEDAR_V_LONG)
			cedar_buf_puts(b, "(");
		if (unary_run(e->a) >= 4 && !(e->op == X_NEG && e->a->op == X_LIT))
			cedar_buf_puts(b, "(");
		expr(b, e->a, L_UNARY);
		if (unary_run(e->a) >= 4 && !(e->op == X_NEG && e->a->op == X_LIT))
			cedar_buf_puts(b, ")");
		if (e->op == X_NEG && e->a->op == X_LIT && e->a->lit->t == CEDAR_V_LONG)
			cedar_buf_puts(b, ")");
		break;
	case X_ATTR:
		expr(b, e->a, L_MEMBER);
		if (is_ident(e->name)) {
			cedar_buf_puts(b, ".");
			cedar_buf_put(b, e->name.p, e->name.n);
		} else {
			cedar_buf_puts(b, "[");
			put_quoted(b, e->name);
			cedar_buf_puts(b, "]");
		}
		break;
	case X_SET:
		cedar_buf_puts(b, "[");
		list(b, e);
		cedar_buf_puts(b, "]");
		break;
	case X_RECORD:
		cedar_buf_puts(b, "{");
		list(b, e);
		cedar_buf_puts(b, "}");
		break;
	case X_CONTAINS:
		method(b, e, "contains");
		break;
	case X_CONTAINS_ALL:
		method(b, e, "containsAll");
		break;
	case X_CONTAINS_ANY:
		method(b, e, "containsAny");
		break;
	case X_IS_EMPTY:
		method(b, e, "isEmpty");
		break;
	}
}

static void expr(struct cedar_buf *b, const struct cedar_expr *e, int min)
{
	bool paren = level(e) < min;

	if (paren)
		cedar_buf_puts(b, "(");
	expr_inner(b, e);
	if (paren)
		cedar_buf_puts(b, ")");
}

static void scope(struct cedar_buf *b, const char *var, const struct cedar_scope *s)
{
	cedar_buf_printf(b, "  %s", var);
	switch (s->op) {
	case CEDAR_SCOPE_ANY:
		break;
	case CEDAR_SCOPE_EQ:
		cedar_buf_puts(b, " == ");
		put_uid(b, &s->uid);
		break;
	case CEDAR_SCOPE_IN:
		cedar_buf_puts(b, " in ");
		put_uid(b, &s->uid);
		break;
	case CEDAR_SCOPE_IS:
	case CEDAR_SCOPE_IS_IN:
		cedar_buf_puts(b, " is ");
		cedar_buf_put(b, s->type.p, s->type.n);
		if (s->op == CEDAR_SCOPE_IS_IN) {
			cedar_buf_puts(b, " in ");
			put_uid(b, &s->uid);
		}
		break;
	case CEDAR_SCOPE_IN_SET:
		cedar_buf_puts(b, " in [");
		for (size_t i = 0; i < s->n; i++) {
			if (i)
				cedar_buf_puts(b, ", ");
			put_uid(b, &s->set[i]);
		}
		cedar_buf_puts(b, "]");
		break;
	}
}

void cedar_format_policy(struct cedar_buf *b, const struct cedar_policy *p)
{
	for (size_t i = 0; i < p->nann; i++) {
		cedar_buf_puts(b, "@");
		cedar_buf_put(b, p->ann[i].key.p, p->ann[i].key.n);
		if (p->ann[i].has_value) {
			cedar_buf_puts(b, "(");
			put_quoted(b, p->ann[i].value);
			cedar_buf_puts(b, ")");
		}
		cedar_buf_puts(b, "\n");
	}
	cedar_buf_puts(b, p->forbid ? "forbid (\n" : "permit (\n");
	scope(b, "principal", &p->principal);
	cedar_buf_puts(b, ",\n");
	scope(b, "action", &p->action);
	cedar_buf_puts(b, ",\n");
	scope(b, "resource", &p->resource);
	cedar_buf_puts(b, "\n)");
	for (size_t i = 0; i < p->nconds; i++) {
		cedar_buf_puts(b, p->conds[i].unless ? "\nunless { " : "\nwhen { ");
		expr(b, p->conds[i].e, L_IF);
		cedar_buf_puts(b, " }");
	}
	cedar_buf_puts(b, ";\n");
}

static void comments(struct cedar_buf *b, const struct cedar_str *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = c[i].n;

		/* trailing blanks go; the result is a C string, so a NUL becomes a blank */
		while (l > 2 && (c[i].p[l - 1] == ' ' || c[i].p[l - 1] == '\t' ||
				 c[i].p[l - 1] == '\r' || c[i].p[l - 1] == 0))
			l--;
		for (size_t k = 0; k < l; k++)
			cedar_buf_put(b, c[i].p[k] ? c[i].p + k : " ", 1);
		cedar_buf_puts(b, "\n");
	}
}

char *cedar_format(const struct cedar_policy_set *ps)
{
	struct cedar_buf b = { 0 };

	for (size_t i = 0; i < ps->n; i++) {
		if (i)
			cedar_buf_puts(&b, "\n");
		comments(&b, ps->pol[i].comments, ps->pol[i].ncomments);
		cedar_format_policy(&b, &ps->pol[i]);
	}
	if (ps->ntrailing && ps->n)
		cedar_buf_puts(&b, "\n");
	comments(&b, ps->trailing_comments, ps->ntrailing);
	return cedar_buf_steal(&b);
}
