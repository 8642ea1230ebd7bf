/*
 * childprocess - the smallest use of reexec: run one function of this
 * program in a child process, the way Go programs do it with moby's reexec
 * package.
 *
 * main() registers "childProcess" and calls reexec_init() before anything
 * else. Started from a shell, argv[0] is the program's path, nothing
 * matches, and main goes on to start the child: a new exec of this binary
 * whose argv[0] is "childProcess". In the child, reexec_init() finds that
 * name, runs the function and exits. Both processes log to the same
 * stderr, with timestamps as Go's log package prints them:
 *
 *   2026/11/23 10:00:00 init start, argv = [./childprocess]
 *   2026/11/23 10:00:00 main start, argv = [./childprocess]
 *   2026/11/23 10:00:00 init start, argv = [childProcess]
 *   2026/11/23 10:00:00 childProcess
 *   2026/11/23 10:00:00 main exit
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <reexec.h>

/* One line on stderr, "YYYY/MM/DD hh:mm:ss message", in a single write so
 * that lines of the two processes never mix. */
static void log_line(const char *fmt, ...)
{
	char line[1024];
	time_t now = time(NULL);
	struct tm tm;
	size_t len;
	va_list ap;

	localtime_r(&now, &tm);
	len = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S ", &tm);
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	len = strlen(line);
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}

/* argv as Go prints a slice: [a b c]. */
static void log_args(const char *what, int argc, char *argv[])
{
	char buf[768];
	size_t len = 0;

	for (int i = 0; i < argc && len < sizeof(buf) - 1; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		                        i ? " " : "", argv[i]);
	log_line("%s, argv = [%s]", what, len ? buf : "");
}

static int child_process(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	log_line("childProcess");
	return 0;
}

int main(int argc, char *argv[])
{
	reexec_cmd *cmd;
	int status;

	log_args("init start", argc, argv);
	if (reexec_register("childProcess", child_process) < 0) {
		log_line("failed to register: %s", strerror(errno));
		return 1;
	}
	reexec_init(argc, argv); /* in the child, runs childProcess and exits */

	log_args("main start", argc, argv);
	cmd = reexec_command("childProcess", NULL);
	if (!cmd || reexec_start(cmd) < 0) {
		log_line("failed to run command: %s", strerror(errno));
		reexec_cmd_free(cmd);
		return 1;
	}
	if (reexec_wait(cmd, &status) < 0) {
		log_line("failed to wait command: %s", strerror(errno));
		reexec_cmd_free(cmd);
		return 1;
	}
	reexec_cmd_free(cmd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_line("child failed: status %#x", status);
		return 1;
	}
	log_line("main exit");
	return 0;
}
