/* session.h: run one governed session, start to end.
 *
 * session_run() is leash's main job: create the session cgroup and its
 * reaper, open the store, start the modules, start the sandbox, relay the
 * terminal, run the loop until the command exits, then drain every source,
 * record the end, and take the cgroup down.
 */
#ifndef LEASH_SESSION_H
#define LEASH_SESSION_H

#include "cli.h"

/* Exit status for leash when the session could not be set up. */
#define SESSION_SETUP_FAILED 125

/* Returns leash's exit status: the command's, 128+N if it was killed by
 * signal N, SESSION_SETUP_FAILED if it never ran. */
int session_run(const struct config *cfg);

#endif
