/* control.c: the control server: listening, authentication, routing, the
 * UI's files, and the run file `leash ctl` reads.
 *
 * Security, in the order a request meets it (the original had none of
 * it: no token, Access-Control-Allow-Origin: *, any Origin):
 *  1. Host must name this server (127.0.0.1, localhost, [::1] or the
 *     listening address, with our port): a DNS-rebound name is refused.
 *  2. The token, from `Authorization: Bearer T` (scripts, leash ctl) or
 *     the cookie leash_<port> (HttpOnly, SameSite=Strict) that the UI gets
 *     once by opening the printed /?token=T URL, which redirects to / so
 *     the token leaves the address bar. Compared in constant time.
 *  3. State-changing methods and WebSocket upgrades must carry an Origin
 *     equal to http://<Host> when they authenticate with the cookie (a
 *     browser always sends it), and may omit it with a bearer token.
 * No CORS headers are ever sent, so other origins cannot read answers.
 * Errors are JSON in one shape: {"error":{"message","code",...}}.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "control.h"
#include "control_int.h"
#include "embed.h"
#include "log.h"
#include "reactor.h"
#include "record.h"
#include "ws.h"

/* web/ built by esbuild, compiled in by scripts/embed (see GNUmakefile). */
extern const struct embedded web_files[];

struct control control;

/* ---- responses ----------------------------------------------------------- */

void control_json(struct http_conn *c, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		static const char oom[] =
			"{\"error\":{\"message\":\"out of memory\",\"code\":\"internal\"}}";

		http_respond(c, 500, "application/json", NULL, oom, sizeof(oom) - 1);
		return;
	}
	http_respond(c, status, "application/json", NULL, text, strlen(text));
	free(text);
}

void control_error(struct http_conn *c, int status, const char *code, const char *message,
		   json_t *extra)
{
	json_t *e = json_pack("{s:s, s:s}", "message", message, "code", code);

	if (extra && e)
		json_object_update(e, extra);
	json_decref(extra);
	control_json(c, status, json_pack("{s:o}", "error", e));
}

json_t *control_body_json(const struct http_request *rq)
{
	const char *ct = http_header(rq, "Content-Type");

	if (!ct || strncasecmp(ct, "application/json", 16) != 0)
		return NULL;
	return json_loadb(rq->body, rq->body_len, 0, NULL);
}

/* ---- authentication ------------------------------------------------------ */

int control_token_check(const char *token)
{
	size_t n = strlen(token);

	if (n < 16 || n > CONTROL_TOKEN_MAX ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") !=
		    n)
		return -EINVAL;
	return 0;
}

static bool token_equal(const char *s, size_t n)
{
	size_t want = strlen(control.token);
	unsigned char diff = n != want;

	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(control.token[i] ^ (i < n ? s[i] : 0));
	return diff == 0;
}

static bool cookie_token(const struct http_request *rq)
{
	const char *h = http_header(rq, "Cookie");
	size_t nl = strlen(control.cookie);

	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > nl && strncmp(p, control.cookie, nl) == 0 && p[nl] == '=')
			return token_equal(p + nl + 1, len - nl - 1);
		p = end;
	}
	return false;
}

static bool bearer_token(const struct http_request *rq)
{
	const char *h = http_header(rq, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	return token_equal(h + 7, strlen(h + 7));
}

static bool host_ok(const char *host)
{
	static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
	char want[128];

	if (!host)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "%s:%d", names[i], control.port);
		if (strcasecmp(host, want) == 0)
			return true;
	}
	snprintf(want, sizeof(want), "%s:%d", control.host, control.port);
	return strcasecmp(host, want) == 0;
}

/* The Origin rule above; ORIGIN may be NULL. */
static bool origin_ok(const struct http_request *rq, bool bearer)
{
	const char *origin = http_header(rq, "Origin");
	const char *host = http_header(rq, "Host");
	char want[160];

	if (!origin)
		return bearer;
	snprintf(want, sizeof(want), "http://%s", host ? host : "");
	return strcasecmp(origin, want) == 0;
}

/* ---- the UI's files ------------------------------------------------------ */

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (dot && strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	return "text/html; charset=utf-8";
}

static void serve_file(struct http_conn *c, const char *path)
{
	static const char csp[] =
		"Content-Security-Policy: default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'\r\n"
		"X-Frame-Options: DENY\r\n";
	const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;

	for (const struct embedded *f = web_files; f->name; f++) {
		if (strcmp(f->name, name) == 0) {
			http_respond(c, 200, content_type(f->name), csp, f->text, strlen(f->text));
			return;
		}
	}
	control_error(c, 404, "not-found", "no such page", NULL);
}

/* GET /?token=T: trade the token for the cookie, and drop it from the URL. */
static bool token_exchange(struct http_conn *c, const struct http_request *rq)
{
	char tok[CONTROL_TOKEN_MAX + 2], hdr[400];

	if (http_query(rq->query, "token", tok, sizeof(tok)) < 0 || !token_equal(tok, strlen(tok)))
		return false;
	snprintf(hdr, sizeof(hdr),
		 "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict\r\nLocation: /\r\n",
		 control.cookie, control.token);
	http_respond(c, 303, NULL, hdr, NULL, 0);
	return true;
}

static void unauthorized_page(struct http_conn *c)
{
	static const char page[] =
		"<!doctype html><meta charset=utf-8><title>leash</title>"
		"<p>This is leash's control server. Open the URL with <code>?token=</code> "
		"that leash printed when it started (or run <code>sudo leash ctl status</code>).\n";

	http_respond(c, 401, "text/html; charset=utf-8", NULL, page, sizeof(page) - 1);
}

/* ---- routing ------------------------------------------------------------- */

struct route {
	const char *method, *path;
	void (*fn)(struct http_conn *c, const struct http_request *rq);
};

static const struct route routes[] = {
	{ "GET", "/api/status", api_status },
	{ "GET", "/api/policies", api_policies_get },
	{ "POST", "/api/policies", api_policies_post },
	{ "POST", "/api/policies/validate", api_validate },
	{ "POST", "/api/policies/complete", api_complete },
	{ "POST", "/api/policies/add-from-event", api_add_from_event },
	{ "GET", "/api/policies/synthesized", api_synthesized },
	{ "GET", "/api/mode", api_mode_get },
	{ "POST", "/api/mode", api_mode_post },
	{ "GET", "/api/events", api_events },
	{ "GET", "/api/sessions", api_sessions },
	{ "POST", "/api/mcp/decide", api_mcp_decide },
};

static bool is_stream(const char *path)
{
	return strcmp(path, "/api") == 0 || strcmp(path, "/api/events/stream") == 0;
}

static void route_api(struct http_conn *c, const struct http_request *rq)
{
	bool path_known = false;

	if (is_stream(rq->path)) {
		if (!ws_is_upgrade(rq))
			control_error(c, 426, "upgrade-required", "this is a WebSocket endpoint",
				      NULL);
		else
			control_stream_accept(c, rq);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, rq->path) != 0)
			continue;
		path_known = true;
		if (strcmp(routes[i].method, rq->method) == 0 ||
		    (strcmp(rq->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			routes[i].fn(c, rq);
			return;
		}
	}
	if (path_known)
		control_error(c, 405, "method-not-allowed", "method not allowed here", NULL);
	else
		control_error(c, 404, "not-found", "no such endpoint", NULL);
}

static void on_request(struct http_conn *c, const struct http_request *rq, void *arg)
{
	bool api = strcmp(rq->path, "/api") == 0 || strncmp(rq->path, "/api/", 5) == 0;
	bool safe = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
	bool bearer = bearer_token(rq);
	bool authed = bearer || cookie_token(rq);

	if (!host_ok(http_header(rq, "Host"))) {
		control_error(c, 403, "bad-host", "the Host header does not name this server",
			      NULL);
		return;
	}
	if (!api && safe && token_exchange(c, rq))
		return;
	if (!authed) {
		if (api)
			control_error(
				c, 401, "unauthorized",
				"a token is needed: Authorization: Bearer TOKEN, or open the URL leash printed",
				NULL);
		else
			unauthorized_page(c);
		return;
	}
	if ((!safe || rq->upgrade) && !origin_ok(rq, bearer)) {
		control_error(c, 403, "bad-origin", "cross-origin requests are refused", NULL);
		return;
	}
	if (api)
		route_api(c, rq);
	else if (safe)
		serve_file(c, rq->path);
	else
		control_error(c, 405, "method-not-allowed", "method not allowed here", NULL);
}

/* ---- the run file and --open --------------------------------------------- */

static int write_runfile(const struct control_opts *o, char *err, size_t errlen)
{
	json_t *j;
	char *text;
	int fd, rc = 0;

	if (mkdir(CONTROL_RUN_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s': %s", CONTROL_RUN_DIR, strerror(errno));
		return -errno;
	}
	snprintf(control.runfile, sizeof(control.runfile), "%s/%s.json", CONTROL_RUN_DIR, o->uuid);
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:I}", "uuid", o->uuid, "pid",
		      (int)getpid(), "url", control.url, "token", control.token, "host",
		      control.host, "port", control.port, "cwd", o->cwd ? o->cwd : "", "db",
		      o->db ? o->db : "", "started_ns", (json_int_t)control.started_ns);
	text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	fd = open(control.runfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		rc = -errno;
		snprintf(err, errlen, "cannot write '%s': %s", control.runfile, strerror(errno));
		if (fd >= 0)
			unlink(control.runfile);
		control.runfile[0] = '\0';
	}
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

/* xdg-open as the invoking user, never as root; detached (double fork),
 * so nothing waits for the browser. */
static void open_browser(const struct control_opts *o)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (fork() == 0) {
			int null = open("/dev/null", O_RDWR);

			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
			if (setgid(o->gid) == 0 && setuid(o->uid) == 0 && getuid() == o->uid)
				execlp("xdg-open", "xdg-open", control.url, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* ---- start and stop ------------------------------------------------------ */

static int make_token(const struct control_opts *o)
{
	unsigned char b[24];

	if (o->token) {
		snprintf(control.token, sizeof(control.token), "%s", o->token);
		return 0;
	}
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(control.token + 2 * i, "%02x", b[i]);
	return 0;
}

/* The host part of ADDR as a Host header names it. */
static void listen_host(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

	snprintf(control.host, sizeof(control.host), "%.*s", (int)n, addr);
}

static int listen_on(const struct control_opts *o, char *err, size_t errlen)
{
	char any[96];
	int rc = http_server_listen(&control.srv, reactor_base(), o->listen, on_request, NULL, err,
				    errlen);

	if (rc == -EADDRINUSE && o->fallback) {
		/* Another session has the default port: take any free one; the
		 * run file and the banner say which. */
		snprintf(any, sizeof(any), "%s:0", control.host);
		log_warn("control: '%s' is busy, listening on another port", o->listen);
		rc = http_server_listen(&control.srv, reactor_base(), any, on_request, NULL, err,
					errlen);
	}
	return rc;
}

int control_start(const struct control_opts *o, char *err, size_t errlen)
{
	int rc;

	memset(&control, 0, sizeof(control));
	control.started_ns = record_now_ns();
	snprintf(control.uuid, sizeof(control.uuid), "%s", o->uuid);
	if ((rc = make_token(o)) < 0) {
		snprintf(err, errlen, "control: cannot make a token");
		return rc;
	}
	listen_host(o->listen);
	rc = listen_on(o, err, errlen);
	if (rc)
		return rc;
	control.port = http_server_port(control.srv);
	snprintf(control.cookie, sizeof(control.cookie), "leash_%d", control.port);
	snprintf(control.url, sizeof(control.url), "http://%s:%d/?token=%s",
		 strcmp(control.host, "0.0.0.0") == 0 ? "127.0.0.1" : control.host, control.port,
		 control.token);
	if (o->db && (rc = control_db_open(o->db, err, errlen)) < 0)
		goto fail;
	if ((rc = control_stream_start()) < 0) {
		snprintf(err, errlen, "control: cannot subscribe to events");
		goto fail;
	}
	if ((rc = write_runfile(o, err, errlen)) < 0)
		goto fail;
	if (o->open)
		open_browser(o);
	return 0;
fail:
	control_stop();
	return rc;
}

int control_address(struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	if (!control.srv ||
	    getsockname(http_server_fd(control.srv), (struct sockaddr *)ss, len) < 0)
		return -ENOTCONN;
	return 0;
}

const char *control_url(void)
{
	return control.srv ? control.url : NULL;
}

void control_stop(void)
{
	if (control.runfile[0])
		unlink(control.runfile);
	control_stream_stop();
	http_server_free(control.srv);
	control_db_close();
	explicit_bzero(control.token, sizeof(control.token));
	memset(&control, 0, sizeof(control));
}
