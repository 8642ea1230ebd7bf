/* Process descriptors: a pidfd names one process, never a later one that
 * reuses its pid (process.c says how the library uses them). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "internal.h"

int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

int pidfd_signal(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	(void)pidfd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

/* Does this kernel (or the tool we run under) give pidfds? */
bool pidfds_available(void)
{
	static atomic_int known; /* 0: not asked yet, 1: yes, 2: no */

	if (atomic_load(&known) == 0) {
		int fd = open_pidfd(getpid());

		atomic_store(&known, fd >= 0 ? 1 : 2);
		close_keep_errno(fd);
	}
	return atomic_load(&known) == 1;
}

/* Has the process behind pidfd ended? True when there is no pidfd to
 * tell. */
bool pidfd_ended(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return pidfd < 0 || poll(&p, 1, 0) == 1;
}
