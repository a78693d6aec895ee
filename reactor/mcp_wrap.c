/* mcp_wrap.c: the stdio MCP relay (`leash mcp wrap`), see mcp_wrap.h.
 *
 * One process, one poll loop, no threads: the agent's stdin goes to the
 * server's stdin, the server's stdout to our stdout; stderr is the
 * server's own. Both directions are buffered (reading a side pauses while
 * its destination holds more than WRAP_HIGH bytes), so neither peer can
 * stall the other by not reading.
 *
 * Both directions are read line by line (newline-delimited JSON-RPC, as
 * the MCP stdio transport frames it): a line is held until complete, then
 * parsed with jansson (duplicate keys refused, the whole line one JSON
 * text, so leash and the server cannot read one line two ways).
 *
 * Agent to server: each tools/call (alone or in a batch) is decided by the
 * session (one synchronous round trip each: the session answers from
 * memory). If all are permitted the line goes on unchanged; a forbidden
 * single call is answered here; in a batch the permitted part is
 * re-serialised and forwarded, and the errors for the rest go back to the
 * agent as one batch answer of their own. Every other message is relayed
 * unchanged and a digest of it sent to the session to record. A line that
 * does not parse, or is longer than WRAP_MAX_LINE, cannot be inspected:
 * the session says whether it is refused (enforce mode with McpCall
 * governed: answered -32700/-32600 with id null, never relayed) or
 * relayed, and records it as mcp.uninspected.
 *
 * Server to agent: each answer to a permitted call is reported to the
 * session (which times the call and writes the event); each answer to a
 * tools/list has its tool names sent to the session, which says which to
 * hide (enforce mode), and the line is re-serialised without them; other
 * messages are relayed unchanged and recorded. A line that does not parse
 * is relayed (only the server is fooled by it) and recorded; a line over
 * WRAP_MAX_LINE is relayed unread, as reactor/mcp.c relays an answer over
 * MCP_MAX_BODY.
 *
 * Fail closed: once the session is unreachable, each tools/call is
 * answered -32000, each tools/list answer is replaced by a -32000 error
 * (never offered unfiltered), each line leash cannot inspect is refused.
 */
#include <ctype.h>
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
#include "record.h"

#define WRAP_HIGH (4u << 20) /* bytes held for a slow reader before pausing */
#define WRAP_REPLY_MS 30000 /* the session's answer to a decision, at most */
/* A line leash reads, at most: a decide request quoting it must still fit
 * in one line of the session's protocol. */
#define WRAP_MAX_LINE (CONTROL_MCP_MAX_LINE - (64u << 10))

struct buf {
	char *p;
	size_t n, cap;
};

/* What happens to the rest of a line too long to hold. */
enum line_mode {
	L_LINE, /* held until its newline, then read */
	L_PASS, /* relayed unread up to its newline */
	L_DROP, /* dropped up to its newline */
};

struct lines {
	struct buf b; /* the line being read */
	enum line_mode mode;
};

/* A request forwarded to the server whose answer leash reads. */
enum pending_kind {
	P_NONE,
	P_CALL,
	P_LIST
};

struct pending {
	char *id; /* the JSON-RPC id as compact JSON */
	enum pending_kind kind;
	json_int_t call; /* P_CALL: the session's number for it */
	bool numeric; /* the id as a number, for answers that give it as a string */
	double num;
};

struct wrap {
	char server[300]; /* "stdio:<name>" */
	bool unmanaged; /* --no-session, and no session found: relay ungoverned */
	int sess; /* the session's MCP socket, or -1 */
	struct buf sess_in; /* bytes of the session's answers not yet used */
	int to_child, from_child;
	pid_t child;
	struct lines in, out; /* the agent's lines, the server's lines */
	struct buf out_child, out_agent;
	struct pending *pend;
	size_t npend;
};

typedef void line_fn(struct wrap *w, const char *p, size_t n);
typedef enum line_mode long_fn(struct wrap *w, size_t n);

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
	if (n)
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

/* Splits P[0..N) into L's lines for ON_LINE (each with its newline; at
 * EOF the last one without). A line longer than WRAP_MAX_LINE is handed
 * to ON_LONG instead, which says what becomes of it: relayed unread to
 * PASS_TO (what is held, then the rest as it comes) or dropped. */
static void lines_feed(struct wrap *w, struct lines *l, const char *p, size_t n, bool eof,
		       line_fn *on_line, long_fn *on_long, struct buf *pass_to)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) + 1 : n;

		if (l->mode == L_PASS) {
			buf_add(pass_to, p, len);
		} else if (l->mode == L_LINE) {
			buf_add(&l->b, p, len);
			if (nl) {
				on_line(w, l->b.p, l->b.n);
				l->b.n = 0;
			} else if (l->b.n > WRAP_MAX_LINE) {
				l->mode = on_long(w, l->b.n);
				if (l->mode == L_PASS)
					buf_add(pass_to, l->b.p, l->b.n);
				l->b.n = 0;
			}
		}
		if (nl)
			l->mode = L_LINE;
		p += len;
		n -= len;
	}
	if (eof && l->b.n) {
		on_line(w, l->b.p, l->b.n);
		l->b.n = 0;
	}
}

static bool blank(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	return !n;
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
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc = -EIO;

	if (text && w->sess >= 0 && write_all(w->sess, text, strlen(text)) == 0 &&
	    write_all(w->sess, "\n", 1) == 0)
		rc = 0;
	free(text);
	if (rc)
		session_lost(w);
	return rc;
}

/* Sends REQ (an answered request) and reads the answer line: new JSON,
 * or NULL (session lost). */
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

/* V when it is a string, number, boolean or null, else NULL: what is
 * copied into a record is never nested, so no line the wrapper sends
 * without reading an answer can fail to parse at the session (jansson's
 * depth limit) and draw an error line that would answer the next request. */
static json_t *scalar(json_t *v)
{
	return json_is_object(v) || json_is_array(v) ? NULL : v;
}

/* Copies the scalar values of KEYS (NULL-ended) from SRC into a new object
 * under NAME in D; of "clientInfo" and "serverInfo", name and version. */
static void digest_part(json_t *d, const char *name, const json_t *src, const char *const *keys)
{
	json_t *sub = json_is_object(src) ? json_object() : NULL;

	if (!sub || json_object_set_new(d, name, sub) < 0)
		return;
	for (; *keys; keys++) {
		json_t *v = json_object_get(src, *keys);

		if (strstr(*keys, "Info") && json_is_object(v))
			json_object_set_new(sub, *keys,
					    json_pack("{s:O?, s:O?}", "name",
						      scalar(json_object_get(v, "name")), "version",
						      scalar(json_object_get(v, "version"))));
		else if (scalar(v))
			json_object_set(sub, *keys, v);
	}
}

/* What the session records of MSG: its method and id, and of its params
 * and result only what events keep (reactor/mcp.c's details), so a large
 * answer (a file read) is not copied to the session. */
static json_t *digest(const json_t *msg)
{
	static const char *const params_keys[] = { "clientInfo", "protocolVersion", "uri", "name",
						   NULL };
	static const char *const result_keys[] = { "serverInfo", "protocolVersion", "isError",
						   NULL };
	static const char *const error_keys[] = { "code", "message", NULL };
	json_t *d = json_object();

	if (!d)
		return NULL;
	if (json_is_string(json_object_get(msg, "method")))
		json_object_set(d, "method", json_object_get(msg, "method"));
	if (scalar(json_object_get(msg, "id")))
		json_object_set(d, "id", json_object_get(msg, "id"));
	digest_part(d, "params", json_object_get(msg, "params"), params_keys);
	if (json_object_get(msg, "result") && !json_is_object(json_object_get(msg, "result")))
		json_object_set_new(d, "result", json_object());
	digest_part(d, "result", json_object_get(msg, "result"), result_keys);
	digest_part(d, "error", json_object_get(msg, "error"), error_keys);
	return d;
}

/* Has the session record MSG, relayed in DIRECTION ("agent"|"server"). */
static void record(struct wrap *w, const char *direction, const json_t *msg)
{
	json_t *req;

	if (w->sess < 0 || !json_is_object(msg))
		return;
	req = json_pack("{s:s, s:s, s:o}", "op", "record", "direction", direction, "message",
			digest(msg));
	session_send(w, req);
	json_decref(req);
}

/* A line of N bytes leash cannot read (WHY), from DIRECTION: recorded;
 * true when it must not be relayed (the session said deny, or the
 * session is gone: fail closed). */
static bool uninspected(struct wrap *w, const char *direction, const char *why, size_t n)
{
	json_t *req, *ans;
	const char *decision;
	bool refuse;

	if (w->unmanaged)
		return false;
	req = json_pack("{s:s, s:s, s:s, s:I}", "op", "uninspected", "direction", direction, "why",
			why, "bytes", (json_int_t)n);
	ans = w->sess >= 0 && req ? session_ask(w, req) : NULL;
	decision = json_string_value(json_object_get(ans, "decision"));
	refuse = !ans || json_object_get(ans, "error") || (decision && !strcmp(decision, "deny"));
	json_decref(req);
	json_decref(ans);
	return refuse;
}

/* ---- deciding ---------------------------------------------------------------- */

static json_t *rpc_error(const json_t *id, int code, const char *message)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
			 "error", "code", code, "message", message);
}

static bool is_method(const json_t *msg, const char *name)
{
	const char *method = json_string_value(json_object_get(msg, "method"));

	return method && strcmp(method, name) == 0;
}

/* ID as the SDK client matches answers (Number(id)): a number, or a
 * string that is wholly one ("1" for 1). false when it is neither. */
static bool id_number(const json_t *id, double *out)
{
	const char *t = json_string_value(id);
	char *end;

	if (json_is_number(id)) {
		*out = json_number_value(id);
		return true;
	}
	if (!t || !*t || isspace((unsigned char)*t))
		return false;
	*out = strtod(t, &end);
	return !*end;
}

static void pending_add(struct wrap *w, const json_t *id, enum pending_kind kind, json_int_t call)
{
	char *key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	struct pending *p = key ? realloc(w->pend, (w->npend + 1) * sizeof(*p)) : NULL;

	if (!p) {
		free(key);
		return;
	}
	w->pend = p;
	w->pend[w->npend] = (struct pending){ .id = key, .kind = kind, .call = call };
	w->pend[w->npend].numeric = id_number(id, &w->pend[w->npend].num);
	w->npend++;
}

/* The request waiting for the answer with ID, taken out into *OUT (its
 * id for the caller to free). false when none. */
static bool pending_take(struct wrap *w, const json_t *id, struct pending *out)
{
	char *key = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	double num;
	bool loose = id_number(id, &num);
	size_t i, at = w->npend;

	for (i = 0; key && i < w->npend && at == w->npend; i++)
		if (strcmp(w->pend[i].id, key) == 0)
			at = i;
	for (i = 0; loose && i < w->npend && at == w->npend; i++)
		if (w->pend[i].numeric && w->pend[i].num == num)
			at = i;
	free(key);
	if (at == w->npend)
		return false;
	*out = w->pend[at];
	w->pend[at] = w->pend[--w->npend];
	return true;
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
			pending_add(w, id, P_CALL,
				    json_integer_value(json_object_get(ans, "call")));
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

/* One message from the agent: NULL when it goes on to the server (recorded
 * or decided), else leash's answer (new; JSON null: nothing to answer). */
static json_t *agent_msg(struct wrap *w, const json_t *msg)
{
	if (is_method(msg, "tools/call"))
		return decide(w, msg);
	if (is_method(msg, "tools/list") && json_object_get(msg, "id") && !w->unmanaged)
		pending_add(w, json_object_get(msg, "id"), P_LIST, 0);
	record(w, "agent", msg);
	return NULL;
}

/* A line from the agent leash refuses: answered with CODE and id null. */
static void agent_refuse(struct wrap *w, int code, const char *why)
{
	char text[400];
	json_t *e;

	snprintf(text, sizeof(text), "leash: request refused: %s", why);
	e = rpc_error(NULL, code, text);
	if (e)
		buf_add_json(&w->out_agent, e);
	json_decref(e);
}

/* One line from the agent, RAW[0..N) with its newline if it had one. */
static void agent_line(struct wrap *w, const char *raw, size_t n)
{
	json_error_t jerr;
	json_t *j = blank(raw, n) ? NULL : json_loadb(raw, n, JSON_REJECT_DUPLICATES, &jerr);
	json_t *fwd, *errs, *msg, *e;
	bool batch = json_is_array(j), denied = false;
	char why[300];

	if (!j && !blank(raw, n)) {
		snprintf(why, sizeof(why), "a line that does not parse as JSON (%s)", jerr.text);
		if (uninspected(w, "agent", why, n))
			agent_refuse(w, -32700, why);
		else
			buf_add(&w->out_child, raw, n);
		return;
	}
	if (!json_is_object(j) && !(batch && json_array_size(j))) {
		buf_add(&w->out_child, raw, n); /* blank, or JSON that is no message */
		json_decref(j);
		return;
	}
	fwd = json_array();
	errs = json_array();
	for (size_t i = 0; i < (batch ? json_array_size(j) : 1); i++) {
		msg = batch ? json_array_get(j, i) : j;
		e = agent_msg(w, msg);
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
		buf_add_json(&w->out_child, batch ? fwd : json_array_get(fwd, 0));
	if (json_array_size(errs))
		buf_add_json(&w->out_agent, batch ? errs : json_array_get(errs, 0));
	json_decref(fwd);
	json_decref(errs);
	json_decref(j);
}

static enum line_mode agent_long(struct wrap *w, size_t n)
{
	char why[100];

	snprintf(why, sizeof(why), "a line over %u bytes is not inspected", WRAP_MAX_LINE);
	if (!uninspected(w, "agent", why, n))
		return L_PASS;
	agent_refuse(w, -32600, why);
	return L_DROP;
}

/* ---- server to agent ------------------------------------------------------------- */

/* The answer to a permitted call: its outcome goes to the session. */
static void call_answered(struct wrap *w, const json_t *msg, json_int_t call)
{
	json_t *res = json_object_get(msg, "result"), *err = json_object_get(msg, "error"), *req;
	bool is_error = json_is_true(json_object_get(res, "isError"));

	if (err)
		req = json_pack("{s:s, s:I, s:s, s:O?, s:O?}", "op", "result", "call", call,
				"outcome", "error", "error_code",
				scalar(json_object_get(err, "code")), "error_message",
				scalar(json_object_get(err, "message")));
	else
		req = json_pack("{s:s, s:I, s:s, s:b}", "op", "result", "call", call, "outcome",
				is_error ? "tool_error" : "result", "is_error", is_error);
	if (req && w->sess >= 0)
		session_send(w, req);
	json_decref(req);
}

/* The answer MSG to a tools/list: the session names the tools to hide,
 * which leave MSG's result (*CHANGED). With no session to ask, MSG
 * becomes a -32000 error: never offered unfiltered. */
static void list_answered(struct wrap *w, json_t *msg, bool *changed)
{
	json_t *tools = json_object_get(json_object_get(msg, "result"), "tools");
	json_t *names = json_array(), *keep = json_array(), *req, *ans, *hide, *t, *e;
	size_t i, k;

	if (!json_is_array(tools)) {
		record(w, "server", msg); /* an error, or no tools: nothing to filter */
		goto out;
	}
	json_array_foreach(tools, i, t)
	{
		if (json_is_string(json_object_get(t, "name")))
			json_array_append(names, json_object_get(t, "name"));
	}
	req = json_pack("{s:s, s:O, s:O}", "op", "list", "id", json_object_get(msg, "id"), "tools",
			names);
	ans = w->sess >= 0 && req ? session_ask(w, req) : NULL;
	json_decref(req);
	hide = json_object_get(ans, "hide");
	if (!json_is_array(hide)) {
		e = rpc_error(
			json_object_get(msg, "id"), -32000,
			"leash: the tools/list answer is withheld: the leash session cannot decide which tools to offer");
		json_object_clear(msg);
		json_object_update(msg, e);
		json_decref(e);
		*changed = true;
	} else if (json_array_size(hide)) {
		json_array_foreach(tools, i, t)
		{
			bool hidden = false;

			for (k = 0; k < json_array_size(hide); k++)
				hidden |= json_equal(json_object_get(t, "name"),
						     json_array_get(hide, k));
			if (!hidden)
				json_array_append(keep, t);
		}
		json_object_set(json_object_get(msg, "result"), "tools", keep);
		*changed = true;
	}
	json_decref(ans);
out:
	json_decref(names);
	json_decref(keep);
}

/* One message from the server; *CHANGED when leash rewrote it. */
static void server_msg(struct wrap *w, json_t *msg, bool *changed)
{
	struct pending p;

	if (!json_is_object(msg))
		return;
	if (json_object_get(msg, "method") || !json_object_get(msg, "id")) {
		record(w, "server", msg);
		return;
	}
	if (!pending_take(w, json_object_get(msg, "id"), &p))
		p = (struct pending){ .kind = P_NONE };
	if (p.kind == P_CALL)
		call_answered(w, msg, p.call);
	else if (p.kind == P_LIST ||
		 (!w->unmanaged &&
		  json_is_array(json_object_get(json_object_get(msg, "result"), "tools"))))
		list_answered(w, msg, changed); /* by its shape too: an id "1" for 1 */
	else
		record(w, "server", msg);
	free(p.id);
}

static void server_line(struct wrap *w, const char *raw, size_t n)
{
	json_error_t jerr;
	json_t *j = blank(raw, n) ? NULL : json_loadb(raw, n, 0, &jerr);
	bool changed = false;
	char why[300];
	size_t i;

	if (!j && !blank(raw, n)) {
		snprintf(why, sizeof(why), "a line that does not parse as JSON (%s)", jerr.text);
		uninspected(w, "server", why, n);
	}
	if (json_is_array(j))
		for (i = 0; i < json_array_size(j); i++)
			server_msg(w, json_array_get(j, i), &changed);
	else
		server_msg(w, j, &changed);
	if (!changed)
		buf_add(&w->out_agent, raw, n);
	else
		buf_add_json(&w->out_agent, j); /* out of memory: dropped, never unfiltered */
	json_decref(j);
}

static enum line_mode server_long(struct wrap *w, size_t n)
{
	char why[100];

	snprintf(why, sizeof(why), "a line over %u bytes is relayed unread", WRAP_MAX_LINE);
	uninspected(w, "server", why, n);
	return L_PASS;
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

/* The server, for the signal handler: a SIGTERM or SIGHUP meant for the
 * server (the agent's client stops the command it started, which is the
 * wrapper) is passed on, and the wrapper relays until the server exits. */
static volatile sig_atomic_t server_pid;

static void forward_signal(int sig)
{
	if (server_pid > 0)
		kill(server_pid, sig);
}

static void forward_signals(pid_t child)
{
	struct sigaction sa = { .sa_handler = forward_signal }; /* no SA_RESTART: poll sees EINTR */

	server_pid = child;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
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
			lines_feed(w, &w->in, chunk, r > 0 ? r : 0, in_eof, agent_line, agent_long,
				   &w->out_child);
		}
		if (p[1].revents) {
			r = read(w->from_child, chunk, sizeof(chunk));
			out_eof = r <= 0 && !(r < 0 && errno == EINTR);
			lines_feed(w, &w->out, chunk, r > 0 ? r : 0, out_eof, server_line,
				   server_long, &w->out_agent);
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

/* Tells the session which server this connection relays (its events'
 * server and command), once, first. */
static void hello(struct wrap *w, char **argv)
{
	json_t *cmd = json_array(), *req;

	for (; cmd && *argv; argv++)
		json_array_append_new(cmd, record_json_text(*argv, strlen(*argv)));
	req = json_pack("{s:s, s:s, s:o?}", "op", "hello", "server", w->server, "command", cmd);
	session_send(w, req);
	json_decref(req);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: leash mcp wrap [--no-session] [--name NAME] -- SERVER-COMMAND [ARGS...]\n"
		"  relays a stdio MCP server, each tools/call decided by the leash session\n"
		"  --no-session  outside a leash session, relay without decisions or records\n"
		"                (inside one, the server is governed all the same)\n"
		"  --name NAME   the server as policies name it: MCP::Server::\"stdio:NAME\"\n"
		"                (default: the command's basename)\n");
	return 1;
}

int mcp_wrap_main(int argc, char **argv)
{
	struct wrap w = { .sess = -1, .to_child = -1, .from_child = -1 };
	const char *name = NULL, *path;
	bool unmanaged = false;
	char found[256];
	int i = 2, rc;

	if (argc < 2 || strcmp(argv[1], "wrap") != 0)
		return usage();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--no-session") == 0) {
			unmanaged = true;
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			name = argv[++i];
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	snprintf(w.server, sizeof(w.server), "stdio:%s", name ? name : basename(argv[i]));
	signal(SIGPIPE, SIG_IGN); /* a peer gone is an error to handle, not death */
	/* --no-session only says what to do where there is no session: inside
	 * one, the server is governed all the same (so one configuration serves
	 * both, and an agent cannot opt its servers out). */
	path = session_path(found, sizeof(found));
	w.unmanaged = unmanaged && !path;
	if (!path && !unmanaged) {
		fprintf(stderr,
			"leash mcp wrap: not inside a leash session (%s is not set and this process is in no leash cgroup): refusing to run '%s' ungoverned (--no-session relays without decisions)\n",
			CONTROL_MCP_ENV, argv[i]);
		return 1;
	}
	if (path) {
		w.sess = session_connect(path);
		if (w.sess < 0) {
			fprintf(stderr,
				"leash mcp wrap: cannot reach the leash session at '%s': %s: refusing to run '%s' ungoverned\n",
				path, strerror(-w.sess), argv[i]);
			return 1;
		}
		hello(&w, argv + i);
	}
	rc = spawn(&w, argv + i);
	if (rc < 0) {
		fprintf(stderr, "leash mcp wrap: cannot start '%s': %s\n", argv[i], strerror(-rc));
		return 1;
	}
	forward_signals(w.child);
	rc = relay(&w);
	session_lost(&w);
	for (size_t k = 0; k < w.npend; k++)
		free(w.pend[k].id);
	free(w.pend);
	free(w.in.b.p);
	free(w.out.b.p);
	free(w.sess_in.p);
	free(w.out_child.p);
	free(w.out_agent.p);
	return rc;
}
