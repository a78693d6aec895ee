/* modules.c: the static module table, in start-up order.
 *
 * lsm comes before file: where the kernel runs the bpf LSM, it decides file
 * opens and execs in the kernel and the file module stands aside (no
 * fanotify); elsewhere lsm does nothing and file enforces with fanotify.
 *
 * When adding a module: define `const struct module NAME_module` in
 * modules/NAME.c, declare it here, list it below.
 */
#include "module.h"

extern const struct module file_module, process_module, network_module, mcp_module, lsm_module;

const struct module *const modules[] = {
	&process_module, &lsm_module, &file_module, &network_module, &mcp_module,
};

const size_t modules_count = sizeof(modules) / sizeof(modules[0]);
