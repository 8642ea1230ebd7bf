/* The parent's side of a start with attributes (attr.c): check them
 * before anything is spawned, then, while the child applies them
 * (isolate.c), write what only the parent can at its barrier (the user
 * namespace's maps, the cgroup), and wait until the child has applied
 * everything, so that reexec_start() returns only then, or fails with
 * the errno of the step that failed (reexec_failed_step() tells which),
 * the child reaped. A command without attributes takes none of this:
 * its start costs no round trip more. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int attrs_check(struct reexec_cmd *cmd)
{
	const struct attrs *a = cmd->attrs;

#ifndef __linux__
	errno = ENOSYS;
	return -1;
#endif
	/* Maps belong to a user namespace the child makes; a terminal to
	 * a session the child leads, which a process group of its own
	 * cannot be; and the terminal must be one of the child's. */
	if (((a->nuid_maps || a->ngid_maps || (a->set & ATTR_SETGROUPS)) &&
	     !(a->namespaces & CLONE_NEWUSER)) ||
	    ((a->set & ATTR_CTTY) && cmd->pgroup == PGROUP_SET)) {
		errno = EINVAL;
		return -1;
	}
	if ((a->set & ATTR_CTTY) && a->ctty >= 3 + cmd->extra_nfd) {
		errno = EBADF;
		return -1;
	}
	free(cmd->attr_out);
	cmd->attr_out = attrs_encode(a, cmd->dir, &cmd->attr_out_len);
	if (!cmd->attr_out) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Write text to /proc/PID/name. 0, or -1 with errno set. */
static int write_proc(pid_t pid, const char *name, const char *text, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		close_keep_errno(fd);
		return -1;
	}
	return close(fd);
}

/* A map, one write: the kernel takes it whole or not at all. */
static int write_map(pid_t pid, const char *name, const struct id_map *m,
                     uint32_t n)
{
	size_t cap = (size_t)n * 36 + 1, len = 0;
	char *text = malloc(cap);
	int rc;

	if (!text)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%u %u %u\n",
		                        m[i].inside, m[i].outside, m[i].count);
	rc = write_proc(pid, name, text, len);
	free(text);
	return rc;
}

/* The child waits at its barrier: its maps, then its cgroup. 0, or the
 * step that failed with errno set. */
static int at_barrier(const struct reexec_cmd *cmd)
{
	const struct attrs *a = cmd->attrs;
	bool deny = !(a->set & ATTR_SETGROUPS) || (a->set & ATTR_NOSETGROUPS);
	char pid[16];
	int fd, n;

	if (a->nuid_maps &&
	    write_map(cmd->pid, "uid_map", a->uid_maps, a->nuid_maps) < 0)
		return REEXEC_STEP_MAPS;
	/* (setgroups must be denied before an unprivileged gid_map.) */
	if (a->ngid_maps &&
	    ((deny && write_proc(cmd->pid, "setgroups", "deny", 4) < 0) ||
	     write_map(cmd->pid, "gid_map", a->gid_maps, a->ngid_maps) < 0))
		return REEXEC_STEP_MAPS;
	if (a->cgroup_fd < 0)
		return 0;
	n = snprintf(pid, sizeof(pid), "%ld", (long)cmd->pid);
	fd = openat(a->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return REEXEC_STEP_CGROUP;
	if (write(fd, pid, (size_t)n) != n) {
		if (errno == 0)
			errno = EIO;
		close_keep_errno(fd);
		return REEXEC_STEP_CGROUP;
	}
	close(fd);
	return 0;
}

/* The start failed at step with err (0: what the child said): end and
 * reap the child, and make the command new again, as a start that fails
 * leaves it. */
static int fail_start(struct reexec_cmd *cmd, int step, int err)
{
	const unsigned char *in = cmd->chan.in;
	size_t in_len = cmd->chan.in_len;

	if (cmd->state == CMD_RUNNING && cmd->pid > 0) {
		(void)reexec_signal(cmd, SIGKILL);
		(void)wait_child(cmd, false, NULL);
	}
	if (!err) {
		err = cmd->chan.err ? cmd->chan.err : ENOEXEC;
		step = cmd->chan.failed_step;
	}
	(void)cmd_release_process(cmd);
	cmd_close_pipes(cmd);
	chan_release(cmd);
	cmd->chan = (struct chan){.fd = -1, .in = in, .in_len = in_len};
	cmd->state = CMD_NEW;
	cmd->pid = -1;
	cmd->status = 0;
	cmd->lost = false;
	cmd->via_server = false;
	cmd->wait_err = 0;
	cmd->has_usage = false;
	cmd->failed_step = step;
	errno = err;
	return -1;
}

int attrs_await(struct reexec_cmd *cmd)
{
	free(cmd->attr_out);
	cmd->attr_out = NULL;
	for (;;) {
		int step;

		if (pump(cmd, NULL, NULL, -1, PUMP_STARTED) < 0)
			return fail_start(cmd, REEXEC_STEP_NONE, errno);
		if (cmd->chan.started && !cmd->chan.broken)
			return 0;
		if (!cmd->chan.barrier || cmd->chan.broken)
			return fail_start(cmd, REEXEC_STEP_NONE, 0);
		cmd->chan.barrier = false;
		step = at_barrier(cmd);
		if (step)
			return fail_start(cmd, step, errno);
		/* (A child gone meanwhile says why, or its end does.) */
		(void)frame_send(cmd->chan.fd, FRAME_GO, NULL, 0, 0);
	}
}
