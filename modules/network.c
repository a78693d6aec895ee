/* network.c: the network module (NetworkConnect).
 *
 * Not built yet: connections are neither observed nor enforced. The hooks
 * stay NULL until the cgroup connect4/6 backend lands (issue 4).
 */
#include "module.h"

const struct module network_module = {
	.name = "network",
};
