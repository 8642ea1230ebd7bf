/* Starting the child: our own binary, executed from the descriptor that
 * pins it (spawn_fd.c) or else by posix_spawn of its path, set up so that
 * the child starts clean (signals, descriptors) and so that every failure
 * up to and including the exec is reported here. Both glibc and musl
 * report exec errors from posix_spawn itself and reap the failed child. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

static int set_attr(const struct reexec_cmd *cmd, posix_spawnattr_t *attr)
{
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	sigset_t set;
	int rc;

	sigemptyset(&set);
	rc = posix_spawnattr_setsigmask(attr, &set);
	if (rc)
		return rc;
	sigfillset(&set);
	rc = posix_spawnattr_setsigdefault(attr, &set);
	if (rc)
		return rc;
	if (cmd->pgroup == PGROUP_SET) {
		flags |= POSIX_SPAWN_SETPGROUP;
		rc = posix_spawnattr_setpgroup(attr, cmd->pgid);
		if (rc)
			return rc;
	} else if (cmd->pgroup == PGROUP_SESSION) {
#ifdef POSIX_SPAWN_SETSID
		flags |= POSIX_SPAWN_SETSID;
#else
		return ENOSYS;
#endif
	}
	return posix_spawnattr_setflags(attr, flags);
}

static int set_actions(const struct reexec_cmd *cmd, const struct fd_plan *plan,
                       posix_spawn_file_actions_t *fa)
{
	int rc;

	for (int i = 0; i < plan->nfd; i++) {
		if (plan->src[i] < 0)
			continue;
		rc = posix_spawn_file_actions_adddup2(fa, plan->src[i], i);
		if (rc)
			return rc;
	}
	if (cmd_launch_dir(cmd)) {
#ifdef HAVE_SPAWN_CHDIR
		rc = posix_spawn_file_actions_addchdir_np(fa,
		                                          cmd_launch_dir(cmd));
		if (rc)
			return rc;
#else
		return ENOSYS;
#endif
	}
#ifdef HAVE_SPAWN_CLOSEFROM
	return posix_spawn_file_actions_addclosefrom_np(fa, plan->nfd);
#else
	return 0;
#endif
}

/* Commands for the fork server go there (forkserver.c); those whose
 * child must die with this process are spawned from the library's own
 * thread, which outlives them (see parent.c). */
static int launch(struct reexec_cmd *cmd)
{
	if (forkserver_wanted(cmd))
		return spawn_via_server(cmd);
	if (cmd->parent_death && cmd->parent_death_sig)
		return spawn_from_spawner(cmd);
	return spawn_now(cmd);
}

/* With attributes, the start lasts until the child has applied them
 * (attr_start.c). */
int spawn_child(struct reexec_cmd *cmd)
{
	cmd->failed_step = REEXEC_STEP_NONE;
	if (!cmd->attrs)
		return launch(cmd);
	if (attrs_check(cmd) < 0)
		return -1;
	if (launch(cmd) < 0) {
		int err = errno;

		free(cmd->attr_out);
		cmd->attr_out = NULL;
		errno = err;
		return -1;
	}
	return attrs_await(cmd);
}

/* posix_spawn of our binary by its path: where it cannot be executed
 * from the descriptor that pins it. */
static int spawn_path(const struct reexec_cmd *cmd, const struct fd_plan *plan,
                      const char *self, char *const envp[], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc;

	rc = posix_spawnattr_init(&attr);
	if (rc)
		return rc;
	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		goto out_attr;
	rc = set_attr(cmd, &attr);
	if (!rc)
		rc = set_actions(cmd, plan, &fa);
	if (!rc)
		rc = posix_spawn(pid, self, &fa, &attr, cmd->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
out_attr:
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* The binary is executed from the descriptor that pins it where the
 * system can (spawn_fd.c): that is the very file this process runs, and
 * it is cheaper than posix_spawn of /proc/self/exe, which resolves a
 * link in /proc and sets up a stack for its child at every call. */
static int spawn_self(const struct reexec_cmd *cmd, const struct fd_plan *plan,
                      const char *self, char *const envp[], pid_t *pid)
{
	int rc = ENOSYS;

	if (cmd->sealed)
		return spawn_fd(cmd, plan, sealed_self_fd(), envp, pid);
	if (self_pinned_fd() >= 0)
		rc = spawn_fd(cmd, plan, self_pinned_fd(), envp, pid);
	/* ENOENT: not every kind of binary runs from a descriptor (one
	 * that needs an interpreter by path does not). */
	if (rc == ENOSYS || rc == ENOENT)
		rc = spawn_path(cmd, plan, self, envp, pid);
	return rc;
}

int spawn_now(struct reexec_cmd *cmd)
{
	const char *self = reexec_self();
	struct fd_plan plan;
#ifndef HAVE_SPAWN_CLOSEFROM
	char close_from[sizeof(ENV_CLOSE_FROM) + 16];
#endif
	char parent[sizeof(ENV_PARENT) + 48];
	char channel[sizeof(ENV_CHANNEL) + 16];
	char *extra_env[4] = {NULL};
	int nextra = 0;
	char **envp = NULL;
	pid_t pid;
	int rc;

	if (!self)
		return -1;
	if (fd_plan_make(cmd, &plan) < 0)
		return -1;
#ifndef HAVE_SPAWN_CLOSEFROM
	snprintf(close_from, sizeof(close_from), "%s=%d", ENV_CLOSE_FROM,
	         plan.nfd);
	extra_env[nextra++] = close_from;
#endif
	if (cmd->parent_death) {
		(void)snprintf(parent, sizeof(parent), "%s=%d:%d:%ld",
		               ENV_PARENT, plan.watch_slot,
		               cmd->parent_death_sig, (long)getpid());
		extra_env[nextra++] = parent;
	}
	(void)snprintf(channel, sizeof(channel), "%s=%d", ENV_CHANNEL,
	               plan.chan_slot);
	extra_env[nextra++] = channel;
	envp = env_build(cmd, extra_env);
	if (!envp) {
		fd_plan_release(&plan, false);
		errno = ENOMEM;
		return -1;
	}
	rc = spawn_self(cmd, &plan, self, envp, &pid);
	free(envp);
	fd_plan_release(&plan, rc == 0);
	if (rc) {
		errno = rc;
		return -1;
	}
	for (int i = 0; i < 3; i++)
		cmd->pipe_fd[i] = plan.parent_end[i];
	cmd->chan.fd = plan.chan_end;
	/* (The input first: once started, another thread may wait.) */
	chan_started(cmd);
	child_started(cmd, pid);
	return 0;
}
