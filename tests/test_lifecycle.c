/* Lifecycle: waits with timeouts, signals, stop with escalation, process
 * groups, deadlines, and hosts that reap children themselves. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

/* ignore_term: ignore SIGTERM, say "ready", wait for signals. */
static int ignore_term(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	signal(SIGTERM, SIG_IGN);
	if (write(1, "ready\n", 6) != 6)
		return 1;
	for (;;)
		pause();
	return 0;
}

/* until_parent_ends: say ready, then wait for the parent process's end. */
static int until_parent_ends(int argc, char *argv[])
{
	struct pollfd p = {.fd = reexec_parent_fd(), .events = POLLIN};

	(void)argc;
	(void)argv;
	if (p.fd < 0 || reexec_ready() < 0)
		return 1;
	while (poll(&p, 1, -1) < 0)
		;
	return 0;
}

/* out_of_reach exec|server: start a child (through the fork server:
 * server), drop every privilege so that the child is out of our reach,
 * and stop it: each call returns, with EPERM, and the child runs on
 * (until this process ends). Prints the child's pid and the server's (or
 * 0); returns 0 when all held, 10 + which step failed otherwise. */
static int out_of_reach(int argc, char *argv[])
{
	int server = argc > 1 && strcmp(argv[1], "server") == 0;
	reexec_cmd *cmd = reexec_command("until_parent_ends", NULL);
	int status = -1;

	if (!cmd || reexec_cmd_parent_death(cmd, 0) < 0 ||
	    reexec_cmd_forkserver(cmd, server) < 0 || reexec_start(cmd) < 0)
		return 10;
	if (reexec_wait_ready(cmd, -1) < 0)
		return 11;
	printf("%d %d\n", (int)reexec_pid(cmd),
	       server ? (int)reexec_forkserver_pid() : 0);
	fflush(stdout);
	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 12;
	if (reexec_signal(cmd, SIGTERM) == 0 || errno != EPERM)
		return 13;
	/* No grace period: no signal of ours reaches it anyway. */
	if (reexec_stop(cmd, 3600 * 1000, &status) == 0 || errno != EPERM)
		return 14;
	if (reexec_wait_timeout(cmd, 0, &status) == 0 || errno != ETIMEDOUT)
		return 15;
	reexec_cmd_free(cmd); /* returns, the child left running */
	/* The server, hung up on, ends by itself and is reaped, though no
	 * signal of ours reaches it any more. */
	if (server &&
	    (reexec_forkserver_stop() < 0 || reexec_forkserver_pid() >= 0))
		return 16;
	return 0;
}

/* group_tree: fork a grandchild that ignores SIGTERM; print its pid; wait. */
static int group_tree(int argc, char *argv[])
{
	pid_t pid;

	(void)argc;
	(void)argv;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		printf("%d\n", (int)getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	for (;;)
		pause();
	return 0;
}

/* daemonize: leave a grandchild behind that holds stdout and stderr open,
 * print its pid and "done", and exit. */
static int daemonize(int argc, char *argv[])
{
	pid_t pid;

	(void)argc;
	(void)argv;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (;;)
			pause();
	}
	printf("%d done\n", (int)pid);
	return 0;
}

/* talk_then_hang: print "partial" and wait forever. */
static int talk_then_hang(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (write(1, "partial", 7) != 7)
		return 1;
	for (;;)
		pause();
	return 0;
}

/* Start cmd with stdout on a pipe and read until a line arrives. */
static void start_and_read_line(reexec_cmd *cmd, char *line, size_t size)
{
	size_t len = 0;

	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	while (len < size - 1) {
		ssize_t n = read(reexec_pipe(cmd, 1), line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n == 1);
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
}

static void wait_timeout_leaves_child(void **state)
{
	reexec_cmd *cmd = reexec_command("pause", NULL);
	int status = -1;

	(void)state;
	expect_fail(reexec_signal(cmd, SIGTERM), ESRCH); /* not started */
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ECHILD);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
	expect_fail(reexec_wait_timeout(cmd, 30, &status), ETIMEDOUT);
	assert_int_equal(status, -1);
	/* Still running, still ours. */
	assert_int_equal(reexec_signal(cmd, 0), 0);
	expect_fail(reexec_signal(cmd, 100000), EINVAL);
	expect_fail(reexec_signal(NULL, SIGTERM), EINVAL);
	assert_int_equal(reexec_signal(cmd, SIGTERM), 0);
	assert_int_equal(reexec_wait_timeout(cmd, -1, &status), 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	/* Reaped: no signal can reach it, or anyone with its old pid. */
	expect_fail(reexec_signal(cmd, SIGTERM), ESRCH);
	expect_fail(reexec_signal(cmd, 0), ESRCH);
	status = -1;
	assert_int_equal(reexec_wait_timeout(cmd, 0, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	expect_fail(reexec_wait_timeout(NULL, 0, &status), EINVAL);
	reexec_cmd_free(cmd);
}

static void stop_escalates(void **state)
{
	reexec_cmd *cmd = reexec_command("ignore_term", NULL);
	char line[32];
	int status = -1;

	(void)state;
	expect_fail(reexec_stop(cmd, 0, &status), ECHILD); /* not started */
	start_and_read_line(cmd, line, sizeof(line));
	assert_string_equal(line, "ready\n");
	assert_int_equal(reexec_stop(cmd, 50, &status), 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Stopping again gives the same status. */
	status = -1;
	assert_int_equal(reexec_stop(cmd, 50, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reexec_cmd_free(cmd);

	/* A child that honours the polite signal ends by it. */
	cmd = reexec_command("pause", NULL);
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(reexec_stop(cmd, 10000, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	reexec_cmd_free(cmd);

	/* The polite signal is configurable. */
	cmd = reexec_command("ignore_term", NULL);
	assert_int_equal(reexec_cmd_set_stop(cmd, SIGINT, 10000), 0);
	start_and_read_line(cmd, line, sizeof(line));
	assert_int_equal(reexec_stop(cmd, -1, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGINT);
	expect_fail(reexec_cmd_set_stop(cmd, -1, 0), EINVAL);
	expect_fail(reexec_cmd_set_stop(cmd, SIGTERM, -1), EINVAL);
	expect_fail(reexec_cmd_set_stop(NULL, SIGTERM, 0), EINVAL);
	expect_fail(reexec_stop(NULL, 0, &status), EINVAL);
	reexec_cmd_free(cmd);
}

static void stop_kills_group(void **state)
{
	reexec_cmd *cmd = reexec_command("group_tree", NULL);
	char line[32];
	int status = -1, gfd;
	pid_t grandchild;

	(void)state;
	assert_int_equal(reexec_cmd_setpgid(cmd, 0), 0);
	start_and_read_line(cmd, line, sizeof(line));
	grandchild = (pid_t)atoi(line);
	assert_true(grandchild > 0);
	gfd = (int)syscall(SYS_pidfd_open, grandchild, 0);
	assert_int_equal(reexec_stop(cmd, 200, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	/* The grandchild ignored SIGTERM and was killed with the group (the
	 * wait for it is bounded where pidfds exist). As this process is a
	 * subreaper, it is ours to reap and inspect. */
	if (gfd >= 0) {
		struct pollfd p = {.fd = gfd, .events = POLLIN};

		assert_int_equal(poll(&p, 1, 10000), 1);
		close(gfd);
	}
	assert_int_equal(waitpid(grandchild, &status, 0), grandchild);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(no_children());
	reexec_cmd_free(cmd);
}

static void run_timeout_stops(void **state)
{
	reexec_cmd *cmd = reexec_command("pause", NULL);
	int status = -1;

	(void)state;
	assert_int_equal(reexec_cmd_set_stop(cmd, SIGTERM, 1000), 0);
	expect_fail(reexec_run_timeout(cmd, 20, &status), ETIMEDOUT);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	reexec_cmd_free(cmd);

	cmd = reexec_command("exit_code", "3", NULL);
	assert_int_equal(reexec_run_timeout(cmd, 60000, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 3);
	reexec_cmd_free(cmd);
	assert_true(no_children());
}

static void capture_deadline_keeps_output(void **state)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT,
	                             .timeout_ms = 1000};
	reexec_cmd *cmd = reexec_command("talk_then_hang", NULL);
	int status = -1;

	(void)state;
	assert_int_equal(reexec_cmd_set_stop(cmd, SIGTERM, 1000), 0);
	expect_fail(reexec_capture(cmd, &cap, &status), ETIMEDOUT);
	assert_non_null(cap.out);
	assert_string_equal(cap.out, "partial");
	assert_int_equal(WTERMSIG(status), SIGTERM);
	free(cap.out);
	reexec_cmd_free(cmd);

	cap.timeout_ms = -1;
	cmd = reexec_command("exit_code", NULL);
	expect_fail(reexec_capture(cmd, &cap, &status), EINVAL);
	reexec_cmd_free(cmd);
	assert_true(no_children());
}

/* The child exits but leaves a daemon holding its stdout and stderr:
 * capture returns with the child's output instead of waiting for them. */
static void daemon_holding_pipes(void **state)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT |
	                                      REEXEC_CAPTURE_STDERR};
	reexec_cmd *cmd = reexec_command("daemonize", NULL);
	int status = -1;
	pid_t daemon_pid;
	char done[8];

	(void)state;
	assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(sscanf(cap.out, "%d %7s", &daemon_pid, done), 2);
	assert_string_equal(done, "done");
	assert_string_equal(cap.err, "");
	free(cap.out);
	free(cap.err);
	reexec_cmd_free(cmd);
	/* The daemon is still there; end it (it is ours as subreaper). */
	assert_int_equal(kill(daemon_pid, SIGKILL), 0);
	assert_int_equal(waitpid(daemon_pid, NULL, 0), daemon_pid);
}

/* A host that ignores SIGCHLD: the kernel reaps our children, but the
 * value the function returned still arrives over the channel. A child
 * killed by a signal reports nothing: ECHILD. */
static void sigchld_ignored_host(void **state)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	reexec_cmd *cmd = reexec_command("exit_code", "3", NULL);
	reexec_cmd *held = reexec_command("pause", NULL);
	int status = -1;

	(void)state;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	status = -1;
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 3);
	expect_fail(reexec_signal(cmd, SIGTERM), ESRCH);

	/* Stop works on a child that is still there; killed, it has
	 * nothing to report, so the status is lost. */
	status = -1;
	assert_int_equal(reexec_start(held), 0);
	if (using_forkserver()) {
		/* The server reaps it and says how it ended. */
		assert_int_equal(reexec_stop(held, 1000, &status), 0);
		assert_int_equal(WTERMSIG(status), SIGTERM);
	} else {
		expect_fail(reexec_stop(held, 1000, &status), ECHILD);
		assert_int_equal(status, -1);
	}
	sigaction(SIGCHLD, &old, NULL);
	reexec_cmd_free(cmd);
	reexec_cmd_free(held);
	assert_true(no_children());
}

static void host_reaps_itself(void **state)
{
	reexec_cmd *cmd;
	int status = -1;

	(void)state;
	if (using_forkserver()) {
		print_message("skipped: fork server children are not ours, "
		              "so there is nothing for the host to reap\n");
		skip();
	}
	cmd = reexec_command("exit_code", "4", NULL);
	assert_int_equal(reexec_start(cmd), 0);
	/* The host's own reaper takes the child first. */
	assert_int_equal(waitpid(-1, &status, 0), reexec_pid(cmd));
	assert_int_equal(WEXITSTATUS(status), 4);
	status = -1;
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
	status = -1;
	assert_int_equal(reexec_wait_timeout(cmd, 0, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
	status = -1;
	assert_int_equal(reexec_stop(cmd, 0, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
	expect_fail(reexec_signal(cmd, 0), ESRCH);
	reexec_cmd_free(cmd);

	/* Killed and reaped by the host: nothing to report. */
	cmd = reexec_command("pause", NULL);
	status = -1;
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(kill(reexec_pid(cmd), SIGKILL), 0);
	assert_int_equal(waitpid(-1, NULL, 0), reexec_pid(cmd));
	expect_fail(reexec_wait(cmd, &status), ECHILD);
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ECHILD);
	expect_fail(reexec_stop(cmd, 0, &status), ECHILD);
	expect_fail(reexec_signal(cmd, 0), ESRCH);
	assert_int_equal(status, -1);
	reexec_cmd_free(cmd);
}

/* Every blocking call of this family under a 1 ms interval timer whose
 * handler does not restart system calls. */
static void signals_during_waits(void **state)
{
	reexec_cmd *cmd = reexec_command("ignore_term", NULL);
	char line[32];
	int status = -1;

	(void)state;
	interrupts_start();
	start_and_read_line(cmd, line, sizeof(line));
	expect_fail(reexec_wait_timeout(cmd, 100, &status), ETIMEDOUT);
	assert_int_equal(reexec_stop(cmd, 100, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reexec_cmd_free(cmd);

	cmd = reexec_command("pause", NULL);
	assert_int_equal(reexec_cmd_set_stop(cmd, SIGTERM, 1000), 0);
	expect_fail(reexec_run_timeout(cmd, 50, &status), ETIMEDOUT);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	reexec_cmd_free(cmd);

	assert_true(interrupts_stop() > 0);
}

/* A child started while root, then out of reach once its parent has
 * dropped its privileges (the kernel refuses it SIGKILL): stopping it,
 * freeing its command and stopping the fork server return with EPERM
 * instead of waiting forever. Done in a child of ours, which cannot get
 * its privileges back; what it leaves behind comes to us. */
static void stop_out_of_reach(void **state)
{
	static const char *const modes[] = {"exec", "server"};

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: needs root, to start a child that an "
		              "unprivileged caller cannot signal\n");
		skip();
	}
	for (size_t i = 0; i < 2; i++) {
		reexec_cmd *cmd =
		        reexec_command("out_of_reach", modes[i], NULL);
		/* A deadline that only a hang reaches: then the test fails
		 * instead of hanging. */
		struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT,
		                             .timeout_ms = 120000};
		int status = -1, child = 0, server = -1;

		assert_int_equal(reexec_cmd_forkserver(cmd, 0), 0);
		assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
		assert_int_equal(WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		                 0);
		assert_int_equal(sscanf(cap.out, "%d %d", &child, &server), 2);
		assert_true(child > 0 && server >= 0);
		free(cap.out);
		reexec_cmd_free(cmd);
		/* Left running by the calls above; it ends with its parent
		 * (or, the server's child, is ended with the server). */
		kill_orphans();
	}
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(wait_timeout_leaves_child),
	        cmocka_unit_test(stop_escalates),
	        cmocka_unit_test(stop_kills_group),
	        cmocka_unit_test(run_timeout_stops),
	        cmocka_unit_test(capture_deadline_keeps_output),
	        cmocka_unit_test(daemon_holding_pipes),
	        cmocka_unit_test(sigchld_ignored_host),
	        cmocka_unit_test(host_reaps_itself),
	        cmocka_unit_test(signals_during_waits),
	        cmocka_unit_test(stop_out_of_reach),
	};

	reexec_register("ignore_term", ignore_term);
	reexec_register("group_tree", group_tree);
	reexec_register("daemonize", daemonize);
	reexec_register("talk_then_hang", talk_then_hang);
	reexec_register("until_parent_ends", until_parent_ends);
	reexec_register("out_of_reach", out_of_reach);
	helpers_init(argc, argv);
	/* Orphaned grandchildren come to us, so tests can check their end. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
