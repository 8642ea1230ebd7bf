/* What the benchmark programs share: the function every child runs, the
 * clock, the raw round trip they compare with, and the sort order. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <reexec.h>

extern char **environ;

/* noop: returns at once; registered multicall, so that a raw spawn can
 * run it without a channel. */
static inline int noop(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 0;
}

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* posix_spawn of our own binary running noop, no attributes; waitpid. */
static inline int raw_round(void)
{
	char *argv[] = {"noop", NULL};
	pid_t pid;
	int status;

	if (posix_spawn(&pid, reexec_self(), NULL, NULL, argv, environ))
		return -1;
	return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : -1;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif
