/* Output capture: large streams in both directions at once, merged and
 * separate streams, a child that stops reading, signals during the calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define MIB (1u << 20)

static void check_flood(const char *buf, size_t len, size_t n)
{
	assert_true(len >= n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] != flood_byte(i))
			fail_msg("byte %zu differs", i);
}

/* 64 MiB on stdout and on stderr while 64 MiB go into stdin: the child
 * writes before it reads, so a caller that did one thing at a time would
 * block forever. */
static void big_streams_no_deadlock(void **state)
{
	size_t n = 64 * MIB;
	char *input = malloc(n);
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_STDERR,
	        .input = input,
	        .input_len = n,
	};
	reexec_cmd *cmd = reexec_command("flood", "64", NULL);
	char tail[64];
	int status;

	(void)state;
	assert_non_null(input);
	for (size_t i = 0; i < n; i++)
		input[i] = (char)(i * 7 + 3);
	assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
	assert_int_equal(status, 0);

	snprintf(tail, sizeof(tail), "IN %zu %016llx\n", n,
	         (unsigned long long)fnv1a(input, n));
	assert_int_equal(cap.out_len, n + strlen(tail));
	check_flood(cap.out, cap.out_len, n);
	assert_string_equal(cap.out + n, tail);
	assert_int_equal(cap.err_len, n);
	check_flood(cap.err, cap.err_len, n);
	assert_int_equal(cap.err[n], '\0');
	free(cap.out);
	free(cap.err);
	free(input);
	reexec_cmd_free(cmd);
}

static void merged_and_separate(void **state)
{
	struct reexec_capture merged = {.flags = REEXEC_CAPTURE_MERGE};
	struct reexec_capture both = {.flags = REEXEC_CAPTURE_STDOUT |
	                                       REEXEC_CAPTURE_STDERR};
	reexec_cmd *cmd = reexec_command("mixed", NULL);

	(void)state;
	assert_int_equal(reexec_capture(cmd, &merged, NULL), 0);
	assert_string_equal(merged.out, "out1\nerr1\nout2\n");
	assert_int_equal(merged.out_len, 15);
	assert_null(merged.err);
	free(merged.out);
	reexec_cmd_free(cmd);

	cmd = reexec_command("mixed", NULL);
	assert_int_equal(reexec_capture(cmd, &both, NULL), 0);
	assert_string_equal(both.out, "out1\nout2\n");
	assert_string_equal(both.err, "err1\n");
	free(both.out);
	free(both.err);
	reexec_cmd_free(cmd);
}

static void small_and_empty_input(void **state)
{
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT, .input = "", .input_len = 0};
	reexec_cmd *cmd = reexec_command("cat", NULL);

	(void)state;
	/* Empty input: stdin is at end-of-file at once. */
	assert_int_equal(reexec_capture(cmd, &cap, NULL), 0);
	assert_int_equal(cap.out_len, 0);
	assert_string_equal(cap.out, "");
	free(cap.out);
	reexec_cmd_free(cmd);

	cmd = reexec_command("cat", NULL);
	cap.input = "a\0b";
	cap.input_len = 3;
	assert_int_equal(reexec_capture(cmd, &cap, NULL), 0);
	assert_int_equal(cap.out_len, 3);
	assert_memory_equal(cap.out, "a\0b", 3);
	free(cap.out);
	reexec_cmd_free(cmd);
}

/* The child exits without reading 8 MiB of input: the caller must not
 * die of SIGPIPE nor find one pending afterwards. */
static void child_ignores_input(void **state)
{
	size_t n = 8 * MIB;
	char *input = calloc(1, n);
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT, .input = input, .input_len = n};
	reexec_cmd *cmd = reexec_command("exit_code", "6", NULL);
	sigset_t pending;
	int status;

	(void)state;
	assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 6);
	assert_string_equal(cap.out, "");
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	free(cap.out);
	free(input);
	reexec_cmd_free(cmd);
}

static void nothing_captured(void **state)
{
	struct reexec_capture cap = {0};
	reexec_cmd *cmd = reexec_command("exit_code", "2", NULL);
	int status;

	(void)state;
	assert_int_equal(reexec_cmd_stdio_null(cmd, 1), 0);
	assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_null(cap.out);
	assert_null(cap.err);
	reexec_cmd_free(cmd);
}

static void bad_input(void **state)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
	reexec_cmd *cmd = reexec_command("exit_code", NULL);

	(void)state;
	errno = 0;
	assert_int_equal(reexec_capture(NULL, &cap, NULL), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_capture(cmd, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	cap.flags = 0x100;
	errno = 0;
	assert_int_equal(reexec_capture(cmd, &cap, NULL), -1);
	assert_int_equal(errno, EINVAL);
	cap.flags = REEXEC_CAPTURE_MERGE | REEXEC_CAPTURE_STDERR;
	errno = 0;
	assert_int_equal(reexec_capture(cmd, &cap, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(no_children());

	cap.flags = REEXEC_CAPTURE_STDOUT;
	assert_int_equal(reexec_run(cmd, NULL), 0);
	errno = 0;
	assert_int_equal(reexec_capture(cmd, &cap, NULL), -1);
	assert_int_equal(errno, EBUSY);
	assert_null(cap.out);
	reexec_cmd_free(cmd);
}

/* A 1 ms interval timer whose handler does not restart system calls:
 * every blocking call inside the library sees EINTR again and again.
 * (Under valgrind, which cannot keep up with 1 ms signals, the make target
 * sets a longer interval with TEST_TIMER_US.) */
static void signals_during_calls(void **state)
{
	size_t n = 16 * MIB;
	char *input = malloc(n);
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_STDERR,
	        .input = input,
	        .input_len = n,
	};
	reexec_cmd *cmd = reexec_command("flood", "16", NULL);
	int status = -1, ticks;

	(void)state;
	memset(input, 'i', n);
	interrupts_start();

	assert_int_equal(reexec_capture(cmd, &cap, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(cap.out_len,
	                 n + strlen("IN 16777216 0000000000000000\n"));
	assert_int_equal(cap.err_len, n);
	free(cap.out);
	free(cap.err);
	reexec_cmd_free(cmd);

	/* A plain wait for a child that works for a while. */
	cmd = reexec_command("flood", "64", NULL);
	reexec_cmd_stdio_null(cmd, 1);
	reexec_cmd_stdio_null(cmd, 2);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(status, 0);
	reexec_cmd_free(cmd);

	ticks = interrupts_stop();
	assert_true(ticks > 0);
	free(input);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(big_streams_no_deadlock),
	        cmocka_unit_test(merged_and_separate),
	        cmocka_unit_test(small_and_empty_input),
	        cmocka_unit_test(child_ignores_input),
	        cmocka_unit_test(nothing_captured),
	        cmocka_unit_test(bad_input),
	        cmocka_unit_test(signals_during_calls),
	};

	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
