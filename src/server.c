/* The fork server itself: a single-threaded copy of the program that
 * reads requests from its caller, and children made by fork that run the
 * registered functions (forkserver.c is the caller's side).
 *
 * It holds no threads, runs no code of the program's but its registered
 * functions (in its children), reads requests only from the process that
 * started it (its channel was checked like any child's), and ends with
 * that process: by the parent-death signal, and, where that does not come
 * (the caller lives on but closed its end: it closed all its descriptors,
 * or ended another way than the signal covers), as soon as its channel
 * hangs up or its parent changes; a server without its caller forks
 * nothing more.
 *
 * Each request brings a relay: a socket whose other end only the caller
 * holds. The answer (the child's pid, or an errno) and, once the server
 * has reaped the child, its wait status go there. The child never holds
 * the relay, so it cannot speak for the server. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/signalfd.h>
#endif

#include "internal.h"
#include "trace.h"

#ifdef __linux__ /* signalfd, PR_SET_PDEATHSIG */

extern char **environ;

/* --- the server's side ---------------------------------------------- */

/* Read n bytes of a request's body from its file. */
static int read_body_file(int fd, char *data, size_t n)
{
	for (size_t have = 0; have < n;) {
		ssize_t k = pread(fd, data + have, n - have, (off_t)have);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return 0;
}

/* Read one request: its descriptors and body. 1, 0 at end-of-file, -1
 * when malformed (the descriptors that came are closed). */
static int read_request(int sock, char **body, size_t *len, int *fds, int *nfds)
{
	struct req_hdr hdr;
	union {
		char buf[CMSG_SPACE(sizeof(int) * (REQ_MAX_FDS + 1))];
		struct cmsghdr align;
	} u;
	char *data = malloc(FRAME_CHUNK);
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {data, FRAME_CHUNK}};
	struct msghdr msg = {.msg_iov = iov,
	                     .msg_iovlen = 2,
	                     .msg_control = u.buf,
	                     .msg_controllen = sizeof(u.buf)};
	bool in_file;
	ssize_t n;

	*nfds = 0;
	if (!data)
		return -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		free(data);
		return n == 0 ? 0 : -1;
	}
	*nfds = msg_take_fds(&msg, fds, REQ_MAX_FDS + 1);
	in_file = (size_t)n >= sizeof(hdr) && hdr.body_len > FRAME_CHUNK;
	if ((size_t)n < sizeof(hdr) ||
	    (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) ||
	    hdr.nfds + in_file != (uint32_t)*nfds ||
	    hdr.body_len > REQ_MAX_BODY ||
	    (size_t)n - sizeof(hdr) != (in_file ? 0 : hdr.body_len))
		goto bad;
	if (in_file) {
		char *grown = realloc(data, hdr.body_len);

		if (!grown)
			goto bad;
		data = grown;
		if (read_body_file(fds[*nfds - 1], data, hdr.body_len) < 0)
			goto bad;
		close(fds[--*nfds]);
	}
	*body = data;
	*len = hdr.body_len;
	return 1;
bad:
	free(data);
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
	return -1;
}

/* In the child: report err to the caller, whose wait fails with it, over
 * the channel, and end. */
static _Noreturn void child_fail(int chan, int err)
{
	int32_t v = err;

	(void)frame_send(chan, FRAME_ERROR, &v, sizeof(v), 0);
	_exit(127);
}

/* In the child, once the caller has its pid: put the descriptors in
 * place and run the function, as reexec_init() would in a re-executed
 * child. */
static _Noreturn void become_child(const struct request *q, int *fds, int nfds)
{
	int nfd = q->nfd, argc = 0, chan = fds[q->slot[q->chan_slot]];
	sigset_t none;
	reexec_fn fn;
	int flags;

	/* Every source above the slots first, then each down to its slot,
	 * as io.c arranges for the exec path. */
	for (int i = 0; i < nfds; i++) {
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, nfd);
		if (fds[i] < 0)
			child_fail(chan, errno);
	}
	chan = fds[q->slot[q->chan_slot]];
	for (int i = 0; i < nfd; i++) {
		if (q->slot[i] < 0)
			close(i);
		else if (dup2(fds[q->slot[i]], i) < 0)
			child_fail(chan, errno);
	}
	close_from(nfd);
	TRACE(T_FDS);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	environ = q->envp;

	fn = registry_lookup(q->argv[0], &flags);
	child_forget_channel();
	if (!fn)
		child_refuse(q->argv[0],
		             "this program has no function of that name",
		             ENOENT, q->chan_slot);
	child_take_input(q->chan_slot, q->argv[0]);
	TRACE(T_INPUT);
#ifdef __linux__
	prctl(PR_SET_NAME, q->argv[0]);
#endif
	child_isolate(q->argv[0]);
	parent_child_setup();
	while (q->argv[argc])
		argc++;
	exit(child_run(fn, argc, q->argv));
}

/* Children that run, and those whose status could not be sent yet. */
struct kid {
	pid_t pid;
	int relay; /* the caller's relay: FRAME_EXIT goes there */
	bool ended;
	int status;
	struct rusage usage;
};

static struct kid *kids;
static size_t nkids, kids_cap;

static void add_kid(pid_t pid, int relay)
{
	if (nkids == kids_cap) {
		size_t want = kids_cap ? kids_cap * 2 : 16;
		struct kid *grown = realloc(kids, want * sizeof(*kids));

		if (!grown) {
			close(relay); /* its status cannot be told: ECHILD */
			return;
		}
		kids = grown;
		kids_cap = want;
	}
	kids[nkids++] = (struct kid){.pid = pid, .relay = relay};
}

/* Try to send an ended kid's status; drop it once sent or unsendable. */
static bool tell(size_t i)
{
	unsigned char body[EXIT_BODY];

	exit_body(body, kids[i].status, &kids[i].usage);
	if (frame_send(kids[i].relay, FRAME_EXIT, body, sizeof(body),
	               MSG_DONTWAIT) < 0 &&
	    errno == EAGAIN)
		return false; /* its relay is full: when there is room */
	close(kids[i].relay);
	kids[i] = kids[--nkids];
	return true;
}

/* The spares: children forked ahead of time, waiting for the next
 * request on the server's own socket while the server waits for news from
 * them. The fork, most of a request's cost, so happens between requests;
 * with two, a request that follows another at once finds one ready. */
#define SPARES 2
static struct {
	pid_t pid; /* -1: none */
	int ctl;   /* its news: "took one" with the relay */
} spares[SPARES] = {{-1, -1}, {-1, -1}};

static int count_spares(void)
{
	int n = 0;

	for (int k = 0; k < SPARES; k++)
		n += spares[k].pid >= 0;
	return n;
}

static bool any_spare(void)
{
	return count_spares() > 0;
}

/* Whether to replace used spares now. A fork keeps the server busy for
 * a while, and a child that ends meanwhile waits for it to hear of its
 * end; so while a spare is left and a child runs, replacing waits until
 * the server has been idle for SPARE_IDLE_MS. */
#define SPARE_IDLE_MS 2
static bool replace_spares_now(void)
{
	if (!any_spare())
		return true;
	for (size_t i = 0; i < nkids; i++)
		if (!kids[i].ended)
			return false;
	return true;
}

/* Answer a request on its relay: FRAME_FORKED with the pid, or
 * FRAME_ERROR with an errno. Never blocks: the relay is fresh. */
static void answer(int relay, enum frame_type type, int v)
{
	int32_t x = v;

	(void)frame_send(relay, type, &x, sizeof(x), MSG_DONTWAIT);
}

/* Refuse a request with err on its relay (the last descriptor), and drop
 * it. */
static void refuse(char *body, int *fds, int nfds, int err)
{
	if (nfds > 0)
		answer(fds[nfds - 1], FRAME_ERROR, err);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	free(body);
}

/* In the spare: tell the server it took a request (relay >= 0), or that
 * it is leaving without one. */
static int tell_server(int ctl, int relay)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int32_t took = relay >= 0;
	struct iovec iov = {&took, sizeof(took)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	msg_put_fds(&msg, u.buf, &relay, relay >= 0);
	return sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The server's own state, as at its start: spares take on the caller's
 * where it differs. */
static struct inherited own;

/* In the spare: what the caller must see done before its start returns,
 * and what could fail: the working directory found (the command's,
 * relative to the caller's, cwd), the caller's umask, limits and nice
 * value taken on, the process group or session made. 0, or -1 with errno
 * set. */
static int prepare(const struct request *q, int cwd)
{
	int dir = q->dir ? openat(cwd, q->dir, O_PATH | O_DIRECTORY | O_CLOEXEC)
	                 : cwd;

	if (dir < 0 || fchdir(dir) < 0 || inherited_apply(&q->in, &own) < 0)
		return -1;
	if (q->pgroup == PGROUP_SET)
		return setpgid(0, q->pgid);
	if (q->pgroup == PGROUP_SESSION)
		return setsid() < 0 ? -1 : 0;
	return 0;
}

/* In the spare: take one request, set up what the caller must see
 * before its start returns (working directory found, process group or
 * session made), tell the server, answer the caller, and become the
 * child. Any failure is the caller's errno; the spare then leaves. */
static _Noreturn void spare_main(int sock, int ctl, pid_t server, int sfd)
{
	int fds[REQ_MAX_FDS + 1], nfds, err = 0, relay, cwd;
	struct request q;
	char *body;
	size_t len;

	/* A spare ends with the server; a child does not (below). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != server)
		_exit(0);
	close(sfd);
	for (size_t i = 0; i < nkids; i++)
		close(kids[i].relay);
	nkids = 0;
	for (int k = 0; k < SPARES; k++)
		if (spares[k].ctl >= 0)
			close(spares[k].ctl);
	spare_warm();
	TRACE(T_SPARE);
	switch (read_request(sock, &body, &len, fds, &nfds)) {
	case 0:
		_exit(0); /* the caller is gone */
	case 1:
		break;
	default:
		(void)tell_server(ctl, -1);
		_exit(0);
	}
	if (nfds < 2) {
		(void)tell_server(ctl, -1);
		_exit(0);
	}
	TRACE(T_RECV);
	relay = fds[--nfds];
	cwd = fds[--nfds];
	if (parse_request(body, len, nfds, &q) < 0) {
		(void)tell_server(ctl, -1);
		_exit(0); /* (dropped: the caller sees its relay end) */
	}
	TRACE(T_PARSED);
	/* From here on this is the caller's child, which must not die with
	 * the server unless it asked to (reexec_init's parent-death set-up
	 * says so, below). A server that died before we took the request
	 * cannot report on the child: drop it, so the start fails rather
	 * than return a child that never runs. */
	prctl(PR_SET_PDEATHSIG, 0);
	if (getppid() != server)
		_exit(0);
	if (prepare(&q, cwd) < 0)
		err = errno;
	else if (tell_server(ctl, relay) < 0)
		err = ECONNRESET;
	TRACE(T_PREPARED);
	if (err) {
		answer(relay, FRAME_ERROR, err);
		(void)tell_server(ctl, -1);
		_exit(0);
	}
	TRACE(T_ANSWERED); /* (before: the caller may go on at once) */
	answer(relay, FRAME_FORKED, getpid());
	close(relay);
	close(sock);
	close(ctl);
	close(cwd);
	become_child(&q, fds, nfds);
}

/* Fork spares into the empty places. Without any (fork failed), the
 * server answers requests itself, with the errno. */
static void fork_spares(int sock, int sfd)
{
	pid_t self = getpid();

	for (int k = 0; k < SPARES; k++) {
		int ctl[2];
		pid_t pid;

		if (spares[k].pid >= 0)
			continue;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) <
		    0)
			return;
		pid = fork();
		if (pid == 0) {
			close(ctl[0]);
			spare_main(sock, ctl[1], self, sfd);
		}
		close(ctl[1]);
		if (pid < 0) {
			close(ctl[0]);
			return;
		}
		spares[k].pid = pid;
		spares[k].ctl = ctl[0];
		TRACE(T_RESPARED);
	}
}

/* Spare k's news: it took a request (its relay comes along), or left;
 * either way it is a spare no longer. */
static void spare_news(int k)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	int32_t took = 0;
	struct iovec iov = {&took, sizeof(took)};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = u.buf,
	                     .msg_controllen = sizeof(u.buf)};
	int relay = -1;

	if (recvmsg(spares[k].ctl, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) > 0)
		msg_take_fds(&msg, &relay, 1);
	if (took && relay >= 0) {
		TRACE(T_TOOK);
		add_kid(spares[k].pid, relay);
	} else if (relay >= 0)
		close(relay);
	close(spares[k].ctl);
	spares[k].ctl = -1;
	spares[k].pid = -1;
}

/* Reap every child that ended and tell its caller its status and what
 * it used. */
static void reap_kids(void)
{
	struct rusage ru;
	int status;
	pid_t pid;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		/* A spare that took a request and already ended: its news
		 * is in the socket, take it first. */
		for (int k = 0; k < SPARES; k++)
			if (pid == spares[k].pid)
				spare_news(k);
		for (size_t i = 0; i < nkids; i++)
			if (kids[i].pid == pid) {
				kids[i].ended = true;
				kids[i].status = status;
				kids[i].usage = ru;
				TRACE(T_REAPED);
				TRACE_REAPED();
				TRACE(T_RELAYED); /* (before: the caller
				                   * may go on at once) */
				tell(i);
				break;
			}
	}
}

/* Has our caller left? Its end of our channel hung up (it ended, or
 * executed another program), or we have another parent. */
static bool orphaned(short sock_revents, pid_t caller)
{
	return (sock_revents & (POLLHUP | POLLERR)) || getppid() != caller;
}

_Noreturn void forkserver_main(int sock)
{
	struct pollfd *p = NULL;
	pid_t caller = getppid();
	sigset_t chld;
	int sfd;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);
	server_state(&own);
	fork_spares(sock, sfd);
	for (;;) {
		struct pollfd *grown =
		        realloc(p, (nkids + SPARES + 2) * sizeof(*p));
		size_t np = 0, first_kid;
		bool serve_self = !any_spare(), defer;
		int n;

		if (!grown)
			_exit(1);
		p = grown;
		p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		/* The spares read the requests; without one, we do. Either
		 * way a hang-up is reported. */
		p[np++] = (struct pollfd){.fd = sock,
		                          .events = serve_self ? POLLIN : 0};
		for (int k = 0; k < SPARES; k++)
			p[np++] = (struct pollfd){.fd = spares[k].ctl,
			                          .events = POLLIN};
		first_kid = np;
		for (size_t i = 0; i < nkids; i++)
			if (kids[i].ended)
				p[np++] = (struct pollfd){.fd = kids[i].relay,
				                          .events = POLLOUT};
		defer = count_spares() < SPARES && !replace_spares_now();
		n = poll(p, (nfds_t)np, defer ? SPARE_IDLE_MS : -1);
		if (n < 0)
			continue;
		/* No caller, nothing to serve: the spares end with us, and
		 * the children that asked for it get their parent-death
		 * signal. */
		if (orphaned(p[1].revents, caller))
			_exit(0);
		if (n == 0) {
			fork_spares(sock, sfd);
			continue;
		}
		for (size_t q = first_kid; q < np; q++)
			for (size_t i = 0; p[q].revents && i < nkids; i++)
				if (kids[i].relay == p[q].fd && kids[i].ended) {
					tell(i);
					break;
				}
		if (p[0].revents) {
			struct signalfd_siginfo info;

			TRACE(T_SIGNALLED);
			while (read(sfd, &info, sizeof(info)) > 0)
				;
			reap_kids();
		}
		for (size_t q = 2; q < first_kid; q++)
			for (int k = 0; p[q].revents && k < SPARES; k++)
				if (spares[k].ctl == p[q].fd && p[q].fd >= 0)
					spare_news(k);
		if (replace_spares_now())
			fork_spares(sock, sfd);
		if (serve_self && (p[1].revents & POLLIN) && !any_spare()) {
			/* No spare could be made: say why. */
			int fds[REQ_MAX_FDS + 1], nfds, rc, err = errno;
			char *body = NULL;
			size_t len;

			rc = read_request(sock, &body, &len, fds, &nfds);
			if (rc == 0)
				_exit(0); /* our caller is gone */
			if (rc > 0)
				refuse(body, fds, nfds, err ? err : EAGAIN);
		}
	}
}

#endif /* __linux__ */
