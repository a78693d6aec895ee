/*
 * util.c: the Cedar engine's plumbing: arenas, text buffers and diagnostics.
 *
 * Arenas are chunk lists; a chunk is at least 16 KiB and larger requests get a
 * chunk of their own. Diagnostics copy the source line they point into so they
 * outlive the text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cedar_arena_chunk {
	struct cedar_arena_chunk *next;
	max_align_t data[];
};

#define ARENA_CHUNK 16384u

void *cedar_arena_alloc(struct cedar_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->used + n > a->cap) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct cedar_arena_chunk *c = malloc(sizeof(*c) + cap);

		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		a->used = 0;
		a->cap = cap;
	}
	void *p = (char *)a->head->data + a->used;
	a->used += n;
	return p;
}

void *cedar_arena_memdup(struct cedar_arena *a, const void *p, size_t n)
{
	void *q = cedar_arena_alloc(a, n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *cedar_arena_strndup(struct cedar_arena *a, const char *p, size_t n)
{
	char *q = cedar_arena_alloc(a, n + 1);

	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	return q;
}

void cedar_arena_free(struct cedar_arena *a)
{
	struct cedar_arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->used = a->cap = 0;
}

int cedar_str_cmp(struct cedar_str a, struct cedar_str b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;

	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

/* --- buffers -------------------------------------------------------------- */

static bool buf_grow(struct cedar_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->n + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap * 2 : 256;

	while (cap < b->n + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);

	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void cedar_buf_put(struct cedar_buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void cedar_buf_puts(struct cedar_buf *b, const char *s)
{
	cedar_buf_put(b, s, strlen(s));
}

void cedar_buf_printf(struct cedar_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		cedar_buf_put(b, small, n);
		return;
	}
	if (!buf_grow(b, n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, n + 1, fmt, ap);
	va_end(ap);
	b->n += n;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 if invalid. */
size_t cedar_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min, cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void cedar_buf_escape(struct cedar_buf *b, struct cedar_str s)
{
	const unsigned char *p = (const unsigned char *)s.p;

	for (size_t i = 0; i < s.n;) {
		unsigned char c = p[i];
		size_t l;

		switch (c) {
		case '\n':
			cedar_buf_puts(b, "\\n");
			break;
		case '\r':
			cedar_buf_puts(b, "\\r");
			break;
		case '\t':
			cedar_buf_puts(b, "\\t");
			break;
		case '\\':
			cedar_buf_puts(b, "\\\\");
			break;
		case '"':
			cedar_buf_puts(b, "\\\"");
			break;
		case 0:
			cedar_buf_puts(b, "\\0");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				cedar_buf_printf(b, "\\u{%x}", c);
				break;
			}
			l = cedar_utf8_len(p + i, s.n - i);
			if (l == 0) /* never produced by the parser; keep bytes visible */
				cedar_buf_printf(b, "\\u{%x}", c), l = 1;
			else
				cedar_buf_put(b, s.p + i, l);
			i += l;
			continue;
		}
		i++;
	}
}

char *cedar_buf_steal(struct cedar_buf *b)
{
	if (b->oom) {
		free(b->p);
		memset(b, 0, sizeof(*b));
		return NULL;
	}
	if (!b->p)
		cedar_buf_put(b, "", 0);
	char *p = b->p;

	memset(b, 0, sizeof(*b));
	return p;
}

size_t cedar_offset(const char *text, size_t len, unsigned line, unsigned col)
{
	size_t i = 0;

	for (unsigned l = 1; l < line && i < len; i++)
		if (text[i] == '\n')
			l++;
	for (unsigned c = 1; c < col && i < len && text[i] != '\n'; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

/* --- diagnostics ---------------------------------------------------------- */

static unsigned count_chars(const char *s, size_t n)
{
	unsigned c = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

void cedar_diag_add(struct cedar_diags *d, const char *src, size_t srclen, uint32_t off,
		    uint32_t len, enum cedar_severity sev, const char *code, const char *hint,
		    const char *policy_id, const char *fmt, ...)
{
	struct cedar_diag *g;
	va_list ap;
	char msg[512];

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct cedar_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return;
		d->v = v;
		d->cap = cap;
	}
	if (off > srclen)
		off = srclen;
	if (len > srclen - off)
		len = srclen - off;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	size_t ls = off, le = off;

	while (ls > 0 && src[ls - 1] != '\n')
		ls--;
	while (le < srclen && src[le] != '\n')
		le++;
	unsigned line = 1;

	for (size_t i = 0; i < ls; i++)
		line += src[i] == '\n';
	size_t lineend_for_caret = off + len < le ? off + len : le;

	g = &d->v[d->n++];
	memset(g, 0, sizeof(*g));
	g->severity = sev;
	g->code = code;
	g->message = strdup(msg);
	g->hint = hint ? strdup(hint) : NULL;
	g->policy_id = policy_id ? strdup(policy_id) : NULL;
	g->line = line;
	g->col = count_chars(src + ls, off - ls) + 1;
	g->width = off < lineend_for_caret ? count_chars(src + off, lineend_for_caret - off) : 1;
	if (g->width == 0)
		g->width = 1;
	g->off = off;
	g->len = len;
	g->source_line = strndup(src + ls, le - ls);
	if (sev == CEDAR_SEV_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
}

void cedar_diags_free(struct cedar_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].message);
		free(d->v[i].hint);
		free(d->v[i].policy_id);
		free(d->v[i].source_line);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void cedar_diags_print(FILE *f, const struct cedar_diags *d, const char *filename)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct cedar_diag *g = &d->v[i];
		char num[16];
		int w = snprintf(num, sizeof(num), "%u", g->line);

		fprintf(f, "%s:%u:%u: %s[%s]: %s\n", filename, g->line, g->col,
			g->severity == CEDAR_SEV_ERROR ? "error" : "warning", g->code, g->message);
		fprintf(f, " %s | ", num);
		/* control characters would break the caret alignment */
		for (const char *s = g->source_line; *s; s++)
			fputc(*s == '\t' || (unsigned char)*s < 0x20 ? ' ' : *s, f);
		fprintf(f, "\n %*s | %*s", w, "", (int)g->col - 1, "");
		for (unsigned k = 0; k < g->width; k++)
			fputc('^', f);
		fputc('\n', f);
		if (g->hint)
			fprintf(f, " %*s = hint: %s\n", w, "", g->hint);
	}
}

json_t *cedar_diags_json(const struct cedar_diags *d)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < d->n; i++) {
		const struct cedar_diag *g = &d->v[i];

		json_array_append_new(
			arr,
			json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:s}",
				  "severity", g->severity == CEDAR_SEV_ERROR ? "error" : "warning",
				  "code", g->code, "message", g->message, "hint", g->hint, "policy",
				  g->policy_id, "line", (json_int_t)g->line, "column",
				  (json_int_t)g->col, "width", (json_int_t)g->width, "offset",
				  (json_int_t)g->off, "length", (json_int_t)g->len, "source",
				  g->source_line ? g->source_line : ""));
	}
	return arr;
}
