/* bpfring.h: a module's kernel event stream.
 *
 * One BPF ring buffer read from the loop (through its epoll fd, never
 * ring_buffer__poll), and the per-CPU drop counter beside it, read once a
 * second and at the end: every increase is logged and published as a
 * stats.loss event naming the module, so loss in the kernel is never
 * silent. Modules (process, network) each keep one.
 */
#ifndef LEASH_BPFRING_H
#define LEASH_BPFRING_H

#include <stdint.h>
#include <stddef.h>

#include <bpf/libbpf.h>

struct reactor_watch;

struct bpfring {
	const char *source; /* the module: names it in logs and stats.loss events */
	struct ring_buffer *rb;
	struct reactor_watch *watch, *stats_watch;
	int stats_fd; /* per-CPU array of __u64 counters */
	uint32_t drops_key; /* its "ring buffer full" counter */
	uint64_t drops_seen; /* already reported */
	uint64_t malformed; /* records the module's decoder refused; it counts them here */
};

/* The ring size LEASH_RINGBUF_KB asks for, in bytes, or 0 for the BPF
 * object's own. 0, or -EINVAL with a message in ERR. */
int bpfring_size(uint32_t *bytes, char *err, size_t errlen);

/* Routes libbpf's messages through leash's log (warnings; all of them with
 * --verbose). */
void bpfring_log_libbpf(void);

/* Starts reading RING_FD with FN (called for each record, CTX = R) and
 * watching STATS_FD[DROPS_KEY]. 0, or -errno with a message in ERR. */
int bpfring_open(struct bpfring *r, const char *source, int ring_fd, ring_buffer_sample_fn fn,
		 int stats_fd, uint32_t drops_key, char *err, size_t errlen);

/* Reads every record still queued and reports loss: at the session's end. */
void bpfring_drain(struct bpfring *r);

/* Records lost: kernel drops reported plus malformed records. */
uint64_t bpfring_lost(const struct bpfring *r);

void bpfring_close(struct bpfring *r);

#endif
