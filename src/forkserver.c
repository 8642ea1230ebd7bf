/* The fork server, the caller's side: starting the server, and asking it
 * for a child (server.c is the server).
 *
 * An exec is most of a spawn's cost. A fork is cheap when the process
 * forked is small and has one thread, and the one process guaranteed to be
 * both is a fresh copy of ourselves. So the server is such a copy, started
 * through the ordinary exec path (and so checked like any child); for each
 * request it gives a child that runs the registered function exactly as a
 * re-executed child would.
 *
 * The child is the server's child, not the caller's: the server reaps it
 * and sends its wait status (FRAME_EXIT) to the caller over the request's
 * relay, a socket pair of which the caller keeps one end and the server
 * the other; the child never holds it, so it cannot speak for the server. A child made with clone(CLONE_PARENT) would be the
 * caller's own, but the C library's idea of its thread would then be the
 * server's (glibc and musl keep the thread id in user memory and update it
 * only in their own fork), which a function that takes a lock or raises a
 * signal can trip over. The caller tracks the child with a pidfd, which
 * works for any process: signals, timeouts and stop behave as for its own
 * children; only the status arrives by message instead of by waitid().
 *
 * The server's socket carries requests only, one message each; the answer
 * (the child's pid, or an errno) comes on the request's relay. So a
 * caller holds the lock just while it sends, and callers in many threads
 * wait for their answers side by side. */
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "trace.h"

struct wbuf {
	char *data;
	size_t len, cap;
	bool failed;
};

static void put(struct wbuf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n) {
		size_t want = b->cap ? b->cap : 4096;
		char *grown;

		while (want - b->len < n)
			want *= 2;
		grown = realloc(b->data, want);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = want;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_int(struct wbuf *b, int v)
{
	int32_t x = v;

	put(b, &x, sizeof(x));
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	put(b, &v, sizeof(v));
}

static void put_strv(struct wbuf *b, char *const v[])
{
	int n = 0;

	while (v && v[n])
		n++;
	put_int(b, n);
	for (int i = 0; i < n; i++)
		put(b, v[i], strlen(v[i]) + 1);
}

/* --- the caller's side ---------------------------------------------- */

static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reexec_cmd *server; /* the running server, or NULL */
static pid_t server_owner;        /* the process that started it */
static unsigned long server_gen;  /* how many were started */
static char *server_identity;     /* who its starter was (inherit.c) */
static atomic_bool by_default;

/* A forked copy of the caller holds copies of the server's descriptors
 * but is not its parent: forget them without a signal. */
static void forget_server(void)
{
	close_keep_errno(server->chan.fd);
	close_keep_errno(server->pidfd);
	server->pidfd = -1;
	server->chan.fd = -1;
	server->state = CMD_REAPED;
	server->lost = true;
	reexec_cmd_free(server);
	server = NULL;
	free(server_identity);
	server_identity = NULL;
}

/* How long a server that this process may no longer signal has to end by
 * itself once hung up on (it takes a few milliseconds: bench/orphan). */
#define SERVER_END_MS 5000

/* 0, or -1 with EPERM when the server could not be killed (the caller
 * changed its credentials since it started it) and did not end by itself
 * within SERVER_END_MS: it is forgotten, left to end when it finds its
 * socket closed. */
static int end_server(void)
{
	int rc = 0;

	if (server_owner != getpid()) {
		forget_server();
	} else {
		/* Hung up first, the server ends by itself even where this
		 * process may no longer signal it (it dropped privileges
		 * since). */
		struct pollfd p = {.fd = server->pidfd, .events = POLLIN};
		long long deadline = deadline_after(SERVER_END_MS);

		close_keep_errno(server->chan.fd);
		server->chan.fd = -1;
		/* (server->pid is our unreaped child.) */
		if (server->pid > 0 && kill(server->pid, 0) < 0 &&
		    errno == EPERM)
			while (poll(&p, 1, ms_left(deadline)) < 0 &&
			       errno == EINTR)
				;
		rc = cmd_free(server); /* SIGKILL and reap */
	}
	server = NULL;
	free(server_identity);
	server_identity = NULL;
	return rc;
}

/* A fork of this process (without exec) has copies of the lock and the
 * server, which is not its child: it starts afresh. Nothing is locked
 * around a fork, because a thread holding the lock may be waiting for
 * one (starting the server, with a sanitizer that turns vfork into fork).
 * So the lock may have been held, by a thread the copy does not have:
 * then the server's record may be half made, and is dropped unread (its
 * descriptors are close-on-exec). */
static void forked_child(void)
{
	if (pthread_mutex_trylock(&server_lock) != 0) {
		pthread_mutex_init(&server_lock, NULL);
		server = NULL;
		server_identity = NULL;
		return;
	}
	if (server)
		forget_server();
	pthread_mutex_unlock(&server_lock);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void install_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, forked_child);
}

/* Start the server unless one runs that was started by this process as
 * it is now (identity, from caller_state()): a server started by another
 * is replaced, so that no child runs with another identity than its
 * caller's. Call with server_lock. */
static int server_up(const char *identity)
{
	struct reexec_cmd *cmd;
	char *copy;

	if (server && server_owner != getpid())
		forget_server();
	if (server && strcmp(server_identity, identity) != 0)
		end_server();
	if (server)
		return 0;
	copy = strdup(identity);
	cmd = copy ? cmd_create(SERVER_NAME, NULL) : NULL;
	if (!cmd) {
		free(copy);
		return -1;
	}
	cmd->forkserver = 0;
	/* Its symbols are bound once, at its start, rather than lazily
	 * again in every spare (each a copy-on-write fault or more); its
	 * children run with the caller's environment, not this one. It
	 * ends with this process, whichever thread started it. */
	if (reexec_cmd_setenv(cmd, "LD_BIND_NOW", "1") < 0 ||
	    reexec_cmd_parent_death(cmd, SIGKILL) < 0 || spawn_child(cmd) < 0) {
		int err = errno;

		reexec_cmd_free(cmd);
		free(copy);
		errno = err;
		return -1;
	}
	server = cmd;
	server_identity = copy;
	server_owner = getpid();
	server_gen++;
	return 0;
}

int reexec_forkserver_start(int flags)
{
	int rc;

	pthread_once(&atfork_once, install_atfork);
	if (flags & ~REEXEC_FORKSERVER_ALL) {
		errno = EINVAL;
		return -1;
	}
	if (!init_done()) {
		errno = EPERM;
		return -1;
	}
#ifndef __linux__
	errno = ENOSYS; /* the server needs signalfd and pidfds */
	return -1;
#endif
	{
		struct inherited in;
		char *identity = caller_state(&in);

		if (!identity)
			return -1;
		pthread_mutex_lock(&server_lock);
		rc = server_up(identity);
		pthread_mutex_unlock(&server_lock);
		free(identity);
	}
	if (rc == 0 && (flags & REEXEC_FORKSERVER_ALL))
		atomic_store(&by_default, true);
	return rc;
}

int reexec_forkserver_stop(void)
{
	int rc = 0, err = 0;

	pthread_mutex_lock(&server_lock);
	atomic_store(&by_default, false);
	if (server && end_server() < 0) {
		rc = -1;
		err = errno;
	}
	pthread_mutex_unlock(&server_lock);
	errno = err ? err : errno;
	return rc;
}

pid_t reexec_forkserver_pid(void)
{
	pid_t pid = -1;

	pthread_mutex_lock(&server_lock);
	if (server && server_owner == getpid())
		pid = server->pid;
	pthread_mutex_unlock(&server_lock);
	if (pid < 0)
		errno = ESRCH;
	return pid;
}

int reexec_cmd_forkserver(reexec_cmd *cmd, int on)
{
	if (cmd_settable(cmd, on == 0 || on == 1) < 0)
		return -1;
	cmd->forkserver = on;
	return 0;
}

bool forkserver_wanted(const struct reexec_cmd *cmd)
{
	/* Sealed children run from the sealed copy, by exec; without
	 * pidfds a child that is not ours could not be tracked safely. */
	if (cmd->sealed || !pidfds_available())
		return false;
	return cmd->forkserver > 0 ||
	       (cmd->forkserver < 0 && atomic_load(&by_default));
}

/* A file holding the body of a request too long for one message. */
static int body_file(const struct wbuf *body)
{
#ifdef __linux__
	int fd = memfd_create("reexec-request", MFD_CLOEXEC);
#else
	int fd = -1;

	errno = ENOSYS; /* (the server runs on Linux only) */
#endif

	for (size_t off = 0; fd >= 0 && off < body->len;) {
		ssize_t n = write(fd, body->data + off, body->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close_keep_errno(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/* Send the request, one message; a body too long for it is in file (else
 * -1). 0; -1 with errno set, ECONNRESET when the server is gone. Call
 * with server_lock. */
static int send_request(const struct wbuf *body, const int *fds, int nfds,
                        int file)
{
	struct req_hdr hdr = {(uint32_t)nfds, (uint32_t)body->len};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {body->data, body->len}};
	union {
		char buf[CMSG_SPACE(sizeof(int) * (REQ_MAX_FDS + 1))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = file < 0 ? 2 : 1};
	int all[REQ_MAX_FDS + 1], n = nfds;
	ssize_t sent;

	memcpy(all, fds, sizeof(int) * (size_t)nfds);
	if (file >= 0)
		all[n++] = file;
	msg_put_fds(&msg, u.buf, all, n);
	do
		sent = sendmsg(server->chan.fd, &msg, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent >= 0)
		return 0;
	if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN ||
	    errno == ECONNREFUSED)
		errno = ECONNRESET; /* killed, crashed */
	return -1;
}

/* The server's answer on the relay: 0 and the pid, -1 with its errno, or
 * -1 with ECONNRESET at end-of-file (the request was dropped: the server,
 * or the spare that took it, is gone). Blocks. */
static int await_answer(int relay, pid_t *pid)
{
	struct stream s = {0};
	struct frame f;
	int rc = frame_recv(relay, &s, 0, &f), v;

	if (rc == 0) {
		errno = ECONNRESET;
		return -1;
	}
	if (rc < 0)
		return -1;
	v = frame_int(&f);
	if (f.type == FRAME_FORKED && v > 0) {
		*pid = v;
		return 0;
	}
	errno = f.type == FRAME_ERROR && v > 0 && v < 4096 ? v : EPROTO;
	return -1;
}

/* Would execve() refuse these with E2BIG? Linux: no string over 32 pages,
 * all of them with their pointers within ARG_MAX. */
static bool too_big(char *const argv[], char *const envp[])
{
	long max = sysconf(_SC_ARG_MAX);
	size_t total = 0;

	for (int k = 0; k < 2; k++)
		for (char *const *v = k ? envp : argv; v && *v; v++) {
			size_t n = strlen(*v) + 1;

			if (n > (size_t)32 * 4096)
				return true;
			total += n + sizeof(char *);
		}
	return max > 0 && total > (size_t)max;
}

/* The request for cmd: which passed descriptor goes to each child slot,
 * how to set up the child, its arguments and environment. */
static int build(struct reexec_cmd *cmd, const struct fd_plan *plan,
                 char *const envp[], const struct inherited *in,
                 struct wbuf *body, int *fds, int *nfds)
{
	*nfds = 0;
	put_int(body, plan->nfd);
	for (int i = 0; i < plan->nfd; i++) {
		int src = plan->src[i];

		/* Inherited stdio is the caller's as it is now. */
		if (src < 0 && i < 3 && fcntl(i, F_GETFD) >= 0)
			src = i;
		if (src >= 0 && *nfds == REQ_MAX_FDS - 2) {
			/* (the directory and the relay are the others) */
			errno = E2BIG;
			return -1;
		}
		put_int(body, src >= 0 ? *nfds : -1);
		if (src >= 0)
			fds[(*nfds)++] = src;
	}
	put_int(body, plan->chan_slot);
	put_int(body, (int)cmd->pgroup);
	put_int(body, (int)cmd->pgid);
	{
		const char *dir = cmd_launch_dir(cmd);

		put(body, dir ? "1" : "0", 1);
		put(body, dir ? dir : "", dir ? strlen(dir) + 1 : 1);
	}
	put_int(body, (int)in->umask);
	put_int(body, in->nice);
	put_int(body, INHERIT_LIMITS);
	for (int i = 0; i < INHERIT_LIMITS; i++) {
		put_u64(body, in->limit[i][0]);
		put_u64(body, in->limit[i][1]);
	}
	/* The limits an exec would apply, so that both paths agree. */
	if (too_big(cmd->argv, envp)) {
		errno = E2BIG;
		return -1;
	}
	put_strv(body, cmd->argv);
	put_strv(body, envp);
	if (body->failed || body->len > REQ_MAX_BODY) {
		errno = body->failed ? ENOMEM : E2BIG;
		return -1;
	}
	return 0;
}

/* The generation and pid of the server that runs as this process is now
 * (identity); it is started first unless it runs. */
static int server_now(const char *identity, unsigned long *gen, pid_t *pid)
{
	int rc;

	pthread_mutex_lock(&server_lock);
	rc = server_up(identity);
	if (rc == 0) {
		*gen = server_gen;
		*pid = server->pid;
	}
	pthread_mutex_unlock(&server_lock);
	return rc;
}

/* Build cmd's request for server pid, with the caller's state in and, as
 * its last descriptors, the working directory and the server's end of the
 * relay (tail), outside the lock, and send it under the lock if
 * that server still runs. 0; -1 with errno set: ESTALE when it was
 * replaced meanwhile, ECONNRESET when it is gone. */
static int request(struct reexec_cmd *cmd, const struct fd_plan *plan,
                   const struct inherited *in, const int tail[2],
                   unsigned long gen, pid_t pid)
{
	char parent[sizeof(ENV_PARENT) + 48];
	char *extra_env[2] = {NULL};
	int fds[REQ_MAX_FDS], nfds, file = -1, rc = -1, err;
	struct wbuf body = {0};
	char **envp;

	if (cmd->parent_death)
		/* The child's parent is the server, which ends with us. */
		(void)snprintf(parent, sizeof(parent), "%s=%d:%d:%ld",
		               ENV_PARENT, plan->watch_slot,
		               cmd->parent_death_sig, (long)pid);
	extra_env[0] = cmd->parent_death ? parent : NULL;
	envp = env_build(cmd, extra_env);
	if (!envp)
		errno = ENOMEM;
	else if (build(cmd, plan, envp, in, &body, fds, &nfds) == 0 &&
	         (body.len <= FRAME_CHUNK || (file = body_file(&body)) >= 0)) {
		fds[nfds++] = tail[0];
		fds[nfds++] = tail[1];
		TRACE(T_BUILT);
		pthread_mutex_lock(&server_lock);
		if (server && server_gen == gen)
			rc = send_request(&body, fds, nfds, file);
		else
			errno = ESTALE;
		pthread_mutex_unlock(&server_lock);
		TRACE(T_SENT);
	}
	err = errno;
	if (file >= 0)
		close(file);
	free(body.data);
	free(envp);
	errno = err;
	return rc;
}

/* The request is built without server_lock and sent with it; the answer
 * is awaited without it, on the request's relay, so that callers in other
 * threads are served side by side. */
int spawn_via_server(struct reexec_cmd *cmd)
{
	unsigned long gen = 0; /* (no server's: they count from 1) */
	struct fd_plan plan;
	struct inherited in;
	pid_t server_pid, pid = -1;
	int rc = -1, relay[2] = {-1, -1}, tail[2] = {-1, -1};
	char *identity;

	pthread_once(&atfork_once, install_atfork);
	/* (The plan first: it checks the caller's descriptors, which a new
	 * one could take the number of.) */
	if (fd_plan_make(cmd, &plan) < 0)
		return -1;
	TRACE(T_PLAN);
	identity = caller_state(&in);
	if (identity &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, relay) == 0)
		tail[0] = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	TRACE(T_STATE);
	tail[1] = relay[1];
	/* When the server was replaced while the request was built for it
	 * (another thread found it gone), the request is built anew for the
	 * new one, once. */
	for (int tries = 0; tail[0] >= 0 && tries < 2; tries++) {
		rc = server_now(identity, &gen, &server_pid);
		if (rc == 0)
			rc = request(cmd, &plan, &in, tail, gen, server_pid);
		if (rc == 0 || errno != ESTALE)
			break;
	}
	if (rc < 0 && errno == ESTALE)
		errno = ECONNRESET;
	{
		int err = errno;

		free(identity);
		errno = err;
	}
	/* Our copies of the child's ends and of the server's end of the
	 * relay go now: if the request is dropped, the relay then ends. */
	close_keep_errno(tail[0]);
	close_keep_errno(relay[1]);
	fd_plan_release(&plan, true);
	if (rc == 0) {
		/* The input goes first: the child reads it at once. */
		cmd->chan.fd = plan.chan_end;
		chan_started(cmd);
		rc = await_answer(relay[0], &pid);
		TRACE(T_ANSWER);
	}
	if (rc < 0) {
		int err = errno;

		if (err == ECONNRESET) {
			/* The server (or its spare) is gone: end it, unless
			 * another thread already has; the next start makes a
			 * new one. */
			pthread_mutex_lock(&server_lock);
			if (server && server_gen == gen)
				(void)end_server();
			pthread_mutex_unlock(&server_lock);
		}
		cmd->chan.fd = -1;
		cmd->chan.begin_sent = false;
		cmd->chan.in_sent = 0;
		fd_plan_release(&plan, false);
		close_keep_errno(relay[0]);
		errno = err;
		return -1;
	}
	for (int i = 0; i < 3; i++)
		cmd->pipe_fd[i] = plan.parent_end[i];
	cmd->via_server = true;
	cmd->relay_fd = relay[0];
	child_started(cmd, pid);
	TRACE(T_STARTED);
	return 0;
}

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
