/* How long a fork server outlives a caller that left without a
 * parent-death signal: the caller (a child of ours) starts a server, then
 * closes every descriptor it holds, as a process that makes itself a
 * daemon does; we time from its word that it has closed them to the
 * server's end, seen on a pidfd.
 *
 *   build/bench/orphan [rounds]   (default 50) */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

/* caller: start a server, print its pid, wait for a byte, close every
 * descriptor but stdio, say so, and wait for stdin to end. */
static int caller(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	if (reexec_forkserver_start(0) < 0)
		return 1;
	printf("%d\n", (int)reexec_forkserver_pid());
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		return 1;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (write(1, "x", 1) != 1)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* The parent of pid, from /proc; -1 when unknown. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int parent = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		(void)sscanf(p + 1, " %*c %d", &parent);
	fclose(f);
	return parent;
}

/* One round: microseconds from the hang-up to the server's end, or -1. */
static double one_round(void)
{
	reexec_cmd *cmd = reexec_command("caller", NULL);
	struct pollfd p = {.fd = -1, .events = POLLIN};
	char line[32] = "", c;
	double t0, t1 = -1;
	size_t n = 0;
	pid_t server;
	int status;

	if (!cmd || reexec_cmd_stdio_pipe(cmd, 0) < 0 ||
	    reexec_cmd_stdio_pipe(cmd, 1) < 0 || reexec_start(cmd) < 0)
		goto out;
	while (n < sizeof(line) - 1 &&
	       read(reexec_pipe(cmd, 1), line + n, 1) == 1 && line[n] != '\n')
		n++;
	server = (pid_t)atoi(line);
	/* Only a server of our own child is ours to watch. */
	if (server <= 0 || parent_of(server) != reexec_pid(cmd))
		goto out;
	p.fd = (int)syscall(SYS_pidfd_open, server, 0);
	if (p.fd < 0 || write(reexec_pipe(cmd, 0), "x", 1) != 1 ||
	    read(reexec_pipe(cmd, 1), &c, 1) != 1)
		goto out;
	t0 = now_us();
	if (poll(&p, 1, 10000) == 1)
		t1 = now_us() - t0;
out:
	if (p.fd >= 0)
		close(p.fd);
	if (cmd && reexec_pid(cmd) > 0) {
		reexec_pipe_close(cmd, 0);
		reexec_wait(cmd, &status);
	}
	reexec_cmd_free(cmd);
	return t1;
}

int main(int argc, char *argv[])
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50, got = 0;
	double *us;

	reexec_register("caller", caller);
	reexec_init(argc, argv);
	if (rounds < 1)
		rounds = 1;
	us = calloc((size_t)rounds, sizeof(*us));
	if (!us)
		return 1;
	for (int i = 0; i < rounds; i++) {
		double t = one_round();

		if (t >= 0)
			us[got++] = t;
	}
	if (got == 0) {
		printf("orphan: no round ended within 10 s\n");
		return 1;
	}
	qsort(us, (size_t)got, sizeof(*us), cmp_double);
	printf("orphaned fork server, caller hung up -> server ended "
	       "(%d of %d rounds): median %.0f us, max %.0f us\n",
	       got, rounds, us[got / 2], us[got - 1]);
	free(us);
	return got == rounds ? 0 : 1;
}
