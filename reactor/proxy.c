/* proxy.c: the HTTP(S) proxy engine, on the reactor's loop.
 *
 * A client connection arrives one of three ways, and all three end in the
 * same request path:
 *
 *   - transparent: the kernel redirected a connect to port 80/443 here
 *     (modules/network.c); the original destination is looked up by the
 *     client's port. The first byte decides: 0x16 is a TLS ClientHello,
 *     anything else is plain HTTP;
 *   - explicit CONNECT host:port: answered 200, then the same first-byte
 *     test on what follows;
 *   - explicit absolute-form requests (GET http://host/ ...): plain HTTP.
 *
 * The first byte is read with MSG_PEEK on the raw socket, so the TLS
 * bufferevent (bufferevent_openssl, accepting) starts on a clean socket.
 * The leaf certificate is picked in the SNI callback (ca_leaf).
 *
 * Requests are parsed with libhttp-parser. At the end of each request head
 * the destination is fixed: the SNI (TLS; the Host header must name the
 * same host, else 421), the absolute URL (explicit), or the Host header
 * (transparent plain HTTP). That name, never an address the agent chose,
 * is what NetworkConnect is decided on (Host::"name:port") and what the
 * proxy dials (evdns, or a --resolve pin), verifying upstream TLS against
 * the system roots (plus --upstream-ca) for that name. The request head is
 * rebuilt (origin-form target, hop-by-hop proxy headers dropped, header
 * rules and secrets applied: proxy_secret.c); bodies are streamed as the
 * parser delivers them, re-framed (chunked stays chunked), so nothing is
 * buffered whole. The parser pauses at the end of each message, so
 * pipelined requests wait in the input buffer until the response before
 * them is done. Responses are parsed the same way and relayed as they
 * arrive (SSE is incremental). A 101 turns the connection into a raw
 * two-way relay (WebSocket). Back-pressure: when a peer's output holds
 * more than PROXY_HIGH bytes, reading from the other side stops until it
 * drains below PROXY_LOW.
 *
 * One http.request event per request, published when its response ends
 * (or it is refused or fails): method, scheme, host, port, path with the
 * query redacted, status, bytes each way, duration, decision and policy
 * ids, the header rules that fired (policy ids, never values).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "log.h"
#include "mcp.h"
#include "network.h"
#include "policy.h"
#include "proxy.h"
#include "proxy_int.h"
#include "reactor.h"

#define PROXY_MAX_CONNS 1024
#define PROXY_MAX_HEAD (64 * 1024) /* request or response head, bytes */
#define PROXY_MAX_HEADERS 128
#define PROXY_HIGH (1 << 20)
#define PROXY_LOW (256 << 10)
#define PROXY_IDLE_S 300
#define PROXY_HANDSHAKE_S 30
#define PROXY_PEEK_MAX (16 * 1024) /* first bytes looked at: a ClientHello */
#define PROXY_PEEK_WAIT_MS 10

enum conn_via {
	VIA_EXPLICIT, /* absolute-form requests, or CONNECT to come */
	VIA_CONNECT, /* inside a CONNECT tunnel to tgt_host:tgt_port */
	VIA_TRANSPARENT, /* redirected by the kernel from tgt_host:tgt_port */
};

enum conn_state {
	S_PEEK, /* waiting for the first byte of a tunnel or redirected socket */
	S_HEAD, /* reading a request head */
	S_BODY, /* relaying a request body */
	S_RESPONSE, /* request sent, relaying its response */
	S_TUNNEL, /* after 101: raw bytes both ways */
	S_CLOSING, /* writing what is left, then closing */
};

struct proxy {
	struct evconnlistener *lst;
	struct evdns_base *dns;
	SSL_CTX *server_ctx, *client_ctx;
	SSL_CTX *probe_ctx; /* reads ClientHellos without answering them */
	struct proxy_opts o;
	struct sockaddr_in addr;
	char url[64];
	struct proxy_conn *conns;
	size_t nconns;
	uint64_t refused_conns;
};

static struct proxy px;

/* ---- small helpers ------------------------------------------------------- */

bool proxy_split_host(const char *in, size_t n, char *name, size_t namelen, uint16_t *port,
		      uint16_t defport)
{
	const char *colon = NULL, *end = in + n;
	size_t hn;

	if (n == 0)
		return false;
	if (in[0] == '[') {
		const char *close = memchr(in, ']', n);

		if (!close)
			return false;
		colon = close + 1 < end ? close + 1 : NULL;
		if (colon && *colon != ':')
			return false;
		in++;
		hn = close - in;
	} else {
		colon = memchr(in, ':', n);
		hn = colon ? (size_t)(colon - in) : n;
	}
	if (hn == 0 || hn >= namelen)
		return false;
	for (size_t i = 0; i < hn; i++) {
		char c = (char)tolower((unsigned char)in[i]);

		if (!(isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_' || c == ':'))
			return false;
		name[i] = c;
	}
	name[hn] = '\0';
	*port = defport;
	if (colon) {
		unsigned long v = 0;
		const char *p = colon + 1;

		if (p == end)
			return false;
		for (; p < end; p++) {
			if (!isdigit((unsigned char)*p) || (v = v * 10 + (*p - '0')) > 65535)
				return false;
		}
		if (v == 0)
			return false;
		*port = (uint16_t)v;
	}
	return true;
}

bool proxy_host_matches(const char *id, const char *host)
{
	size_t il = strlen(id), hl = strlen(host);

	if (strcmp(id, "*") == 0 || strcasecmp(id, host) == 0)
		return true;
	if (il > 2 && id[0] == '*' && id[1] == '.' && hl > il - 1)
		return host[hl - (il - 1)] == '.' && strcasecmp(host + hl - (il - 2), id + 2) == 0;
	return false;
}

static bool is_ip_literal(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

/* The resource id of HOST:PORT ("[v6]:p" for IPv6). */
static void host_rid(char *buf, size_t len, const char *host, uint16_t port)
{
	unsigned char b[16];

	if (inet_pton(AF_INET6, host, b) == 1)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

/* ---- connections -------------------------------------------------------- */

static void conn_free(struct proxy_conn *c);
static void cli_process(struct proxy_conn *c);
static void up_process(struct proxy_conn *c);

static void req_reset(struct proxy_req *r)
{
	for (size_t i = 0; i < r->nh; i++) {
		free(r->h[i].name);
		free(r->h[i].value);
	}
	free(r->h);
	free(r->url);
	free(r->reason);
	json_decref(r->rules);
	json_decref(r->policies);
	free(r->blocked);
	memset(r, 0, sizeof(*r));
}

static int str_append(char **s, size_t *n, const char *at, size_t len, size_t *total)
{
	char *p;

	*total += len;
	if (*total > PROXY_MAX_HEAD)
		return -E2BIG;
	p = realloc(*s, *n + len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + *n, at, len);
	*n += len;
	p[*n] = '\0';
	*s = p;
	return 0;
}

/* Header callbacks shared by requests and responses: H collects into R. */
static int hdr_field(struct proxy_req *r, const char *at, size_t len)
{
	if (!r->nh || r->in_value) {
		struct proxy_header *h;

		if (r->nh == PROXY_MAX_HEADERS)
			return -E2BIG;
		h = realloc(r->h, (r->nh + 1) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		r->h = h;
		memset(&r->h[r->nh++], 0, sizeof(*h));
		r->in_value = false;
	}
	struct proxy_header *h = &r->h[r->nh - 1];

	return str_append(&h->name, &h->nlen, at, len, &r->head_bytes);
}

static int hdr_value(struct proxy_req *r, const char *at, size_t len)
{
	struct proxy_header *h;

	if (!r->nh)
		return -EINVAL;
	h = &r->h[r->nh - 1];
	r->in_value = true;
	if (!h->value && !(h->value = calloc(1, 1)))
		return -ENOMEM;
	return str_append(&h->value, &h->vlen, at, len, &r->head_bytes);
}

const char *proxy_req_header(const struct proxy_req *r, const char *name)
{
	for (size_t i = 0; i < r->nh; i++)
		if (r->h[i].name && strcasecmp(r->h[i].name, name) == 0)
			return r->h[i].value ? r->h[i].value : "";
	return NULL;
}

/* ---- the event ------------------------------------------------------------ */

static void publish_request(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;
	struct record *ev;
	char res[400], path[2048];
	const char *q;

	if (!r->started || r->published)
		return;
	r->published = true;
	ev = record_new(c->opaque ? "proxy.tunnel" : "http.request");
	if (!ev)
		return;
	if (c->pid)
		ev->pid = c->pid;
	ev->action = "NetworkConnect";
	if (r->host[0]) {
		char rid[300];

		host_rid(rid, sizeof(rid), r->host, r->port);
		snprintf(res, sizeof(res), "Host::\"%s\"", rid);
		record_set_resource(ev, res);
	}
	ev->decision = r->decision;
	ev->policies = r->policies ? json_incref(r->policies) : json_array();
	json_object_set_new(ev->details, "method",
			    json_string(http_method_str((enum http_method)r->method)));
	json_object_set_new(ev->details, "scheme", json_string(c->tls ? "https" : "http"));
	json_object_set_new(ev->details, "host", json_string(r->host));
	json_object_set_new(ev->details, "port", json_integer(r->port));
	/* The query may carry tokens: only its presence is recorded. */
	snprintf(path, sizeof(path), "%s", r->path[0] ? r->path : "/");
	q = strchr(path, '?');
	if (q && (size_t)(q - path) + 3 < sizeof(path))
		snprintf(path + (q - path), sizeof(path) - (q - path), "?...");
	json_object_set_new(ev->details, "path", record_json_text(path, strlen(path)));
	json_object_set_new(ev->details, "status", json_integer(r->status));
	json_object_set_new(ev->details, "bytes_out", json_integer((json_int_t)r->bytes_out));
	json_object_set_new(ev->details, "bytes_in", json_integer((json_int_t)r->bytes_in));
	json_object_set_new(ev->details, "duration_ms",
			    json_real((double)(record_now_ns() - r->start_ns) / 1e6));
	json_object_set_new(ev->details, "via",
			    json_string(c->via == VIA_TRANSPARENT ? "transparent" : "explicit"));
	if (r->reason)
		json_object_set_new(ev->details, "reason", json_string(r->reason));
	if (r->rules && json_array_size(r->rules))
		json_object_set(ev->details, "header_rules", r->rules);
	if (r->blocked) {
		json_object_set_new(ev->details, "severity", json_string("high"));
		json_object_set_new(ev->details, "blocked_secret", json_string(r->blocked));
	}
	if (r->upgrade && r->status == 101)
		json_object_set_new(ev->details, "upgrade", json_true());
	if (c->opaque) {
		/* Not HTTP: only where the bytes went is known. */
		json_object_del(ev->details, "method");
		json_object_del(ev->details, "path");
		json_object_del(ev->details, "status");
		json_object_set_new(ev->details, "scheme", json_string("opaque"));
		json_object_set_new(ev->details, "opaque", json_string(c->opaque));
	}
	reactor_publish(ev);
}

/* ---- answering from the proxy -------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 421:
		return "Misdirected Request";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

/* Answers the current request with STATUS and a one-line BODY, records it,
 * and closes the connection once the answer is written. */
static void conn_refuse(struct proxy_conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_refuse(struct proxy_conn *c, int status, const char *fmt, ...)
{
	char body[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body) - 1, fmt, ap);
	va_end(ap);
	strcat(body, "\n");
	if (c->cli && c->state != S_CLOSING && !c->resp_started && !c->opaque)
		evbuffer_add_printf(bufferevent_get_output(c->cli),
				    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
				    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				    status, status_text(status), strlen(body), body);
	if (c->req.started && !c->req.status)
		c->req.status = status;
	if (!c->req.reason) {
		body[strcspn(body, "\n")] = '\0';
		c->req.reason = strdup(body);
	}
	publish_request(c);
	c->state = S_CLOSING;
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (c->cli) {
		bufferevent_disable(c->cli, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->cli)) == 0)
			conn_free(c);
	} else {
		conn_free(c);
	}
}

/* ---- upstream ------------------------------------------------------------ */

void proxy_body_write(struct evbuffer *out, bool chunked, const char *at, size_t len)
{
	if (chunked) {
		evbuffer_add_printf(out, "%zx\r\n", len);
		evbuffer_add(out, at, len);
		evbuffer_add(out, "\r\n", 2);
	} else {
		evbuffer_add(out, at, len);
	}
}

static int resp_on_status(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;
	size_t n = 0, total = 0;

	return str_append(&c->resp.reason, &n, at, len, &total) < 0 ? -1 : 0;
}

static int resp_on_field(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;

	return hdr_field(&c->resp, at, len) < 0 ? -1 : 0;
}

static int resp_on_value(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;

	return hdr_value(&c->resp, at, len) < 0 ? -1 : 0;
}

static int resp_on_headers(http_parser *p)
{
	struct proxy_conn *c = p->data;
	struct evbuffer *out = bufferevent_get_output(c->cli);

	c->resp_started = true;
	c->req.status = p->status_code;
	c->resp_chunked = (p->flags & F_CHUNKED) != 0;
	if (c->mcp)
		mcp_resp_head(c, p);
	evbuffer_add_printf(out, "HTTP/%u.%u %u %s\r\n", p->http_major, p->http_minor,
			    p->status_code, c->resp.reason ? c->resp.reason : "");
	for (size_t i = 0; i < c->resp.nh; i++)
		evbuffer_add_printf(out, "%s: %s\r\n", c->resp.h[i].name,
				    c->resp.h[i].value ? c->resp.h[i].value : "");
	evbuffer_add(out, "\r\n", 2);
	/* No body after HEAD, whatever Content-Length says. */
	return c->req.method == HTTP_HEAD ? 1 : 0;
}

static int resp_on_body(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;
	struct evbuffer *out = bufferevent_get_output(c->cli);

	c->req.bytes_in += len;
	if (c->mcp && mcp_resp_body(c, at, len))
		return 0;
	proxy_body_write(out, c->resp_chunked, at, len);
	return 0;
}

static int resp_on_complete(http_parser *p)
{
	struct proxy_conn *c = p->data;

	if (c->mcp)
		mcp_resp_end(c);
	if (c->resp_chunked)
		evbuffer_add(bufferevent_get_output(c->cli), "0\r\n\r\n", 5);
	c->resp_done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_status = resp_on_status,
	.on_header_field = resp_on_field,
	.on_header_value = resp_on_value,
	.on_headers_complete = resp_on_headers,
	.on_body = resp_on_body,
	.on_message_complete = resp_on_complete,
};

/* The response to the current request is wholly relayed. */
static void response_done(struct proxy_conn *c)
{
	bool keep = http_should_keep_alive(&c->sp) && c->req_keep_alive;
	int status = c->req.status;

	req_reset(&c->resp);
	c->resp_done = false;
	c->resp_started = false;
	if (status >= 100 && status < 200 && status != 101) {
		/* 100 Continue and friends: the real response follows. */
		http_parser_pause(&c->sp, 0);
		return;
	}
	publish_request(c);
	if (status == 101 && c->req.upgrade) {
		c->state = S_TUNNEL;
		return;
	}
	req_reset(&c->req);
	if (!keep) {
		c->state = S_CLOSING;
		bufferevent_free(c->up);
		c->up = NULL;
		if (evbuffer_get_length(bufferevent_get_output(c->cli)) == 0)
			conn_free(c);
		return;
	}
	c->state = S_HEAD;
	http_parser_pause(&c->rp, 0);
	http_parser_pause(&c->sp, 0);
	bufferevent_enable(c->cli, EV_READ);
	cli_process(c);
}

/* Relays what upstream sent, as far as the state allows. */
static void up_process(struct proxy_conn *c)
{
	struct evbuffer *in;

	if (!c->up)
		return;
	in = bufferevent_get_input(c->up);
	while (c->state == S_RESPONSE || c->state == S_BODY) {
		struct evbuffer_iovec v;
		size_t n;
		enum http_errno e;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		n = http_parser_execute(&c->sp, &resp_settings, v.iov_base, v.iov_len);
		e = HTTP_PARSER_ERRNO(&c->sp);
		evbuffer_drain(in, n);
		if (e != HPE_OK && e != HPE_PAUSED) {
			conn_refuse(c, 502, "leash: bad response from %s: %s", c->req.host,
				    http_errno_description(e));
			return;
		}
		if (c->resp_done || c->sp.upgrade) {
			if (c->sp.upgrade && !c->resp_done)
				c->resp_done = true;
			response_done(c);
			if (c->state != S_TUNNEL)
				return;
		}
	}
	if (c->state == S_TUNNEL && c->up) {
		c->req.bytes_in += evbuffer_get_length(in);
		evbuffer_add_buffer(bufferevent_get_output(c->cli), in);
	}
	if (c->cli && evbuffer_get_length(bufferevent_get_output(c->cli)) > PROXY_HIGH)
		bufferevent_disable(c->up, EV_READ);
}

static void on_up_read(struct bufferevent *bev, void *arg)
{
	up_process(arg);
}

static void on_up_write(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	/* Upstream drained: read the client again. */
	if (c->cli && (c->state == S_BODY || c->state == S_TUNNEL))
		bufferevent_enable(c->cli, EV_READ);
}

static void on_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int one = 1;

		/* leash's own endpoints (the control server, the proxy) are never
		 * reached on the agent's behalf: the kernel's hooks do not see
		 * leash's sockets, so the proxy checks the address it reached.
		 * This runs before libevent writes anything queued. */
		if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&peer, &plen) < 0 ||
		    network_is_protected((struct sockaddr *)&peer, plen)) {
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			conn_refuse(c, 403, "leash: %s:%u is leash's own endpoint", c->req.host,
				    c->req.port);
			return;
		}
		/* Heads and small bodies go out at once, not after a delayed ACK. */
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->up_connected = true;
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* A response delimited by the end of the connection ends here. */
		if (c->state == S_RESPONSE && c->resp_started) {
			http_parser_execute(&c->sp, &resp_settings, NULL, 0);
			c->req_keep_alive = false;
			if (c->resp_done) {
				response_done(c);
				return;
			}
		}
		if (c->state == S_TUNNEL) {
			publish_request(c); /* an opaque tunnel ends here */
			bufferevent_free(c->up);
			c->up = NULL;
			c->state = S_CLOSING;
			if (evbuffer_get_length(bufferevent_get_output(c->cli)) == 0)
				conn_free(c);
			return;
		}
		if (c->state == S_HEAD || c->state == S_PEEK) {
			/* An idle kept-alive upstream went away. */
			bufferevent_free(c->up);
			c->up = NULL;
			return;
		}
		conn_refuse(c, 502, "leash: %s closed the connection", c->req.host);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
		int dns = bufferevent_socket_get_dns_error(bev);
		int serr = EVUTIL_SOCKET_ERROR();

		if (c->state == S_HEAD || c->state == S_PEEK) {
			bufferevent_free(c->up);
			c->up = NULL;
			return;
		}
		if (what & BEV_EVENT_TIMEOUT)
			conn_refuse(c, 504, "leash: %s timed out", c->req.host);
		else if (vr != X509_V_OK)
			conn_refuse(c, 502, "leash: %s: upstream certificate not trusted: %s",
				    c->req.host, X509_verify_cert_error_string(vr));
		else if (dns)
			conn_refuse(c, 502, "leash: cannot resolve %s: %s", c->req.host,
				    evutil_gai_strerror(dns));
		else if (!c->up_connected)
			conn_refuse(c, 502, "leash: cannot reach %s:%u: %s", c->req.host,
				    c->req.port, evutil_socket_error_to_string(serr));
		else
			conn_refuse(c, 502, "leash: %s: connection failed", c->req.host);
	}
}

/* The --resolve pin for NAME, into SA. */
static bool resolve_pin(const char *name, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	size_t nl = strlen(name);

	for (int i = 0; i < px.o.nresolve; i++) {
		const char *r = px.o.resolve[i];
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (strncasecmp(r, name, nl) != 0 || r[nl] != '=')
			continue;
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, r + nl + 1, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			in->sin_port = htons(port);
			*len = sizeof(*in);
			return true;
		}
		if (inet_pton(AF_INET6, r + nl + 1, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			*len = sizeof(*in6);
			return true;
		}
	}
	return false;
}

/* Dials R's host and port, TLS when the client spoke TLS. */
static int up_dial(struct proxy_conn *c)
{
	struct proxy_req *r = &c->req;
	struct event_base *base = reactor_base();
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int opts = BEV_OPT_CLOSE_ON_FREE;
	int rc, fd = -1;
	bool pinned = resolve_pin(r->host, r->port, &ss, &sl);

	/* A pinned address gets its socket now, with TCP_NODELAY before the
	 * TLS handshake (Nagle would hold its second flight). */
	if (pinned) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	}
	if (c->tls) {
		SSL *ssl = SSL_new(px.client_ctx);

		if (!ssl)
			return -ENOMEM;
		if (is_ip_literal(r->host)) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r->host);
		} else {
			SSL_set_tlsext_host_name(ssl, r->host);
			SSL_set1_host(ssl, r->host);
		}
		c->up = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						       opts);
		if (c->up)
			bufferevent_openssl_set_allow_dirty_shutdown(c->up, 1);
		else
			SSL_free(ssl);
	} else {
		c->up = bufferevent_socket_new(base, fd, opts);
	}
	if (!c->up) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	snprintf(c->up_host, sizeof(c->up_host), "%s", r->host);
	c->up_port = r->port;
	c->up_tls = c->tls;
	c->up_connected = false;
	http_parser_init(&c->sp, HTTP_RESPONSE);
	c->sp.data = c;
	bufferevent_setcb(c->up, on_up_read, on_up_write, on_up_event, c);
	bufferevent_setwatermark(c->up, EV_WRITE, PROXY_LOW, 0);
	{
		struct timeval idle = { PROXY_IDLE_S, 0 };

		bufferevent_set_timeouts(c->up, &idle, &idle);
	}
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	if (pinned)
		rc = bufferevent_socket_connect(c->up, (struct sockaddr *)&ss, (int)sl);
	else
		rc = bufferevent_socket_connect_hostname(c->up, px.dns, AF_UNSPEC, r->host,
							 r->port);
	return rc < 0 ? -EHOSTUNREACH : 0;
}

/* ---- requests ------------------------------------------------------------- */

static int req_on_begin(http_parser *p)
{
	struct proxy_conn *c = p->data;

	req_reset(&c->req);
	c->req.started = true;
	c->req.start_ns = record_now_ns();
	return 0;
}

static int req_on_url(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;

	return str_append(&c->req.url, &c->req.url_len, at, len, &c->req.head_bytes) < 0 ? -1 : 0;
}

static int req_on_field(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;

	return hdr_field(&c->req, at, len) < 0 ? -1 : 0;
}

static int req_on_value(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;

	return hdr_value(&c->req, at, len) < 0 ? -1 : 0;
}

/* Fixes R's destination (host, port, path) from the URL, the SNI or the
 * Host header, as the connection's kind says. 0, or the status to refuse
 * with (message in WHY). */
static int req_destination(struct proxy_conn *c, char *why, size_t whylen)
{
	struct proxy_req *r = &c->req;
	const char *hosthdr = proxy_req_header(r, "Host");
	struct http_parser_url u;
	char hname[256];
	uint16_t hport = 0;

	if (!r->url || http_parser_parse_url(r->url, r->url_len, r->method == HTTP_CONNECT, &u)) {
		snprintf(why, whylen, "leash: malformed request target");
		return 400;
	}
	if (r->method == HTTP_CONNECT) {
		if (!proxy_split_host(r->url, r->url_len, r->host, sizeof(r->host), &r->port, 0) ||
		    !r->port) {
			snprintf(why, whylen, "leash: CONNECT needs host:port");
			return 400;
		}
		return 0;
	}
	if (u.field_set & (1 << UF_PATH))
		snprintf(r->path, sizeof(r->path), "%.*s", (int)u.field_data[UF_PATH].len,
			 r->url + u.field_data[UF_PATH].off);
	else
		snprintf(r->path, sizeof(r->path), "/");
	if (u.field_set & (1 << UF_QUERY)) {
		size_t l = strlen(r->path);

		snprintf(r->path + l, sizeof(r->path) - l, "?%.*s", (int)u.field_data[UF_QUERY].len,
			 r->url + u.field_data[UF_QUERY].off);
	}
	if (hosthdr && !proxy_split_host(hosthdr, strlen(hosthdr), hname, sizeof(hname), &hport,
					 c->tls ? 443 : 80)) {
		snprintf(why, whylen, "leash: malformed Host header");
		return 400;
	}
	if (c->via == VIA_EXPLICIT) {
		if (!(u.field_set & (1 << UF_HOST)) || !(u.field_set & (1 << UF_SCHEMA)) ||
		    strncasecmp(r->url + u.field_data[UF_SCHEMA].off, "http",
				u.field_data[UF_SCHEMA].len) != 0) {
			snprintf(why, whylen, "leash: a proxy request needs an http:// URL");
			return 400;
		}
		snprintf(r->host, sizeof(r->host), "%.*s", (int)u.field_data[UF_HOST].len,
			 r->url + u.field_data[UF_HOST].off);
		for (char *h = r->host; *h; h++)
			*h = (char)tolower((unsigned char)*h);
		r->port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
		if (hosthdr && strcmp(hname, r->host) != 0) {
			snprintf(why, whylen, "leash: Host '%s' is not the URL's host '%s'", hname,
				 r->host);
			return 421;
		}
		return 0;
	}
	if (!hosthdr) {
		snprintf(why, whylen, "leash: a request needs a Host header");
		return 400;
	}
	if (c->tls) {
		/* The verified destination: the SNI, which the Host must name. */
		const char *sni = c->sni[0] ? c->sni : c->tgt_host;

		if (strcasecmp(hname, sni) != 0) {
			snprintf(why, whylen,
				 "leash: Host '%s' does not match TLS server name '%s'", hname,
				 sni);
			snprintf(r->host, sizeof(r->host), "%s", sni);
			r->port = c->tgt_port;
			return 421;
		}
		snprintf(r->host, sizeof(r->host), "%s", sni);
		r->port = c->tgt_port;
		return 0;
	}
	if (c->via == VIA_CONNECT && strcasecmp(hname, c->tgt_host) != 0) {
		snprintf(why, whylen, "leash: Host '%s' is not the CONNECT host '%s'", hname,
			 c->tgt_host);
		return 421;
	}
	/* Plain HTTP: the proxy dials the name in Host, never the address
	 * the agent chose. */
	snprintf(r->host, sizeof(r->host), "%s", hname);
	r->port = c->tgt_port;
	return 0;
}

void proxy_req_write_head(struct proxy_conn *c, struct evbuffer *out)
{
	struct proxy_req *r = &c->req;

	evbuffer_add_printf(out, "%s %s HTTP/%u.%u\r\n",
			    http_method_str((enum http_method)r->method), r->path, c->rp.http_major,
			    c->rp.http_minor);
	for (size_t i = 0; i < r->nh; i++) {
		if (!r->h[i].name || strcasecmp(r->h[i].name, "Proxy-Connection") == 0 ||
		    strcasecmp(r->h[i].name, "Proxy-Authorization") == 0)
			continue;
		evbuffer_add_printf(out, "%s: %s\r\n", r->h[i].name,
				    r->h[i].value ? r->h[i].value : "");
	}
	evbuffer_add(out, "\r\n", 2);
}

/* The request head is complete: decide, apply header rules, dial, send.
 * Returns what on_headers_complete returns. */
static int req_on_headers(http_parser *p)
{
	struct proxy_conn *c = p->data;
	struct proxy_req *r = &c->req;
	struct policy_verdict v;
	char why[600], rid[300];
	json_t *ctx;
	int status;

	r->method = p->method;
	r->upgrade = p->upgrade;
	r->chunked = (p->flags & F_CHUNKED) != 0;
	c->req_keep_alive = http_should_keep_alive(p);
	status = req_destination(c, why, sizeof(why));
	if (status == 0 && r->method == HTTP_CONNECT) {
		if (c->via != VIA_EXPLICIT || c->tls) {
			r->status = 400;
			snprintf(why, sizeof(why), "leash: CONNECT inside a tunnel");
			status = 400;
		} else {
			/* Answered once the parser has consumed the whole head
			 * (on_message_complete pauses it there). */
			c->connect_pending = true;
			return 0;
		}
	}
	if (status) {
		r->decision = DECISION_DENY;
		c->refuse_status = status;
		snprintf(c->refuse_why, sizeof(c->refuse_why), "%s", why);
		http_parser_pause(p, 1);
		return 0;
	}
	host_rid(rid, sizeof(rid), r->host, r->port);
	ctx = json_object();
	json_object_set_new(ctx, "scheme", json_string(c->tls ? "https" : "http"));
	json_object_set_new(ctx, "method",
			    json_string(http_method_str((enum http_method)r->method)));
	if (policy_decide("NetworkConnect", "Host", rid, false, ctx, &v) < 0) {
		json_decref(ctx);
		c->refuse_status = 502;
		snprintf(c->refuse_why, sizeof(c->refuse_why), "leash: out of memory");
		http_parser_pause(p, 1);
		return 0;
	}
	json_decref(ctx);
	r->decision = v.decision;
	r->policies = v.policies;
	v.policies = NULL;
	if (v.decision == DECISION_DENY) {
		char *ids = json_dumps(r->policies, JSON_COMPACT);

		c->refuse_status = 403;
		snprintf(c->refuse_why, sizeof(c->refuse_why), "leash: %s denied by policy %s (%s)",
			 rid, ids && strcmp(ids, "[]") ? ids : "(default deny)", v.reason);
		free(ids);
		policy_verdict_free(&v);
		http_parser_pause(p, 1);
		return 0;
	}
	policy_verdict_free(&v);
	/* Header rules and secrets, toward this verified host only. */
	status = proxy_secret_apply(c, why, sizeof(why));
	if (status) {
		r->decision = DECISION_DENY;
		c->refuse_status = status;
		snprintf(c->refuse_why, sizeof(c->refuse_why), "%s", why);
		http_parser_pause(p, 1);
		return 0;
	}
	if (c->up &&
	    (strcmp(c->up_host, r->host) != 0 || c->up_port != r->port || c->up_tls != c->tls)) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (!c->up && up_dial(c) < 0) {
		c->refuse_status = 502;
		snprintf(c->refuse_why, sizeof(c->refuse_why), "leash: cannot reach %s", r->host);
		http_parser_pause(p, 1);
		return 0;
	}
	c->state = S_BODY;
	if (mcp_req_head(c) == 0) /* else held until mcp has seen the body */
		proxy_req_write_head(c, bufferevent_get_output(c->up));
	return 0;
}

static int req_on_body(http_parser *p, const char *at, size_t len)
{
	struct proxy_conn *c = p->data;
	struct evbuffer *out;

	if (!c->up || c->state != S_BODY)
		return 0;
	out = bufferevent_get_output(c->up);
	c->req.bytes_out += len;
	if (c->mcp && mcp_req_body(c, at, len))
		return 0;
	proxy_body_write(out, c->req.chunked, at, len);
	return 0;
}

static int req_on_complete(http_parser *p)
{
	struct proxy_conn *c = p->data;

	if (c->mcp && c->state == S_BODY && mcp_req_end(c)) {
		http_parser_pause(p, 1); /* answered by leash: c->refuse_status */
		return 0;
	}
	if (c->up && c->state == S_BODY && c->req.chunked)
		evbuffer_add(bufferevent_get_output(c->up), "0\r\n\r\n", 5);
	if (c->state == S_BODY)
		c->state = S_RESPONSE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings req_settings = {
	.on_message_begin = req_on_begin,
	.on_url = req_on_url,
	.on_header_field = req_on_field,
	.on_header_value = req_on_value,
	.on_headers_complete = req_on_headers,
	.on_body = req_on_body,
	.on_message_complete = req_on_complete,
};

/* ---- the client side ------------------------------------------------------- */

static void on_cli_read(struct bufferevent *bev, void *arg);
static void on_cli_write(struct bufferevent *bev, void *arg);
static void on_cli_event(struct bufferevent *bev, short what, void *arg);
static void start_peek(struct proxy_conn *c);

static void cli_setup(struct proxy_conn *c)
{
	struct timeval idle = { PROXY_IDLE_S, 0 };

	bufferevent_setcb(c->cli, on_cli_read, on_cli_write, on_cli_event, c);
	bufferevent_setwatermark(c->cli, EV_WRITE, PROXY_LOW, 0);
	bufferevent_set_timeouts(c->cli, &idle, &idle);
	bufferevent_enable(c->cli, EV_READ | EV_WRITE);
	http_parser_init(&c->rp, HTTP_REQUEST);
	c->rp.data = c;
	c->state = S_HEAD;
}

/* CONNECT host:port answered: the tunnel's first byte says what follows. */
static void connect_accept(struct proxy_conn *c)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct evbuffer *in = bufferevent_get_input(c->cli);

	if (evbuffer_get_length(in) || evbuffer_get_length(bufferevent_get_output(c->cli))) {
		conn_refuse(c, 400, "leash: data before the CONNECT answer");
		return;
	}
	snprintf(c->tgt_host, sizeof(c->tgt_host), "%s", c->req.host);
	c->tgt_port = c->req.port;
	c->via = VIA_CONNECT;
	req_reset(&c->req);
	bufferevent_free(c->cli);
	c->cli = NULL;
	if (send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(ok) - 1) {
		conn_free(c);
		return;
	}
	start_peek(c);
}

/* Parses and relays what the client sent, as far as the state allows. */
static void cli_process(struct proxy_conn *c)
{
	struct evbuffer *in;

	if (!c->cli)
		return;
	in = bufferevent_get_input(c->cli);
	while (c->state == S_HEAD || c->state == S_BODY) {
		struct evbuffer_iovec v;
		enum http_errno e;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		http_parser_pause(&c->rp, 0);
		n = http_parser_execute(&c->rp, &req_settings, v.iov_base, v.iov_len);
		e = HTTP_PARSER_ERRNO(&c->rp);
		evbuffer_drain(in, n);
		if (c->connect_pending) {
			c->connect_pending = false;
			connect_accept(c);
			return;
		}
		if (c->refuse_status) {
			conn_refuse(c, c->refuse_status, "%s", c->refuse_why);
			return;
		}
		if (e == HPE_CB_header_field || e == HPE_CB_header_value || e == HPE_CB_url ||
		    e == HPE_HEADER_OVERFLOW) {
			conn_refuse(c, 431, "leash: request head too large");
			return;
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			conn_refuse(c, 400, "leash: malformed request: %s",
				    http_errno_description(e));
			return;
		}
		if (c->state == S_RESPONSE && c->req.upgrade)
			break;
	}
	if (c->state == S_TUNNEL && c->up) {
		c->req.bytes_out += evbuffer_get_length(in);
		evbuffer_add_buffer(bufferevent_get_output(c->up), in);
	}
	if (c->state == S_RESPONSE && evbuffer_get_length(in))
		bufferevent_disable(c->cli, EV_READ); /* pipelined: wait */
	if (c->up && evbuffer_get_length(bufferevent_get_output(c->up)) > PROXY_HIGH)
		bufferevent_disable(c->cli, EV_READ);
}

static void on_cli_read(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	cli_process(c);
}

static void on_cli_write(struct bufferevent *bev, void *arg)
{
	struct proxy_conn *c = arg;

	if (c->state == S_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	if (c->up)
		bufferevent_enable(c->up, EV_READ);
	if (c->state == S_RESPONSE || c->state == S_TUNNEL)
		up_process(c);
}

static void on_cli_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return; /* the TLS handshake with the agent is done */
	if (c->req.started && !c->req.published && c->state != S_HEAD) {
		if (!c->req.reason && !c->opaque)
			c->req.reason = strdup("client went away");
		publish_request(c);
	}
	conn_free(c);
}

/* ---- TLS toward the agent ----------------------------------------------- */

static int on_sni(SSL *ssl, int *alert, void *arg)
{
	struct proxy_conn *c = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	X509 *cert;
	EVP_PKEY *key;
	bool hit;

	if (!c || !name)
		return SSL_TLSEXT_ERR_OK;
	snprintf(c->sni, sizeof(c->sni), "%s", name);
	for (char *h = c->sni; *h; h++)
		*h = (char)tolower((unsigned char)*h);
	if (ca_leaf(px.o.ca, c->sni, &cert, &key, &hit) < 0) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	SSL_use_certificate(ssl, cert);
	SSL_use_PrivateKey(ssl, key);
	return SSL_TLSEXT_ERR_OK;
}

static void start_tls(struct proxy_conn *c)
{
	SSL *ssl = SSL_new(px.server_ctx);
	X509 *cert;
	EVP_PKEY *key;
	bool hit;

	if (!ssl) {
		conn_free(c);
		return;
	}
	SSL_set_app_data(ssl, c);
	/* Without SNI (inside CONNECT: transparent ones are opaque tunnels)
	 * the certificate names what the agent connected to. */
	if (ca_leaf(px.o.ca, c->tgt_host, &cert, &key, &hit) == 0) {
		SSL_use_certificate(ssl, cert);
		SSL_use_PrivateKey(ssl, key);
	}
	c->tls = true;
	c->cli = bufferevent_openssl_socket_new(reactor_base(), c->fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!c->cli) {
		SSL_free(ssl);
		conn_free(c);
		return;
	}
	c->fd = -1; /* the bufferevent owns it now */
	bufferevent_openssl_set_allow_dirty_shutdown(c->cli, 1);
	cli_setup(c);
}

/* ---- the first bytes ------------------------------------------------------ */

enum first_bytes {
	FB_MORE, /* not enough yet to tell */
	FB_TLS, /* a ClientHello naming a server */
	FB_TLS_NO_SNI, /* a ClientHello without a server name */
	FB_HTTP, /* a request line's method */
	FB_OTHER, /* anything else */
};

static int probe_hello(SSL *ssl, int *alert, void *arg)
{
	int *sni = SSL_get_app_data(ssl);
	const unsigned char *p;
	size_t n;

	*sni = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n) == 1;
	return SSL_CLIENT_HELLO_ERROR; /* that is all the probe wanted */
}

/* Whether the ClientHello in B (N bytes) names a server: 1, 0, or -1 when
 * OpenSSL could not read it. Parsed by OpenSSL in a throwaway handshake
 * on a copy, so the socket still holds every byte. */
static int hello_sni(const unsigned char *b, size_t n)
{
	SSL *ssl = SSL_new(px.probe_ctx);
	BIO *in = BIO_new_mem_buf(b, (int)n), *out = BIO_new(BIO_s_mem());
	int sni = -1;

	if (!ssl || !in || !out) {
		BIO_free(in);
		BIO_free(out);
		SSL_free(ssl);
		return -1;
	}
	SSL_set_bio(ssl, in, out);
	SSL_set_app_data(ssl, &sni);
	SSL_accept(ssl);
	SSL_free(ssl);
	ERR_clear_error();
	return sni;
}

static enum first_bytes first_bytes(const unsigned char *b, size_t n)
{
	size_t i;

	if (b[0] == 0x16) {
		if (n < 5 || (n < 5 + ((size_t)b[3] << 8 | b[4]) && n < PROXY_PEEK_MAX))
			return FB_MORE;
		switch (hello_sni(b, n)) {
		case 0:
			return FB_TLS_NO_SNI;
		default: /* unreadable: the real handshake says why */
			return FB_TLS;
		}
	}
	for (i = 0; i < n && ((b[i] >= 'A' && b[i] <= 'Z') || b[i] == '-'); i++)
		;
	if (i == n)
		return n < 32 ? FB_MORE : FB_OTHER;
	return i > 0 && b[i] == ' ' ? FB_HTTP : FB_OTHER;
}

/* Neither HTTP nor TLS with a name: decided on what is known (the address
 * and port the agent connected to, or the CONNECT host) and, if permitted,
 * relayed as it is. WHY is static text. */
static void start_opaque(struct proxy_conn *c, const char *why)
{
	struct proxy_req *r = &c->req;
	struct policy_verdict v;
	char rid[300];
	json_t *ctx;

	c->cli = bufferevent_socket_new(reactor_base(), c->fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->cli) {
		conn_free(c);
		return;
	}
	c->fd = -1;
	cli_setup(c);
	c->opaque = why;
	r->started = true;
	r->start_ns = record_now_ns();
	snprintf(r->host, sizeof(r->host), "%s", c->tgt_host);
	r->port = c->tgt_port;
	host_rid(rid, sizeof(rid), r->host, r->port);
	ctx = json_object();
	json_object_set_new(ctx, "scheme", json_string("opaque"));
	if (policy_decide("NetworkConnect", "Host", rid, false, ctx, &v) < 0) {
		json_decref(ctx);
		conn_refuse(c, 502, "leash: out of memory");
		return;
	}
	json_decref(ctx);
	r->decision = v.decision;
	r->policies = v.policies;
	v.policies = NULL;
	if (v.decision == DECISION_DENY) {
		conn_refuse(c, 403, "leash: %s denied by policy (%s)", rid, v.reason);
		policy_verdict_free(&v);
		return;
	}
	policy_verdict_free(&v);
	if (up_dial(c) < 0) {
		conn_refuse(c, 502, "leash: cannot reach %s", rid);
		return;
	}
	c->state = S_TUNNEL;
	cli_process(c);
}

static void start_peek_in(struct proxy_conn *c, int ms);

static void on_peek(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_conn *c = arg;
	unsigned char b[PROXY_PEEK_MAX];
	ssize_t n;

	event_free(c->peek);
	c->peek = NULL;
	if ((what & EV_TIMEOUT) && c->peeks == 0) {
		conn_free(c);
		return;
	}
	n = recv(fd, b, sizeof(b), MSG_PEEK);
	if (n <= 0) {
		conn_free(c);
		return;
	}
	switch (first_bytes(b, (size_t)n)) {
	case FB_MORE:
		/* The socket stays readable: wait a little, not for EV_READ. */
		if (c->peeks++ < PROXY_HANDSHAKE_S * 1000 / PROXY_PEEK_WAIT_MS) {
			start_peek_in(c, PROXY_PEEK_WAIT_MS);
			return;
		}
		start_opaque(c, "the first bytes never said what they are");
		return;
	case FB_OTHER:
		start_opaque(c, "neither TLS nor HTTP");
		return;
	case FB_TLS_NO_SNI:
		if (c->via == VIA_TRANSPARENT) {
			start_opaque(c, "TLS without a server name");
			return;
		}
		start_tls(c);
		return;
	case FB_TLS:
		start_tls(c);
		return;
	case FB_HTTP:
		break;
	}
	c->cli = bufferevent_socket_new(reactor_base(), c->fd, 0);
	if (!c->cli) {
		conn_free(c);
		return;
	}
	cli_setup(c);
	cli_process(c);
}

/* Waits for the first bytes: for EV_READ (MS 0, with the handshake
 * timeout), or MS milliseconds. */
static void start_peek_in(struct proxy_conn *c, int ms)
{
	struct timeval tv = { PROXY_HANDSHAKE_S, 0 };

	if (ms) {
		tv.tv_sec = 0;
		tv.tv_usec = ms * 1000;
	}
	c->state = S_PEEK;
	c->peek = event_new(reactor_base(), c->fd, ms ? 0 : EV_READ, on_peek, c);
	if (!c->peek || event_add(c->peek, &tv) < 0)
		conn_free(c);
}

static void start_peek(struct proxy_conn *c)
{
	c->peeks = 0;
	start_peek_in(c, 0);
}

static void conn_free(struct proxy_conn *c)
{
	if (c->peek)
		event_free(c->peek);
	if (c->up)
		bufferevent_free(c->up);
	if (c->cli) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->cli);

		if (ssl)
			SSL_shutdown(ssl);
		bufferevent_free(c->cli);
	}
	if (c->fd >= 0)
		close(c->fd);
	mcp_conn_free(c);
	req_reset(&c->req);
	req_reset(&c->resp);
	if (c->prev)
		c->prev->next = c->next;
	else
		px.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px.nconns--;
	free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct sockaddr_in *peer = (struct sockaddr_in *)sa;
	struct proxy_conn *c;

	if (px.nconns >= PROXY_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		if (px.refused_conns++ == 0)
			log_warn("proxy: more than %d connections: refusing new ones",
				 PROXY_MAX_CONNS);
		close(fd);
		return;
	}
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->next = px.conns;
	if (px.conns)
		px.conns->prev = c;
	px.conns = c;
	px.nconns++;
	evutil_make_socket_nonblocking(fd);
	if (sa->sa_family == AF_INET &&
	    network_orig_dst(ntohs(peer->sin_port), c->tgt_host, sizeof(c->tgt_host), &c->tgt_port,
			     &c->pid) == 0) {
		c->via = VIA_TRANSPARENT;
		start_peek(c);
		return;
	}
	c->via = VIA_EXPLICIT;
	c->cli = bufferevent_socket_new(reactor_base(), fd, 0);
	if (!c->cli) {
		conn_free(c);
		return;
	}
	cli_setup(c);
}

/* ---- start and stop -------------------------------------------------------- */

static int tls_setup(char *err, size_t errlen)
{
	px.server_ctx = SSL_CTX_new(TLS_server_method());
	px.client_ctx = SSL_CTX_new(TLS_client_method());
	if (!px.server_ctx || !px.client_ctx) {
		snprintf(err, errlen, "proxy: cannot create TLS contexts");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(px.server_ctx, TLS1_2_VERSION);
	SSL_CTX_set_tlsext_servername_callback(px.server_ctx, on_sni);
	px.probe_ctx = SSL_CTX_new(TLS_server_method());
	if (!px.probe_ctx) {
		snprintf(err, errlen, "proxy: cannot create TLS contexts");
		return -ENOMEM;
	}
	SSL_CTX_set_client_hello_cb(px.probe_ctx, probe_hello, NULL);
	SSL_CTX_set_session_cache_mode(px.server_ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_min_proto_version(px.client_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(px.client_ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(px.client_ctx) != 1) {
		snprintf(err, errlen, "proxy: cannot load the system's CA certificates");
		return -EIO;
	}
	if (px.o.upstream_ca &&
	    SSL_CTX_load_verify_locations(px.client_ctx, px.o.upstream_ca, NULL) != 1) {
		snprintf(err, errlen, "proxy: cannot load --upstream-ca '%s'", px.o.upstream_ca);
		return -EINVAL;
	}
	SSL_CTX_set_alpn_protos(px.client_ctx, (const unsigned char *)"\x08http/1.1", 9);
	return 0;
}

int proxy_start(const struct proxy_opts *o, char *err, size_t errlen)
{
	socklen_t sl = sizeof(px.addr);
	int rc;

	memset(&px, 0, sizeof(px));
	px.o = *o;
	rc = tls_setup(err, errlen);
	if (rc)
		goto fail;
	px.dns = evdns_base_new(reactor_base(), EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!px.dns) {
		/* No resolv.conf: names still resolve through --resolve pins. */
		px.dns = evdns_base_new(reactor_base(), 0);
		if (!px.dns) {
			snprintf(err, errlen, "proxy: cannot start the resolver");
			rc = -ENOMEM;
			goto fail;
		}
	}
	px.addr.sin_family = AF_INET;
	px.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	px.lst = evconnlistener_new_bind(reactor_base(), on_accept, NULL,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						 LEV_OPT_REUSEABLE,
					 512, (struct sockaddr *)&px.addr, sizeof(px.addr));
	if (!px.lst ||
	    getsockname(evconnlistener_get_fd(px.lst), (struct sockaddr *)&px.addr, &sl) < 0) {
		snprintf(err, errlen, "proxy: cannot listen on 127.0.0.1: %s", strerror(errno));
		rc = -errno;
		goto fail;
	}
	snprintf(px.url, sizeof(px.url), "http://127.0.0.1:%u", ntohs(px.addr.sin_port));
	log_debug("proxy: listening on %s", px.url);
	return 0;
fail:
	proxy_stop();
	return rc;
}

void proxy_stop(void)
{
	while (px.conns) {
		publish_request(px.conns);
		conn_free(px.conns);
	}
	if (px.lst)
		evconnlistener_free(px.lst);
	if (px.dns)
		evdns_base_free(px.dns, 0);
	SSL_CTX_free(px.server_ctx);
	SSL_CTX_free(px.probe_ctx);
	SSL_CTX_free(px.client_ctx);
	memset(&px, 0, sizeof(px));
}

int proxy_address(struct sockaddr_storage *ss, socklen_t *len)
{
	if (!px.lst)
		return -ENOENT;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &px.addr, sizeof(px.addr));
	*len = sizeof(px.addr);
	return 0;
}

const char *proxy_url(void)
{
	return px.url;
}

const struct proxy_opts *proxy_options(void)
{
	return &px.o;
}
