/* mcp_wrap.c: the stdio MCP relay (`leash mcp wrap`), see mcp_wrap.h.
 *
 * One process, one poll loop, no threads: the agent's stdin goes to the
 * server's stdin, the server's stdout to our stdout; stderr is the
 * server's own. Both directions are buffered (reading a side pauses while
 * its destination holds more than WRAP_HIGH bytes), so neither peer can
 * stall the other by not reading.
 *
 * Agent to server: bytes are split into lines; a line that parses as a
 * JSON-RPC message or batch holding tools/call is decided call by call
 * (one round trip to the session each, synchronous: the session answers
 * from memory). If all are permitted the line goes on unchanged; a
 * forbidden single call is answered here; in a batch the permitted part
 * is re-serialised and forwarded, and the errors for the rest go back to
 * the agent as one batch answer of their own. Any other line passes as is.
 *
 * Server to agent: bytes pass at once; a copy of each line is read for
 * answers to permitted calls, whose outcome is sent to the session (the
 * session times the call and writes the event).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <jansson.h>

#include "control_mcp.h"
#include "mcp_wrap.h"

#define WRAP_HIGH (4u << 20) /* bytes held for a slow reader before pausing */
#define WRAP_REPLY_MS 30000 /* the session's answer to a decision, at most */

struct buf {
	char *p;
	size_t n, cap;
};

/* A permitted call waiting for the server's answer. */
struct pending {
	char *id; /* the JSON-RPC id as compact JSON */
	json_int_t call; /* the session's number for it */
};

struct wrap {
	char server[300]; /* "stdio:<name>" */
	bool unmanaged; /* --no-session */
	int sess; /* the session's MCP socket, or -1 */
	struct buf sess_in; /* bytes of the session's answers not yet used */
	int to_child, from_child;
	pid_t child;
	struct buf line; /* the agent's line being read */
	struct buf sline; /* the server's line being read */
	bool sline_skip; /* that line is over CONTROL_MCP_MAX_LINE: not read */
	struct buf out_child, out_agent;
	struct pending *pend;
	size_t npend;
};

/* ---- buffers ----------------------------------------------------------------- */

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->n + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

static void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->n - n);
	b->n -= n;
}

static int buf_add_json(struct buf *b, const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = buf_add(b, text, strlen(text));
	free(text);
	return rc ? rc : buf_add(b, "\n", 1);
}

/* ---- the session ------------------------------------------------------------ */

static int session_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= w;
	}
	return 0;
}

static void session_lost(struct wrap *w)
{
	if (w->sess >= 0)
		close(w->sess);
	w->sess = -1;
}

/* Sends REQ (one line). 0 or -EIO (the session is then lost). */
static int session_send(struct wrap *w, const json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	int rc = -EIO;

	if (text && w->sess >= 0 && write_all(w->sess, text, strlen(text)) == 0 &&
	    write_all(w->sess, "\n", 1) == 0)
		rc = 0;
	free(text);
	if (rc)
		session_lost(w);
	return rc;
}

/* Sends REQ and reads the answer line: new JSON, or NULL (session lost). */
static json_t *session_ask(struct wrap *w, const json_t *req)
{
	char chunk[4096], *nl;

	if (session_send(w, req) < 0)
		return NULL;
	/* memchr on an empty buffer would be given a NULL pointer */
	while (!w->sess_in.n || !(nl = memchr(w->sess_in.p, '\n', w->sess_in.n))) {
		struct pollfd p = { .fd = w->sess, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, WRAP_REPLY_MS) <= 0 ||
		    (r = read(w->sess, chunk, sizeof(chunk))) <= 0 ||
		    buf_add(&w->sess_in, chunk, r) < 0 || w->sess_in.n > CONTROL_MCP_MAX_LINE) {
			session_lost(w);
			return NULL;
		}
	}
	json_t *ans = json_loadb(w->sess_in.p, nl - w->sess_in.p, 0, NULL);

	buf_drop(&w->sess_in, nl - w->sess_in.p + 1);
	return ans;
}

/* ---- deciding ---------------------------------------------------------------- */

static json_t *rpc_error(const json_t *id, int code, const char *message)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
			 code, "message", message);
}

static bool is_call(const json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));

	return method && strcmp(method, "tools/call") == 0;
}

static void pending_add(struct wrap *w, const json_t *id, json_int_t call)
{
	char *key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	struct pending *p = key ? realloc(w->pend, (w->npend + 1) * sizeof(*p)) : NULL;

	if (!p) {
		free(key);
		return;
	}
	w->pend = p;
	w->pend[w->npend++] = (struct pending){ .id = key, .call = call };
}

/* Decides tools/call MSG. NULL when it may go to the server, else the
 * JSON-RPC error to answer it with (new; JSON null for a notification). */
static json_t *decide(struct wrap *w, const json_t *msg)
{
	const json_t *params = json_object_get(msg, "params");
	const char *tool = json_string_value(json_object_get(params, "name"));
	json_t *id = json_object_get(msg, "id"), *req, *ans, *err;
	const char *decision, *message;
	char text[600];

	if (w->unmanaged) {
		fprintf(stderr,
			"leash mcp wrap: tools/call '%s' on %s relayed ungoverned (no session)\n",
			tool ? tool : "", w->server);
		return NULL;
	}
	if (!tool || !*tool)
		return id ? rpc_error(id, -32602, "leash: tools/call without a tool name")
			  : json_null();
	req = json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "op", "decide", "server", w->server, "tool",
			tool, "arguments", json_object_get(params, "arguments"), "id", id);
	ans = req ? session_ask(w, req) : NULL;
	json_decref(req);
	decision = json_string_value(json_object_get(ans, "decision"));
	if (decision && strcmp(decision, "deny") != 0) {
		if (id)
			pending_add(w, id, json_integer_value(json_object_get(ans, "call")));
		json_decref(ans);
		return NULL;
	}
	message = json_string_value(json_object_get(ans, decision ? "message" : "error"));
	if (!decision) {
		snprintf(text, sizeof(text),
			 "leash: MCP tool '%s' on %s denied: the leash session cannot decide (%s)",
			 tool, w->server, message ? message : "it is gone");
		message = text;
	}
	err = id ? rpc_error(id, -32000, message ? message : "leash: denied") : json_null();
	json_decref(ans);
	return err;
}

/* ---- agent to server ----------------------------------------------------------- */

/* A batch: decide its calls; forward the permitted part, answer the rest. */
static void agent_batch(struct wrap *w, json_t *batch, const char *raw, size_t n)
{
	json_t *fwd = json_array(), *errs = json_array(), *msg;
	bool denied = false;
	size_t i;

	json_array_foreach(batch, i, msg)
	{
		json_t *e = is_call(msg) ? decide(w, msg) : NULL;

		if (!e) {
			json_array_append(fwd, msg);
			continue;
		}
		denied = true;
		if (!json_is_null(e))
			json_array_append(errs, e);
		json_decref(e);
	}
	if (!denied)
		buf_add(&w->out_child, raw, n);
	else if (json_array_size(fwd))
		buf_add_json(&w->out_child, fwd);
	if (json_array_size(errs))
		buf_add_json(&w->out_agent, errs);
	json_decref(fwd);
	json_decref(errs);
}

/* One line from the agent, RAW[0..N) with its newline if it had one. */
static void agent_line(struct wrap *w, const char *raw, size_t n)
{
	json_t *j = json_loadb(raw, n, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, NULL);
	json_t *e;
	bool has_call = false;
	size_t i;
	json_t *m;

	if (json_is_array(j))
		json_array_foreach(j, i, m) has_call |= is_call(m);
	if (json_is_object(j) && is_call(j)) {
		e = decide(w, j);
		if (!e)
			buf_add(&w->out_child, raw, n);
		else if (!json_is_null(e))
			buf_add_json(&w->out_agent, e);
		json_decref(e);
	} else if (has_call) {
		agent_batch(w, j, raw, n);
	} else {
		buf_add(&w->out_child, raw, n);
	}
	json_decref(j);
}

static void agent_bytes(struct wrap *w, const char *p, size_t n, bool eof)
{
	char *nl;

	buf_add(&w->line, p, n);
	while (w->line.n && (nl = memchr(w->line.p, '\n', w->line.n))) {
		size_t len = nl - w->line.p + 1;

		agent_line(w, w->line.p, len);
		buf_drop(&w->line, len);
	}
	if (eof && w->line.n) {
		agent_line(w, w->line.p, w->line.n);
		w->line.n = 0;
	}
}

/* ---- server to agent ------------------------------------------------------------- */

static void server_msg(struct wrap *w, const json_t *msg)
{
	json_t *id = json_object_get(msg, "id"), *res = json_object_get(msg, "result");
	json_t *err = json_object_get(msg, "error"), *req;
	char *key;

	if (!id || json_object_get(msg, "method") || !w->npend)
		return;
	key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	for (size_t i = 0; key && i < w->npend; i++) {
		if (strcmp(w->pend[i].id, key) != 0)
			continue;
		if (err)
			req = json_pack("{s:s, s:I, s:s, s:O?, s:O?}", "op", "result", "call",
					w->pend[i].call, "outcome", "error", "error_code",
					json_object_get(err, "code"), "error_message",
					json_object_get(err, "message"));
		else
			req = json_pack("{s:s, s:I, s:s, s:b}", "op", "result", "call",
					w->pend[i].call, "outcome",
					json_is_true(json_object_get(res, "isError")) ? "tool_error"
										      : "result",
					"is_error", json_is_true(json_object_get(res, "isError")));
		if (req && w->sess >= 0)
			session_send(w, req);
		json_decref(req);
		free(w->pend[i].id);
		w->pend[i] = w->pend[--w->npend];
		break;
	}
	free(key);
}

static void server_line(struct wrap *w, const char *p, size_t n)
{
	json_t *j = json_loadb(p, n, JSON_DISABLE_EOF_CHECK, NULL), *m;
	size_t i;

	if (json_is_array(j))
		json_array_foreach(j, i, m) server_msg(w, m);
	else if (json_is_object(j))
		server_msg(w, j);
	json_decref(j);
}

/* Bytes from the server: forwarded at once, read line by line on the side. */
static void server_bytes(struct wrap *w, const char *p, size_t n)
{
	buf_add(&w->out_agent, p, n);
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p + 1) : n;

		if (!w->sline_skip && buf_add(&w->sline, p, len) < 0)
			w->sline_skip = true;
		if (w->sline.n > CONTROL_MCP_MAX_LINE) {
			w->sline_skip = true;
			w->sline.n = 0;
		}
		if (nl) {
			if (!w->sline_skip)
				server_line(w, w->sline.p, w->sline.n);
			w->sline.n = 0;
			w->sline_skip = false;
		}
		p += len;
		n -= len;
	}
}

/* ---- the relay ----------------------------------------------------------------- */

static int spawn(struct wrap *w, char **argv)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	w->child = fork();
	if (w->child < 0)
		return -errno;
	if (w->child == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "leash mcp wrap: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w->to_child = in[1];
	w->from_child = out[0];
	fcntl(w->to_child, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Writes what B holds to FD as far as it goes. -EPIPE when FD is gone. */
static int flush(int fd, struct buf *b)
{
	ssize_t r = write(fd, b->p, b->n);

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	buf_drop(b, r);
	return 0;
}

static int relay(struct wrap *w)
{
	bool in_eof = false, out_eof = false;
	char chunk[65536];
	int status;

	fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	while (!out_eof || w->out_agent.n) {
		struct pollfd p[4] = {
			{ .fd = !in_eof && w->out_child.n < WRAP_HIGH ? 0 : -1, .events = POLLIN },
			{ .fd = !out_eof && w->out_agent.n < WRAP_HIGH ? w->from_child : -1,
			  .events = POLLIN },
			{ .fd = w->out_child.n && w->to_child >= 0 ? w->to_child : -1,
			  .events = POLLOUT },
			{ .fd = w->out_agent.n ? 1 : -1, .events = POLLOUT },
		};
		ssize_t r;

		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			r = read(0, chunk, sizeof(chunk));
			in_eof = r <= 0 && !(r < 0 && errno == EINTR);
			agent_bytes(w, chunk, r > 0 ? r : 0, in_eof);
		}
		if (p[1].revents) {
			r = read(w->from_child, chunk, sizeof(chunk));
			out_eof = r <= 0 && !(r < 0 && errno == EINTR);
			if (r > 0)
				server_bytes(w, chunk, r);
		}
		if (p[2].revents && flush(w->to_child, &w->out_child) < 0)
			w->out_child.n = 0; /* the server stopped reading: drop */
		if (p[3].revents && flush(1, &w->out_agent) < 0)
			break; /* the agent is gone */
		if (in_eof && !w->out_child.n && w->to_child >= 0) {
			close(w->to_child);
			w->to_child = -1;
		}
	}
	if (w->to_child >= 0)
		close(w->to_child);
	close(w->from_child);
	while (waitpid(w->child, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The session's socket: CONTROL_MCP_ENV, or, when the agent did not pass
 * its environment on to its MCP servers (some clients do not), the one of
 * the session whose cgroup (<root>/leash/<uuid>) this process is in. */
static const char *session_path(char *buf, size_t len)
{
	const char *env = getenv(CONTROL_MCP_ENV);
	char line[4096], *at;
	FILE *f;

	if (env && *env)
		return env;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return NULL;
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0 || !(at = strstr(line, "/leash/")))
			continue;
		at += 7;
		at[strcspn(at, "/\n")] = '\0';
		if (*at)
			snprintf(buf, len, "%s/%s.sock", CONTROL_MCP_DIR, at);
	}
	fclose(f);
	return buf[0] ? buf : NULL;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: leash mcp wrap [--no-session] [--name NAME] -- SERVER-COMMAND [ARGS...]\n"
		"  relays a stdio MCP server, each tools/call decided by the leash session\n"
		"  --no-session  outside a leash session, relay without decisions or records\n"
		"  --name NAME   the server as policies name it: MCP::Server::\"stdio:NAME\"\n"
		"                (default: the command's basename)\n");
	return 1;
}

int mcp_wrap_main(int argc, char **argv)
{
	struct wrap w = { .sess = -1, .to_child = -1, .from_child = -1 };
	const char *name = NULL, *path;
	char found[256];
	int i = 2, rc;

	if (argc < 2 || strcmp(argv[1], "wrap") != 0)
		return usage();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--no-session") == 0) {
			w.unmanaged = true;
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			name = argv[++i];
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	snprintf(w.server, sizeof(w.server), "stdio:%s", name ? name : basename(argv[i]));
	if (!w.unmanaged) {
		path = session_path(found, sizeof(found));
		if (!path) {
			fprintf(stderr,
				"leash mcp wrap: not inside a leash session (%s is not set and this process is in no leash cgroup): refusing to run '%s' ungoverned (--no-session relays without decisions)\n",
				CONTROL_MCP_ENV, argv[i]);
			return 1;
		}
		w.sess = session_connect(path);
		if (w.sess < 0) {
			fprintf(stderr,
				"leash mcp wrap: cannot reach the leash session at '%s': %s: refusing to run '%s' ungoverned\n",
				path, strerror(-w.sess), argv[i]);
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	rc = spawn(&w, argv + i);
	if (rc < 0) {
		fprintf(stderr, "leash mcp wrap: cannot start '%s': %s\n", argv[i], strerror(-rc));
		return 1;
	}
	rc = relay(&w);
	session_lost(&w);
	for (size_t k = 0; k < w.npend; k++)
		free(w.pend[k].id);
	free(w.pend);
	free(w.line.p);
	free(w.sline.p);
	free(w.sess_in.p);
	free(w.out_child.p);
	free(w.out_agent.p);
	return rc;
}
