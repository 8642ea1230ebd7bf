/*
 * machine - what process creation costs on this machine, independent of
 * the library: the figures the spawn benchmark's results rest on.
 *
 * 1. A page after fork: a parent with PAGES pages resident forks a child
 *    that touches none of them, reads each, or writes each (copy on
 *    write), and _exits; the parent waits. The three alternate; the cost
 *    of a page is the difference of medians over PAGES.
 * 2. Two at once: the same amount of work per process, done by one
 *    process alone or by two processes at the same time, alternated; the
 *    ratio of work per second (2.0: two processors do twice what one
 *    does). For plain computation, and for fork + _exit + waitpid.
 *
 *   machine [rounds]   (default 7)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define PAGES 1024
#define SAMPLES 11
#define FORKS 150
#define SPINS 100000000UL

static volatile char *mem;

enum touch { NONE, READ, WRITE };

/* One fork of the parent whose child touches every page as told. */
static double fork_touching(enum touch how)
{
	double t0 = now_us();
	pid_t pid = fork();

	if (pid == 0) {
		int sum = 0;

		for (size_t i = 0; how != NONE && i < PAGES; i++) {
			if (how == READ)
				sum += mem[i * 4096];
			else
				mem[i * 4096] = 2;
		}
		_exit(sum & 0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
		perror("fork");
		exit(1);
	}
	return now_us() - t0;
}

static volatile unsigned long spun;

static void spin(void)
{
	for (unsigned long i = 0; i < SPINS; i++)
		spun += i;
}

static void forks(void)
{
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
			perror("fork");
			exit(1);
		}
	}
}

/* Wall time of work done in n processes at once. */
static double at_once(void (*work)(void), int n)
{
	double t0 = now_us();
	pid_t pid[2];

	for (int i = 0; i < n; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			work();
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++)
		if (pid[i] < 0 || waitpid(pid[i], NULL, 0) != pid[i]) {
			perror("fork");
			exit(1);
		}
	return now_us() - t0;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[n / 2];
}

int main(int argc, char *argv[])
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	static double touch[3][64 * SAMPLES];
	static double one[2][64], two[2][64];
	void (*work[2])(void) = {spin, forks};
	const char *what[2] = {"computation", "fork + _exit + waitpid"};
	size_t nt = 0;

	if (rounds < 1 || rounds > 64)
		rounds = 7;
	mem = mmap(NULL, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset((char *)mem, 1, (size_t)PAGES * 4096);

	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < SAMPLES; s++, nt++)
			for (int how = NONE; how <= WRITE; how++)
				touch[how][nt] = fork_touching(how);
		for (int w = 0; w < 2; w++) {
			one[w][r] = at_once(work[w], 1);
			two[w][r] = at_once(work[w], 2);
		}
	}

	double none = median(touch[NONE], nt);
	double read = median(touch[READ], nt);
	double write = median(touch[WRITE], nt);

	printf("\na page after fork (%d pages resident, %zu forks of each "
	       "kind, interleaved):\n\n",
	       PAGES, nt);
	printf("| the child | fork + exit, median µs | per page µs |\n"
	       "|---|---:|---:|\n");
	printf("| touches no page | %.0f | |\n", none);
	printf("| reads each page | %.0f | %.1f |\n", read,
	       (read - none) / PAGES);
	printf("| writes each page | %.0f | %.1f |\n", write,
	       (write - none) / PAGES);

	printf("\ntwo processes at once (%d rounds, alternated):\n\n", rounds);
	printf("| work | one alone, median ms | two at once, median ms | "
	       "work per second, two vs one |\n|---|---:|---:|---:|\n");
	for (int w = 0; w < 2; w++) {
		double a = median(one[w], (size_t)rounds);
		double b = median(two[w], (size_t)rounds);

		printf("| %s | %.1f | %.1f | %.2f× |\n", what[w], a / 1000,
		       b / 1000, 2 * a / b);
	}
	return 0;
}
