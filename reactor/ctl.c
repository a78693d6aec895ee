/* ctl.c: `leash ctl`, a small blocking client of the control server.
 *
 * It is a separate, short-lived process (not the reactor), so plain
 * blocking sockets are right here. It finds the session through the
 * root-only run files CONTROL_RUN_DIR/<uuid>.json (URL, port, token), so
 * it needs root like leash itself: with one live session it picks it;
 * with several, --session UUID (or a unique prefix) picks one, else the
 * one started in the current directory if exactly one was. Responses are
 * parsed with libhttp-parser, as the server parses requests.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <http_parser.h>
#include <jansson.h>

#include "control.h"
#include "ctl.h"

enum {
	CTL_OK = 0,
	CTL_REFUSED = 1,
	CTL_USAGE = 2,
	CTL_UNREACHABLE = 3
};

static const char usage_text[] =
	"usage: leash ctl [--session UUID] [--json] COMMAND\n"
	"\n"
	"Talks to a running leash session's control server (needs root, as leash).\n"
	"\n"
	"commands:\n"
	"  status               mode, policy generation, enforcement, degradations\n"
	"  mode [MODE]          print the mode, or switch to record, shadow or enforce\n"
	"  policy [FILE|-]      print the policy in force, or validate and apply FILE\n"
	"  validate FILE|-      check FILE against this leash without applying it\n"
	"  url                  the Control UI's URL, with its token\n"
	"  list                 the running sessions\n"
	"\n"
	"options:\n"
	"  --session UUID       which session (a unique prefix is enough); default: the\n"
	"                       only one, or the only one started in this directory\n"
	"  --json               print the server's JSON answer as it is\n"
	"\n"
	"exit status: 0 done; 1 leash refused (errors are printed with line:column);\n"
	"2 bad usage; 3 no session could be reached.\n";

struct target {
	json_t *run; /* the run file */
	const char *host, *token, *uuid;
	int port;
};

struct reply {
	int status;
	char *body;
	size_t len;
};

/* ---- finding the session ------------------------------------------------- */

static json_t *load_runfiles(void)
{
	json_t *all = json_array();
	DIR *d = opendir(CONTROL_RUN_DIR);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		json_t *j;

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", CONTROL_RUN_DIR, e->d_name);
		j = json_load_file(path, 0, NULL);
		/* A leash that was killed leaves its file: skip the dead. */
		if (j && json_integer_value(json_object_get(j, "pid")) > 0 &&
		    kill((pid_t)json_integer_value(json_object_get(j, "pid")), 0) == 0)
			json_array_append_new(all, j);
		else
			json_decref(j);
	}
	if (d)
		closedir(d);
	return all;
}

static json_t *pick(json_t *all, const char *want)
{
	char cwd[4096] = "";
	json_t *found = NULL, *j;
	size_t i, n = 0;

	if (!want && json_array_size(all) == 1)
		return json_incref(json_array_get(all, 0));
	if (!want && !getcwd(cwd, sizeof(cwd)))
		return NULL;
	json_array_foreach(all, i, j)
	{
		const char *uuid = json_string_value(json_object_get(j, "uuid"));
		const char *dir = json_string_value(json_object_get(j, "cwd"));

		if (want ? (uuid && strncmp(uuid, want, strlen(want)) == 0)
			 : (dir && strcmp(dir, cwd) == 0)) {
			found = j;
			n++;
		}
	}
	return n == 1 ? json_incref(found) : NULL;
}

static void print_sessions(FILE *f, json_t *all)
{
	json_t *j;
	size_t i;

	json_array_foreach(all, i, j)
		fprintf(f, "%s  pid %lld  in %s\n", json_string_value(json_object_get(j, "uuid")),
			(long long)json_integer_value(json_object_get(j, "pid")),
			json_string_value(json_object_get(j, "cwd")));
}

static int find_target(const char *want, struct target *t)
{
	json_t *all = load_runfiles();

	t->run = pick(all, want);
	if (!t->run) {
		if (json_array_size(all) == 0)
			fprintf(stderr,
				"leash ctl: no running leash session with a control server (looked in %s%s)\n",
				CONTROL_RUN_DIR, geteuid() ? "; run as root" : "");
		else if (want)
			fprintf(stderr, "leash ctl: no single session matches '%s'; running:\n",
				want);
		else
			fprintf(stderr,
				"leash ctl: several sessions run; pick one with --session UUID:\n");
		if (json_array_size(all))
			print_sessions(stderr, all);
		json_decref(all);
		return -ENOENT;
	}
	json_decref(all);
	t->host = json_string_value(json_object_get(t->run, "host"));
	t->token = json_string_value(json_object_get(t->run, "token"));
	t->uuid = json_string_value(json_object_get(t->run, "uuid"));
	t->port = (int)json_integer_value(json_object_get(t->run, "port"));
	if (!t->host || !t->token || t->port <= 0) {
		fprintf(stderr, "leash ctl: the run file of session %s is not readable\n",
			t->uuid ? t->uuid : "?");
		return -EINVAL;
	}
	if (strcmp(t->host, "0.0.0.0") == 0)
		t->host = "127.0.0.1";
	return 0;
}

/* ---- one HTTP exchange --------------------------------------------------- */

static int on_headers(http_parser *p)
{
	((struct reply *)p->data)->status = (int)p->status_code;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct reply *r = p->data;
	char *b = realloc(r->body, r->len + n + 1);

	if (!b)
		return -1;
	memcpy(b + r->len, at, n);
	r->len += n;
	b[r->len] = '\0';
	r->body = b;
	return 0;
}

static int dial(const struct target *t)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { 30, 0 };
	char port[8], host[80];
	int fd = -1;

	snprintf(port, sizeof(port), "%d", t->port);
	snprintf(host, sizeof(host), "%s", t->host);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd < 0 ? -ECONNREFUSED : fd;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int request(const struct target *t, const char *method, const char *path, const char *ctype,
		   const char *body, size_t len, struct reply *r)
{
	static const http_parser_settings settings = {
		.on_headers_complete = on_headers,
		.on_body = on_body,
	};
	http_parser p;
	char head[1024], buf[16384];
	ssize_t n;
	int fd = dial(t), hl;

	memset(r, 0, sizeof(*r));
	if (fd < 0) {
		fprintf(stderr, "leash ctl: cannot reach session %.8s at %s:%d\n", t->uuid, t->host,
			t->port);
		return fd;
	}
	hl = snprintf(head, sizeof(head),
		      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
		      "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		      method, path, t->host, t->port, t->token, ctype ? ctype : "text/plain", len);
	if (write_all(fd, head, (size_t)hl) < 0 || (len && write_all(fd, body, len) < 0)) {
		close(fd);
		fprintf(stderr, "leash ctl: cannot send the request\n");
		return -EIO;
	}
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = r;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && http_parser_execute(&p, &settings, buf, (size_t)n) != (size_t)n)
			break;
	http_parser_execute(&p, &settings, NULL, 0);
	close(fd);
	if (!r->status || HTTP_PARSER_ERRNO(&p) != HPE_OK) {
		fprintf(stderr, "leash ctl: no valid answer from session %.8s\n", t->uuid);
		return -EIO;
	}
	return 0;
}

/* ---- printing ------------------------------------------------------------ */

/* One diagnostic as the terminal shows Cedar errors: file:line:col, the
 * source line and a caret under the spot. */
static void print_diag(const char *file, json_t *d)
{
	const char *src = json_string_value(json_object_get(d, "source"));
	const char *hint = json_string_value(json_object_get(d, "hint"));
	long line = (long)json_integer_value(json_object_get(d, "line"));
	long col = (long)json_integer_value(json_object_get(d, "column"));
	long width = (long)json_integer_value(json_object_get(d, "width"));

	fprintf(stderr, "%s:%ld:%ld: %s[%s]: %s\n", file, line, col,
		json_string_value(json_object_get(d, "severity")),
		json_string_value(json_object_get(d, "code")),
		json_string_value(json_object_get(d, "message")));
	if (src) {
		fprintf(stderr, "%5ld | %s\n      | ", line, src);
		for (long i = 1; i < col && *src; i++, src++) {
			fputc(*src == '\t' ? '\t' : ' ', stderr);
			while ((src[1] & 0xc0) == 0x80)
				src++;
		}
		for (long i = 0; i < (width > 0 ? width : 1); i++)
			fputc('^', stderr);
		fputc('\n', stderr);
	}
	if (hint)
		fprintf(stderr, "  hint: %s\n", hint);
}

/* A 4xx/5xx answer: every diagnostic, then the message. */
static int print_error(const char *file, const struct reply *r)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
	json_t *e = json_object_get(j, "error"), *d;
	const char *msg = json_string_value(json_object_get(e, "message"));
	size_t i;

	json_array_foreach(json_object_get(e, "errors"), i, d) print_diag(file, d);
	json_array_foreach(json_object_get(e, "warnings"), i, d) print_diag(file, d);
	fprintf(stderr, "leash ctl: %s (HTTP %d)\n", msg ? msg : "request refused", r->status);
	json_decref(j);
	return r->status >= 500 ? CTL_UNREACHABLE : CTL_REFUSED;
}

/* ---- commands ------------------------------------------------------------ */

static char *read_input(const char *file, size_t *len)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "leash ctl: cannot read '%s': %s\n", file, strerror(errno));
		return NULL;
	}
	n = getdelim(&text, &cap, '\0', f);
	if (f != stdin)
		fclose(f);
	*len = n > 0 ? (size_t)n : 0;
	if (!text)
		text = calloc(1, 1);
	return text;
}

static int show(const struct reply *r, bool raw, const char *field)
{
	json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
	const char *v = field ? json_string_value(json_object_get(j, field)) : NULL;

	if (raw || !v) {
		printf("%s\n", r->body ? r->body : "");
	} else {
		fputs(v, stdout);
		if (v[0] && v[strlen(v) - 1] != '\n')
			fputc('\n', stdout);
	}
	json_decref(j);
	return CTL_OK;
}

/* "by        file: bpf-lsm; network: cgroup-bpf; ..." */
static void print_backends(json_t *mods)
{
	const char *sep = "";
	size_t i;
	json_t *m;

	printf("by        ");
	json_array_foreach(mods, i, m)
	{
		const char *b = json_string_value(json_object_get(m, "backend"));

		if (!b)
			continue;
		printf("%s%s: %s", sep, json_string_value(json_object_get(m, "name")), b);
		sep = "; ";
	}
	putchar('\n');
}

static void print_status(json_t *j)
{
	json_t *deg = json_object_get(j, "degraded"), *enf = json_object_get(j, "enforced");
	char *d = json_dumps(deg, JSON_COMPACT), *e = json_dumps(enf, JSON_COMPACT);

	printf("session   %s (agent %s, leash pid %lld)\n",
	       json_string_value(json_object_get(json_object_get(j, "session"), "uuid")),
	       json_string_value(json_object_get(json_object_get(j, "session"), "agent")),
	       (long long)json_integer_value(
		       json_object_get(json_object_get(j, "session"), "pid")));
	printf("mode      %s\n", json_string_value(json_object_get(j, "mode")));
	printf("policy    generation %lld from %s\n",
	       (long long)json_integer_value(
		       json_object_get(json_object_get(j, "policy"), "generation")),
	       json_string_value(json_object_get(json_object_get(j, "policy"), "origin")));
	printf("enforced  %s\n", e ? e : "[]");
	print_backends(json_object_get(j, "modules"));
	printf("degraded  %s\n", d ? d : "[]");
	printf("events    last seq %lld, stream clients %lld, dropped to clients %lld\n",
	       (long long)json_integer_value(json_object_get(j, "last_seq")),
	       (long long)json_integer_value(
		       json_object_get(json_object_get(j, "stream"), "clients")),
	       (long long)json_integer_value(
		       json_object_get(json_object_get(j, "stream"), "dropped")));
	free(d);
	free(e);
}

static int cmd_status(const struct target *t, bool raw)
{
	struct reply r;
	json_t *j;

	if (request(t, "GET", "/api/status", NULL, NULL, 0, &r) < 0)
		return CTL_UNREACHABLE;
	if (r.status != 200) {
		int rc = print_error("status", &r);

		free(r.body);
		return rc;
	}
	j = json_loadb(r.body, r.len, 0, NULL);
	if (raw || !j)
		printf("%s\n", r.body);
	else
		print_status(j);
	json_decref(j);
	free(r.body);
	return CTL_OK;
}

static int cmd_mode(const struct target *t, const char *mode, bool raw)
{
	struct reply r;
	int rc;

	if (mode)
		rc = request(t, "POST", "/api/mode", "text/plain", mode, strlen(mode), &r);
	else
		rc = request(t, "GET", "/api/mode", NULL, NULL, 0, &r);
	if (rc < 0)
		return CTL_UNREACHABLE;
	rc = r.status == 200 ? show(&r, raw, "mode") : print_error("mode", &r);
	free(r.body);
	return rc;
}

static int cmd_policy(const struct target *t, const char *file, bool validate, bool raw)
{
	struct reply r;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!file) {
		if (request(t, "GET", "/api/policies", NULL, NULL, 0, &r) < 0)
			return CTL_UNREACHABLE;
		rc = r.status == 200 ? show(&r, raw, "cedar") : print_error("policy", &r);
		free(r.body);
		return rc;
	}
	text = read_input(file, &len);
	if (!text)
		return CTL_USAGE;
	rc = request(t, "POST", validate ? "/api/policies/validate" : "/api/policies", "text/plain",
		     text, len, &r);
	free(text);
	if (rc < 0)
		return CTL_UNREACHABLE;
	if (r.status != 200) {
		rc = print_error(strcmp(file, "-") ? file : "(stdin)", &r);
	} else if (raw) {
		rc = show(&r, true, NULL);
	} else {
		json_t *j = json_loadb(r.body, r.len, 0, NULL), *d;
		size_t i;

		json_array_foreach(json_object_get(j, "errors"), i, d) print_diag(file, d);
		json_array_foreach(json_object_get(j, "warnings"), i, d) print_diag(file, d);
		if (validate)
			rc = json_is_true(json_object_get(j, "valid")) ? CTL_OK : CTL_REFUSED;
		else
			printf("applied: generation %lld, mode %s\n",
			       (long long)json_integer_value(json_object_get(j, "generation")),
			       json_string_value(json_object_get(j, "mode")));
		json_decref(j);
	}
	free(r.body);
	return rc;
}

int ctl_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "session", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *want = NULL, *cmd;
	struct target t = { 0 };
	bool raw = false;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hs:j", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			want = optarg;
			break;
		case 'j':
			raw = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CTL_OK;
		default:
			fprintf(stderr, "leash ctl: bad option '%s' (try 'leash ctl --help')\n",
				argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "list") == 0) {
		json_t *all = load_runfiles();

		print_sessions(stdout, all);
		json_decref(all);
		return CTL_OK;
	}
	if (argc - optind > 1 || (strcmp(cmd, "validate") == 0 && argc - optind != 1)) {
		fprintf(stderr, "leash ctl: too many arguments for '%s'\n", cmd);
		return CTL_USAGE;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "mode") && strcmp(cmd, "policy") &&
	    strcmp(cmd, "validate") && strcmp(cmd, "url")) {
		fprintf(stderr, "leash ctl: unknown command '%s' (try 'leash ctl --help')\n", cmd);
		return CTL_USAGE;
	}
	if (find_target(want, &t) < 0)
		return CTL_UNREACHABLE;
	if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&t, raw);
	else if (strcmp(cmd, "mode") == 0)
		rc = cmd_mode(&t, argv[optind], raw);
	else if (strcmp(cmd, "url") == 0)
		rc = (printf("%s\n", json_string_value(json_object_get(t.run, "url"))), CTL_OK);
	else
		rc = cmd_policy(&t, argv[optind], strcmp(cmd, "validate") == 0, raw);
	json_decref(t.run);
	return rc;
}
