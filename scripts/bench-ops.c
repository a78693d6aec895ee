/* bench-ops: time basic file and process operations, for scripts/bench-file.
 *
 *   bench-ops open FILE N     open+close FILE N times
 *   bench-ops stat FILE N     stat FILE N times
 *   bench-ops exec PROG N     posix_spawn PROG and wait, N times
 *
 * Prints the mean nanoseconds per operation. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n;
	double t0;
	struct stat st;

	if (argc != 4)
		return 2;
	n = atol(argv[3]);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (strcmp(argv[1], "open") == 0) {
			int fd = open(argv[2], O_RDONLY);

			if (fd < 0)
				return 1;
			close(fd);
		} else if (strcmp(argv[1], "stat") == 0) {
			if (stat(argv[2], &st) < 0)
				return 1;
		} else {
			char *args[] = { argv[2], NULL };
			pid_t pid;
			int status;

			if (posix_spawn(&pid, argv[2], NULL, NULL, args, environ) != 0 ||
			    waitpid(pid, &status, 0) < 0)
				return 1;
		}
	}
	printf("%.0f\n", (now() - t0) / n);
	return 0;
}
