/*
 * roundtrip - what a round trip through the library costs next to a raw
 * posix_spawn + waitpid of the same binary.
 *
 * A round trip: start a child that runs a function returning at once, and
 * wait for it. "raw" is posix_spawn of /proc/self/exe with argv[0] "noop"
 * and no attributes, then waitpid; "reexec" is reexec_command, reexec_run
 * and reexec_cmd_free; "sealed" is the same from the sealed copy of the
 * binary (reexec_cmd_seal). "raw from a descriptor" is what the library
 * does to execute, bare: vfork, execveat of the binary held open, waitpid;
 * next to it, the library's round trip shows what the library itself (its
 * channel above all) adds. They alternate (raw, raw from a descriptor,
 * reexec, sealed, raw, ...) so that drift in the machine's speed touches
 * all alike. Prints a markdown table of medians and 99th percentiles and
 * the ratio of medians.
 *
 *   roundtrip [iterations]      (default 2000 of each)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <reexec.h>

#include "common.h"

static int self_fd = -1;

/* vfork + execveat of our binary, held open; waitpid. */
static int raw_fd_round(void)
{
	int status;
	pid_t pid;

	pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
	if (pid == 0) {
		char *argv[] = {"noop", NULL};

		syscall(SYS_execveat, self_fd, "", argv, environ,
		        AT_EMPTY_PATH);
		_exit(127);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && status == 0 ? 0
	                                                                 : -1;
}

static int lib_round(void)
{
	reexec_cmd *cmd = reexec_command("noop", NULL);
	int status = -1, rc;

	if (!cmd)
		return -1;
	rc = reexec_run(cmd, &status);
	reexec_cmd_free(cmd);
	return rc == 0 && status == 0 ? 0 : -1;
}

static int sealed_round(void)
{
	reexec_cmd *cmd = reexec_command("noop", NULL);
	int status = -1, rc;

	if (!cmd || reexec_cmd_seal(cmd) < 0) {
		reexec_cmd_free(cmd);
		return -1;
	}
	rc = reexec_run(cmd, &status);
	reexec_cmd_free(cmd);
	return rc == 0 && status == 0 ? 0 : -1;
}

struct series {
	const char *name;
	int (*round)(void);
	double *us;
};

int main(int argc, char *argv[])
{
	struct series s[] = {
	        {"raw posix_spawn + waitpid", raw_round, NULL},
	        {"raw from a descriptor (vfork + execveat)", raw_fd_round,
	         NULL},
	        {"reexec_command + reexec_run", lib_round, NULL},
	        {"the same, sealed (reexec_cmd_seal)", sealed_round, NULL},
	};
	int n = 2000, k = (int)(sizeof(s) / sizeof(s[0]));
	double med[4], seal_us;
	struct stat st;

	/* Multicall, so that the raw spawn can run it without a channel. */
	reexec_register_multicall("noop", noop, 0);
	reexec_init(argc, argv);
	if (argc > 1)
		n = atoi(argv[1]);
	if (n < 10)
		n = 10;
	for (int j = 0; j < k; j++)
		s[j].us = malloc((size_t)n * sizeof(double));
	self_fd = open(reexec_self(), O_PATH | O_CLOEXEC);

	/* The one-time cost of the sealed copy. */
	seal_us = now_us();
	if (reexec_seal() < 0) {
		perror("reexec_seal");
		return 1;
	}
	seal_us = now_us() - seal_us;
	stat(reexec_self(), &st);
	printf("sealed copy: %.0f µs once for %.0f KiB (%.2f ms per MiB)\n\n",
	       seal_us, (double)st.st_size / 1024,
	       seal_us / 1000 / ((double)st.st_size / 1048576));

	/* Warm up the page cache and the dynamic loader's files. */
	for (int i = 0; i < 20; i++)
		for (int j = 0; j < k; j++)
			s[j].round();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < k; j++) {
			double t0 = now_us();

			if (s[j].round() < 0) {
				fprintf(stderr, "%s failed\n", s[j].name);
				return 1;
			}
			s[j].us[i] = now_us() - t0;
		}

	printf("| round trip (%d each, interleaved) | median µs | p99 µs | "
	       "ratio |\n",
	       n);
	printf("|---|---:|---:|---:|\n");
	for (int j = 0; j < k; j++) {
		qsort(s[j].us, (size_t)n, sizeof(double), cmp_double);
		med[j] = s[j].us[n / 2];
		printf("| %s | %.0f | %.0f | %.3f |\n", s[j].name, med[j],
		       s[j].us[(size_t)n * 99 / 100], med[j] / med[0]);
		free(s[j].us);
	}
	printf("\nthe library next to the same exec done bare: %.3f\n",
	       med[2] / med[1]);
	return 0;
}
