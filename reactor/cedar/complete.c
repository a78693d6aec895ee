/*
 * complete.c: completion for the policy editor (`/api/policies/complete`).
 *
 * Given text and a byte cursor, the tokens before the cursor (from the real
 * lexer, so strings and comments are understood) decide where we are: between
 * policies, in the scope's principal/action/resource slot, after the scope, or
 * in a condition (after `context.`, after an operand, or where an operand
 * goes). The partial word at the cursor (an identifier, a `Type::"id` entity
 * literal being typed, or an unterminated string) is the range replaced, and
 * candidates are filtered by it as a prefix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

extern const char *const cedar_leash_actions[];
extern const char *const cedar_leash_types[];

static const char *const context_keys[] = { "header", "value", NULL };

struct comp {
	struct cedar_completion *out;
	const char *prefix;
	size_t plen;
	size_t cap;
	int err;
};

static void add(struct comp *c, const char *kind, const char *label, const char *detail)
{
	size_t ll = strlen(label);

	if (c->err || ll < c->plen || memcmp(label, c->prefix, c->plen) != 0)
		return;
	for (size_t i = 0; i < c->out->n; i++)
		if (strcmp(c->out->v[i].label, label) == 0)
			return;
	if (c->out->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cedar_candidate *v = realloc(c->out->v, cap * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		c->out->v = v;
		c->cap = cap;
	}
	struct cedar_candidate *k = &c->out->v[c->out->n];

	k->label = strdup(label);
	k->kind = kind;
	k->detail = detail ? strdup(detail) : NULL;
	if (!k->label) {
		c->err = -ENOMEM;
		return;
	}
	c->out->n++;
}

static void add_actions(struct comp *c)
{
	char buf[64];

	for (int i = 0; cedar_leash_actions[i]; i++) {
		snprintf(buf, sizeof(buf), "Action::\"%s\"", cedar_leash_actions[i]);
		add(c, "action", buf, NULL);
	}
}

static void add_entities(struct comp *c, const char *const *known)
{
	char buf[64];

	for (int i = 0; cedar_leash_types[i]; i++) {
		snprintf(buf, sizeof(buf), "%s::\"", cedar_leash_types[i]);
		add(c, "entityType", buf, NULL);
	}
	for (size_t i = 0; known && known[i]; i++)
		add(c, "resource", known[i], NULL);
}

static void add_list(struct comp *c, const char *kind, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		add(c, kind, words[i], NULL);
}

static bool tok_is(const char *src, const struct cedar_token *t, const char *w)
{
	return t->t == T_IDENT && t->len == strlen(w) && !memcmp(src + t->off, w, t->len);
}

int cedar_complete(const char *text, size_t len, size_t cursor, const char *const *known,
		   struct cedar_completion *out)
{
	struct cedar_lexer lx = { text, cursor < len ? cursor : len, 0 };
	struct cedar_token *toks = NULL, t;
	size_t n = 0, cap = 0;
	char *prefix = NULL;
	struct comp c = { .out = out };

	memset(out, 0, sizeof(*out));
	for (;;) {
		cedar_lex_next(&lx, &t);
		if (t.t == T_EOF)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct cedar_token *nt = realloc(toks, cap * sizeof(*nt));

			if (!nt) {
				free(toks);
				return -ENOMEM;
			}
			toks = nt;
		}
		toks[n++] = t;
	}
	cursor = lx.n;
	/* the partial word ends at the cursor */
	size_t k = n;

	if (k > 0 && toks[k - 1].off + toks[k - 1].len == cursor &&
	    (toks[k - 1].t == T_IDENT || toks[k - 1].t == T_BAD || toks[k - 1].t == T_STRING ||
	     toks[k - 1].t == T_COLONCOLON)) {
		k--;
		while (k >= 2 &&
		       (toks[k].t == T_BAD || toks[k].t == T_STRING || toks[k].t == T_IDENT) &&
		       toks[k - 1].t == T_COLONCOLON && toks[k - 2].t == T_IDENT)
			k -= 2;
		if (toks[k].t == T_COLONCOLON && k >= 1 && toks[k - 1].t == T_IDENT)
			k--;
	}
	out->from = k < n ? toks[k].off : cursor;
	out->to = cursor;
	prefix = strndup(text + out->from, out->to - out->from);
	if (!prefix) {
		free(toks);
		return -ENOMEM;
	}
	c.prefix = prefix;
	c.plen = strlen(prefix);

	/* where are we? walk the tokens before the partial word */
	int depth = 0, slot = 0;
	enum {
		TOP,
		SCOPE,
		AFTER_SCOPE,
		COND
	} where = TOP;

	for (size_t i = 0; i < k; i++) {
		const struct cedar_token *x = &toks[i];

		switch (x->t) {
		case T_LPAREN:
		case T_LBRACKET:
		case T_LBRACE:
			if (where == TOP && x->t == T_LPAREN && i > 0 &&
			    (tok_is(text, &toks[i - 1], "permit") ||
			     tok_is(text, &toks[i - 1], "forbid"))) {
				where = SCOPE;
				slot = 0;
				depth = 0;
			} else if (where == AFTER_SCOPE && x->t == T_LBRACE) {
				where = COND;
				depth = 0;
			} else {
				depth++;
			}
			break;
		case T_RPAREN:
		case T_RBRACKET:
		case T_RBRACE:
			if (depth > 0)
				depth--;
			else if (where == SCOPE || where == COND)
				where = AFTER_SCOPE;
			break;
		case T_COMMA:
			if (where == SCOPE && depth == 0)
				slot++;
			break;
		case T_SEMI:
			if (depth == 0)
				where = TOP;
			break;
		default:
			break;
		}
	}
	const struct cedar_token *prev = k > 0 ? &toks[k - 1] : NULL;
	const struct cedar_token *prev2 = k > 1 ? &toks[k - 2] : NULL;
	static const char *const vars[] = { "principal", "action", "resource", NULL };
	static const char *const operand_vars[] = { "principal", "action", "resource", "context",
						    "true",	 "false",  NULL };
	static const char *const ops[] = { "&&", "||", "==", "!=", "in", "has", "like", "is", NULL };

	switch (where) {
	case TOP:
		add(&c, "keyword", "permit", NULL);
		add(&c, "keyword", "forbid", NULL);
		add(&c, "keyword", "@id(\"", NULL);
		break;
	case AFTER_SCOPE:
		add(&c, "keyword", "when", NULL);
		add(&c, "keyword", "unless", NULL);
		break;
	case SCOPE:
		if (!prev || prev->t == T_LPAREN || (prev->t == T_COMMA && depth == 0)) {
			if (slot < 3)
				add(&c, "variable", vars[slot], NULL);
		} else if (tok_is(text, prev, "principal") || tok_is(text, prev, "resource")) {
			add(&c, "keyword", "==", NULL);
			add(&c, "keyword", "in", NULL);
			add(&c, "keyword", "is", NULL);
		} else if (tok_is(text, prev, "action")) {
			add(&c, "keyword", "==", NULL);
			add(&c, "keyword", "in", NULL);
		} else if (slot == 1) {
			add_actions(&c);
		} else if (tok_is(text, prev, "is")) {
			add_list(&c, "entityType", cedar_leash_types);
		} else {
			add_entities(&c, slot == 2 ? known : NULL);
		}
		break;
	case COND:
		if (prev && prev->t == T_DOT && prev2 && tok_is(text, prev2, "context")) {
			add_list(&c, "contextKey", context_keys);
		} else if (prev && prev->t == T_DOT) {
			break; /* attributes are not known without a schema */
		} else if (prev &&
			   (prev->t == T_IDENT || prev->t == T_STRING || prev->t == T_INT ||
			    prev->t == T_RPAREN || prev->t == T_RBRACKET) &&
			   !tok_is(text, prev, "in") && !tok_is(text, prev, "has") &&
			   !tok_is(text, prev, "like") && !tok_is(text, prev, "is") &&
			   !tok_is(text, prev, "if") && !tok_is(text, prev, "then") &&
			   !tok_is(text, prev, "else")) {
			add_list(&c, "keyword", ops);
		} else if (prev && tok_is(text, prev, "is")) {
			add_list(&c, "entityType", cedar_leash_types);
		} else {
			add_list(&c, "variable", operand_vars);
			if (prev2 && tok_is(text, prev2, "action"))
				add_actions(&c);
			else
				add_entities(&c, known);
		}
		break;
	}
	free(prefix);
	free(toks);
	if (c.err) {
		cedar_completion_free(out);
		return c.err;
	}
	return 0;
}

void cedar_completion_free(struct cedar_completion *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].label);
		free(c->v[i].detail);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}
