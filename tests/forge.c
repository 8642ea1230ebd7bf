/* forge - start a program the way an attacker (or a broken parent) would:
 * with any argv[0], and with a channel of our own making.
 *
 *   forge MODE PROGRAM NAME [ARGS...]
 *
 * MODE none: exec PROGRAM with argv[0] NAME, no channel. Otherwise fork;
 * the child gets descriptor 3 and REEXEC_CHANNEL=3 and execs PROGRAM; the
 * parent speaks the frame format (an 8-byte header: type, body length)
 * as MODE says, prints the types of the frames it receives ("8 1 4:7"
 * is STARTED, READY, then STATUS 7), and exits with the child's exit
 * status.
 *   seqpacket  a unix SOCK_SEQPACKET pair, an empty input: a good parent
 *   stream     a SOCK_STREAM pair        pipe  a pipe
 *   truncated  input of 100 bytes announced, 10 sent, then closed
 *   badtype    a frame of an unknown type
 *   huge       input of 2 GiB announced
 *   onefd      an empty input whose frame carries one descriptor
 *   twofds     the same with two descriptors
 *   latefd     input of 2 bytes, the descriptor with its data frame */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BEGIN = 2, DATA = 3 };

static void frame(int fd, uint32_t type, const void *body, uint32_t len)
{
	char buf[64];

	memcpy(buf, &type, 4);
	memcpy(buf + 4, &len, 4);
	memcpy(buf + 8, body, len);
	if (send(fd, buf, 8 + len, MSG_NOSIGNAL) < 0)
		perror("forge: send");
}

static void begin(int fd, uint64_t total)
{
	frame(fd, BEGIN, &total, sizeof(total));
}

/* A frame with n copies of /dev/null attached. */
static void frame_fds(int fd, uint32_t type, const void *body, uint32_t len,
                      int n)
{
	char buf[64];
	struct iovec iov = {buf, 8 + len};
	union {
		char space[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = u.space,
	                     .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int fds[2] = {-1, -1};

	memcpy(buf, &type, 4);
	memcpy(buf + 4, &len, 4);
	memcpy(buf + 8, body, len);
	for (int i = 0; i < n; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		perror("forge: sendmsg");
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int main(int argc, char *argv[])
{
	const char *mode;
	int sv[2], status;
	char buf[256];
	ssize_t n;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: forge MODE PROGRAM NAME [ARGS...]\n");
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "none") == 0) {
		execv(argv[2], argv + 3);
		perror("forge: exec");
		return 2;
	}
	if (strcmp(mode, "pipe") == 0
	            ? pipe(sv) < 0
	            : socketpair(AF_UNIX,
	                         strcmp(mode, "stream") == 0 ? SOCK_STREAM
	                                                     : SOCK_SEQPACKET,
	                         0, sv) < 0) {
		perror("forge: socketpair");
		return 2;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int child_end = strcmp(mode, "pipe") == 0 ? sv[0] : sv[1];

		dup2(child_end, 3);
		setenv("REEXEC_CHANNEL", "3", 1);
		execv(argv[2], argv + 3);
		_exit(2);
	}
	if (strcmp(mode, "pipe") == 0) {
		close(sv[0]);
		return waitpid(pid, &status, 0) == pid ? WEXITSTATUS(status)
		                                       : 2;
	}
	close(sv[1]);
	if (strcmp(mode, "truncated") == 0) {
		begin(sv[0], 100);
		frame(sv[0], DATA, "0123456789", 10);
		shutdown(sv[0], SHUT_WR);
	} else if (strcmp(mode, "badtype") == 0) {
		frame(sv[0], 99, "", 0);
	} else if (strcmp(mode, "huge") == 0) {
		begin(sv[0], (uint64_t)1 << 31);
	} else if (strcmp(mode, "onefd") == 0 || strcmp(mode, "twofds") == 0) {
		uint64_t total = 0;

		frame_fds(sv[0], BEGIN, &total, sizeof(total),
		          mode[0] == 'o' ? 1 : 2);
	} else if (strcmp(mode, "latefd") == 0) {
		begin(sv[0], 2);
		frame_fds(sv[0], DATA, "in", 2, 1);
	} else {
		begin(sv[0], 0);
	}
	/* ECONNRESET: the child left our frames unread; what it sent is
	 * still queued behind that error. */
	while ((n = recv(sv[0], buf, sizeof(buf), 0)) >= 8 ||
	       (n < 0 && (errno == ECONNRESET || errno == EINTR))) {
		uint32_t type;
		int32_t v;

		if (n < 0)
			continue;
		memcpy(&type, buf, 4);
		printf("%u", type);
		/* A 32-bit value first (STATUS's has the peak memory after
		 * it). */
		if (n >= 12) {
			memcpy(&v, buf + 8, 4);
			printf(":%d", v);
		}
		printf(" ");
	}
	printf("\n");
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
