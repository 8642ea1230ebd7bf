/*
 * machine - what process creation costs on this machine, independent of
 * the library: the figures the spawn benchmark's results rest on.
 *
 * 1. A page after fork: a parent with PAGES pages resident forks a child
 *    that touches none of them, reads each, or writes each (copy on
 *    write), and _exits; the parent waits. The three alternate; the cost
 *    of a page is the difference of medians over PAGES.
 * 2. A new process's start: the processor time a forked child has used
 *    when its first instruction runs (its clock, read at once), for the C
 *    library's fork() and for the bare system call, alternated.
 * 3. Two at once: the same amount of work per process, done by one
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define PAGES 1024
#define SAMPLES 11
#define FORKS 150
#define SPINS 100000000UL

static volatile char *mem;
static size_t page;

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
				sum += mem[i * page];
			else
				mem[i * page] = 2;
		}
		_exit(sum & 0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
		perror("fork");
		exit(1);
	}
	return now_us() - t0;
}

/* The processor time a child of fork() (bare: of the system call) has
 * used when it first runs, in µs. */
static double first_run(int bare, const int report[2])
{
	pid_t pid = bare ? (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL,
	                                  NULL)
	                 : fork();
	double used = -1;

	if (pid == 0) {
		struct timespec ts;

		syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &ts);
		used = (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
		syscall(SYS_write, report[1], &used, sizeof(used));
		syscall(SYS_exit, 0);
	}
	if (pid < 0 || read(report[0], &used, sizeof(used)) != sizeof(used) ||
	    waitpid(pid, NULL, 0) != pid) {
		perror("fork");
		exit(1);
	}
	return used;
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
	static double one[2][64], two[2][64], first[2][64 * SAMPLES];
	int report[2];
	void (*work[2])(void) = {spin, forks};
	const char *what[2] = {"computation", "fork + _exit + waitpid"};
	size_t nt = 0;

	if (rounds < 1 || rounds > 64)
		rounds = 7;
	page = (size_t)sysconf(_SC_PAGESIZE);
	mem = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset((char *)mem, 1, PAGES * page);
	if (pipe(report) < 0) {
		perror("pipe");
		return 1;
	}

	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < SAMPLES; s++, nt++) {
			for (int how = NONE; how <= WRITE; how++)
				touch[how][nt] = fork_touching(how);
			for (int bare = 0; bare < 2; bare++)
				first[bare][nt] = first_run(bare, report);
		}
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

	printf("\na new process's start (%zu forks of each, interleaved):\n\n",
	       nt);
	printf("| made by | processor time used before its first "
	       "instruction, median µs |\n|---|---:|\n");
	printf("| fork() | %.0f |\n", median(first[0], nt));
	printf("| the bare system call | %.0f |\n", median(first[1], nt));

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
