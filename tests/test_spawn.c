/* Spawning: a clean child (descriptors, signals) and synchronous errors
 * that leave no process behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

extern char **environ;

static void expect_start_fails(reexec_cmd *cmd, int err)
{
	assert_non_null(cmd);
	errno = 0;
	assert_int_equal(reexec_start(cmd), -1);
	assert_int_equal(errno, err);
	assert_int_equal(reexec_pid(cmd), -1);
	assert_true(no_children());
}

static void no_inherited_fds(void **state)
{
	int plain = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	int high = dup2(plain, 200);
	reexec_cmd *cmd;
	int sv[2];
	size_t len;
	int status;
	char *out;

	(void)state;
	assert_true(plain >= 3);
	assert_int_equal(high, 200);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	cmd = reexec_command("fd_report", NULL);
	out = capture_stdout(cmd, &len, &status);
	assert_int_equal(status, 0);
	assert_string_equal(out, "");
	free(out);
	reexec_cmd_free(cmd);
	close(plain);
	close(high);
	close(sv[0]);
	close(sv[1]);
}

static void only_given_fds(void **state)
{
	int a = open("/dev/null", O_RDONLY);
	int b = open("/dev/null", O_RDONLY);
	reexec_cmd *cmd = reexec_command("fd_report", NULL);
	int status;
	size_t len;
	char *out;

	(void)state;
	assert_int_equal(reexec_cmd_add_fd(cmd, a), 3);
	assert_int_equal(reexec_cmd_add_fd(cmd, b), 4);
	out = capture_stdout(cmd, &len, &status);
	assert_string_equal(out, "3 4 ");
	free(out);
	reexec_cmd_free(cmd);
	close(a);
	close(b);
}

/* fd_all: the number the function's next open() gets, then every open
 * descriptor (close-on-exec ones marked c), up to the soft limit or
 * 65536: "next 4: 0 1 2 3c". */
static int fd_all(int argc, char *argv[])
{
	int next = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct rlimit lim;
	int top = 65536;

	(void)argc;
	(void)argv;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 65536)
		top = (int)lim.rlim_cur;
	printf("next %d:", next);
	close(next);
	for (int fd = 0; fd < top; fd++) {
		int flags = fcntl(fd, F_GETFD);

		if (flags >= 0)
			printf(" %d%s", fd, flags & FD_CLOEXEC ? "c" : "");
	}
	return 0;
}

/* What fd_all says in a child of cmd has the low descriptors given,
 * exactly; beyond them, from 256 up, the library may keep descriptors of
 * its own, close-on-exec. */
static void expect_fds(reexec_cmd *cmd, const char *low)
{
	int status = -1;
	size_t len;
	char *out = capture_stdout(cmd, &len, &status), *rest;

	assert_int_equal(status, 0);
	print_message("%s\n", out);
	assert_int_equal(strncmp(out, low, strlen(low)), 0);
	rest = out + strlen(low);
	while (*rest) {
		char *end;
		long fd = strtol(rest, &end, 10);

		assert_true(end != rest && fd >= 256 && *end == 'c');
		rest = end + 1;
	}
	free(out);
	reexec_cmd_free(cmd);
}

/* The function finds the descriptors it was given, and nothing else at a
 * number it could use or expect: its next open() gets the number after
 * them. So with input or attributes (whose frame comes first), and with
 * descriptors handed on. */
static void function_sees_given_fds(void **state)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	reexec_cmd *cmd;

	(void)state;
	expect_fds(reexec_command("fd_all", NULL), "next 4: 0 1 2 3c");
	cmd = reexec_command("fd_all", NULL);
	assert_int_equal(reexec_cmd_set_input(cmd, "in", 2), 0);
	expect_fds(cmd, "next 4: 0 1 2 3c");
	cmd = reexec_command("fd_all", NULL);
	assert_int_equal(reexec_cmd_set_umask(cmd, 022), 0);
	expect_fds(cmd, "next 4: 0 1 2 3c");
	cmd = reexec_command("fd_all", NULL);
	assert_int_equal(reexec_cmd_add_fd(cmd, a), 3);
	expect_fds(cmd, "next 5: 0 1 2 3 4c");
	close(a);
}

static void clean_signal_state(void **state)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old[4];
	static const int ignored[] = {SIGUSR1, SIGHUP, SIGPIPE, SIGINT};
	sigset_t block, oldmask;
	reexec_cmd *cmd = reexec_command("signal_report", NULL);
	int status;
	size_t len;
	char *out;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(sigaction(ignored[i], &ign, &old[i]), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &block, &oldmask);

	out = capture_stdout(cmd, &len, &status);

	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	for (int i = 0; i < 4; i++)
		sigaction(ignored[i], &old[i], NULL);
	assert_string_equal(out, "");
	assert_int_equal(status, 0);
	free(out);
	reexec_cmd_free(cmd);
}

static void chdir_failure_reported(void **state)
{
	reexec_cmd *cmd;

	(void)state;
	if (under_valgrind()) {
		print_message("skipped: exec failures cannot be seen under "
		              "valgrind\n");
		skip();
	}
	cmd = reexec_command("exit_code", NULL);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/no/such/directory"), 0);
	expect_start_fails(cmd, ENOENT);
	reexec_cmd_free(cmd);

	cmd = reexec_command("exit_code", NULL);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/dev/null"), 0);
	expect_start_fails(cmd, ENOTDIR);
	reexec_cmd_free(cmd);
}

static void too_big_e2big(void **state)
{
	size_t n = 256 * 1024; /* beyond the kernel's limit for one string */
	char *big;
	reexec_cmd *cmd;

	(void)state;
	if (under_valgrind()) {
		print_message("skipped: exec failures cannot be seen under "
		              "valgrind\n");
		skip();
	}
	big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	cmd = reexec_command("exit_code", big, NULL);
	expect_start_fails(cmd, E2BIG);
	reexec_cmd_free(cmd);

	/* The same through the environment. */
	cmd = reexec_command("exit_code", NULL);
	assert_int_equal(reexec_cmd_setenv(cmd, "BIG", big), 0);
	expect_start_fails(cmd, E2BIG);
	reexec_cmd_free(cmd);
	free(big);
}

/* In a child of ours: with no process left to spend (RLIMIT_NPROC), start
 * must fail with EAGAIN and leave nothing behind. Exits 0 when it does,
 * 2 when the limit cannot be put in place. */
static int nproc_probe(int argc, char *argv[])
{
	struct rlimit old, none;
	reexec_cmd *cmd;
	int rc, err;

	(void)argc;
	(void)argv;
	if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		return 2;
	/* Only the soft limit, so that it can be lifted again at the end
	 * (a leak checker at exit may need a thread). */
	if (getrlimit(RLIMIT_NPROC, &old) < 0)
		return 2;
	none = old;
	none.rlim_cur = 0;
	if (setrlimit(RLIMIT_NPROC, &none) < 0)
		return 2;
	cmd = reexec_command("exit_code", NULL);
	if (!cmd)
		return 3;
	rc = reexec_start(cmd);
	err = errno;
	setrlimit(RLIMIT_NPROC, &old);
	reexec_cmd_free(cmd);
	if (rc == 0)
		return 4;
	if (err != EAGAIN)
		return 5;
	return no_children() ? 0 : 6;
}

static void process_limit_eagain(void **state)
{
	(void)state;
	assert_int_equal(
	        run_probe("nproc_probe", "RLIMIT_NPROC cannot be set here"), 0);
}

/* Lower the descriptor limit to 64 and take every free descriptor into
 * fds; how many were taken (errno says why no more), or -1 when the limit
 * cannot be set. */
static int exhaust_fds(int fds[64])
{
	struct rlimit lim = {64, 64};
	int n = 0;

	if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
		return -1;
	while (n < 64 &&
	       (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	return n;
}

/* In a child of ours: out of descriptors, a start that needs a pipe fails
 * with EMFILE, leaves nothing behind, and leaks nothing: once a few
 * descriptors are free again the same command starts. */
static int emfile_probe(int argc, char *argv[])
{
	int fds[64], n, status;
	reexec_cmd *cmd;

	(void)argc;
	(void)argv;
	n = exhaust_fds(fds);
	if (n < 0)
		return 2;
	if (n == 64 || errno != EMFILE)
		return 3;
	cmd = reexec_command("exit_code", "5", NULL);
	reexec_cmd_stdio_pipe(cmd, 1);
	if (reexec_start(cmd) == 0 || errno != EMFILE || !no_children())
		return 4;
	for (int i = 0; i < 4; i++)
		close(fds[--n]);
	if (reexec_start(cmd) < 0 || reexec_wait(cmd, &status) < 0)
		return 5;
	reexec_cmd_free(cmd);
	/* Everything the library opened was closed again. */
	for (int i = 0; i < 4; i++)
		if ((fds[n++] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
			return 6;
	while (n > 0)
		close(fds[--n]);
	return WEXITSTATUS(status) == 5 ? 0 : 7;
}

static void out_of_fds_emfile(void **state)
{
	(void)state;
	assert_int_equal(
	        run_probe("emfile_probe", "RLIMIT_NOFILE cannot be set here"),
	        0);
}

static void closed_fd_ebadf(void **state)
{
	int p[2];
	reexec_cmd *cmd;

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	close(p[1]);

	cmd = reexec_command("exit_code", NULL);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 1, p[1]), 0);
	expect_start_fails(cmd, EBADF);
	reexec_cmd_free(cmd);

	cmd = reexec_command("exit_code", NULL);
	assert_int_equal(reexec_cmd_add_fd(cmd, p[0]), 3);
	expect_start_fails(cmd, EBADF);
	reexec_cmd_free(cmd);

	cmd = reexec_command("exit_code", NULL);
	errno = 0;
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 1, -1), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(reexec_cmd_add_fd(cmd, -5), -1);
	assert_int_equal(errno, EBADF);
	reexec_cmd_free(cmd);
}

static void misuse_errors(void **state)
{
	reexec_cmd *cmd = reexec_command("exit_code", "4", NULL);
	int status = -1;

	(void)state;
	errno = 0;
	assert_int_equal(reexec_start(NULL), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_wait(NULL, &status), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_run(NULL, &status), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_pid(NULL), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(reexec_wait(cmd, &status), -1);
	assert_int_equal(errno, ECHILD);
	errno = 0;
	assert_int_equal(reexec_pid(cmd), -1);
	assert_int_equal(errno, ECHILD);

	assert_int_equal(reexec_start(cmd), 0);
	assert_true(reexec_pid(cmd) > 0);
	errno = 0;
	assert_int_equal(reexec_start(cmd), -1);
	assert_int_equal(errno, EBUSY);
	errno = 0;
	assert_int_equal(reexec_run(cmd, &status), -1);
	assert_int_equal(errno, EBUSY);

	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
	/* Waiting again gives the same status; NULL status is fine. */
	status = -1;
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
	assert_int_equal(reexec_wait(cmd, NULL), 0);
	assert_true(no_children());
	reexec_cmd_free(cmd);
	reexec_cmd_free(NULL);
}

static void parent_ends_cloexec(void **state)
{
	reexec_cmd *cmd = reexec_command("cat", NULL);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(reexec_cmd_stdio_pipe(cmd, i), 0);
	assert_int_equal(reexec_start(cmd), 0);
	for (int i = 0; i < 3; i++) {
		int fd = reexec_pipe(cmd, i);

		assert_true(fd >= 0);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(reexec_pipe_close(cmd, 0), 0);
	assert_int_equal(reexec_wait(cmd, NULL), 0);
	reexec_cmd_free(cmd);
}

static atomic_bool stop_churn;

/* Start and capture commands, creating and closing pipes and copies. */
static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_churn)) {
		struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT |
		                                      REEXEC_CAPTURE_STDERR,
		                             .input = "x",
		                             .input_len = 1};
		reexec_cmd *cmd = reexec_command("exit_code", NULL);

		if (!cmd || reexec_cmd_add_fd(cmd, 0) < 0 ||
		    reexec_capture(cmd, &cap, NULL) < 0)
			return (void *)1;
		free(cap.out);
		free(cap.err);
		reexec_cmd_free(cmd);
	}
	return NULL;
}

/* What a plain posix_spawn of fd_report, which closes nothing, reports:
 * the descriptors of this process that are not close-on-exec. */
static char *plain_fd_report(void)
{
	char *argv[] = {"multi_fd_report", NULL};
	posix_spawn_file_actions_t fa;
	static char buf[512];
	int p[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	assert_int_equal(
	        posix_spawn(&pid, reexec_self(), &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return buf;
}

/* Descriptors the library creates are close-on-exec from birth: a plain
 * posix_spawn in another thread never sees one. */
static void library_fds_never_leak(void **state)
{
	char before[512];
	pthread_t th;
	void *rc;
	int leaks = 0;

	(void)state;
	/* Whatever this process itself was started with does not count. */
	snprintf(before, sizeof(before), "%s", plain_fd_report());
	atomic_store(&stop_churn, false);
	assert_int_equal(pthread_create(&th, NULL, churn, NULL), 0);
	for (int i = 0; i < 300; i++) {
		const char *now = plain_fd_report();

		if (strcmp(now, before) != 0 && leaks++ == 0)
			print_message("leaked: %s (before: %s)\n", now, before);
	}
	atomic_store(&stop_churn, true);
	assert_int_equal(pthread_join(th, &rc), 0);
	assert_null(rc);
	assert_int_equal(leaks, 0);
}

/* execfn: what the kernel was given to execute this process (AT_EXECFN),
 * as the result: "/dev/fd/N" when it was a descriptor. */
static int execfn(int argc, char *argv[])
{
	const char *fn = (const char *)getauxval(AT_EXECFN);

	(void)argc;
	(void)argv;
	return fn && reexec_set_result(fn, strlen(fn)) == 0 ? 0 : 1;
}

/* A child's AT_EXECFN into buf; 0, or -1. */
static int child_execfn(char *buf, size_t size)
{
	void *out = NULL;
	size_t len = 0;
	int status = -1;

	if (reexec_call("execfn", NULL, 0, &out, &len, &status) < 0 ||
	    status != 0 || len >= size) {
		free(out);
		return -1;
	}
	memcpy(buf, out, len);
	buf[len] = '\0';
	free(out);
	return 0;
}

/* The child is executed from the descriptor that pins our binary, not
 * by a path that could lead elsewhere by then. */
static void executes_pinned_binary(void **state)
{
	char fn[PATH_MAX];

	(void)state;
	if (using_forkserver()) {
		print_message("skipped: the fork server's children are not "
		              "executed\n");
		skip();
	}
	if (under_valgrind()) {
		print_message("skipped: valgrind cannot follow execveat\n");
		skip();
	}
	assert_int_equal(child_execfn(fn, sizeof(fn)), 0);
	assert_memory_equal(fn, "/dev/fd/", 8);
}

/* In a child of ours that finds its binary with no descriptor to spare,
 * so that nothing is pinned: children are spawned by the path instead,
 * and start just as clean. */
static int unpinned_probe(int argc, char *argv[])
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	int fds[64], n, status = -1;
	const char *self;
	char fn[PATH_MAX];
	reexec_cmd *cmd;

	(void)argc;
	(void)argv;
	n = exhaust_fds(fds);
	if (n < 0)
		return 2;
	self = reexec_self();
	while (n > 0)
		close(fds[--n]);
	if (!self || strcmp(self, "/proc/self/exe") != 0)
		return 3;
	if (child_execfn(fn, sizeof(fn)) < 0 || strcmp(fn, self) != 0)
		return 4;
	sigaction(SIGUSR1, &ign, NULL);
	cmd = reexec_command("signal_report", NULL);
	if (!cmd || reexec_cmd_stdio_null(cmd, 1) < 0 ||
	    reexec_run(cmd, &status) < 0)
		return 5;
	reexec_cmd_free(cmd);
	return status == 0 ? 0 : 6;
}

static void unpinned_spawns_by_path(void **state)
{
	(void)state;
	if (using_forkserver() || under_valgrind()) {
		print_message("skipped: here the probe's children are not "
		              "executed by this binary's path\n");
		skip();
	}
	assert_int_equal(
	        run_probe("unpinned_probe", "RLIMIT_NOFILE cannot be set here"),
	        0);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(no_inherited_fds),
	        cmocka_unit_test(only_given_fds),
	        cmocka_unit_test(function_sees_given_fds),
	        cmocka_unit_test(clean_signal_state),
	        cmocka_unit_test(chdir_failure_reported),
	        cmocka_unit_test(too_big_e2big),
	        cmocka_unit_test(process_limit_eagain),
	        cmocka_unit_test(out_of_fds_emfile),
	        cmocka_unit_test(closed_fd_ebadf),
	        cmocka_unit_test(misuse_errors),
	        cmocka_unit_test(parent_ends_cloexec),
	        cmocka_unit_test(library_fds_never_leak),
	        cmocka_unit_test(executes_pinned_binary),
	        cmocka_unit_test(unpinned_spawns_by_path),
	};

	reexec_register("fd_all", fd_all);
	reexec_register("nproc_probe", nproc_probe);
	reexec_register("emfile_probe", emfile_probe);
	reexec_register("execfn", execfn);
	reexec_register("unpinned_probe", unpinned_probe);
	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("spawn", tests, NULL, NULL);
}
