/* Parent death: a child that ends, or learns, when this process ends.
 *
 * The kernel's PR_SET_PDEATHSIG fires when the parent *thread* exits, not
 * the parent process: a child spawned from a short-lived thread would be
 * killed when that thread returns. So commands that ask for a signal on
 * parent death are spawned from one thread of the library's own, which
 * lives, blocked, as long as any child it spawned is unreaped (the fork
 * server is one), and ends when the last of them has been reaped, so that
 * a program that needs to be single-threaded again (for
 * unshare(CLONE_NEWUSER), say) can be. The child sets the signal itself
 * first thing in reexec_init() and then checks that its parent is still
 * the process that spawned it, so a parent that died while the child was
 * still starting up is noticed too.
 *
 * For children that would rather clean up than be killed, the process
 * keeps one pipe whose write end no one else ever holds (it is
 * close-on-exec, and children close everything they were not given). The
 * child gets the read end, which reads end-of-file once this process is
 * gone, however it ended. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "internal.h"

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_pipe[2] = {-1, -1};
static int watch_errno;

static void watch_create(void)
{
	if (pipe2(watch_pipe, O_CLOEXEC) < 0)
		watch_errno = errno;
}

int parent_watch_fd(void)
{
	pthread_once(&watch_once, watch_create);
	if (watch_pipe[0] < 0)
		errno = watch_errno;
	return watch_pipe[0];
}

int reexec_cmd_parent_death(reexec_cmd *cmd, int sig)
{
	if (cmd_settable(cmd, sig >= 0 && sig < NSIG) < 0)
		return -1;
#ifndef __linux__
	if (sig) {
		errno = ENOSYS;
		return -1;
	}
#endif
	cmd->parent_death = true;
	cmd->parent_death_sig = sig;
	return 0;
}

/* The spawner thread and the jobs it runs. */
struct job {
	const struct child_desc *desc;
	pid_t pid;
	int rc, err;
	bool done;
	struct job *next;
};

/* One spawner thread; told to quit, it leaves at once, and whoever told
 * it joins it. A new one may start meanwhile: each has its own flag. */
struct spawner {
	pthread_t th;
	pid_t tid; /* 0 where there is no gettid */
	bool quit;
};

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static struct job *jobs;
static struct spawner *running; /* NULL: no spawner */
/* Spawns under way plus children spawned and not reaped yet: while there
 * is one, the spawner stays. */
static unsigned long users;

static void *spawner(void *arg)
{
	struct spawner *self = arg;

	pthread_mutex_lock(&job_lock);
#ifdef SYS_gettid
	self->tid = (pid_t)syscall(SYS_gettid);
#endif
	for (;;) {
		struct job *job;

		while (!jobs && !self->quit)
			pthread_cond_wait(&job_posted, &job_lock);
		if (self->quit)
			break;
		job = jobs;
		jobs = job->next;
		pthread_mutex_unlock(&job_lock);
		job->rc = launch_exec(job->desc, &job->pid);
		job->err = errno;
		pthread_mutex_lock(&job_lock);
		job->done = true;
		pthread_cond_broadcast(&job_done);
	}
	pthread_mutex_unlock(&job_lock);
	return NULL;
}

/* A child made by fork() alone has no spawner thread: let it start its
 * own, should it spawn. */
static void lock_jobs(void)
{
	pthread_mutex_lock(&job_lock);
}

static void unlock_jobs(void)
{
	pthread_mutex_unlock(&job_lock);
}

static void forget_spawner(void)
{
	/* The condition variables too: they still count the parent's
	 * spawner among their waiters, and a broadcast would wait for it. */
	pthread_mutex_init(&job_lock, NULL);
	pthread_cond_init(&job_posted, NULL);
	pthread_cond_init(&job_done, NULL);
	jobs = NULL;
	running = NULL; /* (the thread is the parent's; its memory too) */
	users = 0;
}

/* Start the spawner thread, with every signal blocked so that it never
 * takes one meant for the program's own threads. Call with job_lock. */
static int spawner_start(void)
{
	struct spawner *s;
	sigset_t all, old;
	int rc;

	static bool atfork_done;

	if (running)
		return 0;
	if (!atfork_done) {
		rc = pthread_atfork(lock_jobs, unlock_jobs, forget_spawner);
		if (rc)
			return rc;
		atfork_done = true;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->th, NULL, spawner, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(s);
		return rc;
	}
	running = s;
	return 0;
}

void spawner_release(void)
{
	struct spawner *s = NULL;

	pthread_mutex_lock(&job_lock);
	if (users > 0 && --users == 0 && running) {
		s = running;
		running = NULL;
		s->quit = true;
		pthread_cond_broadcast(&job_posted);
	}
	pthread_mutex_unlock(&job_lock);
	if (s) {
		/* It holds no lock and waits for nothing but job_lock: the
		 * join is immediate. */
		pthread_join(s->th, NULL);
#ifdef SYS_tgkill
		/* The join returns when the thread has left, a moment before
		 * the kernel forgets it; until then unshare(CLONE_NEWUSER)
		 * would still count it. (Signal 0 sends nothing.) */
		while (s->tid > 0 &&
		       syscall(SYS_tgkill, getpid(), s->tid, 0) == 0)
			sched_yield();
#endif
		free(s);
	}
}

int launch_in_spawner(const struct child_desc *d, pid_t *pid)
{
	struct job job = {.desc = d};
	struct job **tail;
	int rc;

	pthread_mutex_lock(&job_lock);
	rc = spawner_start();
	if (rc) {
		pthread_mutex_unlock(&job_lock);
		errno = rc;
		return -1;
	}
	users++;
	for (tail = &jobs; *tail; tail = &(*tail)->next)
		;
	*tail = &job;
	/* (Broadcast: a spawner told to quit may be waiting too.) */
	pthread_cond_broadcast(&job_posted);
	while (!job.done)
		pthread_cond_wait(&job_done, &job_lock);
	pthread_mutex_unlock(&job_lock);
	if (job.rc < 0) {
		spawner_release();
		errno = job.err;
		return -1;
	}
	*pid = job.pid;
	return 0;
}

/* The child's side. */
static int parent_fd = -1;

void parent_child_setup(void)
{
	const char *v = getenv(ENV_PARENT);
	int fd, sig;
	pid_t ppid;

	if (!v)
		return;
	if (parse_parent(v, &fd, &sig, &ppid) < 0 || sig >= NSIG) {
		unsetenv(ENV_PARENT);
		return;
	}
	unsetenv(ENV_PARENT);
	/* Ours only: a grandchild must not inherit it by accident. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
		parent_fd = fd;
#ifdef __linux__
	if (sig) {
		prctl(PR_SET_PDEATHSIG, sig);
		if (getppid() != ppid)
			(void)raise(sig);
	}
#endif
}

int reexec_parent_fd(void)
{
	if (parent_fd < 0) {
		errno = ENOENT;
		return -1;
	}
	return parent_fd;
}
