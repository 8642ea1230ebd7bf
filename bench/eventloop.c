/*
 * eventloop - one thread driving many children from a loop, against the
 * blocking ways, exec path and fork server side by side.
 *
 * Each way runs batches of BATCH children, each running a function that
 * returns at once:
 *   loop       one thread keeps IN_FLIGHT children started, and takes
 *              whichever ends first with reexec_wait_any(), starting the
 *              next in its place
 *   serial     one thread: reexec_run() in a loop
 *   8 threads  8 threads, each reexec_run() in a loop (BATCH / 8 each)
 * The six (three ways, two paths) alternate batch by batch. Prints the
 * median children per second over the batches and how busy the machine's
 * processors were meanwhile (from /proc/stat: near 100%, nothing can add
 * more children per second).
 *
 *   eventloop [rounds]   (default 7 batches of each)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <reexec.h>

#include "common.h"

#define BATCH 256
#ifndef IN_FLIGHT
#define IN_FLIGHT 64
#endif
#define THREADS 8

static int failures;

static reexec_cmd *start_one(int server)
{
	reexec_cmd *cmd = reexec_command("noop", NULL);

	if (!cmd || reexec_cmd_forkserver(cmd, server) < 0 ||
	    reexec_start(cmd) < 0) {
		reexec_cmd_free(cmd);
		return NULL;
	}
	return cmd;
}

/* BATCH children, IN_FLIGHT at a time, one thread. */
static int loop_batch(int server)
{
	reexec_cmd *cmds[IN_FLIGHT] = {0};
	int started = 0, ended = 0, rc = 0;

	for (int i = 0; i < IN_FLIGHT && started < BATCH; i++, started++)
		if (!(cmds[i] = start_one(server)))
			rc = -1;
	while (ended < started) {
		size_t i;
		int status = -1;

		if (reexec_wait_any(cmds, IN_FLIGHT, -1, &i, &status) < 0) {
			rc = -1;
			break;
		}
		if (status != 0)
			rc = -1;
		reexec_cmd_free(cmds[i]);
		cmds[i] = NULL;
		ended++;
		if (started < BATCH) {
			if (!(cmds[i] = start_one(server)))
				rc = -1;
			started++;
		}
	}
	for (int i = 0; i < IN_FLIGHT; i++)
		reexec_cmd_free(cmds[i]);
	return rc;
}

static int serial_batch(int server)
{
	int rc = 0;

	for (int i = 0; i < BATCH; i++)
		if (lib_run(server) < 0)
			rc = -1;
	return rc;
}

struct share {
	int server;
	int failed;
};

static void *thread_batch(void *arg)
{
	struct share *s = arg;

	for (int i = 0; i < BATCH / THREADS; i++)
		if (lib_run(s->server) < 0)
			s->failed = 1;
	return NULL;
}

static int threads_batch(int server)
{
	pthread_t t[THREADS];
	struct share s[THREADS];
	int rc = 0;

	for (int i = 0; i < THREADS; i++) {
		s[i] = (struct share){.server = server};
		if (pthread_create(&t[i], NULL, thread_batch, &s[i]) != 0)
			return -1;
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		rc |= s[i].failed ? -1 : 0;
	}
	return rc;
}

struct way {
	const char *name;
	int (*batch)(int server);
	int server;
	double *rate; /* children per second, per batch */
	long long cpu_used, cpu_all;
};

#define WAY(n, b, s)                                     \
	{                                                \
		.name = (n), .batch = (b), .server = (s) \
	}

int main(int argc, char *argv[])
{
	struct way ways[] = {
	        WAY("loop (reexec_fd + reexec_wait_any)", loop_batch, 0),
	        WAY("serial (reexec_run)", serial_batch, 0),
	        WAY("8 threads (reexec_run)", threads_batch, 0),
	        WAY("loop (reexec_fd + reexec_wait_any)", loop_batch, 1),
	        WAY("serial (reexec_run)", serial_batch, 1),
	        WAY("8 threads (reexec_run)", threads_batch, 1),
	};
	int nways = (int)(sizeof(ways) / sizeof(ways[0]));
	int rounds;

	reexec_register_multicall("noop", noop, 0);
	reexec_init(argc, argv);
	rounds = argc > 1 ? atoi(argv[1]) : 7;
	if (rounds < 1)
		rounds = 1;
	for (int k = 0; k < nways; k++)
		if (!(ways[k].rate = calloc((size_t)rounds, sizeof(double))))
			return 1;
	if (reexec_forkserver_start(0) < 0) {
		perror("eventloop: reexec_forkserver_start");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < nways; k++) {
			struct way *w = &ways[k];
			long long u0, a0, u1, a1;
			double t0, t;

			cpu_times(&u0, &a0);
			t0 = now_us();
			if (w->batch(w->server) < 0)
				failures++;
			t = now_us() - t0;
			cpu_times(&u1, &a1);
			w->rate[r] = BATCH / t * 1e6;
			w->cpu_used += u1 - u0;
			w->cpu_all += a1 - a0;
		}
	}
	printf("\n### One thread and an event loop against blocking threads"
	       " (%d children a batch, %d in flight in the loop, %d batches "
	       "each, interleaved)\n\n",
	       BATCH, IN_FLIGHT, rounds);
	printf("| path | way | children/s (median) | processors busy |\n");
	printf("|---|---|---:|---:|\n");
	for (int k = 0; k < nways; k++) {
		struct way *w = &ways[k];

		qsort(w->rate, (size_t)rounds, sizeof(double), cmp_double);
		printf("| %s | %s | %.0f | %.0f%% |\n",
		       w->server ? "fork server" : "exec", w->name,
		       w->rate[rounds / 2],
		       w->cpu_all ? 100.0 * (double)w->cpu_used /
		                            (double)w->cpu_all
		                  : 0.0);
	}
	for (int p = 0; p < 2; p++)
		printf("\n%s: the loop thread gives %.2fx the 8 threads' "
		       "children per second\n",
		       p ? "fork server" : "exec",
		       ways[3 * p].rate[rounds / 2] /
		               ways[3 * p + 2].rate[rounds / 2]);
	reexec_forkserver_stop();
	for (int k = 0; k < nways; k++)
		free(ways[k].rate);
	if (failures) {
		fprintf(stderr, "eventloop: %d batches had failures\n",
		        failures);
		return 1;
	}
	return 0;
}
