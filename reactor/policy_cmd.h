/*
 * policy_cmd.h: `leash policy ...`, the command-line face of the Cedar engine.
 */
#ifndef POLICY_CMD_H
#define POLICY_CMD_H

/*
 * argv[0] is "policy". Subcommands: check, eval (single or --batch), fmt,
 * complete. Returns the exit status: 0 ok/allow, 1 policy errors or deny,
 * 2 usage error (one line on stderr).
 */
int policy_cmd_main(int argc, char **argv);

#endif
