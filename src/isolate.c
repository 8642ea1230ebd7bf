/* The child's attributes, applied: the one place where a child becomes
 * what its command described (attr.c), on every path. An exec'd child
 * (plain or sealed) calls attrs_apply() from reexec_init() once it has
 * read the attributes and the input from its channel; a fork-server child
 * calls it from the same place after its fork. It runs single-threaded,
 * before the function, and returns only when everything was applied; a
 * step that fails tells the parent which one and its errno
 * (FRAME_FAILED), and the child ends, so that reexec_start() fails with
 * it.
 *
 * The order, and why each step comes where it does:
 *
 *  1. unshare(2) of every namespace asked for but the cgroup one, in one
 *     call. First, because a new user namespace gives the capabilities
 *     that the other namespaces and most of what follows need (the kernel
 *     makes the user namespace first and the others owned by it), and a
 *     mount namespace must exist before anything is mounted.
 *  2. The barrier: the child tells the parent "namespaces made"
 *     (FRAME_BARRIER) and waits for FRAME_GO. Meanwhile the parent writes
 *     /proc/PID/uid_map, setgroups and gid_map (a process cannot map
 *     itself beyond its own ids; its parent, holding the ids outside,
 *     can) and the pid into the cgroup's cgroup.procs. The cgroup is
 *     joined here rather than by clone3(CLONE_INTO_CGROUP), which
 *     posix_spawn and vfork cannot use, and by the parent rather than
 *     the child, because the parent holds the cgroup's descriptor (the
 *     child would need it passed, and the right to write there after its
 *     own credentials changed). Nothing of the command's own runs
 *     before: no attribute, no function; only the library's start-up.
 *  3. unshare(CLONE_NEWCGROUP) after the barrier: the new cgroup
 *     namespace is rooted at the cgroup the child is in when it is made,
 *     which must be the one just joined.
 *  4. The mount namespace's / made private, recursively (as Go does), so
 *     that no mount made inside propagates back out, before any mount or
 *     chroot.
 *  5. For a new pid (or time) namespace, which only children enter: one
 *     fork. The child is pid 1 and goes on below to run the function;
 *     this process stays behind, holding nothing, forwards the signals it
 *     gets to it and ends with the same status (re-raising the signal
 *     that killed it), so the caller's wait sees the function's status.
 *     Everything after this happens in the process that runs the
 *     function.
 *  6. setsid(2) and TIOCSCTTY on the descriptor: a session leader alone
 *     can take a controlling terminal, so the session is made in the
 *     function's own process.
 *  7. oom_score_adj, nice value, resource limits: lowering the first two
 *     and raising a hard limit need privilege (CAP_SYS_RESOURCE,
 *     CAP_SYS_NICE) that the credential change below gives up, and
 *     oom_score_adj is written through /proc, which a new root may not
 *     have.
 *  8. chroot(2), then chdir(2) to the command's directory inside the new
 *     root, or to "/": chroot needs CAP_SYS_CHROOT, so it comes before
 *     the credentials, and a working directory outside the root would
 *     leave a way out of it.
 *  9. setgroups(2), then setresgid(2), then setresuid(2) (real,
 *     effective and saved): each drops the right to make the next, so the
 *     groups go first and the user last. With ambient capabilities
 *     asked for, PR_SET_KEEPCAPS keeps the permitted set across the uid
 *     change.
 * 10. Capabilities: the ones asked for become inheritable and ambient
 *     (and, for a user other than root, the only permitted and effective
 *     ones), so the function and what it executes keep them.
 * 11. umask.
 * 12. The parent-death signal (reexec_cmd_parent_death()), which a
 *     credential change clears: set only now. In a new pid namespace the
 *     function's process also dies with the process left behind in 5.
 * 13. PR_SET_NO_NEW_PRIVS last: nothing above needs privileges gained by
 *     exec, and from here on the function cannot gain any. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "internal.h"

#ifdef __linux__

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define CAP_VERSION_3 0x20080522

/* The kernel's capability sets (linux/capability.h, which not every C
 * library's headers have); its header is a version and a pid (0: us). */
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static int chan_fd = -1;
static int init_guard = -1; /* pid 1's end of the pipe from step 5 */

/* Report the step that failed and end. */
static _Noreturn void fail(int step, int err)
{
	int32_t v[2] = {step, err};

	(void)frame_send(chan_fd, FRAME_FAILED, v, sizeof(v), 0);
	_exit(REEXEC_EXIT_REFUSED);
}

static void check(int rc, int step)
{
	if (rc < 0)
		fail(step, errno);
}

/* Step 2: wait for the parent's maps and cgroup. */
static void barrier(void)
{
	struct stream s = {0};
	struct frame f;
	int rc;

	check(frame_send(chan_fd, FRAME_BARRIER, NULL, 0, 0), REEXEC_STEP_MAPS);
	rc = frame_recv(chan_fd, &s, 0, &f);
	if (rc == 0)
		_exit(REEXEC_EXIT_REFUSED); /* the parent gave up on us */
	if (rc < 0 || f.type != FRAME_GO)
		fail(REEXEC_STEP_MAPS, EPROTO);
}

/* Step 5, the process left behind: end as the function's process did. */
static _Noreturn void mirror(int status)
{
	struct rlimit none = {0, 0};
	sigset_t one;
	int sig;

	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	/* (Its core, if any, was dumped already: not a second one.) */
	(void)setrlimit(RLIMIT_CORE, &none);
	(void)signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	(void)kill(getpid(), sig);
	_exit(128 + sig);
}

/* Step 5: fork once; the child (pid 1 in the new namespace) returns. */
static void become_init(void)
{
	int guard[2], status;
	sigset_t all, old;
	pid_t pid;

	check(pipe2(guard, O_CLOEXEC), REEXEC_STEP_PID1);
	/* (Ignored, SIGCHLD would never tell us the child ended.) */
	(void)signal(SIGCHLD, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid < 0)
		fail(REEXEC_STEP_PID1, errno);
	if (pid == 0) {
		close(guard[1]);
		init_guard = guard[0];
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	/* Hold nothing of the child's (its pipes, its channel): only the
	 * guard, whose end tells the child we are gone. */
	if (guard[1] != 0)
		(void)dup3(guard[1], 0, O_CLOEXEC);
	close_from(1);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig == SIGCHLD) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				mirror(status);
		} else if (sig > 0 && pid > 0) {
			(void)kill(pid, sig);
		}
	}
}

/* Step 12 in pid 1: die with the process left behind, which may have
 * gone already. */
static void guard_init(void)
{
	struct pollfd p = {.fd = init_guard, .events = POLLIN};

	if (init_guard < 0)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (poll(&p, 1, 0) != 0)
		_exit(REEXEC_EXIT_REFUSED);
	close(init_guard);
	init_guard = -1;
}

static void set_ctty(int fd)
{
	if (getsid(0) != getpid())
		check(setsid() < 0 ? -1 : 0, REEXEC_STEP_CTTY);
	check(ioctl(fd, TIOCSCTTY, 0), REEXEC_STEP_CTTY);
}

static void set_oom_score_adj(int adj)
{
	char text[16];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	int n = snprintf(text, sizeof(text), "%d", adj);

	check(fd, REEXEC_STEP_OOM_SCORE);
	if (write(fd, text, (size_t)n) != n)
		fail(REEXEC_STEP_OOM_SCORE, errno ? errno : EIO);
	close(fd);
}

static void set_credentials(const struct attrs *a)
{
	if (a->set & ATTR_AMBIENT)
		check(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), REEXEC_STEP_CAPS);
	/* A user namespace that denies setgroups keeps the groups it
	 * gives; only a list asked for is an error then. */
	if (a->ngroups || !(a->set & ATTR_NOSETGROUPS))
		check(setgroups(a->ngroups, (const gid_t *)a->groups),
		      REEXEC_STEP_GROUPS);
	check(setresgid(a->gid, a->gid, a->gid), REEXEC_STEP_GID);
	check(setresuid(a->uid, a->uid, a->uid), REEXEC_STEP_UID);
}

static void set_ambient(uint64_t want)
{
	uint32_t h[2] = {CAP_VERSION_3, 0};
	struct cap_data d[2];

	check((int)syscall(SYS_capget, h, d), REEXEC_STEP_CAPS);
	for (int i = 0; i < 2; i++) {
		uint32_t w = (uint32_t)(want >> (32 * i));

		if (w & ~d[i].permitted)
			fail(REEXEC_STEP_CAPS, EPERM);
		d[i].inheritable |= w;
		if (geteuid() != 0)
			d[i].permitted = d[i].effective = w;
	}
	check((int)syscall(SYS_capset, h, d), REEXEC_STEP_CAPS);
	check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0),
	      REEXEC_STEP_CAPS);
	for (int c = 0; c < 64; c++)
		if (want & ((uint64_t)1 << c))
			check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0,
			            0),
			      REEXEC_STEP_CAPS);
	check(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), REEXEC_STEP_CAPS);
}

void attrs_apply(const struct attrs *a, int chan)
{
	int ns = a->namespaces;

	chan_fd = chan;
	if (ns & ~CLONE_NEWCGROUP)
		check(unshare(ns & ~CLONE_NEWCGROUP), REEXEC_STEP_NAMESPACES);
	if (a->set & ATTR_BARRIER)
		barrier();
	if (ns & CLONE_NEWCGROUP)
		check(unshare(CLONE_NEWCGROUP), REEXEC_STEP_NAMESPACES);
	if (ns & CLONE_NEWNS)
		check(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
		      REEXEC_STEP_MOUNTS);
	if (ns & (CLONE_NEWPID | CLONE_NEWTIME)) {
		/* The process left behind ends with our parent. */
		parent_child_setup();
		become_init();
	}
	if (a->set & ATTR_CTTY)
		set_ctty(a->ctty);
	if (a->set & ATTR_OOM)
		set_oom_score_adj(a->oom_score_adj);
	if (a->set & ATTR_NICE)
		check(setpriority(PRIO_PROCESS, 0, a->nice), REEXEC_STEP_NICE);
	for (uint32_t i = 0; i < a->nlimits; i++) {
		struct rlimit r = {(rlim_t)a->limits[i].cur,
		                   (rlim_t)a->limits[i].max};

		check(setrlimit(a->limits[i].resource, &r), REEXEC_STEP_RLIMIT);
	}
	if (a->chroot) {
		check(chroot(a->chroot), REEXEC_STEP_CHROOT);
		check(chdir(a->dir ? a->dir : "/"), REEXEC_STEP_CHDIR);
	}
	if (a->set & ATTR_USER)
		set_credentials(a);
	if (a->set & ATTR_AMBIENT)
		set_ambient(a->ambient);
	if (a->set & ATTR_UMASK)
		umask((mode_t)a->umask);
	parent_child_setup();
	guard_init();
	if (a->set & ATTR_NNP)
		check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
		      REEXEC_STEP_NO_NEW_PRIVS);
}

#else

void attrs_apply(const struct attrs *a, int chan)
{
	int32_t v[2] = {REEXEC_STEP_NONE, ENOSYS};

	(void)a;
	(void)frame_send(chan, FRAME_FAILED, v, sizeof(v), 0);
	_exit(REEXEC_EXIT_REFUSED);
}

#endif
