/* The child's side of the channel and of dispatch: check that the
 * channel leads to the process that started us, take the input, and give
 * the parent what the function produces.
 *
 * The check is on the peer's credentials, which the kernel recorded when
 * the parent created the socket pair and which no one can forge: the peer
 * must be our parent process, running as our effective user. Anyone can
 * start a copy of the program with any argv[0] and with a socket of their
 * own; a privileged (setuid) copy started by another user then finds a
 * peer of the wrong user, and refuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/auxv.h>
#endif

#include "internal.h"
#include "trace.h"

static int chan_fd = -1;
static struct stream input;
static struct stream attrs_in; /* the command's attributes, if any */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static bool result_sent;
static bool forked_by_server;

/* The name as it may be printed: another user's argv[0] must not reach
 * the terminal as control characters. */
static void printable(char *out, size_t size, const char *name)
{
	size_t i = 0;

	for (; name && name[i] && i + 1 < size; i++) {
		out[i] = '?';
		if (name[i] >= ' ' && name[i] <= '~')
			out[i] = name[i];
	}
	out[i] = '\0';
}

void child_refuse(const char *name, const char *why, int err, int fd)
{
	char shown[64];
	int32_t v = err;

	printable(shown, sizeof(shown), name ? name : "(no name)");
	dprintf(STDERR_FILENO, "reexec: not running %s: %s\n", shown, why);
	if (fd >= 0)
		frame_send(fd, FRAME_ERROR, &v, sizeof(v), 0);
	/* No exit handlers: nothing of the program's may run. */
	_exit(REEXEC_EXIT_REFUSED);
}

bool child_secure(void)
{
#if defined(__linux__)
	return getauxval(AT_SECURE) != 0;
#elif defined(__FreeBSD__) || defined(__APPLE__) || defined(__OpenBSD__) || \
        defined(__NetBSD__) || defined(__DragonFly__)
	return issetugid() != 0;
#else
	return getuid() != geteuid() || getgid() != getegid();
#endif
}

#ifdef __linux__
/* The permitted capabilities of process pid (0: this one), from /proc;
 * -1 when they cannot be read. */
static long long permitted_caps(pid_t pid)
{
	char path[64], line[128];
	unsigned long long caps;
	long long found = -1;
	FILE *f;

	if (pid)
		(void)snprintf(path, sizeof(path), "/proc/%ld/status",
		               (long)pid);
	else
		(void)snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapPrm: %llx", &caps) == 1) {
			found = (long long)(caps & 0x7fffffffffffffffULL);
			break;
		}
	(void)fclose(f);
	return found;
}
#endif

/* Does the peer hold every privilege we were given at exec? Only asked
 * of a setuid, setgid or file-capability program (AT_SECURE): its
 * genuine parent is the same program, just as privileged. */
static bool peer_as_privileged(pid_t pid)
{
#ifdef __linux__
	long long ours = permitted_caps(0), theirs = permitted_caps(pid);

	return ours >= 0 && theirs >= 0 && (ours & ~theirs) == 0 &&
	       getppid() == pid;
#else
	(void)pid;
	return true; /* the user and group check is all there is */
#endif
}

/* Has process pid ended (exited, even if not reaped yet)? */
static bool has_ended(pid_t pid)
{
#ifdef __linux__
	char path[64];
	int fd = open_pidfd(pid);

	if (fd >= 0) {
		bool ended = pidfd_ended(fd);

		close(fd);
		return ended;
	}
	if (errno != ENOSYS)
		return errno == ESRCH;
	/* No pidfds: a zombie says so in its stat line. */
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char stat[256], *state;
		ssize_t n = read(fd, stat, sizeof(stat) - 1);

		close(fd);
		stat[n > 0 ? n : 0] = '\0';
		state = strrchr(stat, ')');
		return state && (state[2] == 'Z' || state[2] == 'X');
	}
#endif
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Is pid our parent? Or, when our parent has ended already (it may have
 * started us and gone at once), has pid ended too? A live process that
 * is not our parent can only have come from someone else. */
static bool peer_is_parent(pid_t pid)
{
	return pid == getppid() || (pid > 0 && has_ended(pid));
}

/* 0 when fd is a unix SOCK_SEQPACKET socket whose peer is our parent,
 * running as our effective user and group (and, in a privileged program,
 * at least as privileged); ENOTSOCK when it is no such socket, EACCES
 * when the peer is someone else. */
static int authenticate(int fd)
{
	struct sockaddr_un addr = {0};
	socklen_t len = sizeof(addr);
	int type = 0;

	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 ||
	    addr.sun_family != AF_UNIX)
		return ENOTSOCK;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET)
		return ENOTSOCK;
#ifdef SO_PEERCRED
	{
		struct ucred cr;

		len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    cr.uid != geteuid() || cr.gid != getegid() ||
		    !peer_is_parent(cr.pid) ||
		    (child_secure() && !peer_as_privileged(cr.pid)))
			return EACCES;
	}
#else
	{
		uid_t uid;
		gid_t gid;

		if (getpeereid(fd, &uid, &gid) < 0 || uid != geteuid() ||
		    gid != getegid())
			return EACCES;
	}
#endif
	return 0;
}

/* Read the attributes' stream, when one comes first, and the input
 * stream, whole; 0, or -1 with errno set. */
static int read_input(int fd)
{
	struct stream *s = &input;
	struct frame f;
	int rc;

	do {
		rc = frame_recv(fd, s, 0, &f);
		if (rc == 0)
			errno = EPROTO; /* the parent went away mid-stream */
		if (rc <= 0)
			return -1;
		if (f.type == FRAME_ATTRS && s == &input && !input.begun &&
		    !attrs_in.begun) {
			s = &attrs_in;
			f.type = FRAME_BEGIN;
		}
		if (f.type != FRAME_BEGIN && f.type != FRAME_DATA) {
			errno = EPROTO;
			return -1;
		}
		rc = stream_feed(s, &f);
		if (rc == 1 && s == &attrs_in) {
			s = &input;
			rc = 0;
		}
	} while (rc == 0);
	return rc < 0 ? -1 : 0;
}

void child_accept(int fd, const char *name)
{
	int err;

	if (fd < 0)
		child_refuse(name, "malformed " ENV_CHANNEL, EPROTO, -1);
	err = authenticate(fd);
	if (err == ENOTSOCK)
		child_refuse(name, "its channel is not a channel", err, -1);
	if (err)
		child_refuse(name, "its channel does not lead to its parent",
		             err, fd);
}

void child_take_input(int fd, const char *name)
{
	if (read_input(fd) < 0)
		child_refuse(name, "its input did not arrive whole",
		             errno == EMSGSIZE || errno == ENOMEM ? errno
		                                                  : EPROTO,
		             fd);
	/* Ours only: not for the function's own children. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	chan_fd = fd;
}

void child_forget_channel(void)
{
	forked_by_server = true;
	chan_fd = -1;
	stream_free(&input);
	stream_free(&attrs_in);
	result_sent = false;
}

/* VmHWM's figure in /proc/self/status, read in small pieces and matched
 * as it streams by: a fresh child pays for every page it touches, so no
 * page-sized buffer and no string functions it has not used yet. -1 when
 * the file cannot be read or has no such line. */
static long long status_hwm(void)
{
	static const char key[] = "\nVmHWM:";
	char piece[256];
	size_t matched = 1; /* the file starts at a line's start */
	long long kib = -1;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, piece, sizeof(piece))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char c = piece[i];

			if (matched < sizeof(key) - 1) {
				matched = c == key[matched] ? matched + 1
				                            : (c == '\n');
			} else if (c >= '0' && c <= '9') {
				kib = (kib < 0 ? 0 : kib * 10) + (c - '0');
			} else if (kib >= 0 || c == '\n') {
				goto out;
			}
		}
	}
out:
	close(fd);
	return kib;
}

/* The peak resident set, in KiB, of this process since its exec, or of
 * the children it waited for if that is more (as a wait for us would
 * count them); -1 when /proc cannot tell. Not getrusage(RUSAGE_SELF): a
 * child started by vfork and exec has its parent's peak folded into that
 * maximum at the exec, while VmHWM belongs to the image alone. */
static long long own_peak(void)
{
	long long peak = status_hwm();
	struct rusage kids;

	if (peak >= 0 && getrusage(RUSAGE_CHILDREN, &kids) == 0 &&
	    kids.ru_maxrss > peak)
		peak = kids.ru_maxrss;
	return peak;
}

void child_isolate(const char *name)
{
	struct attrs a;

	if (!attrs_in.begun)
		return;
	if (attrs_decode((char *)attrs_in.data, attrs_in.total, &a) < 0)
		child_refuse(name, "its attributes are malformed", EPROTO,
		             chan_fd);
	attrs_apply(&a, chan_fd);
	attrs_free(&a);
	stream_free(&attrs_in);
}

int child_run(reexec_fn fn, int argc, char *argv[])
{
	int v;

	/* So that the parent can tell a function that ended (with any
	 * status, 127 included) from a child that never got this far: the
	 * dynamic loader failed, the program ended before reexec_init(). */
	if (chan_fd >= 0)
		frame_send(chan_fd, FRAME_STARTED, NULL, 0, 0);
	TRACE(T_FN);
	/* (Never NULL: reexec_init() refuses a name without a function.) */
	// cppcheck-suppress ctunullpointer
	v = fn(argc, argv);
	TRACE(T_RETURNED);
	/* A fork server's child: the server reports the status (and the
	 * usage: a fork folds in no one's peak) itself. */
	if (chan_fd >= 0 && !forked_by_server) {
		unsigned char body[STATUS_BODY];

		status_body(body, v, own_peak());
		pthread_mutex_lock(&send_lock);
		frame_send(chan_fd, FRAME_STATUS, body, sizeof(body), 0);
		pthread_mutex_unlock(&send_lock);
	}
	return v;
}

static int need_channel(void)
{
	if (chan_fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return 0;
}

int reexec_ready(void)
{
	int rc;

	if (need_channel() < 0)
		return -1;
	pthread_mutex_lock(&send_lock);
	rc = frame_send(chan_fd, FRAME_READY, NULL, 0, 0);
	pthread_mutex_unlock(&send_lock);
	return rc;
}

int reexec_input(const void **data, size_t *len)
{
	if (!data || !len) {
		errno = EINVAL;
		return -1;
	}
	if (need_channel() < 0)
		return -1;
	*data = input.data;
	*len = input.total;
	return 0;
}

int reexec_set_result(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t total = len;
	int rc;

	if (!data && len) {
		errno = EINVAL;
		return -1;
	}
	if (len > REEXEC_DATA_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (need_channel() < 0)
		return -1;
	pthread_mutex_lock(&send_lock);
	if (result_sent) {
		pthread_mutex_unlock(&send_lock);
		errno = EALREADY;
		return -1;
	}
	result_sent = true;
	rc = frame_send(chan_fd, FRAME_BEGIN, &total, sizeof(total), 0);
	while (rc == 0 && len > 0) {
		size_t n = len < FRAME_CHUNK ? len : FRAME_CHUNK;

		rc = frame_send(chan_fd, FRAME_DATA, p, n, 0);
		p += n;
		len -= n;
	}
	pthread_mutex_unlock(&send_lock);
	return rc;
}
