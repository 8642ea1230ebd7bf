/* The command's settings: environment, directory, stdio, extra fds,
 * process group and session, and freeing a running command. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

/* Read fd to its end into a NUL-terminated static buffer. */
static const char *slurp(int fd)
{
	static char buf[4096];
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

/* Does the NUL-separated list hold entry? */
static int has_entry(const char *list, size_t len, const char *entry)
{
	for (size_t off = 0; off < len; off += strlen(list + off) + 1)
		if (strcmp(list + off, entry) == 0)
			return 1;
	return 0;
}

static void env_inherited_and_edited(void **state)
{
	reexec_cmd *cmd = reexec_command("print_env", NULL);
	size_t len;
	char *out;

	(void)state;
	setenv("RT_INHERITED", "yes", 1);
	setenv("RT_REMOVED", "gone", 1);
	setenv("RT_CHANGED", "old", 1);
	assert_int_equal(reexec_cmd_setenv(cmd, "RT_NEW", "a=b"), 0);
	assert_int_equal(reexec_cmd_setenv(cmd, "RT_CHANGED", "first"), 0);
	assert_int_equal(reexec_cmd_setenv(cmd, "RT_CHANGED", "new"), 0);
	assert_int_equal(reexec_cmd_unsetenv(cmd, "RT_REMOVED"), 0);
	assert_int_equal(reexec_cmd_unsetenv(cmd, "RT_NEVER_SET"), 0);
	out = capture_stdout(cmd, &len, NULL);
	assert_true(has_entry(out, len, "RT_INHERITED=yes"));
	assert_true(has_entry(out, len, "RT_NEW=a=b"));
	assert_true(has_entry(out, len, "RT_CHANGED=new"));
	assert_false(has_entry(out, len, "RT_CHANGED=old"));
	assert_false(has_entry(out, len, "RT_CHANGED=first"));
	assert_false(has_entry(out, len, "RT_REMOVED=gone"));
	free(out);
	reexec_cmd_free(cmd);
	unsetenv("RT_INHERITED");
	unsetenv("RT_REMOVED");
	unsetenv("RT_CHANGED");
}

static void env_replaced(void **state)
{
	char *envp[] = {"A=1", "B=2", "D=4", NULL};
	char *none[] = {NULL};
	static const char want[] = "B=2\0C=3\0D=5\0";
	reexec_cmd *cmd = reexec_command("print_env", NULL);
	size_t len;
	char *out;

	(void)state;
	/* Edits made before and after the replacement both apply. */
	assert_int_equal(reexec_cmd_unsetenv(cmd, "A"), 0);
	assert_int_equal(reexec_cmd_set_environ(cmd, envp), 0);
	assert_int_equal(reexec_cmd_setenv(cmd, "C", "3"), 0);
	assert_int_equal(reexec_cmd_setenv(cmd, "D", "5"), 0);
	out = capture_stdout(cmd, &len, NULL);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
	reexec_cmd_free(cmd);

	cmd = reexec_command("print_env", NULL);
	assert_int_equal(reexec_cmd_set_environ(cmd, none), 0);
	out = capture_stdout(cmd, &len, NULL);
	assert_int_equal(len, 0);
	free(out);
	reexec_cmd_free(cmd);
}

static void env_bad_input(void **state)
{
	char *envp[] = {NULL};
	reexec_cmd *cmd = reexec_command("exit_code", NULL);

	(void)state;
	expect_fail(reexec_cmd_setenv(NULL, "A", "b"), EINVAL);
	expect_fail(reexec_cmd_setenv(cmd, NULL, "b"), EINVAL);
	expect_fail(reexec_cmd_setenv(cmd, "", "b"), EINVAL);
	expect_fail(reexec_cmd_setenv(cmd, "A=B", "b"), EINVAL);
	expect_fail(reexec_cmd_setenv(cmd, "A", NULL), EINVAL);
	expect_fail(reexec_cmd_unsetenv(NULL, "A"), EINVAL);
	expect_fail(reexec_cmd_unsetenv(cmd, ""), EINVAL);
	expect_fail(reexec_cmd_unsetenv(cmd, "A=B"), EINVAL);
	expect_fail(reexec_cmd_set_environ(NULL, envp), EINVAL);
	expect_fail(reexec_cmd_set_environ(cmd, NULL), EINVAL);
	assert_int_equal(reexec_run(cmd, NULL), 0);
	expect_fail(reexec_cmd_setenv(cmd, "A", "b"), EBUSY);
	expect_fail(reexec_cmd_unsetenv(cmd, "A"), EBUSY);
	expect_fail(reexec_cmd_set_environ(cmd, envp), EBUSY);
	reexec_cmd_free(cmd);
}

static void working_directory(void **state)
{
	char parent[PATH_MAX], want[PATH_MAX];
	reexec_cmd *cmd = reexec_command("print_cwd", NULL);
	char *out;

	(void)state;
	assert_int_equal(reexec_cmd_set_dir(cmd, "/"), 0);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/tmp"), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, "/tmp");
	free(out);
	reexec_cmd_free(cmd);

	/* Relative to the caller's directory; the caller's is unchanged. */
	assert_non_null(getcwd(parent, sizeof(parent)));
	assert_non_null(realpath("..", want));
	cmd = reexec_command("print_cwd", NULL);
	assert_int_equal(reexec_cmd_set_dir(cmd, ".."), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, want);
	free(out);
	reexec_cmd_free(cmd);

	/* NULL goes back to inheriting. */
	cmd = reexec_command("print_cwd", NULL);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/"), 0);
	assert_int_equal(reexec_cmd_set_dir(cmd, NULL), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, parent);
	free(out);

	expect_fail(reexec_cmd_set_dir(cmd, "/"), EBUSY);
	reexec_cmd_free(cmd);
	cmd = reexec_command("print_cwd", NULL);
	expect_fail(reexec_cmd_set_dir(cmd, ""), EINVAL);
	expect_fail(reexec_cmd_set_dir(NULL, "/"), EINVAL);
	reexec_cmd_free(cmd);
}

static void stdio_null(void **state)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDERR};
	reexec_cmd *cmd = reexec_command("cat", NULL);
	char *out;

	(void)state;
	/* stdin at /dev/null: cat ends at once. */
	assert_int_equal(reexec_cmd_stdio_null(cmd, 0), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, "");
	free(out);
	reexec_cmd_free(cmd);

	/* stdout at /dev/null: only stderr arrives. */
	cmd = reexec_command("mixed", NULL);
	assert_int_equal(reexec_cmd_stdio_null(cmd, 1), 0);
	assert_int_equal(reexec_capture(cmd, &cap, NULL), 0);
	assert_null(cap.out);
	assert_string_equal(cap.err, "err1\n");
	free(cap.err);
	reexec_cmd_free(cmd);
}

static void stdio_pipes(void **state)
{
	reexec_cmd *cmd = reexec_command("cat", NULL);
	int status;

	(void)state;
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 0), 0);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	expect_fail(reexec_pipe(cmd, 0), EBADF); /* not started */
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(write(reexec_pipe(cmd, 0), "hello", 5), 5);
	assert_int_equal(reexec_pipe_close(cmd, 0), 0);
	expect_fail(reexec_pipe(cmd, 0), EBADF); /* closed */
	expect_fail(reexec_pipe_close(cmd, 0), EBADF);
	expect_fail(reexec_pipe(cmd, 2), EBADF); /* not a pipe */
	expect_fail(reexec_pipe(cmd, 3), EINVAL);
	expect_fail(reexec_pipe(cmd, -1), EINVAL);
	expect_fail(reexec_pipe(NULL, 1), EINVAL);
	assert_string_equal(slurp(reexec_pipe(cmd, 1)), "hello");
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(status, 0);
	reexec_cmd_free(cmd);
}

static void stdio_caller_fd(void **state)
{
	reexec_cmd *cmd = reexec_command("mixed", NULL);
	int out[2], err[2];

	(void)state;
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 1, out[1]), 0);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 2, err[1]), 0);
	assert_int_equal(reexec_start(cmd), 0);
	/* The child has its own copies: ours can go at once. */
	close(out[1]);
	close(err[1]);
	assert_string_equal(slurp(out[0]), "out1\nout2\n");
	assert_string_equal(slurp(err[0]), "err1\n");
	assert_int_equal(reexec_wait(cmd, NULL), 0);
	close(out[0]);
	close(err[0]);
	reexec_cmd_free(cmd);
}

/* In a child of ours, where the descriptor numbers are ours to choose:
 * stdout and stderr swapped, fds 3 and 4 handed on as 4 and 3, and fd 0
 * closed so that a careless copy could land on a slot still to be filled. */
static int permute_probe(int argc, char *argv[])
{
	int p[4][2];
	reexec_cmd *cmd;

	(void)argc;
	(void)argv;
	close(0);
	for (int i = 0; i < 4; i++) {
		int tmp[2];

		if (pipe(tmp) < 0)
			return 2;
		p[i][0] = fcntl(tmp[0], F_DUPFD, 20);
		p[i][1] = fcntl(tmp[1], F_DUPFD, 20);
		close(tmp[0]);
		close(tmp[1]);
	}
	/* Our 1, 2, 3, 4 are the write ends of pipes 0..3. */
	for (int i = 0; i < 4; i++)
		if (dup2(p[i][1], i + 1) < 0)
			return 3;
	cmd = reexec_command("write_fd", "1", "one", "2", "two", "3", "three",
	                     "4", "four", NULL);
	if (reexec_cmd_stdio_null(cmd, 0) < 0 ||
	    reexec_cmd_stdio_fd(cmd, 1, 2) < 0 ||
	    reexec_cmd_stdio_fd(cmd, 2, 1) < 0 ||
	    reexec_cmd_add_fd(cmd, 4) != 3 || reexec_cmd_add_fd(cmd, 3) != 4)
		return 4;
	if (reexec_run(cmd, NULL) < 0)
		return 5;
	reexec_cmd_free(cmd);
	for (int i = 0; i < 4; i++) {
		close(p[i][1]);
		close(i + 1);
	}
	/* Pipe 0 was our stdout, which the child had as stderr, ... */
	if (strcmp(slurp(p[0][0]), "two") || strcmp(slurp(p[1][0]), "one") ||
	    strcmp(slurp(p[2][0]), "four") || strcmp(slurp(p[3][0]), "three"))
		return 6;
	return 0;
}

static void stdio_permuted(void **state)
{
	(void)state;
	assert_int_equal(run_probe("permute_probe", "no pipes"), 0);
}

static void stdio_files(void **state)
{
	char path[] = "/tmp/reexec-test-XXXXXX";
	int fd = mkstemp(path);
	reexec_cmd *cmd;
	char *out;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (int i = 0; i < 2; i++) {
		cmd = reexec_command("write_fd", "1", "line\n", NULL);
		assert_int_equal(reexec_cmd_stdio_file(
		                         cmd, 1, path,
		                         O_WRONLY | O_CREAT | O_APPEND, 0600),
		                 0);
		assert_int_equal(reexec_run(cmd, NULL), 0);
		reexec_cmd_free(cmd);
	}
	cmd = reexec_command("cat", NULL);
	assert_int_equal(reexec_cmd_stdio_file(cmd, 0, path, O_RDONLY, 0), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, "line\nline\n");
	free(out);
	reexec_cmd_free(cmd);
	unlink(path);

	/* A file that cannot be opened is start's error; nothing runs. */
	cmd = reexec_command("cat", NULL);
	assert_int_equal(reexec_cmd_stdio_file(cmd, 0, path, O_RDONLY, 0), 0);
	expect_fail(reexec_start(cmd), ENOENT);
	assert_true(no_children());
	reexec_cmd_free(cmd);
}

static void stdio_bad_input(void **state)
{
	reexec_cmd *cmd = reexec_command("exit_code", NULL);

	(void)state;
	for (int s = -1; s <= 3; s += 4) {
		expect_fail(reexec_cmd_stdio_inherit(cmd, s), EINVAL);
		expect_fail(reexec_cmd_stdio_null(cmd, s), EINVAL);
		expect_fail(reexec_cmd_stdio_pipe(cmd, s), EINVAL);
		expect_fail(reexec_cmd_stdio_fd(cmd, s, 1), EINVAL);
		expect_fail(reexec_cmd_stdio_file(cmd, s, "/x", O_RDONLY, 0),
		            EINVAL);
	}
	expect_fail(reexec_cmd_stdio_inherit(NULL, 0), EINVAL);
	expect_fail(reexec_cmd_stdio_null(NULL, 0), EINVAL);
	expect_fail(reexec_cmd_stdio_pipe(NULL, 0), EINVAL);
	expect_fail(reexec_cmd_stdio_fd(NULL, 0, 1), EINVAL);
	expect_fail(reexec_cmd_stdio_file(NULL, 0, "/x", O_RDONLY, 0), EINVAL);
	expect_fail(reexec_cmd_stdio_file(cmd, 0, NULL, O_RDONLY, 0), EINVAL);
	expect_fail(reexec_cmd_stdio_file(cmd, 0, "", O_RDONLY, 0), EINVAL);
	expect_fail(reexec_cmd_add_fd(NULL, 0), EINVAL);
	assert_int_equal(reexec_run(cmd, NULL), 0);
	expect_fail(reexec_cmd_stdio_null(cmd, 0), EBUSY);
	expect_fail(reexec_cmd_stdio_pipe(cmd, 0), EBUSY);
	expect_fail(reexec_cmd_stdio_fd(cmd, 0, 0), EBUSY);
	expect_fail(reexec_cmd_stdio_file(cmd, 0, "/x", O_RDONLY, 0), EBUSY);
	expect_fail(reexec_cmd_stdio_inherit(cmd, 0), EBUSY);
	expect_fail(reexec_cmd_add_fd(cmd, 0), EBUSY);
	expect_fail(reexec_cmd_setpgid(cmd, 0), EBUSY);
	expect_fail(reexec_cmd_setsid(cmd), EBUSY);
	reexec_cmd_free(cmd);
}

/* "pid pgid sid" of a run of ids with cmd's settings. */
static void run_ids(reexec_cmd *cmd, long ids[3])
{
	char *out = capture_stdout(cmd, NULL, NULL);

	assert_int_equal(sscanf(out, "%ld %ld %ld", &ids[0], &ids[1], &ids[2]),
	                 3);
	assert_int_equal(ids[0], reexec_pid(cmd));
	free(out);
	reexec_cmd_free(cmd);
}

static void process_groups(void **state)
{
	reexec_cmd *leader, *cmd;
	long ids[3];

	(void)state;
	run_ids(reexec_command("ids", NULL), ids);
	assert_int_equal(ids[1], getpgrp());
	assert_int_equal(ids[2], getsid(0));

	cmd = reexec_command("ids", NULL);
	assert_int_equal(reexec_cmd_setpgid(cmd, 0), 0);
	run_ids(cmd, ids);
	assert_int_equal(ids[1], ids[0]);
	assert_int_equal(ids[2], getsid(0));

	cmd = reexec_command("ids", NULL);
	assert_int_equal(reexec_cmd_setpgid(cmd, 0), 0);
	assert_int_equal(reexec_cmd_setsid(cmd), 0); /* cancels setpgid */
	run_ids(cmd, ids);
	assert_int_equal(ids[1], ids[0]);
	assert_int_equal(ids[2], ids[0]);

	/* Joining another child's group. */
	leader = reexec_command("pause", NULL);
	assert_int_equal(reexec_cmd_setpgid(leader, 0), 0);
	assert_int_equal(reexec_start(leader), 0);
	cmd = reexec_command("ids", NULL);
	assert_int_equal(reexec_cmd_setpgid(cmd, reexec_pid(leader)), 0);
	run_ids(cmd, ids);
	assert_int_equal(ids[1], reexec_pid(leader));
	reexec_cmd_free(leader);

	cmd = reexec_command("ids", NULL);
	expect_fail(reexec_cmd_setpgid(cmd, -1), EINVAL);
	expect_fail(reexec_cmd_setpgid(NULL, 0), EINVAL);
	expect_fail(reexec_cmd_setsid(NULL), EINVAL);
	reexec_cmd_free(cmd);
	assert_true(no_children());
}

static void free_running_reaps(void **state)
{
	reexec_cmd *cmd = reexec_command("pause", NULL);
	pid_t pid;

	(void)state;
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	pid = reexec_pid(cmd);
	assert_true(pid > 0);
	reexec_cmd_free(cmd);
	/* Killed and reaped: not our child any more, not even a zombie. */
	errno = 0;
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_true(no_children());
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(env_inherited_and_edited),
	        cmocka_unit_test(env_replaced),
	        cmocka_unit_test(env_bad_input),
	        cmocka_unit_test(working_directory),
	        cmocka_unit_test(stdio_null),
	        cmocka_unit_test(stdio_pipes),
	        cmocka_unit_test(stdio_caller_fd),
	        cmocka_unit_test(stdio_permuted),
	        cmocka_unit_test(stdio_files),
	        cmocka_unit_test(stdio_bad_input),
	        cmocka_unit_test(process_groups),
	        cmocka_unit_test(free_running_reaps),
	};

	reexec_register("permute_probe", permute_probe);
	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("command", tests, NULL, NULL);
}
