/* The command's state: who may change it (cmd_settable(): only before a
 * start), who may look (reexec_pid()), and one command used from several
 * threads: a wait in one and a stop or a
 * signal in another (the control-thread cancel), stops racing stops.
 *
 * One thread at a time (the one that set busy) moves the child's data and
 * reaps it, without the lock, which is held only for moments: to look at
 * or change the state, to signal the child (so that no reap comes in
 * between, and no signal reaches a pid that was reaped and reused) and to
 * reap it. Another thread that wants the child's end waits on the
 * condition variable for the busy one to publish the status, or to give
 * up (its own timeout), and then carries on itself (process.c). Nothing
 * that receives from the channel runs with the lock held: a frame saying
 * the child is ready takes it (channel.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "internal.h"

void cmd_lock(const struct reexec_cmd *cmd)
{
	/* (The lock is no part of the command's value.) */
	pthread_mutex_lock((pthread_mutex_t *)&cmd->lock);
}

/* (errno is kept: it often holds the answer of what was done locked.) */
void cmd_unlock(const struct reexec_cmd *cmd)
{
	int err = errno;

	pthread_mutex_unlock((pthread_mutex_t *)&cmd->lock);
	errno = err;
}

/* The lock and the condition variable of a new command. 0, or -1. */
int cmd_sync_init(struct reexec_cmd *cmd)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	/* Deadlines are on the monotonic clock (clock.c). */
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&cmd->changed, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	if (pthread_mutex_init(&cmd->lock, NULL) != 0) {
		pthread_cond_destroy(&cmd->changed);
		return -1;
	}
	return 0;
}

/* Wake the threads waiting for a change; call with the lock. */
void cmd_changed(struct reexec_cmd *cmd)
{
	pthread_cond_broadcast(&cmd->changed);
}

/* Wait for a change until deadline (-1: none), with the lock held; 0, or
 * ETIMEDOUT once the deadline has passed. */
int cmd_sleep(struct reexec_cmd *cmd, long long deadline)
{
	struct timespec until;

	if (deadline < 0)
		return pthread_cond_wait(&cmd->changed, &cmd->lock);
	until.tv_sec = (time_t)(deadline / 1000);
	until.tv_nsec = (long)(deadline % 1000) * 1000000L;
	return pthread_cond_timedwait(&cmd->changed, &cmd->lock, &until);
}

/* Become the busy thread, for a caller that moves the data itself
 * (reexec_capture), waiting while another one is: true once it is, false
 * when the child was reaped meanwhile. */
bool cmd_claim(struct reexec_cmd *cmd)
{
	bool mine;

	cmd_lock(cmd);
	while (cmd->busy && cmd->state == CMD_RUNNING)
		(void)cmd_sleep(cmd, -1);
	mine = cmd->state == CMD_RUNNING;
	if (mine)
		cmd->busy = true;
	cmd_unlock(cmd);
	return mine;
}

/* The busy thread gives the work up (its own deadline passed). */
void cmd_unclaim(struct reexec_cmd *cmd)
{
	cmd_lock(cmd);
	cmd->busy = false;
	cmd_changed(cmd);
	cmd_unlock(cmd);
}

/* The checks every function that changes or starts a command makes:
 * EINVAL for no command or arguments that are not args_ok, EBUSY for a
 * command already started. */
int cmd_settable(const struct reexec_cmd *cmd, bool args_ok)
{
	if (!cmd || !args_ok) {
		errno = EINVAL;
		return -1;
	}
	if (cmd->state != CMD_NEW) {
		errno = EBUSY;
		return -1;
	}
	return 0;
}

pid_t reexec_pid(const reexec_cmd *cmd)
{
	bool started;

	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	cmd_lock(cmd); /* (another thread may be reaping it) */
	started = cmd->state != CMD_NEW;
	cmd_unlock(cmd);
	if (!started) {
		errno = ECHILD;
		return -1;
	}
	return cmd->pid;
}
