/* process.h: what other modules tell the process module.
 *
 * Exec decisions are made where the kernel asks (fanotify, in the file
 * module) before the exec happens; the process.exec event comes later from
 * the exec tracepoint. The file module hands each decision over here, and
 * the exec event of the same thread and file carries it.
 */
#ifndef LEASH_PROCESS_H
#define LEASH_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

struct policy_verdict;

/* Thread TID's exec of the file DEV:INO (DEV as the kernel encodes it,
 * major << 20 | minor) was allowed with verdict V (copied). */
void process_exec_decided(pid_t tid, uint32_t dev, uint64_t ino, const struct policy_verdict *v);

#endif
