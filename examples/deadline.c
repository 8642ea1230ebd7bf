/*
 * deadline - lifecycle control: a run with a deadline, and a graceful
 * stop of a long-running worker, its process group included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reexec.h>

/* A worker that runs until told to stop, and cleans up when it is. */
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int worker(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	signal(SIGTERM, on_term);
	printf("worker: ready\n");
	fflush(stdout);
	while (!stopping)
		pause();
	printf("worker: cleaned up\n");
	return 0;
}

/* A task that takes far too long. */
static int slow(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	for (;;)
		pause();
	return 0;
}

/* Read one line from fd into buf. */
static void read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1 && read(fd, buf + len, 1) == 1)
		if (buf[len++] == '\n')
			break;
	buf[len] = '\0';
}

int main(int argc, char *argv[])
{
	reexec_register("worker", worker);
	reexec_register("slow", slow);
	reexec_init(argc, argv);
	int status;

	/* 1. A deadline: after 100 ms the child gets SIGTERM, and SIGKILL if
	 *    it is still there 500 ms later. */
	reexec_cmd *cmd = reexec_command("slow", NULL);
	reexec_cmd_set_stop(cmd, SIGTERM, 500);
	if (reexec_run_timeout(cmd, 100, &status) < 0 && errno == ETIMEDOUT)
		printf("slow: timed out, ended by %s\n",
		       strsignal(WTERMSIG(status)));
	reexec_cmd_free(cmd);

	/* 2. A graceful stop of a worker in its own process group: SIGTERM
	 *    to the group, up to 2 s to finish, then SIGKILL. */
	cmd = reexec_command("worker", NULL);
	reexec_cmd_setpgid(cmd, 0);
	reexec_cmd_stdio_pipe(cmd, 1);
	reexec_start(cmd);
	char line[64];
	read_line(reexec_pipe(cmd, 1), line, sizeof(line)); /* "ready" */
	printf("%s", line);
	if (reexec_wait_timeout(cmd, 0, &status) < 0 && errno == ETIMEDOUT)
		printf("worker: still running\n");
	reexec_stop(cmd, 2000, &status);
	read_line(reexec_pipe(cmd, 1), line, sizeof(line)); /* "cleaned up" */
	printf("%s", line);
	if (WIFEXITED(status))
		printf("worker: exited with %d\n", WEXITSTATUS(status));
	reexec_cmd_free(cmd);
	return 0;
}
