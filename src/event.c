/* Driving commands from an event loop: the one descriptor per command that
 * reexec_fd() gives, and reexec_wait_any().
 *
 * The descriptor is an epoll set of what the command waits on: the child's
 * pidfd (readable once it has ended), the channel (readable when the child
 * sent something or hung up; writable while input is left to send, and
 * only then, or the set would be ready all the time) and, for a fork-server
 * child, the relay on which the server sends the child's status (the
 * server reaps it, so its pidfd would say "ended" before the status is
 * there). epoll is level-triggered, and an epoll set is readable while a
 * descriptor in it is ready: a loop that takes one step
 * (reexec_wait_timeout(cmd, 0, ...)) whenever the set is readable misses
 * nothing, and is woken for nothing once the step has moved what was
 * ready.
 *
 * The set is made at the first reexec_fd(), so a start that nobody polls
 * costs what it did. After that every step of a wait brings it up to date
 * (watch_sync, from pump() and once the child is reaped), and the library
 * takes a descriptor out of it before closing it (watch_forget): a closed
 * number may be reused by the caller's next open(), and a copy of the file
 * elsewhere (a fork of the caller) would keep a stale entry alive.
 *
 * The caller's own pipe ends (reexec_cmd_stdio_pipe) are not in the set:
 * the library never reads them outside reexec_capture(), so a set holding
 * them would stay readable, and a loop spin, until the caller read them;
 * the caller watches reexec_pipe() itself, when it wants the output.
 *
 * Where the kernel gives no pidfds (valgrind hides them), the end of a
 * child shows on no descriptor: then a timer in the set ticks every
 * TICK_MS while the child runs, and each step looks at the child and
 * takes the tick. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/timerfd.h>
#endif

#include "internal.h"

#define TICK_MS 10

#ifdef __linux__
/* Make *slot, one member of the set, hold fd (-1: none) with events. */
static int watch_put(int set, int *slot, int fd, uint32_t events, uint32_t *had)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	int op = EPOLL_CTL_ADD;

	if (*slot == fd && (fd < 0 || !had || *had == events))
		return 0;
	if (*slot >= 0 && *slot != fd)
		/* (Gone already when its file was closed: ENOENT, EBADF.) */
		(void)epoll_ctl(set, EPOLL_CTL_DEL, *slot, NULL);
	else if (*slot == fd)
		op = EPOLL_CTL_MOD;
	*slot = -1;
	if (fd < 0)
		return 0;
	if (epoll_ctl(set, op, fd, &ev) < 0)
		return -1;
	*slot = fd;
	if (had)
		*had = events;
	return 0;
}

/* The tick for a child without a pidfd: armed while it runs, taken (read)
 * at every step so that the set is not readable for it again until the
 * next one. */
static int watch_tick(struct watch *w, bool want)
{
	const struct itimerspec every = {{0, TICK_MS * 1000000L},
	                                 {0, TICK_MS * 1000000L}};
	uint64_t ticks;
	int fd;

	if (!want) {
		if (w->timer >= 0) {
			(void)epoll_ctl(w->fd, EPOLL_CTL_DEL, w->timer, NULL);
			close_keep_errno(w->timer);
			w->timer = -1;
		}
		return 0;
	}
	if (w->timer >= 0) {
		/* (EAGAIN when no tick is due: fine.) */
		ssize_t got = read(w->timer, &ticks, sizeof(ticks));

		(void)got;
		return 0;
	}
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -1;
	if (timerfd_settime(fd, 0, &every, NULL) < 0 ||
	    watch_put(w->fd, &w->timer, fd, EPOLLIN, NULL) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return 0;
}

/* 0, or -1 with errno set when the set could not be made right (out of
 * memory, or over the epoll watches' limit). */
static int watch_update(struct reexec_cmd *cmd)
{
	struct watch *w = &cmd->watch;
	bool running = cmd->state == CMD_RUNNING;
	/* A fork-server child's end is the relay's to tell. */
	int pidfd = running && !cmd->via_server ? cmd->pidfd : -1;
	uint32_t chan = EPOLLIN;
	int rc = 0;

	if (w->fd < 0)
		return 0;
	if (cmd->chan.fd >= 0 && (chan_events(cmd) & POLLOUT))
		chan |= EPOLLOUT;
	rc |= watch_put(w->fd, &w->pidfd, pidfd, EPOLLIN, NULL);
	rc |= watch_put(w->fd, &w->chan, cmd->chan.fd, chan, &w->chan_events);
	rc |= watch_put(w->fd, &w->relay, cmd->relay_fd, EPOLLIN, NULL);
	rc |= watch_tick(w, running && cmd->pidfd < 0 && !cmd->via_server);
	return rc < 0 ? -1 : 0;
}

/* (Both are called on the way to closing and reaping, whose errno is the
 * caller's answer: they keep it.) */
void watch_sync(struct reexec_cmd *cmd)
{
	int err = errno;

	/* A failure leaves the set as it was; the next step tries again. */
	(void)watch_update(cmd);
	errno = err;
}

void watch_forget(struct reexec_cmd *cmd, int fd)
{
	struct watch *w = &cmd->watch;
	int *slot[] = {&w->pidfd, &w->chan, &w->relay};

	int err = errno;

	if (w->fd < 0 || fd < 0)
		return;
	for (size_t i = 0; i < sizeof(slot) / sizeof(slot[0]); i++)
		if (*slot[i] == fd) {
			(void)epoll_ctl(w->fd, EPOLL_CTL_DEL, fd, NULL);
			*slot[i] = -1;
		}
	errno = err;
}

void watch_release(struct reexec_cmd *cmd)
{
	struct watch *w = &cmd->watch;

	if (w->fd < 0)
		return;
	close_keep_errno(w->timer);
	close_keep_errno(w->fd);
	w->fd = -1;
}

int reexec_fd(const reexec_cmd *cmd)
{
	/* The set is made on demand: the command is the caller's, never a
	 * const object, and only this part of it changes. */
	struct reexec_cmd *c = (struct reexec_cmd *)cmd;
	struct watch *w;

	if (reexec_pid(cmd) < 0) /* EINVAL, or ECHILD: never started */
		return -1;
	w = &c->watch;
	if (w->fd >= 0)
		return w->fd;
	*w = (struct watch){-1, -1, -1, -1, 0, -1};
	w->fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->fd < 0)
		return -1;
	if (watch_update(c) < 0) {
		int err = errno;

		watch_release(c);
		errno = err;
		return -1;
	}
	return w->fd;
}

#else /* no epoll: nothing to watch by */

void watch_sync(struct reexec_cmd *cmd)
{
	(void)cmd;
}

void watch_forget(struct reexec_cmd *cmd, int fd)
{
	(void)cmd;
	(void)fd;
}

void watch_release(struct reexec_cmd *cmd)
{
	(void)cmd;
}

int reexec_fd(const reexec_cmd *cmd)
{
	if (reexec_pid(cmd) < 0)
		return -1;
	errno = ENOSYS;
	return -1;
}

#endif

/* Running: not NULL (a hole in the caller's table), started, not reaped
 * (by an earlier call, say). */
static bool waitable(const struct reexec_cmd *cmd)
{
	return cmd && cmd->state == CMD_RUNNING;
}

/* Where the next call starts looking, so that when many commands are
 * ready at once none is left behind for long. */
static atomic_size_t turn;

int reexec_wait_any(reexec_cmd *const cmds[], size_t n, int timeout_ms,
                    size_t *index, int *status)
{
	long long deadline = deadline_after(timeout_ms);
	struct pollfd *pfd = NULL;
	size_t *which = NULL, m = 0, first;
	int rc = -1, err = 0;

	if (!index || (!cmds && n > 0)) {
		errno = EINVAL;
		return -1;
	}
	*index = n;
	for (size_t i = 0; i < n; i++)
		if (waitable(cmds[i]))
			m++;
	if (m == 0) {
		errno = ECHILD;
		return -1;
	}
	pfd = malloc(m * sizeof(*pfd));
	which = malloc(m * sizeof(*which));
	if (!pfd || !which) {
		err = ENOMEM;
		goto out;
	}
	m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!waitable(cmds[i]))
			continue;
		pfd[m].fd = reexec_fd(cmds[i]);
		if (pfd[m].fd < 0) {
			err = errno;
			goto out;
		}
		pfd[m].events = POLLIN;
		which[m++] = i;
	}
	first = atomic_fetch_add(&turn, 1);
	for (;;) {
		int ready = poll(pfd, (nfds_t)m, ms_left(deadline));

		if (ready < 0 && errno != EINTR) {
			err = errno;
			goto out;
		}
		/* One step for each that is ready, until one has ended: it
		 * alone is reaped, the others keep their ends for the next
		 * call. */
		for (size_t j = 0; j < m && ready > 0; j++) {
			size_t k = (first + j) % m;

			if (!pfd[k].revents)
				continue;
			ready--;
			/* Ended: 0, or the error its wait reports. */
			rc = reexec_wait_timeout(cmds[which[k]], 0, status);
			if (rc == 0 || errno != ETIMEDOUT) {
				*index = which[k];
				err = errno;
				goto out;
			}
			rc = -1;
		}
		if (ms_left(deadline) == 0) {
			err = ETIMEDOUT;
			goto out;
		}
	}
out:
	free(pfd);
	free(which);
	if (rc < 0)
		errno = err;
	return rc;
}
