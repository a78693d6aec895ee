/* proxy_int.h: what proxy.c and proxy_secret.c share: one client
 * connection, its request in flight, and the header rules step. */
#ifndef LEASH_PROXY_INT_H
#define LEASH_PROXY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <http_parser.h>
#include <jansson.h>

#include "proxy.h"
#include "record.h"

struct bufferevent;
struct event;
struct evbuffer;
struct mcp_conn;

struct proxy_header {
	char *name, *value; /* owned, NUL-terminated */
	size_t nlen, vlen;
};

/* One request (or, for resp, one response head) being relayed. */
struct proxy_req {
	bool started, published;
	int64_t start_ns;
	unsigned method; /* enum http_method */
	char *url;
	size_t url_len;
	struct proxy_header *h;
	size_t nh;
	bool in_value;
	size_t head_bytes;
	char host[256]; /* the verified destination */
	uint16_t port;
	char path[2048];
	bool upgrade, chunked;
	int status;
	uint64_t bytes_out, bytes_in;
	enum decision decision;
	json_t *policies; /* NetworkConnect's deciding ids */
	json_t *rules; /* header rules that fired: policy ids */
	char *reason; /* why leash answered, or NULL */
	char *blocked; /* a secret's name whose placeholder was refused */
};

struct proxy_conn {
	struct proxy_conn *prev, *next;
	int fd; /* until a bufferevent owns it */
	struct event *peek;
	struct bufferevent *cli, *up;
	http_parser rp, sp;
	int via; /* enum conn_via */
	int state; /* enum conn_state */
	bool tls;
	const char *opaque; /* why this is an opaque tunnel (static text), or NULL */
	int peeks; /* waits for more of the first bytes */
	char sni[256];
	char tgt_host[256]; /* CONNECT host, or the redirected address */
	uint16_t tgt_port;
	uint32_t pid; /* the connecting process, when the kernel said */
	char up_host[256];
	uint16_t up_port;
	bool up_tls, up_connected;
	bool req_keep_alive, connect_pending;
	bool resp_started, resp_done, resp_chunked;
	int refuse_status;
	char refuse_why[640];
	struct proxy_req req;
	struct proxy_req resp; /* header collection for the response head */
	struct mcp_conn *mcp; /* MCP state (mcp.c), or NULL */
};

/* The value of header NAME in R (case-insensitive), or NULL. */
const char *proxy_req_header(const struct proxy_req *r, const char *name);

const struct proxy_opts *proxy_options(void);

/* Writes C's rebuilt request head to OUT (upstream). */
void proxy_req_write_head(struct proxy_conn *c, struct evbuffer *out);
/* Writes LEN bytes of body to OUT, as one chunk when CHUNKED. */
void proxy_body_write(struct evbuffer *out, bool chunked, const char *at, size_t len);

/* Applies HttpRewrite rules and swaps secret placeholders in C's request
 * head, toward the verified host C->req.host only. 0, or a status to
 * refuse the request with (WHY says why; never a secret value). */
int proxy_secret_apply(struct proxy_conn *c, char *why, size_t whylen);

#endif
