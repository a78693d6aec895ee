/* bus.h: the event bus. Every source publishes here; every sink subscribes.
 *
 * Delivery is synchronous, in subscription order, on the reactor's one
 * thread. A subscriber must not block; one that needs the event later takes
 * a reference with record_ref().
 */
#ifndef LEASH_BUS_H
#define LEASH_BUS_H

#include "record.h"

typedef void (*bus_fn)(struct record *ev, void *arg);

/* 0, or -ENOSPC when the (small, static) subscriber table is full. */
int bus_subscribe(bus_fn fn, void *arg);
void bus_unsubscribe(bus_fn fn, void *arg);

/* Stamps EV with the next sequence number and the current mode, delivers
 * it, then drops the publisher's reference: the caller gives EV away. */
void bus_publish(struct record *ev);

void bus_set_mode(enum mode m);
enum mode bus_mode(void);
uint64_t bus_last_seq(void);

#endif
