/* network.bpf.h: what the network module's two BPF objects share.
 *
 * network.bpf.c (cgroup programs, every kernel) and network_lsm.bpf.c (BPF
 * LSM hooks, where the kernel runs the bpf LSM) decide connects from the
 * same maps: the LSM object is loaded with each of these maps' fds taken
 * from the cgroup object (bpf_map__reuse_fd, modules/network_lsm.c), so
 * there is one policy trie, one protect set, one ring buffer and one
 * stats map, and a policy swap changes both at once. The definitions here
 * are the ones both objects declare; the helpers are the steps both run.
 */
#ifndef LEASH_NETWORK_BPF_H
#define LEASH_NETWORK_BPF_H

#include "events.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 4 MiB: ~37,000 records, so a burst of connects while the loop is
	 * busy (a policy switch waits for an RCU grace period) fits. */
	__uint(max_entries, 4 << 20);
} events_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NET_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct net_protect_key);
	__type(value, __u32);
} protect_map SEC(".maps");

/* The shape of the inner tries; the reactor creates each one with as many
 * entries as its policy needs (no rule-count cap). The slot is empty, and
 * every connect denied, until the first policy is committed. */
struct net_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct net_key);
	__type(value, struct net_verdict);
} trie_shape SEC(".maps"); /* unused; gives BTF the full key and value types */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct net_trie);
} policy_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_proxy_conf);
} proxy_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} redirect_ports_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_proxy_conf);
} dns_map SEC(".maps");

static __always_inline void net_stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats_map, &which);

	if (v)
		*v += 1;
}

/* K (an IPv4 address in network order) and PORT (host order). */
static __always_inline void net_key_v4(struct net_key *k, __u32 ip, __u16 port)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = NET_PLEN_PORT;
	k->family = NET_FAMILY_V4;
	__builtin_memcpy(k->addr, &ip, 4);
	k->port[0] = port >> 8;
	k->port[1] = port & 0xff;
}

/* K from an IPv6 address W (network order words) and PORT; ::ffff:a.b.c.d
 * becomes the IPv4 address (the kernel sends it as IPv4). True if it was
 * IPv4-mapped. */
static __always_inline bool net_key_v6(struct net_key *k, __u32 w0, __u32 w1, __u32 w2, __u32 w3,
				       __u16 port)
{
	bool mapped = w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff);

	if (mapped) {
		net_key_v4(k, w3, port);
		return true;
	}
	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = NET_PLEN_PORT;
	k->family = NET_FAMILY_V6;
	__builtin_memcpy(k->addr, &w0, 4);
	__builtin_memcpy(k->addr + 4, &w1, 4);
	__builtin_memcpy(k->addr + 8, &w2, 4);
	__builtin_memcpy(k->addr + 12, &w3, 4);
	k->port[0] = port >> 8;
	k->port[1] = port & 0xff;
	return false;
}

/* One of leash's own endpoints: denied in every mode. The unspecified
 * address (0.0.0.0, ::) reaches a local one: denied on every port a
 * protected endpoint uses (the family 0 entry, see events.h). */
static __always_inline bool net_protected(const struct net_key *k, __u16 port)
{
	struct net_protect_key p = { .family = k->family, .port = port };
	__u32 w[4];

	__builtin_memcpy(p.addr, k->addr, sizeof(p.addr));
	if (bpf_map_lookup_elem(&protect_map, &p))
		return true;
	__builtin_memset(p.addr, 0, sizeof(p.addr));
	if (bpf_map_lookup_elem(&protect_map, &p))
		return true;
	__builtin_memcpy(w, k->addr, sizeof(w));
	if (w[0] | w[1] | w[2] | w[3])
		return false;
	p.family = 0;
	return bpf_map_lookup_elem(&protect_map, &p) != NULL;
}

/* K is the address and port of conf slot 0 of MAP (the proxy or the DNS
 * forwarder), which is in force. */
static __always_inline bool net_is_conf(void *map, const struct net_key *k, __u16 port)
{
	struct net_proxy_conf *c;
	__u32 zero = 0, ip;

	c = bpf_map_lookup_elem(map, &zero);
	if (!c || !c->enabled || k->family != NET_FAMILY_V4)
		return false;
	__builtin_memcpy(&ip, k->addr, 4);
	return ip == c->ip4 && port == c->port;
}

/* The policy trie's entry for K, or NULL (no policy committed yet). */
static __always_inline const struct net_verdict *net_lookup(const struct net_key *k)
{
	__u32 zero = 0;
	void *trie = bpf_map_lookup_elem(&policy_map, &zero);

	return trie ? bpf_map_lookup_elem(trie, k) : NULL;
}

/* What a record says besides the task: struct ev_net's own fields. */
struct net_call {
	const struct net_key *k;
	const struct net_verdict *v; /* NULL: none decided (mode, gen, set_id stay 0) */
	__u16 type; /* EV_NET_CONNECT or EV_NET_SENDMSG */
	__u16 port; /* host order */
	__u16 protocol;
	__u16 sock_type;
	__u16 action;
	__u16 reason;
	__u16 flags; /* NET_F_* */
	bool mapped;
};

/* Records C in the ring buffer (a failed reserve is counted, never silent). */
static __always_inline void net_emit(const struct net_call *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();
	struct ev_net *ev;

	ev = bpf_ringbuf_reserve(&events_map, sizeof(*ev), 0);
	if (!ev) {
		net_stat_inc(NET_STAT_RINGBUF_DROPS);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.type = c->type;
	ev->hdr.version = EV_VERSION;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.time_ns = bpf_ktime_get_boot_ns();
	ev->task.pid = pid_tgid >> 32;
	ev->task.tid = (__u32)pid_tgid;
	ev->task.ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->task.uid = (__u32)ugid;
	ev->task.gid = ugid >> 32;
	ev->task.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(ev->task.comm, sizeof(ev->task.comm));
	__builtin_memcpy(ev->addr, c->k->addr, sizeof(ev->addr));
	ev->port = c->port;
	ev->family = c->k->family;
	ev->mapped = c->mapped;
	ev->protocol = c->protocol;
	ev->sock_type = c->sock_type;
	ev->action = c->action;
	ev->reason = c->reason;
	ev->flags = c->flags;
	if (c->v) {
		ev->mode = c->v->mode;
		ev->gen = c->v->gen;
		ev->set_id = c->v->set_id;
	}
	bpf_ringbuf_submit(ev, 0);
}

#endif
