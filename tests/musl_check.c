/*
 * musl_check - the core contract, checked without cmocka, so that it can
 * be linked against musl (Debian's cmocka is built for glibc). Uses the
 * same helper functions as the cmocka suites. Prints one line per check
 * and "musl: N passed, M failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static int passed, failed;

static void check(int ok, const char *what)
{
	printf("[ %s ] %s\n", ok ? "  OK  " : "FAILED", what);
	if (ok)
		passed++;
	else
		failed++;
}

/* Run cmd capturing stdout; NULL on failure. */
static char *output_of(reexec_cmd *cmd, size_t *len, int *status)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};

	if (!cmd || reexec_capture(cmd, &cap, status) < 0)
		return NULL;
	if (len)
		*len = cap.out_len;
	return cap.out;
}

static int fn(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 0;
}

static void registry_and_errors(void)
{
	errno = 0;
	check(reexec_register("a/b", fn) < 0 && errno == EINVAL,
	      "register: '/' is EINVAL");
	check(reexec_register("musl_fn", fn) == 0, "register: a new name");
	errno = 0;
	check(reexec_register("musl_fn", fn) < 0 && errno == EEXIST,
	      "register: duplicate is EEXIST");
	errno = 0;
	check(!reexec_command("unknown", NULL) && errno == ENOENT,
	      "command: unknown name is ENOENT");
}

static void status_and_argv(void)
{
	static const char want[] = "print_args\0a\0\0b c\0";
	reexec_cmd *cmd = reexec_command("exit_code", "42", NULL);
	int status = -1;
	size_t len = 0;
	char *out;

	check(cmd && reexec_run(cmd, &status) == 0 && WIFEXITED(status) &&
	              WEXITSTATUS(status) == 42,
	      "run: exit status");
	reexec_cmd_free(cmd);
	cmd = reexec_command("print_args", "a", "", "b c", NULL);
	out = output_of(cmd, &len, &status);
	check(out && len == sizeof(want) - 1 && !memcmp(out, want, len),
	      "argv byte for byte");
	free(out);
	reexec_cmd_free(cmd);
}

static void fd_hygiene(void)
{
	int plain = open("/dev/null", O_RDONLY); /* inheritable */
	int high = dup2(plain, 100);
	reexec_cmd *cmd = reexec_command("fd_report", NULL);
	char *out = output_of(cmd, NULL, NULL);

	check(out && strcmp(out, "") == 0, "fds: nothing inherited");
	free(out);
	reexec_cmd_free(cmd);
	cmd = reexec_command("fd_report", NULL);
	reexec_cmd_add_fd(cmd, plain);
	out = output_of(cmd, NULL, NULL);
	check(out && strcmp(out, "3 ") == 0, "fds: exactly the one handed on");
	free(out);
	reexec_cmd_free(cmd);
	cmd = reexec_command("print_env", NULL);
	out = output_of(cmd, NULL, NULL);
	check(out && !strstr(out, "REEXEC_"), "env: no internal variable left");
	free(out);
	reexec_cmd_free(cmd);
	close(plain);
	close(high);
}

static void signals_clean(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigset_t block, oldmask;
	reexec_cmd *cmd = reexec_command("signal_report", NULL);
	int status = -1;
	char *out;

	sigaction(SIGUSR1, &ign, &old);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	out = output_of(cmd, NULL, &status);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	sigaction(SIGUSR1, &old, NULL);
	check(out && strcmp(out, "") == 0 && status == 0,
	      "signals: default and unblocked");
	free(out);
	reexec_cmd_free(cmd);
}

static void capture_and_stop(void)
{
	size_t n = 4u << 20;
	char *input = calloc(1, n);
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_STDERR,
	        .input = input,
	        .input_len = n,
	};
	reexec_cmd *cmd = reexec_command("flood", "4", NULL);
	int status = -1;

	check(input && reexec_capture(cmd, &cap, &status) == 0 && status == 0 &&
	              cap.err_len == n && cap.out_len > n,
	      "capture: 4 MiB each way");
	free(cap.out);
	free(cap.err);
	free(input);
	reexec_cmd_free(cmd);

	cmd = reexec_command("pause", NULL);
	check(reexec_start(cmd) == 0 &&
	              reexec_wait_timeout(cmd, 0, &status) < 0 &&
	              errno == ETIMEDOUT,
	      "wait_timeout: still running");
	check(reexec_stop(cmd, 1000, &status) == 0 && WIFSIGNALED(status) &&
	              WTERMSIG(status) == SIGTERM,
	      "stop: ended by SIGTERM");
	reexec_cmd_free(cmd);
	check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD,
	      "no child left");
}

int main(int argc, char *argv[])
{
	helpers_init(argc, argv);
	registry_and_errors();
	status_and_argv();
	fd_hygiene();
	signals_clean();
	capture_and_stop();
	printf("musl: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
