/* bpfring.c: read a module's BPF ring buffer in the loop, report its loss. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bpfring.h"
#include "log.h"
#include "reactor.h"
#include "record.h"

int bpfring_size(uint32_t *bytes, char *err, size_t errlen)
{
	const char *v = getenv("LEASH_RINGBUF_KB");
	unsigned long kb;
	char *end;

	*bytes = 0;
	if (!v)
		return 0;
	kb = strtoul(v, &end, 10);
	if (!*v || *end || kb < 4 || kb > (1UL << 20) || (kb & (kb - 1))) {
		snprintf(err, errlen,
			 "LEASH_RINGBUF_KB: '%s' is not a power of two from 4 to 1048576", v);
		return -EINVAL;
	}
	*bytes = kb * 1024;
	return 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && log_get_level() < LOG_VERBOSE)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bpfring_log_libbpf(void)
{
	libbpf_set_print(libbpf_log);
}

static uint64_t stat_sum(int fd, uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0, *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return 0;
	if (bpf_map_lookup_elem(fd, &key, vals) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

/* Publishes a stats.loss event for drops not yet reported. */
static void check_loss(void *arg)
{
	struct bpfring *r = arg;
	uint64_t drops = stat_sum(r->stats_fd, r->drops_key);
	struct record *ev;

	if (drops <= r->drops_seen)
		return;
	log_warn("%s: the kernel dropped %llu events (ring buffer full)", r->source,
		 (unsigned long long)(drops - r->drops_seen));
	ev = record_new("stats.loss");
	if (ev) {
		json_object_set_new(ev->details, "source", json_string(r->source));
		json_object_set_new(ev->details, "ringbuf_drops",
				    json_integer((json_int_t)(drops - r->drops_seen)));
		json_object_set_new(ev->details, "ringbuf_drops_total",
				    json_integer((json_int_t)drops));
		reactor_publish(ev);
	}
	r->drops_seen = drops;
}

static void on_ring(void *arg)
{
	struct bpfring *r = arg;

	if (ring_buffer__consume(r->rb) < 0)
		log_warn("%s: cannot read the ring buffer", r->source);
}

int bpfring_open(struct bpfring *r, const char *source, int ring_fd, ring_buffer_sample_fn fn,
		 int stats_fd, uint32_t drops_key, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->source = source;
	r->stats_fd = stats_fd;
	r->drops_key = drops_key;
	r->rb = ring_buffer__new(ring_fd, fn, r, NULL);
	if (!r->rb) {
		snprintf(err, errlen, "%s: cannot open the ring buffer: %s", source,
			 strerror(errno));
		return -errno;
	}
	r->watch = reactor_watch_fd(ring_buffer__epoll_fd(r->rb), on_ring, r);
	r->stats_watch = reactor_every(1000, check_loss, r);
	if (!r->watch || !r->stats_watch) {
		snprintf(err, errlen, "%s: cannot watch the ring buffer", source);
		return -ENOMEM;
	}
	return 0;
}

void bpfring_drain(struct bpfring *r)
{
	if (!r->rb)
		return;
	ring_buffer__consume(r->rb);
	check_loss(r);
	if (r->malformed)
		log_warn("%s: %llu malformed kernel records dropped", r->source,
			 (unsigned long long)r->malformed);
}

uint64_t bpfring_lost(const struct bpfring *r)
{
	return r->drops_seen + r->malformed;
}

void bpfring_close(struct bpfring *r)
{
	reactor_unwatch(r->watch);
	reactor_unwatch(r->stats_watch);
	ring_buffer__free(r->rb);
	r->watch = r->stats_watch = NULL;
	r->rb = NULL;
}
