/* mcp_sse.h: the endpoints of MCP's older HTTP+SSE transport (2024-11-05).
 *
 * That transport's client GETs an event stream whose first event,
 * `endpoint`, names the URL it must POST its messages to; the server
 * answers each POST 202 and sends the response on the stream. The stream
 * and the POSTs are separate proxy connections, so mcp.c keeps here which
 * open stream (a proxy_conn) each announced endpoint belongs to, keyed by
 * the upstream origin (scheme, verified host, port) and the endpoint's
 * path and query. An entry points at its stream only while the stream's
 * response is being relayed: mcp.c detaches it when the response ends,
 * when the connection starts another request, and when it is freed, so a
 * POST never finds a dangling stream. A detached entry is kept (at most
 * MCP_SSE_MAX_CLOSED of them, oldest dropped) so that a POST to an
 * endpoint whose stream is gone can be told so instead of being taken for
 * Streamable HTTP. An endpoint announced by a second stream while the
 * first is open (a server that gives every session the same URL) is
 * ambiguous: it is tied to no stream from then on, so leash's answers can
 * never reach another session's client.
 */
#ifndef LEASH_MCP_SSE_H
#define LEASH_MCP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proxy_conn;

#define MCP_SSE_MAX_CLOSED 256

struct mcp_sse_endpoint {
	struct mcp_sse_endpoint *next;
	char *key; /* "https://host:port/path?query" */
	char session[160]; /* its sessionId query parameter, or the path and query */
	struct proxy_conn *stream; /* the open stream, or NULL once it is gone */
	bool ambiguous; /* announced by two open streams: tied to none */
};

/* Resolves DATA, an endpoint event's URL, against the stream's URL
 * (SCHEME "http"/"https", HOST, PORT, BASE = the GET's path and query)
 * and writes the key of the endpoint to KEY. -EINVAL when DATA names
 * another origin (scheme, host or port) or is not a URL leash reads,
 * -ENAMETOOLONG when the key does not fit. */
int mcp_sse_resolve(const char *scheme, const char *host, unsigned port, const char *base,
		    const char *data, char *key, size_t keylen);
/* The key of a request to SCHEME://HOST:PORT with PATH (path and query). */
int mcp_sse_key(const char *scheme, const char *host, unsigned port, const char *path, char *key,
		size_t keylen);

/* Records that KEY is STREAM's endpoint (a closed entry with the same key
 * is reused; an open one becomes ambiguous). Returns the entry, or NULL
 * when out of memory. */
struct mcp_sse_endpoint *mcp_sse_register(const char *key, struct proxy_conn *stream);
/* The entry for KEY (open or gone), or NULL when leash never saw it. */
struct mcp_sse_endpoint *mcp_sse_find(const char *key);
/* STREAM is no longer relaying: its entries keep their key, lose it. */
void mcp_sse_detach(struct proxy_conn *stream);

#endif
