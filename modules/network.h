/* network.h: the network module's API for the rest of leash, and for tests.
 *
 * Other parts of leash (the control server, the proxy) register their own
 * endpoints with network_protect(): the agent can never connect to them,
 * whatever the policy and the mode.
 *
 * The compiler below is what policy_prepare runs; it is exported so that
 * unit tests can compare its answers with the Cedar evaluator's on the same
 * requests (t/unit/network-diff.c).
 */
#ifndef LEASH_NETWORK_H
#define LEASH_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "record.h"

struct cedar_entities;
struct cedar_policy_set;
struct net_set;

/* Denies every connect and UDP send of the session to SA (AF_INET or
 * AF_INET6; an IPv4-mapped IPv6 address counts as IPv4; the unspecified
 * address means every address on that port), in every mode. May be called
 * before or during the session. 0, -EINVAL (not an IP address), -ENOSPC
 * (too many endpoints), or -errno from the kernel. */
int network_protect(const struct sockaddr *sa, socklen_t len);

/* Is SA one of those endpoints? For leash's own connections made on the
 * agent's behalf (the proxy's upstreams), which the kernel hooks do not
 * see because leash is outside the session cgroup. */
bool network_is_protected(const struct sockaddr *sa, socklen_t len);

/* What decides connections in this session, for the status and the
 * session.enforcement event: "cgroup-bpf", or "cgroup-bpf + bpf-lsm" once
 * the session started where the kernel runs the bpf LSM
 * (modules/network_lsm.h). */
const char *network_backend(void);

/* Puts the transparent proxy in force for the session: TCP connects to
 * PORTS go to SA (an AF_INET loopback listener) instead, connects to SA
 * itself pass whatever the policy, and UDP to PORTS is refused. Call after
 * the module started. 0, -EINVAL, -ENOSPC or -errno from the kernel. */
int network_set_proxy(const struct sockaddr_in *sa, const uint16_t *ports, int nports);

/* The original destination of the redirected connection whose client
 * (local) port is PORT: its address as text into ADDR, *DPORT, and the
 * process that connected into *PID. The entry is consumed. 0, or -ENOENT
 * when the connection was not redirected. */
int network_orig_dst(uint16_t port, char *addr, size_t len, uint16_t *dport, uint32_t *pid);

/* The DNS forwarder listens on SA (AF_INET loopback, UDP and TCP): the
 * session's TCP and UDP to port 53 go there, and UDP replies seem to come
 * from the server asked. Call after the module started. 0, -EINVAL,
 * -ENOENT (no session) or -errno from the kernel. */
int network_set_dns(const struct sockaddr_in *sa);

/* What the policy in force says about a DNS query for NAME (lower case, no
 * trailing dot): allowed when a NetworkConnect rule permits the name on
 * some port ("name", "name:port", "*.domain", "*") and no forbid holds it
 * on every port; the mode applied (enforce: deny, shadow: would_deny,
 * record: allow). *POLICIES: a new array of the forbids, else the permits,
 * that decided. 0 or -ENOMEM. */
int network_name_decide(const char *name, enum decision *d, json_t **policies);

/* The forwarder answered ADDR (AF is AF_INET or AF_INET6) for NAME with
 * TTL seconds: in enforce mode, when a rule names NAME, connects to ADDR
 * are decided by the name's rules too (and the address rules, deny wins)
 * until TTL (plus a short grace) runs out. 0, -EINVAL or -ENOMEM. */
int network_bind_name(const char *name, int af, const void *addr, uint32_t ttl);

/* Compiles what POLICY says about NetworkConnect for mode M into *OUT.
 * Rules the kernel cannot apply exactly are listed in *REPORT (a new JSON
 * array of {policy, target, why}, possibly empty); in enforce mode a rule
 * with a condition or a principal constraint is an error instead (-EINVAL,
 * reason in ERR). 0, -EINVAL or -ENOMEM. */
int network_compile(const struct cedar_policy_set *ps, enum mode m, struct net_set **out,
		    json_t **report, char *err, size_t errlen);
void network_set_free(struct net_set *s);
/* Number of trie entries the set needs in the kernel. */
size_t network_set_entries(const struct net_set *s);

/* The decision compiled set S gives for a connect to ADDR (4 or 16 bytes
 * by FAMILY, network order) and PORT, with the same longest-prefix match
 * the kernel runs: *ALLOW, and *POLICIES a new JSON array of the ids that
 * decided ([] for default deny), if POLICIES is not NULL. */
void network_set_decide(const struct net_set *s, int family, const uint8_t *addr, uint16_t port,
			bool *allow, json_t **policies);

/* The Cedar resource id of a connect: "1.2.3.4:443", "[::1]:8080". */
void network_resource_id(char *buf, size_t len, int family, const uint8_t *addr, uint16_t port);

/* Adds to ES, for the IP literal request resource RID ("a.b.c.d:p" or
 * "[v6]:p"), the parents its CIDR ranges give it: "a.b.c.d/n" (n = 0..32)
 * and "[v6]/n" (n = 0..128), canonical (host bits zero, as inet_ntop
 * writes the address). This is the meaning CIDR rules are compiled with;
 * the Cedar engine's implied hierarchy does not add these yet. 0 or
 * -ENOMEM. */
int network_imply_cidr(struct cedar_entities *es, const char *rid);

#endif
