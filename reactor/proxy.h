/* proxy.h: leash's HTTP(S) proxy, inside the reactor.
 *
 * Every HTTP(S) request of the session passes here: explicitly (the
 * command's HTTP_PROXY/HTTPS_PROXY point to proxy_url(), CONNECT works) or
 * transparently (modules/network.c redirects TCP connects to the proxy
 * ports and records the original destination, network_orig_dst()). TLS is
 * intercepted with the per-user CA (ca.h); NetworkConnect is decided on
 * the verified destination (SNI = Host, upstream dialled by the proxy to
 * that name); HttpRewrite rules and secrets are applied toward their hosts
 * only; each request is one http.request event.
 */
#ifndef LEASH_PROXY_H
#define LEASH_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ca;

/* A secret the agent gets only a placeholder of. */
struct proxy_secret {
	char *name; /* e.g. ANTHROPIC_API_KEY */
	char *value; /* the real value: never logged, never in an event */
	char *placeholder; /* "leash-placeholder-<name>-<random>" */
	char **hosts; /* the hosts it may be sent to */
	int nhosts;
};

struct proxy_opts {
	struct ca *ca; /* borrowed, outlives the proxy */
	const char *upstream_ca; /* an extra CA file for upstream TLS, or NULL */
	char *const *resolve; /* "NAME=ADDR" pins, or NULL */
	int nresolve;
	const struct proxy_secret *secrets; /* borrowed */
	int nsecrets;
};

/* Listens on 127.0.0.1 (an ephemeral port). 0, or -errno with ERR set. */
int proxy_start(const struct proxy_opts *o, char *err, size_t errlen);
void proxy_stop(void);
/* The listening address (valid after proxy_start). */
int proxy_address(struct sockaddr_storage *ss, socklen_t *len);
/* "http://127.0.0.1:PORT" */
const char *proxy_url(void);

/* Builds secrets from SPECS ("NAME=HOST[,HOST]"): each value from FILE
 * (NAME=VALUE lines, may be NULL) or else leash's environment, each with a
 * fresh random placeholder. 0, or -errno with ERR set (a missing value). */
int proxy_secrets_build(char *const *specs, int n, const char *file, struct proxy_secret **out,
			char *err, size_t errlen);
/* Wipes the values and frees V[0..N). */
void proxy_secrets_free(struct proxy_secret *v, int n);

/* Splits a Host value "name", "name:port", "[v6]:port" into NAME (lower
 * case) and *PORT (DEFPORT when absent). false when malformed. Exported
 * for unit tests. */
bool proxy_split_host(const char *in, size_t n, char *name, size_t namelen, uint16_t *port,
		      uint16_t defport);
/* Whether HOST is covered by the Host id ID: equal, "*", or "*.d" on a dot
 * boundary. */
bool proxy_host_matches(const char *id, const char *host);

#endif
