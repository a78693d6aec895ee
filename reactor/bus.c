/* bus.c: synchronous publish/subscribe for struct record.
 *
 * One bus per process (one session per process), so its state is static
 * here rather than threaded through every module. The bus owns the sequence
 * counter and the current mode, so every event carries the mode that was in
 * force when it was decided.
 */
#include <errno.h>
#include <stddef.h>

#include "bus.h"

#define BUS_MAX_SUBSCRIBERS 16

static struct {
	bus_fn fn;
	void *arg;
} subs[BUS_MAX_SUBSCRIBERS];
static int nsubs;
static uint64_t seq;
static enum mode mode = MODE_RECORD;

int bus_subscribe(bus_fn fn, void *arg)
{
	if (nsubs == BUS_MAX_SUBSCRIBERS)
		return -ENOSPC;
	subs[nsubs].fn = fn;
	subs[nsubs].arg = arg;
	nsubs++;
	return 0;
}

void bus_unsubscribe(bus_fn fn, void *arg)
{
	for (int i = 0; i < nsubs; i++) {
		if (subs[i].fn == fn && subs[i].arg == arg) {
			subs[i] = subs[--nsubs];
			return;
		}
	}
}

void bus_publish(struct record *ev)
{
	ev->seq = ++seq;
	ev->mode = mode;
	for (int i = 0; i < nsubs; i++)
		subs[i].fn(ev, subs[i].arg);
	record_unref(ev);
}

void bus_set_mode(enum mode m)
{
	mode = m;
}

enum mode bus_mode(void)
{
	return mode;
}

uint64_t bus_last_seq(void)
{
	return seq;
}
