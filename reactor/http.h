/* http.h: a small HTTP/1.1 server on libevent bufferevents, in the loop.
 *
 * Bytes are parsed by libhttp-parser (Debian's libhttp-parser-dev); this
 * layer only keeps connections, collects one request at a time (URL, the
 * headers, a bounded body) and hands it to one handler, synchronously.
 * Pipelined requests are answered in order. A handler answers with
 * http_respond(), or takes the connection over (WebSocket) with
 * http_take_over(). Limits: HTTP_MAX_CONNS connections, HTTP_MAX_BODY bytes
 * of body, HTTP_MAX_HEADERS headers, an idle timeout; beyond them the
 * peer gets an error and the connection is closed. Nothing here blocks.
 */
#ifndef LEASH_HTTP_H
#define LEASH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct bufferevent;
struct http_server;
struct http_conn;

#define HTTP_MAX_CONNS 128
#define HTTP_MAX_BODY (8u << 20)
#define HTTP_MAX_HEADERS 48
#define HTTP_IDLE_SECS 60

struct http_header {
	char *name, *value;
};

struct http_request {
	const char *method; /* "GET", "POST", ... (static) */
	char *path; /* the URL up to '?', not decoded */
	char *query; /* after '?', or NULL */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	char *body; /* NUL-terminated for convenience; body_len excludes it */
	size_t body_len;
	bool upgrade; /* the peer asked for a protocol upgrade */
};

/* Called once per complete request; must answer with http_respond() or
 * http_take_over() before returning. RQ is borrowed for the call. */
typedef void (*http_handler)(struct http_conn *c, const struct http_request *rq, void *arg);

/* Listens on ADDR ("HOST:PORT", IPv4, [IPv6] or localhost; port 0 picks a
 * free port). 0, or -errno with a message in ERR. */
int http_server_listen(struct http_server **out, struct event_base *base, const char *addr,
		       http_handler fn, void *arg, char *err, size_t errlen);
/* The port actually bound. */
int http_server_port(const struct http_server *srv);
/* The listening socket (to learn its address; do not close it). */
int http_server_fd(const struct http_server *srv);
/* Closes the listener and every HTTP connection (not taken-over ones). */
void http_server_free(struct http_server *srv);

/* The value of header NAME (case-insensitive), or NULL. */
const char *http_header(const struct http_request *rq, const char *name);
/* Copies the decoded value of query parameter NAME into OUT. 0, or
 * -ENOENT when absent, -ENAMETOOLONG when it does not fit. */
int http_query(const char *query, const char *name, char *out, size_t outlen);

/* Sends one response. EXTRA is more header lines, each ending in "\r\n",
 * or NULL. The connection is kept alive when the request allowed it. */
void http_respond(struct http_conn *c, int status, const char *content_type, const char *extra,
		  const void *body, size_t len);

/* Detaches the connection from HTTP for an upgrade: returns its
 * bufferevent with no callbacks or timeouts, holding in its input any
 * bytes the peer sent after the request. C is freed; the caller owns the
 * bufferevent. NULL when out of memory (C is closed then). */
struct bufferevent *http_take_over(struct http_conn *c);

/* The peer's address as text, for messages. */
const char *http_conn_peer(const struct http_conn *c);

#endif
