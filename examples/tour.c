/*
 * tour - the README's API tour: register, dispatch, build a command with
 * arguments, environment and working directory, then run it with stdin fed
 * from memory and stdout and stderr collected.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <reexec.h>

/* Runs in the child: argv[0] is "shout", then the arguments. */
static int shout(int argc, char *argv[])
{
	char line[256];

	printf("%s got %d argument(s)\n", argv[0], argc - 1);
	while (fgets(line, sizeof(line), stdin))
		for (char *p = line; *p; p++)
			putchar(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	fprintf(stderr, "HOME=%s\n", getenv("HOME"));
	return 7;
}

int main(int argc, char *argv[])
{
	/* 1. Register, then dispatch: a child never returns from here. */
	reexec_register("shout", shout);
	reexec_init(argc, argv);

	/* 2. Build a command: name, arguments, settings. */
	reexec_cmd *cmd = reexec_command("shout", "one", "two", NULL);
	if (!cmd) {
		perror("reexec_command"); /* ENOENT: "shout" not registered */
		return 1;
	}
	reexec_cmd_setenv(cmd, "HOME", "/nowhere");
	reexec_cmd_set_dir(cmd, "/tmp");

	/* 3. Run it with stdin fed from memory and stdout/stderr collected. */
	struct reexec_capture cap = {
	        .flags = REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_STDERR,
	        .input = "hello\nworld\n",
	        .input_len = 12,
	};
	int status;
	if (reexec_capture(cmd, &cap, &status) < 0) {
		perror("reexec_capture");
		reexec_cmd_free(cmd);
		return 1;
	}
	printf("stdout: %s",
	       cap.out); /* "shout got 2 argument(s)\nHELLO\nWORLD\n" */
	printf("stderr: %s", cap.err); /* "HOME=/nowhere\n" */
	if (WIFEXITED(status))
		printf("exit status %d\n", WEXITSTATUS(status)); /* 7 */
	free(cap.out);
	free(cap.err);
	reexec_cmd_free(cmd);
	return 0;
}
