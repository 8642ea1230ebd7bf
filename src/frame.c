/* Messages on the library's sockets (the channel, the fork server's
 * socket and relays): frames of a type and a body, and descriptors passed
 * with them. Plain I/O on a descriptor; what the frames mean is for their
 * readers (channel.c, child.c, forkserver.c, server.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0
#endif

int frame_send(int fd, enum frame_type type, const void *body, size_t len,
               int flags)
{
	unsigned char hdr[FRAME_HDR];
	struct iovec iov[2] = {{hdr, FRAME_HDR}, {(void *)body, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	frame_header(hdr, type, len);
	do
		n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

void msg_put_fds(struct msghdr *msg, void *buf, const int *fds, int n)
{
	struct cmsghdr *c;

	if (n <= 0)
		return;
	/* (Its padding too: the kernel is given every byte.) */
	memset(buf, 0, CMSG_SPACE(sizeof(int) * (size_t)n));
	msg->msg_control = buf;
	msg->msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
}

int msg_take_fds(struct msghdr *msg, int *fds, int max)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i,
			       sizeof(fd));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd); /* more than asked for */
		}
	}
	return n;
}

/* Close the descriptors msg carries; were there any? */
static bool drop_fds(struct msghdr *msg)
{
	int fds[4], n = msg_take_fds(msg, fds, 4);

	for (int i = 0; i < n; i++)
		close(fds[i]);
	return n > 0;
}

/* Receive one frame. The body of a DATA frame for s lands in place; other
 * bodies are at most EXIT_BODY bytes and land in s->small. Returns 1, 0 at
 * end-of-file, or -1 with errno set: EAGAIN (with MSG_DONTWAIT) or EPROTO
 * when what arrived is no frame.
 *
 * On a SOCK_SEQPACKET socket an empty message reads as end-of-file does
 * (0 bytes); with SO_PASSCRED set (the parent's receive() sets it) a
 * message, empty or not, comes with the sender's credentials and the end
 * with none, which tells them apart: an empty message is no frame. */
int frame_recv(int fd, struct stream *s, int flags, struct frame *f)
{
	unsigned char hdr[FRAME_HDR];
	struct iovec iov[2] = {{hdr, FRAME_HDR}, {s->small, sizeof(s->small)}};
	union { /* room for the credentials (3 ints), not for descriptors */
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	bool message;
	ssize_t n;

	if (s->begun && s->len < s->total) {
		size_t left = s->total - s->len;

		if (left >= sizeof(s->small)) {
			iov[1].iov_base = s->data + s->len;
			iov[1].iov_len =
			        left < FRAME_CHUNK ? left : FRAME_CHUNK;
		}
	}
	/* ECONNRESET: the peer closed its end with frames of ours unread.
	 * It is reported once, ahead of what is still queued for us. */
	do {
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);
	} while (n < 0 && (errno == EINTR || errno == ECONNRESET));
	if (n < 0)
		return -1;
	message = msg.msg_controllen > 0;
	/* Descriptors attached: not ours to keep. */
	if (drop_fds(&msg) || (msg.msg_flags & MSG_CTRUNC))
		goto bad;
	if (n == 0 && !message)
		return 0;
	/* Too long for what we expect, or empty. */
	if ((msg.msg_flags & MSG_TRUNC) || n < FRAME_HDR)
		goto bad;
	if (frame_decode(hdr, iov[1].iov_base, (size_t)n - FRAME_HDR, f) < 0)
		return -1;
	return 1;
bad:
	errno = EPROTO;
	return -1;
}
