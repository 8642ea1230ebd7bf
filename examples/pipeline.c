/*
 * pipeline - one child's stdout piped into another child's stdin, the way
 * a shell runs "produce | count": the parent makes the pipe, hands each
 * end to one child, closes its own copies, and waits for both.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reexec.h>

/* produce N: N numbered lines on stdout. */
static int produce(int argc, char *argv[])
{
	int n = argc > 1 ? atoi(argv[1]) : 10;

	for (int i = 1; i <= n; i++)
		printf("line %d\n", i);
	return 0;
}

/* count: the number of lines and bytes on stdin. */
static int count(int argc, char *argv[])
{
	long lines = 0, bytes = 0;
	int c;

	(void)argc;
	(void)argv;
	while ((c = getchar()) != EOF) {
		bytes++;
		lines += c == '\n';
	}
	printf("%ld lines, %ld bytes\n", lines, bytes);
	return 0;
}

int main(int argc, char *argv[])
{
	reexec_register("produce", produce);
	reexec_register("count", count);
	reexec_init(argc, argv);

	int p[2];
	if (pipe(p) < 0) {
		perror("pipe");
		return 1;
	}
	reexec_cmd *left = reexec_command("produce", "1000", NULL);
	reexec_cmd *right = reexec_command("count", NULL);
	if (!left || !right) {
		perror("reexec_command");
		return 1;
	}
	reexec_cmd_stdio_fd(left, STDOUT_FILENO, p[1]);
	reexec_cmd_stdio_fd(right, STDIN_FILENO, p[0]);
	if (reexec_start(left) < 0 || reexec_start(right) < 0) {
		perror("reexec_start");
		return 1;
	}
	/* The children have their own copies; ours would keep the pipe open
	 * and count would never see its end. */
	close(p[0]);
	close(p[1]);

	int ls, rs;
	if (reexec_wait(left, &ls) < 0 || reexec_wait(right, &rs) < 0) {
		perror("reexec_wait");
		return 1;
	}
	printf("produce exited %d, count exited %d\n", WEXITSTATUS(ls),
	       WEXITSTATUS(rs));
	reexec_cmd_free(left);
	reexec_cmd_free(right);
	return 0;
}
