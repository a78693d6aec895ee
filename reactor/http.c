/* http.c: HTTP/1.1 connections on bufferevents, parsed by libhttp-parser.
 *
 * Each connection owns one http_parser and one request being collected.
 * The parser is paused at the end of each message, so the read callback
 * dispatches exactly one request at a time, drains what was parsed, and
 * goes on with the next pipelined one. A request that asks for an upgrade
 * stops parsing: whatever follows it belongs to the new protocol and stays
 * in the bufferevent for http_take_over(). Connections are kept in a list
 * so the server can close them all at shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>

#include "http.h"

struct http_server {
	struct evconnlistener *lst;
	struct event_base *base;
	http_handler fn;
	void *arg;
	int port;
	size_t nconns;
	struct http_conn *conns;
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	struct bufferevent *bev;
	http_parser parser;
	struct http_request rq;
	char *url;
	size_t url_len;
	bool in_value; /* the last header callback was a value */
	bool complete; /* a whole request is collected */
	bool keep_alive;
	bool closing; /* close once the output is written */
	bool taken; /* http_take_over() ran */
	bool too_big;
	char peer[64];
};

static const char *status_text(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 426:
		return "Upgrade Required";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

/* ---- the request being collected ---------------------------------------- */

static void request_reset(struct http_conn *c)
{
	for (size_t i = 0; i < c->rq.nheaders; i++) {
		free(c->rq.headers[i].name);
		free(c->rq.headers[i].value);
	}
	free(c->rq.path);
	free(c->rq.body);
	free(c->url);
	memset(&c->rq, 0, sizeof(c->rq));
	c->url = NULL;
	c->url_len = 0;
	c->in_value = false;
	c->complete = false;
	c->too_big = false;
}

/* Appends N bytes of S to the NUL-terminated *DST of length *LEN. */
static int append(char **dst, size_t *len, const char *s, size_t n, size_t max)
{
	char *p;

	if (*len + n > max)
		return -E2BIG;
	p = realloc(*dst, *len + n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + *len, s, n);
	*len += n;
	p[*len] = '\0';
	*dst = p;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;

	return append(&c->url, &c->url_len, at, n, 16384) ? -1 : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_header *h;
	size_t len;

	if (c->in_value || c->rq.nheaders == 0) {
		if (c->rq.nheaders == HTTP_MAX_HEADERS)
			return -1;
		c->rq.nheaders++;
		c->in_value = false;
	}
	h = &c->rq.headers[c->rq.nheaders - 1];
	len = h->name ? strlen(h->name) : 0;
	return append(&h->name, &len, at, n, 256) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_header *h;
	size_t len;

	if (c->rq.nheaders == 0)
		return -1;
	h = &c->rq.headers[c->rq.nheaders - 1];
	len = h->value ? strlen(h->value) : 0;
	c->in_value = true;
	return append(&h->value, &len, at, n, 8192) ? -1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;

	if (append(&c->rq.body, &c->rq.body_len, at, n, HTTP_MAX_BODY)) {
		c->too_big = true;
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	char *q;

	c->complete = true;
	c->keep_alive = http_should_keep_alive(p);
	c->rq.method = http_method_str(p->method);
	c->rq.upgrade = p->upgrade;
	c->rq.path = strdup(c->url ? c->url : "/");
	if (!c->rq.path)
		return -1;
	q = strchr(c->rq.path, '?');
	if (q) {
		*q = '\0';
		c->rq.query = q + 1;
	}
	if (!c->rq.body)
		c->rq.body = strdup("");
	http_parser_pause(p, 1);
	return c->rq.body ? 0 : -1;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- connections --------------------------------------------------------- */

static void conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	request_reset(c);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

static void on_written(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->closing)
		conn_free(c);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	/* EOF, error or idle timeout: nothing more will come. */
	conn_free(arg);
}

static void fail(struct http_conn *c, int status, const char *msg)
{
	char body[160];
	int n = snprintf(body, sizeof(body),
			 "{\"error\":{\"message\":\"%s\",\"code\":\"http.%d\"}}", msg, status);

	c->keep_alive = false;
	http_respond(c, status, "application/json", NULL, body, (size_t)n);
}

/* Parses what is buffered; dispatches each complete request. */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->closing && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);
		const char *data = (const char *)evbuffer_pullup(in, -1);
		size_t used = http_parser_execute(&c->parser, &settings, data, len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

		if (e != HPE_OK && e != HPE_PAUSED) {
			fail(c, c->too_big ? 413 : 400,
			     c->too_big ? "request body too large" : "malformed request");
			return;
		}
		if (!c->complete && c->parser.upgrade) {
			fail(c, 400, "malformed request");
			return;
		}
		evbuffer_drain(in, used);
		if (!c->complete)
			return; /* wait for more bytes */
		c->srv->fn(c, &c->rq, c->srv->arg);
		if (c->taken) {
			free(c);
			return;
		}
		if (c->rq.upgrade && !c->closing) {
			/* The handler refused the upgrade without answering. */
			fail(c, 400, "upgrade refused");
			return;
		}
		request_reset(c);
		http_parser_pause(&c->parser, 0);
	}
}

static void on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c;
	struct timeval idle = { HTTP_IDLE_SECS, 0 };

	if (srv->nconns >= HTTP_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		evutil_closesocket(fd);
		return;
	}
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->srv = srv;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->peer,
			  sizeof(c->peer));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	bufferevent_setcb(c->bev, on_read, on_written, on_conn_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- the server ---------------------------------------------------------- */

static int parse_addr(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	char buf[300];
	size_t n;
	bool any_port;

	if (strncmp(addr, "localhost:", 10) == 0)
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", addr + 10);
	else
		snprintf(buf, sizeof(buf), "%s", addr);
	/* libevent refuses port 0; ask for 1 and clear it. */
	n = strlen(buf);
	any_port = n > 2 && strcmp(buf + n - 2, ":0") == 0;
	if (any_port)
		buf[n - 1] = '1';
	*sslen = sizeof(*ss);
	if (evutil_parse_sockaddr_port(buf, (struct sockaddr *)ss, sslen) < 0)
		return -EINVAL;
	if (any_port && ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	else if (any_port)
		((struct sockaddr_in *)ss)->sin_port = 0;
	return 0;
}

int http_server_listen(struct http_server **out, struct event_base *base, const char *addr,
		       http_handler fn, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct http_server *srv;
	int sslen, rc;

	if (parse_addr(addr, &ss, &sslen) < 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", addr);
		return -EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->fn = fn;
	srv->arg = arg;
	srv->lst = evconnlistener_new_bind(base, on_accept, srv,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						   LEV_OPT_CLOSE_ON_EXEC,
					   64, (struct sockaddr *)&ss, sslen);
	if (!srv->lst) {
		rc = errno ? -errno : -EADDRINUSE;
		snprintf(err, errlen, "cannot listen on '%s': %s", addr, strerror(-rc));
		free(srv);
		return rc;
	}
	if (getsockname(evconnlistener_get_fd(srv->lst), (struct sockaddr *)&ss, &len) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	*out = srv;
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

int http_server_fd(const struct http_server *srv)
{
	return evconnlistener_get_fd(srv->lst);
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_free(srv->conns);
	evconnlistener_free(srv->lst);
	free(srv);
}

/* ---- requests and responses ---------------------------------------------- */

const char *http_header(const struct http_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (rq->headers[i].name && strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value ? rq->headers[i].value : "";
	return NULL;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes %XX and '+' from S (N bytes) into OUT. */
static int url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			ch = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

int http_query(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);

		if (plen >= nlen && strncmp(p, name, nlen) == 0 &&
		    (plen == nlen || p[nlen] == '=')) {
			const char *v = plen == nlen ? p + plen : p + nlen + 1;

			return url_decode(v, plen - (size_t)(v - p), out, outlen);
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

void http_respond(struct http_conn *c, int status, const char *content_type, const char *extra,
		  const void *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	bool head = c->rq.method && strcmp(c->rq.method, "HEAD") == 0;

	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
			    "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
			    "Referrer-Policy: no-referrer\r\n%s%s%s%s",
			    status, status_text(status), len, content_type ? "Content-Type: " : "",
			    content_type ? content_type : "", content_type ? "\r\n" : "",
			    extra ? extra : "");
	if (!c->keep_alive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (len && !head)
		evbuffer_add(out, body, len);
	if (!c->keep_alive || c->rq.upgrade) {
		c->closing = true;
		bufferevent_disable(c->bev, EV_READ);
	}
}

struct bufferevent *http_take_over(struct http_conn *c)
{
	struct bufferevent *bev = c->bev;
	struct http_server *srv = c->srv;

	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	c->bev = NULL;
	/* Unlink now; on_read frees C when the handler returns. */
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	request_reset(c);
	c->taken = true;
	return bev;
}

const char *http_conn_peer(const struct http_conn *c)
{
	return c->peer;
}
