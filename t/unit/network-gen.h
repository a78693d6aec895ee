/* network-gen.h: random NetworkConnect policies and connections for the
 * network module's differential tests (network-diff.c against the
 * evaluator in userspace, network-kernel.c against the real BPF program).
 * Deterministic (xorshift, fixed seed) so a failure reproduces. */
#ifndef LEASH_T_NETWORK_GEN_H
#define LEASH_T_NETWORK_GEN_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

#define NC "action == Action::\"NetworkConnect\""

struct conn {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

static struct conn conn_of(const char *addr, uint16_t port)
{
	struct conn c = { .port = port };

	if (strchr(addr, ':')) {
		c.family = NET_FAMILY_V6;
		inet_pton(AF_INET6, addr, c.addr);
	} else {
		c.family = NET_FAMILY_V4;
		inet_pton(AF_INET, addr, c.addr);
	}
	return c;
}

static unsigned long rnd_state = 88172645463325252UL;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static const char *v4_pool[] = { "10.0.0.1",	   "10.0.0.2",	"10.0.1.1", "10.1.0.1",
				 "192.168.1.1",	   "127.0.0.1", "8.8.8.8",  "172.16.5.4",
				 "10.255.255.255", "0.0.0.0" };
static const char *v6_pool[] = { "::1",		  "2001:db8::1", "2001:db8::2",
				 "2001:db8:1::1", "fe80::1",	 "::" };
static const uint16_t port_pool[] = { 22, 53, 80, 443, 8080, 0 };

static void rand_conn(struct conn *c)
{
	if (rnd(3) == 0)
		*c = conn_of(v6_pool[rnd(6)], 0);
	else
		*c = conn_of(v4_pool[rnd(10)], 0);
	c->port = rnd(8) == 0 ? (uint16_t)rnd(65536) : port_pool[rnd(6)];
}

/* A random Host id: mostly forms the kernel compiles, some it must treat
 * exactly as the evaluator does (never matching, or reported). */
static void rand_host(char *buf, size_t len)
{
	struct conn c;
	char a[INET6_ADDRSTRLEN];
	unsigned bits, plen, kind = rnd(16);

	rand_conn(&c);
	inet_ntop(c.family == NET_FAMILY_V4 ? AF_INET : AF_INET6, c.addr, a, sizeof(a));
	bits = c.family == NET_FAMILY_V4 ? 32 : 128;
	if (kind == 0) {
		snprintf(buf, len, "*");
	} else if (kind == 1) {
		snprintf(buf, len, "%s", rnd(2) ? "github.com" : "*.example.com");
	} else if (kind == 2) {
		snprintf(buf, len, "[::ffff:%s]", v4_pool[rnd(10)]);
	} else if (kind <= 6) {
		/* a CIDR, canonical (host bits cleared) most of the time */
		plen = rnd(bits + 1);
		if (rnd(6)) {
			for (unsigned i = plen; i < bits; i++)
				c.addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
			inet_ntop(c.family == NET_FAMILY_V4 ? AF_INET : AF_INET6, c.addr, a,
				  sizeof(a));
		}
		snprintf(buf, len, c.family == NET_FAMILY_V4 ? "%s/%u" : "[%s]/%u", a, plen);
	} else if (kind <= 10) {
		snprintf(buf, len, c.family == NET_FAMILY_V4 ? "%s:%u" : "[%s]:%u", a, c.port);
	} else if (kind == 11) {
		snprintf(buf, len, "%s", c.family == NET_FAMILY_V4 ? "010.0.0.1" : "[0:0::1]");
	} else {
		snprintf(buf, len, c.family == NET_FAMILY_V4 ? "%s" : "[%s]", a);
	}
}

static char *rand_policy(unsigned nrules, char **rules)
{
	size_t len = 1;
	char *text;

	for (unsigned i = 0; i < nrules; i++) {
		char h1[80], h2[80], r[400];
		const char *eff = rnd(3) == 0 ? "forbid" : "permit";

		rand_host(h1, sizeof(h1));
		rand_host(h2, sizeof(h2));
		switch (rnd(6)) {
		case 0:
			snprintf(r, sizeof(r), "@id(\"p%u\") %s (principal, " NC ", resource);\n",
				 i, eff);
			break;
		case 1:
			snprintf(r, sizeof(r),
				 "@id(\"p%u\") %s (principal, " NC ", resource == Host::\"%s\");\n",
				 i, eff, h1);
			break;
		case 2:
			snprintf(r, sizeof(r),
				 "@id(\"p%u\") %s (principal, " NC
				 ", resource) when { resource in [Host::\"%s\", Host::\"%s\"] };\n",
				 i, eff, h1, h2);
			break;
		case 3:
			snprintf(r, sizeof(r),
				 "@id(\"p%u\") %s (principal, action, resource is Host);\n", i,
				 eff);
			break;
		default:
			snprintf(r, sizeof(r),
				 "@id(\"p%u\") %s (principal, " NC ", resource in Host::\"%s\");\n",
				 i, eff, h1);
			break;
		}
		rules[i] = strdup(r);
		len += strlen(r);
	}
	text = malloc(len);
	text[0] = '\0';
	for (unsigned i = 0; i < nrules; i++)
		strcat(text, rules[i]);
	return text;
}

#endif
