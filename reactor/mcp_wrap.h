/* mcp_wrap.h: `leash mcp wrap -- SERVER-COMMAND [ARGS]`, a stdio MCP relay.
 *
 * Put in an agent's MCP configuration in place of a stdio server's
 * command. Runs the server as a child and relays newline-delimited
 * JSON-RPC both ways, byte for byte, except that each tools/call (alone or
 * in a batch) is first decided by the leash session the wrapper runs in,
 * over the session's MCP socket (control_mcp.h); a forbidden call is
 * answered by the wrapper with a JSON-RPC error (-32000, the call's own
 * id) and never reaches the server. tools/list answers lose the tools the
 * policy forbids (enforce mode); all traffic is recorded by the session.
 * Outside a session it refuses to start, unless --no-session asks it to
 * relay ungoverned.
 */
#ifndef LEASH_MCP_WRAP_H
#define LEASH_MCP_WRAP_H

/* `leash mcp ...` with ARGV[0] == "mcp". Returns the exit status: the
 * server's, or 1 on a usage or set-up error. */
int mcp_wrap_main(int argc, char **argv);

#endif
