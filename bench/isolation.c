/*
 * isolation - what the isolation attributes add to a start.
 *
 * Round trips (reexec_run of a function that returns at once) of a
 * command without attributes, with a new user namespace and its maps
 * (the barrier's round trip and the parent's writes), and with new user,
 * mount, pid and net namespaces and maps (as examples/sandbox.c starts
 * its child: the fork into the pid namespace, a network namespace's
 * set-up and tear-down). The kinds alternate so that drift in the
 * machine's speed touches all alike. Prints a markdown table of medians
 * and 99th percentiles and each median's ratio to the plain one.
 *
 *   isolation [iterations]      (default 300 of each)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define KINDS 3

static int round_trip(int kind)
{
	static const int flags[KINDS] = {0, CLONE_NEWUSER,
	                                 CLONE_NEWUSER | CLONE_NEWNS |
	                                         CLONE_NEWPID | CLONE_NEWNET};
	reexec_cmd *cmd = reexec_command("noop", (char *)NULL);
	int status = -1, rc = -1;

	if (!cmd)
		return -1;
	if (!flags[kind] || (reexec_cmd_set_namespaces(cmd, flags[kind]) == 0 &&
	                     reexec_cmd_uid_map(cmd, 0, geteuid(), 1) == 0 &&
	                     reexec_cmd_gid_map(cmd, 0, getegid(), 1) == 0))
		rc = reexec_run(cmd, &status);
	reexec_cmd_free(cmd);
	return rc == 0 && status == 0 ? 0 : -1;
}

int main(int argc, char *argv[])
{
	static const char *names[KINDS] = {
	        "no attributes", "user namespace + maps",
	        "user, mount, pid, net namespaces + maps"};
	double *us[KINDS], med[KINDS];
	int n = argc > 1 ? atoi(argv[1]) : 300;

	reexec_register_multicall("noop", noop, 0);
	reexec_init(argc, argv);
	if (n < 10)
		n = 10;
	for (int k = 0; k < KINDS; k++)
		us[k] = malloc((size_t)n * sizeof(double));
	for (int i = 0; i < 10; i++)
		for (int k = 0; k < KINDS; k++)
			if (round_trip(k) < 0) {
				printf("isolation: %s: cannot start here\n",
				       names[k]);
				return 0;
			}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < KINDS; k++) {
			double t0 = now_us();

			if (round_trip(k) < 0) {
				perror("isolation");
				return 1;
			}
			us[k][i] = now_us() - t0;
		}
	printf("\n| isolation (%d each, interleaved) | median µs | p99 µs | "
	       "ratio |\n|---|---:|---:|---:|\n",
	       n);
	for (int k = 0; k < KINDS; k++) {
		qsort(us[k], (size_t)n, sizeof(double), cmp_double);
		med[k] = us[k][n / 2];
		printf("| %s | %.0f | %.0f | %.3f |\n", names[k], med[k],
		       us[k][n * 99 / 100], med[k] / med[0]);
	}
	for (int k = 0; k < KINDS; k++)
		free(us[k]);
	return 0;
}
