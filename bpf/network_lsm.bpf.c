// SPDX-License-Identifier: GPL-2.0
/* network_lsm.bpf.c: NetworkConnect in the BPF LSM, beside the cgroup hooks.
 *
 * Where the kernel runs the bpf LSM, lsm/socket_connect and
 * lsm/socket_sendmsg decide the session's connects and addressed sends
 * from the same maps as bpf/network.bpf.c (network.bpf.h: the policy trie,
 * the protect set, the proxy and DNS addresses, the ring buffer and the
 * stats are the cgroup object's own maps, shared by fd). What they add:
 *
 *   - scope by the calling task's cgroup (at or below the session's, by
 *     bpf_get_current_ancestor_cgroup_id), where the cgroup hooks go by the
 *     socket's cgroup, set when it was made. A socket made outside the
 *     session and passed in (SCM_RIGHTS, pidfd_getfd) never meets the
 *     cgroup hooks; here it is decided like any other, by the policy alone
 *     (nothing rewrites its destination to the proxy or the forwarder);
 *   - every inet socket, not only those whose protocol calls the cgroup
 *     hooks (TCP, UDP).
 *
 * The LSM runs before the protocol's connect, so it sees the destination
 * the caller named, before the cgroup hook rewrites it. For a TCP or UDP
 * socket of the session the cgroup hook decides the proxy and DNS cases
 * (it redirects, or refuses UDP to a proxied port) and records what it
 * lets through; this program leaves those alone, denies what the policy
 * or the protect set denies, and records only its denials: each call gets
 * exactly one record. For the calls the cgroup hooks never see (a passed-in
 * socket, another protocol) it records every decision (NET_F_LSM, and
 * NET_F_FOREIGN for a socket from outside).
 *
 * sendmsg without an address (a connected socket) is no new destination;
 * a TCP sendmsg names one only with MSG_FASTOPEN. On an IPv4 socket,
 * udp_sendmsg takes an AF_UNSPEC address as AF_INET, and so do we. The
 * sockaddr is the kernel's copy (sockaddr_storage), read with
 * bpf_probe_read_kernel; one that is too short for its family is left to
 * the kernel, which refuses it (EINVAL).
 *
 * In record and shadow mode the trie allows everything, so only the
 * protect set (and a missing policy) can deny, as in the cgroup hooks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "network.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 10
#define MSG_FASTOPEN 0x20000000
#define SIN6_LEN_RFC2133 24

/* The session, set by the reactor before load. */
const volatile __u64 session_cgid = 0;
const volatile __u32 session_level = 0;

static __always_inline bool task_in_session(void)
{
	return session_cgid && bpf_get_current_ancestor_cgroup_id(session_level) == session_cgid;
}

/* The socket was made in the session cgroup or below: the cgroup hooks
 * (attached there, run for the socket's cgroup) see its calls. */
static __always_inline bool sock_in_session(struct socket *sock)
{
	struct cgroup *cg = BPF_CORE_READ(sock, sk, sk_cgrp_data.cgroup);
	struct cgroup *anc = NULL;
	__u32 lvl = session_level;

	if (!cg || BPF_CORE_READ(cg, level) < (int)lvl || lvl > 1024)
		return false;
	bpf_core_read(&anc, sizeof(anc), &cg->ancestors[lvl]);
	return anc && BPF_CORE_READ(anc, kn, id) == session_cgid;
}

static __always_inline bool conf_enabled(void *map)
{
	__u32 zero = 0;
	struct net_proxy_conf *c = bpf_map_lookup_elem(map, &zero);

	return c && c->enabled;
}

/* The call to the address at UADDR (ADDRLEN bytes) on SOCK: 0 or -EPERM. */
static __always_inline int decide(struct socket *sock, const void *uaddr, int addrlen, __u16 type)
{
	struct net_call c = { .type = type, .flags = NET_F_LSM };
	struct sockaddr_in6 sa = {};
	struct net_key k;
	__u16 family;
	bool seen;

	/* sockaddr_storage in the kernel: these bytes exist whatever ADDRLEN */
	if (bpf_probe_read_kernel(&sa, sizeof(sa), uaddr) < 0)
		return 0;
	family = sa.sin6_family;
	if (family == AF_UNSPEC && type == EV_NET_SENDMSG &&
	    BPF_CORE_READ(sock, sk, __sk_common.skc_family) == AF_INET)
		family = AF_INET;
	if (family == AF_INET && addrlen >= (int)sizeof(struct sockaddr_in)) {
		struct sockaddr_in *in = (void *)&sa;

		c.port = bpf_ntohs(in->sin_port);
		net_key_v4(&k, in->sin_addr.s_addr, c.port);
	} else if (family == AF_INET6 && addrlen >= SIN6_LEN_RFC2133) {
		c.port = bpf_ntohs(sa.sin6_port);
		c.mapped = net_key_v6(
			&k, sa.sin6_addr.in6_u.u6_addr32[0], sa.sin6_addr.in6_u.u6_addr32[1],
			sa.sin6_addr.in6_u.u6_addr32[2], sa.sin6_addr.in6_u.u6_addr32[3], c.port);
	} else {
		return 0;
	}
	c.k = &k;
	c.protocol = BPF_CORE_READ(sock, sk, sk_protocol);
	c.sock_type = BPF_CORE_READ(sock, type);
	net_stat_inc(NET_STAT_LSM_SEEN);
	seen = sock_in_session(sock);
	if (!seen)
		c.flags |= NET_F_FOREIGN;
	seen = seen && (c.protocol == IPPROTO_TCP || c.protocol == IPPROTO_UDP);

	if (net_protected(&k, c.port)) {
		c.action = NET_DENY;
		c.reason = NET_REASON_PROTECTED;
	} else if (net_is_conf(&dns_map, &k, c.port)) {
		c.action = NET_ALLOW;
		c.reason = NET_REASON_DNS;
	} else if (net_is_conf(&proxy_map, &k, c.port)) {
		c.action = NET_ALLOW;
		c.reason = NET_REASON_PROXY;
	} else if (seen && ((c.port == NET_DNS_PORT && conf_enabled(&dns_map)) ||
			    (conf_enabled(&proxy_map) &&
			     bpf_map_lookup_elem(&redirect_ports_map, &c.port)))) {
		/* the cgroup hook redirects it, or refuses it, and records */
		return 0;
	} else if (!(c.v = net_lookup(&k))) {
		c.action = NET_DENY;
		c.reason = NET_REASON_NO_POLICY;
	} else {
		c.action = c.v->action == NET_ALLOW ? NET_ALLOW : NET_DENY;
		c.reason = c.v->reason;
	}
	if (c.action == NET_ALLOW && seen)
		return 0; /* the cgroup hook decides it the same way and records it */
	net_emit(&c);
	if (c.action == NET_ALLOW)
		return 0;
	net_stat_inc(NET_STAT_LSM_DENIED);
	return -EPERM;
}

SEC("lsm/socket_connect")
int BPF_PROG(handle_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
	     int ret)
{
	if (ret || !task_in_session())
		return ret;
	return decide(sock, address, addrlen, EV_NET_CONNECT);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(handle_socket_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	void *name;
	int len;

	if (ret || !task_in_session())
		return ret;
	name = BPF_CORE_READ(msg, msg_name);
	len = BPF_CORE_READ(msg, msg_namelen);
	if (!name)
		return 0;
	if (BPF_CORE_READ(sock, type) == SOCK_STREAM) {
		if (!(BPF_CORE_READ(msg, msg_flags) & MSG_FASTOPEN))
			return 0; /* TCP ignores the address of a send */
		return decide(sock, name, len, EV_NET_CONNECT);
	}
	return decide(sock, name, len, EV_NET_SENDMSG);
}
