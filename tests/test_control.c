/* Control from any thread: one command waited for, stopped and signalled
 * from several threads at once, hundreds of times, on both paths. Every
 * thread that asks for the status gets the same one, and the one the
 * stop caused; none gets ECHILD. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define MAX_ROLES 8

enum role {
	WAIT,         /* reexec_wait */
	WAIT_POLLING, /* reexec_wait_timeout(1 ms) until it ends */
	STOP,         /* reexec_stop with the grace the case gives */
	READY_STOP,   /* reexec_wait_ready, then reexec_stop */
	SIGNAL_WAIT,  /* reexec_signal(SIGTERM), then reexec_wait */
};

struct call {
	reexec_cmd *cmd;
	pthread_barrier_t *go;
	enum role role;
	int grace_ms;
	int rc, err, status;
	int ready_rc, ready_err; /* READY_STOP's wait_ready */
	int polls;               /* WAIT_POLLING: how many timed out */
};

static void *act(void *arg)
{
	struct call *c = arg;

	c->status = -1;
	pthread_barrier_wait(c->go);
	switch (c->role) {
	case WAIT:
		c->rc = reexec_wait(c->cmd, &c->status);
		break;
	case WAIT_POLLING:
		while ((c->rc = reexec_wait_timeout(c->cmd, 1, &c->status)) <
		               0 &&
		       errno == ETIMEDOUT)
			c->polls++;
		break;
	case STOP:
		c->rc = reexec_stop(c->cmd, c->grace_ms, &c->status);
		break;
	case READY_STOP:
		c->ready_rc = reexec_wait_ready(c->cmd, -1);
		c->ready_err = errno;
		c->rc = reexec_stop(c->cmd, c->grace_ms, &c->status);
		break;
	case SIGNAL_WAIT:
		c->rc = reexec_signal(c->cmd, SIGTERM);
		if (c->rc == 0 || errno == ESRCH)
			c->rc = reexec_wait(c->cmd, &c->status);
		break;
	}
	c->err = c->rc < 0 ? errno : 0;
	return NULL;
}

/* stubborn: ignore SIGTERM, say ready, wait for signals (a stop needs its
 * SIGKILL). */
static int stubborn(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	signal(SIGTERM, SIG_IGN);
	if (reexec_ready() < 0)
		return 1;
	for (;;)
		pause();
	return 0;
}

/* ready_pause: say ready, wait for signals. */
static int ready_pause(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (reexec_ready() < 0)
		return 1;
	for (;;)
		pause();
	return 0;
}

struct scenario {
	const char *child;
	int grace_ms;
	int nroles;
	enum role roles[MAX_ROLES];
	int want_sig; /* 0: SIGTERM or SIGKILL */
};

/* Run the scenario rounds times, alternating the exec path and the fork
 * server: all roles start together on one started command; then every
 * status is the same signal, and no call failed. */
static void run_scenario(const struct scenario *sc, int rounds)
{
	int had_server = using_forkserver(), polls = 0;
	bool signalled = false;

	for (int i = 0; i < sc->nroles; i++)
		signalled |= sc->roles[i] == SIGNAL_WAIT;
	if (under_valgrind())
		rounds /= 20; /* (one thread at a time, slowly) */

	for (int r = 0; r < rounds; r++) {
		reexec_cmd *cmd = reexec_command(sc->child, NULL);
		struct call calls[MAX_ROLES];
		pthread_t th[MAX_ROLES];
		pthread_barrier_t go;
		int sig;

		assert_non_null(cmd);
		assert_int_equal(reexec_cmd_forkserver(cmd, r % 2), 0);
		assert_int_equal(reexec_start(cmd), 0);
		assert_int_equal(
		        pthread_barrier_init(&go, NULL, (unsigned)sc->nroles),
		        0);
		for (int i = 0; i < sc->nroles; i++) {
			calls[i] = (struct call){.cmd = cmd,
			                         .go = &go,
			                         .role = sc->roles[i],
			                         .grace_ms = sc->grace_ms};
			assert_int_equal(
			        pthread_create(&th[i], NULL, act, &calls[i]),
			        0);
		}
		for (int i = 0; i < sc->nroles; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		sig = WIFSIGNALED(calls[0].status) ? WTERMSIG(calls[0].status)
		                                   : -1;
		for (int i = 0; i < sc->nroles; i++) {
			if (calls[i].rc != 0 ||
			    calls[i].status != calls[0].status)
				print_message("round %d, role %d: rc %d (%s), "
				              "status %#x, first %#x\n",
				              r, (int)calls[i].role,
				              calls[i].rc,
				              strerror(calls[i].err),
				              calls[i].status, calls[0].status);
			assert_int_equal(calls[i].rc, 0);
			assert_int_equal(calls[i].status, calls[0].status);
			/* (Unless a signal ended it before it was.) */
			if (calls[i].role == READY_STOP && !signalled)
				assert_int_equal(calls[i].ready_rc, 0);
			if (calls[i].role == READY_STOP &&
			    calls[i].ready_rc < 0)
				assert_int_equal(calls[i].ready_err, ESRCH);
			polls += calls[i].polls;
		}
		if (sc->want_sig)
			assert_int_equal(sig, sc->want_sig);
		else
			assert_true(sig == SIGTERM || sig == SIGKILL);
		/* Reaped: no signal reaches that pid any more. */
		expect_fail(reexec_signal(cmd, 0), ESRCH);
		reexec_cmd_free(cmd);
	}
	if (polls)
		print_message("%d timed-out polls\n", polls);
	if (!had_server)
		assert_int_equal(reexec_forkserver_stop(), 0);
	assert_true(no_children());
}

/* The control-thread cancel: one thread waits, another stops. */
static void stop_while_another_waits(void **state)
{
	const struct scenario sc = {"pause", 5000, 2, {WAIT, STOP}, SIGTERM};

	(void)state;
	run_scenario(&sc, 200);
}

/* The stop's grace and SIGKILL happen while another thread is the one
 * waiting (and another waits for readiness meanwhile). */
static void stop_escalates_while_another_waits(void **state)
{
	const struct scenario sc = {
	        "stubborn", 10, 3, {WAIT, READY_STOP, WAIT}, SIGKILL};

	(void)state;
	run_scenario(&sc, 100);
}

/* A waiter that polls with a timeout, and a stop. */
static void stop_while_another_polls(void **state)
{
	const struct scenario sc = {
	        "pause", 5000, 2, {WAIT_POLLING, STOP}, SIGTERM};

	(void)state;
	run_scenario(&sc, 200);
}

/* Stops racing stops, beside waiters of both kinds; a grace of 0 sends
 * SIGKILL at once unless SIGTERM was quicker. */
static void stop_racing_stop(void **state)
{
	const struct scenario sc = {
	        "pause", 0, 6, {STOP, STOP, WAIT, WAIT_POLLING, STOP, WAIT}, 0};

	(void)state;
	run_scenario(&sc, 200);
}

/* A signal from one thread while others wait; the ready one is stopped
 * by another after its wait for readiness. */
static void signal_while_others_wait(void **state)
{
	const struct scenario sc = {"ready_pause",
	                            5000,
	                            4,
	                            {WAIT, SIGNAL_WAIT, READY_STOP, WAIT},
	                            SIGTERM};

	(void)state;
	run_scenario(&sc, 100);
}

/* talk_pause: "hello" on stdout, then wait for signals. */
static int talk_pause(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (write(1, "hello", 5) != 5 || reexec_ready() < 0)
		return 1;
	for (;;)
		pause();
	return 0;
}

struct capture_call {
	reexec_cmd *cmd;
	struct reexec_capture cap;
	int rc, status;
};

static void *capture(void *arg)
{
	struct capture_call *c = arg;

	c->status = -1;
	c->rc = reexec_capture(c->cmd, &c->cap, &c->status);
	return NULL;
}

/* A control thread cancels a capture that another thread runs: the
 * capture keeps the output and gets the stop's status. */
static void stop_while_another_captures(void **state)
{
	int had_server = using_forkserver();

	(void)state;
	for (int r = 0; r < (under_valgrind() ? 10 : 100); r++) {
		struct capture_call c = {
		        .cap = {.flags = REEXEC_CAPTURE_STDOUT}};
		int status = -1, rc;
		pthread_t th;

		c.cmd = reexec_command("talk_pause", NULL);
		assert_non_null(c.cmd);
		assert_int_equal(reexec_cmd_forkserver(c.cmd, r % 2), 0);
		assert_int_equal(pthread_create(&th, NULL, capture, &c), 0);
		/* Until the capture has started it (ECHILD before), then
		 * until the child is ready, which the capture sees. */
		while ((rc = reexec_wait_ready(c.cmd, -1)) < 0 &&
		       errno == ECHILD)
			sched_yield();
		assert_int_equal(rc, 0);
		assert_int_equal(reexec_stop(c.cmd, 5000, &status), 0);
		pthread_join(th, NULL);
		assert_int_equal(c.rc, 0);
		assert_int_equal(c.status, status);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGTERM);
		assert_string_equal(c.cap.out, "hello");
		free(c.cap.out);
		reexec_cmd_free(c.cmd);
	}
	if (!had_server)
		assert_int_equal(reexec_forkserver_stop(), 0);
	assert_true(no_children());
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(stop_while_another_waits),
	        cmocka_unit_test(stop_escalates_while_another_waits),
	        cmocka_unit_test(stop_while_another_polls),
	        cmocka_unit_test(stop_racing_stop),
	        cmocka_unit_test(signal_while_others_wait),
	        cmocka_unit_test(stop_while_another_captures),
	};

	reexec_register("stubborn", stubborn);
	reexec_register("ready_pause", ready_pause);
	reexec_register("talk_pause", talk_pause);
	helpers_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
