/* Starting the child from a descriptor of our binary rather than a path:
 * the pinned binary or its sealed copy (see spawn.c for why).
 * posix_spawn takes only paths, so this is the same work done by hand:
 * vfork with every signal blocked (so that no handler of ours can run in
 * the child, which shares our memory until it executes), then in the
 * child the attributes and file actions that spawn.c gives posix_spawn,
 * and execveat(fd, "", AT_EMPTY_PATH). The child reports a failure
 * through the shared memory before it exits, so errors are as synchronous
 * as posix_spawn's. Linux only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "internal.h"

#if defined(__linux__) && defined(SYS_execveat)

/* In the child: set up and execute; returns only with errno set. */
static void child(const struct reexec_cmd *cmd, const struct fd_plan *plan,
                  int exe_fd, char *const envp[])
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for KILL, STOP */
	if (cmd->pgroup == PGROUP_SESSION && setsid() < 0)
		return;
	if (cmd->pgroup == PGROUP_SET && setpgid(0, cmd->pgid) < 0)
		return;
	for (int i = 0; i < plan->nfd; i++)
		if (plan->src[i] >= 0 && dup2(plan->src[i], i) < 0)
			return;
	/* The binary stays open, close-on-exec, just above the child's
	 * descriptors; everything else goes. */
	if (dup3(exe_fd, plan->nfd, O_CLOEXEC) < 0)
		return;
	close_from(plan->nfd + 1);
	if (cmd->dir && chdir(cmd->dir) < 0)
		return;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_execveat, plan->nfd, "", cmd->argv, envp, AT_EMPTY_PATH);
}

int spawn_fd(const struct reexec_cmd *cmd, const struct fd_plan *plan,
             int exe_fd, char *const envp[], pid_t *pid_out)
{
	volatile int child_errno = 0;
	sigset_t all, old;
	pid_t pid;
	int high;

	/* A copy that no dup2 of the plan can overwrite. */
	high = fcntl(exe_fd, F_DUPFD_CLOEXEC, plan->nfd + 1);
	if (high < 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* vfork on purpose (see above); the child only makes system calls. */
	pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
	if (pid == 0) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork) */
		child(cmd, plan, high, envp);
		child_errno = errno ? errno : ENOEXEC;
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close_keep_errno(high);
	if (pid < 0)
		return errno;
	if (child_errno) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return child_errno;
	}
	*pid_out = pid;
	return 0;
}

#else

int spawn_fd(const struct reexec_cmd *cmd, const struct fd_plan *plan,
             int exe_fd, char *const envp[], pid_t *pid_out)
{
	(void)cmd;
	(void)plan;
	(void)exe_fd;
	(void)envp;
	(void)pid_out;
	return ENOSYS;
}

#endif
