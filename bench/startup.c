/*
 * startup - what reexec_init_sealed() adds to a program's start.
 *
 * A start: posix_spawn of this binary and waitpid, the program calling
 * reexec_init() and returning ("plain"), or reexec_init_sealed(), which
 * copies the binary into a sealed memfd and executes the program once
 * more from it, and returning ("sealed"). They alternate so that drift in
 * the machine's speed touches both alike. Prints a markdown table of
 * medians and 99th percentiles and the ratio of medians.
 *
 *   startup [iterations]      (default 500 of each)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static int start(const char *mode)
{
	char *argv[] = {"startup", (char *)mode, NULL};
	pid_t pid;
	int status;

	if (posix_spawn(&pid, reexec_self(), NULL, NULL, argv, environ))
		return -1;
	return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : -1;
}

int main(int argc, char *argv[])
{
	static const char *modes[] = {"--plain", "--sealed"};
	static const char *names[] = {"reexec_init",
	                              "reexec_init_sealed (copy + exec)"};
	double *us[2], med[2];
	int n = 500;
	struct stat st;

	if (argc > 1 && strcmp(argv[1], "--sealed") == 0)
		return reexec_init_sealed(argc, argv) < 0;
	reexec_init(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--plain") == 0)
		return 0;
	if (argc > 1)
		n = atoi(argv[1]);
	if (n < 10)
		n = 10;
	for (int j = 0; j < 2; j++)
		us[j] = malloc((size_t)n * sizeof(double));
	/* Warm up the page cache and the dynamic loader's files. */
	for (int i = 0; i < 20; i++)
		for (int j = 0; j < 2; j++)
			start(modes[j]);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < 2; j++) {
			double t0 = now_us();

			if (start(modes[j]) < 0) {
				fprintf(stderr, "%s failed\n", names[j]);
				return 1;
			}
			us[j][i] = now_us() - t0;
		}

	stat(reexec_self(), &st);
	printf("| start of a %.0f KiB program (%d each, interleaved) | median "
	       "µs | p99 µs | ratio |\n",
	       (double)st.st_size / 1024, n);
	printf("|---|---:|---:|---:|\n");
	for (int j = 0; j < 2; j++) {
		qsort(us[j], (size_t)n, sizeof(double), cmp_double);
		med[j] = us[j][n / 2];
		printf("| %s | %.0f | %.0f | %.3f |\n", names[j], med[j],
		       us[j][(size_t)n * 99 / 100], med[j] / med[0]);
		free(us[j]);
	}
	return 0;
}
