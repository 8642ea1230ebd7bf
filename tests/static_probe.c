/*
 * static_probe - a statically linked program (so that it can run in an
 * empty root) that initialises reexec, chroots into the empty directory
 * argv[1] and then spawns one of its functions. Exits 0 when the child ran and
 * returned 5, 2 when chroot is not allowed here, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reexec.h"

static int hello(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 5;
}

int main(int argc, char *argv[])
{
	reexec_cmd *cmd;
	int status = -1;

	reexec_register("hello", hello);
	reexec_init(argc, argv);

	if (argc < 2)
		return 1;
	if (chroot(argv[1]) < 0)
		return errno == EPERM ? 2 : 1;
	if (chdir("/") < 0)
		return 1;
	/* Nothing here: no /proc, no binary, no libraries. */
	cmd = reexec_command("hello", NULL);
	if (!cmd || reexec_run(cmd, &status) < 0) {
		perror("static_probe: reexec_run");
		return 1;
	}
	reexec_cmd_free(cmd);
	return WIFEXITED(status) && WEXITSTATUS(status) == 5 ? 0 : 1;
}
