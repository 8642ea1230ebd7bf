/*
 * spawn - the ways to run a function of this program in a child, side
 * by side, as the parent grows and as threads are added.
 *
 * A round trip starts a child that runs a function returning at once and
 * waits for it:
 *   raw       posix_spawn of /proc/self/exe (a multicall entry), waitpid
 *   exec      reexec_command + reexec_run + reexec_cmd_free (exec path)
 *   server    the same through the fork server
 *   fork+exec fork, execv of /proc/self/exe, waitpid
 *   bare server  the floor of the fork server idea: a copy of this program
 *             forked at start, that for each request (one at a time)
 *             makes a child with clone(CLONE_PARENT) which _exits at once,
 *             and answers with its pid; we waitpid. No stdio, fds,
 *             environment, directory, channel or result: what any fork
 *             server costs here before it does anything.
 * For each parent size (resident memory touched before measuring) and
 * number of spawning threads, the five alternate batch by batch (raw,
 * exec, server, fork+exec, bare server, raw, ...); in a batch every
 * thread does BATCH round trips of the same kind. Prints a markdown table
 * per setting: median and 99th percentile round trip, round trips per
 * second (all threads together), the ratio of medians to raw, and how
 * busy the machine's processors were while that way ran (from /proc/stat:
 * near 100%, more threads cannot add round trips per second).
 *
 *   spawn [rounds [GiB...]]   (default 15 rounds of 10 per thread, at
 *                              0, 1 and 4 GiB)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <reexec.h>

#include "common.h"

#define BATCH 10
#define MAX_THREADS 2

static int lib_round(int server)
{
	reexec_cmd *cmd = reexec_command("noop", NULL);
	int status = -1, rc;

	if (!cmd || reexec_cmd_forkserver(cmd, server) < 0)
		return -1;
	rc = reexec_run(cmd, &status);
	reexec_cmd_free(cmd);
	return rc == 0 && status == 0 ? 0 : -1;
}

static int exec_round(void)
{
	return lib_round(0);
}

static int server_round(void)
{
	return lib_round(1);
}

static int bare_sock = -1;
static pthread_mutex_t bare_lock = PTHREAD_MUTEX_INITIALIZER;

/* The bare server: a byte in, a child made, its pid out; it ends with
 * us. */
static _Noreturn void bare_server(int sock, pid_t parent)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (recv(sock, &c, 1, 0) == 1) {
		pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD,
		                           NULL, NULL, NULL, NULL);

		if (pid == 0)
			syscall(SYS_exit, 0);
		if (send(sock, &pid, sizeof(pid), 0) < 0)
			break;
	}
	_exit(0);
}

static int bare_start(void)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		bare_server(sv[1], parent);
	}
	close(sv[1]);
	bare_sock = sv[0];
	return pid < 0 ? -1 : 0;
}

static int bare_round(void)
{
	pid_t pid = -1;
	int status;
	char c = 0;

	pthread_mutex_lock(&bare_lock);
	if (send(bare_sock, &c, 1, 0) != 1 ||
	    recv(bare_sock, &pid, sizeof(pid), 0) != sizeof(pid))
		pid = -1;
	pthread_mutex_unlock(&bare_lock);
	if (pid <= 0)
		return -1;
	return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : -1;
}

static int forkexec_round(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char *argv[] = {"noop", NULL};

		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : -1;
}

struct impl {
	const char *name;
	int (*round)(void);
	double *us; /* every round trip's time */
	size_t n;
	double busy_us;     /* wall time of all batches */
	long long cpu_used; /* processor time used meanwhile, all of them */
	long long cpu_all;  /* processor time there was, all of them */
};

/* The machine's processor time so far, used and in all (clock ticks). */
static void cpu_times(long long *used, long long *all)
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

struct job {
	struct impl *impl;
	double us[BATCH];
	int failed;
};

static void *run_batch(void *arg)
{
	struct job *job = arg;

	for (int i = 0; i < BATCH; i++) {
		double t0 = now_us();

		if (job->impl->round() < 0)
			job->failed = 1;
		job->us[i] = now_us() - t0;
	}
	return NULL;
}

static int measure(struct impl *impls, int nimpl, int threads, int rounds)
{
	for (int k = 0; k < nimpl; k++) {
		impls[k].n = 0;
		impls[k].busy_us = 0;
		impls[k].cpu_used = impls[k].cpu_all = 0;
		impls[k].us = malloc(sizeof(double) * BATCH * MAX_THREADS *
		                     (size_t)rounds);
	}
	for (int r = -1; r < rounds; r++) /* round -1 warms up */
		for (int k = 0; k < nimpl; k++) {
			struct job jobs[MAX_THREADS] = {{0}};
			pthread_t th[MAX_THREADS];
			double t0 = now_us();
			long long used0, all0, used1, all1;

			cpu_times(&used0, &all0);
			for (int t = 0; t < threads; t++) {
				jobs[t].impl = &impls[k];
				pthread_create(&th[t], NULL, run_batch,
				               &jobs[t]);
			}
			for (int t = 0; t < threads; t++) {
				pthread_join(th[t], NULL);
				if (jobs[t].failed) {
					fprintf(stderr, "%s failed\n",
					        impls[k].name);
					return -1;
				}
			}
			cpu_times(&used1, &all1);
			if (r < 0)
				continue;
			impls[k].busy_us += now_us() - t0;
			impls[k].cpu_used += used1 - used0;
			impls[k].cpu_all += all1 - all0;
			for (int t = 0; t < threads; t++)
				for (int i = 0; i < BATCH; i++)
					impls[k].us[impls[k].n++] =
					        jobs[t].us[i];
		}
	return 0;
}

int main(int argc, char *argv[])
{
	struct impl impls[] = {
	        {.name = "raw posix_spawn", .round = raw_round},
	        {.name = "exec path", .round = exec_round},
	        {.name = "fork server", .round = server_round},
	        {.name = "fork+exec", .round = forkexec_round},
	        {.name = "bare server (floor)", .round = bare_round},
	};
	const int nimpl = (int)(sizeof(impls) / sizeof(impls[0]));
	int gib[8] = {0, 1, 4}, ngib = 3;
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	size_t mapped = 0;
	char *mem = NULL;

	reexec_register_multicall("noop", noop, 0);
	reexec_init(argc, argv);
	if (rounds < 2)
		rounds = 2;
	if (argc > 2) {
		ngib = 0;
		for (int i = 2; i < argc && ngib < 8; i++)
			gib[ngib++] = atoi(argv[i]);
	}
	if (bare_start() < 0 || reexec_forkserver_start(0) < 0) {
		perror("starting the servers");
		return 1;
	}
	for (int g = 0; g < ngib; g++) {
		size_t want = (size_t)gib[g] << 30;

		/* Grow the parent: resident, private, touched. */
		if (want > mapped) {
			char *more = mmap(NULL, want - mapped,
			                  PROT_READ | PROT_WRITE,
			                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (more == MAP_FAILED) {
				perror("mmap");
				return 1;
			}
			memset(more, 1, want - mapped);
			mem = more;
			mapped = want;
		}
		for (int threads = 1; threads <= MAX_THREADS; threads++) {
			if (measure(impls, nimpl, threads, rounds) < 0)
				return 1;
			printf("\nparent RSS %d GiB, %d spawning thread%s, %d "
			       "round trips each:\n\n",
			       gib[g], threads, threads > 1 ? "s" : "",
			       (int)impls[0].n);
			printf("| | median µs | p99 µs | round trips/s | "
			       "ratio | processors busy |\n"
			       "|---|---:|---:|---:|---:|---:|\n");
			double raw = 0;
			for (int k = 0; k < nimpl; k++) {
				struct impl *m = &impls[k];
				double med;

				qsort(m->us, m->n, sizeof(double), cmp_double);
				med = m->us[m->n / 2];
				if (k == 0)
					raw = med;
				printf("| %s | %.0f | %.0f | %.0f | %.3f | "
				       "%.0f%% |\n",
				       m->name, med, m->us[m->n * 99 / 100],
				       (double)m->n / m->busy_us * 1e6,
				       med / raw,
				       m->cpu_all
				               ? 100.0 * (double)m->cpu_used /
				                         (double)m->cpu_all
				               : 0.0);
				free(m->us);
			}
			fflush(stdout);
		}
	}
	(void)mem;
	reexec_forkserver_stop();
	return 0;
}
