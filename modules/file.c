/* file.c: the file module (FileOpen, FileOpenReadOnly, FileOpenReadWrite).
 *
 * Not built yet: file opens are neither observed nor enforced. The hooks
 * stay NULL until the fanotify backend lands (issue 4), so the session
 * does not pretend to govern files.
 */
#include "module.h"

const struct module file_module = {
	.name = "file",
};
