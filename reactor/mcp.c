/* mcp.c: MCP over HTTP, seen and governed in the proxy.
 *
 * MCP's HTTP transports carry JSON-RPC 2.0: POST bodies from the agent
 * (one message or a batch array), answered by application/json or by a
 * text/event-stream whose `data:` lines are messages; a GET stream with
 * Mcp-Session-Id carries what the server sends on its own; DELETE ends a
 * session. MCP is recognised by that shape, not by a content type or a
 * port.
 *
 * Requests. A request with a body is held, head and all (the upstream is
 * dialled meanwhile): if the first non-blank byte is not '{' or '[' it
 * cannot be JSON-RPC and is released at once; otherwise the body is held
 * whole, up to MCP_MAX_BODY (and MCP_MAX_HELD over all connections), and
 * parsed with jansson (duplicate keys refused, so leash and the server
 * cannot read one body two ways). A JSON-RPC call forbidden by policy is
 * never forwarded: leash answers it with a JSON-RPC error carrying the
 * call's own id (same JSON type), HTTP 200. In a batch only the forbidden
 * calls are answered by leash; the rest is forwarded (re-serialised) and
 * leash's errors are spliced into the server's answer. A body leash
 * cannot inspect (over the bound, compressed, or "jsonrpc" inside JSON
 * that does not parse) is refused in enforce mode when the policy governs
 * McpCall, and forwarded with an mcp.uninspected event otherwise: never
 * waved through silently.
 *
 * Responses to MCP requests (and every event stream, for its shape) are
 * parsed on the side, or, when leash changes them (errors to splice,
 * tools/list to filter), held per JSON body or per SSE event and written
 * by mcp (re-framed chunked, or close-delimited for HTTP/1.0 clients).
 * A GET's event stream is always written by mcp, whole event by whole
 * event, so its output ends at an event boundary whenever leash has to
 * add an event of its own.
 *
 * The older HTTP+SSE transport (2024-11-05) answers POSTs on a GET stream
 * whose `endpoint` event named the POST URL: mcp_sse.c remembers which
 * open stream each endpoint belongs to; a POST to a known endpoint has
 * leash's answers sent as events on that stream (and is answered 202),
 * and its forwarded calls are awaited there (their pending state moves to
 * the stream's connection). Nothing holds a pointer to another connection
 * except that registry, which forgets a stream when its response ends or
 * its connection starts another request or is freed.
 *
 * Events: mcp.call (tools/call: McpCall decision, policy ids, tool,
 * arguments redacted, outcome, duration), mcp.initialize, mcp.tools.list,
 * mcp.resources, mcp.prompts, mcp.notification, mcp.request (others),
 * mcp.session (a GET stream or DELETE), mcp.uninspected. A message with
 * an id is published when its response arrives (or the exchange ends
 * without one: outcome "no response").
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>

#include "log.h"
#include "mcp.h"
#include "mcp_sse.h"
#include "policy.h"
#include "proxy_int.h"
#include "reactor.h"

#define MCP_MAX_DEPTH 32 /* nesting of arguments given to Cedar as values */
#define MCP_MAX_ARGS_TEXT 4096 /* arguments kept in an event, bytes of JSON */

enum body_state {
	B_NONE, /* not held: the proxy relays */
	B_SNIFF, /* held, only blanks so far */
	B_JSON, /* held, starts like JSON */
	B_PASS, /* released: the proxy relays the rest */
};

enum resp_mode {
	R_NONE,
	R_JSON, /* a JSON body to an MCP request */
	R_SSE, /* an event stream */
};

struct buf {
	char *p;
	size_t n, cap;
};

/* A message with an id, forwarded, awaiting its response. */
struct call {
	json_t *id;
	json_t *ev; /* the event's details so far */
	const char *kind;
	char *tool; /* tools/call only */
	enum decision decision;
	json_t *policies;
	const char *reason;
	int64_t start_ns;
};

struct mcp_conn {
	/* the request */
	enum body_state body;
	struct buf held;
	bool is_mcp; /* the request carried JSON-RPC, or is a session stream */
	char session[160];
	struct call *calls;
	size_t ncalls;
	json_t *errors; /* leash's answers to splice into the response */
	bool list_pending; /* a tools/list is among the calls */
	bool legacy; /* a POST to an HTTP+SSE endpoint: answers come on its stream */
	/* the response */
	enum resp_mode resp;
	bool transform, broken, errors_sent;
	bool unread; /* JSON-RPC in the response that did not parse (too deep, ...) */
	struct buf rbuf; /* the JSON body, or the SSE event being read */
	size_t scan; /* SSE: bytes of rbuf already split into lines */
	struct buf data; /* SSE: the event's data lines, joined */
	char evname[32]; /* SSE: the event's type (`event:`) */
	bool stream; /* a GET's event stream, written by mcp event by event */
	bool announced; /* that stream announced an HTTP+SSE endpoint (mcp_sse.c) */
};

static bool governed;
static size_t held_total;

void mcp_set_governed(bool g)
{
	governed = g;
}

/* ---- small helpers -------------------------------------------------------- */

static int buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->n + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void held_free(struct mcp_conn *m)
{
	held_total -= m->held.n;
	buf_free(&m->held);
}

/* The character at P (of N bytes), a \uXXXX escape decoded; its length in
 * *LEN. */
static unsigned json_char(const char *p, size_t n, size_t *len)
{
	unsigned v = 0;

	*len = 1;
	if (n < 6 || p[0] != '\\' || p[1] != 'u')
		return (unsigned char)p[0];
	for (int i = 2; i < 6; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return (unsigned char)p[0];
		v = v << 4 | (isdigit((unsigned char)p[i]) ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	}
	*len = 6;
	return v;
}

/* Whether P (N bytes) may hold a "jsonrpc" key: JSON.parse reads
 * "\u006asonrpc" as "jsonrpc", so any of its letters may be escaped (the
 * quotes around a key cannot be). Too wide is fine: the body is parsed. */
static bool has_jsonrpc(const char *p, size_t n)
{
	static const char want[] = "jsonrpc";

	if (memmem(p, n, "\"jsonrpc\"", 9))
		return true;
	if (!memmem(p, n, "\\u", 2))
		return false;
	for (const char *q = memchr(p, '"', n); q; q = memchr(q + 1, '"', p + n - q - 1)) {
		const char *r = q + 1;
		size_t w = 0, len;

		while (w < sizeof(want) - 1 && r < p + n &&
		       json_char(r, p + n - r, &len) == (unsigned char)want[w]) {
			r += len;
			w++;
		}
		if (w == sizeof(want) - 1 && r < p + n && *r == '"')
			return true;
	}
	return false;
}

/* A UTF-8 byte order mark at the start of P: its length (raw-body and
 * body-parser, which the SDK's servers use, drop it before JSON.parse). */
static size_t bom_len(const char *p, size_t n)
{
	return n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* A charset other than UTF-8 in Content-Type CT: raw-body and body-parser
 * decode it (UTF-16 hides every byte leash looks for), leash does not.
 * Every "charset=" counts, so a quoted parameter cannot mask the real one. */
static bool foreign_charset(const char *ct)
{
	for (const char *cs = ct; cs && (cs = strcasestr(cs, "charset="));) {
		size_t n;

		cs += 8;
		cs += *cs == '"';
		n = strcspn(cs, "\"; \t");
		if (!((n == 5 && strncasecmp(cs, "utf-8", 5) == 0) ||
		      (n == 4 && strncasecmp(cs, "utf8", 4) == 0) ||
		      (n == 8 && strncasecmp(cs, "us-ascii", 8) == 0)))
			return true;
	}
	return false;
}

/* The header's entry in R, or NULL. */
static struct proxy_header *header_find(struct proxy_req *r, const char *name)
{
	for (size_t i = 0; i < r->nh; i++)
		if (r->h[i].name && strcasecmp(r->h[i].name, name) == 0)
			return &r->h[i];
	return NULL;
}

/* Drops every NAME header from R. */
static void header_drop(struct proxy_req *r, const char *name)
{
	struct proxy_header *h;

	while ((h = header_find(r, name))) {
		free(h->name);
		free(h->value);
		memmove(h, h + 1, (r->nh - (h - r->h) - 1) * sizeof(*h));
		r->nh--;
	}
}

static int header_set(struct proxy_req *r, const char *name, const char *value)
{
	struct proxy_header *h = header_find(r, name);

	if (!h) {
		h = realloc(r->h, (r->nh + 1) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		r->h = h;
		h = &r->h[r->nh++];
		memset(h, 0, sizeof(*h));
		if (!(h->name = strdup(name)))
			return -ENOMEM;
		h->nlen = strlen(name);
	}
	free(h->value);
	if (!(h->value = strdup(value)))
		return -ENOMEM;
	h->vlen = strlen(value);
	return 0;
}

static bool mode_filters(void)
{
	return governed && policy_mode() == MODE_ENFORCE;
}

/* ---- Cedar values and redaction ------------------------------------------ */

static json_t *cedar_value(const json_t *v, int depth)
{
	const char *key;
	json_t *val, *out;

	if (depth > MCP_MAX_DEPTH)
		goto as_text;
	switch (json_typeof(v)) {
	case JSON_REAL: {
		char num[64];

		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return json_string(num);
	}
	case JSON_ARRAY:
		out = json_array();
		for (size_t i = 0; out && i < json_array_size(v); i++) {
			const json_t *e = json_array_get(v, i);

			if (!json_is_null(e))
				json_array_append_new(out, cedar_value(e, depth + 1));
		}
		return out;
	case JSON_OBJECT:
		if (json_object_get(v, "__entity") || json_object_get(v, "__extn"))
			goto as_text;
		out = json_object();
		json_object_foreach((json_t *)v, key, val)
		{
			if (out && !json_is_null(val))
				json_object_set_new(out, key, cedar_value(val, depth + 1));
		}
		return out;
	default:
		return json_deep_copy(v);
	}
as_text : {
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	out = s ? json_string(s) : NULL;
	free(s);
	return out;
}
}

json_t *mcp_cedar_value(const json_t *v)
{
	return cedar_value(v, 0);
}

static bool secret_key(const char *k)
{
	static const char *const words[] = {
		"pass",	   "secret", "token",  "apikey",     "api_key",
		"api-key", "auth",   "cookie", "credential", "private"
	};
	char low[128];
	size_t i;

	for (i = 0; k[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)k[i]);
	low[i] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return true;
	return strcmp(low, "key") == 0;
}

static json_t *redact(const json_t *v, int depth)
{
	const char *key;
	json_t *val, *out;

	if (depth > MCP_MAX_DEPTH)
		return json_string("[too deep]");
	if (json_is_string(v) && strstr(json_string_value(v), "leash-placeholder-"))
		return json_string("[redacted]");
	if (json_is_array(v)) {
		out = json_array();
		for (size_t i = 0; out && i < json_array_size(v); i++)
			json_array_append_new(out, redact(json_array_get(v, i), depth + 1));
		return out;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	out = json_object();
	json_object_foreach((json_t *)v, key, val)
	{
		if (!out)
			break;
		if (secret_key(key) && !json_is_object(val) && !json_is_array(val))
			json_object_set_new(out, key, json_string("[redacted]"));
		else
			json_object_set_new(out, key, redact(val, depth + 1));
	}
	return out;
}

json_t *mcp_redact(const json_t *v)
{
	return redact(v, 0);
}

/* ---- events -------------------------------------------------------------- */

void mcp_request_details(json_t *d, const char *method, const json_t *params)
{
	if (strcmp(method, "initialize") == 0) {
		json_t *ci = json_object_get(params, "clientInfo");

		json_object_set(d, "client_name", json_object_get(ci, "name"));
		json_object_set(d, "client_version", json_object_get(ci, "version"));
		json_object_set(d, "protocol_version", json_object_get(params, "protocolVersion"));
	} else if (strncmp(method, "resources/", 10) == 0 && json_object_get(params, "uri")) {
		json_object_set(d, "uri", json_object_get(params, "uri"));
	} else if (strncmp(method, "prompts/", 8) == 0 && json_object_get(params, "name")) {
		json_object_set(d, "name", json_object_get(params, "name"));
	}
}

const char *mcp_event_kind(const char *method)
{
	if (strcmp(method, "tools/call") == 0)
		return "mcp.call";
	if (strcmp(method, "tools/list") == 0)
		return "mcp.tools.list";
	if (strcmp(method, "initialize") == 0)
		return "mcp.initialize";
	if (strncmp(method, "resources/", 10) == 0)
		return "mcp.resources";
	if (strncmp(method, "prompts/", 8) == 0)
		return "mcp.prompts";
	if (strncmp(method, "notifications/", 14) == 0)
		return "mcp.notification";
	return "mcp.request";
}

/* The details every mcp.* event of C starts with. */
static json_t *details_new(struct proxy_conn *c, const char *method, const char *direction)
{
	json_t *d = json_object();
	char path[2048];

	snprintf(path, sizeof(path), "%s", c->req.path);
	path[strcspn(path, "?")] = '\0';
	json_object_set_new(d, "server", json_string(c->req.host));
	json_object_set_new(d, "port", json_integer(c->req.port));
	json_object_set_new(d, "path", record_json_text(path, strlen(path)));
	if (method)
		json_object_set_new(d, "method", record_json_text(method, strlen(method)));
	json_object_set_new(d, "direction", json_string(direction));
	if (c->mcp && c->mcp->session[0])
		json_object_set_new(d, "session", json_string(c->mcp->session));
	if (c->mcp && (c->mcp->legacy || c->mcp->announced))
		json_object_set_new(d, "transport", json_string("sse"));
	return d;
}

static void publish(struct proxy_conn *c, const char *kind, const char *tool, json_t *details,
		    enum decision d, json_t *policies, const char *reason)
{
	struct record *ev = record_new(kind);
	char res[600];

	if (!ev) {
		json_decref(details);
		return;
	}
	if (c->pid)
		ev->pid = c->pid;
	if (tool) {
		ev->action = "McpCall";
		snprintf(res, sizeof(res), "MCP::Tool::\"%s\"", tool);
	} else {
		snprintf(res, sizeof(res), "MCP::Server::\"%s\"", c->req.host);
	}
	record_set_resource(ev, res);
	ev->decision = d;
	ev->policies = policies ? json_incref(policies) : tool ? json_array() : NULL;
	if (reason)
		json_object_set_new(details, "reason", json_string(reason));
	json_object_update(ev->details, details);
	json_decref(details);
	reactor_publish(ev);
}

static void call_publish(struct proxy_conn *c, struct call *k, const char *outcome)
{
	json_object_set_new(k->ev, "outcome", json_string(outcome));
	json_object_set_new(k->ev, "duration_ms",
			    json_real((double)(record_now_ns() - k->start_ns) / 1e6));
	publish(c, k->kind, k->tool, k->ev, k->decision, k->policies, k->reason);
	k->ev = NULL;
	json_decref(k->id);
	json_decref(k->policies);
	free(k->tool);
}

/* Publishes every call still waiting, with OUTCOME. */
static void calls_flush(struct proxy_conn *c, const char *outcome)
{
	struct mcp_conn *m = c->mcp;

	for (size_t i = 0; i < m->ncalls; i++)
		call_publish(c, &m->calls[i], outcome);
	free(m->calls);
	m->calls = NULL;
	m->ncalls = 0;
	m->list_pending = false;
}

/* ---- deciding a call ------------------------------------------------------ */

struct verdict {
	enum decision decision;
	json_t *policies; /* owned */
	const char *reason;
	bool errored; /* a policy's condition errored (reads absent context) */
};

/* McpCall on TOOL at C's server; for a call (WITH_ARGS) the context has
 * the arguments (ARGS or {}), for a listing it has none. */
static int decide(struct proxy_conn *c, const char *tool, const json_t *args, bool with_args,
		  struct verdict *out)
{
	struct policy_verdict v;
	json_t *ctx;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!governed || policy_mode() == MODE_RECORD) {
		out->decision = DECISION_ALLOW;
		out->policies = json_array();
		out->reason = policy_mode() == MODE_RECORD ? "record mode" : "no McpCall rules";
		return 0;
	}
	ctx = json_object();
	json_object_set_new(ctx, "method", json_string(with_args ? "tools/call" : "tools/list"));
	json_object_set_new(ctx, "server", json_string(c->req.host));
	if (with_args) {
		char *text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);

		json_object_set_new(ctx, "arguments",
				    json_is_object(args) ? mcp_cedar_value(args) : json_object());
		json_object_set_new(ctx, "arguments_json", json_string(text ? text : ""));
		free(text);
	}
	rc = policy_decide_tool(tool, c->req.host, ctx, &v);
	json_decref(ctx);
	if (rc < 0)
		return rc;
	out->decision = v.decision;
	out->policies = v.policies;
	out->reason = v.reason;
	out->errored = v.errors && json_array_size(v.errors);
	v.policies = NULL;
	policy_verdict_free(&v);
	return 0;
}

static json_t *rpc_error(const json_t *id, int code, const char *message)
{
	json_t *e = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
			      id ? id : json_null(), "error", "code", code, "message", message);

	return e;
}

/* One message from the agent. Appends it to FWD (forward) or its answer to
 * ANS (leash answers), and records or queues its event. */
static void request_msg(struct proxy_conn *c, json_t *msg, json_t *fwd, json_t *ans, char *why,
			size_t whylen)
{
	struct mcp_conn *m = c->mcp;
	json_t *id = json_object_get(msg, "id");
	json_t *params = json_object_get(msg, "params");
	const char *method = json_string_value(json_object_get(msg, "method"));
	const char *tool = NULL;
	struct verdict v = { .decision = DECISION_NONE };
	json_t *d, *args = NULL;
	struct call *k;

	if (!method) { /* a response to a server's request, or not JSON-RPC */
		json_array_append(fwd, msg);
		return;
	}
	d = details_new(c, method, "agent");
	if (id)
		json_object_set(d, "id", id);
	if (strcmp(method, "tools/call") == 0) {
		tool = json_string_value(json_object_get(params, "name"));
		args = json_object_get(params, "arguments");
		if (args) {
			json_t *r = mcp_redact(args);
			char *text = json_dumps(r, JSON_COMPACT);

			if (text && strlen(text) > MCP_MAX_ARGS_TEXT)
				json_object_set_new(d, "arguments",
						    record_json_text(text, MCP_MAX_ARGS_TEXT));
			else
				json_object_set(d, "arguments", r);
			free(text);
			json_decref(r);
		}
		if (!tool || !*tool) {
			/* No tool to decide on: refused where McpCall is governed. */
			json_object_set_new(d, "tool", json_null());
			if (mode_filters()) {
				json_array_append_new(
					ans, rpc_error(id, -32602,
						       "leash: tools/call without a tool name"));
				json_object_set_new(d, "outcome", json_string("denied"));
				publish(c, "mcp.call", "", d, DECISION_DENY, NULL, "no tool name");
				return;
			}
			tool = "";
		}
		json_object_set_new(d, "tool", json_string(tool));
		if (decide(c, tool, args, true, &v) < 0) {
			v.decision = mode_filters() ? DECISION_DENY : DECISION_WOULD_DENY;
			v.policies = json_array();
			v.reason = "out of memory";
		}
		if (v.decision == DECISION_DENY) {
			char msgtext[700], *ids = json_dumps(v.policies, JSON_COMPACT);

			snprintf(msgtext, sizeof(msgtext),
				 "leash: MCP tool '%s' on %s denied by policy %s (%s)", tool,
				 c->req.host, ids && strcmp(ids, "[]") ? ids : "(default deny)",
				 v.reason);
			free(ids);
			snprintf(why, whylen, "%s", msgtext);
			if (id)
				json_array_append_new(ans, rpc_error(id, -32000, msgtext));
			json_object_set_new(d, "outcome", json_string("denied"));
			json_object_set_new(d, "duration_ms", json_real(0));
			publish(c, "mcp.call", tool, d, v.decision, v.policies, v.reason);
			json_decref(v.policies);
			return;
		}
	} else {
		mcp_request_details(d, method, params);
	}
	json_array_append(fwd, msg);
	if (!id) { /* a notification: nothing comes back */
		publish(c, mcp_event_kind(method), tool, d, v.decision, v.policies, v.reason);
		json_decref(v.policies);
		return;
	}
	k = realloc(m->calls, (m->ncalls + 1) * sizeof(*k));
	if (!k) {
		publish(c, mcp_event_kind(method), tool, d, v.decision, v.policies, v.reason);
		json_decref(v.policies);
		return;
	}
	m->calls = k;
	k = &m->calls[m->ncalls++];
	memset(k, 0, sizeof(*k));
	k->id = json_incref(id);
	k->ev = d;
	k->kind = mcp_event_kind(method);
	k->tool = tool ? strdup(tool) : NULL;
	k->decision = v.decision;
	k->policies = v.policies;
	k->reason = v.reason;
	k->start_ns = c->req.start_ns;
	if (strcmp(method, "tools/list") == 0)
		m->list_pending = true;
}

/* ---- the older HTTP+SSE transport ------------------------------------------ */

static void emit(struct proxy_conn *c, const char *p, size_t n);

/* MSG as one SSE `message` event on C's response. */
static void sse_message(struct proxy_conn *c, const json_t *msg)
{
	char *t = json_dumps(msg, JSON_COMPACT);
	struct buf b = { 0 };

	if (t && buf_add(&b, "event: message\ndata: ", 21) == 0 && buf_add(&b, t, strlen(t)) == 0 &&
	    buf_add(&b, "\n\n", 2) == 0)
		emit(c, b.p, b.n);
	free(t);
	buf_free(&b);
}

/* The endpoint key of C's request (origin, path and query). */
static int request_key(struct proxy_conn *c, char *key, size_t keylen)
{
	return mcp_sse_key(c->tls ? "https" : "http", c->req.host, c->req.port, c->req.path, key,
			   keylen);
}

/* Sends MSGS (leash's answers) on stream S as SSE events. The stream is
 * written by mcp whole event by whole event, so S's output always ends
 * at an event boundary and these never split one of the server's.
 * -EPIPE when S can no longer carry them. */
static int stream_send(struct proxy_conn *s, const json_t *msgs)
{
	struct mcp_conn *sm = s->mcp;

	if (!sm || !sm->stream || sm->broken || !sm->transform || !s->cli || !s->up || s->resp_done)
		return -EPIPE;
	for (size_t i = 0; i < json_array_size(msgs); i++)
		sse_message(s, json_array_get(msgs, i));
	return 0;
}

/* The calls C forwards are answered on stream S: S awaits them. */
static void calls_move(struct proxy_conn *c, struct proxy_conn *s)
{
	struct mcp_conn *m = c->mcp, *sm = s->mcp;
	struct call *k;

	if (!m->ncalls)
		return;
	k = realloc(sm->calls, (sm->ncalls + m->ncalls) * sizeof(*k));
	if (!k)
		return; /* left on C: published "no response" when its POST ends */
	memcpy(k + sm->ncalls, m->calls, m->ncalls * sizeof(*k));
	sm->calls = k;
	sm->ncalls += m->ncalls;
	sm->list_pending |= m->list_pending;
	free(m->calls);
	m->calls = NULL;
	m->ncalls = 0;
	m->list_pending = false;
}

/* C's stream announced URL (an `endpoint` event): POSTs to it are tied
 * to C from now on. */
static void stream_announce(struct proxy_conn *c, const char *url)
{
	struct mcp_conn *m = c->mcp;
	struct mcp_sse_endpoint *e;
	char key[4200];
	json_t *d;
	int rc = mcp_sse_resolve(c->tls ? "https" : "http", c->req.host, c->req.port, c->req.path,
				 url, key, sizeof(key));

	if (rc == 0 && !(e = mcp_sse_register(key, c)))
		rc = -ENOMEM;
	if (rc == 0) {
		m->announced = m->is_mcp = true;
		snprintf(m->session, sizeof(m->session), "%s", e->session);
		if (e->ambiguous)
			rc = -EEXIST;
	}
	d = details_new(c, NULL, "server");
	json_object_set_new(d, "event", json_string("stream"));
	json_object_set_new(d, "transport", json_string("sse"));
	json_object_set_new(d, "endpoint", record_json_text(url, strcspn(url, "\r\n")));
	publish(c, "mcp.session", NULL, d, DECISION_NONE, NULL,
		rc == 0 ? NULL
		: rc == -EINVAL
			? "endpoint on another origin: its POSTs are not tied to this stream"
		: rc == -EEXIST ? "endpoint announced on two open streams: tied to neither"
				: "endpoint not registered");
}

/* C's stream ends (or C goes away): POSTs no longer find it. */
static void stream_end(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;

	if (m->announced)
		mcp_sse_detach(c);
	m->announced = m->stream = false;
}

/* ---- the request ---------------------------------------------------------- */

/* Writes the held head and body to upstream; the proxy relays the rest. */
static void release(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;
	struct evbuffer *out = bufferevent_get_output(c->up);

	if (m->is_mcp)
		header_drop(&c->req, "Accept-Encoding"); /* so leash can read the answer */
	proxy_req_write_head(c, out);
	if (m->held.n)
		proxy_body_write(out, c->req.chunked, m->held.p, m->held.n);
	held_free(m);
	m->body = B_PASS;
}

static void uninspected(struct proxy_conn *c, const char *why, bool refuse)
{
	json_t *d = details_new(c, NULL, "agent");
	enum decision dec = DECISION_NONE;

	json_object_set_new(d, "bytes", json_integer((json_int_t)c->req.bytes_out));
	if (governed && policy_mode() != MODE_RECORD)
		dec = policy_mode() == MODE_ENFORCE ? DECISION_DENY : DECISION_WOULD_DENY;
	if (dec != DECISION_NONE && !refuse)
		dec = DECISION_WOULD_DENY;
	publish(c, "mcp.uninspected", NULL, d, dec, NULL, why);
}

/* Answers the request from leash: STATUS with the JSON BODY (stolen), then
 * the proxy records the request (reason WHY) and closes. */
static void answer(struct proxy_conn *c, int status, json_t *body, const char *why)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;

	json_decref(body);
	if (!body)
		status = 202; /* only notifications: nothing to answer */
	evbuffer_add_printf(bufferevent_get_output(c->cli),
			    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			    status,
			    status == 200   ? "OK"
			    : status == 202 ? "Accepted"
					    : "Error",
			    n);
	if (text)
		evbuffer_add(bufferevent_get_output(c->cli), text, n);
	free(text);
	c->resp_started = true;
	c->req.status = status;
	c->refuse_status = status;
	snprintf(c->refuse_why, sizeof(c->refuse_why), "%s", why);
	held_free(c->mcp);
	c->mcp->body = B_PASS;
}

/* A body leash will not inspect: refused (true) or released. */
static bool cannot_inspect(struct proxy_conn *c, const char *why)
{
	char msg[300];

	if (mode_filters()) {
		uninspected(c, why, true);
		snprintf(msg, sizeof(msg), "leash: request refused: %s", why);
		answer(c, 413, rpc_error(NULL, -32600, msg), msg);
		http_parser_pause(&c->rp, 1);
		return true;
	}
	uninspected(c, why, false);
	release(c);
	return false;
}

int mcp_req_head(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;
	const char *sid = proxy_req_header(&c->req, "Mcp-Session-Id");
	const char *cl = proxy_req_header(&c->req, "Content-Length");
	const char *ce = proxy_req_header(&c->req, "Content-Encoding");
	const char *accept = proxy_req_header(&c->req, "Accept");
	const char *ct = proxy_req_header(&c->req, "Content-Type");

	if (!m && !(m = c->mcp = calloc(1, sizeof(*m))))
		return 0;
	if (m->ncalls)
		calls_flush(c, "no response");
	stream_end(c);
	held_free(m);
	json_decref(m->errors);
	m->errors = NULL;
	m->is_mcp = m->legacy = false;
	m->body = B_NONE;
	snprintf(m->session, sizeof(m->session), "%s", sid ? sid : "");
	if (sid && (c->req.method == HTTP_GET || c->req.method == HTTP_DELETE)) {
		json_t *d = details_new(c, NULL, "agent");

		json_object_set_new(d, "event",
				    json_string(c->req.method == HTTP_GET ? "stream" : "end"));
		publish(c, "mcp.session", NULL, d, DECISION_NONE, NULL, NULL);
		m->is_mcp = true;
		header_drop(&c->req, "Accept-Encoding");
		return 0;
	}
	if (c->req.method == HTTP_GET && accept && strcasestr(accept, "text/event-stream")) {
		/* Perhaps an HTTP+SSE stream: leash must read its events. */
		header_drop(&c->req, "Accept-Encoding");
		return 0;
	}
	if (!c->req.chunked && (!cl || strtoull(cl, NULL, 10) == 0))
		return 0;
	if ((ce && strcasecmp(ce, "identity") != 0) || foreign_charset(ct)) {
		/* Compressed JSON (or untyped) bodies could hide a call, and so
		 * could JSON in a charset the server decodes and leash does not. */
		if (!mode_filters() || (ct && !strcasestr(ct, "json")))
			return 0;
		m->body = B_SNIFF;
		return cannot_inspect(
			       c, ce && strcasecmp(ce, "identity") != 0
					  ? "a compressed body (Content-Encoding) is not inspected"
					  : "a body in a charset other than UTF-8 is not inspected")
			       ? 1
			       : 0;
	}
	if (proxy_req_header(&c->req, "Expect")) {
		/* The client waits for 100 before sending the body leash holds. */
		evbuffer_add_printf(bufferevent_get_output(c->cli),
				    "HTTP/1.1 100 Continue\r\n\r\n");
		header_drop(&c->req, "Expect");
	}
	m->body = B_SNIFF;
	return 1;
}

bool mcp_req_body(struct proxy_conn *c, const char *at, size_t len)
{
	struct mcp_conn *m = c->mcp;
	size_t i = 0;

	if (m->body == B_NONE || m->body == B_PASS)
		return false;
	if (m->body == B_SNIFF) {
		if (!m->held.n)
			i = bom_len(at, len);
		while (i < len && isspace((unsigned char)at[i]))
			i++;
		if (i < len && at[i] != '{' && at[i] != '[') {
			release(c);
			return false;
		}
		if (i < len)
			m->body = B_JSON;
	}
	if (m->held.n + len > MCP_MAX_BODY || held_total + len > MCP_MAX_HELD ||
	    buf_add(&m->held, at, len) < 0) {
		char why[160];

		snprintf(why, sizeof(why), "a JSON body over %u bytes is not inspected",
			 m->held.n + len > MCP_MAX_BODY ? MCP_MAX_BODY : MCP_MAX_HELD);
		if (!cannot_inspect(c, why))
			proxy_body_write(bufferevent_get_output(c->up), c->req.chunked, at, len);
		return true;
	}
	held_total += len;
	return true;
}

/* Replaces the held body by BODY (forwarded re-serialised). */
static void rewrite_body(struct proxy_conn *c, const json_t *body)
{
	struct mcp_conn *m = c->mcp;
	char *text = json_dumps(body, JSON_COMPACT), num[32];

	held_free(m);
	if (text) {
		buf_add(&m->held, text, strlen(text));
		held_total += m->held.n;
	}
	free(text);
	snprintf(num, sizeof(num), "%zu", m->held.n);
	if (!c->req.chunked)
		header_set(&c->req, "Content-Length", num);
}

/* The end of a POST to an HTTP+SSE endpoint whose request is ROOT: what
 * leash answers itself (ANS) goes as SSE events on the endpoint's stream
 * now, the calls forwarded (FWD) are awaited there, and the POST is
 * answered 202 as the server would. When the stream is gone, the POST is
 * refused 403 with leash's answers in its body, so the client sees them
 * in its failed POST. True when leash answered the POST. */
static bool legacy_end(struct proxy_conn *c, json_t *root, json_t *fwd, json_t *ans,
		       bool has_request, const char *why)
{
	bool batch = json_is_array(root), shared = false;
	struct mcp_sse_endpoint *e;
	struct proxy_conn *s = NULL;
	char key[4200];

	if (request_key(c, key, sizeof(key)) == 0 && (e = mcp_sse_find(key))) {
		s = e->stream;
		shared = e->ambiguous;
	}
	if (s && json_array_size(ans) && stream_send(s, ans) < 0)
		s = NULL;
	if (!s && json_array_size(ans)) {
		char msg[800];

		snprintf(msg, sizeof(msg), "%s (%s)", why,
			 shared ? "its endpoint was announced on two MCP event streams"
				: "its MCP event stream is closed");
		answer(c, 403, batch ? json_incref(ans) : json_incref(json_array_get(ans, 0)), msg);
		return true;
	}
	if (s)
		calls_move(c, s);
	if (json_array_size(ans) == 0 &&
	    json_array_size(fwd) == (batch ? json_array_size(root) : 1)) {
		release(c);
		return false;
	}
	if (!has_request) {
		answer(c, 202, NULL, why[0] ? why : "leash: MCP request refused");
		return true;
	}
	rewrite_body(c, fwd);
	release(c);
	return false;
}

bool mcp_req_end(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;
	json_t *root, *fwd, *ans;
	json_error_t jerr;
	bool batch, has_request = false;
	char why[700] = "";
	size_t bom;

	if (m->body == B_NONE || m->body == B_PASS)
		return false;
	if (m->body == B_SNIFF || !has_jsonrpc(m->held.p, m->held.n)) {
		release(c);
		return false;
	}
	bom = bom_len(m->held.p, m->held.n);
	root = json_loadb(m->held.p + bom, m->held.n - bom, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, sizeof(why), "JSON-RPC that does not parse (%s)", jerr.text);
		return cannot_inspect(c, why);
	}
	batch = json_is_array(root);
	if (!(batch ? json_array_size(root) > 0 : json_is_object(root))) {
		json_decref(root);
		release(c);
		return false;
	}
	if (c->req.method == HTTP_POST) {
		struct mcp_sse_endpoint *e;
		char key[4200];

		if (request_key(c, key, sizeof(key)) == 0 && (e = mcp_sse_find(key))) {
			m->legacy = true;
			snprintf(m->session, sizeof(m->session), "%s", e->session);
		}
	}
	fwd = json_array();
	ans = json_array();
	for (size_t i = 0; i < (batch ? json_array_size(root) : 1); i++) {
		json_t *msg = batch ? json_array_get(root, i) : root;

		if (json_is_object(msg) && json_is_string(json_object_get(msg, "jsonrpc"))) {
			m->is_mcp = true;
			request_msg(c, msg, fwd, ans, why, sizeof(why));
		} else {
			json_array_append(fwd, msg);
		}
	}
	for (size_t i = 0; i < json_array_size(fwd); i++) {
		json_t *msg = json_array_get(fwd, i);

		has_request |= json_object_get(msg, "method") && json_object_get(msg, "id");
	}
	if (m->legacy) {
		bool answered = legacy_end(c, root, fwd, ans, has_request, why);

		json_decref(root);
		json_decref(fwd);
		json_decref(ans);
		return answered;
	}
	if (json_array_size(ans) == 0 &&
	    json_array_size(fwd) == (batch ? json_array_size(root) : 1)) {
		release(c); /* nothing refused: the body goes as it came */
	} else if (!has_request) {
		/* Nothing left that the server would answer: leash answers all
		 * (notifications left in the batch are not forwarded). */
		json_t *body = !json_array_size(ans) ? NULL
			       : batch		     ? json_incref(ans)
						     : json_incref(json_array_get(ans, 0));

		if (!why[0])
			snprintf(why, sizeof(why), "leash: MCP request refused");
		if (json_array_size(fwd))
			log_debug("mcp: %zu notification(s) dropped with a refused batch",
				  json_array_size(fwd));
		answer(c, 200, body, why);
		json_decref(root);
		json_decref(fwd);
		json_decref(ans);
		return true;
	} else {
		rewrite_body(c, fwd);
		m->errors = json_incref(ans);
		release(c);
	}
	json_decref(root);
	json_decref(fwd);
	json_decref(ans);
	return false;
}

/* ---- the response ----------------------------------------------------------- */

static void emit(struct proxy_conn *c, const char *p, size_t n)
{
	if (n)
		proxy_body_write(bufferevent_get_output(c->cli), c->resp_chunked, p, n);
}

/* Hides from a tools/list RESULT the tools the policy denies whatever their
 * arguments (enforce), or lists them (shadow). Returns the names. */
static json_t *filter_tools(struct proxy_conn *c, json_t *result, bool *changed)
{
	json_t *tools = json_object_get(result, "tools"), *hidden = json_array(), *keep;

	if (!json_is_array(tools) || !governed || policy_mode() == MODE_RECORD)
		return hidden;
	keep = json_array();
	for (size_t i = 0; i < json_array_size(tools); i++) {
		json_t *t = json_array_get(tools, i);
		const char *name = json_string_value(json_object_get(t, "name"));
		struct verdict v;

		if (name && decide(c, name, NULL, false, &v) == 0) {
			bool deny = v.decision != DECISION_ALLOW && !v.errored;

			json_decref(v.policies);
			if (deny) {
				json_array_append_new(hidden, json_string(name));
				if (policy_mode() == MODE_ENFORCE)
					continue;
			}
		}
		json_array_append(keep, t);
	}
	if (policy_mode() == MODE_ENFORCE && json_array_size(hidden)) {
		json_object_set(result, "tools", keep);
		*changed = true;
	}
	json_decref(keep);
	return hidden;
}

/* One message from the server. *CHANGED when leash rewrote it. */
static void response_msg(struct proxy_conn *c, json_t *msg, bool *changed)
{
	struct mcp_conn *m = c->mcp;
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id"), *result = json_object_get(msg, "result");
	json_t *err = json_object_get(msg, "error");
	struct call *k = NULL;
	size_t i;

	if (method) { /* the server's own request or notification */
		json_t *d = details_new(c, method, "server");

		if (id)
			json_object_set(d, "id", id);
		publish(c, mcp_event_kind(method), NULL, d, DECISION_NONE, NULL, NULL);
		return;
	}
	for (i = 0; id && i < m->ncalls; i++)
		if (json_equal(m->calls[i].id, id)) {
			k = &m->calls[i];
			break;
		}
	if (!k)
		return;
	if (err) {
		json_object_set(k->ev, "error_code", json_object_get(err, "code"));
		json_object_set(k->ev, "error_message", json_object_get(err, "message"));
	}
	if (strcmp(k->kind, "mcp.call") == 0 && json_is_true(json_object_get(result, "isError")))
		json_object_set_new(k->ev, "is_error", json_true());
	if (strcmp(k->kind, "mcp.initialize") == 0 && result) {
		json_t *si = json_object_get(result, "serverInfo");

		json_object_set(k->ev, "server_name", json_object_get(si, "name"));
		json_object_set(k->ev, "server_version", json_object_get(si, "version"));
		json_object_set(k->ev, "protocol_version",
				json_object_get(result, "protocolVersion"));
		if (m->session[0])
			json_object_set_new(k->ev, "session", json_string(m->session));
	}
	if (strcmp(k->kind, "mcp.tools.list") == 0 && result) {
		json_t *hidden = filter_tools(c, result, changed);

		json_object_set_new(k->ev, "tools",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(result, "tools"))));
		if (json_array_size(hidden))
			json_object_set(k->ev,
					policy_mode() == MODE_ENFORCE ? "hidden" : "would_hide",
					hidden);
		json_decref(hidden);
	}
	call_publish(c, k,
		     err						? "error"
		     : json_is_true(json_object_get(result, "isError")) ? "tool_error"
									: "result");
	memmove(k, k + 1, (m->ncalls - (k - m->calls) - 1) * sizeof(*k));
	m->ncalls--;
}

/* The messages of one JSON text (an object or a batch). NULL when not
 * JSON-RPC; else the parsed root, rewritten in place when *CHANGED. */
static json_t *response_text(struct proxy_conn *c, const char *p, size_t n, bool *changed)
{
	json_t *root;

	if (!has_jsonrpc(p, n))
		return NULL;
	if (!(root = json_loadb(p, n, 0, NULL))) {
		/* relayed as it came; its calls end "not inspected", not
		 * "no response": an answer came that leash could not read */
		c->mcp->unread = true;
		return NULL;
	}
	if (json_is_object(root)) {
		response_msg(c, root, changed);
	} else if (json_is_array(root)) {
		for (size_t i = 0; i < json_array_size(root); i++)
			if (json_is_object(json_array_get(root, i)))
				response_msg(c, json_array_get(root, i), changed);
	}
	return root;
}

/* Writes leash's spliced errors as SSE events, once. */
static void sse_errors(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;

	if (m->errors_sent || !m->errors)
		return;
	m->errors_sent = true;
	for (size_t i = 0; i < json_array_size(m->errors); i++)
		sse_message(c, json_array_get(m->errors, i));
}

/* One whole SSE event, RAW (with its blank line), data in m->data. */
static void sse_event(struct proxy_conn *c, const char *raw, size_t n)
{
	struct mcp_conn *m = c->mcp;
	bool changed = false;
	json_t *root = NULL;
	char *text;

	if (m->stream && !m->announced && strcmp(m->evname, "endpoint") == 0 && m->data.n)
		stream_announce(c, m->data.p);
	else if (m->data.n)
		root = response_text(c, m->data.p, m->data.n - 1, &changed);
	if (!m->transform) {
		json_decref(root);
		return;
	}
	if (!changed || !(text = json_dumps(root, JSON_COMPACT))) {
		emit(c, raw, n);
		json_decref(root);
		return;
	}
	/* The event's other lines as they were, then the new data line. */
	for (const char *l = raw, *end = raw + n; l < end;) {
		const char *nl = memchr(l, '\n', end - l);
		size_t ll = nl ? (size_t)(nl - l) + 1 : (size_t)(end - l);

		if (strncmp(l, "data:", 5) != 0 && !(ll == 1 || (ll == 2 && l[0] == '\r')))
			emit(c, l, ll);
		l += ll;
	}
	emit(c, "data: ", 6);
	emit(c, text, strlen(text));
	emit(c, "\n\n", 2);
	free(text);
	json_decref(root);
}

static void sse_feed(struct proxy_conn *c, const char *at, size_t len)
{
	struct mcp_conn *m = c->mcp;

	if (buf_add(&m->rbuf, at, len) < 0)
		goto broken;
	for (;;) {
		char *p = m->rbuf.p, *nl = memchr(p + m->scan, '\n', m->rbuf.n - m->scan);
		size_t ls = m->scan, le;

		if (!nl)
			break;
		le = nl - p;
		m->scan = le + 1;
		if (le > ls && p[le - 1] == '\r')
			le--;
		if (le == ls) { /* a blank line ends the event */
			sse_event(c, p, m->scan);
			m->rbuf.n -= m->scan;
			memmove(p, p + m->scan, m->rbuf.n);
			m->scan = 0;
			m->data.n = 0;
			m->evname[0] = '\0';
			continue;
		}
		if (le - ls >= 6 && memcmp(p + ls, "event:", 6) == 0) {
			size_t v = ls + 6 + (le > ls + 6 && p[ls + 6] == ' ');

			snprintf(m->evname, sizeof(m->evname), "%.*s", (int)(le - v), p + v);
		}
		if (le - ls >= 5 && memcmp(p + ls, "data:", 5) == 0) {
			size_t v = ls + 5 + (le > ls + 5 && p[ls + 5] == ' ');

			if (buf_add(&m->data, p + v, le - v) < 0 || buf_add(&m->data, "\n", 1) < 0)
				goto broken;
		}
	}
	if (m->rbuf.n <= MCP_MAX_BODY)
		return;
broken:
	/* An event too large to hold: relayed as is, the stream unparsed. */
	if (m->transform)
		emit(c, m->rbuf.p, m->rbuf.n);
	buf_free(&m->rbuf);
	buf_free(&m->data);
	m->broken = true;
}

void mcp_resp_head(struct proxy_conn *c, const struct http_parser *p)
{
	struct mcp_conn *m = c->mcp;
	const char *ct = proxy_req_header(&c->resp, "Content-Type");
	const char *ce = proxy_req_header(&c->resp, "Content-Encoding");
	const char *sid = proxy_req_header(&c->resp, "Mcp-Session-Id");

	if (p->status_code < 200 || p->status_code == 101)
		return;
	buf_free(&m->rbuf);
	buf_free(&m->data);
	m->scan = 0;
	m->evname[0] = '\0';
	m->resp = R_NONE;
	m->transform = m->broken = m->errors_sent = m->stream = m->unread = false;
	if (sid && m->is_mcp)
		snprintf(m->session, sizeof(m->session), "%s", sid);
	if (!ct || (ce && strcasecmp(ce, "identity") != 0))
		return;
	if (strncasecmp(ct, "text/event-stream", 17) == 0)
		m->resp = R_SSE;
	else if (m->is_mcp && strcasestr(ct, "json"))
		m->resp = R_JSON;
	else
		return;
	/* A GET's event stream is written by mcp event by event, so that
	 * leash can add events between the server's (HTTP+SSE: answers to
	 * POSTs it refused) and filter tools/list results on it. */
	m->stream = m->resp == R_SSE && c->req.method == HTTP_GET && p->status_code == 200;
	if (!m->stream &&
	    (!m->is_mcp || !(json_array_size(m->errors) || (m->list_pending && mode_filters()))))
		return;
	/* leash will change the body: its length is not known now. */
	m->transform = true;
	header_drop(&c->resp, "Content-Length");
	if (c->rp.http_major == 1 && c->rp.http_minor >= 1) {
		if (!c->resp_chunked)
			header_set(&c->resp, "Transfer-Encoding", "chunked");
		c->resp_chunked = true;
	} else {
		header_drop(&c->resp, "Transfer-Encoding");
		c->resp_chunked = false;
		c->req_keep_alive = false;
	}
}

bool mcp_resp_body(struct proxy_conn *c, const char *at, size_t len)
{
	struct mcp_conn *m = c->mcp;

	if (m->resp == R_NONE || m->broken)
		return false; /* what mcp held is written: the proxy relays the rest */
	if (m->resp == R_SSE) {
		if (m->transform)
			sse_errors(c);
		sse_feed(c, at, len);
		return m->transform;
	}
	if (m->rbuf.n + len > MCP_MAX_BODY || buf_add(&m->rbuf, at, len) < 0) {
		if (m->transform) {
			emit(c, m->rbuf.p, m->rbuf.n);
			emit(c, at, len);
		}
		buf_free(&m->rbuf);
		m->broken = true;
		return m->transform;
	}
	return m->transform;
}

/* The JSON answer, with leash's errors spliced in, written (transform). */
static void json_end(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;
	bool changed = false;
	json_t *root = response_text(c, m->rbuf.p, m->rbuf.n, &changed);
	char *text;

	if (!m->transform) {
		json_decref(root);
		return;
	}
	if (root && json_array_size(m->errors)) {
		if (!json_is_array(root)) {
			json_t *a = json_array();

			json_array_append_new(a, root);
			root = a;
		}
		json_array_extend(root, m->errors);
		changed = true;
	}
	if (changed && root && (text = json_dumps(root, JSON_COMPACT))) {
		emit(c, text, strlen(text));
		free(text);
	} else {
		emit(c, m->rbuf.p, m->rbuf.n);
	}
	json_decref(root);
}

void mcp_resp_end(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;

	if (c->req.status < 200 || c->req.status == 101)
		return; /* 100 Continue: the real response follows */
	if (m->resp == R_JSON && !m->broken)
		json_end(c);
	if (m->resp == R_SSE && m->transform) {
		sse_errors(c);
		if (!m->broken)
			emit(c, m->rbuf.p, m->rbuf.n);
	}
	stream_end(c);
	calls_flush(c, m->broken || m->unread ? "not inspected" : "no response");
	buf_free(&m->rbuf);
	buf_free(&m->data);
	m->resp = R_NONE;
	json_decref(m->errors);
	m->errors = NULL;
}

void mcp_conn_free(struct proxy_conn *c)
{
	struct mcp_conn *m = c->mcp;

	if (!m)
		return;
	stream_end(c);
	calls_flush(c, "connection closed");
	held_free(m);
	buf_free(&m->rbuf);
	buf_free(&m->data);
	json_decref(m->errors);
	free(m);
	c->mcp = NULL;
}
