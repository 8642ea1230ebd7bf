/*
 * spawn - the ways to run a function of this program in a child, side
 * by side, as the parent grows and as threads are added.
 *
 * A round trip starts a child that runs a function returning at once and
 * waits for it:
 *   raw       posix_spawn of /proc/self/exe (a multicall entry), waitpid
 *   exec      reexec_command + reexec_run + reexec_cmd_free (exec path)
 *   server    the same through the fork server
 *   full      the fork server with what a real caller sets: stdout to a
 *             pipe, one extra descriptor, an environment variable, a
 *             working directory, 1 KiB of input and 1 KiB of result
 *   fork+exec fork, execv of /proc/self/exe, waitpid
 *   bare server  the floor of the fork server idea: a copy of this program
 *             forked at start, that for each request (one at a time)
 *             makes a child with clone(CLONE_PARENT) which _exits at once,
 *             and answers with its pid; we waitpid. No stdio, fds,
 *             environment, directory, channel or result: what any fork
 *             server costs here before it does anything.
 * For each parent size (resident memory touched before measuring) and
 * number of spawning threads, the six alternate batch by batch (raw,
 * exec, server, full, fork+exec, bare server, raw, ...); in a batch every
 * thread does BATCH round trips of the same kind. Prints a markdown table
 * per setting: median and 99th percentile round trip, round trips per
 * second (all threads together), the ratio of medians to raw and to the
 * bare server, and how
 * busy the machine's processors were while that way ran (from /proc/stat:
 * near 100%, more threads cannot add round trips per second).
 *
 *   spawn [rounds [GiB...]]   (default 15 rounds of 10 per thread, at
 *                              0, 1 and 4 GiB)
 *
 * Built with -DREEXEC_TRACE (make bench-trace), it can also break one
 * fork-server round trip into phases (src/trace.h):
 *   spawn trace [round trips [plain|full]]   (default 500, both kinds)
 * prints, for each mark, the median time from the mark before it on its
 * path and the mean page faults its process took since its own previous
 * mark. Run under strace -f with REEXEC_TRACE_STRACE=1, each mark also
 * names itself (bench/trace-syscalls.sh counts the calls per phase).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <fcntl.h>
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
#ifdef REEXEC_TRACE
#include "../src/trace.h"
#endif

#define BATCH 10
#define MAX_THREADS 2

static int exec_round(void)
{
	return lib_run(0);
}

static int server_round(void)
{
	return lib_run(1);
}

#define FULL_DATA 1024
static int full_fd = -1; /* the extra descriptor: /dev/null */
static char full_input[FULL_DATA];

/* The full row's function: it checks what it was given and answers. */
static int full(int argc, char *argv[])
{
	char out[FULL_DATA];
	const void *in;
	size_t len;

	(void)argc;
	(void)argv;
	if (reexec_input(&in, &len) < 0 || len != FULL_DATA ||
	    !getenv("BENCH_FULL") || fcntl(3, F_GETFD) < 0)
		return 1;
	memset(out, 'r', sizeof(out));
	return reexec_set_result(out, sizeof(out)) < 0 ? 1 : 0;
}

static int full_round(void)
{
	reexec_cmd *cmd = reexec_command("full", NULL);
	int status = -1, rc = -1;
	void *result = NULL;
	size_t len = 0;

	if (cmd && reexec_cmd_forkserver(cmd, 1) == 0 &&
	    reexec_cmd_stdio_pipe(cmd, 1) == 0 &&
	    reexec_cmd_add_fd(cmd, full_fd) == 3 &&
	    reexec_cmd_setenv(cmd, "BENCH_FULL", "1") == 0 &&
	    reexec_cmd_set_dir(cmd, "/") == 0 &&
	    reexec_cmd_set_input(cmd, full_input, FULL_DATA) == 0 &&
	    reexec_run(cmd, &status) == 0 && status == 0 &&
	    reexec_take_result(cmd, &result, &len) == 0 && len == FULL_DATA)
		rc = 0;
	free(result);
	reexec_cmd_free(cmd);
	return rc;
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

#ifdef REEXEC_TRACE
/* Where each mark's time is measured from: the mark before it on its
 * path (-1: none, the mark is off the round trip). */
static const int trace_from[T_MARKS] = {
        [T_BEGIN] = -1,           [T_PLAN] = T_BEGIN,
        [T_STATE] = T_PLAN,       [T_BUILT] = T_STATE,
        [T_SENT] = T_BUILT,       [T_SPARE] = -1,
        [T_RECV] = T_SENT,        [T_PARSED] = T_RECV,
        [T_PREPARED] = T_PARSED,  [T_ANSWERED] = T_PREPARED,
        [T_TOOK] = T_PREPARED,    [T_ANSWER] = T_ANSWERED,
        [T_STARTED] = T_ANSWER,   [T_FDS] = T_ANSWERED,
        [T_INPUT] = T_FDS,        [T_FN] = T_INPUT,
        [T_RETURNED] = T_FN,      [T_SIGNALLED] = T_RETURNED,
        [T_REAPED] = T_SIGNALLED, [T_RELAYED] = T_REAPED,
        [T_RESPARED] = -1,        [T_WOKE] = T_RELAYED,
        [T_END] = T_WOKE,
};

/* What each mark ends, and whether it is on the round trip's path. */
static const struct {
	const char *what;
	int on_path;
} trace_phase[T_MARKS] = {
        [T_PLAN] = {"caller: command made, descriptor plan", 1},
        [T_STATE] = {"caller: its state read (inherit.c), relay, "
                     "directory",
                     1},
        [T_BUILT] = {"caller: environment and request built", 1},
        [T_SENT] = {"caller: request sent", 1},
        [T_SPARE] = {"spare: forked and ready (before the request)", 0},
        [T_RECV] = {"spare: wakes, request received", 1},
        [T_PARSED] = {"spare: request parsed", 1},
        [T_PREPARED] = {"spare: directory, umask, limits; server told", 1},
        [T_ANSWERED] = {"spare: about to send its pid", 1},
        [T_TOOK] = {"server: hears the spare took it (beside)", 0},
        [T_ANSWER] = {"caller: pid received (beside)", 0},
        [T_STARTED] = {"caller: reexec_start returns (beside)", 0},
        [T_FDS] = {"pid sent; child: descriptors in place", 1},
        [T_INPUT] = {"child: mask, environment, lookup, input read", 1},
        [T_FN] = {"child: channel, name, parent-death set-up", 1},
        [T_RETURNED] = {"child: the function runs", 1},
        [T_SIGNALLED] = {"child exits; server woken by SIGCHLD", 1},
        [T_REAPED] = {"server: reaps it", 1},
        [T_RELAYED] = {"server: about to send the status", 1},
        [T_RESPARED] = {"server: replacement spare forked (after)", 0},
        [T_WOKE] = {"status sent; caller wakes, takes it", 1},
        [T_END] = {"caller: reexec_run returns, command freed", 1},
};

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* n round trips of one kind, traced; prints the table. */
static int trace_kind(struct trace_page *page, const char *kind,
                      int (*round)(void), int n)
{
	long long *d = malloc(sizeof(*d) * (size_t)n * T_MARKS);
	long long *total = malloc(sizeof(*total) * (size_t)n);
	int got[T_MARKS] = {0};
	double mean_total = 0;
	double faults[T_MARKS] = {0}, sum[T_MARKS] = {0}, cpu[T_MARKS] = {0};
	double path = 0, mean = 0, child_faults = 0, child_cpu = 0;

	if (!d || !total)
		return -1;
	for (int i = -20; i < n; i++) { /* the first 20 warm up */
		memset(page->ns, 0, sizeof(page->ns));
		memset(page->faults, 0, sizeof(page->faults));
		TRACE(T_BEGIN);
		if (round() < 0)
			return -1;
		TRACE(T_END);
		if (i < 0)
			continue;
		total[i] = page->ns[T_END] - page->ns[T_BEGIN];
		for (int m = 0; m < T_MARKS; m++) {
			int f = trace_from[m];

			if (!page->ns[m] || (f >= 0 && !page->ns[f]))
				continue;
			if (f >= 0) {
				d[(size_t)m * (size_t)n + (size_t)got[m]] =
				        page->ns[m] - page->ns[f];
				sum[m] += (double)(page->ns[m] - page->ns[f]);
			}
			faults[m] += (double)page->faults[m];
			cpu[m] += (double)page->cpu_ns[m];
			got[m]++;
		}
		child_faults += (double)page->child_faults;
		child_cpu += (double)page->child_cpu_ns;
	}
	qsort(total, (size_t)n, sizeof(*total), cmp_ll);
	for (int i = 0; i < n; i++)
		mean_total += (double)total[i];
	printf("\n%s fork-server round trip, %d traced: median %.0f µs, "
	       "mean %.0f µs\n\n"
	       "| phase (ends at mark) | mark | µs median | µs mean | faults "
	       "| processor µs | seen |\n"
	       "|---|---|---:|---:|---:|---:|---:|\n",
	       kind, n, (double)total[n / 2] / 1e3, mean_total / n / 1e3);
	for (int m = 1; m < T_MARKS; m++) {
		long long *v = d + (size_t)m * (size_t)n;
		double med = 0;

		if (!got[m])
			continue;
		if (trace_from[m] >= 0) {
			qsort(v, (size_t)got[m], sizeof(*v), cmp_ll);
			med = (double)v[got[m] / 2] / 1e3;
		}
		if (trace_phase[m].on_path) {
			path += med;
			mean += sum[m] / got[m] / 1e3;
		}
		/* (Beside the path in brackets; no time where the mark
		 * has no mark before it in the same round trip.) */
		const char *fmt = trace_phase[m].on_path ? "%.0f" : "(%.0f)";
		char t_med[32] = "–", t_mean[32] = "–";

		if (trace_from[m] >= 0) {
			(void)snprintf(t_med, sizeof(t_med), fmt, med);
			(void)snprintf(t_mean, sizeof(t_mean), fmt,
			               sum[m] / got[m] / 1e3);
		}
		printf("| %s | %d | %s | %s | %.1f | %.0f | %d%% |\n",
		       trace_phase[m].what, m, t_med, t_mean,
		       faults[m] / got[m], cpu[m] / got[m] / 1e3,
		       100 * got[m] / n);
	}
	printf("| sum on the path | | %.0f | %.0f | | | |\n", path, mean);
	printf("\nthe child in all, fork to reaping (mean): %.1f faults, "
	       "%.0f µs of processor time\n",
	       child_faults / n, child_cpu / n / 1e3);
	free(d);
	free(total);
	return 0;
}

static int trace_main(int argc, char *argv[])
{
	char path[] = "/tmp/reexec-trace-XXXXXX";
	int n = argc > 2 ? atoi(argv[2]) : 500, fd = mkstemp(path), rc = 0;
	const char *only = argc > 3 ? argv[3] : NULL;
	struct trace_page *page;

	if (fd < 0 || ftruncate(fd, sizeof(*page)) < 0)
		return 1;
	page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	            0);
	close(fd);
	if (page == MAP_FAILED || setenv("REEXEC_TRACE", path, 1) < 0)
		return 1;
	page->strace = getenv("REEXEC_TRACE_STRACE") != NULL;
	if (n < 1)
		n = 1;
	if (reexec_forkserver_start(0) < 0) {
		perror("starting the server");
		rc = 1;
	}
	if (!rc && (!only || strcmp(only, "plain") == 0))
		rc = trace_kind(page, "plain", server_round, n) < 0;
	if (!rc && (!only || strcmp(only, "full") == 0))
		rc = trace_kind(page, "full", full_round, n) < 0;
	reexec_forkserver_stop();
	unlink(path);
	return rc;
}
#endif

int main(int argc, char *argv[])
{
	struct impl impls[] = {
	        {.name = "raw posix_spawn", .round = raw_round},
	        {.name = "exec path", .round = exec_round},
	        {.name = "fork server", .round = server_round},
	        {.name = "fork server, full", .round = full_round},
	        {.name = "fork+exec", .round = forkexec_round},
	        {.name = "bare server (floor)", .round = bare_round},
	};
	const int nimpl = (int)(sizeof(impls) / sizeof(impls[0]));
	int gib[8] = {0, 1, 4}, ngib = 3;
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	size_t mapped = 0;
	char *mem = NULL;

	reexec_register_multicall("noop", noop, 0);
	reexec_register("full", full);
	reexec_init(argc, argv);
	full_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	memset(full_input, 'i', sizeof(full_input));
#ifdef REEXEC_TRACE
	if (argc > 1 && strcmp(argv[1], "trace") == 0)
		return trace_main(argc, argv);
#endif
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
			       "ratio | ÷ floor | processors busy |\n"
			       "|---|---:|---:|---:|---:|---:|---:|\n");
			double med[8];
			for (int k = 0; k < nimpl; k++) {
				struct impl *m = &impls[k];

				qsort(m->us, m->n, sizeof(double), cmp_double);
				med[k] = m->us[m->n / 2];
			}
			for (int k = 0; k < nimpl; k++) {
				struct impl *m = &impls[k];

				printf("| %s | %.0f | %.0f | %.0f | %.3f | "
				       "%.2f | %.0f%% |\n",
				       m->name, med[k], m->us[m->n * 99 / 100],
				       (double)m->n / m->busy_us * 1e6,
				       med[k] / med[0], med[k] / med[nimpl - 1],
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
