/* ctl.h: `leash ctl`, the command-line client of a running session's
 * control server (mode, policy, status), for people and scripts. */
#ifndef LEASH_CTL_H
#define LEASH_CTL_H

/* ARGV[0] is "ctl". Returns the exit status: 0 done, 1 leash refused the
 * change (errors printed with positions), 2 bad usage, 3 no session could
 * be reached. */
int ctl_main(int argc, char **argv);

#endif
