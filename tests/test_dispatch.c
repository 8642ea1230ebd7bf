/* Dispatch: reexec_init() on argv[0], the child's argv, exit statuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "helpers.h"

extern char **environ;

/* Registered only to be found where it must not be: a dispatch to it
 * exits this suite with a status the runner counts as a failure. */
static int trap(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dispatched where no dispatch was due\n");
	return 86;
}

/* Each of these would exit this process if reexec_init() dispatched. */
static void no_dispatch_without_argv0(void **state)
{
	char *only_name[] = {"trap", NULL};
	char *null_first[] = {NULL, "trap", NULL};
	char *unknown[] = {"no_such_function", NULL};
	char *empty[] = {"", NULL};
	char *dir_only[] = {"trap/", NULL};

	(void)state;
	/* argc 0: argv[0] must not be read, even though it names a function. */
	assert_int_equal(reexec_init(0, only_name), 0);
	assert_int_equal(reexec_init(-1, only_name), 0);
	assert_int_equal(reexec_init(1, NULL), 0);
	assert_int_equal(reexec_init(2, null_first), 0);
	assert_int_equal(reexec_init(1, unknown), 0);
	assert_int_equal(reexec_init(1, empty), 0);
	assert_int_equal(reexec_init(1, dir_only), 0);
}

/* Spawn this binary directly, without the library, with argv. */
static int raw_spawn_status(char *argv[])
{
	pid_t pid;
	int status;

	assert_int_equal(
	        posix_spawn(&pid, reexec_self(), NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void dispatch_on_basename(void **state)
{
	char *by_path[] = {"/no/such/dir/multi_exit_code", "7", NULL};
	char *by_name[] = {"multi_exit_code", "8", NULL};
	int status;

	(void)state;
	status = raw_spawn_status(by_path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	status = raw_spawn_status(by_name);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 8);
}

static void exit_status_is_return_value(void **state)
{
	static const char *codes[] = {"0", "1", "42", "255"};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		reexec_cmd *cmd = reexec_command("exit_code", codes[i], NULL);
		int status = -1;

		assert_non_null(cmd);
		assert_int_equal(reexec_run(cmd, &status), 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), atoi(codes[i]));
		reexec_cmd_free(cmd);
	}
}

static void exit_flushes_stdio(void **state)
{
	reexec_cmd *cmd = reexec_command("unflushed", NULL);
	int status;
	size_t len;
	char *out;

	(void)state;
	out = capture_stdout(cmd, &len, &status);
	assert_string_equal(out, "buffered");
	assert_int_equal(WEXITSTATUS(status), 3);
	free(out);
	reexec_cmd_free(cmd);
}

static void argv_byte_for_byte(void **state)
{
	static const char want[] = "print_args\0a\0\0b c\0\xff\x01\n\0-x\0";
	reexec_cmd *cmd = reexec_command("print_args", "a", "", "b c",
	                                 "\xff\x01\n", "-x", NULL);
	int status;
	size_t len;
	char *out;

	(void)state;
	out = capture_stdout(cmd, &len, &status);
	assert_int_equal(status, 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
	reexec_cmd_free(cmd);
}

static void commandv_args(void **state)
{
	char *args[] = {"one", "two", NULL};
	static const char want[] = "print_args\0one\0two\0";
	static const char only[] = "print_args\0";
	reexec_cmd *cmd;
	size_t len;
	char *out;
	int status;

	(void)state;
	cmd = reexec_commandv("print_args", args);
	out = capture_stdout(cmd, &len, &status);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
	reexec_cmd_free(cmd);

	/* NULL: no arguments. */
	cmd = reexec_commandv("print_args", NULL);
	out = capture_stdout(cmd, &len, &status);
	assert_int_equal(len, sizeof(only) - 1);
	assert_memory_equal(out, only, len);
	free(out);
	reexec_cmd_free(cmd);
}

static void args_are_copied(void **state)
{
	char arg[] = "original";
	reexec_cmd *cmd = reexec_command("print_args", arg, NULL);
	static const char want[] = "print_args\0original\0";
	size_t len;
	char *out;
	int status;

	(void)state;
	strcpy(arg, "changed!");
	out = capture_stdout(cmd, &len, &status);
	assert_memory_equal(out, want, sizeof(want) - 1);
	free(out);
	reexec_cmd_free(cmd);
}

static void unknown_name_enoent(void **state)
{
	(void)state;
	errno = 0;
	assert_null(reexec_command("not_registered", NULL));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(reexec_commandv("not_registered", NULL));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(reexec_command(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(reexec_commandv(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	/* A path is not a name. */
	errno = 0;
	assert_null(reexec_command("/x/exit_code", NULL));
	assert_int_equal(errno, ENOENT);
	/* Nothing was spawned. */
	assert_true(no_children());
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(no_dispatch_without_argv0),
	        cmocka_unit_test(dispatch_on_basename),
	        cmocka_unit_test(exit_status_is_return_value),
	        cmocka_unit_test(exit_flushes_stdio),
	        cmocka_unit_test(argv_byte_for_byte),
	        cmocka_unit_test(commandv_args),
	        cmocka_unit_test(args_are_copied),
	        cmocka_unit_test(unknown_name_enoent),
	};

	reexec_register("trap", trap);
	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
