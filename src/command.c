/* The command object: what to run and how, before and after the start. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

reexec_cmd *reexec_commandv(const char *name, char *const args[])
{
	int flags;

	if (!name) {
		errno = EINVAL;
		return NULL;
	}
	if (!init_done()) {
		errno = EPERM;
		return NULL;
	}
	if (!registry_lookup(name, &flags)) {
		errno = ENOENT;
		return NULL;
	}
	return cmd_create(name, args);
}

/* A new command for name, unchecked (the library's own use it too). */
struct reexec_cmd *cmd_create(const char *name, char *const args[])
{
	struct reexec_cmd *cmd;
	size_t nargs = 0;

	while (args && args[nargs])
		nargs++;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return NULL;
	if (cmd_sync_init(cmd) < 0) {
		free(cmd);
		errno = ENOMEM;
		return NULL;
	}
	for (int i = 0; i < 3; i++)
		cmd->pipe_fd[i] = -1;
	cmd->pid = -1;
	cmd->pidfd = -1;
	cmd->chan.fd = -1;
	cmd->relay_fd = -1;
	cmd->watch.fd = -1;
	cmd->forkserver = -1;
	cmd->stop_grace_ms = -1;
	cmd->argv = calloc(nargs + 2, sizeof(*cmd->argv));
	if (!cmd->argv)
		goto fail;
	cmd->argv[0] = strdup(name);
	if (!cmd->argv[0])
		goto fail;
	for (size_t i = 0; i < nargs; i++) {
		cmd->argv[i + 1] = strdup(args[i]);
		if (!cmd->argv[i + 1])
			goto fail;
	}
	return cmd;
fail:
	reexec_cmd_free(cmd);
	errno = ENOMEM;
	return NULL;
}

reexec_cmd *reexec_command(const char *name, ...)
{
	struct reexec_cmd *cmd;
	size_t nargs = 0;
	char **args;
	va_list ap;

	va_start(ap, name);
	while (va_arg(ap, char *))
		nargs++;
	va_end(ap);

	args = malloc((nargs + 1) * sizeof(*args));
	if (!args)
		return NULL;
	va_start(ap, name);
	for (size_t i = 0; i <= nargs; i++)
		args[i] = va_arg(ap, char *);
	va_end(ap);

	cmd = reexec_commandv(name, args);
	free(args);
	return cmd;
}

void reexec_cmd_free(reexec_cmd *cmd)
{
	(void)cmd_free(cmd);
}

int cmd_free(struct reexec_cmd *cmd)
{
	int rc;

	if (!cmd)
		return 0;
	watch_release(cmd);
	rc = cmd_release_process(cmd);
	cmd_close_pipes(cmd);
	chan_release(cmd);
	free_strv(cmd->argv);
	free_strv(cmd->environ_base);
	free_strv(cmd->env_edits);
	free(cmd->dir);
	for (int i = 0; i < 3; i++)
		free(cmd->stdio[i].path);
	free(cmd->extra_fd);
	cmd_attrs_release(cmd);
	pthread_cond_destroy(&cmd->changed);
	pthread_mutex_destroy(&cmd->lock);
	free(cmd);
	if (rc < 0)
		errno = EPERM;
	return rc;
}

static int settable(const struct reexec_cmd *cmd)
{
	return cmd_settable(cmd, true);
}

static int settable_stream(const struct reexec_cmd *cmd, int stream)
{
	return cmd_settable(cmd, stream >= 0 && stream <= 2);
}

int reexec_cmd_set_dir(reexec_cmd *cmd, const char *dir)
{
	char *copy = NULL;

	if (settable(cmd) < 0)
		return -1;
	if (dir) {
		if (!*dir) {
			errno = EINVAL;
			return -1;
		}
		copy = strdup(dir);
		if (!copy)
			return -1;
	}
	free(cmd->dir);
	cmd->dir = copy;
	return 0;
}

static void stdio_set(struct reexec_cmd *cmd, int stream, enum stdio_mode mode,
                      int fd, char *path, int flags, mode_t perm)
{
	struct stdio_spec *s = &cmd->stdio[stream];

	free(s->path);
	s->mode = mode;
	s->fd = fd;
	s->path = path;
	s->flags = flags;
	s->perm = perm;
}

int reexec_cmd_stdio_inherit(reexec_cmd *cmd, int stream)
{
	if (settable_stream(cmd, stream) < 0)
		return -1;
	stdio_set(cmd, stream, STDIO_INHERIT, -1, NULL, 0, 0);
	return 0;
}

int reexec_cmd_stdio_null(reexec_cmd *cmd, int stream)
{
	if (settable_stream(cmd, stream) < 0)
		return -1;
	stdio_set(cmd, stream, STDIO_NULL, -1, NULL, 0, 0);
	return 0;
}

int reexec_cmd_stdio_pipe(reexec_cmd *cmd, int stream)
{
	if (settable_stream(cmd, stream) < 0)
		return -1;
	stdio_set(cmd, stream, STDIO_PIPE, -1, NULL, 0, 0);
	return 0;
}

int reexec_cmd_stdio_fd(reexec_cmd *cmd, int stream, int fd)
{
	if (settable_stream(cmd, stream) < 0)
		return -1;
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	stdio_set(cmd, stream, STDIO_FD, fd, NULL, 0, 0);
	return 0;
}

int reexec_cmd_stdio_file(reexec_cmd *cmd, int stream, const char *path,
                          int flags, mode_t mode)
{
	char *copy;

	if (settable_stream(cmd, stream) < 0)
		return -1;
	if (!path || !*path) {
		errno = EINVAL;
		return -1;
	}
	copy = strdup(path);
	if (!copy)
		return -1;
	stdio_set(cmd, stream, STDIO_FILE, -1, copy, flags, mode);
	return 0;
}

int reexec_cmd_add_fd(reexec_cmd *cmd, int fd)
{
	int *grown;

	if (settable(cmd) < 0)
		return -1;
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (cmd->extra_nfd >= INT_MAX - 3) {
		errno = EMFILE;
		return -1;
	}
	grown = realloc(cmd->extra_fd, (cmd->extra_nfd + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	grown[cmd->extra_nfd++] = fd;
	cmd->extra_fd = grown;
	return 3 + cmd->extra_nfd - 1;
}

int reexec_cmd_setpgid(reexec_cmd *cmd, pid_t pgid)
{
	if (cmd_settable(cmd, pgid >= 0) < 0)
		return -1;
	cmd->pgroup = PGROUP_SET;
	cmd->pgid = pgid;
	return 0;
}

int reexec_cmd_setsid(reexec_cmd *cmd)
{
	if (settable(cmd) < 0)
		return -1;
	cmd->pgroup = PGROUP_SESSION;
	cmd->pgid = 0;
	return 0;
}
