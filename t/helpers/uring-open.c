/* uring-open: open PATH read-only through io_uring (IORING_OP_OPENAT), or
 * with `-c ADDR PORT` connect a TCP socket to an IPv4 address through
 * io_uring (IORING_OP_CONNECT), the way a program would to get around
 * syscall-level checks; print "opened"/"connected" or "refused ERRNO".
 * Raw syscalls, no liburing: the tests build it with cc. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail;
	void *sq, *cq;
	int fd, res;

	struct sockaddr_in sin = { .sin_family = AF_INET };
	int connect_mode = argc == 4 && strcmp(argv[1], "-c") == 0;

	if (argc != 2 && !connect_mode)
		return 2;
	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		printf("no io_uring %d\n", errno);
		return 3;
	}
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return 4;
	sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	if (connect_mode) {
		sin.sin_port = htons(atoi(argv[3]));
		if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
			return 2;
		sqes[0].opcode = IORING_OP_CONNECT;
		sqes[0].fd = socket(AF_INET, SOCK_STREAM, 0);
		sqes[0].addr = (unsigned long)&sin;
		sqes[0].off = sizeof(sin);
	} else {
		sqes[0].opcode = IORING_OP_OPENAT;
		sqes[0].fd = AT_FDCWD;
		sqes[0].addr = (unsigned long)argv[1];
		sqes[0].open_flags = O_RDONLY;
	}
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return 5;
	while (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		;
	res = cqes[*cq_head & (p.cq_entries - 1)].res;
	if (res >= 0)
		printf("%s\n", connect_mode ? "connected" : "opened");
	else
		printf("refused %d\n", -res);
	return 0;
}
