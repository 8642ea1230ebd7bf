/* Driving commands from an event loop: reexec_fd(), the step that never
 * blocks (reexec_wait_timeout with 0), reexec_wait_any(), and output read
 * as it arrives. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* A test that hangs (a step that blocks, a descriptor that never becomes
 * readable) is ended by an alarm (SIGALRM ends the suite) rather than
 * left to hang the run: after this many seconds, or TEST_HANG_S. */
#define HANG_GUARD_S 600

static void hang_guard(void)
{
	const char *s = getenv("TEST_HANG_S");

	alarm(s ? (unsigned)atoi(s) : HANG_GUARD_S);
}

/* --- functions the children run --- */

/* hold CODE: send the input back as the result, say so on fd 3, then wait
 * for a byte on fd 4 (the parent's release) and return CODE. */
static int hold(int argc, char *argv[])
{
	const void *in;
	size_t len;
	char c;

	if (argc < 2 || reexec_input(&in, &len) < 0)
		return 100;
	if (reexec_set_result(in, len) < 0)
		return 101;
	if (write(3, "s", 1) != 1)
		return 102;
	if (read(4, &c, 1) != 1)
		return 103;
	return atoi(argv[1]);
}

/* How the child with index i ends: every third by a signal of its own,
 * the others with an exit code. */
static const int end_signals[] = {SIGTERM, SIGKILL, SIGUSR1, SIGUSR2,
                                  SIGHUP,  SIGINT,  SIGALRM, SIGPIPE};

static int end_status(int i)
{
	if (i % 3 == 0)
		return end_signals[(i / 3) % 8];
	return (i % 101) << 8;
}

/* end_as I: end as end_status(I) says. */
static int end_as(int argc, char *argv[])
{
	int i = argc > 1 ? atoi(argv[1]) : 0;
	int st = end_status(i);

	if (WIFSIGNALED(st))
		raise(WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* xor_input KEY: the input with every byte xor KEY as the result. */
static int xor_input(int argc, char *argv[])
{
	const unsigned char *in;
	const void *p;
	unsigned char *out;
	size_t len;
	int key = argc > 1 ? atoi(argv[1]) : 0;

	if (reexec_input(&p, &len) < 0)
		return 100;
	in = p;
	out = malloc(len ? len : 1);
	if (!out)
		return 101;
	for (size_t k = 0; k < len; k++)
		out[k] = (unsigned char)(in[k] ^ key);
	if (reexec_set_result(out, len) < 0)
		return 102;
	free(out);
	return 0;
}

/* leave_result: a result in three frames, which the channel's buffer
 * holds whole (with the default wmem_default of 208 KiB; two frames with
 * less), then end at once. */
#define LEFT_LEN 180000

static size_t left_len(void)
{
	FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
	long wmem = 0;

	if (f) {
		if (fscanf(f, "%ld", &wmem) != 1)
			wmem = 0;
		fclose(f);
	}
	return wmem >= 212992 ? LEFT_LEN : 100000;
}

static int leave_result(int argc, char *argv[])
{
	static unsigned char data[LEFT_LEN];
	size_t len = left_len();

	(void)argc;
	(void)argv;
	for (size_t k = 0; k < len; k++)
		data[k] = (unsigned char)(k * 7);
	return reexec_set_result(data, len) < 0 ? 100 : 6;
}

/* shell_waits: become a shell that waits for a line on fd 3, then exits
 * with 9 (the channel closes at the exec). */
static int shell_waits(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	execl("/bin/sh", "sh", "-c", "read x <&3; exit 9", (char *)NULL);
	return 100;
}

/* two_lines: a line on stdout, then wait for the release on fd 3, then
 * another. */
static int two_lines(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	if (write(1, "first\n", 6) != 6)
		return 100;
	if (read(3, &c, 1) != 1)
		return 101;
	if (write(1, "second\n", 7) != 7)
		return 102;
	return 0;
}

/* --- utilities --- */

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;

	while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	assert_true(n >= 0);
	return n > 0;
}

/* Take steps whenever reexec_fd() is readable until the child ends. */
static int step_until_end(reexec_cmd *cmd, int *status)
{
	int fd = reexec_fd(cmd);

	assert_true(fd >= 0);
	for (;;) {
		if (reexec_wait_timeout(cmd, 0, status) == 0)
			return 0;
		if (errno != ETIMEDOUT)
			return -1;
		(void)readable(fd, -1);
	}
}

static void set_byte_pattern(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t k = 0; k < n; k++) {
		x = x * 1103515245u + 12345u;
		p[k] = (unsigned char)(x >> 16);
	}
}

/* --- tests --- */

/* reexec_fd before and after the start, its flags, and after the end. */
static void fd_lifecycle(void **state)
{
	reexec_cmd *cmd = reexec_command("exit_code", "4", (char *)NULL);
	int fd, status = -1;

	(void)state;
	hang_guard();
	assert_non_null(cmd);
	expect_fail(reexec_fd(NULL), EINVAL);
	expect_fail(reexec_fd(cmd), ECHILD);
	assert_int_equal(reexec_start(cmd), 0);
	fd = reexec_fd(cmd);
	assert_true(fd > 2);
	assert_int_equal(reexec_fd(cmd), fd);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(step_until_end(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 4);
	/* Reaped: nothing more to say, and still the command's. */
	assert_int_equal(reexec_fd(cmd), fd);
	assert_false(readable(fd, 0));
	reexec_cmd_free(cmd);
	assert_true(fcntl(fd, F_GETFD) < 0);
	alarm(0);
}

/* The step returns while the child waits on us with data on the way,
 * however long the child waits: the child is released only after steps
 * have returned. Once nothing is ready the descriptor is quiet (the
 * channel is no longer watched for room to send once the input is out). */
static void step_never_blocks(void **state)
{
	const size_t len = (size_t)4 << 20;
	unsigned char *input = malloc(len);
	int said[2], release[2], fd, status = -1, quiet = 0;
	reexec_cmd *cmd = reexec_command("hold", "7", (char *)NULL);
	void *result = NULL;
	size_t result_len = 0;
	char c;

	(void)state;
	hang_guard();
	assert_non_null(input);
	assert_non_null(cmd);
	set_byte_pattern(input, len, 1);
	assert_int_equal(pipe2(said, O_CLOEXEC), 0);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	assert_int_equal(reexec_cmd_add_fd(cmd, said[1]), 3);
	assert_int_equal(reexec_cmd_add_fd(cmd, release[0]), 4);
	assert_int_equal(reexec_cmd_set_input(cmd, input, len), 0);
	assert_int_equal(reexec_start(cmd), 0);
	close(said[1]);
	close(release[0]);
	fd = reexec_fd(cmd);
	assert_true(fd >= 0);

	/* Input pending (4 MiB is more than the channel holds), the result
	 * not sent: the child cannot have ended. */
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
	/* Steps move the input out and the result in until the child says
	 * it has sent it all and waits for us. */
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = said[0], .events = POLLIN}};

		while (poll(p, 2, -1) < 0 && errno == EINTR)
			;
		if (p[1].revents)
			break;
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
	}
	assert_int_equal(read(said[0], &c, 1), 1);
	/* It waits for the release now: steps return all the same, and once
	 * what was ready has moved the descriptor says nothing more. */
	for (int k = 0; k < 100000 && !quiet; k++) {
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
		quiet = !readable(fd, 0);
	}
	assert_true(quiet);
	assert_int_equal(write(release[1], "go", 1), 1);
	assert_int_equal(step_until_end(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_int_equal(reexec_take_result(cmd, &result, &result_len), 0);
	assert_int_equal(result_len, len);
	assert_memory_equal(result, input, len);
	alarm(0);
	free(result);
	free(input);
	close(said[0]);
	close(release[1]);
	reexec_cmd_free(cmd);
}

/* A child that ended with its result still in the channel: the step
 * takes it all in before it says the child ended. */
static void step_takes_what_was_left(void **state)
{
	reexec_cmd *cmd = reexec_command("leave_result", (char *)NULL);
	int status = -1;
	void *result = NULL;
	size_t len = 0;
	const unsigned char *r;

	(void)state;
	hang_guard();
	assert_non_null(cmd);
	assert_int_equal(reexec_start(cmd), 0);
	if (using_forkserver()) {
		/* Not our child: the server's word tells its end. */
		assert_int_equal(step_until_end(cmd, &status), 0);
	} else {
		siginfo_t si = {0};

		/* Ended (not reaped): one step is all it takes. */
		assert_int_equal(waitid(P_PID, (id_t)reexec_pid(cmd), &si,
		                        WEXITED | WNOWAIT),
		                 0);
		assert_int_equal(reexec_wait_timeout(cmd, 0, &status), 0);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 6);
	assert_int_equal(reexec_take_result(cmd, &result, &len), 0);
	assert_int_equal(len, left_len());
	r = result;
	for (size_t k = 0; k < len; k++)
		assert_int_equal(r[k], (unsigned char)(k * 7));
	alarm(0);
	free(result);
	reexec_cmd_free(cmd);
}

/* 200 children, ending by exit codes and by signals of their own, in
 * one array with holes: each comes back once, with its exact status. */
static void wait_any_many(void **state)
{
	enum { N = 200, SLOTS = N + N / 10 };
	reexec_cmd *cmds[SLOTS] = {NULL};
	int seen[SLOTS] = {0}, expect[SLOTS];
	size_t index;
	int status;

	(void)state;
	hang_guard();
	for (int i = 0, k = 0; i < SLOTS; i++) {
		char arg[16];

		if (i % 11 == 5)
			continue; /* a hole */
		assert_true(k < N);
		(void)snprintf(arg, sizeof(arg), "%d", k);
		cmds[i] = reexec_command("end_as", arg, (char *)NULL);
		assert_non_null(cmds[i]);
		assert_int_equal(reexec_start(cmds[i]), 0);
		expect[i] = end_status(k++);
	}
	for (int got = 0; got < N; got++) {
		status = -1;
		index = SIZE_MAX;
		assert_int_equal(
		        reexec_wait_any(cmds, SLOTS, -1, &index, &status), 0);
		assert_true(index < SLOTS);
		assert_non_null(cmds[index]);
		assert_int_equal(seen[index], 0);
		seen[index] = 1;
		assert_int_equal(status, expect[index]);
	}
	/* All reaped: none is returned again, nor waited for. */
	expect_fail(reexec_wait_any(cmds, SLOTS, 0, &index, &status), ECHILD);
	assert_int_equal(index, SLOTS);
	alarm(0);
	for (int i = 0; i < SLOTS; i++)
		reexec_cmd_free(cmds[i]);
}

/* The errors, the timeout and a step with a deadline passed. */
static void wait_any_errors(void **state)
{
	reexec_cmd *cmds[3] = {NULL};
	size_t index = 0;
	int status = -1;

	(void)state;
	expect_fail(reexec_wait_any(NULL, 1, 0, &index, &status), EINVAL);
	expect_fail(reexec_wait_any(cmds, 3, 0, NULL, &status), EINVAL);
	expect_fail(reexec_wait_any(NULL, 0, 0, &index, &status), ECHILD);
	assert_int_equal(index, 0);
	expect_fail(reexec_wait_any(cmds, 3, 0, &index, &status), ECHILD);
	cmds[1] = reexec_command("pause", (char *)NULL);
	assert_non_null(cmds[1]);
	/* Not started: not waitable. */
	expect_fail(reexec_wait_any(cmds, 3, 0, &index, &status), ECHILD);
	assert_int_equal(index, 3);
	assert_int_equal(reexec_start(cmds[1]), 0);
	expect_fail(reexec_wait_any(cmds, 3, 0, &index, &status), ETIMEDOUT);
	expect_fail(reexec_wait_any(cmds, 3, 20, &index, &status), ETIMEDOUT);
	assert_int_equal(index, 3);
	assert_int_equal(reexec_stop(cmds[1], 0, &status), 0);
	assert_true(WIFSIGNALED(status));
	/* Reaped by someone else than wait_any: not waitable any more. */
	expect_fail(reexec_wait_any(cmds, 3, -1, &index, &status), ECHILD);
	reexec_cmd_free(cmds[1]);
}

/* Signals do not cut reexec_wait_any short, with or without a timeout. */
static void wait_any_through_signals(void **state)
{
	reexec_cmd *cmds[2];
	size_t index = 9;
	int status = -1;

	(void)state;
	cmds[0] = reexec_command("pause", (char *)NULL);
	cmds[1] = reexec_command("exit_code", "3", (char *)NULL);
	assert_non_null(cmds[0]);
	assert_non_null(cmds[1]);
	assert_int_equal(reexec_start(cmds[0]), 0);
	interrupts_start();
	expect_fail(reexec_wait_any(cmds, 1, 30, &index, &status), ETIMEDOUT);
	assert_int_equal(reexec_start(cmds[1]), 0);
	assert_int_equal(reexec_wait_any(cmds, 2, -1, &index, &status), 0);
	assert_true(interrupts_stop() > 0);
	assert_int_equal(index, 1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(reexec_stop(cmds[0], 0, &status), 0);
	reexec_cmd_free(cmds[0]);
	reexec_cmd_free(cmds[1]);
}

/* 16 children, 4 MiB in and 4 MiB out each, all through one loop of
 * poll() over their descriptors and steps. */
static void many_big_through_one_loop(void **state)
{
	enum { N = 16 };
	const size_t len = (size_t)4 << 20;
	reexec_cmd *cmds[N];
	unsigned char *input[N];
	struct pollfd p[N];
	int status[N], left = N;

	(void)state;
	hang_guard();
	for (int i = 0; i < N; i++) {
		char key[16];

		(void)snprintf(key, sizeof(key), "%d", i + 1);
		input[i] = malloc(len);
		assert_non_null(input[i]);
		set_byte_pattern(input[i], len, (unsigned)i + 10);
		cmds[i] = reexec_command("xor_input", key, (char *)NULL);
		assert_non_null(cmds[i]);
		assert_int_equal(reexec_cmd_set_input(cmds[i], input[i], len),
		                 0);
		assert_int_equal(reexec_start(cmds[i]), 0);
		p[i].fd = reexec_fd(cmds[i]);
		assert_true(p[i].fd >= 0);
		p[i].events = POLLIN;
		status[i] = -1;
	}
	while (left > 0) {
		int n;

		while ((n = poll(p, N, -1)) < 0 && errno == EINTR)
			;
		assert_true(n > 0);
		for (int i = 0; i < N; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (reexec_wait_timeout(cmds[i], 0, &status[i]) < 0) {
				assert_int_equal(errno, ETIMEDOUT);
				continue;
			}
			p[i].fd = -1; /* ended: out of the loop */
			left--;
		}
	}
	for (int i = 0; i < N; i++) {
		void *result = NULL;
		size_t result_len = 0;
		const unsigned char *r;

		assert_int_equal(status[i], 0);
		assert_int_equal(
		        reexec_take_result(cmds[i], &result, &result_len), 0);
		assert_int_equal(result_len, len);
		r = result;
		for (size_t k = 0; k < len; k++)
			if (r[k] != (unsigned char)(input[i][k] ^ (i + 1)))
				fail_msg("child %d: byte %zu differs", i, k);
		free(result);
		free(input[i]);
		reexec_cmd_free(cmds[i]);
	}
	alarm(0);
}

/* A fork-server child: its end shows on the descriptor (the server, not
 * we, reaps it, and says so on the relay). The child's channel is closed
 * and taken in before it ends (it executes a shell, which waits for the
 * release), so only the server's word can make the descriptor readable
 * at its end. */
static void forkserver_end_shows(void **state)
{
	reexec_cmd *cmd = reexec_command("shell_waits", (char *)NULL);
	int release[2], fd, status = -1, quiet = 0;

	(void)state;
	if (under_valgrind() || access("/bin/sh", X_OK) != 0) {
		/* (The fork server needs pidfds, which valgrind hides.) */
		print_message("skipped: no fork server under valgrind, or no "
		              "/bin/sh\n");
		reexec_cmd_free(cmd);
		skip();
	}
	hang_guard();
	assert_non_null(cmd);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	assert_int_equal(reexec_cmd_add_fd(cmd, release[0]), 3);
	assert_int_equal(reexec_cmd_forkserver(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	close(release[0]);
	assert_true(reexec_forkserver_pid() > 0);
	fd = reexec_fd(cmd);
	assert_true(fd >= 0);
	/* Steps until the channel has closed (at the exec) and nothing is
	 * left to take in: the shell waits for us. */
	while (!quiet) {
		(void)readable(fd, -1);
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
		quiet = !readable(fd, 0);
	}
	assert_int_equal(write(release[1], "go\n", 3), 3);
	/* Only steps when the descriptor says so. */
	assert_int_equal(step_until_end(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
	alarm(0);
	close(release[1]);
	reexec_cmd_free(cmd);
	if (!using_forkserver())
		assert_int_equal(reexec_forkserver_stop(), 0);
}

/* Output as it arrives: the caller reads its own pipe when the pipe says
 * so; reexec_fd() does not watch it (a loop that has not read it yet is
 * not woken for it again and again). */
static void output_as_it_arrives(void **state)
{
	reexec_cmd *cmd = reexec_command("two_lines", (char *)NULL);
	int release[2], fd, out, status = -1, quiet = 0;
	char buf[64];
	ssize_t n;

	(void)state;
	hang_guard();
	assert_non_null(cmd);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	assert_int_equal(reexec_cmd_add_fd(cmd, release[0]), 3);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	close(release[0]);
	fd = reexec_fd(cmd);
	out = reexec_pipe(cmd, 1);
	assert_true(fd >= 0 && out >= 0);

	/* The first line arrives while the child waits for us. */
	assert_true(readable(out, -1));
	for (int k = 0; k < 100000 && !quiet; k++) {
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
		quiet = !readable(fd, 0);
	}
	assert_true(quiet);
	assert_true(readable(out, 0)); /* unread, and not reexec_fd's */
	n = read(out, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "first\n", 6);
	assert_int_equal(write(release[1], "go", 1), 1);
	close(release[1]);
	/* The second line, then end-of-file, then the end. */
	assert_true(readable(out, -1));
	n = read(out, buf, sizeof(buf));
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "second\n", 7);
	assert_int_equal(read(out, buf, sizeof(buf)), 0);
	assert_int_equal(step_until_end(cmd, &status), 0);
	assert_int_equal(status, 0);
	alarm(0);
	reexec_cmd_free(cmd);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fd_lifecycle),
	        cmocka_unit_test(step_never_blocks),
	        cmocka_unit_test(step_takes_what_was_left),
	        cmocka_unit_test(wait_any_many),
	        cmocka_unit_test(wait_any_errors),
	        cmocka_unit_test(wait_any_through_signals),
	        cmocka_unit_test(many_big_through_one_loop),
	        cmocka_unit_test(forkserver_end_shows),
	        cmocka_unit_test(output_as_it_arrives),
	};
	struct rlimit nofile;

	reexec_register("hold", hold);
	reexec_register("end_as", end_as);
	reexec_register("xor_input", xor_input);
	reexec_register("two_lines", two_lines);
	reexec_register("leave_result", leave_result);
	reexec_register("shell_waits", shell_waits);
	helpers_init(argc, argv);
	/* 200 children at once hold a pidfd, a channel, a relay and a set
	 * each: more than the usual soft limit of 1024. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 4096 &&
	    nofile.rlim_max > nofile.rlim_cur) {
		nofile.rlim_cur =
		        nofile.rlim_max < 4096 ? nofile.rlim_max : 4096;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
