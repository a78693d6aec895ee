/* modules.c: the static module table, in start-up order.
 *
 * When adding a module: define `const struct module NAME_module` in
 * modules/NAME.c, declare it here, list it below.
 */
#include "module.h"

extern const struct module file_module, process_module, network_module, mcp_module;

const struct module *const modules[] = {
	&process_module,
	&file_module,
	&network_module,
	&mcp_module,
};

const size_t modules_count = sizeof(modules) / sizeof(modules[0]);
