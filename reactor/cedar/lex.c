/*
 * lex.c: the Cedar tokenizer and string-literal decoder.
 *
 * Tokens carry byte ranges into the source; nothing is copied until the parser
 * decides to keep it. Whitespace is Unicode White_Space, as in Cedar's lalrpop
 * grammar; comments are `//` to end of line only. Bytes that are not valid UTF-8,
 * or characters Cedar has no token for, come back as T_BAD. A comment ends at
 * '\n' or '\r' (Cedar's `//[^\n\r]*`).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Length of a Unicode whitespace character at s (0 if none). */
static size_t uspace(const unsigned char *s, size_t n)
{
	if (s[0] == ' ' || (s[0] >= 9 && s[0] <= 13))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
		return 3;
	if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

static bool is_ident_start(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Skips one UTF-8 character; returns its length (1 for an invalid byte). */
static size_t char_len(const unsigned char *s, size_t n)
{
	size_t l = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : 4;

	return l > n ? 1 : l;
}

void cedar_lex_next(struct cedar_lexer *lx, struct cedar_token *tok)
{
	const unsigned char *s = (const unsigned char *)lx->src;
	size_t n = lx->n, p = lx->pos, l;

	for (;;) {
		if (p < n && (l = uspace(s + p, n - p))) {
			p += l;
		} else if (p + 1 < n && s[p] == '/' && s[p + 1] == '/') {
			/* as in Cedar's grammar, a comment ends at '\n' or '\r' */
			while (p < n && s[p] != '\n' && s[p] != '\r')
				p++;
		} else {
			break;
		}
	}
	tok->off = p;
	if (p >= n) {
		tok->t = T_EOF;
		tok->len = 0;
		lx->pos = p;
		return;
	}
	int c = s[p];
	size_t q = p + 1;

	if (is_ident_start(c)) {
		while (q < n && is_ident(s[q]))
			q++;
		tok->t = T_IDENT;
	} else if (c >= '0' && c <= '9') {
		while (q < n && s[q] >= '0' && s[q] <= '9')
			q++;
		tok->t = T_INT;
	} else if (c == '"') {
		/* Cedar's string token is "(\\.|[^"\\])*": a backslash before a newline ends it */
		while (q < n && s[q] != '"') {
			if (s[q] == '\\' && q + 1 < n && s[q + 1] == '\n')
				break;
			if (s[q] == '\\' && q + 1 < n)
				q++;
			q++;
		}
		if (q < n && s[q] != '"') {
			tok->t = T_BAD; /* backslash-newline: the parser says so */
			q++;
		} else if (q >= n) {
			tok->t = T_BAD; /* unterminated string: the parser says so */
			q = n;
		} else {
			q++;
			tok->t = T_STRING;
		}
	} else {
		static const struct {
			const char *s;
			enum cedar_tok t;
		} ops[] = {
			{ "::", T_COLONCOLON }, { "==", T_EQEQ },  { "!=", T_NE },
			{ "<=", T_LE },		{ ">=", T_GE },	   { "&&", T_ANDAND },
			{ "||", T_OROR },	{ "(", T_LPAREN }, { ")", T_RPAREN },
			{ "{", T_LBRACE },	{ "}", T_RBRACE }, { "[", T_LBRACKET },
			{ "]", T_RBRACKET },	{ ",", T_COMMA },  { ";", T_SEMI },
			{ ":", T_COLON },	{ ".", T_DOT },	   { "@", T_AT },
			{ "?", T_QUESTION },	{ "<", T_LT },	   { ">", T_GT },
			{ "!", T_BANG },	{ "-", T_MINUS },  { "+", T_PLUS },
			{ "*", T_STAR },	{ "=", T_ASSIGN }, { "/", T_SLASH },
			{ "%", T_PERCENT },	{ "|", T_PIPE },   { "&", T_AMP },
		};
		tok->t = T_BAD;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			size_t ol = strlen(ops[i].s);

			if (p + ol <= n && memcmp(s + p, ops[i].s, ol) == 0) {
				tok->t = ops[i].t;
				q = p + ol;
				break;
			}
		}
		if (tok->t == T_BAD)
			q = p + char_len(s + p, n - p);
	}
	tok->len = q - p;
	lx->pos = q;
}

const char *cedar_tok_name(enum cedar_tok t)
{
	static const char *const names[] = {
		[T_EOF] = "end of input",
		[T_IDENT] = "identifier",
		[T_STRING] = "string",
		[T_INT] = "integer",
		[T_LPAREN] = "'('",
		[T_RPAREN] = "')'",
		[T_LBRACE] = "'{'",
		[T_RBRACE] = "'}'",
		[T_LBRACKET] = "'['",
		[T_RBRACKET] = "']'",
		[T_COMMA] = "','",
		[T_SEMI] = "';'",
		[T_COLON] = "':'",
		[T_COLONCOLON] = "'::'",
		[T_DOT] = "'.'",
		[T_AT] = "'@'",
		[T_QUESTION] = "'?'",
		[T_EQEQ] = "'=='",
		[T_NE] = "'!='",
		[T_LT] = "'<'",
		[T_LE] = "'<='",
		[T_GT] = "'>'",
		[T_GE] = "'>='",
		[T_ANDAND] = "'&&'",
		[T_OROR] = "'||'",
		[T_BANG] = "'!'",
		[T_MINUS] = "'-'",
		[T_PLUS] = "'+'",
		[T_STAR] = "'*'",
		[T_ASSIGN] = "'='",
		[T_SLASH] = "'/'",
		[T_PERCENT] = "'%'",
		[T_PIPE] = "'|'",
		[T_AMP] = "'&'",
		[T_BAD] = "invalid character",
	};
	return names[t];
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | (cp >> 12);
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (cp >> 18);
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Decodes the escape at s[i] (a backslash); returns its length or 0 if invalid. */
static size_t unescape_one(const char *s, size_t n, size_t i, bool pattern, unsigned *cp,
			   bool *star)
{
	*star = false;
	if (i + 1 >= n)
		return 0;
	switch (s[i + 1]) {
	case 'n':
		*cp = '\n';
		return 2;
	case 'r':
		*cp = '\r';
		return 2;
	case 't':
		*cp = '\t';
		return 2;
	case '\\':
		*cp = '\\';
		return 2;
	case '0':
		*cp = 0;
		return 2;
	case '\'':
		*cp = '\'';
		return 2;
	case '"':
		*cp = '"';
		return 2;
	case '*':
		if (!pattern)
			return 0;
		*cp = '*';
		*star = true;
		return 2;
	case 'x': {
		if (i + 3 >= n)
			return 0;
		int h = hexval(s[i + 2]), l = hexval(s[i + 3]);

		if (h < 0 || l < 0 || h > 7)
			return 0;
		*cp = h * 16 + l;
		return 4;
	}
	case 'u': {
		size_t j = i + 2;
		unsigned v = 0;
		int digits = 0;

		if (j >= n || s[j] != '{')
			return 0;
		for (j++; j < n && s[j] != '}'; j++) {
			int h = hexval(s[j]);

			if (h < 0 || ++digits > 6)
				return 0;
			v = v * 16 + h;
		}
		if (j >= n || digits == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return 0;
		*cp = v;
		return j + 1 - i;
	}
	}
	return 0;
}

int cedar_unescape(struct cedar_arena *a, const char *src, size_t n, bool pattern,
		   struct cedar_str *out, uint8_t **wild, size_t *bad_off, size_t *bad_len)
{
	/* src includes the quotes; output is never longer than the input */
	char *o = cedar_arena_alloc(a, n + 1);
	uint8_t *w = NULL;
	size_t k = 0;

	if (!o)
		return -ENOMEM;
	if (pattern) {
		w = cedar_arena_alloc(a, n / 8 + 1);
		if (!w)
			return -ENOMEM;
		memset(w, 0, n / 8 + 1);
	}
	for (size_t i = 1; i + 1 < n;) {
		if (src[i] == '\r') {
			/* a bare carriage return is not allowed in a Cedar string */
			*bad_off = i;
			*bad_len = 1;
			return -EINVAL;
		}
		if (src[i] != '\\') {
			if (pattern && src[i] == '*')
				w[k / 8] |= 1u << (k % 8);
			o[k++] = src[i++];
			continue;
		}
		unsigned cp;
		bool star;
		size_t l = unescape_one(src, n - 1, i, pattern, &cp, &star);

		if (l == 0) {
			size_t e = i + 2;

			if (i + 1 < n - 1 && (src[i + 1] == 'u' || src[i + 1] == 'x')) {
				while (e < n - 1 && src[e] != '}' && src[e] != '"' &&
				       src[e] != '\\' && e - i < 12)
					e++;
				if (e < n - 1 && src[e] == '}')
					e++;
			}
			if (e > n - 1)
				e = n - 1;
			*bad_off = i;
			*bad_len = e - i;
			return -EINVAL;
		}
		size_t m = put_utf8(o + k, cp);

		/* a star produced by \x2A or \u{2a} is still a wildcard; only \* is literal */
		if (pattern && cp == '*' && !star)
			w[k / 8] |= 1u << (k % 8);
		k += m;
		i += l;
	}
	o[k] = 0;
	out->p = o;
	out->n = k;
	if (wild)
		*wild = w;
	return 0;
}
