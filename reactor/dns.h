/* dns.h: leash's DNS forwarder, inside the reactor.
 *
 * The session's DNS queries (UDP and TCP to port 53, whatever server the
 * agent asks) are redirected here by the network module's BPF programs
 * (network_set_dns). Each query is decided on its name by the
 * NetworkConnect rules (network_name_decide): a refused name gets NXDOMAIN;
 * others are answered from the host's resolvers (or --resolve pins), and
 * the addresses of a name a rule names are bound to it in the kernel trie
 * for their TTL (network_bind_name). Every query is one dns.query event.
 */
#ifndef LEASH_DNS_H
#define LEASH_DNS_H

#include <netinet/in.h>
#include <stddef.h>

struct dns_opts {
	const char *upstream; /* "ADDR" or "ADDR:PORT" to ask, or NULL: resolv.conf */
	char *const *resolve; /* "NAME=ADDR" pins answered directly (TTL 60), or NULL */
	int nresolve;
};

/* Listens on 127.0.0.1 (UDP and TCP, one ephemeral port) and points the
 * session's port 53 at it. 0, or -errno with ERR set. */
int dns_start(const struct dns_opts *o, char *err, size_t errlen);
/* Answers what is pending with SERVFAIL and closes everything. */
void dns_stop(void);
/* The listening address (valid after dns_start). 0 or -ENOENT. */
int dns_address(struct sockaddr_in *sa);

#endif
