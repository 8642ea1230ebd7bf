/* The channel: a private SOCK_SEQPACKET socket pair between a command and
 * its child, created for every start. This file is the parent's side
 * (child.c is the child's): it sends the command's input, and takes in
 * what the child reports (that it accepted the dispatch, that it is
 * ready, its result, the function's return value, or why it refused).
 *
 * The parent never blocks on the channel: sends and receives are
 * non-blocking, driven by the poll loop in pump.c whenever the caller
 * waits. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* The most one step of a wait moves each way, in bytes and in frames: a
 * wait looks at its deadline between steps, so that it keeps it however
 * much there is to move. One full DATA frame is one step. */
#define STEP_BYTES FRAME_CHUNK
#define STEP_FRAMES 64

static bool input_pending(const struct chan *ch)
{
	return !ch->begin_sent || ch->in_sent < ch->in_len;
}

/* Credentials on every message received, so that frame_recv() can tell
 * an empty message from the end. Not while the input is being sent: a
 * socket with SO_PASSCRED that sends is bound to an abstract address. */
static void pass_credentials(struct chan *ch, bool on)
{
#ifdef SO_PASSCRED
	int v = on;

	if (ch->creds != on &&
	    setsockopt(ch->fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)) == 0)
		ch->creds = on;
#else
	(void)ch;
	(void)on;
#endif
}

/* Send what the socket takes now of the input, at most budget bytes of
 * it (at least one frame). */
static void send_input(struct chan *ch, size_t budget)
{
	size_t moved = 0;

	if (ch->fd >= 0 && input_pending(ch))
		pass_credentials(ch, false);
	while (ch->fd >= 0 && input_pending(ch) && moved < budget) {
		uint64_t total = ch->in_len;
		size_t n = ch->in_len - ch->in_sent;
		int rc;

		if (n > FRAME_CHUNK)
			n = FRAME_CHUNK;
		rc = ch->begin_sent
		             ? frame_send(ch->fd, FRAME_DATA,
		                          ch->in + ch->in_sent, n, MSG_DONTWAIT)
		             : frame_send(ch->fd, FRAME_BEGIN, &total,
		                          sizeof(total), MSG_DONTWAIT);
		if (rc < 0 && errno == EAGAIN)
			return;
		if (rc < 0) {
			/* The child stopped listening: nothing more to send;
			 * what it says, and its status, tell the rest. */
			ch->begin_sent = true;
			ch->in_sent = ch->in_len;
			return;
		}
		if (ch->begin_sent) {
			ch->in_sent += n;
			moved += FRAME_HDR + n;
		}
		ch->begin_sent = true;
	}
}

static void close_chan(struct reexec_cmd *cmd)
{
	struct chan *ch = &cmd->chan;

	watch_forget(cmd, ch->fd);
	close_keep_errno(ch->fd);
	ch->fd = -1;
	ch->creds = false;
}

/* The channel is broken beyond use: remember why. What comes after is
 * read and dropped (so a child still writing cannot block). */
static void broken(struct chan *ch, int err)
{
	if (!ch->err)
		ch->err = err;
	ch->broken = true;
}

static void take(struct reexec_cmd *cmd, const struct frame *f)
{
	struct chan *ch = &cmd->chan;
	int v;

	if (ch->broken)
		return;
	switch (f->type) {
	case FRAME_READY:
		/* (A thread in reexec_wait_ready() may be waiting for it
		 * while another moves the data.) */
		cmd_lock(cmd);
		ch->ready = true;
		cmd_changed(cmd);
		cmd_unlock(cmd);
		break;
	case FRAME_STARTED:
		ch->started = true;
		break;
	case FRAME_BARRIER:
		ch->barrier = true;
		break;
	case FRAME_FAILED: {
		int32_t w[2];

		memcpy(w, f->body, sizeof(w));
		ch->failed_step = w[0];
		broken(ch, w[1] > 0 && w[1] < 4096 ? w[1] : EPROTO);
		break;
	}
	case FRAME_STATUS:
		ch->code = frame_int(f);
		ch->peak = status_peak(f);
		ch->has_status = true;
		break;
	case FRAME_ERROR:
		v = frame_int(f);
		broken(ch, v > 0 && v < 4096 ? v : EPROTO);
		break;
	case FRAME_EXIT:
	case FRAME_FORKED:
	case FRAME_ATTRS:
	case FRAME_GO:
		/* The parent's words, and the fork server's, which come on the relay only: a
		 * child that sends them is trying to speak for it. */
		broken(ch, EPROTO);
		break;
	case FRAME_BEGIN:
	case FRAME_DATA:
		if (stream_feed(&ch->result, f) < 0)
			broken(ch, errno);
		break;
	}
}

/* Take the frames there are now, up to budget bytes' worth (at least
 * one frame) and max_frames of them; close the channel at its end. */
static void receive(struct reexec_cmd *cmd, size_t budget, long max_frames)
{
	struct chan *ch = &cmd->chan;
	size_t moved = 0;
	long frames = 0;
	struct frame f;

	if (ch->fd < 0)
		return;
	pass_credentials(ch, true);
	while (ch->fd >= 0 && moved < budget && frames++ < max_frames) {
		int rc = frame_recv(ch->fd, &ch->result, MSG_DONTWAIT, &f);

		if (rc > 0) {
			moved += FRAME_HDR + f.len;
			take(cmd, &f);
			continue;
		}
		if (rc < 0 && errno == EAGAIN)
			break;
		if (rc < 0 && errno == EPROTO)
			broken(ch, EPROTO);
		else
			close_chan(cmd);
	}
}

/* The attributes, a stream of their own ahead of the input, are sent
 * whole and at once: the child reads them before anything else. */
static void send_attrs(struct reexec_cmd *cmd)
{
	const unsigned char *p = cmd->attr_out;
	uint64_t total = cmd->attr_out_len;
	size_t left = cmd->attr_out_len;
	int rc;

	rc = frame_send(cmd->chan.fd, FRAME_ATTRS, &total, sizeof(total), 0);
	while (rc == 0 && left > 0) {
		size_t n = left < FRAME_CHUNK ? left : FRAME_CHUNK;

		rc = frame_send(cmd->chan.fd, FRAME_DATA, p, n, 0);
		p += n;
		left -= n;
	}
	/* (A child that stopped listening tells why itself.) */
}

void chan_started(struct reexec_cmd *cmd)
{
	if (cmd->attr_out && cmd->chan.fd >= 0)
		send_attrs(cmd);
	send_input(&cmd->chan, SIZE_MAX);
}

short chan_events(const struct reexec_cmd *cmd)
{
	return POLLIN | (input_pending(&cmd->chan) ? POLLOUT : 0);
}

/* One step: a bounded amount moved each way. */
void chan_handle(struct reexec_cmd *cmd, short revents)
{
	if (revents & POLLOUT)
		send_input(&cmd->chan, STEP_BYTES);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		receive(cmd, STEP_BYTES, STEP_FRAMES);
}

/* The child has ended: take what it left, and close. What comes later
 * (from a process it left behind with the channel) is not read. */
void chan_drain(struct reexec_cmd *cmd)
{
	receive(cmd, SIZE_MAX, LONG_MAX);
	close_chan(cmd);
}

/* Called once the child has been reaped (rc 0) or could not be (rc -1,
 * cmd->lost): settle what its wait reports. The status the function
 * returned, sent over the channel, stands in for one the caller's
 * process took from us; a child that ended on its own but refused to run
 * the function, never reached it (it said neither why nor that the
 * function starts: the dynamic loader failed, say, with status 127), or
 * left its result unfinished, is an error, with its status still
 * stored. */
int chan_conclude(struct reexec_cmd *cmd, int rc)
{
	struct chan *ch = &cmd->chan;

	chan_drain(cmd);
	watch_sync(cmd); /* reaped: nothing left to watch */
	if (rc < 0 && cmd->lost && ch->has_status) {
		cmd->lost = false;
		cmd->status = (ch->code & 0xff) << 8;
		rc = 0;
	}
	if (rc < 0)
		return -1;
	if (WIFEXITED(cmd->status)) {
		if (ch->err)
			cmd->wait_err = ch->err;
		else if (!ch->started)
			cmd->wait_err = ENOEXEC;
		else if (ch->result.begun && !stream_complete(&ch->result))
			cmd->wait_err = EPROTO;
	}
	if (cmd->wait_err) {
		errno = cmd->wait_err;
		return -1;
	}
	return 0;
}

void chan_release(struct reexec_cmd *cmd)
{
	close_chan(cmd);
	stream_free(&cmd->chan.result);
}

int reexec_cmd_set_input(reexec_cmd *cmd, const void *data, size_t len)
{
	if (cmd_settable(cmd, data || len == 0) < 0)
		return -1;
	if (len > REEXEC_DATA_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	cmd->chan.in = data;
	cmd->chan.in_len = len;
	return 0;
}

int reexec_wait_ready(reexec_cmd *cmd, int timeout_ms)
{
	long long deadline = deadline_after(timeout_ms);
	int rc = 0;

	if (reexec_pid(cmd) < 0) /* EINVAL, or ECHILD: never started */
		return -1;
	/* The data moves in one thread at a time (see process.c): in this
	 * one, or in the one that waits already, which says when the child
	 * is ready or has been reaped. */
	cmd_lock(cmd);
	while (!cmd->chan.ready && cmd->state == CMD_RUNNING && rc == 0) {
		if (!cmd->busy) {
			cmd->busy = true;
			cmd_unlock(cmd);
			rc = pump(cmd, NULL, NULL, deadline, PUMP_READY);
			cmd_lock(cmd);
			cmd->busy = false;
			cmd_changed(cmd);
			break;
		}
		if (cmd_sleep(cmd, deadline) == ETIMEDOUT)
			rc = 1;
	}
	if (!cmd->chan.ready && rc >= 0)
		errno = rc == 1         ? ETIMEDOUT
		        : cmd->chan.err ? cmd->chan.err
		                        : ESRCH;
	rc = cmd->chan.ready ? 0 : -1;
	cmd_unlock(cmd);
	return rc;
}

int reexec_take_result(reexec_cmd *cmd, void **data, size_t *len)
{
	struct stream *r;
	int rc = 0;

	if (!cmd || !data || !len) {
		errno = EINVAL;
		return -1;
	}
	/* (Another thread may be reaping it, or taking it too.) */
	cmd_lock(cmd);
	r = &cmd->chan.result;
	if (cmd->state != CMD_REAPED) {
		errno = cmd->state == CMD_NEW ? ECHILD : EBUSY;
		rc = -1;
	} else if (!stream_complete(r)) {
		errno = ENODATA;
		rc = -1;
	} else {
		*data = r->data;
		*len = r->total;
		*r = (struct stream){0};
	}
	cmd_unlock(cmd);
	return rc;
}
