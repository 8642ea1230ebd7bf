/* A start, top-down. The child is described once from the command
 * (describe: its arguments, environment, descriptors, where and in which
 * process group it starts); one launcher makes it from that description
 * alone (the exec path on this thread or on the spawner thread, or the
 * fork server); the command then takes it over (adopt). In the child,
 * reexec_init() applies what it was sent in one place (child.c, and
 * isolate.c for the attributes). With attributes, the start lasts until
 * the child has applied them (attr_start.c). The fork server is itself
 * started this way: server_send() makes it first when none runs (its
 * command is an ordinary one, checked like any child). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "trace.h"

enum launcher { BY_EXEC, BY_SPAWNER, BY_SERVER };

/* Commands for the fork server go there; those whose child must die with
 * this process are launched from the library's own thread, which outlives
 * them (see parent.c). */
static enum launcher launcher_for(const struct reexec_cmd *cmd)
{
	if (forkserver_wanted(cmd))
		return BY_SERVER;
	if (cmd->parent_death && cmd->parent_death_sig)
		return BY_SPAWNER;
	return BY_EXEC;
}

static int describe(struct reexec_cmd *cmd, struct child_desc *d)
{
	*d = (struct child_desc){
	        .argv = cmd->argv,
	        .dir = cmd_launch_dir(cmd),
	        .pgroup = cmd->pgroup,
	        .pgid = cmd->pgid,
	        .sealed = cmd->sealed,
	        .parent_death = cmd->parent_death,
	        .parent_death_sig = cmd->parent_death_sig,
	};
	if (fd_plan_make(cmd, &d->plan) < 0)
		return -1;
	TRACE(T_PLAN);
	d->env = env_build(cmd);
	if (!d->env) {
		fd_plan_release(&d->plan, false);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* The fork server: once the request is sent, our copies of the child's
 * descriptors go (a request the server drops then leaves nothing open),
 * and the input goes out while the server's answer is on its way: the
 * child reads it at once. */
static int launch_by_server(struct reexec_cmd *cmd, struct child_desc *d,
                            pid_t *pid, int *relay)
{
	struct server_req req;

	if (server_send(d, &req) < 0)
		return -1;
	fd_plan_release(&d->plan, true);
	cmd->chan.fd = d->plan.chan_end;
	chan_started(cmd);
	if (server_answer(&req, pid) < 0) {
		cmd->chan.fd = -1;
		cmd->chan.begin_sent = false;
		cmd->chan.in_sent = 0;
		return -1;
	}
	*relay = req.relay;
	return 0;
}

/* The command takes the child over: the pipes' and the channel's ends,
 * the server's relay, a pidfd. The input goes out before the child is
 * published as running: another thread may wait on it from then on. */
static void adopt(struct reexec_cmd *cmd, const struct child_desc *d,
                  enum launcher by, pid_t pid, int relay)
{
	bool gone;

	for (int i = 0; i < 3; i++)
		cmd->pipe_fd[i] = d->plan.parent_end[i];
	if (by != BY_SERVER) {
		cmd->chan.fd = d->plan.chan_end;
		chan_started(cmd);
	}
	cmd->via_server = by == BY_SERVER;
	cmd->relay_fd = relay;
	cmd->pid = pid;
	cmd->pidfd = open_pidfd(pid); /* close-on-exec, always */
	/* (The fork server's children are its own: it sends their status
	 * over the channel, gone or not.) */
	gone = cmd->pidfd < 0 && errno == ESRCH && !cmd->via_server;
	if (gone) {
		/* Gone and reaped already, by a host that reaps children
		 * itself: the pid may be anyone's now. What it said on the
		 * channel is all there is. */
		cmd->lost = true;
		chan_conclude(cmd, -1);
	}
	/* Published under the lock: a thread that looks (a stop waiting to
	 * cancel a reexec_capture(), say) sees the rest as well. */
	cmd_lock(cmd);
	cmd->state = gone ? CMD_REAPED : CMD_RUNNING;
	cmd_changed(cmd);
	cmd_unlock(cmd);
	/* The spawner thread stays while its child runs (until the reap;
	 * one gone already is not held). */
	if (by == BY_SPAWNER) {
		if (gone)
			spawner_release();
		else
			cmd->spawner_held = true;
	}
}

int spawn_child(struct reexec_cmd *cmd)
{
	enum launcher by = launcher_for(cmd);
	struct child_desc d;
	pid_t pid = -1;
	int relay = -1, rc = -1, err;

	cmd->failed_step = REEXEC_STEP_NONE;
	if (cmd->attrs && attrs_check(cmd) < 0)
		return -1;
	if (describe(cmd, &d) == 0) {
		switch (by) {
		case BY_SERVER:
			rc = launch_by_server(cmd, &d, &pid, &relay);
			break;
		case BY_SPAWNER:
			rc = launch_in_spawner(&d, &pid);
			break;
		case BY_EXEC:
			rc = launch_exec(&d, &pid);
			break;
		}
		err = errno;
		fd_plan_release(&d.plan, rc == 0);
		free(d.env);
		errno = err;
	}
	if (rc < 0) {
		err = errno;
		free(cmd->attr_out);
		cmd->attr_out = NULL;
		errno = err;
		return -1;
	}
	adopt(cmd, &d, by, pid, relay);
	TRACE(T_STARTED);
	return cmd->attrs ? attrs_await(cmd) : 0;
}

int reexec_start(reexec_cmd *cmd)
{
	if (cmd_settable(cmd, true) < 0)
		return -1;
	return spawn_child(cmd);
}
