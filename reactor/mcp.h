/* mcp.h: MCP (JSON-RPC 2.0 over HTTP) seen in the proxy, McpCall decided on it.
 *
 * The proxy (proxy.c) calls these hooks for every request and response;
 * mcp.c recognises MCP by the JSON-RPC shape of the bodies (any content
 * type), records each message as an mcp.* event, decides every tools/call
 * as McpCall on MCP::Tool::"name" in MCP::Server::"host", answers a
 * forbidden call itself (a JSON-RPC error with the call's own id, never
 * forwarded; for the older HTTP+SSE transport, on the client's event
 * stream), and filters tools/list results in enforce mode. The module
 * side (modules/mcp.c) tells it whether the policy in force governs
 * McpCall at all.
 */
#ifndef LEASH_MCP_H
#define LEASH_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct proxy_conn;
struct http_parser;

/* A request body leash holds to inspect, at most (bytes). */
#define MCP_MAX_BODY (8u << 20)
/* All held bodies together, at most: past it a body counts as oversized. */
#define MCP_MAX_HELD (64u << 20)

/* Whether the policy in force has any rule that can match McpCall: when it
 * has none, calls are allowed ("no McpCall rules") without asking Cedar;
 * when it has one, Cedar decides, default deny included. */
void mcp_set_governed(bool governed);

/* ---- proxy hooks (proxy.c), in the order a request sees them ----------- */

/* C's request head is complete and allowed, upstream dialled. Returns 1
 * when mcp holds the head (it writes it, possibly rewritten, once it has
 * seen the body), 0 when the proxy should write it now. May set
 * C->refuse_status and pause the parser (a body leash cannot inspect). */
int mcp_req_head(struct proxy_conn *c);
/* LEN body bytes: true when mcp took them (held, or written itself). */
bool mcp_req_body(struct proxy_conn *c, const char *at, size_t len);
/* The request body is complete: forwards what is held (a batch without
 * its forbidden calls), or answers the client itself and returns true
 * with C->refuse_status set (the proxy then records and closes). */
bool mcp_req_end(struct proxy_conn *c);
/* The response head, before the proxy writes it: mcp may rewrite its
 * framing (C->resp.h, C->resp_chunked) when it will change the body. */
void mcp_resp_head(struct proxy_conn *c, const struct http_parser *p);
/* LEN response body bytes: true when mcp took them (it writes them). */
bool mcp_resp_body(struct proxy_conn *c, const char *at, size_t len);
/* The response ended: flush what is held, publish what is pending. */
void mcp_resp_end(struct proxy_conn *c);
/* C goes away: publish what is pending, free C->mcp. */
void mcp_conn_free(struct proxy_conn *c);

/* ---- pure helpers (exported for unit tests) ----------------------------- */

/* V as a Cedar JSON value (new reference): reals become strings, nulls are
 * dropped, objects that Cedar would read as entities or extensions
 * (__entity, __extn) and anything nested deeper than 32 become their JSON
 * text. NULL only when out of memory. */
json_t *mcp_cedar_value(const json_t *v);
/* A copy of V for events: values of secret-looking keys (token,
 * password, key, ...) and leash placeholders become "[redacted]". */
json_t *mcp_redact(const json_t *v);
/* The event kind of a message of METHOD ("tools/call" -> "mcp.call", ...),
 * the same over HTTP and over stdio. */
const char *mcp_event_kind(const char *method);
/* What an agent's request of METHOD says that its event keeps, into D:
 * initialize's client name, version and protocol version, a resource's
 * uri, a prompt's name. The same over HTTP and over stdio. */
void mcp_request_details(json_t *d, const char *method, const json_t *params);

#endif
