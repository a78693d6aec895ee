/* mcp.c: the MCP module (McpCall on MCP::Tool in MCP::Server).
 *
 * The enforcement point is the proxy (reactor/mcp.c sees every HTTP MCP
 * message there); this module tells it, per policy, whether McpCall is
 * governed: a policy with no rule whose action scope can match McpCall
 * leaves MCP calls allowed ("no McpCall rules"); one with any such rule
 * has them decided by Cedar, default deny included.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "cedar/cedar.h"
#include "mcp.h"
#include "module.h"
#include "policy.h"

static const char *const mcp_actions[] = { "McpCall", NULL };

/* Staged state is one of two static flags: nothing to allocate or free. */
static bool yes = true, no = false;

static int mcp_prepare(const struct policy *p, enum mode m, void **staged, char *err, size_t errlen)
{
	struct cedar_rules rules = { 0 };

	if (cedar_rules_for_action(p->ps, "McpCall", &rules) < 0) {
		snprintf(err, errlen, "mcp: out of memory");
		return -ENOMEM;
	}
	*staged = rules.n ? &yes : &no;
	cedar_rules_free(&rules);
	return 0;
}

static void mcp_commit(void *staged)
{
	mcp_set_governed(*(bool *)staged);
}

static const char *mcp_backend(void)
{
	return "proxy, mcp wrap";
}

const struct module mcp_module = {
	.name = "mcp",
	.enforces = mcp_actions,
	.backend = mcp_backend,
	.policy_prepare = mcp_prepare,
	.policy_commit = mcp_commit,
};
