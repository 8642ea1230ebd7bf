/* Moving data between the caller and a running child: the caller's end of
 * the child's stdio pipes (for reexec_capture) and the channel (for every
 * wait), all in one poll loop so that nothing can fill up and block. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "trace.h"

#define READ_CHUNK 65536

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

/* Take what the output pipes hold now, then close them: the child is gone,
 * and whatever still holds their write ends (a daemon it started, say) is
 * not waited for. */
int drain_pipes(struct reexec_cmd *cmd, struct buf out[3])
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

/* The child has exited: everything it wrote is in the pipes and the
 * channel already. */
static int drain_all(struct reexec_cmd *cmd, struct buf out[3])
{
	int rc = out ? drain_pipes(cmd, out) : 0;

	chan_drain(cmd);
	return rc;
}

static bool done(const struct reexec_cmd *cmd, enum pump_until until)
{
	if (until == PUMP_READY)
		return cmd->chan.ready || cmd->chan.fd < 0;
	if (until == PUMP_STARTED)
		return cmd->chan.started || cmd->chan.barrier ||
		       cmd->chan.broken || cmd->chan.fd < 0;
	/* The fork server's child has ended when the server says so (or is
	 * gone). Our own child when its pidfd (or waitid) says so, not when
	 * its function has returned: exit handlers may still send, and would
	 * block with no one reading. */
	return cmd->via_server && (cmd->chan.has_exit || cmd->relay_fd < 0);
}

enum { SLOT_PIDFD = 3, SLOT_CHAN, SLOT_RELAY };

/* The server's word on a child it made, from the relay: its wait status
 * and resource usage once it has reaped it. At end-of-file (the server is gone) the relay is
 * closed and the status stays unknown. */
void relay_receive(struct reexec_cmd *cmd)
{
	while (cmd->relay_fd >= 0) {
		struct stream s = {0};
		struct frame f;
		int rc = frame_recv(cmd->relay_fd, &s, MSG_DONTWAIT, &f);

		if (rc < 0 && errno == EAGAIN)
			return;
		if (rc > 0 && f.type == FRAME_EXIT) {
			cmd->chan.exit_status = exit_decode(&f, &cmd->usage);
			cmd->chan.has_exit = true;
			TRACE(T_WOKE);
		}
		if (rc > 0 && !cmd->chan.has_exit)
			continue; /* (nothing else is expected) */
		watch_forget(cmd, cmd->relay_fd);
		close_keep_errno(cmd->relay_fd);
		cmd->relay_fd = -1;
	}
}

/* Move data until the pipes (when out is given) and the channel are
 * closed, the child has exited or, for PUMP_READY, the child said it is
 * ready. Each round moves a bounded amount (one read or write per pipe,
 * a step of the channel) and then looks at the deadline, so that a
 * deadline holds however much is moving; a deadline that has passed
 * already (timeout 0) gives one round. Without a pidfd to poll, look at
 * the child between polls of at most a few tens of milliseconds.
 * Returns 0, 1 when the deadline passed first, or -1 with errno set. */
static int rounds(struct reexec_cmd *cmd, struct feed *in, struct buf out[3],
                  long long deadline, enum pump_until until)
{
	struct pollfd pfd[6];
	int slot[6], look = 1;
	bool pipes = in && out; /* capture's, or none for a plain wait */

	if (cmd->state != CMD_RUNNING)
		return drain_all(cmd, out);
	for (bool first = true;; first = false) {
		nfds_t n = 0;
		int rc, ready, wait_ms;

		if (!pipes && done(cmd, until))
			return 0;
		if (!first && ms_left(deadline) == 0)
			return 1;
		for (int i = 0; pipes && i < 3; i++) {
			if (cmd->pipe_fd[i] < 0)
				continue;
			pfd[n].fd = cmd->pipe_fd[i];
			pfd[n].events = i == 0 ? POLLOUT : POLLIN;
			slot[n++] = i;
		}
		if (cmd->chan.fd >= 0) {
			pfd[n].fd = cmd->chan.fd;
			pfd[n].events = chan_events(cmd);
			slot[n++] = SLOT_CHAN;
		}
		/* The fork server's child has ended when the server says so,
		 * with its status, on the relay. */
		if (cmd->relay_fd >= 0) {
			pfd[n].fd = cmd->relay_fd;
			pfd[n].events = POLLIN;
			slot[n++] = SLOT_RELAY;
		}
		if (n == 0)
			return 0;
		if (cmd->pidfd >= 0 && !cmd->via_server) {
			pfd[n].fd = cmd->pidfd;
			pfd[n].events = POLLIN;
			slot[n++] = SLOT_PIDFD;
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
		if (cmd->pidfd < 0 && child_exited(cmd))
			return drain_all(cmd, out);
		if (ready == 0) {
			if (look < 50)
				look *= 2;
			continue;
		}
		for (nfds_t k = 0; k < n; k++) {
			int i = slot[k];

			if (!pfd[k].revents)
				continue;
			if (i == SLOT_PIDFD)
				return drain_all(cmd, out);
			if (i == SLOT_CHAN) {
				chan_handle(cmd, pfd[k].revents);
				continue;
			}
			if (i == SLOT_RELAY) {
				relay_receive(cmd);
				if (cmd->chan.has_exit || cmd->relay_fd < 0)
					return drain_all(cmd, out);
				continue;
			}
			if (!pipes)
				continue;
			rc = i == 0 ? feed_write(in, pfd[k].fd)
			            : buf_read(&out[i], pfd[k].fd);
			if (rc < 0)
				return -1;
			if (rc == 0)
				reexec_pipe_close(cmd, i);
		}
	}
}

/* The rounds, then reexec_fd()'s set brought up to date with what they
 * moved: the input sent, descriptors closed. */
int pump(struct reexec_cmd *cmd, struct feed *in, struct buf out[3],
         long long deadline, enum pump_until until)
{
	int rc = rounds(cmd, in, out, deadline, until);

	watch_sync(cmd); /* (keeps errno) */
	return rc;
}
