/* Starting the child from a descriptor of our binary rather than a path:
 * the pinned binary or its sealed copy (see spawn.c for why).
 * posix_spawn takes only paths, so this is the same work done by hand:
 * vfork with every signal blocked (so that no handler of ours can run in
 * the child, which shares our memory until it executes), then in the
 * child the attributes and file actions that spawn.c gives posix_spawn,
 * and execveat(fd, "", AT_EMPTY_PATH). The child reports a failure
 * through the shared memory before it exits, so errors are as synchronous
 * as posix_spawn's. Tools that run the program under their control
 * (valgrind, ThreadSanitizer) turn vfork into fork, which neither shares
 * memory nor waits for the exec: there the report goes through a
 * close-on-exec pipe instead, whose end-of-file says the exec is done. A
 * pipe is not the rule because a fork made meanwhile by another thread
 * would hold it open. Linux only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "internal.h"

#if defined(__linux__) && defined(SYS_execveat)

/* In the child: set up and execute, or report errno (on the pipe
 * report, else in *shared) and exit. */
static _Noreturn void child(const struct child_desc *d, int exe_fd, int report,
                            volatile int *shared, char *const envp[])
{
	const struct fd_plan *plan = &d->plan;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	int keep = plan->nfd + 1, err;
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for KILL, STOP */
	if (d->pgroup == PGROUP_SESSION && setsid() < 0)
		goto fail;
	if (d->pgroup == PGROUP_SET && setpgid(0, d->pgid) < 0)
		goto fail;
	for (int i = 0; i < plan->nfd; i++)
		if (plan->src[i] >= 0 && dup2(plan->src[i], i) < 0)
			goto fail;
	/* The binary (and the pipe) stay open, close-on-exec, just above
	 * the child's descriptors; everything else goes. */
	if (dup3(exe_fd, plan->nfd, O_CLOEXEC) < 0)
		goto fail;
	if (report >= 0) {
		/* (It may be there already: dup3 refuses a copy onto itself.) */
		if (report != keep && dup3(report, keep, O_CLOEXEC) < 0)
			goto fail;
		report = keep++;
	}
	close_from(keep);
	if (d->dir && chdir(d->dir) < 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_execveat, plan->nfd, "", d->argv, envp, AT_EMPTY_PATH);
fail:
	err = errno ? errno : ENOEXEC;
	if (report >= 0)
		(void)!write(report, &err, sizeof(err));
	else
		*shared = err;
	_exit(127);
}

/* Whether vfork shares our memory and waits for the exec here; probed
 * once. Call with every signal blocked. */
static bool real_vfork(void)
{
	static atomic_int known; /* 0: not yet, 1: it does, 2: it does not */
	volatile int seen = 0;
	pid_t pid;

	if (atomic_load(&known) == 0) {
		pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
		if (pid == 0) {
			/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork) */
			seen = 1;
			_exit(0);
		}
		if (pid < 0)
			return true; /* unknown yet: asked again next time */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		atomic_store(&known, seen ? 1 : 2);
	}
	return atomic_load(&known) == 1;
}

/* A close-on-exec pipe whose write end no dup2 of the plan overwrites. */
static int report_pipe(const struct fd_plan *plan, int p[2])
{
	int high;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	high = fcntl(p[1], F_DUPFD_CLOEXEC, plan->nfd + 1);
	close_keep_errno(p[1]);
	p[1] = high;
	if (high < 0) {
		close_keep_errno(p[0]);
		return -1;
	}
	return 0;
}

/* vfork on purpose (see above); the child only makes system calls. Kept
 * apart so that nothing of spawn_fd() lives across the vfork. */
__attribute__((noinline)) static pid_t vfork_child(const struct child_desc *d,
                                                   int exe_fd, int report,
                                                   volatile int *shared,
                                                   char *const envp[])
{
	pid_t pid =
	        vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */

	if (pid == 0)
		/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork) */
		child(d, exe_fd, report, shared, envp);
	return pid;
}

int spawn_fd(const struct child_desc *d, int exe_fd, char *const envp[],
             pid_t *pid_out)
{
	const struct fd_plan *plan = &d->plan;
	volatile int child_errno = 0;
	int high, err = 0, p[2] = {-1, -1};
	sigset_t all, old;
	pid_t pid = -1;

	/* A copy that no dup2 of the plan can overwrite. */
	high = fcntl(exe_fd, F_DUPFD_CLOEXEC, plan->nfd + 1);
	if (high < 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!real_vfork() && report_pipe(plan, p) < 0) {
		err = errno;
		goto out;
	}
	pid = vfork_child(d, high, p[1], &child_errno, envp);
	if (pid < 0)
		err = errno;
	if (p[0] >= 0) {
		close(p[1]);
		while (pid > 0 &&
		       read(p[0], (int *)&child_errno, sizeof(int)) < 0 &&
		       errno == EINTR)
			;
		close(p[0]);
	}
	if (pid > 0)
		err = child_errno;
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close_keep_errno(high);
	if (err && pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (err)
		return err;
	*pid_out = pid;
	return 0;
}

#else

int spawn_fd(const struct child_desc *d, int exe_fd, char *const envp[],
             pid_t *pid_out)
{
	(void)d;
	(void)exe_fd;
	(void)envp;
	(void)pid_out;
	return ENOSYS;
}

#endif
