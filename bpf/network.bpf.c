// SPDX-License-Identifier: GPL-2.0
/* network.bpf.c: NetworkConnect decisions for a leash session, in the kernel.
 *
 * cgroup/connect4, connect6 (TCP and UDP connect) and sendmsg4, sendmsg6
 * (UDP sends that name an address) are attached to the session cgroup, so
 * they run for its processes and its child cgroups only, and for nobody
 * else. Each call:
 *
 *   1. builds a struct net_key from the destination (an IPv4-mapped IPv6
 *      address becomes IPv4, so ::ffff:a.b.c.d is decided as a.b.c.d);
 *   2. denies it if protect_map holds the address and port, or any address
 *      on that port (leash's own control endpoints), whatever the mode;
 *   3. otherwise looks the key up in the LPM trie held in policy_map slot
 *      0: the longest matching entry carries the decision of every rule
 *      that matches (see events.h), so one lookup decides. The reactor
 *      compiles a new trie for every policy or mode change and swaps the
 *      slot: the swap is one pointer, and the kernel waits for running
 *      programs before the update returns, so each call is decided wholly
 *      by the old or wholly by the new policy. In record and shadow mode
 *      the trie is a single /0 entry that allows;
 *   4. records the call and the decision in the ring buffer (a failed
 *      reserve is counted in stats_map, never silent).
 *
 * Between steps 2 and 3, the transparent proxy (see events.h): connects to
 * the proxy pass; TCP connects to a redirected port are rewritten to the
 * proxy, their original destination kept for it (handle_sockops moves it
 * from the socket cookie to the client port); UDP to those ports is
 * refused.
 *
 * Before the proxy, DNS (see events.h): TCP and UDP to port 53 go to
 * leash's forwarder, and recvmsg4/6 make its UDP replies look like they
 * come from the server the agent asked.
 *
 * Returning 0 makes connect()/sendmsg() fail with EPERM.
 *
 * cgroup/sock_create: these hooks see TCP's and UDP's connects and sends
 * (and MPTCP's, through its TCP subflows), not UDP-Lite's connect, DCCP's
 * or L2TP's, nor SCTP's connectx and implicit associations, nor ICMP's
 * sends (the LSM hooks see these last, where they run). In enforce mode a
 * socket of any other protocol or type is refused when it is made (EPERM,
 * io_uring's socket op included: it makes sockets the same way) and
 * recorded (EV_NET_SOCKET); in record and shadow mode it is made as before.
 *
 * The maps the policy, the protect set, the proxy and DNS and the records
 * live in are declared in network.bpf.h: where the bpf LSM runs,
 * network_lsm.bpf.c decides from the same maps (shared by fd).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "network.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET6 10
#define IPPROTO_ICMPV6 58

/* Set before load: network_lsm.bpf.c's hooks run too (they decide ICMP). */
const volatile bool lsm_hooks = false;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct net_origdst);
} origdst_cookie_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct net_origdst);
} origdst_port_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct net_origdst);
} dns_origdst_map SEC(".maps");

static __always_inline void emit(struct bpf_sock_addr *ctx, __u16 type, const struct net_key *k,
				 __u16 port, bool mapped, const struct net_verdict *v, __u16 action,
				 __u16 reason)
{
	struct net_call c = {
		.k = k,
		.v = v,
		.type = type,
		.port = port,
		.protocol = ctx->protocol,
		.sock_type = ctx->type,
		.action = action,
		.reason = reason,
		.mapped = mapped,
	};

	net_emit(&c);
}

/* Points CTX at the proxy conf PC's address (IPv4, or ::ffff:a.b.c.d for
 * an IPv6 socket: works on every socket that is not V6ONLY). */
static __always_inline void rewrite_to(struct bpf_sock_addr *ctx, const struct net_proxy_conf *pc,
				       bool v6)
{
	if (!v6) {
		ctx->user_ip4 = pc->ip4;
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = pc->ip4;
	}
	ctx->user_port = bpf_htons(pc->port);
}

/* The proxy's part: NET_ALLOW (a connect to the proxy), NET_REDIRECT
 * (rewritten to the proxy), NET_DENY (UDP to a redirected port), or 0 when
 * the policy decides. */
static __always_inline __u16 proxy_step(struct bpf_sock_addr *ctx, const struct net_key *k,
					__u16 port, __u16 type, bool v6)
{
	struct net_proxy_conf *pc;
	struct net_origdst od = {};
	__u32 zero = 0, ip;
	__u64 cookie;

	pc = bpf_map_lookup_elem(&proxy_map, &zero);
	if (!pc || !pc->enabled)
		return 0;
	__builtin_memcpy(&ip, k->addr, 4);
	if (k->family == NET_FAMILY_V4 && ip == pc->ip4 && port == pc->port)
		return NET_ALLOW;
	if (!bpf_map_lookup_elem(&redirect_ports_map, &port))
		return 0;
	/* Each program may write only its own family's fields, and sendmsg
	 * (UDP only) none: these branches fold away where they cannot run. */
	if (type != EV_NET_CONNECT || ctx->type != SOCK_STREAM)
		return NET_DENY;
	od.family = k->family;
	od.port = port;
	od.pid = bpf_get_current_pid_tgid() >> 32;
	__builtin_memcpy(od.addr, k->addr, sizeof(od.addr));
	cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&origdst_cookie_map, &cookie, &od, BPF_ANY))
		return NET_DENY; /* never a connection the proxy cannot place */
	rewrite_to(ctx, pc, v6);
	return NET_REDIRECT;
}

/* DNS: NET_ALLOW (to the forwarder itself), NET_REDIRECT (TCP or UDP to
 * port 53, rewritten to the forwarder; for UDP the original server kept by
 * socket cookie for recvmsg), NET_DENY (a UDP destination that cannot be
 * kept), or 0 when this is not DNS. */
static __always_inline __u16 dns_step(struct bpf_sock_addr *ctx, const struct net_key *k,
				      __u16 port, bool v6)
{
	struct net_proxy_conf *dc;
	struct net_origdst od = {};
	__u32 zero = 0, ip;
	__u64 cookie;

	dc = bpf_map_lookup_elem(&dns_map, &zero);
	if (!dc || !dc->enabled)
		return 0;
	__builtin_memcpy(&ip, k->addr, 4);
	if (k->family == NET_FAMILY_V4 && ip == dc->ip4 && port == dc->port)
		return NET_ALLOW;
	if (port != NET_DNS_PORT)
		return 0;
	if (ctx->type == SOCK_DGRAM) {
		od.family = k->family;
		od.port = port;
		od.pid = bpf_get_current_pid_tgid() >> 32;
		__builtin_memcpy(od.addr, k->addr, sizeof(od.addr));
		cookie = bpf_get_socket_cookie(ctx);
		if (bpf_map_update_elem(&dns_origdst_map, &cookie, &od, BPF_ANY))
			return NET_DENY;
	} else if (ctx->type != SOCK_STREAM) {
		return 0;
	}
	rewrite_to(ctx, dc, v6);
	return NET_REDIRECT;
}

/* The decision for key K; 1 allows, 0 denies (EPERM). */
static __always_inline int decide(struct bpf_sock_addr *ctx, __u16 type, struct net_key *k,
				  __u16 port, bool mapped, bool v6)
{
	const struct net_verdict *v = NULL;
	__u16 action, reason;

	net_stat_inc(NET_STAT_SEEN);
	if (net_protected(k, port)) {
		reason = NET_REASON_PROTECTED;
	} else if ((action = dns_step(ctx, k, port, v6)) != 0) {
		emit(ctx, type, k, port, mapped, NULL, action, NET_REASON_DNS);
		if (action == NET_DENY)
			net_stat_inc(NET_STAT_DENIED);
		return action != NET_DENY;
	} else if ((action = proxy_step(ctx, k, port, type, v6)) != 0) {
		reason = NET_REASON_PROXY;
		if (action == NET_DENY)
			reason = NET_REASON_QUIC;
		emit(ctx, type, k, port, mapped, NULL, action, reason);
		return action != NET_DENY;
	} else if (!(v = net_lookup(k))) {
		reason = NET_REASON_NO_POLICY;
	} else {
		action = v->action == NET_ALLOW ? NET_ALLOW : NET_DENY;
		reason = v->reason;
	}
	if (!v)
		action = NET_DENY;
	if (action != NET_ALLOW)
		net_stat_inc(NET_STAT_DENIED);
	emit(ctx, type, k, port, mapped, v, action, reason);
	return action == NET_ALLOW;
}

static __always_inline int decide4(struct bpf_sock_addr *ctx, __u16 type)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct net_key k;

	net_key_v4(&k, ctx->user_ip4, port);
	return decide(ctx, type, &k, port, false, false);
}

/* connect6/sendmsg6 may carry ::ffff:a.b.c.d: decided as the IPv4 address
 * (the kernel sends it as IPv4). */
static __always_inline int decide6(struct bpf_sock_addr *ctx, __u16 type)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct net_key k;
	bool mapped;

	mapped = net_key_v6(&k, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			    ctx->user_ip6[3], port);
	return decide(ctx, type, &k, port, mapped, true);
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	return decide4(ctx, EV_NET_CONNECT);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	return decide6(ctx, EV_NET_CONNECT);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	return decide4(ctx, EV_NET_SENDMSG);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	return decide6(ctx, EV_NET_SENDMSG);
}

/* Whether the hooks decide every connect and addressed send of a socket
 * of TYPE and PROTOCOL. */
static __always_inline bool decided_protocol(__u32 type, __u32 protocol)
{
	if (type == SOCK_STREAM)
		return protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP;
	if (type == SOCK_DGRAM)
		return protocol == IPPROTO_UDP ||
		       (lsm_hooks && (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6));
	return false;
}

SEC("cgroup/sock_create")
int handle_sock_create(struct bpf_sock *ctx)
{
	struct net_call c = { .type = EV_NET_SOCKET, .action = NET_DENY };
	const struct net_verdict *v;
	struct net_key k;

	if (decided_protocol(ctx->type, ctx->protocol))
		return 1;
	/* the root entry carries the mode of the policy in force */
	net_key_v4(&k, 0, 0);
	v = net_lookup(&k);
	if (v && v->mode != 2 /* MODE_ENFORCE */)
		return 1;
	if (ctx->family == AF_INET6)
		k.family = NET_FAMILY_V6;
	c.k = &k;
	c.reason = NET_REASON_PROTOCOL;
	c.protocol = (__u16)ctx->protocol;
	c.sock_type = (__u16)ctx->type;
	net_stat_inc(NET_STAT_DENIED);
	net_emit(&c);
	return 0;
}

/* A UDP reply from the forwarder to a socket whose query was redirected:
 * report it as coming from the server the agent asked. */
SEC("cgroup/recvmsg4")
int handle_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct net_proxy_conf *dc;
	struct net_origdst *od;
	__u32 zero = 0, ip;
	__u64 cookie;

	dc = bpf_map_lookup_elem(&dns_map, &zero);
	if (!dc || !dc->enabled || ctx->user_ip4 != dc->ip4 ||
	    bpf_ntohs((__u16)ctx->user_port) != dc->port)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	od = bpf_map_lookup_elem(&dns_origdst_map, &cookie);
	if (!od || od->family != NET_FAMILY_V4)
		return 1;
	__builtin_memcpy(&ip, od->addr, 4);
	ctx->user_ip4 = ip;
	ctx->user_port = bpf_htons(od->port);
	return 1;
}

SEC("cgroup/recvmsg6")
int handle_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct net_proxy_conf *dc;
	struct net_origdst *od;
	__u32 zero = 0, w[4];
	__u64 cookie;

	dc = bpf_map_lookup_elem(&dns_map, &zero);
	if (!dc || !dc->enabled || ctx->user_ip6[0] != 0 || ctx->user_ip6[1] != 0 ||
	    ctx->user_ip6[2] != bpf_htonl(0xffff) || ctx->user_ip6[3] != dc->ip4 ||
	    bpf_ntohs((__u16)ctx->user_port) != dc->port)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	od = bpf_map_lookup_elem(&dns_origdst_map, &cookie);
	if (!od)
		return 1;
	if (od->family == NET_FAMILY_V4) {
		w[0] = 0;
		w[1] = 0;
		w[2] = bpf_htonl(0xffff);
		__builtin_memcpy(&w[3], od->addr, 4);
	} else {
		__builtin_memcpy(w, od->addr, 16);
	}
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = bpf_htons(od->port);
	return 1;
}

/* The client side of a redirected connection has its local port now: key
 * its original destination by that port for the proxy's accept. */
SEC("sockops")
int handle_sockops(struct bpf_sock_ops *skops)
{
	struct net_origdst *od;
	__u32 lport;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB &&
	    skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	od = bpf_map_lookup_elem(&origdst_cookie_map, &cookie);
	if (!od)
		return 1;
	lport = skops->local_port;
	bpf_map_update_elem(&origdst_port_map, &lport, od, BPF_ANY);
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		bpf_map_delete_elem(&origdst_cookie_map, &cookie);
	return 1;
}
