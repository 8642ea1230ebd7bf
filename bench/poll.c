/*
 * poll - what a poll (reexec_wait_timeout(cmd, 0, ...)) costs the caller
 * while a child sends a large result: polls in a loop until the child has
 * ended, and the longest processor time one of them used (processor time,
 * not wall time, so that other processes on the machine do not count).
 * A poll moves at most a step of data, so the longest should stay far
 * below a millisecond whatever the size.
 *
 *   poll [MiB...]      (default 4 64), each size 3 times
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <reexec.h>

/* big MIB: a result of MIB MiB. */
static int big(int argc, char *argv[])
{
	size_t n = (size_t)(argc > 1 ? atoi(argv[1]) : 1) << 20;
	char *p = malloc(n ? n : 1);

	if (!p)
		return 1;
	memset(p, 1, n);
	return reexec_set_result(p, n) < 0 ? 2 : 0;
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int measure(const char *mib)
{
	reexec_cmd *cmd = reexec_command("big", mib, (char *)NULL);
	double longest = 0;
	long polls = 0;
	int status, rc;

	if (!cmd || reexec_start(cmd) < 0)
		return -1;
	do {
		double t = cpu_ms();

		rc = reexec_wait_timeout(cmd, 0, &status);
		t = cpu_ms() - t;
		if (t > longest)
			longest = t;
		polls++;
	} while (rc < 0 && errno == ETIMEDOUT);
	reexec_cmd_free(cmd);
	if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	printf("%6s MiB %10ld %14.3f\n", mib, polls, longest);
	return 0;
}

int main(int argc, char *argv[])
{
	char *sizes[] = {"4", "64", NULL};
	char **size = argc > 1 ? argv + 1 : sizes;

	reexec_register("big", big);
	reexec_init(argc, argv);
	printf("a result polled for (reexec_wait_timeout 0):\n\n");
	printf("%10s %10s %14s\n", "result", "polls", "longest (ms)");
	for (; *size; size++)
		for (int r = 0; r < 3; r++)
			if (measure(*size) < 0) {
				perror("poll");
				return 1;
			}
	return 0;
}
