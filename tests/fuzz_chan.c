/* libFuzzer target: the parent's side of a channel, fed hostile bytes over
 * a real socket pair, as a child (or the fork server) could send them.
 *
 * The input: a mode byte, then operations, each a 2-byte length and that
 * many bytes sent as one message on the child's end (0: an empty
 * message), except two lengths that are no message:
 *   0xffff N   send the last message again 2 * N times (a flood)
 *   0xfffe N   attach N % 4 + 1 descriptors to the next message
 * Mode bits:
 *   1  a fork-server start: the first message is the server's answer on
 *      the relay, read as a start reads it (await_answer(), forkserver.c),
 *      and the rest only when that says the child runs
 *   8  (with 1) the rest goes to the relay too, read as a wait reads it
 *      (relay_receive(), pump.c)
 *   2  an input of 64 KiB * (mode >> 4) to send while frames come back
 *   4  the child's end closes before anything is sent
 * A BEGIN frame's total between 1 MiB and REEXEC_DATA_MAX is cut to 1 MiB:
 * under ASan with UBSan a malloc of 1 GiB takes seconds, and the code
 * takes the same path (fuzz_wire.c feeds the limit itself).
 * The parent's reader takes steps (chan_handle()) as frames are sent and
 * whenever the socket is full, then drains to the end and concludes, as a
 * wait does. Checked: no crash, leak or sanitizer report, no descriptor
 * left open, a result never longer than announced, and every message that
 * is no frame (empty, short, malformed) marks the channel broken.
 *   make fuzz   (clang -fsanitize=fuzzer,address,undefined) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* For its static await_answer(): how a start reads the server's answer. */
#include "../src/forkserver.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OP_FLOOD 0xffff
#define OP_FDS 0xfffe
#define BEGIN_CAP ((uint64_t)1 << 20)
#define MAX_MESSAGES 2048 /* in all, floods included: what one run sends */

static unsigned char input[15 << 16];
static int devnull = -1; /* what descriptors sent along are copies of */

/* The lowest free descriptor: it moves when one is left open. */
static int lowest_free(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

/* Send one message of n bytes with nfds descriptors attached; false once
 * the socket will take no more (the reader gave up). */
static bool send_msg(struct reexec_cmd *cmd, int fd, const uint8_t *p, size_t n,
                     int nfds)
{
	struct iovec iov = {(void *)p, n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	int fds[4] = {devnull, devnull, devnull, devnull};

	msg_put_fds(&msg, u.buf, fds, nfds);
	for (int tries = 0; tries < 64; tries++) {
		char sink[FRAME_MAX];

		if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return true;
		if (errno != EAGAIN)
			return false;
		/* Full: the parent takes a step, the child reads input. */
		chan_handle(cmd, POLLIN | POLLOUT);
		(void)recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
	}
	return false;
}

/* The message as sent: p's n bytes, a large BEGIN total cut down. */
static const uint8_t *as_sent(const uint8_t *p, size_t n)
{
	static uint8_t copy[65536];
	uint32_t hdr[2];
	uint64_t total;

	memcpy(copy, p, n);
	if (n != FRAME_HDR + sizeof(total))
		return copy;
	memcpy(hdr, copy, sizeof(hdr));
	memcpy(&total, copy + FRAME_HDR, sizeof(total));
	if (hdr[0] == FRAME_BEGIN && hdr[1] == sizeof(total) &&
	    total > BEGIN_CAP && total <= REEXEC_DATA_MAX) {
		total = BEGIN_CAP;
		memcpy(copy + FRAME_HDR, &total, sizeof(total));
	}
	return copy;
}

/* Is this message no frame at all? */
static bool malformed(const uint8_t *p, size_t n)
{
	struct frame f;

	return n < FRAME_HDR ||
	       frame_decode(p, p + FRAME_HDR, n - FRAME_HDR, &f) < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* (As cmd_create() makes it: no reexec_fd() set.) */
	struct reexec_cmd cmd = {.pidfd = -1,
	                         .relay_fd = -1,
	                         .pipe_fd = {-1, -1, -1},
	                         .watch = {.fd = -1}};
	const uint8_t *last = NULL;
	size_t last_len = 0;
	bool answered = false, bad = false, sending = true;
	int sv[2], rv[2] = {-1, -1}, mode, nfds = 0, sent = 0, free_fd;

	if (devnull < 0)
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	free_fd = lowest_free();
	if (size < 1 || devnull < 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if ((mode & 1) &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rv) < 0)
		abort();
	cmd.state = CMD_RUNNING;
	cmd.via_server = mode & 1;
	cmd.chan.fd = sv[0];
	if (mode & 2) {
		cmd.chan.in = input;
		cmd.chan.in_len = (size_t)(mode >> 4) << 16;
	}
	chan_started(&cmd);
	if (mode & 4)
		sending = false;
	while (sending && size >= 2 && sent++ < MAX_MESSAGES) {
		size_t n = (size_t)data[0] | (size_t)data[1] << 8;
		/* Where it goes: the relay's answer first, then the channel
		 * (or, with mode 8, the relay again). */
		bool relay = cmd.via_server && (!answered || (mode & 8));
		int to = relay ? rv[1] : sv[1];

		data += 2;
		size -= 2;
		if ((n == OP_FLOOD || n == OP_FDS) && size >= 1) {
			int k = data[0];

			data++;
			size--;
			if (n == OP_FDS) {
				nfds = k % 4 + 1;
				continue;
			}
			for (int i = 0; last && sending && i < 2 * k &&
			                sent++ < MAX_MESSAGES;
			     i++)
				sending = send_msg(&cmd, to, last, last_len, 0);
			continue;
		}
		if (n > size)
			n = size;
		last = as_sent(data, n);
		last_len = n;
		sending = send_msg(&cmd, to, last, n, nfds);
		if (sending && !relay && (nfds || malformed(last, n)))
			bad = true;
		nfds = 0;
		data += n;
		size -= n;
		if (cmd.via_server && !answered) {
			pid_t pid = 0;

			/* A start: the answer, or the start fails. */
			if (await_answer(rv[0], &pid) < 0)
				break;
			if (pid <= 0)
				abort();
			answered = true;
			cmd.relay_fd = rv[0];
			rv[0] = -1;
		} else if (relay) {
			relay_receive(&cmd);
		} else if (size % 3 == 0) {
			chan_handle(&cmd, POLLIN);
		}
	}
	close(sv[1]);
	if (rv[1] >= 0)
		close(rv[1]);
	if (rv[0] >= 0)
		close(rv[0]);
	relay_receive(&cmd);
	/* The child has ended: what it left, then the wait's conclusion. */
	chan_drain(&cmd);
	cmd.state = CMD_REAPED;
	cmd.status = cmd.chan.has_exit ? cmd.chan.exit_status : 0;
	(void)chan_conclude(&cmd, 0);
	if (bad && !cmd.chan.broken)
		abort();
	if (cmd.chan.result.begun &&
	    cmd.chan.result.len > cmd.chan.result.total)
		abort();
	if (stream_complete(&cmd.chan.result) &&
	    cmd.chan.result.data[cmd.chan.result.total] != '\0')
		abort();
	chan_release(&cmd);
	if (cmd.relay_fd >= 0)
		close(cmd.relay_fd);
	if (lowest_free() != free_fd)
		abort();
	return 0;
}
