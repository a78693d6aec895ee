/* reactor.c: the single libevent loop and the fd/timer API for modules.
 *
 * One loop per process, so the base is a file-level static: threading it
 * through every module would only hide that there is exactly one.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "bus.h"
#include "reactor.h"

struct reactor_watch {
	struct event *ev;
	reactor_fn fn;
	void *arg;
};

static struct event_base *base;
static struct session_info session;

int reactor_init(void)
{
	struct event_config *cfg = event_config_new();

	if (!cfg)
		return -ENOMEM;
	/* epoll: BPF ring buffers hand us an epoll fd, which epoll can watch. */
	event_config_avoid_method(cfg, "select");
	event_config_avoid_method(cfg, "poll");
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base ? 0 : -ENOMEM;
}

struct event_base *reactor_base(void)
{
	return base;
}

int reactor_run(void)
{
	return event_base_dispatch(base) < 0 ? -EIO : 0;
}

void reactor_stop(void)
{
	event_base_loopbreak(base);
}

void reactor_fini(void)
{
	if (base)
		event_base_free(base);
	base = NULL;
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct reactor_watch *w = arg;

	w->fn(w->arg);
}

static struct reactor_watch *watch_new(int fd, short flags, reactor_fn fn, void *arg)
{
	struct reactor_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fn = fn;
	w->arg = arg;
	w->ev = event_new(base, fd, flags | EV_PERSIST, on_ready, w);
	if (!w->ev) {
		free(w);
		return NULL;
	}
	return w;
}

struct reactor_watch *reactor_watch_fd(int fd, reactor_fn fn, void *arg)
{
	struct reactor_watch *w = watch_new(fd, EV_READ, fn, arg);

	if (w && event_add(w->ev, NULL) < 0) {
		reactor_unwatch(w);
		return NULL;
	}
	return w;
}

struct reactor_watch *reactor_every(int ms, reactor_fn fn, void *arg)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct reactor_watch *w = watch_new(-1, 0, fn, arg);

	if (w && event_add(w->ev, &tv) < 0) {
		reactor_unwatch(w);
		return NULL;
	}
	return w;
}

void reactor_unwatch(struct reactor_watch *w)
{
	if (!w)
		return;
	event_free(w->ev);
	free(w);
}

void reactor_publish(struct record *ev)
{
	bus_publish(ev);
}

const struct session_info *reactor_session(void)
{
	return &session;
}

void reactor_set_session(const struct session_info *info)
{
	session = *info;
}
