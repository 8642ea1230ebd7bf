/* The exec path's launcher: our own binary, executed from the descriptor
 * that pins it (spawn_fd.c) or else by posix_spawn of its path, as the
 * child's description says (start.c), set up so that
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

static int set_attr(const struct child_desc *d, posix_spawnattr_t *attr)
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
	if (d->pgroup == PGROUP_SET) {
		flags |= POSIX_SPAWN_SETPGROUP;
		rc = posix_spawnattr_setpgroup(attr, d->pgid);
		if (rc)
			return rc;
	} else if (d->pgroup == PGROUP_SESSION) {
#ifdef POSIX_SPAWN_SETSID
		flags |= POSIX_SPAWN_SETSID;
#else
		return ENOSYS;
#endif
	}
	return posix_spawnattr_setflags(attr, flags);
}

static int set_actions(const struct child_desc *d,
                       posix_spawn_file_actions_t *fa)
{
	const struct fd_plan *plan = &d->plan;
	int rc;

	for (int i = 0; i < plan->nfd; i++) {
		if (plan->src[i] < 0)
			continue;
		rc = posix_spawn_file_actions_adddup2(fa, plan->src[i], i);
		if (rc)
			return rc;
	}
	if (d->dir) {
#ifdef HAVE_SPAWN_CHDIR
		rc = posix_spawn_file_actions_addchdir_np(fa, d->dir);
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

/* posix_spawn of our binary by its path: where it cannot be executed
 * from the descriptor that pins it. */
static int spawn_path(const struct child_desc *d, const char *self,
                      char *const envp[], pid_t *pid)
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
	rc = set_attr(d, &attr);
	if (!rc)
		rc = set_actions(d, &fa);
	if (!rc)
		rc = posix_spawn(pid, self, &fa, &attr, d->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
out_attr:
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* The binary is executed from the descriptor that pins it where the
 * system can (spawn_fd.c): that is the very file this process runs, and
 * it is cheaper than posix_spawn of /proc/self/exe, which resolves a
 * link in /proc and sets up a stack for its child at every call. */
static int spawn_self(const struct child_desc *d, const char *self,
                      char *const envp[], pid_t *pid)
{
	int rc = ENOSYS;

	if (d->sealed)
		return spawn_fd(d, sealed_self_fd(), envp, pid);
	if (self_pinned_fd() >= 0)
		rc = spawn_fd(d, self_pinned_fd(), envp, pid);
	/* ENOENT: not every kind of binary runs from a descriptor (one
	 * that needs an interpreter by path does not). */
	if (rc == ENOSYS || rc == ENOENT)
		rc = spawn_path(d, self, envp, pid);
	return rc;
}

/* The child learns from its environment where its channel is, which
 * descriptor tells it of our end, and (without posix_spawn's closefrom)
 * from where to close what it inherited. */
int launch_exec(const struct child_desc *d, pid_t *pid)
{
	const struct fd_plan *plan = &d->plan;
	const char *self = reexec_self();
#ifndef HAVE_SPAWN_CLOSEFROM
	char close_from[sizeof(ENV_CLOSE_FROM) + 16];
#endif
	char parent[sizeof(ENV_PARENT) + 48];
	char channel[sizeof(ENV_CHANNEL) + 16];
	char *extra[4] = {NULL};
	int nextra = 0, rc;
	char **envp;

	if (!self)
		return -1;
#ifndef HAVE_SPAWN_CLOSEFROM
	(void)snprintf(close_from, sizeof(close_from), "%s=%d", ENV_CLOSE_FROM,
	               plan->nfd);
	extra[nextra++] = close_from;
#endif
	if (d->parent_death) {
		(void)snprintf(parent, sizeof(parent), "%s=%d:%d:%ld",
		               ENV_PARENT, plan->watch_slot,
		               d->parent_death_sig, (long)getpid());
		extra[nextra++] = parent;
	}
	(void)snprintf(channel, sizeof(channel), "%s=%d", ENV_CHANNEL,
	               plan->chan_slot);
	extra[nextra++] = channel;
	envp = env_extend(d->env, extra);
	if (!envp) {
		errno = ENOMEM;
		return -1;
	}
	rc = spawn_self(d, self, envp, pid);
	free(envp);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}
