/* What the benchmark programs share: the function every child runs, the
 * clock, the raw round trip they compare with, and the sort order. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <spawn.h>
#include <stdio.h>
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

/* The machine's processor time so far, used and in all (clock ticks). */
static inline void cpu_times(long long *used, long long *all)
{
	long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "re");

	*used = *all = 0;
	if (!f)
		return;
	/* cpu user nice system idle iowait irq softirq steal */
	if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0],
	           &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		*used = v[0] + v[1] + v[2] + v[5] + v[6];
		*all = *used + v[3] + v[4] + v[7];
	}
	(void)fclose(f);
}

/* One library round trip of noop: through the fork server (1) or the exec
 * path (0). 0, or -1 when anything failed. */
static inline int lib_run(int server)
{
	reexec_cmd *cmd = reexec_command("noop", NULL);
	int status = -1, rc;

	if (!cmd || reexec_cmd_forkserver(cmd, server) < 0)
		return -1;
	rc = reexec_run(cmd, &status);
	reexec_cmd_free(cmd);
	return rc == 0 && status == 0 ? 0 : -1;
}

#endif
