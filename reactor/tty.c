/* tty.c: the pty relay between the user's terminal and the command.
 *
 * Data: the pty master, a second open file description of the user's
 * terminal (opened by name, so setting O_NONBLOCK on it does not change the
 * shell's own description), the saved termios, two bufferevents.
 * Back-pressure: when the terminal cannot keep up, reading from the pty
 * stops until the output drains, so a flood from the command costs bounded
 * memory and the command blocks as it would on a slow terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "reactor.h"
#include "tty.h"

#define TTY_HIGH_WATER (256 * 1024)

struct tty_relay {
	int master;
	int term; /* the user's terminal, our own O_NONBLOCK description */
	struct termios saved;
	int raw;
	struct bufferevent *from_term, *from_pty;
};

int tty_relay_open(struct tty_relay **out, int *slave, char *err, size_t errlen)
{
	struct tty_relay *t;
	struct winsize ws;
	const char *name;
	int rc;

	*out = NULL;
	*slave = -1;
	if (!isatty(STDIN_FILENO))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->master = t->term = *slave = -1;
	name = ttyname(STDIN_FILENO);
	if (!name || tcgetattr(STDIN_FILENO, &t->saved) < 0)
		goto fail;
	t->term = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (t->term < 0 || t->master < 0 || grantpt(t->master) < 0 || unlockpt(t->master) < 0)
		goto fail;
	*slave = open(ptsname(t->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0 || tcsetattr(*slave, TCSANOW, &t->saved) < 0)
		goto fail;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(*slave, TIOCSWINSZ, &ws);
	*out = t;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "cannot set up a terminal for the command: %s", strerror(errno));
	if (*slave >= 0)
		close(*slave);
	*slave = -1;
	tty_relay_close(t);
	return rc;
}

static void set_raw(struct tty_relay *t, int on)
{
	struct termios raw = t->saved;

	if (on == t->raw)
		return;
	if (on) {
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
	} else {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
	}
	t->raw = on;
	log_set_crlf(on);
}

static void copy(struct bufferevent *from, struct bufferevent *to)
{
	evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(from));
	if (evbuffer_get_length(bufferevent_get_output(to)) > TTY_HIGH_WATER)
		bufferevent_disable(from, EV_READ);
}

static void on_term_read(struct bufferevent *bev, void *arg)
{
	struct tty_relay *t = arg;

	copy(t->from_term, t->from_pty);
}

static void on_pty_read(struct bufferevent *bev, void *arg)
{
	struct tty_relay *t = arg;

	copy(t->from_pty, t->from_term);
}

/* Output drained below the mark: resume the side that was paused. */
static void on_term_written(struct bufferevent *bev, void *arg)
{
	struct tty_relay *t = arg;

	bufferevent_enable(t->from_pty, EV_READ);
}

static void on_pty_written(struct bufferevent *bev, void *arg)
{
	struct tty_relay *t = arg;

	bufferevent_enable(t->from_term, EV_READ);
}

/* EIO on the master means every slave fd is closed: the command is gone,
 * and the session's end is noticed through init, not here. */
static void on_pty_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_disable(bev, EV_READ);
}

static void on_term_event(struct bufferevent *bev, short what, void *arg)
{
	/* The user's terminal went away (hangup); SIGHUP does the rest. */
	bufferevent_disable(bev, EV_READ);
}

int tty_relay_start(struct tty_relay *t)
{
	struct event_base *base = reactor_base();

	t->from_term = bufferevent_socket_new(base, t->term, 0);
	t->from_pty = bufferevent_socket_new(base, t->master, 0);
	if (!t->from_term || !t->from_pty)
		return -ENOMEM;
	bufferevent_setcb(t->from_term, on_term_read, on_term_written, on_term_event, t);
	bufferevent_setcb(t->from_pty, on_pty_read, on_pty_written, on_pty_event, t);
	bufferevent_setwatermark(t->from_term, EV_WRITE, TTY_HIGH_WATER / 4, 0);
	bufferevent_setwatermark(t->from_pty, EV_WRITE, TTY_HIGH_WATER / 4, 0);
	bufferevent_enable(t->from_term, EV_READ | EV_WRITE);
	bufferevent_enable(t->from_pty, EV_READ | EV_WRITE);
	set_raw(t, 1);
	return 0;
}

void tty_relay_suspend(struct tty_relay *t)
{
	if (t)
		set_raw(t, 0);
}

void tty_relay_resume(struct tty_relay *t)
{
	if (!t)
		return;
	set_raw(t, 1);
	tty_relay_winch(t);
}

void tty_relay_winch(struct tty_relay *t)
{
	struct winsize ws;

	if (t && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(t->master, TIOCSWINSZ, &ws);
}

/* Blocking writes are fine here: the session is over and this is the
 * command's last output. */
static void drain(struct tty_relay *t)
{
	struct evbuffer *out;
	char buf[4096];
	ssize_t n;

	if (!t->from_pty)
		return;
	out = bufferevent_get_output(t->from_term);
	evbuffer_add_buffer(out, bufferevent_get_input(t->from_pty));
	while ((n = read(t->master, buf, sizeof(buf))) > 0)
		evbuffer_add(out, buf, n);
	fcntl(t->term, F_SETFL, fcntl(t->term, F_GETFL) & ~O_NONBLOCK);
	while (evbuffer_get_length(out) > 0)
		if (evbuffer_write(out, t->term) < 0 && errno != EINTR)
			break;
}

void tty_relay_close(struct tty_relay *t)
{
	if (!t)
		return;
	drain(t);
	set_raw(t, 0);
	if (t->from_term)
		bufferevent_free(t->from_term);
	if (t->from_pty)
		bufferevent_free(t->from_pty);
	if (t->master >= 0)
		close(t->master);
	if (t->term >= 0)
		close(t->term);
	free(t);
}
