/*
 * internal.h: what the files of the Cedar engine share and nobody else sees.
 *
 * Memory: everything a policy set, an entity store or one evaluation owns lives in
 * an arena (struct cedar_arena) freed at once, so the evaluator never frees and
 * values can share structure (a literal's value is used as is, never copied).
 * Strings are counted (struct cedar_str): Cedar strings and entity ids may
 * contain NUL.
 *
 * Checklist when adding an expression kind: lexer token (lex.c), parser (parse.c),
 * evaluator (eval.c), formatter (fmt.c), completion context (complete.c) and a
 * checklist test in t/unit/cedar-eval.c.
 */
#ifndef CEDAR_INTERNAL_H
#define CEDAR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cedar.h"

/* --- arena ---------------------------------------------------------------- */

struct cedar_arena_chunk;
struct cedar_arena {
	struct cedar_arena_chunk *head;
	size_t used; /* bytes used in head */
	size_t cap; /* capacity of head */
};

void *cedar_arena_alloc(struct cedar_arena *a, size_t n);
void *cedar_arena_memdup(struct cedar_arena *a, const void *p, size_t n);
char *cedar_arena_strndup(struct cedar_arena *a, const char *p, size_t n);
void cedar_arena_free(struct cedar_arena *a);

/* --- strings and buffers -------------------------------------------------- */

struct cedar_str {
	const char *p;
	size_t n;
};

static inline bool cedar_str_eq(struct cedar_str a, struct cedar_str b)
{
	return a.n == b.n && (a.n == 0 || __builtin_memcmp(a.p, b.p, a.n) == 0);
}
int cedar_str_cmp(struct cedar_str a, struct cedar_str b);
static inline struct cedar_str cedar_cstr(const char *s)
{
	return (struct cedar_str){ s, __builtin_strlen(s) };
}

/* A growable heap buffer for text output (formatter, messages, JSON). */
struct cedar_buf {
	char *p;
	size_t n, cap;
	bool oom;
};
void cedar_buf_put(struct cedar_buf *b, const char *s, size_t n);
void cedar_buf_puts(struct cedar_buf *b, const char *s);
void cedar_buf_printf(struct cedar_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s as the body of a Cedar string literal (escaped, without quotes). */
void cedar_buf_escape(struct cedar_buf *b, struct cedar_str s);
char *cedar_buf_steal(struct cedar_buf *b); /* NUL-terminated, caller frees */
/* Length of the valid UTF-8 character at s, 0 if invalid (n > 0). */
size_t cedar_utf8_len(const unsigned char *s, size_t n);

/* --- values --------------------------------------------------------------- */

enum cedar_vtype {
	CEDAR_V_BOOL,
	CEDAR_V_LONG,
	CEDAR_V_STRING,
	CEDAR_V_ENTITY,
	CEDAR_V_SET,
	CEDAR_V_RECORD,
};

struct cedar_uid {
	struct cedar_str type; /* "A::B" */
	struct cedar_str id;
	uint64_t hash;
};

struct cedar_value {
	enum cedar_vtype t;
	union {
		bool b;
		int64_t l;
		struct cedar_str s;
		struct cedar_uid e;
		struct {
			const struct cedar_value **v; /* sorted, unique */
			size_t n;
		} set;
		struct {
			struct cedar_str *k; /* sorted by key */
			const struct cedar_value **v;
			size_t n;
		} rec;
	};
};

extern const struct cedar_value cedar_true, cedar_false;

uint64_t cedar_uid_hash(struct cedar_str type, struct cedar_str id);
void cedar_uid_init(struct cedar_uid *u, struct cedar_str type, struct cedar_str id);
static inline bool cedar_uid_eq(const struct cedar_uid *a, const struct cedar_uid *b)
{
	return a->hash == b->hash && cedar_str_eq(a->type, b->type) && cedar_str_eq(a->id, b->id);
}
int cedar_value_cmp(const struct cedar_value *a, const struct cedar_value *b);
bool cedar_value_eq(const struct cedar_value *a, const struct cedar_value *b);
/* Builds a set from n values (sorted and deduplicated in place in v, which the set keeps). */
struct cedar_value *cedar_value_set(struct cedar_arena *a, const struct cedar_value **v, size_t n);
/* Builds a record; keys must be unique; k and v are sorted in place and kept. */
struct cedar_value *cedar_value_record(struct cedar_arena *a, struct cedar_str *k,
				       const struct cedar_value **v, size_t n);
const struct cedar_value *cedar_record_get(const struct cedar_value *rec, struct cedar_str key);
const struct cedar_value *cedar_value_long(struct cedar_arena *a, int64_t l);
const struct cedar_value *cedar_value_string(struct cedar_arena *a, struct cedar_str s);
const struct cedar_value *cedar_value_entity(struct cedar_arena *a, struct cedar_str type,
					     struct cedar_str id);
/* Appends the Cedar text of a value (records as {"k": v}). */
void cedar_value_print(struct cedar_buf *b, const struct cedar_value *v);
const char *cedar_vtype_name(enum cedar_vtype t);

/* --- entity store --------------------------------------------------------- */

struct cedar_entity {
	struct cedar_uid uid;
	const struct cedar_value *attrs; /* a record */
	struct cedar_uid *parents;
	size_t nparents;
	const struct cedar_uid **anc; /* transitive ancestors, computed by cedar_entities_seal */
	size_t nanc;
	bool from_json; /* added by cedar_entities_add_json (duplicates must be identical) */
};

struct cedar_entities {
	struct cedar_arena arena;
	struct cedar_entity **slots; /* open addressing on uid hash */
	size_t nslots, count;
	bool sealed;
};

const struct cedar_entity *cedar_entities_get(const struct cedar_entities *es,
					      const struct cedar_uid *uid);
struct cedar_entity *cedar_entities_put(struct cedar_entities *es, const struct cedar_uid *uid,
					bool *existed);
void cedar_entities_seal(struct cedar_entities *es);
bool cedar_entities_in(const struct cedar_entities *es, const struct cedar_uid *a,
		       const struct cedar_uid *b);

/* --- lexer ---------------------------------------------------------------- */

enum cedar_tok {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_INT,
	T_LPAREN,
	T_RPAREN,
	T_LBRACE,
	T_RBRACE,
	T_LBRACKET,
	T_RBRACKET,
	T_COMMA,
	T_SEMI,
	T_COLON,
	T_COLONCOLON,
	T_DOT,
	T_AT,
	T_QUESTION,
	T_EQEQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_ANDAND,
	T_OROR,
	T_BANG,
	T_MINUS,
	T_PLUS,
	T_STAR,
	T_ASSIGN, /* '=' alone: always an error, kept for the message */
	T_SLASH,
	T_PERCENT,
	T_PIPE,
	T_AMP,
	T_BAD,
};

struct cedar_token {
	enum cedar_tok t;
	uint32_t off, len; /* byte range in the source */
};

struct cedar_lexer {
	const char *src;
	size_t n, pos;
};

void cedar_lex_next(struct cedar_lexer *lx, struct cedar_token *tok);
const char *cedar_tok_name(enum cedar_tok t);

/*
 * Decodes the Cedar string literal at src[0..n) (including quotes). For a like pattern
 * (pattern=true) "\*" is a literal star and the result marks wildcards in wild (a bitmap
 * of out->n bits allocated in the arena). Returns 0 or -EINVAL with bad_off and bad_len
 * set to the offending escape (relative to src).
 */
int cedar_unescape(struct cedar_arena *a, const char *src, size_t n, bool pattern,
		   struct cedar_str *out, uint8_t **wild, size_t *bad_off, size_t *bad_len);

/* --- AST ------------------------------------------------------------------ */

enum cedar_op {
	X_LIT,
	X_VAR, /* var: 0 principal 1 action 2 resource 3 context */
	X_SLOT, /* template slot: rejected at parse time, kept for completion */
	X_AND,
	X_OR,
	X_NOT,
	X_NEG,
	X_EQ,
	X_NE,
	X_LT,
	X_LE,
	X_GT,
	X_GE,
	X_ADD,
	X_SUB,
	X_MUL,
	X_IN,
	X_HAS, /* a has name */
	X_LIKE, /* a like pattern */
	X_IS, /* a is name [in b] */
	X_ATTR, /* a.name or a["name"] */
	X_IF,
	X_SET,
	X_RECORD,
	X_CONTAINS,
	X_CONTAINS_ALL,
	X_CONTAINS_ANY,
	X_IS_EMPTY,
};

enum cedar_var {
	CEDAR_VAR_PRINCIPAL,
	CEDAR_VAR_ACTION,
	CEDAR_VAR_RESOURCE,
	CEDAR_VAR_CONTEXT,
};

struct cedar_pattern {
	struct cedar_str s;
	uint8_t *wild; /* bitmap: bit i set = s.p[i] is a wildcard */
};

struct cedar_expr {
	enum cedar_op op;
	uint32_t off, end; /* source range */
	const struct cedar_expr *a, *b, *c;
	const struct cedar_value *lit; /* X_LIT */
	int var; /* X_VAR */
	struct cedar_str name; /* X_HAS/X_ATTR attribute, X_IS type */
	bool quoted; /* X_ATTR written a["x"], X_HAS written a has "x" */
	struct cedar_pattern pat; /* X_LIKE */
	const struct cedar_expr **items;
	struct cedar_str *keys; /* X_RECORD keys, X_HAS path */
	size_t n;
	unsigned depth; /* height of the tree below, bounded by the parser */
};

enum cedar_scope_op {
	CEDAR_SCOPE_ANY,
	CEDAR_SCOPE_EQ,
	CEDAR_SCOPE_IN,
	CEDAR_SCOPE_IS,
	CEDAR_SCOPE_IS_IN,
	CEDAR_SCOPE_IN_SET, /* action only */
};

struct cedar_scope {
	enum cedar_scope_op op;
	struct cedar_str type; /* IS, IS_IN */
	struct cedar_uid uid; /* EQ, IN, IS_IN */
	struct cedar_uid *set; /* IN_SET */
	uint32_t (*set_pos)[2]; /* IN_SET: source range of each element */
	size_t n;
	uint32_t off, end;
	uint32_t uid_off, uid_end; /* source range of uid */
};

struct cedar_annotation {
	struct cedar_str key, value;
	bool has_value;
};

struct cedar_cond {
	bool unless;
	const struct cedar_expr *e;
	uint32_t off, end;
};

struct cedar_policy {
	char *id; /* NUL-terminated */
	bool forbid;
	struct cedar_scope principal, action, resource;
	struct cedar_annotation *ann;
	size_t nann;
	struct cedar_cond *conds;
	size_t nconds;
	uint32_t off, end; /* from the first annotation to the ';' */
	struct cedar_str *comments; /* '//' comments before the policy, in order */
	size_t ncomments;
};

struct cedar_index;

struct cedar_policy_set {
	struct cedar_arena arena;
	struct cedar_policy *pol;
	size_t n;
	struct cedar_str *trailing_comments;
	size_t ntrailing;
	struct cedar_index *index;
	bool index_always; /* CEDAR_PARSE_INDEX_ALWAYS: no scan fallback (tests) */
};

int cedar_index_build(struct cedar_policy_set *ps);
void cedar_index_free(struct cedar_index *ix);
/* Candidate policies for a request, sorted, as indices into ps->pol; returns count. */
size_t cedar_index_candidates(const struct cedar_policy_set *ps, const struct cedar_entities *es,
			      const struct cedar_uid *action, const struct cedar_uid *resource,
			      uint32_t **out, size_t *cap);

/* --- evaluator ------------------------------------------------------------ */

struct cedar_eval {
	const struct cedar_entities *es;
	const struct cedar_value *vars[4];
	struct cedar_arena *arena; /* results of this request */
	char err[160];
};

/* Returns the value, or NULL on a Cedar evaluation error (message in ev->err). */
const struct cedar_value *cedar_eval_expr(struct cedar_eval *ev, const struct cedar_expr *e);
/* 1 satisfied, 0 not, -1 error (message in ev->err). */
int cedar_eval_policy(struct cedar_eval *ev, const struct cedar_policy *p);
/* The same, and *why says where it stopped: an enum cedar_why scope value, or
 * -1 - i for condition i (false, or erroring when -1 is returned). */
int cedar_eval_policy_why(struct cedar_eval *ev, const struct cedar_policy *p, int *why);
bool cedar_like(struct cedar_str s, const struct cedar_pattern *pat);

/* json_loadb() that also accepts "\u0000" in object keys (see entities.c). */
json_t *cedar_json_loads(const char *text, size_t len, json_error_t *je);
/* Converts a Cedar JSON value (entity refs as {"__entity":..}); 0, -EINVAL (err), -ENOMEM. */
int cedar_value_from_json(struct cedar_arena *a, const json_t *j, const struct cedar_value **out,
			  char *err, size_t errlen);
/* cedar_authorize() on ready values: vars are principal, action, resource (entities), context. */
int cedar_authorize_values(const struct cedar_policy_set *ps, struct cedar_entities *es,
			   const struct cedar_value *vars[4], struct cedar_response *resp);

/* --- diagnostics ---------------------------------------------------------- */

void cedar_diag_add(struct cedar_diags *d, const char *src, size_t srclen, uint32_t off,
		    uint32_t len, enum cedar_severity sev, const char *code, const char *hint,
		    const char *policy_id, const char *fmt, ...)
	__attribute__((format(printf, 10, 11)));

#endif
