/* synth.c: a least-privilege Cedar policy from a session's audit log.
 *
 * Every access the session was given (decision allow or would_deny; a deny
 * did not happen and is left out, but counted) becomes something the policy
 * permits, in the forms leash's enforcement points compile exactly:
 *
 *   - files opened read-only: FileOpenReadOnly; opened for writing:
 *     FileOpen (which covers both);
 *   - a path with an all-digit component (/proc/1234/status, /dev/pts/3,
 *     /tmp/4711/x) varies from run to run: it becomes the directory above
 *     that component (/proc/, /dev/pts/, /tmp/);
 *   - the entries of one directory become the directory (Dir, its whole
 *     subtree) when the session opened at least `collapse` of them and the
 *     directory is at least two levels deep (/usr/lib/, never /etc/ or /);
 *   - a directory listed (opened) but not collapsed is permitted exactly
 *     (resource == Dir), never as a subtree;
 *   - programs exactly as executed (no collapsing: which programs run is
 *     the point), and the dynamic loader when the session read it (the
 *     kernel opens it as an exec for every dynamically linked program;
 *     record mode sees that as a read), from the system's library
 *     directories only;
 *   - connections by name where leash knows the name (the proxy's
 *     Host::"name:port", or the DNS answer the address came from), by
 *     address:port otherwise; a name that was resolved but never connected
 *     to, for resolution only (resource == Host::"name"); leash's own
 *     endpoints (the proxy, the DNS forwarder) are not the agent's business;
 *   - MCP tools per server (resource in MCP::Server, tool in [...]).
 *
 * Names (the agent's file names, host names, tool names) are Cedar strings,
 * escaped by put_entity, so no name becomes policy text; a name that is not
 * UTF-8, which Cedar cannot write, is left out and counted. The text is
 * parsed before it is returned: a synthesis leash itself would refuse is an
 * error, never output.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pwd.h>

#include <jansson.h>

#include "cedar/cedar.h"
#include "identity.h"
#include "synth.h"

struct strv {
	char **v;
	size_t n, cap;
};

struct facts {
	struct strv read, write, exec; /* paths; a Dir's ends with '/' */
	/* Directories no rule widens to (sorted): the user's home and what
	 * holds it or the workspace, so that files the agent names cannot
	 * steer a collapse over ~/.ssh and the like. */
	struct strv guarded;
	struct strv hosts; /* Host ids for `resource in`: name:port, ip:port */
	struct strv resolved; /* names resolved (dns.query) */
	struct strv answers; /* "ip\tname" from allowed DNS answers */
	struct strv tools; /* "server\ttool" */
	long used, denied, skipped, unnamed;
};

static int strv_add(struct strv *s, const char *str)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(str)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static int strv_addf(struct strv *s, const char *a, const char *b)
{
	char *t;
	int rc;

	if (asprintf(&t, "%s\t%s", a, b) < 0)
		return -ENOMEM;
	rc = strv_add(s, t);
	free(t);
	return rc;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, without duplicates and without the entries blanked ("") to
 * drop them. */
static void strv_sort_uniq(struct strv *s)
{
	size_t k = 0;

	if (!s->n)
		return; /* and s->v may be NULL, which qsort must not see */
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (!s->v[i][0] || (k && strcmp(s->v[k - 1], s->v[i]) == 0))
			free(s->v[i]);
		else
			s->v[k++] = s->v[i];
	}
	s->n = k;
}

static bool strv_has(const struct strv *s, const char *str)
{
	return s->n && bsearch(&str, s->v, s->n, sizeof(*s->v), cmp_str);
}

/* ---- paths --------------------------------------------------------------- */

/* Cut PATH before its first all-digit component below the root:
 * /proc/12/fd/3 -> /proc/; unless what is left is GUARDED. */
static void cut_varying(char *path, const struct strv *guarded)
{
	for (char *c = path + 1; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c)) {
		size_t len = strcspn(c, "/");
		char keep = *c;

		if (len && c > path + 1 && strspn(c, "0123456789") >= len) {
			*c = '\0';
			if (strv_has(guarded, path))
				*c = keep;
			return;
		}
	}
}

/* The directory PATH is an entry of: /a/b -> /a/, /a/b/ -> /a/. */
static void parent_of(const char *path, char *out, size_t len)
{
	size_t n = strlen(path);

	if (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	snprintf(out, len, "%.*s", (int)n, path);
}

static int depth_of(const char *dir)
{
	int d = 0;

	for (const char *p = dir + 1; *p; p++)
		d += *p == '/';
	return d;
}

/* Is PATH DIR or below it (DIR ends with '/')? */
static bool covered(const char *path, const char *dir)
{
	return strncmp(path, dir, strlen(dir)) == 0;
}

/* Is PATH in one of DIRS (sorted)? One lookup per ancestor of PATH. */
static bool covered_by_any(const char *path, const struct strv *dirs)
{
	char prefix[4096];

	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		if ((size_t)(s - path) + 1 >= sizeof(prefix))
			return false;
		memcpy(prefix, path, s - path + 1);
		prefix[s - path + 1] = '\0';
		if (strv_has(dirs, prefix))
			return true;
	}
	return false;
}

/* Splits PATHS into SUBTREES (Dirs for `in`) and EXACT (Files for `in`,
 * Dirs for `==`), following the rules at the top. */
struct entry {
	char *parent, *path; /* path points into the caller's strv */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return strcmp(x->parent, y->parent) ?: strcmp(x->path, y->path);
}

static int collapse(struct strv *paths, unsigned collapse, const struct strv *guarded,
		    struct strv *subtrees, struct strv *exact)
{
	struct entry *rest = calloc(paths->n + 1, sizeof(*rest));
	size_t nrest = 0, i, k;
	char dir[4096];
	int rc = 0;

	if (!rest)
		return -ENOMEM;
	for (i = 0; i < paths->n && !rc; i++) {
		size_t n = strlen(paths->v[i]);

		cut_varying(paths->v[i], guarded);
		if (strlen(paths->v[i]) != n) {
			rc = strv_add(subtrees, paths->v[i]);
			continue;
		}
		parent_of(paths->v[i], dir, sizeof(dir));
		rest[nrest].path = paths->v[i];
		if (!(rest[nrest++].parent = strdup(dir)))
			rc = -ENOMEM;
	}
	/* By parent: a directory's entries are one run. */
	qsort(rest, nrest, sizeof(*rest), cmp_entry);
	for (i = 0; i < nrest && !rc; i = k) {
		for (k = i; k < nrest && strcmp(rest[k].parent, rest[i].parent) == 0; k++)
			;
		if (collapse && k - i >= collapse && depth_of(rest[i].parent) >= 2 &&
		    !strv_has(guarded, rest[i].parent)) {
			rc = strv_add(subtrees, rest[i].parent);
			continue;
		}
		for (size_t e = i; e < k && !rc; e++)
			rc = strv_add(exact, rest[e].path);
	}
	for (i = 0; i < nrest; i++)
		free(rest[i].parent);
	free(rest);
	if (rc)
		return rc;
	/* Nothing twice: a subtree inside another (sorted, what a directory
	 * holds follows it in one run), an entry inside a subtree. */
	strv_sort_uniq(subtrees);
	for (i = 1, k = 0; i < subtrees->n; i++) {
		if (covered(subtrees->v[i], subtrees->v[k]))
			subtrees->v[i][0] = '\0';
		else
			k = i;
	}
	strv_sort_uniq(subtrees);
	for (size_t i = 0; i < exact->n; i++)
		if (covered_by_any(exact->v[i], subtrees))
			exact->v[i][0] = '\0';
	strv_sort_uniq(exact);
	return 0;
}

/* ---- reading the log ----------------------------------------------------- */

/* `Type::"id"` -> type and id (the id is everything between the first and
 * the last quote, as record_set_resource writes it). */
static bool split_resource(const char *res, char *type, size_t tlen, char *id, size_t ilen)
{
	const char *q = strchr(res, '"');
	size_t n = strlen(res);

	if (!q || q - res < 3 || strncmp(q - 2, "::", 2) != 0 || res[n - 1] != '"' ||
	    res + n - 1 == q)
		return false;
	snprintf(type, tlen, "%.*s", (int)(q - 2 - res), res);
	snprintf(id, ilen, "%.*s", (int)(res + n - 2 - q), q + 1);
	return true;
}

static int add_connect(struct facts *f, const char *kind, const char *id, json_t *details)
{
	const char *reason = json_string_value(json_object_get(details, "reason"));
	const char *addr = json_string_value(json_object_get(details, "address"));
	json_t *names = json_object_get(details, "names"), *n;
	json_int_t port = json_integer_value(json_object_get(details, "port"));
	char host[600];
	size_t i;
	int rc = 0;

	if (strcmp(kind, "http.request") == 0)
		return strv_add(&f->hosts, id);
	if (strcmp(kind, "dns.query") == 0)
		return strv_add(&f->resolved, id);
	/* leash's own endpoints: allowed whatever the policy says */
	if (reason && (strcmp(reason, "the proxy") == 0 || strcmp(reason, "leash's DNS") == 0))
		return 1;
	if (json_array_size(names)) {
		json_array_foreach(names, i, n)
		{
			snprintf(host, sizeof(host), "%s:%lld", json_string_value(n),
				 (long long)port);
			rc = rc ? rc : strv_add(&f->hosts, host);
		}
		return rc;
	}
	/* An address a permitted name resolved to, in this session. */
	for (i = 0; addr && i < f->answers.n; i++) {
		const char *tab = strchr(f->answers.v[i], '\t');

		if (strncmp(f->answers.v[i], addr, tab - f->answers.v[i]) == 0 &&
		    !addr[tab - f->answers.v[i]]) {
			snprintf(host, sizeof(host), "%s:%lld", tab + 1, (long long)port);
			return strv_add(&f->hosts, host);
		}
	}
	return strv_add(&f->hosts, id);
}

/* The dynamic loader: record mode sees the kernel read it for every
 * dynamically linked program, enforcement decides that open as an exec.
 * Only in the system's library directories: a file the agent names
 * ld-linux-x86-64.so.2 in its workspace and reads is not a program it may
 * run. */
static bool is_loader(const char *path)
{
	static const char *const dirs[] = { "/lib/",	   "/lib64/",	  "/lib32/",
					    "/libx32/",	   "/usr/lib/",	  "/usr/lib64/",
					    "/usr/lib32/", "/usr/libx32/" };
	const char *base = strrchr(path, '/') + 1;
	bool system = false;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		system |= strncmp(path, dirs[i], strlen(dirs[i])) == 0;
	if (!system || strstr(path, "/../") || strstr(path, "/./"))
		return false;

	/* ld-linux-x86-64.so.2, ld-musl-x86_64.so.1, ld.so.1; not ld.so.cache */
	return strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld-musl", 7) == 0 ||
	       strcmp(base, "ld.so") == 0 || (strncmp(base, "ld.so.", 6) == 0 && isdigit(base[6]));
}

/* 0 (used), 1 (not the agent's doing), 2 (no synthesis rule), -ENOMEM. */
static int add_access(struct facts *f, const char *kind, const char *action, const char *type,
		      const char *id, json_t *details)
{
	const char *server = json_string_value(json_object_get(details, "server"));
	bool path = (strcmp(type, "File") == 0 || strcmp(type, "Dir") == 0) && id[0] == '/';

	if (path && strcmp(action, "FileOpenReadOnly") == 0)
		return strv_add(&f->read, id) ?: (is_loader(id) ? strv_add(&f->exec, id) : 0);
	if (path && strcmp(action, "FileOpenReadWrite") == 0)
		return strv_add(&f->write, id);
	if (path && strcmp(action, "ProcessExec") == 0 && strcmp(type, "File") == 0)
		return strv_add(&f->exec, id);
	if (strcmp(type, "Host") == 0 && strcmp(action, "NetworkConnect") == 0)
		return add_connect(f, kind, id, details);
	if (strcmp(type, "MCP::Tool") == 0 && strcmp(action, "McpCall") == 0 && server)
		return strv_addf(&f->tools, server, id);
	return 2;
}

/* Cedar text is Unicode: a name that is not UTF-8 (a file name is any
 * bytes) cannot be written in a policy. jansson checks as Cedar does. */
static bool cedar_can_name(const char *id)
{
	json_t *s = json_string(id);

	json_decref(s);
	return s != NULL;
}

static int add_event(struct facts *f, const char *kind, const char *action, const char *resource,
		     const char *decision, const char *details_text)
{
	char type[64], id[4096];
	json_t *details;
	int rc;

	if (strcmp(decision, "deny") == 0) {
		f->denied++;
		return 0;
	}
	if (!split_resource(resource, type, sizeof(type), id, sizeof(id))) {
		f->skipped++;
		return 0;
	}
	if (!cedar_can_name(id)) {
		f->unnamed++; /* left out: the access stays denied */
		return 0;
	}
	details = json_loads(details_text, 0, NULL);
	rc = add_access(f, kind, action, type, id, details);
	json_decref(details);
	if (rc < 0)
		return rc;
	f->used += rc == 0;
	f->skipped += rc == 2;
	return 0;
}

static int read_facts(sqlite3 *db, sqlite3_int64 session, struct facts *f, char *err, size_t errlen)
{
	static const char answers_sql[] =
		"SELECT a.value, json_extract(e.details, '$.name') FROM events e,"
		" json_each(json_extract(e.details, '$.answers')) a"
		" WHERE e.session = ?1 AND e.kind = 'dns.query' AND e.decision != 'deny'";
	static const char events_sql[] =
		"SELECT kind, action, resource, decision, details FROM events"
		" WHERE session = ?1 AND action IS NOT NULL AND resource IS NOT NULL"
		" AND decision IS NOT NULL ORDER BY seq";
	sqlite3_stmt *st;
	int rc = 0, step;

	if (sqlite3_prepare_v2(db, answers_sql, -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	sqlite3_bind_int64(st, 1, session);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0) && sqlite3_column_text(st, 1))
			rc = strv_addf(&f->answers, (const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	if (!rc && step != SQLITE_DONE)
		goto sql_error;
	if (sqlite3_prepare_v2(db, events_sql, -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	sqlite3_bind_int64(st, 1, session);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = add_event(f, (const char *)sqlite3_column_text(st, 0),
			       (const char *)sqlite3_column_text(st, 1),
			       (const char *)sqlite3_column_text(st, 2),
			       (const char *)sqlite3_column_text(st, 3),
			       (const char *)sqlite3_column_text(st, 4));
	sqlite3_finalize(st);
	if (!rc && step != SQLITE_DONE)
		goto sql_error;
	if (rc)
		snprintf(err, errlen, "out of memory");
	return rc;
sql_error:
	snprintf(err, errlen, "cannot read the audit log: %s", sqlite3_errmsg(db));
	return -EIO;
}

/* ---- writing Cedar ------------------------------------------------------- */

static void put_entity(FILE *out, const char *type, const char *id)
{
	fprintf(out, "%s::\"", type);
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u{%x}", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static const char *path_type(const char *path)
{
	return path[strlen(path) - 1] == '/' ? "Dir" : "File";
}

/* permit (principal, action == Action::"ACTION", resource SCOPE)
 * when { resource in [IN...] || resource == EQ || ... }; */
static void put_permit(FILE *out, const char *id, const char *comment, const char *action,
		       const char *scope_type, const char *scope_id, const char *type,
		       const struct strv *in, const struct strv *eq)
{
	size_t nin = 0, neq = 0;
	bool first = true;

	for (size_t i = 0; i < in->n; i++)
		nin += in->v[i][0] != '\0';
	for (size_t i = 0; eq && i < eq->n; i++)
		neq += eq->v[i][0] != '\0';
	if (!nin && !neq)
		return;
	fprintf(out, "\n// %s\n@id(\"%s\")\npermit (principal, action == Action::\"%s\", resource",
		comment, id, action);
	if (scope_type) {
		fputs(" in ", out);
		put_entity(out, scope_type, scope_id);
	}
	fputs(")\nwhen {", out);
	if (nin) {
		fputs("\n  resource in [", out);
		for (size_t i = 0; i < in->n; i++) {
			if (!in->v[i][0])
				continue;
			fputs(first ? "\n    " : ",\n    ", out);
			put_entity(out, type ? type : path_type(in->v[i]), in->v[i]);
			first = false;
		}
		fputs("\n  ]", out);
	}
	for (size_t i = 0; eq && i < eq->n; i++) {
		if (!eq->v[i][0])
			continue;
		fputs(nin ? " ||\n  resource == " : "\n  resource == ", out);
		put_entity(out, type ? type : path_type(eq->v[i]), eq->v[i]);
		nin = 1;
	}
	fputs("\n};\n", out);
}

/* Files for `in`, Dirs (exact) for `==`. */
static void split_exact(struct strv *exact, struct strv *files, struct strv *dirs)
{
	for (size_t i = 0; i < exact->n; i++) {
		if (!exact->v[i][0])
			continue;
		strv_add(path_type(exact->v[i])[0] == 'D' ? dirs : files, exact->v[i]);
	}
}

static void put_files(FILE *out, struct facts *f, unsigned n)
{
	struct strv wdirs = { 0 }, wexact = { 0 }, rdirs = { 0 }, rexact = { 0 };
	struct strv in = { 0 }, eq = { 0 };

	collapse(&f->write, n, &f->guarded, &wdirs, &wexact);
	/* What may be written may be read: only the rest needs read rules. */
	for (size_t i = 0; i < f->read.n; i++)
		if (covered_by_any(f->read.v[i], &wdirs) || strv_has(&wexact, f->read.v[i]))
			f->read.v[i][0] = '\0';
	strv_sort_uniq(&f->read);
	collapse(&f->read, n, &f->guarded, &rdirs, &rexact);

	for (size_t i = 0; i < rdirs.n; i++)
		strv_add(&in, rdirs.v[i]);
	split_exact(&rexact, &in, &eq);
	put_permit(out, "synth-read", "files and directories read, never written",
		   "FileOpenReadOnly", NULL, NULL, NULL, &in, &eq);
	strv_free(&in);
	strv_free(&eq);
	for (size_t i = 0; i < wdirs.n; i++)
		strv_add(&in, wdirs.v[i]);
	split_exact(&wexact, &in, &eq);
	put_permit(out, "synth-read-write", "files and directories written (and read)", "FileOpen",
		   NULL, NULL, NULL, &in, &eq);
	strv_free(&in);
	strv_free(&eq);
	strv_free(&wdirs);
	strv_free(&wexact);
	strv_free(&rdirs);
	strv_free(&rexact);
}

static void put_network(FILE *out, struct facts *f)
{
	struct strv dns = { 0 };
	char name[600];

	strv_sort_uniq(&f->hosts);
	/* A name connected to by name:port resolves by that rule. */
	strv_sort_uniq(&f->resolved);
	for (size_t i = 0; i < f->resolved.n; i++) {
		bool connected = false;

		for (size_t k = 0; k < f->hosts.n && !connected; k++) {
			const char *colon = strrchr(f->hosts.v[k], ':');

			snprintf(name, sizeof(name), "%.*s",
				 (int)(colon ? colon - f->hosts.v[k] : 0), f->hosts.v[k]);
			connected = strcmp(name, f->resolved.v[i]) == 0;
		}
		if (!connected)
			strv_add(&dns, f->resolved.v[i]);
	}
	put_permit(out, "synth-connect", "connections (by name where leash knew it)",
		   "NetworkConnect", NULL, NULL, "Host", &f->hosts, NULL);
	{
		struct strv none = { 0 };

		put_permit(out, "synth-resolve", "names resolved but never connected to",
			   "NetworkConnect", NULL, NULL, "Host", &none, &dns);
	}
	strv_free(&dns);
}

static void put_mcp(FILE *out, struct facts *f)
{
	strv_sort_uniq(&f->tools);
	for (size_t i = 0; i < f->tools.n;) {
		struct strv tools = { 0 };
		const char *tab = strchr(f->tools.v[i], '\t');
		size_t slen = tab - f->tools.v[i];
		char server[512], id[600];
		size_t k = i;

		snprintf(server, sizeof(server), "%.*s", (int)slen, f->tools.v[i]);
		for (; k < f->tools.n && strncmp(f->tools.v[k], f->tools.v[i], slen + 1) == 0; k++)
			strv_add(&tools, f->tools.v[k] + slen + 1);
		snprintf(id, sizeof(id), "synth-mcp-%zu", i);
		put_permit(out, id, "MCP tools called on this server", "McpCall", "MCP::Server",
			   server, "MCP::Tool", &tools, NULL);
		strv_free(&tools);
		i = k;
	}
}

static void facts_free(struct facts *f)
{
	strv_free(&f->read);
	strv_free(&f->write);
	strv_free(&f->exec);
	strv_free(&f->hosts);
	strv_free(&f->resolved);
	strv_free(&f->answers);
	strv_free(&f->tools);
	strv_free(&f->guarded);
}

/* The session: the latest, or the one whose uuid starts with PREFIX. */
/* DIR and every directory above it, each with its trailing '/'. */
static int guard_up(struct strv *g, const char *dir, bool self)
{
	char p[4096], up[4096];
	size_t n;
	int rc = 0;

	snprintf(p, sizeof(p) - 1, "%s", dir);
	n = strlen(p);
	if (!n || p[0] != '/')
		return 0;
	if (p[n - 1] != '/')
		strcat(p, "/");
	for (bool add = self; !rc; add = true) {
		if (add)
			rc = strv_add(g, p);
		if (strcmp(p, "/") == 0)
			break;
		parent_of(p, up, sizeof(up));
		memcpy(p, up, sizeof(p));
	}
	return rc;
}

/* The guarded directories of a session run as UID in CWD. */
static int guard_session(struct strv *g, long long uid, const char *cwd)
{
	struct passwd *pw = getpwuid((uid_t)uid);
	int rc = guard_up(g, cwd, false);

	if (!rc && pw && pw->pw_dir)
		rc = guard_up(g, pw->pw_dir, true);
	strv_sort_uniq(g);
	return rc;
}

static int find_session(sqlite3 *db, const char *prefix, sqlite3_int64 *id, char *uuid, size_t ulen,
			char **command, struct strv *guarded, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rows = 0, step;

	if (prefix && (!prefix[0] || strspn(prefix, "0123456789abcdef") != strlen(prefix))) {
		snprintf(err, errlen, "'%s' is not a session uuid (lower-case hex)", prefix);
		return -EINVAL;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT id, uuid, command, uid, cwd FROM sessions WHERE ?1 IS NULL"
			       " OR substr(uuid, 1, length(?1)) = ?1 ORDER BY id DESC LIMIT 2",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "not a leash audit log: %s", sqlite3_errmsg(db));
		return -EINVAL;
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	/* Newest first: the first row is the one, a second makes a prefix
	 * ambiguous. */
	while ((step = sqlite3_step(st)) == SQLITE_ROW && rows++ == 0) {
		*id = sqlite3_column_int64(st, 0);
		snprintf(uuid, ulen, "%s", (const char *)sqlite3_column_text(st, 1));
		*command = strdup((const char *)sqlite3_column_text(st, 2));
		if (guard_session(guarded, sqlite3_column_int64(st, 3),
				  (const char *)sqlite3_column_text(st, 4)) < 0) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read the audit log: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (rows == 0) {
		if (prefix)
			snprintf(err, errlen, "no session %s in the audit log", prefix);
		else
			snprintf(err, errlen, "no sessions in the audit log");
		return -ENOENT;
	}
	if (prefix && rows > 1) {
		snprintf(err, errlen, "'%s' names more than one session: give more of the uuid",
			 prefix);
		return -EINVAL;
	}
	return *command ? 0 : -ENOMEM;
}

char *synth_policy(sqlite3 *db, const struct synth_options *o, char *err, size_t errlen)
{
	struct facts f = { 0 };
	struct cedar_policy_set *ps = NULL;
	struct cedar_diags d = { 0 };
	sqlite3_int64 session;
	char uuid[64], *command = NULL, *text = NULL;
	size_t len = 0;
	FILE *out;

	if (find_session(db, o->session, &session, uuid, sizeof(uuid), &command, &f.guarded, err,
			 errlen) < 0 ||
	    read_facts(db, session, &f, err, errlen) < 0) {
		free(command);
		facts_free(&f);
		return NULL;
	}
	out = open_memstream(&text, &len);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		free(command);
		facts_free(&f);
		return NULL;
	}
	fprintf(out,
		"// Synthesized by `leash policy synthesize` from session %s:\n"
		"// %s\n"
		"// %ld accesses permitted below, %ld denied accesses left out, %ld events of\n"
		"// actions synthesis has no rule for. Everything the session did, nothing\n"
		"// else: review it, run it in shadow mode, then enforce it.\n",
		uuid, command, f.used, f.denied, f.skipped);
	if (f.unnamed)
		fprintf(out,
			"// %ld accesses to names that are not UTF-8 are left out: Cedar cannot\n"
			"// name them, so they stay denied.\n",
			f.unnamed);
	if (o->collapse)
		fprintf(out,
			"// Directories two or more levels deep with %u or more entries opened are\n"
			"// permitted whole (--collapse 0: every file exactly).\n",
			o->collapse);
	strv_sort_uniq(&f.read);
	strv_sort_uniq(&f.write);
	strv_sort_uniq(&f.exec);
	put_files(out, &f, o->collapse);
	put_permit(out, "synth-exec", "programs run", "ProcessExec", NULL, NULL, "File", &f.exec,
		   NULL);
	put_network(out, &f);
	put_mcp(out, &f);
	free(command);
	facts_free(&f);
	if (fclose(out) != 0) {
		free(text);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cedar_parse(text, len, 0, &ps, &d) < 0) {
		snprintf(err, errlen, "internal error: the synthesized policy does not parse");
		free(text);
		text = NULL;
	}
	cedar_diags_free(&d);
	cedar_policy_set_free(ps);
	return text;
}

/* ---- leash policy synthesize --------------------------------------------- */

static int usage(const char *msg)
{
	fprintf(stderr,
		"leash policy synthesize: %s\n"
		"usage: leash policy synthesize [--db FILE] [--session UUID] [--collapse N]\n",
		msg);
	return 2;
}

int synth_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "session", required_argument, NULL, 's' },
		{ "collapse", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct synth_options o = { .collapse = SYNTH_COLLAPSE_DEFAULT };
	char path[4096] = "", err[512];
	struct identity id;
	sqlite3 *db = NULL;
	char *text, *end;
	long n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case 's':
			o.session = optarg;
			break;
		case 'c':
			n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 0 || n > 1000000)
				return usage("--collapse takes a number (0: never)");
			o.collapse = (unsigned)n;
			break;
		case 'h':
			usage("a least-privilege policy from what a session did");
			return 0;
		default:
			return usage("unknown option");
		}
	}
	if (optind < argc)
		return usage("unexpected argument");
	if (!path[0]) {
		if (identity_resolve(&id, err, sizeof(err)) < 0 ||
		    identity_data_dir(&id, path, sizeof(path), err, sizeof(err)) < 0) {
			fprintf(stderr, "leash policy synthesize: %s\n", err);
			return 1;
		}
		strncat(path, "/leash.db", sizeof(path) - strlen(path) - 1);
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "leash policy synthesize: cannot open '%s': %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return 1;
	}
	text = synth_policy(db, &o, err, sizeof(err));
	sqlite3_close(db);
	if (!text) {
		fprintf(stderr, "leash policy synthesize: %s\n", err);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}
