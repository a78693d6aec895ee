/* control_mcp.c: McpCall decisions for stdio MCP servers (`leash mcp wrap`).
 *
 * Two doors onto one decision: the MCP socket (see control_mcp.h), which
 * the wrapper inside the sandbox uses, and POST /api/mcp/decide on the
 * control server (token required, like every control request). Both
 * decide as reactor/mcp.c does for HTTP: McpCall on MCP::Tool::"tool" in
 * MCP::Server::"stdio:<command>", context {method, server, arguments,
 * arguments_json}; not governed (no McpCall rule) or record mode: allow.
 * Both record mcp.call events in the HTTP path's shape. The socket also
 * records the rest of the wrapper's traffic (initialize, tools/list,
 * resources, prompts, notifications: the kinds and details of
 * reactor/mcp.c) and decides which tools a tools/list answer may offer.
 *
 * Why a socket of its own rather than the control server: the agent must
 * never reach the control server (it can change the policy and the mode),
 * but the wrapper runs as the agent. This socket can only decide and
 * record; it is a unix socket in a root-owned 0711 directory, owned by
 * the agent's user, and refuses peers outside the session's cgroup.
 * Held requests are per connection, at most MCP_HELD_MAX; past it the
 * oldest is recorded as "no response". Whatever the wrapper sends, it can
 * only add events about a stdio: server, carrying its own pid, and only
 * the session decides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "cedar/cedar.h"
#include "cgroup.h"
#include "control.h"
#include "control_int.h"
#include "control_mcp.h"
#include "mcp.h"
#include "policy.h"
#include "reactor.h"

#define MCP_HELD_MAX 256
#define MCP_ARGS_TEXT 4096 /* arguments kept in an event, as mcp.c keeps them */
#define MCP_WHY_TEXT 300 /* a wrapper's reason for an uninspected line, at most */
/* Answers waiting for a client that does not read them, at most (bytes):
 * past it leash stops reading that client's requests until it reads, so
 * a process writing decide lines and never reading cannot grow leash. */
#define MCP_OUT_MAX (1u << 20)
/* Connections at once (one per wrapped server): each may hold a partial
 * line of up to CONTROL_MCP_MAX_LINE, so the count bounds leash's memory. */
#define MCP_CLIENTS_MAX 64

/* A request forwarded to the server, waiting for its answer: a decided
 * tools/call (CALL > 0, the number the wrapper reports its result with),
 * or any other request (CALL 0), matched by its JSON-RPC ID. */
struct held {
	int64_t call;
	json_t *id; /* CALL 0 only */
	struct record *ev; /* the event, all but outcome and duration */
	int64_t start_ns;
};

struct mcp_client {
	struct bufferevent *bev;
	pid_t pid;
	char session[40]; /* the MCP session: this connection, one server's life */
	char server[300]; /* from hello: "stdio:NAME", or empty */
	json_t *command; /* from hello: the server's argv, redacted, or NULL */
	struct held held[MCP_HELD_MAX];
	size_t nheld;
	int64_t next_call;
	struct mcp_client *next;
};

static struct {
	struct evconnlistener *lst;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct mcp_client *clients;
	size_t nclients;
} mcp_sock;

/* ---- deciding ------------------------------------------------------------- */

static bool governed(void)
{
	const struct policy *p = policy_current();
	struct cedar_rules r = { 0 };
	bool yes;

	if (!p || cedar_rules_for_action(p->ps, "McpCall", &r) < 0)
		return true; /* fail closed: Cedar decides, default deny included */
	yes = r.n > 0;
	cedar_rules_free(&r);
	return yes;
}

/* McpCall on TOOL in SERVER, filled into V. For a call (ARGS_SET) the
 * context has the arguments (ARGS or {}); for a listing it has none, as
 * reactor/mcp.c decides a tools/list. */
static int decide(const char *server, const char *tool, const json_t *args, bool args_set,
		  struct policy_verdict *v)
{
	json_t *ctx;
	int rc;

	memset(v, 0, sizeof(*v));
	if (policy_mode() == MODE_RECORD || !governed()) {
		v->decision = DECISION_ALLOW;
		v->policies = json_array();
		v->reason = policy_mode() == MODE_RECORD ? "record mode" : "no McpCall rules";
		return 0;
	}
	ctx = json_pack("{s:s, s:s}", "method", args_set ? "tools/call" : "tools/list", "server",
			server);
	if (ctx && args_set) {
		json_t *none = args ? NULL : json_object(); /* freed: one leaked per decide */
		char *text = json_dumps(args ? args : none, JSON_COMPACT | JSON_ENCODE_ANY);

		json_decref(none);

		json_object_set_new(ctx, "arguments",
				    json_is_object(args) ? mcp_cedar_value(args) : json_object());
		json_object_set_new(ctx, "arguments_json", json_string(text ? text : ""));
		free(text);
	}
	if (!ctx)
		return -ENOMEM;
	rc = policy_decide_tool(tool, server, ctx, v);
	json_decref(ctx);
	return rc;
}

/* The names in TOOLS (an array of strings) that a tools/list answer should
 * not offer, as reactor/mcp.c's filter_tools: those the policy denies
 * with no arguments in the context. A tool whose rules read the arguments
 * (a condition that errors without them) is kept: some call may be
 * permitted. Empty when MCP is not governed or in record mode; in shadow
 * mode the names are the ones enforce would hide. */
static json_t *hidden_tools(const char *server, const json_t *tools)
{
	json_t *hidden = json_array(), *t;
	size_t i;

	if (!hidden || policy_mode() == MODE_RECORD || !governed())
		return hidden;
	json_array_foreach(tools, i, t)
	{
		const char *name = json_string_value(t);
		struct policy_verdict v = { 0 }; /* freed below even when not decided */

		if (name && *name && decide(server, name, NULL, false, &v) == 0 &&
		    v.decision != DECISION_ALLOW && !json_array_size(v.errors))
			json_array_append_new(hidden, json_string(name));
		policy_verdict_free(&v);
	}
	return hidden;
}

/* ---- events ----------------------------------------------------------------- */

/* The details every event starts with: reactor/mcp.c's details_new for
 * HTTP, with the stdio server's identity (name and command line) where
 * HTTP has host, port and path. M is NULL for the control server's door. */
static json_t *details_new(const struct mcp_client *m, const char *server, const char *method,
			   const char *direction)
{
	json_t *d = json_object();

	if (!d)
		return NULL;
	json_object_set_new(d, "server", json_string(server));
	json_object_set_new(d, "transport", json_string("stdio"));
	if (m && m->command)
		json_object_set(d, "command", m->command);
	if (method)
		json_object_set_new(d, "method", record_json_text(method, strlen(method)));
	json_object_set_new(d, "direction", json_string(direction));
	if (m)
		json_object_set_new(d, "session", json_string(m->session));
	return d;
}

/* A new event of KIND about M's server with details D (stolen): resource
 * MCP::Server::"server", no decision, the wrapper's pid. */
static struct record *server_event(const struct mcp_client *m, const char *kind, json_t *d)
{
	struct record *ev = d ? record_new(kind) : NULL;
	char res[600];

	if (!ev) {
		json_decref(d);
		return NULL;
	}
	if (m->pid > 0)
		ev->pid = m->pid;
	snprintf(res, sizeof(res), "MCP::Server::\"%s\"", m->server);
	record_set_resource(ev, res);
	json_object_update(ev->details, d);
	json_decref(d);
	return ev;
}

/* The mcp.call event of a decided call, as reactor/mcp.c builds it. */
static struct record *call_event(const struct mcp_client *m, const char *server, const char *tool,
				 const json_t *args, const json_t *id,
				 const struct policy_verdict *v)
{
	struct record *ev = record_new("mcp.call");
	json_t *d = details_new(m, server, "tools/call", "agent");
	char res[600];

	if (!ev || !d) {
		if (ev)
			record_unref(ev);
		json_decref(d);
		return NULL;
	}
	if (m && m->pid > 0)
		ev->pid = m->pid;
	ev->action = "McpCall";
	snprintf(res, sizeof(res), "MCP::Tool::\"%s\"", tool);
	record_set_resource(ev, res);
	ev->decision = v->decision;
	ev->policies = json_incref(v->policies);
	json_object_update(ev->details, d);
	json_decref(d);
	if (id)
		json_object_set_new(ev->details, "id", json_deep_copy(id));
	json_object_set_new(ev->details, "tool", json_string(tool));
	if (args) {
		json_t *r = mcp_redact(args);
		char *text = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);

		if (text && strlen(text) > MCP_ARGS_TEXT)
			json_object_set_new(ev->details, "arguments",
					    record_json_text(text, MCP_ARGS_TEXT));
		else
			json_object_set(ev->details, "arguments", r);
		free(text);
		json_decref(r);
	}
	json_object_set_new(ev->details, "reason", json_string(v->reason));
	return ev;
}

static void event_finish(struct record *ev, const char *outcome, int64_t start_ns)
{
	json_object_set_new(ev->details, "outcome", json_string(outcome));
	json_object_set_new(ev->details, "duration_ms",
			    json_real(start_ns ? (double)(record_now_ns() - start_ns) / 1e6 : 0));
	reactor_publish(ev);
}

/* The server's command line for events: the value of an argument that
 * looks like a secret (`--token=X`, `--api-key X`, `GITHUB_TOKEN=X`, a
 * leash placeholder) becomes "[redacted]", by the rule mcp_redact applies
 * to argument keys. NULL when ARGV is not an array of strings. */
static json_t *command_redacted(const json_t *argv)
{
	json_t *out = json_array(), *a;
	const char *flag = NULL;
	size_t i;

	if (!json_is_array(argv) || !out) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach(argv, i, a)
	{
		const char *s = json_string_value(a), *eq = s ? strchr(s, '=') : NULL, *rv;
		char key[128];
		json_t *probe, *r;

		if (!s) {
			json_decref(out);
			return NULL;
		}
		if (eq)
			snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
		else
			snprintf(key, sizeof(key), "%s", flag && i > 0 ? flag : "");
		probe = json_pack("{s:s}", key + strspn(key, "-"), eq ? eq + 1 : s);
		r = mcp_redact(probe);
		rv = json_string_value(json_object_get(r, key + strspn(key, "-")));
		if (rv && strcmp(rv, "[redacted]") == 0)
			json_array_append_new(out,
					      eq ? json_sprintf("%.*s=[redacted]", (int)(eq - s), s)
						 : json_string("[redacted]"));
		else
			json_array_append(out, a);
		json_decref(probe);
		json_decref(r);
		flag = s[0] == '-' && !eq ? s : NULL;
	}
	return out;
}

static char *deny_message(const char *tool, const char *server, const struct policy_verdict *v)
{
	char *ids = json_dumps(v->policies, JSON_COMPACT), *msg = NULL;

	if (asprintf(&msg, "leash: MCP tool '%s' on %s denied by policy %s (%s)", tool, server,
		     ids && strcmp(ids, "[]") ? ids : "(default deny)", v->reason) < 0)
		msg = NULL;
	free(ids);
	return msg;
}

/* Decides REQ for M (NULL: the control server's door, any server); the
 * answer (new) has decision, policies, reason and, when denied, message.
 * *EV gets the call's event (the caller finishes it). */
static json_t *decide_request(const struct mcp_client *m, const json_t *req, struct record **ev)
{
	const char *server = json_string_value(json_object_get(req, "server"));
	const char *tool = json_string_value(json_object_get(req, "tool"));
	json_t *args = json_object_get(req, "arguments");
	struct policy_verdict v;
	json_t *ans;

	*ev = NULL;
	if (m && !server && m->server[0])
		server = m->server;
	if (!server || !tool || !*tool)
		return json_pack("{s:s}", "error", "decide needs a string server and tool");
	if (m && strncmp(server, "stdio:", 6) != 0)
		return json_pack("{s:s}", "error", "this socket decides for stdio: servers only");
	if (decide(server, tool, args, true, &v) < 0) {
		policy_verdict_free(&v);
		return json_pack("{s:s}", "error", "out of memory");
	}
	ans = json_pack("{s:s, s:O, s:s}", "decision", decision_name(v.decision), "policies",
			v.policies, "reason", v.reason);
	if (ans && v.decision == DECISION_DENY) {
		char *msg = deny_message(tool, server, &v);

		json_object_set_new(ans, "message", json_string(msg ? msg : "leash: denied"));
		free(msg);
	}
	*ev = call_event(m, server, tool, args, json_object_get(req, "id"), &v);
	policy_verdict_free(&v);
	return ans;
}

/* ---- POST /api/mcp/decide -------------------------------------------------- */

/* The control server's door: decides and records at once (outcome
 * "denied", or "decided" for a call whose result leash will not see). */
void api_mcp_decide(struct http_conn *c, const struct http_request *rq)
{
	json_t *req = control_body_json(rq), *ans;
	struct record *ev;

	if (!json_is_object(req)) {
		json_decref(req);
		control_error(c, 400, "bad-request", "a JSON object is needed", NULL);
		return;
	}
	ans = decide_request(NULL, req, &ev);
	json_decref(req);
	if (!ans || json_object_get(ans, "error")) {
		if (ev)
			record_unref(ev);
		control_error(c, 400, "bad-request",
			      ans ? json_string_value(json_object_get(ans, "error"))
				  : "out of memory",
			      NULL);
		json_decref(ans);
		return;
	}
	if (ev)
		event_finish(ev, ev->decision == DECISION_DENY ? "denied" : "decided", 0);
	control_json(c, 200, ans);
}

/* ---- the socket ------------------------------------------------------------- */

static void client_send(struct mcp_client *m, json_t *ans)
{
	char *text = ans ? json_dumps(ans, JSON_COMPACT) : NULL;

	json_decref(ans);
	if (!text) {
		bufferevent_write(m->bev, "{\"error\":\"out of memory\"}\n", 26);
		return;
	}
	bufferevent_write(m->bev, text, strlen(text));
	bufferevent_write(m->bev, "\n", 1);
	free(text);
}

static void held_add(struct mcp_client *m, struct record *ev, int64_t call, const json_t *id)
{
	if (m->nheld == MCP_HELD_MAX) {
		event_finish(m->held[0].ev, "no response", m->held[0].start_ns);
		json_decref(m->held[0].id);
		memmove(&m->held[0], &m->held[1], (MCP_HELD_MAX - 1) * sizeof(m->held[0]));
		m->nheld--;
	}
	m->held[m->nheld++] = (struct held){ .call = call,
					     .id = id ? json_deep_copy(id) : NULL,
					     .ev = ev,
					     .start_ns = record_now_ns() };
}

/* The request held with JSON-RPC ID (not a decided call), or NULL. */
static struct held *held_find(struct mcp_client *m, const json_t *id)
{
	for (size_t i = 0; id && i < m->nheld; i++)
		if (!m->held[i].call && json_equal(m->held[i].id, id))
			return &m->held[i];
	return NULL;
}

/* Publishes H with OUTCOME and forgets it. */
static void held_finish(struct mcp_client *m, struct held *h, const char *outcome)
{
	event_finish(h->ev, outcome, h->start_ns);
	json_decref(h->id);
	*h = m->held[--m->nheld];
}

static void on_decide(struct mcp_client *m, const json_t *req)
{
	struct record *ev;
	json_t *ans = decide_request(m, req, &ev);

	if (ev && ev->decision == DECISION_DENY) {
		event_finish(ev, "denied", 0);
	} else if (ev && ans) {
		json_object_set_new(ans, "call", json_integer(++m->next_call));
		held_add(m, ev, m->next_call, NULL);
	} else if (ev) {
		record_unref(ev);
	}
	client_send(m, ans);
}

static void on_result(struct mcp_client *m, const json_t *req)
{
	json_int_t call = json_integer_value(json_object_get(req, "call"));
	const char *outcome = json_string_value(json_object_get(req, "outcome"));
	static const char *const outcomes[] = { "result", "tool_error", "error", "no response",
						NULL };
	const char *ok = NULL;

	for (size_t i = 0; outcome && outcomes[i]; i++)
		if (strcmp(outcome, outcomes[i]) == 0)
			ok = outcomes[i];
	for (size_t i = 0; ok && call > 0 && i < m->nheld; i++) {
		struct record *ev = m->held[i].ev;

		if (m->held[i].call != call)
			continue;
		if (json_is_boolean(json_object_get(req, "is_error")))
			json_object_set(ev->details, "is_error", json_object_get(req, "is_error"));
		if (json_is_integer(json_object_get(req, "error_code")))
			json_object_set(ev->details, "error_code",
					json_object_get(req, "error_code"));
		if (json_is_string(json_object_get(req, "error_message")))
			json_object_set(ev->details, "error_message",
					json_object_get(req, "error_message"));
		held_finish(m, &m->held[i], ok);
		return;
	}
}

/* hello: the server this connection relays, once, before anything else
 * is recorded. Only "stdio:" names: this socket speaks for stdio servers. */
static void on_hello(struct mcp_client *m, const json_t *req)
{
	const char *server = json_string_value(json_object_get(req, "server"));

	if (m->server[0] || !server || strncmp(server, "stdio:", 6) != 0 || !server[6] ||
	    strlen(server) >= sizeof(m->server))
		return;
	snprintf(m->server, sizeof(m->server), "%s", server);
	m->command = command_redacted(json_object_get(req, "command"));
}

/* The server's answer MSG to a held request: its event is published. */
static void answered(struct mcp_client *m, const json_t *msg)
{
	struct held *h = held_find(m, json_object_get(msg, "id"));
	const json_t *result = json_object_get(msg, "result"), *err = json_object_get(msg, "error");
	json_t *d;

	if (!h)
		return;
	d = h->ev->details;
	if (err) {
		json_object_set(d, "error_code", json_object_get(err, "code"));
		json_object_set(d, "error_message", json_object_get(err, "message"));
	}
	if (strcmp(h->ev->kind, "mcp.initialize") == 0 && result) {
		json_t *si = json_object_get(result, "serverInfo");

		json_object_set(d, "server_name", json_object_get(si, "name"));
		json_object_set(d, "server_version", json_object_get(si, "version"));
		json_object_set(d, "protocol_version", json_object_get(result, "protocolVersion"));
	}
	held_finish(m, h, err ? "error" : "result");
}

/* record: a message the wrapper relayed (tools/call excepted: those go
 * through decide), in either direction. A request from the agent is held
 * until the server answers it; notifications and the server's own
 * requests are recorded at once; the agent's answers to the server are
 * not recorded (as over HTTP). Never answered. */
static void on_record(struct mcp_client *m, const json_t *req)
{
	const char *dir = json_string_value(json_object_get(req, "direction"));
	const json_t *msg = json_object_get(req, "message");
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id");
	struct record *ev;
	bool agent;
	json_t *d;

	if (!m->server[0] || !dir || !json_is_object(msg) ||
	    (strcmp(dir, "agent") != 0 && strcmp(dir, "server") != 0))
		return;
	agent = dir[0] == 'a';
	if (!method) {
		if (!agent && id)
			answered(m, msg);
		return;
	}
	if (agent && strcmp(method, "tools/call") == 0)
		return;
	d = details_new(m, m->server, method, dir);
	if (d && id)
		json_object_set(d, "id", id);
	if (d && agent)
		mcp_request_details(d, method, json_object_get(msg, "params"));
	ev = server_event(m, mcp_event_kind(method), d);
	if (ev && agent && id)
		held_add(m, ev, 0, id);
	else if (ev)
		reactor_publish(ev);
}

/* list: the tool names of a tools/list answer (to the request with "id")
 * -> {"hide":[names the wrapper must drop]}: the hidden ones in enforce
 * mode, none otherwise. Records the mcp.tools.list event with the count
 * offered and "hidden" (enforce) or "would_hide" (shadow). */
static void on_list(struct mcp_client *m, const json_t *req)
{
	const json_t *tools = json_object_get(req, "tools");
	json_t *id = json_object_get(req, "id");
	struct held *h = held_find(m, id);
	json_t *hidden, *d;
	bool enforce = policy_mode() == MODE_ENFORCE;
	struct record *ev;

	if (!m->server[0] || !json_is_array(tools)) {
		client_send(m, json_pack("{s:s}", "error", "list needs hello and a tools array"));
		return;
	}
	hidden = hidden_tools(m->server, tools);
	if (!hidden) {
		client_send(m, json_pack("{s:s}", "error", "out of memory"));
		return;
	}
	if (h && strcmp(h->ev->kind, "mcp.tools.list") == 0) {
		ev = h->ev;
	} else {
		h = NULL; /* an answer leash saw no request for: recorded all the same */
		d = details_new(m, m->server, "tools/list", "agent");
		if (d && id)
			json_object_set(d, "id", id);
		ev = server_event(m, "mcp.tools.list", d);
	}
	if (ev) {
		json_object_set_new(
			ev->details, "tools",
			json_integer((json_int_t)(json_array_size(tools) -
						  (enforce ? json_array_size(hidden) : 0))));
		if (json_array_size(hidden))
			json_object_set(ev->details, enforce ? "hidden" : "would_hide", hidden);
		if (h)
			held_finish(m, h, "result");
		else
			event_finish(ev, "result", 0);
	}
	client_send(m, json_pack("{s:o}", "hide", enforce ? hidden : json_array()));
	if (!enforce)
		json_decref(hidden);
}

/* uninspected: a line the wrapper cannot read as JSON-RPC ({"direction",
 * "why","bytes"}) -> {"decision"}: from the agent, "deny" in enforce
 * mode when McpCall is governed (the wrapper refuses the line),
 * "would_deny" in shadow, absent otherwise (the wrapper relays it); from
 * the server, absent (relayed). Recorded as mcp.uninspected, as over HTTP. */
static void on_uninspected(struct mcp_client *m, const json_t *req)
{
	const char *dir = json_string_value(json_object_get(req, "direction"));
	const char *why = json_string_value(json_object_get(req, "why"));
	enum decision dec = DECISION_NONE;
	struct record *ev;
	json_t *d;

	if (!m->server[0] || !dir || (strcmp(dir, "agent") != 0 && strcmp(dir, "server") != 0)) {
		client_send(m,
			    json_pack("{s:s}", "error", "uninspected needs hello and direction"));
		return;
	}
	if (dir[0] == 'a' && policy_mode() != MODE_RECORD && governed())
		dec = policy_mode() == MODE_ENFORCE ? DECISION_DENY : DECISION_WOULD_DENY;
	d = details_new(m, m->server, NULL, dir);
	if (d) {
		json_object_set(d, "bytes", json_object_get(req, "bytes"));
		json_object_set_new(
			d, "reason",
			record_json_text(why ? why : "", why ? strnlen(why, MCP_WHY_TEXT) : 0));
	}
	ev = server_event(m, "mcp.uninspected", d);
	if (ev) {
		ev->decision = dec;
		reactor_publish(ev);
	}
	client_send(m, dec == DECISION_NONE ? json_object()
					    : json_pack("{s:s}", "decision", decision_name(dec)));
}

static void client_free(struct mcp_client *m)
{
	for (struct mcp_client **p = &mcp_sock.clients; *p; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			mcp_sock.nclients--;
			break;
		}
	}
	while (m->nheld)
		held_finish(m, &m->held[0], "connection closed");
	json_decref(m->command);
	bufferevent_free(m->bev);
	free(m);
}

/* The requests, by "op". Those marked answered get one line back, in
 * order; the others never do (so the wrapper need not read after them). */
static const struct {
	const char *op;
	void (*fn)(struct mcp_client *m, const json_t *req);
} ops[] = {
	{ "decide", on_decide }, /* answered */
	{ "list", on_list }, /* answered */
	{ "uninspected", on_uninspected }, /* answered */
	{ "result", on_result },
	{ "record", on_record },
	{ "hello", on_hello },
};

static void on_read(struct bufferevent *bev, void *arg)
{
	struct mcp_client *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n, i;
	char *line;

	for (;;) {
		json_t *req;
		const char *op;

		if (evbuffer_get_length(bufferevent_get_output(bev)) > MCP_OUT_MAX) {
			bufferevent_disable(bev, EV_READ); /* on_write reads on */
			return;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (!line)
			break;
		req = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
		op = json_string_value(json_object_get(req, "op"));
		free(line);
		for (i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
			if (strcmp(op, ops[i].op) == 0)
				break;
		if (op && i < sizeof(ops) / sizeof(ops[0]))
			ops[i].fn(m, req);
		else
			client_send(
				m,
				json_pack(
					"{s:s}", "error",
					"unknown request: this socket only decides and records MCP tool calls"));
		json_decref(req);
	}
	if (evbuffer_get_length(in) > CONTROL_MCP_MAX_LINE)
		client_free(m);
}

/* The client read its answers down to half the bound: read on. */
static void on_write(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		on_read(bev, arg);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

/* Whether PID's cgroup is the session's or below it. */
static bool in_session(pid_t pid)
{
	const struct session_info *s = reactor_session();
	char file[64], line[PATH_MAX + 8], root[PATH_MAX];
	const char *rel;
	size_t n;
	FILE *f;
	bool yes = false;

	if (!s || !s->cgroup_path || cgroup_root(root, sizeof(root)) < 0)
		return false;
	n = strlen(root);
	if (strncmp(s->cgroup_path, root, n) != 0)
		return false;
	rel = s->cgroup_path + n;
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return false;
	n = strlen(rel);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0 && strncmp(line + 3, rel, n) == 0 &&
		    (line[3 + n] == '\0' || line[3 + n] == '/'))
			yes = true;
	}
	fclose(f);
	return yes;
}

/* A new MCP session id, a random UUID as Streamable HTTP servers give. */
static void session_id(char *out, size_t len)
{
	unsigned char r[16] = { 0 };

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		/* unique within the session all the same: the time and a counter */
		static unsigned n;
		int64_t t = record_now_ns();

		memcpy(r, &t, sizeof(t));
		memcpy(r + 8, &n, sizeof(n));
		n++;
	}
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct mcp_client *m;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || !in_session(cred.pid)) {
		static const char no[] = "{\"error\":\"not a process of this leash session\"}\n";

		if (write(fd, no, sizeof(no) - 1) < 0) {
			/* the peer is refused either way */
		}
		close(fd);
		return;
	}
	if (mcp_sock.nclients >= MCP_CLIENTS_MAX) {
		static const char full[] = "{\"error\":\"too many connections to this socket\"}\n";

		if (write(fd, full, sizeof(full) - 1) < 0) {
			/* closed either way */
		}
		close(fd);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->bev = bufferevent_socket_new(reactor_base(), fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(m);
		close(fd);
		return;
	}
	m->pid = cred.pid;
	session_id(m->session, sizeof(m->session));
	m->next = mcp_sock.clients;
	mcp_sock.clients = m;
	mcp_sock.nclients++;
	bufferevent_setcb(m->bev, on_read, on_write, on_event, m);
	bufferevent_setwatermark(m->bev, EV_WRITE, MCP_OUT_MAX / 2, 0);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
}

int control_mcp_start(const char *uuid, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (mkdir(CONTROL_MCP_DIR, 0711) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mcp: cannot create '%s': %s", CONTROL_MCP_DIR,
			 strerror(errno));
		return -errno;
	}
	snprintf(mcp_sock.path, sizeof(mcp_sock.path), "%s/%s.sock", CONTROL_MCP_DIR, uuid);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", mcp_sock.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	unlink(mcp_sock.path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(mcp_sock.path, 0600) < 0 ||
	    chown(mcp_sock.path, uid, gid) < 0)
		goto fail;
	mcp_sock.lst =
		evconnlistener_new(reactor_base(), on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 16, fd);
	if (!mcp_sock.lst)
		goto fail;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "mcp: cannot listen on '%s': %s", mcp_sock.path, strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(mcp_sock.path);
	}
	mcp_sock.path[0] = '\0';
	return rc ? rc : -EIO;
}

const char *control_mcp_path(void)
{
	return mcp_sock.lst ? mcp_sock.path : NULL;
}

void control_mcp_stop(void)
{
	while (mcp_sock.clients)
		client_free(mcp_sock.clients);
	if (mcp_sock.lst) {
		evconnlistener_free(mcp_sock.lst);
		unlink(mcp_sock.path);
	}
	memset(&mcp_sock, 0, sizeof(mcp_sock));
}
