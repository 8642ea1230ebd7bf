/* Running a child with its stdin fed from memory and its output collected
 * into memory, all at once, so that no pipe can fill up and block. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define READ_CHUNK 65536

struct buf {
	char *data;
	size_t len, cap;
};

/* Read what fd has into b: 1 when something was read, 2 when nothing is
 * there yet, 0 at end-of-file, -1 on error. */
static int buf_read(struct buf *b, int fd)
{
	ssize_t n;

	if (b->cap - b->len < READ_CHUNK + 1) {
		size_t want = b->cap ? b->cap * 2 : (size_t)READ_CHUNK * 2;
		char *grown;

		while (want - b->len < READ_CHUNK + 1)
			want *= 2;
		grown = realloc(b->data, want);
		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		b->data = grown;
		b->cap = want;
		b->data[b->len] = '\0';
	}
	do
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 2 : -1;
	b->len += (size_t)n;
	b->data[b->len] = '\0';
	return n > 0;
}

/* Take what the output pipes hold now, then close them: the child is gone,
 * and whatever still holds their write ends (a daemon it started, say) is
 * not waited for. */
static int drain(struct reexec_cmd *cmd, struct buf out[3])
{
	int rc = 0;

	for (int i = 1; i < 3; i++) {
		int r;

		if (cmd->pipe_fd[i] < 0)
			continue;
		while ((r = buf_read(&out[i], cmd->pipe_fd[i])) == 1)
			;
		if (r < 0)
			rc = -1;
	}
	cmd_close_pipes(cmd);
	return rc;
}

/* Hand b's bytes to the caller; an empty stream is an empty string. */
static char *buf_take(struct buf *b, size_t *len)
{
	char *data = b->data ? b->data : calloc(1, 1);

	*len = b->len;
	b->data = NULL;
	return data;
}

struct feed {
	const char *data;
	size_t left;
	bool broken; /* the child closed its stdin: a SIGPIPE is pending */
};

/* Write what the pipe takes; 1 while input is left, 0 when done. */
static int feed_write(struct feed *f, int fd)
{
	ssize_t n;

	do
		n = write(fd, f->data, f->left);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return 1;
		if (errno != EPIPE)
			return -1;
		f->broken = true;
		f->left = 0;
		return 0;
	}
	f->data += n;
	f->left -= (size_t)n;
	return f->left > 0;
}

/* Move data until every pipe is closed or the child has exited. Without
 * a pidfd to poll, look at the child between polls of at most a few tens
 * of milliseconds. Returns 0, 1 when the deadline passed first, or -1 with
 * errno set. */
static int pump(struct reexec_cmd *cmd, struct feed *in, struct buf out[3],
                long long deadline)
{
	struct pollfd pfd[4];
	int stream[4], look = 1;

	for (;;) {
		nfds_t n = 0;
		int rc, ready, wait_ms;

		for (int i = 0; i < 3; i++) {
			if (cmd->pipe_fd[i] < 0)
				continue;
			pfd[n].fd = cmd->pipe_fd[i];
			pfd[n].events = i == 0 ? POLLOUT : POLLIN;
			stream[n++] = i;
		}
		if (n == 0)
			return 0;
		if (cmd->pidfd >= 0) {
			pfd[n].fd = cmd->pidfd;
			pfd[n].events = POLLIN;
			stream[n++] = 3;
		}
		for (nfds_t k = 0; k < n; k++)
			pfd[k].revents = 0;
		wait_ms = ms_left(deadline);
		if (cmd->pidfd < 0 && (wait_ms < 0 || wait_ms > look))
			wait_ms = look;
		ready = poll(pfd, n, wait_ms);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (ready == 0 && ms_left(deadline) == 0)
			return 1;
		if (cmd->pidfd < 0 && child_exited(cmd))
			return drain(cmd, out);
		if (ready == 0) {
			if (look < 50)
				look *= 2;
			continue;
		}
		for (nfds_t k = 0; k < n; k++) {
			int i = stream[k];

			if (!pfd[k].revents)
				continue;
			if (i == 3)
				return drain(cmd, out);
			rc = i == 0 ? feed_write(in, pfd[k].fd)
			            : buf_read(&out[i], pfd[k].fd);
			if (rc < 0)
				return -1;
			if (rc == 0)
				reexec_pipe_close(cmd, i);
		}
	}
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
	bool was_pending, timed_out = false;
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
	rc = pump(cmd, &in, out,
	          deadline_after(cap->timeout_ms > 0 ? cap->timeout_ms : -1));
	err = errno;
	if (in.broken)
		swallow_sigpipe(was_pending);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (rc < 0) {
		cmd_close_pipes(cmd);
		cmd_release_process(cmd);
		goto out;
	}
	timed_out = rc == 1;
	rc = timed_out ? stop_child(cmd, -1, status) : wait_child(cmd, status);
	err = errno;
	if (timed_out && drain(cmd, out) < 0 && rc == 0) {
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
