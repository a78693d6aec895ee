/* lsm-net-client.c: the sockets t/vm/t0200-lsm-network.t drives inside and
 * outside a leash session in the test VM (not a test of its own).
 *
 *   listen tcp|udp ADDR PORT        serve until killed (accept and close;
 *                                   read and drop); "listening" once bound
 *   connect tcp|udp ADDR PORT       connect(); sockets of ADDR's family
 *   sendto udp ADDR PORT [unspec]   one datagram; "unspec": an IPv4 address
 *                                   sent with sa_family AF_UNSPEC, which
 *                                   udp_sendmsg takes as AF_INET
 *   serve-fd NAME tcp4|udp4|tcp6    on the abstract unix socket NAME, give
 *                                   each client a new unconnected socket
 *                                   (SCM_RIGHTS): made here, outside
 *   connect-passed NAME ADDR PORT   connect() a socket received from NAME
 *   sendto-passed NAME ADDR PORT [unspec]
 *   insns                           the verifier's instruction count of each
 *                                   loaded network program (kernel 5.16+)
 *
 * Each call prints "OP ADDR PORT: ok" or ": <strerror>" and exits 0 on
 * success, 1 on failure, 2 on bad usage: the tests read the errno from the
 * line (EPERM is "Operation not permitted").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/bpf.h>

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

static int parse_addr(const char *text, const char *port, bool unspec, struct addr *a)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	int p = atoi(port);

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = unspec ? AF_UNSPEC : AF_INET;
		in->sin_port = htons((uint16_t)p);
		a->len = sizeof(*in);
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*in6);
		a->family = AF_INET6;
		return 0;
	}
	fprintf(stderr, "lsm-net-client: not an address: '%s'\n", text);
	return -1;
}

static int report(const char *op, const char *addr, const char *port, int rc)
{
	printf("%s %s %s: %s\n", op, addr, port, rc < 0 ? strerror(errno) : "ok");
	fflush(stdout);
	return rc < 0 ? 1 : 0;
}

static int abstract_addr(const char *name, struct sockaddr_un *un, socklen_t *len)
{
	size_t n = strlen(name);

	if (n + 1 > sizeof(un->sun_path))
		return -1;
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path + 1, name, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	return 0;
}

static int do_listen(const char *proto, const char *text, const char *port)
{
	bool tcp = strcmp(proto, "tcp") == 0;
	struct addr a;
	int one = 1, fd;

	if (parse_addr(text, port, false, &a) < 0)
		return 2;
	fd = socket(a.family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 || (tcp && listen(fd, 64) < 0))
		return report("listen", text, port, -1);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		char buf[512];

		if (tcp) {
			int c = accept(fd, NULL, NULL);

			if (c >= 0)
				close(c);
		} else if (recv(fd, buf, sizeof(buf), 0) < 0) {
			return 1;
		}
	}
}

static int serve_fd(const char *name, const char *kind)
{
	int family = strcmp(kind, "tcp6") == 0 ? AF_INET6 : AF_INET;
	int type = strcmp(kind, "udp4") == 0 ? SOCK_DGRAM : SOCK_STREAM;
	struct sockaddr_un un;
	socklen_t len;
	int fd;

	if (abstract_addr(name, &un, &len) < 0)
		return 2;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, len) < 0 || listen(fd, 16) < 0)
		return report("serve-fd", name, kind, -1);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 'x';
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		int c = accept(fd, NULL, NULL), s;

		if (c < 0)
			continue;
		s = socket(family, type, 0);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &s, sizeof(int));
		if (s >= 0 && sendmsg(c, &msg, 0) < 0)
			perror("lsm-net-client: sendmsg");
		if (s >= 0)
			close(s);
		close(c);
	}
}

/* A socket from the serve-fd at NAME, or -1. */
static int receive_fd(const char *name)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct sockaddr_un un;
	struct cmsghdr *cm;
	socklen_t len;
	int fd, s = -1;

	if (abstract_addr(name, &un, &len) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&un, len) < 0 || recvmsg(fd, &msg, 0) <= 0) {
		perror("lsm-net-client: receiving a socket");
		return -1;
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&s, CMSG_DATA(cm), sizeof(int));
	close(fd);
	return s;
}

/* A for leash.test: id 0x1234, RD, one question */
static const char dns_query[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
				"\x05leash\x04test\x00\x00\x01\x00\x01";

static int call(const char *op, int fd, const struct addr *a, const char *text, const char *port)
{
	int rc;

	if (fd < 0)
		return report(op, text, port, -1);
	if (strstr(op, "connect"))
		rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
	else if (atoi(port) == 53) /* a well-formed query: leash's forwarder answers it */
		rc = (int)sendto(fd, dns_query, sizeof(dns_query) - 1, 0,
				 (const struct sockaddr *)&a->ss, a->len);
	else
		rc = (int)sendto(fd, "x", 1, 0, (const struct sockaddr *)&a->ss, a->len);
	return report(op, text, port, rc);
}

static int insns(void)
{
	static const char *const names[] = { "handle_socket_connect", "handle_socket_sendmsg",
					     "handle_connect4",	      "handle_connect6",
					     "handle_sendmsg4",	      "handle_sendmsg6" };
	struct bpf_prog_info info;
	uint32_t id = 0, len;

	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);

		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (strncmp(info.name, names[i], sizeof(info.name) - 1) == 0)
					printf("verified_insns %s=%u\n", names[i],
					       info.verified_insns);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	bool unspec = argc > 5 && strcmp(argv[5], "unspec") == 0;
	struct addr a;

	if (argc == 2 && strcmp(op, "insns") == 0)
		return insns();
	if (argc == 5 && strcmp(op, "listen") == 0)
		return do_listen(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(op, "serve-fd") == 0)
		return serve_fd(argv[2], argv[3]);
	if (argc >= 5 && (strcmp(op, "connect") == 0 || strcmp(op, "sendto") == 0)) {
		bool tcp = strcmp(argv[2], "tcp") == 0;

		if (parse_addr(argv[3], argv[4], unspec, &a) < 0)
			return 2;
		return call(op, socket(a.family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0), &a, argv[3],
			    argv[4]);
	}
	if (argc >= 5 && (strcmp(op, "connect-passed") == 0 || strcmp(op, "sendto-passed") == 0)) {
		if (parse_addr(argv[3], argv[4], unspec, &a) < 0)
			return 2;
		return call(op, receive_fd(argv[2]), &a, argv[3], argv[4]);
	}
	fprintf(stderr, "usage: see the comment at the top of t/unit/lsm-net-client.c\n");
	return 2;
}
