/* control_mcp.h: the session's MCP decision socket, for `leash mcp wrap`.
 *
 * A stdio MCP server runs inside the sandbox as a child of the agent, where
 * no proxy sees its traffic; `leash mcp wrap` (mcp_wrap.c) relays it and
 * asks the session, over this socket, for the decision on each tools/call
 * and which tools a tools/list answer may offer, and has what it relays
 * recorded. The socket serves only that: it cannot read or change the
 * policy, the mode or the audit log (those stay behind the control server, which the
 * agent cannot reach). See docs-mcp.md, "stdio servers".
 *
 * Protocol: one JSON object per line each way; requests marked (answered)
 * get exactly one line back, in order, the others never do.
 *   {"op":"hello","server":"stdio:NAME","command":[argv..]}
 *     once, first: the server this connection relays (the command is
 *     recorded redacted). Each connection is one MCP session (a UUID).
 *   {"op":"decide","server":S,"tool":T,"arguments":A,"id":ID}  (answered)
 *     -> {"decision":"allow"|"deny"|"would_deny","policies":[..],
 *         "reason":R,"call":N[,"message":M]}
 *     A denied call is recorded at once (outcome "denied"); any other is
 *     held as call N until its result. S must start with "stdio:".
 *   {"op":"result","call":N,"outcome":O[,"is_error":B,"error_code":C,
 *     "error_message":M]} records call N, with the duration the session
 *     measured.
 *   {"op":"record","direction":"agent"|"server","message":DIGEST}
 *     a relayed message other than tools/call (method, id, and of params
 *     and result only what events keep). A request from the agent is held
 *     until the server's answer (a record without method, same id).
 *   {"op":"list","id":ID,"tools":[names]}  (answered)
 *     -> {"hide":[names]}: the tools/list answer's tools the wrapper must
 *     drop (enforce mode only); records the mcp.tools.list event.
 *   {"op":"uninspected","direction":D,"why":W,"bytes":N}  (answered)
 *     -> {"decision":"deny"|"would_deny"} or {}: a line the wrapper cannot
 *     read; deny means refuse it. Recorded as mcp.uninspected.
 *   Anything else -> {"error":MESSAGE}. Requests held when the connection
 *   closes are recorded with outcome "connection closed".
 * Only processes in the session's cgroup may connect (SO_PEERCRED).
 */
#ifndef LEASH_CONTROL_MCP_H
#define LEASH_CONTROL_MCP_H

#include <stddef.h>
#include <sys/types.h>

/* Where the sockets live: root's, 0711, so names cannot be listed. */
#define CONTROL_MCP_DIR "/run/leash-mcp"
/* The variable that tells the wrapper where its session's socket is. */
#define CONTROL_MCP_ENV "LEASH_MCP_SOCKET"
/* A line of the protocol, at most (bytes). */
#define CONTROL_MCP_MAX_LINE (8u << 20)

/* Listens on CONTROL_MCP_DIR/<UUID>.sock, owned by UID:GID, mode 0600.
 * 0, or -errno with a message in ERR. */
int control_mcp_start(const char *uuid, uid_t uid, gid_t gid, char *err, size_t errlen);
/* The socket's path, or NULL when none listens. */
const char *control_mcp_path(void);
/* Records what is held as "connection closed", closes, removes the socket. */
void control_mcp_stop(void);

#endif
