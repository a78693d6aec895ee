/* control_mcp.c: McpCall decisions for stdio MCP servers (`leash mcp wrap`).
 *
 * Two doors onto one decision: the MCP socket (see control_mcp.h), which
 * the wrapper inside the sandbox uses, and POST /api/mcp/decide on the
 * control server (token required, like every control request). Both
 * decide as reactor/mcp.c does for HTTP: McpCall on MCP::Tool::"tool" in
 * MCP::Server::"stdio:<command>", context {method, server, arguments,
 * arguments_json}; not governed (no McpCall rule) or record mode: allow.
 * Both record mcp.call events in the HTTP path's shape.
 *
 * Why a socket of its own rather than the control server: the agent must
 * never reach the control server (it can change the policy and the mode),
 * but the wrapper runs as the agent. This socket can only decide and
 * record; it is a unix socket in a root-owned 0711 directory, owned by
 * the agent's user, and refuses peers outside the session's cgroup.
 * Held calls are per connection, at most MCP_HELD_MAX; past it the oldest
 * is recorded as "no response".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* A permitted call waiting for its result. */
struct held {
	int64_t call;
	struct record *ev; /* the event, all but outcome and duration */
	int64_t start_ns;
};

struct mcp_client {
	struct bufferevent *bev;
	pid_t pid;
	struct held held[MCP_HELD_MAX];
	size_t nheld;
	int64_t next_call;
	struct mcp_client *next;
};

static struct {
	struct evconnlistener *lst;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct mcp_client *clients;
} mcp_sock;

/* ---- deciding and recording ---------------------------------------------- */

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

/* The decision on REQ ({server, tool, arguments}), filled into V. */
static int decide(const char *server, const char *tool, const json_t *args,
		  struct policy_verdict *v)
{
	json_t *ctx;
	char *text;
	int rc;

	memset(v, 0, sizeof(*v));
	if (policy_mode() == MODE_RECORD || !governed()) {
		v->decision = DECISION_ALLOW;
		v->policies = json_array();
		v->reason = policy_mode() == MODE_RECORD ? "record mode" : "no McpCall rules";
		return 0;
	}
	text = json_dumps(args ? args : json_object(), JSON_COMPACT | JSON_ENCODE_ANY);
	ctx = json_pack("{s:s, s:s, s:o, s:s}", "method", "tools/call", "server", server,
			"arguments", json_is_object(args) ? mcp_cedar_value(args) : json_object(),
			"arguments_json", text ? text : "");
	free(text);
	if (!ctx)
		return -ENOMEM;
	rc = policy_decide_tool(tool, server, ctx, v);
	json_decref(ctx);
	return rc;
}

/* The mcp.call event of a decided call, as reactor/mcp.c builds it. */
static struct record *call_event(pid_t pid, const char *server, const char *tool,
				 const json_t *args, const json_t *id,
				 const struct policy_verdict *v)
{
	struct record *ev = record_new("mcp.call");
	char res[600];

	if (!ev)
		return NULL;
	if (pid > 0)
		ev->pid = pid;
	ev->action = "McpCall";
	snprintf(res, sizeof(res), "MCP::Tool::\"%s\"", tool);
	record_set_resource(ev, res);
	ev->decision = v->decision;
	ev->policies = json_incref(v->policies);
	json_object_set_new(ev->details, "server", json_string(server));
	json_object_set_new(ev->details, "transport", json_string("stdio"));
	json_object_set_new(ev->details, "method", json_string("tools/call"));
	json_object_set_new(ev->details, "direction", json_string("agent"));
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

static char *deny_message(const char *tool, const char *server, const struct policy_verdict *v)
{
	char *ids = json_dumps(v->policies, JSON_COMPACT), *msg = NULL;

	if (asprintf(&msg, "leash: MCP tool '%s' on %s denied by policy %s (%s)", tool, server,
		     ids && strcmp(ids, "[]") ? ids : "(default deny)", v->reason) < 0)
		msg = NULL;
	free(ids);
	return msg;
}

/* Decides REQ; the answer (new) has decision, policies, reason and, when
 * denied, message. *EV gets the call's event (the caller finishes it). */
static json_t *decide_request(const json_t *req, pid_t pid, struct record **ev)
{
	const char *server = json_string_value(json_object_get(req, "server"));
	const char *tool = json_string_value(json_object_get(req, "tool"));
	json_t *args = json_object_get(req, "arguments");
	struct policy_verdict v;
	json_t *ans;

	*ev = NULL;
	if (!server || !tool || !*tool)
		return json_pack("{s:s}", "error", "decide needs a string server and tool");
	if (decide(server, tool, args, &v) < 0) {
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
	*ev = call_event(pid, server, tool, args, json_object_get(req, "id"), &v);
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
	ans = decide_request(req, 0, &ev);
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

static void held_add(struct mcp_client *m, struct record *ev, int64_t call)
{
	if (m->nheld == MCP_HELD_MAX) {
		event_finish(m->held[0].ev, "no response", m->held[0].start_ns);
		memmove(&m->held[0], &m->held[1], (MCP_HELD_MAX - 1) * sizeof(m->held[0]));
		m->nheld--;
	}
	m->held[m->nheld++] = (struct held){ .call = call, .ev = ev, .start_ns = record_now_ns() };
}

static void on_decide(struct mcp_client *m, const json_t *req)
{
	struct record *ev;
	json_t *ans = decide_request(req, m->pid, &ev);

	if (ev && ev->decision == DECISION_DENY) {
		event_finish(ev, "denied", 0);
	} else if (ev && ans) {
		json_object_set_new(ans, "call", json_integer(++m->next_call));
		held_add(m, ev, m->next_call);
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
	for (size_t i = 0; ok && i < m->nheld; i++) {
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
		event_finish(ev, ok, m->held[i].start_ns);
		m->held[i] = m->held[--m->nheld];
		return;
	}
}

static void client_free(struct mcp_client *m)
{
	for (struct mcp_client **p = &mcp_sock.clients; *p; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			break;
		}
	}
	for (size_t i = 0; i < m->nheld; i++)
		event_finish(m->held[i].ev, "connection closed", m->held[i].start_ns);
	bufferevent_free(m->bev);
	free(m);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct mcp_client *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
		json_t *req = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
		const char *op = json_string_value(json_object_get(req, "op"));

		free(line);
		if (op && strcmp(op, "decide") == 0)
			on_decide(m, req);
		else if (op && strcmp(op, "result") == 0)
			on_result(m, req);
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
	m = calloc(1, sizeof(*m));
	if (!m || !(m->bev = bufferevent_socket_new(reactor_base(), fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(m);
		close(fd);
		return;
	}
	m->pid = cred.pid;
	m->next = mcp_sock.clients;
	mcp_sock.clients = m;
	bufferevent_setcb(m->bev, on_read, NULL, on_event, m);
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
