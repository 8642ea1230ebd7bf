/* The child's descriptors: stdio and extra fds, and the caller's pipe ends.
 *
 * Every source descriptor is first copied, close-on-exec, to a number at or
 * above the highest the child will use. The spawn then only has to dup2
 * each copy down to its place (dup2 clears close-on-exec on the target):
 * no copy can be overwritten by another's dup2, whatever the caller's
 * arrangement (stdout and stderr swapped, fd 3 handed on as 4), and
 * everything from that number up can simply be closed in the child. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* A close-on-exec copy of fd at or above min; owned fds are consumed. */
static int high_copy(int fd, int min, bool owned)
{
	int copy;

	if (owned && fd >= min)
		return fd;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (owned)
		close_keep_errno(fd);
	return copy;
}

/* The child's end of stream's descriptor, before it is copied high; sets
 * *owned when the plan made it. Returns -1 with errno set on failure. */
static int stdio_source(struct reexec_cmd *cmd, struct fd_plan *plan,
                        int stream, bool *owned)
{
	const struct stdio_spec *s = &cmd->stdio[stream];
	int p[2];

	*owned = true;
	switch (s->mode) {
	case STDIO_NULL:
		return open("/dev/null",
		            (stream == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
	case STDIO_PIPE:
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		plan->parent_end[stream] = stream == 0 ? p[1] : p[0];
		return stream == 0 ? p[0] : p[1];
	case STDIO_FILE:
		return open(s->path, s->flags | O_CLOEXEC, s->perm);
	case STDIO_FD:
		*owned = false;
		return s->fd;
	case STDIO_MERGE:
		*owned = false;
		return plan->src[1] >= 0 ? plan->src[1] : 1;
	case STDIO_INHERIT:
		break;
	}
	errno = EINVAL;
	return -1;
}

int fd_plan_make(struct reexec_cmd *cmd, struct fd_plan *plan)
{
	int fd, sv[2];
	bool owned;

	if (cmd->extra_nfd < 0) {
		errno = EINVAL;
		return -1;
	}
	plan->nfd = 3 + cmd->extra_nfd;
	plan->watch_slot = cmd->parent_death ? plan->nfd++ : -1;
	plan->chan_slot = plan->nfd++;
	plan->chan_end = -1;
	for (int i = 0; i < 3; i++)
		plan->parent_end[i] = -1;
	plan->src = calloc((size_t)plan->nfd, sizeof(*plan->src));
	if (!plan->src)
		return -1;
	for (int i = 0; i < plan->nfd; i++)
		plan->src[i] = -1;

	for (int i = 0; i < 3; i++) {
		if (cmd->stdio[i].mode == STDIO_INHERIT)
			continue;
		fd = stdio_source(cmd, plan, i, &owned);
		if (fd < 0)
			goto fail;
		plan->src[i] = high_copy(fd, plan->nfd, owned);
		if (plan->src[i] < 0)
			goto fail;
	}
	for (int i = 0; i < cmd->extra_nfd; i++) {
		plan->src[3 + i] =
		        high_copy(cmd->extra_fd[i], plan->nfd, false);
		if (plan->src[3 + i] < 0)
			goto fail;
	}
	if (cmd->parent_death) {
		fd = parent_watch_fd();
		if (fd < 0)
			goto fail;
		plan->src[plan->watch_slot] = high_copy(fd, plan->nfd, false);
		if (plan->src[plan->watch_slot] < 0)
			goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	plan->chan_end = sv[0];
	plan->src[plan->chan_slot] = high_copy(sv[1], plan->nfd, true);
	if (plan->src[plan->chan_slot] < 0)
		goto fail;
	return 0;
fail:
	fd_plan_release(plan, false);
	return -1;
}

/* Close the plan's copies; the pipe and channel ends go to cmd when
 * started, else are closed too. */
void fd_plan_release(struct fd_plan *plan, bool started)
{
	for (int i = 0; plan->src && i < plan->nfd; i++)
		close_keep_errno(plan->src[i]);
	free(plan->src);
	plan->src = NULL;
	if (started)
		return;
	for (int i = 0; i < 3; i++)
		close_keep_errno(plan->parent_end[i]);
	close_keep_errno(plan->chan_end);
}

void cmd_close_pipes(struct reexec_cmd *cmd)
{
	for (int i = 0; i < 3; i++) {
		close_keep_errno(cmd->pipe_fd[i]);
		cmd->pipe_fd[i] = -1;
	}
}

int reexec_pipe(const reexec_cmd *cmd, int stream)
{
	if (!cmd || stream < 0 || stream > 2) {
		errno = EINVAL;
		return -1;
	}
	if (cmd->pipe_fd[stream] < 0) {
		errno = EBADF;
		return -1;
	}
	return cmd->pipe_fd[stream];
}

int reexec_pipe_close(reexec_cmd *cmd, int stream)
{
	int fd = reexec_pipe(cmd, stream);

	if (fd < 0)
		return -1;
	cmd->pipe_fd[stream] = -1;
	return close(fd);
}
