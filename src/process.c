/* Running and reaping the child. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>

#include "internal.h"

/* Block until the child ends; reap it and keep its status. */
int wait_child(struct reexec_cmd *cmd, int *status)
{
	int st;
	pid_t got;

	do
		got = waitpid(cmd->pid, &st, 0);
	while (got < 0 && errno == EINTR);
	cmd->state = CMD_REAPED;
	if (got < 0) {
		/* Someone else reaped it; never touch that pid again. */
		cmd->lost = true;
		return -1;
	}
	cmd->status = st;
	if (status)
		*status = st;
	return 0;
}

int reexec_start(reexec_cmd *cmd)
{
	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	if (cmd->state != CMD_NEW) {
		errno = EBUSY;
		return -1;
	}
	return spawn_child(cmd);
}

int reexec_wait(reexec_cmd *cmd, int *status)
{
	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	switch (cmd->state) {
	case CMD_NEW:
		errno = ECHILD;
		return -1;
	case CMD_RUNNING:
		return wait_child(cmd, status);
	case CMD_REAPED:
		break;
	}
	if (cmd->lost) {
		errno = ECHILD;
		return -1;
	}
	if (status)
		*status = cmd->status;
	return 0;
}

int reexec_run(reexec_cmd *cmd, int *status)
{
	if (reexec_start(cmd) < 0)
		return -1;
	return reexec_wait(cmd, status);
}
