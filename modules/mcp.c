/* mcp.c: the MCP module (McpCall on MCP::Server and MCP::Tool).
 *
 * Not built yet: MCP traffic is seen only once the proxy exists (issues 6
 * and 8). The hooks stay NULL until then.
 */
#include "module.h"

const struct module mcp_module = {
	.name = "mcp",
};
