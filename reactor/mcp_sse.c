/* mcp_sse.c: which open event stream each HTTP+SSE endpoint belongs to.
 *
 * See mcp_sse.h. The registry is a short list (one entry per legacy MCP
 * session the agent opened, plus at most MCP_SSE_MAX_CLOSED whose stream
 * is gone), searched linearly: a session's POSTs are rare next to the
 * proxy's other work, and the list is bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_sse.h"

#define MAX_URL 4096

static struct mcp_sse_endpoint *endpoints; /* newest first */

/* ---- URLs ---------------------------------------------------------------- */

/* Removes "." and ".." segments from the path part of P (before '?'), in
 * place, as RFC 3986 section 5.2.4 does for an absolute path. */
static void remove_dots(char *p)
{
	size_t plen = strcspn(p, "?"), o = 0;
	char *out = malloc(plen + 2), *seg = p + 1, *end = p + plen;

	if (!out || p[0] != '/') {
		free(out);
		return;
	}
	while (seg <= end) {
		char *slash = memchr(seg, '/', end - seg);
		size_t n = (slash ? slash : end) - seg;
		bool last = !slash;

		if (n == 1 && seg[0] == '.') {
			if (last)
				out[o++] = '/';
		} else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > 0 && out[--o] != '/')
				;
			if (last)
				out[o++] = '/';
		} else {
			out[o++] = '/';
			memcpy(out + o, seg, n);
			o += n;
		}
		seg += n + 1;
	}
	if (o == 0)
		out[o++] = '/';
	memmove(p + o, end, strlen(end) + 1);
	memcpy(p, out, o);
	free(out);
}

/* Host and port of AUTH (LEN bytes, no userinfo) equal HOST:PORT, the
 * port defaulting to DEFPORT. */
static bool same_authority(const char *auth, size_t len, const char *host, unsigned port,
			   unsigned defport)
{
	const char *h = auth, *colon;
	size_t hl;
	char want[300];
	unsigned long p = defport;

	snprintf(want, sizeof(want), "%s", host[0] == '[' ? host + 1 : host);
	want[strcspn(want, "]")] = '\0';
	if (len && auth[0] == '[') {
		const char *rb = memchr(auth, ']', len);

		if (!rb)
			return false;
		h = auth + 1;
		hl = rb - h;
		colon = rb + 1 < auth + len && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(auth, ':', len);
		hl = (colon ? colon : auth + len) - auth;
	}
	if (colon && colon + 1 < auth + len) { /* "host:" is the default port */
		char num[8], *e;
		size_t nl = auth + len - colon - 1;

		if (nl >= sizeof(num))
			return false;
		memcpy(num, colon + 1, nl);
		num[nl] = '\0';
		p = strtoul(num, &e, 10);
		if (*e)
			return false;
	}
	return hl == strlen(want) && strncasecmp(h, want, hl) == 0 && p == port;
}

int mcp_sse_key(const char *scheme, const char *host, unsigned port, const char *path, char *key,
		size_t keylen)
{
	int n = snprintf(key, keylen, "%s://%s:%u%s", scheme, host, port, path[0] ? path : "/");

	for (char *k = key + strlen(scheme) + 3; *k && *k != ':'; k++)
		*k = (char)tolower((unsigned char)*k);
	return n < 0 || (size_t)n >= keylen ? -ENAMETOOLONG : 0;
}

int mcp_sse_resolve(const char *scheme, const char *host, unsigned port, const char *base,
		    const char *data, char *key, size_t keylen)
{
	char ref[MAX_URL], path[MAX_URL];
	const char *d = data, *rest;
	size_t n;

	while (isspace((unsigned char)*d))
		d++;
	n = strcspn(d, "#\r\n");
	while (n && isspace((unsigned char)d[n - 1]))
		n--;
	if (n >= sizeof(ref))
		return -ENAMETOOLONG;
	memcpy(ref, d, n);
	ref[n] = '\0';
	rest = ref;
	if (strncasecmp(ref, "http://", 7) == 0 || strncasecmp(ref, "https://", 8) == 0) {
		bool tls = tolower((unsigned char)ref[4]) == 's';

		if (tls != (strcmp(scheme, "https") == 0))
			return -EINVAL;
		rest = ref + (tls ? 6 : 5); /* at the "//" */
	}
	if (rest[0] == '/' && rest[1] == '/') { /* an authority: must be the stream's */
		const char *auth = rest + 2;
		size_t al = strcspn(auth, "/?");

		if (memchr(auth, '@', al) ||
		    !same_authority(auth, al, host, port, strcmp(scheme, "https") == 0 ? 443 : 80))
			return -EINVAL;
		rest = auth + al;
		snprintf(path, sizeof(path), "%s%s", rest[0] == '/' ? "" : "/", rest);
	} else if (rest[0] == '/') {
		snprintf(path, sizeof(path), "%s", rest);
	} else if (rest[0] == '?' || rest[0] == '\0') {
		size_t bl = strcspn(base, "?");

		if (snprintf(path, sizeof(path), "%.*s%s", (int)bl, base,
			     rest[0] ? rest : base + bl) >= (int)sizeof(path))
			return -ENAMETOOLONG;
	} else {
		size_t colon = strcspn(rest, ":/?");
		const char *dir = base;
		size_t bl = strcspn(base, "?");

		if (rest[colon] == ':')
			return -EINVAL; /* another scheme */
		while (bl > 0 && dir[bl - 1] != '/')
			bl--;
		if (snprintf(path, sizeof(path), "%.*s%s%s", (int)bl, dir, bl ? "" : "/", rest) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
	}
	if (path[0] == '?') {
		memmove(path + 1, path, strlen(path) + 1);
		path[0] = '/';
	}
	remove_dots(path);
	return mcp_sse_key(scheme, host, port, path, key, keylen);
}

/* ---- the registry -------------------------------------------------------- */

struct mcp_sse_endpoint *mcp_sse_find(const char *key)
{
	for (struct mcp_sse_endpoint *e = endpoints; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Drops the oldest detached entries past MCP_SSE_MAX_CLOSED. */
static void trim(void)
{
	struct mcp_sse_endpoint **pp = &endpoints;
	size_t closed = 0;

	while (*pp) {
		struct mcp_sse_endpoint *e = *pp;

		if (!e->stream && ++closed > MCP_SSE_MAX_CLOSED) {
			*pp = e->next;
			free(e->key);
			free(e);
			continue;
		}
		pp = &e->next;
	}
}

static void session_of(struct mcp_sse_endpoint *e)
{
	const char *q = strchr(e->key, '?'), *s;
	size_t n;

	for (s = q; s; s = strchr(s + 1, '&'))
		if (strncmp(s + 1, "sessionId=", 10) == 0 ||
		    strncmp(s + 1, "session_id=", 11) == 0) {
			s = strchr(s, '=') + 1;
			n = strcspn(s, "&");
			snprintf(e->session, sizeof(e->session), "%.*s", (int)n, s);
			return;
		}
	s = strstr(e->key, "://");
	s = s ? strchr(s + 3, '/') : NULL;
	snprintf(e->session, sizeof(e->session), "%s", s ? s : e->key);
}

struct mcp_sse_endpoint *mcp_sse_register(const char *key, struct proxy_conn *stream)
{
	struct mcp_sse_endpoint *e = mcp_sse_find(key);

	if (!e) {
		if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
			free(e);
			return NULL;
		}
		e->next = endpoints;
		endpoints = e;
		session_of(e);
	} else if (e->stream && e->stream != stream) {
		e->ambiguous = true;
	}
	e->stream = e->ambiguous ? NULL : stream;
	return e;
}

void mcp_sse_detach(struct proxy_conn *stream)
{
	for (struct mcp_sse_endpoint *e = endpoints; e; e = e->next)
		if (e->stream == stream)
			e->stream = NULL;
	trim();
}
