/* The running child: waiting (with timeouts), signalling, stopping.
 *
 * Right after the spawn we open a pidfd for the child. It names this one
 * process, never a later one that reuses its pid, so signals go through it
 * and waits use waitid(P_PIDFD). It also becomes readable when the child
 * exits, which gives waits with a timeout without any SIGCHLD handler.
 * Where the kernel has no pidfds (before Linux 5.3, other systems), the
 * pid is used instead: correct as long as nobody else reaps our children,
 * which is all a pid can promise. The library never installs a SIGCHLD
 * handler and never waits for any child but its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* A wait(2) status from what waitid(2) reports. */
static int status_of(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default:
		return si->si_status & 0x7f;
	}
}

/* Has the child exited (it stays unreaped)? Also true once it has been
 * reaped by someone else. */
bool child_exited(struct reexec_cmd *cmd)
{
	siginfo_t si = {0};

	if (cmd->via_server && cmd->pidfd < 0)
		return cmd->chan.has_exit || cmd->relay_fd < 0;
	if (cmd->pidfd >= 0) {
		struct pollfd p = {.fd = cmd->pidfd, .events = POLLIN};

		return poll(&p, 1, 0) == 1;
	}
	if (waitid(P_PID, (id_t)cmd->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR;
	return si.si_pid == cmd->pid;
}

/* Wait until the child has exited, without reaping it, taking in what it
 * sends meanwhile (a child blocked sending would never end). Returns 0,
 * or -1 with errno set: ETIMEDOUT, or an error of poll(2). */
static int wait_exit(struct reexec_cmd *cmd, long long deadline)
{
	struct timespec pause = {0, 1000000};
	int rc = pump(cmd, NULL, NULL, deadline, PUMP_END);

	if (rc == 1)
		errno = ETIMEDOUT;
	if (rc != 0)
		return -1;
	/* Ended, or its channel closed (then only the child can tell). */
	if (cmd->via_server && cmd->pidfd < 0)
		return 0;
	if (cmd->pidfd >= 0) {
		struct pollfd p = {.fd = cmd->pidfd, .events = POLLIN};
		int n;

		do
			n = poll(&p, 1, ms_left(deadline));
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;
	}
	/* No pidfd: look, then nap a little longer each time. */
	for (;;) {
		int left;

		if (child_exited(cmd))
			return 0; /* (or reaped elsewhere: reaping says so) */
		left = ms_left(deadline);
		if (left == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (left > 0 && left < pause.tv_nsec / 1000000)
			pause.tv_nsec = left * 1000000L;
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 50000000)
			pause.tv_nsec *= 2;
	}
}

/* Reap the child (blocking), taking its wait status and resource usage:
 * the raw waitid system call gives the usage too, which the C library's
 * wrapper drops. 0, or -1 with errno set. */
static int reap(const struct reexec_cmd *cmd, int *status, struct rusage *ru)
{
#ifdef SYS_waitid
	siginfo_t si = {0};
	long rc = cmd->pidfd >= 0 ? syscall(SYS_waitid, P_PIDFD, cmd->pidfd,
	                                    &si, WEXITED, ru)
	                          : syscall(SYS_waitid, P_PID, cmd->pid, &si,
	                                    WEXITED, ru);

	if (rc < 0)
		return -1;
	*status = status_of(&si);
	return 0;
#else
	return wait4(cmd->pid, status, 0, ru) < 0 ? -1 : 0;
#endif
}

/* A child started by vfork and exec (the exec path: posix_spawn too) has
 * its parent's peak resident set folded into its ru_maxrss at the exec;
 * the figure the child sent with its function's value is its own (see
 * child.c), and replaces it. */
static void use_own_peak(struct reexec_cmd *cmd)
{
	if (cmd->has_usage && cmd->chan.has_status && cmd->chan.peak >= 0)
		cmd->usage.ru_maxrss = cmd->chan.peak > LONG_MAX
		                               ? LONG_MAX
		                               : (long)cmd->chan.peak;
}

/* Reap the child, which has exited (wait_exit() said so), and settle
 * what its wait reports. Call with the lock held, the channel drained
 * and closed already (so that nothing received here can want the lock).
 * A group that a stop is ending is killed first, while the leader is
 * unreaped and its id cannot be anyone else's yet. Returns whether the
 * spawner thread is to be released (after unlocking). */
static bool reap_child(struct reexec_cmd *cmd)
{
	bool release = cmd->spawner_held;
	int rc;

	if (cmd->kill_group && cmd->pid > 0)
		(void)kill(-cmd->pid, SIGKILL);
	if (cmd->via_server) {
		/* The fork server's child: its status came on the relay. */
		if (cmd->chan.has_exit)
			cmd->status = cmd->chan.exit_status;
		else
			cmd->lost = true;            /* the server died first */
		cmd->has_usage = cmd->chan.has_exit; /* (relay_receive()) */
		rc = cmd->lost ? -1 : 0;
	} else {
		do
			rc = reap(cmd, &cmd->status, &cmd->usage);
		while (rc < 0 && errno == EINTR);
		if (rc < 0)
			cmd->lost = true; /* never touch that pid again */
		cmd->has_usage = rc == 0;
	}
	cmd->state = CMD_REAPED;
	cmd->spawner_held = false;
	(void)chan_conclude(cmd, rc);
	use_own_peak(cmd);
	return release;
}

/* The state checks shared by the waits and stop, with the lock held: 1
 * when the child still has to be waited for, 0 when its status is known
 * (and stored), -1 with errno set otherwise (the status stored too when
 * the error is one its channel reported). */
static int need_wait(const struct reexec_cmd *cmd, int *status)
{
	switch (cmd->state) {
	case CMD_NEW:
		errno = ECHILD;
		return -1;
	case CMD_RUNNING:
		return 1;
	case CMD_REAPED:
		break;
	}
	if (cmd->lost) {
		errno = ECHILD;
		return -1;
	}
	if (status)
		*status = cmd->status;
	if (cmd->wait_err) {
		errno = cmd->wait_err;
		return -1;
	}
	return 0;
}

/* As the busy thread, without the lock: wait for the child's end until
 * deadline and reap it, then let others on. 0, or -1 with errno set. */
static int drive(struct reexec_cmd *cmd, long long deadline, int *status)
{
	/* The child may need its input before it can end, and room to send
	 * before it can. */
	int rc = wait_exit(cmd, deadline), err = errno;
	bool release = false;

	if (rc == 0)
		chan_drain(cmd);
	cmd_lock(cmd);
	if (rc == 0) {
		if (cmd->state == CMD_RUNNING)
			release = reap_child(cmd);
		rc = need_wait(cmd, status);
		err = errno;
	}
	cmd->busy = false;
	cmd_changed(cmd);
	cmd_unlock(cmd);
	if (release)
		spawner_release();
	errno = err;
	return rc;
}

/* Wait until deadline for the child's end and reap it: as the busy thread
 * when no other is, else by waiting for the busy one. Call with the lock,
 * which is released on return. 0 with *status, or -1 with errno set. */
static int wait_end_locked(struct reexec_cmd *cmd, long long deadline,
                           int *status)
{
	int rc;

	while ((rc = need_wait(cmd, status)) > 0) {
		if (!cmd->busy) {
			cmd->busy = true;
			cmd_unlock(cmd);
			return drive(cmd, deadline, status);
		}
		if (cmd_sleep(cmd, deadline) == ETIMEDOUT &&
		    cmd->state == CMD_RUNNING) {
			errno = ETIMEDOUT;
			rc = -1;
			break;
		}
	}
	cmd_unlock(cmd);
	return rc;
}

static int wait_end(struct reexec_cmd *cmd, long long deadline, int *status)
{
	cmd_lock(cmd);
	return wait_end_locked(cmd, deadline, status);
}

/* The child's end and status: as the busy thread (mine, from
 * cmd_claim()) that moved the data until the child ended, or waiting for
 * the one that is. */
int wait_child(struct reexec_cmd *cmd, bool mine, int *status)
{
	return mine ? drive(cmd, -1, status) : wait_end(cmd, -1, status);
}

int reexec_wait(reexec_cmd *cmd, int *status)
{
	return reexec_wait_timeout(cmd, -1, status);
}

int reexec_wait_timeout(reexec_cmd *cmd, int timeout_ms, int *status)
{
	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	return wait_end(cmd, deadline_after(timeout_ms), status);
}

/* Does stopping cmd end a whole process group: its own? */
static bool owns_group(const struct reexec_cmd *cmd)
{
	return (cmd->pgroup == PGROUP_SET && cmd->pgid == 0) ||
	       cmd->pgroup == PGROUP_SESSION;
}

/* Signal the child, or its whole group when it leads its own. Call with
 * the lock, while the child is unreaped: then neither its pid nor its
 * group id can have been given to anyone else. */
static int send_signal(struct reexec_cmd *cmd, int sig, bool group)
{
	if (cmd->pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	if (group)
		return kill(-cmd->pid, sig);
	if (cmd->pidfd >= 0)
		return pidfd_signal(cmd->pidfd, sig);
	return kill(cmd->pid, sig);
}

int reexec_signal(reexec_cmd *cmd, int sig)
{
	int rc = -1;

	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	cmd_lock(cmd);
	if (cmd->state != CMD_RUNNING)
		errno = ESRCH;
	else
		rc = send_signal(cmd, sig, false);
	cmd_unlock(cmd);
	return rc;
}

/* SIGKILL the child (or its group), unless the kernel refuses: after the
 * caller changed its credentials, or the child its own, the caller may no
 * longer signal it (EPERM). Then 0 only when it has ended all the same
 * (so reaping it does not block); -1 with EPERM while it runs on. Any
 * other error means it is gone already, which the wait tells. Call with
 * the lock, while the child is unreaped. */
static int kill_child(struct reexec_cmd *cmd, bool group)
{
	if (send_signal(cmd, SIGKILL, group) == 0 || errno != EPERM ||
	    child_exited(cmd))
		return 0;
	errno = EPERM;
	return -1;
}

/* Stop a child, whichever thread waits for it meanwhile: the signals go
 * from here, the status comes from whoever reaps. */
int stop_child(struct reexec_cmd *cmd, int grace_ms, int *status)
{
	bool group = owns_group(cmd);
	int polite = cmd->stop_signal ? cmd->stop_signal : SIGTERM, rc;

	if (grace_ms < 0)
		grace_ms = cmd->stop_grace_ms >= 0 ? cmd->stop_grace_ms
		                                   : STOP_GRACE_DEFAULT_MS;
	cmd_lock(cmd);
	rc = need_wait(cmd, status);
	if (rc <= 0) {
		cmd_unlock(cmd);
		return rc;
	}
	/* ESRCH here means the child (or group) is gone already; the wait
	 * below tells the rest. EPERM: no signal of ours reaches it, so
	 * there is no point in a grace period. Once the child has ended,
	 * whatever is left of its group is killed (by the reap). */
	if (send_signal(cmd, polite, group) < 0 && errno == EPERM)
		grace_ms = 0;
	if (group)
		cmd->kill_group = true;
	if (wait_end_locked(cmd, deadline_after(grace_ms), status) == 0)
		return 0;
	cmd_lock(cmd);
	if (cmd->state == CMD_RUNNING && kill_child(cmd, group) < 0) {
		/* It runs on, and can be waited for. */
		cmd->kill_group = false;
		cmd_unlock(cmd);
		errno = EPERM;
		return -1;
	}
	return wait_end_locked(cmd, -1, status);
}

int reexec_stop(reexec_cmd *cmd, int grace_ms, int *status)
{
	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	return stop_child(cmd, grace_ms, status);
}

int reexec_rusage(const reexec_cmd *cmd, struct rusage *usage)
{
	int rc = 0;

	if (!cmd || !usage) {
		errno = EINVAL;
		return -1;
	}
	cmd_lock(cmd);
	if (cmd->state != CMD_REAPED || !cmd->has_usage) {
		errno = ECHILD;
		rc = -1;
	} else {
		*usage = cmd->usage;
	}
	cmd_unlock(cmd);
	return rc;
}

int reexec_cmd_set_stop(reexec_cmd *cmd, int sig, int grace_ms)
{
	if (!cmd || sig < 0 || sig >= NSIG || grace_ms < 0) {
		errno = EINVAL;
		return -1;
	}
	cmd->stop_signal = sig;
	cmd->stop_grace_ms = grace_ms;
	return 0;
}

/* For reexec_cmd_free(): end a child that is still running, reap it and
 * close the pidfd. A child that cannot be killed (EPERM) is not waited
 * for, which could be forever: it is left running, and -1 with EPERM
 * says so. */
int cmd_release_process(struct reexec_cmd *cmd)
{
	int rc = 0;

	if (cmd->state == CMD_RUNNING) {
		cmd_lock(cmd);
		rc = kill_child(cmd, false);
		cmd_unlock(cmd);
		if (rc == 0)
			wait_child(cmd, false, NULL);
	}
	close_keep_errno(cmd->pidfd);
	cmd->pidfd = -1;
	close_keep_errno(cmd->relay_fd);
	cmd->relay_fd = -1;
	if (rc < 0)
		errno = EPERM;
	return rc;
}
