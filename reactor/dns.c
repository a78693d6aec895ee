/* dns.c: the DNS forwarder, on the reactor's loop.
 *
 * One UDP socket and one TCP listener on 127.0.0.1, same port. The network
 * module's BPF programs send the session's port 53 traffic here (and make
 * UDP replies look like they come from the server the agent asked), so
 * every resolver, whatever its resolv.conf says, asks leash.
 *
 * UDP queries are parsed and answered by libevent's evdns server port.
 * Each (one question per query) is decided on its name with the
 * NetworkConnect rules (network_name_decide). In enforce mode a name no
 * rule permits, or one a forbid holds on every port, gets NXDOMAIN. Other A
 * and AAAA queries are answered from --resolve pins, or else asked upstream
 * with evdns (the host's resolv.conf, or --dns-upstream) and answered with
 * the addresses and TTL that came back; each address is handed to
 * network_bind_name, which makes the kernel decide connects to it with the
 * name's rules until the TTL runs out. Other query types get NOTIMP (the
 * evdns client asks only A, AAAA and PTR).
 *
 * TCP (RFC 7766 framing: a two-byte length, then the message): each
 * connection gets a UDP socket of its own, connected to the server port,
 * and its queries go through the same UDP path; the answers come back
 * framed. The server port knows a TCP query by that socket's port.
 *
 * Every query is one dns.query event: the name, type, transport, rcode,
 * answers, TTL, decision and deciding policy ids.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "dns.h"
#include "log.h"
#include "network.h"
#include "reactor.h"
#include "record.h"

#define DNS_TCP_MAX 256 /* TCP connections at once */
#define DNS_TCP_IDLE_S 30
#define DNS_MSG_MAX 4096 /* a TCP query larger than this closes the connection */
#define DNS_PIN_TTL 60
/* Queries waiting for upstream at once. Each holds about 1.5 KiB (ours and
 * evdns's) for up to the upstream timeouts; without a bound an agent
 * sending permitted names to an upstream that does not answer grows leash
 * by megabytes a second. Past it a query gets SERVFAIL at once. */
#define DNS_PENDING_MAX 1024

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
};

/* A query waiting for its upstream answer. */
struct dns_query {
	struct dns_query *prev, *next;
	struct evdns_server_request *req;
	char name[256]; /* lower case, no trailing dot */
	int type;
	bool tcp;
	int64_t start_ns;
	enum decision decision;
	json_t *policies;
};

/* One TCP client and its bridge socket to the server port. */
struct dns_tcp {
	struct dns_tcp *prev, *next;
	struct bufferevent *bev;
	int udp;
	struct event *ev;
	uint16_t port; /* the bridge's local port, host order */
};

static struct {
	struct evdns_base *base;
	struct evdns_server_port *port;
	struct evconnlistener *lst;
	struct sockaddr_in addr;
	struct dns_opts o;
	struct dns_query *pending;
	size_t npending;
	struct dns_tcp *tcps;
	size_t ntcp;
} dns;

/* ---- the event ------------------------------------------------------------ */

static const char *rcode_name(int rc)
{
	static const char *const names[] = { "NOERROR",	 "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED" };

	return rc >= 0 && rc <= RCODE_REFUSED ? names[rc] : "SERVFAIL";
}

static json_t *type_json(int type)
{
	return type == EVDNS_TYPE_A	 ? json_string("A")
	       : type == EVDNS_TYPE_AAAA ? json_string("AAAA")
					 : json_integer(type);
}

/* Publishes Q's event. ANSWERS (stolen, may be NULL), TTL (< 0: none),
 * REASON when leash answered by itself. */
static void publish(struct dns_query *q, int rcode, json_t *answers, int ttl, const char *reason)
{
	struct record *ev = record_new("dns.query");
	char res[300];

	if (!ev) {
		json_decref(answers);
		return;
	}
	ev->action = "NetworkConnect";
	if (q->name[0]) {
		snprintf(res, sizeof(res), "Host::\"%s\"", q->name);
		record_set_resource(ev, res);
	}
	ev->decision = q->decision;
	ev->policies = q->policies ? json_incref(q->policies) : json_array();
	json_object_set_new(ev->details, "name", json_string(q->name));
	json_object_set_new(ev->details, "type", type_json(q->type));
	json_object_set_new(ev->details, "transport", json_string(q->tcp ? "tcp" : "udp"));
	json_object_set_new(ev->details, "rcode", json_string(rcode_name(rcode)));
	json_object_set_new(ev->details, "answers", answers ? answers : json_array());
	if (ttl >= 0)
		json_object_set_new(ev->details, "ttl", json_integer(ttl));
	if (reason)
		json_object_set_new(ev->details, "reason", json_string(reason));
	json_object_set_new(ev->details, "duration_ms",
			    json_real((double)(record_now_ns() - q->start_ns) / 1e6));
	reactor_publish(ev);
}

/* Sends Q's answer (RCODE), publishes its event and frees it. */
static void finish(struct dns_query *q, int rcode, json_t *answers, int ttl, const char *reason)
{
	static const int err_of[] = { 0,
				      DNS_ERR_FORMAT,
				      DNS_ERR_SERVERFAILED,
				      DNS_ERR_NOTEXIST,
				      DNS_ERR_NOTIMPL,
				      DNS_ERR_REFUSED };

	if (q->req && evdns_server_request_respond(q->req, err_of[rcode]) < 0)
		evdns_server_request_drop(q->req);
	publish(q, rcode, answers, ttl, reason);
	json_decref(q->policies);
	free(q);
}

/* ---- queries -------------------------------------------------------------- */

/* The --resolve pin for NAME of family AF into ADDR (4 or 16 bytes):
 * 1 found, 0 NAME is pinned to the other family only, -1 not pinned. */
static int pin_of(const char *name, int af, unsigned char *addr)
{
	size_t nl = strlen(name);
	int found = -1;

	for (int i = 0; i < dns.o.nresolve; i++) {
		const char *r = dns.o.resolve[i];

		if (strncasecmp(r, name, nl) != 0 || r[nl] != '=')
			continue;
		if (inet_pton(af, r + nl + 1, addr) == 1)
			return 1;
		found = 0;
	}
	return found;
}

/* Adds ADDRS (COUNT of family AF) to Q's reply, binds each to Q's name,
 * and returns them as text. */
static json_t *answer_add(struct dns_query *q, int af, int count, const void *addrs, int ttl)
{
	const char *asked = q->req->questions[0]->name;
	size_t len = af == AF_INET ? 4 : 16;
	json_t *a = json_array();
	char text[INET6_ADDRSTRLEN];

	if (af == AF_INET)
		evdns_server_request_add_a_reply(q->req, asked, count, addrs, ttl);
	else
		evdns_server_request_add_aaaa_reply(q->req, asked, count, addrs, ttl);
	for (int i = 0; i < count; i++) {
		const unsigned char *p = (const unsigned char *)addrs + i * len;

		if (inet_ntop(af, p, text, sizeof(text)))
			json_array_append_new(a, json_string(text));
		if (network_bind_name(q->name, af, p, ttl < 0 ? 0 : (uint32_t)ttl) < 0)
			log_warn("dns: cannot bind '%s' to %s", q->name, text);
	}
	return a;
}

static void unlink_query(struct dns_query *q)
{
	dns.npending--;
	if (q->prev)
		q->prev->next = q->next;
	else if (dns.pending == q)
		dns.pending = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

static void on_answer(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct dns_query *q = arg;

	unlink_query(q);
	switch (result) {
	case DNS_ERR_NONE:
		if ((type == DNS_IPv4_A && q->type == EVDNS_TYPE_A) ||
		    (type == DNS_IPv6_AAAA && q->type == EVDNS_TYPE_AAAA)) {
			int af = type == DNS_IPv4_A ? AF_INET : AF_INET6;

			finish(q, RCODE_NOERROR, answer_add(q, af, count, addresses, ttl), ttl,
			       NULL);
			return;
		}
		finish(q, RCODE_SERVFAIL, NULL, -1, "unexpected answer type");
		return;
	case DNS_ERR_NOTEXIST:
		finish(q, RCODE_NXDOMAIN, NULL, -1, NULL);
		return;
	case DNS_ERR_NODATA:
		finish(q, RCODE_NOERROR, NULL, -1, NULL);
		return;
	default:
		finish(q, RCODE_SERVFAIL, NULL, -1, evdns_err_to_string(result));
	}
}

/* Whether REQ came through a TCP bridge. */
static bool from_tcp(struct evdns_server_request *req)
{
	struct sockaddr_in sa;

	if (evdns_server_request_get_requesting_addr(req, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    sa.sin_family != AF_INET)
		return false;
	for (struct dns_tcp *t = dns.tcps; t; t = t->next)
		if (t->port == ntohs(sa.sin_port))
			return true;
	return false;
}

/* NAME lower case without the trailing dot into OUT; false when it is not
 * a host name leash can write in a Host id. */
static bool name_normalise(const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= len)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)name[i]);

		if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return false;
		out[i] = (char)c;
	}
	out[n] = '\0';
	return true;
}

static void on_request(struct evdns_server_request *req, void *arg)
{
	struct evdns_server_question *qq;
	struct dns_query *q = calloc(1, sizeof(*q));
	unsigned char pin[16];
	int af, p;

	if (!q) {
		evdns_server_request_drop(req);
		return;
	}
	q->req = req;
	q->start_ns = record_now_ns();
	q->tcp = from_tcp(req);
	if (req->nquestions != 1) {
		finish(q, RCODE_FORMERR, NULL, -1, "one question per query");
		return;
	}
	qq = req->questions[0];
	q->type = qq->type;
	if (!name_normalise(qq->name, q->name, sizeof(q->name))) {
		q->name[0] = '\0';
		finish(q, RCODE_REFUSED, NULL, -1, "not a host name");
		return;
	}
	if (network_name_decide(q->name, &q->decision, &q->policies) < 0) {
		finish(q, RCODE_SERVFAIL, NULL, -1, "out of memory");
		return;
	}
	if (q->decision == DECISION_DENY) {
		finish(q, RCODE_NXDOMAIN, NULL, -1,
		       json_array_size(q->policies) ? "forbidden by policy"
						    : "no rule permits this name");
		return;
	}
	if (qq->dns_question_class != EVDNS_CLASS_INET ||
	    (qq->type != EVDNS_TYPE_A && qq->type != EVDNS_TYPE_AAAA)) {
		finish(q, RCODE_NOTIMP, NULL, -1, "only A and AAAA are forwarded");
		return;
	}
	af = qq->type == EVDNS_TYPE_A ? AF_INET : AF_INET6;
	p = pin_of(q->name, af, pin);
	if (p >= 0) {
		finish(q, RCODE_NOERROR, p ? answer_add(q, af, 1, pin, DNS_PIN_TTL) : NULL,
		       p ? DNS_PIN_TTL : -1, "pinned by --resolve");
		return;
	}
	if (evdns_base_count_nameservers(dns.base) == 0) {
		finish(q, RCODE_SERVFAIL, NULL, -1, "no upstream resolver");
		return;
	}
	if (dns.npending >= DNS_PENDING_MAX) {
		finish(q, RCODE_SERVFAIL, NULL, -1, "too many queries in flight");
		return;
	}
	q->next = dns.pending;
	if (dns.pending)
		dns.pending->prev = q;
	dns.pending = q;
	dns.npending++;
	if (!(af == AF_INET ? evdns_base_resolve_ipv4(dns.base, q->name, DNS_QUERY_NO_SEARCH,
						      on_answer, q)
			    : evdns_base_resolve_ipv6(dns.base, q->name, DNS_QUERY_NO_SEARCH,
						      on_answer, q))) {
		unlink_query(q);
		finish(q, RCODE_SERVFAIL, NULL, -1, "cannot ask upstream");
	}
}

/* ---- TCP ------------------------------------------------------------------ */

static void tcp_free(struct dns_tcp *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		dns.tcps = t->next;
	if (t->next)
		t->next->prev = t->prev;
	dns.ntcp--;
	if (t->ev)
		event_free(t->ev);
	if (t->udp >= 0)
		close(t->udp);
	bufferevent_free(t->bev);
	free(t);
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct dns_tcp *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char len[2], msg[DNS_MSG_MAX];

	while (evbuffer_copyout(in, len, 2) == 2) {
		size_t n = (size_t)len[0] << 8 | len[1];

		if (n == 0 || n > sizeof(msg)) {
			tcp_free(t);
			return;
		}
		if (evbuffer_get_length(in) < n + 2)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, msg, n);
		if (send(t->udp, msg, n, MSG_DONTWAIT) < 0)
			log_debug("dns: a TCP query could not be passed on: %s", strerror(errno));
	}
}

/* An answer from the server port: framed, to the TCP client. */
static void on_bridge(evutil_socket_t fd, short what, void *arg)
{
	struct dns_tcp *t = arg;
	unsigned char msg[65536];
	ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);
	unsigned char len[2];

	if (n <= 0)
		return;
	len[0] = (unsigned char)(n >> 8);
	len[1] = (unsigned char)n;
	bufferevent_write(t->bev, len, 2);
	bufferevent_write(t->bev, msg, (size_t)n);
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	tcp_free(arg);
}

static void on_tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	struct timeval idle = { DNS_TCP_IDLE_S, 0 };
	struct sockaddr_in local;
	socklen_t sl = sizeof(local);
	struct dns_tcp *t;

	if (dns.ntcp >= DNS_TCP_MAX || !(t = calloc(1, sizeof(*t)))) {
		close(fd);
		return;
	}
	t->udp = -1;
	t->bev = bufferevent_socket_new(reactor_base(), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!t->bev) {
		close(fd);
		free(t);
		return;
	}
	t->next = dns.tcps;
	if (dns.tcps)
		dns.tcps->prev = t;
	dns.tcps = t;
	dns.ntcp++;
	t->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->udp < 0 || connect(t->udp, (struct sockaddr *)&dns.addr, sizeof(dns.addr)) < 0 ||
	    getsockname(t->udp, (struct sockaddr *)&local, &sl) < 0 ||
	    !(t->ev = event_new(reactor_base(), t->udp, EV_READ | EV_PERSIST, on_bridge, t)) ||
	    event_add(t->ev, NULL) < 0) {
		tcp_free(t);
		return;
	}
	t->port = ntohs(local.sin_port);
	bufferevent_setcb(t->bev, on_tcp_read, NULL, on_tcp_event, t);
	bufferevent_set_timeouts(t->bev, &idle, &idle);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
}

/* ---- start and stop -------------------------------------------------------- */

/* libevent 2.1.12's server port (Debian 12's) dereferences NULL when a
 * datagram is shorter than a DNS header (libevent issue #1231): one byte
 * from the agent to any port 53 would kill leash. The kernel drops such
 * datagrams before evdns reads them (a classic socket filter sees the UDP
 * header, 8 bytes, then the payload); no answer is possible without a
 * header anyway. TCP queries reach evdns through this socket too. */
static int drop_runts(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 8 + 12, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* A UDP socket and a TCP listener on one free port of 127.0.0.1. */
static int listen_pair(int *udp, char *err, size_t errlen)
{
	for (int tries = 0; tries < 16; tries++) {
		socklen_t sl = sizeof(dns.addr);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		memset(&dns.addr, 0, sizeof(dns.addr));
		dns.addr.sin_family = AF_INET;
		dns.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (drop_runts(fd) < 0 ||
		    bind(fd, (struct sockaddr *)&dns.addr, sizeof(dns.addr)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&dns.addr, &sl) < 0) {
			close(fd);
			break;
		}
		dns.lst = evconnlistener_new_bind(reactor_base(), on_tcp_accept, NULL,
						  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
						  (struct sockaddr *)&dns.addr, sizeof(dns.addr));
		if (dns.lst) {
			*udp = fd;
			return 0;
		}
		close(fd); /* the TCP port was taken: another one */
	}
	snprintf(err, errlen, "dns: cannot listen on 127.0.0.1: %s", strerror(errno));
	return -errno ? -errno : -EADDRINUSE;
}

int dns_start(const struct dns_opts *o, char *err, size_t errlen)
{
	int udp = -1, rc;

	memset(&dns, 0, sizeof(dns));
	dns.o = *o;
	if (o->upstream) {
		dns.base = evdns_base_new(reactor_base(), 0);
		if (dns.base && evdns_base_nameserver_ip_add(dns.base, o->upstream) != 0) {
			snprintf(err, errlen, "dns: cannot use '%s' as the upstream resolver",
				 o->upstream);
			rc = -EINVAL;
			goto fail;
		}
	} else {
		dns.base = evdns_base_new(reactor_base(), EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (!dns.base) /* no resolv.conf: pins still answer */
			dns.base = evdns_base_new(reactor_base(), 0);
	}
	if (!dns.base) {
		snprintf(err, errlen, "dns: cannot start the resolver");
		rc = -ENOMEM;
		goto fail;
	}
	/* Answers must match the question byte for byte otherwise, and not
	 * every server keeps the case it was asked in. */
	evdns_base_set_option(dns.base, "randomize-case:", "0");
	rc = listen_pair(&udp, err, errlen);
	if (rc)
		goto fail;
	dns.port = evdns_add_server_port_with_base(reactor_base(), udp, 0, on_request, NULL);
	if (!dns.port) {
		close(udp);
		snprintf(err, errlen, "dns: cannot serve on 127.0.0.1");
		rc = -ENOMEM;
		goto fail;
	}
	rc = network_set_dns(&dns.addr);
	if (rc) {
		snprintf(err, errlen, "dns: cannot redirect the session's DNS: %s", strerror(-rc));
		goto fail;
	}
	log_debug("dns: forwarding on 127.0.0.1:%u", ntohs(dns.addr.sin_port));
	return 0;
fail:
	dns_stop();
	return rc;
}

void dns_stop(void)
{
	while (dns.tcps)
		tcp_free(dns.tcps);
	if (dns.lst)
		evconnlistener_free(dns.lst);
	/* Without failing the pending queries: evdns would only schedule
	 * their callbacks for a loop that no longer runs (leaking them), or,
	 * were it still running, call on_answer with queries freed below.
	 * Each is answered SERVFAIL here instead. */
	if (dns.base)
		evdns_base_free(dns.base, 0);
	while (dns.pending) {
		struct dns_query *q = dns.pending;

		unlink_query(q);
		finish(q, RCODE_SERVFAIL, NULL, -1, "leash is stopping");
	}
	if (dns.port)
		evdns_close_server_port(dns.port);
	memset(&dns, 0, sizeof(dns));
}

int dns_address(struct sockaddr_in *sa)
{
	if (!dns.port)
		return -ENOENT;
	*sa = dns.addr;
	return 0;
}
