/* tty.h: give the command a terminal of its own and relay it.
 *
 * When leash's stdin is a terminal, the command gets a new pty: leash puts
 * the real terminal in raw mode and copies bytes both ways in the loop, so
 * ^C, ^Z and the rest reach the command through its own line discipline,
 * window-size changes follow (SIGWINCH), and the command can never push
 * input into the user's shell (TIOCSTI works only on one's own controlling
 * terminal). The command's stdout/stderr use the pty only where leash's own
 * are terminals; redirections are passed through untouched.
 */
#ifndef LEASH_TTY_H
#define LEASH_TTY_H

struct tty_relay;

/* If stdin is a terminal, opens a pty sized and configured like it and
 * sets *SLAVE (the command's end); otherwise *OUT = NULL, *SLAVE = -1.
 * 0, or -errno with a message in ERR. */
int tty_relay_open(struct tty_relay **out, int *slave, char *err, size_t errlen);

/* Raw mode on the real terminal and start copying. Needs the reactor. */
int tty_relay_start(struct tty_relay *t);

/* Gives the terminal back (cooked mode), e.g. before leash stops itself
 * for ^Z, and takes it again on resume. */
void tty_relay_suspend(struct tty_relay *t);
void tty_relay_resume(struct tty_relay *t);

/* Pushes the real terminal's window size to the pty. */
void tty_relay_winch(struct tty_relay *t);

/* Copies what the command wrote and is still buffered, restores the real
 * terminal, frees. NULL is fine. */
void tty_relay_close(struct tty_relay *t);

#endif
