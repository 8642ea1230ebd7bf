/* Running a child whole: reexec_run() (a start and a wait, or a stop at
 * the deadline), reexec_capture() with its stdin fed from memory
 * and its output collected into memory, all at once, so that no pipe can
 * fill up and block; reexec_call() with an input in and a result back over
 * its channel. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Hand b's bytes to the caller; an empty stream is an empty string. */
static char *buf_take(struct buf *b, size_t *len)
{
	char *data = b->data ? b->data : calloc(1, 1);

	*len = b->len;
	b->data = NULL;
	return data;
}

static int check_flags(int flags)
{
	int known = REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_STDERR |
	            REEXEC_CAPTURE_MERGE;

	if (flags & ~known)
		return -1;
	if ((flags & REEXEC_CAPTURE_MERGE) && (flags & REEXEC_CAPTURE_STDERR))
		return -1;
	return 0;
}

/* Point the command's streams at pipes as cap asks. */
static void plan_streams(struct reexec_cmd *cmd,
                         const struct reexec_capture *cap)
{
	if (cap->input)
		reexec_cmd_stdio_pipe(cmd, 0);
	if (cap->flags & (REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_MERGE))
		reexec_cmd_stdio_pipe(cmd, 1);
	if (cap->flags & REEXEC_CAPTURE_STDERR)
		reexec_cmd_stdio_pipe(cmd, 2);
	if (cap->flags & REEXEC_CAPTURE_MERGE) {
		reexec_cmd_stdio_inherit(cmd, 2);
		cmd->stdio[2].mode = STDIO_MERGE;
	}
}

/* Drop the SIGPIPE our own write raised, unless one was pending before. */
static void swallow_sigpipe(bool was_pending)
{
	const struct timespec zero = {0, 0};
	sigset_t set;

	if (was_pending)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
		;
}

int reexec_capture(reexec_cmd *cmd, struct reexec_capture *cap, int *status)
{
	struct buf out[3] = {{0}};
	struct feed in = {0};
	sigset_t pipe_only, old, pending;
	bool was_pending, timed_out = false, mine;
	int rc, err;

	if (!cap) {
		errno = EINVAL;
		return -1;
	}
	if (cmd_settable(cmd, check_flags(cap->flags) == 0 &&
	                              cap->timeout_ms >= 0) < 0)
		return -1;
	cap->out = cap->err = NULL;
	cap->out_len = cap->err_len = 0;
	plan_streams(cmd, cap);
	if (reexec_start(cmd) < 0)
		return -1;

	in.data = cap->input;
	in.left = cap->input_len;
	for (int i = 0; i < 3; i++)
		if (cmd->pipe_fd[i] >= 0)
			fcntl(cmd->pipe_fd[i], F_SETFL, O_NONBLOCK);
	if (cmd->pipe_fd[0] >= 0 && in.left == 0)
		reexec_pipe_close(cmd, 0);

	/* Writing to a closed pipe must not kill the caller: hold SIGPIPE
	 * back in this thread and drop the one a broken write raises. */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	/* (Another thread may stop it meanwhile: the status comes here all
	 * the same. Reaped before this thread got to it, the child left its
	 * output in the pipes, which the pump takes.) */
	mine = cmd_claim(cmd);
	rc = pump(cmd, &in, out,
	          deadline_after(cap->timeout_ms > 0 ? cap->timeout_ms : -1),
	          PUMP_END);
	err = errno;
	if (in.broken)
		swallow_sigpipe(was_pending);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0 && mine)
		cmd_unclaim(cmd);

	if (rc < 0) {
		cmd_close_pipes(cmd);
		cmd_release_process(cmd);
		goto out;
	}
	timed_out = rc == 1;
	rc = timed_out ? stop_child(cmd, -1, status)
	               : wait_child(cmd, mine, status);
	err = errno;
	if (timed_out && drain_pipes(cmd, out) < 0 && rc == 0) {
		rc = -1;
		err = errno;
	}
	if (rc < 0)
		goto out;
	if (cap->flags & (REEXEC_CAPTURE_STDOUT | REEXEC_CAPTURE_MERGE)) {
		cap->out = buf_take(&out[1], &cap->out_len);
		if (!cap->out)
			rc = -1;
	}
	if (cap->flags & REEXEC_CAPTURE_STDERR) {
		cap->err = buf_take(&out[2], &cap->err_len);
		if (!cap->err)
			rc = -1;
	}
	if (rc < 0) {
		err = ENOMEM;
		timed_out = false;
		free(cap->out);
		free(cap->err);
		cap->out = cap->err = NULL;
		cap->out_len = cap->err_len = 0;
	}
out:
	/* Also what was read from pipes the caller set up but did not ask
	 * to capture. */
	free(out[1].data);
	free(out[2].data);
	if (timed_out) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (rc < 0)
		errno = err;
	return rc;
}

int reexec_call(const char *name, const void *input, size_t input_len,
                void **result, size_t *result_len, int *status)
{
	reexec_cmd *cmd;
	int rc;

	if (!result || !result_len) {
		errno = EINVAL;
		return -1;
	}
	*result = NULL;
	*result_len = 0;
	cmd = reexec_command(name, (char *)NULL);
	if (!cmd)
		return -1;
	rc = reexec_cmd_set_input(cmd, input, input_len);
	if (rc == 0)
		rc = reexec_run(cmd, status);
	if (rc == 0 && stream_complete(&cmd->chan.result))
		reexec_take_result(cmd, result, result_len);
	reexec_cmd_free(cmd);
	return rc;
}

int reexec_run(reexec_cmd *cmd, int *status)
{
	if (reexec_start(cmd) < 0)
		return -1;
	return reexec_wait(cmd, status);
}

int reexec_run_timeout(reexec_cmd *cmd, int timeout_ms, int *status)
{
	if (reexec_start(cmd) < 0)
		return -1;
	if (reexec_wait_timeout(cmd, timeout_ms, status) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		return -1;
	if (stop_child(cmd, -1, status) < 0)
		return -1;
	errno = ETIMEDOUT;
	return -1;
}
