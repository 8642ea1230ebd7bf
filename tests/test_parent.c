/* Parent death: the child ends with the parent process, not with the
 * thread that started it, also when the parent dies during its start-up;
 * and the child can watch its parent itself. Each case runs a middle
 * process ("the parent") between this suite and the child, so that the
 * parent can die; this suite is a subreaper and inherits the child. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define BOUND_MS 10000 /* how long a child may take to notice */

static void say(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(1, buf, (size_t)n) != n)
		_exit(99);
}

/* watcher: report whether a watch descriptor was given and whether the
 * variable behind it was consumed; then wait for the parent to go. */
static int watcher(int argc, char *argv[])
{
	int fd = reexec_parent_fd();
	struct pollfd p = {.fd = fd, .events = POLLIN};

	(void)argc;
	(void)argv;
	if (fd < 0) {
		say(errno == ENOENT ? "none\n" : "error\n");
		return 0;
	}
	say("watching %s\n",
	    getenv("REEXEC_PARENT") ? "env-visible" : "env-consumed");
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return 1;
	say("parent gone\n");
	return 0;
}

/* middle_watch, middle_watch_plain: start a watcher (with the watch
 * unless plain) sharing our stdout, then exit at once without waiting for
 * it. */
static int middle_watch(int argc, char *argv[])
{
	reexec_cmd *cmd = reexec_command("watcher", NULL);
	bool plain = strcmp(argv[0], "middle_watch_plain") == 0;

	(void)argc;
	if (!plain && reexec_cmd_parent_death(cmd, 0) < 0)
		return 1;
	if (reexec_start(cmd) < 0)
		return 2;
	_exit(0); /* leave the child running: no free, no wait */
}

/* Read fd to its end, giving up after BOUND_MS without data. */
static const char *read_all_bounded(int fd)
{
	static char buf[256];
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		assert_true(poll(&p, 1, BOUND_MS) == 1);
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* Run middle (freed here) with stdout on a pipe that its child inherits
 * too; read it until both have closed it; return what they wrote and the
 * middle's status. */
static const char *run_and_read(const char *middle, int *status)
{
	reexec_cmd *cmd = reexec_command(middle, NULL);
	const char *out;
	int p[2];

	assert_non_null(cmd);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 1, p[1]), 0);
	assert_int_equal(reexec_start(cmd), 0);
	close(p[1]);
	out = read_all_bounded(p[0]);
	close(p[0]);
	assert_int_equal(reexec_wait(cmd, status), 0);
	reexec_cmd_free(cmd);
	return out;
}

/* run_and_read(), then reap whatever came to us. */
static const char *run_middle(const char *middle)
{
	const char *out;
	int status;

	out = run_and_read(middle, &status);
	reap_orphans();
	return out;
}

static void watch_fd_reports_parent_exit(void **state)
{
	(void)state;
	assert_string_equal(run_middle("middle_watch"),
	                    "watching env-consumed\nparent gone\n");
	assert_string_equal(run_middle("middle_watch_plain"), "none\n");
}

/* In the test: wait, bounded where pidfds exist (valgrind has none), for
 * pid to end; it is ours to reap by then (subreaper); return its status. */
static int wait_orphan(pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int status = -1;

	assert_true(pidfd >= 0 || errno == ENOSYS);
	if (pidfd >= 0) {
		assert_int_equal(poll(&p, 1, BOUND_MS), 1);
		close(pidfd);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* echo_then_pause: echo stdin to stdout a byte at a time; at end-of-file
 * wait for signals, so that only a signal ends it. */
static int echo_then_pause(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	while (read(0, &c, 1) == 1)
		if (write(1, &c, 1) != 1)
			break;
	for (;;)
		pause();
	return 0;
}

static reexec_cmd *thread_cmd;
static int thread_rc;

/* One echo round trip with the child: it has passed reexec_init(). */
static int echo_once(reexec_cmd *cmd)
{
	char c;

	if (write(reexec_pipe(cmd, 0), "x", 1) != 1 ||
	    read(reexec_pipe(cmd, 1), &c, 1) != 1 || c != 'x')
		return -1;
	return 0;
}

/* Start the child and see it running its function before the thread
 * ends, so that the child's parent-death setup happened while this thread
 * was still its parent thread. */
static void *start_in_thread(void *arg)
{
	(void)arg;
	thread_rc = reexec_start(thread_cmd);
	if (thread_rc == 0)
		thread_rc = echo_once(thread_cmd);
	return NULL;
}

/* middle_thread: start an echo child with SIGKILL on parent death from a
 * thread that then ends; show the child still answers; print its pid;
 * then die by SIGKILL. */
static int middle_thread(int argc, char *argv[])
{
	pthread_t th;

	(void)argc;
	(void)argv;
	thread_cmd = reexec_command("echo_then_pause", NULL);
	if (reexec_cmd_parent_death(thread_cmd, SIGKILL) < 0 ||
	    reexec_cmd_stdio_pipe(thread_cmd, 0) < 0 ||
	    reexec_cmd_stdio_pipe(thread_cmd, 1) < 0)
		return 1;
	if (pthread_create(&th, NULL, start_in_thread, NULL) ||
	    pthread_join(th, NULL) || thread_rc < 0)
		return 2;
	/* The starting thread is gone; two round trips with the child. */
	for (int i = 0; i < 2; i++)
		if (echo_once(thread_cmd) < 0)
			return 3;
	say("%d\n", (int)reexec_pid(thread_cmd));
	raise(SIGKILL);
	return 4;
}

static void survives_thread_dies_with_process(void **state)
{
	int status;
	pid_t child;

	(void)state;
	child = (pid_t)atoi(run_and_read("middle_thread", &status));
	assert_true(child > 0);
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Only a signal can end it. */
	status = wait_orphan(child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* middle_early: start a child with SIGKILL on parent death, print its pid
 * and die at once, most likely before the child reached reexec_init(). */
static int middle_early(int argc, char *argv[])
{
	reexec_cmd *cmd = reexec_command("pause", NULL);

	(void)argc;
	(void)argv;
	if (reexec_cmd_parent_death(cmd, SIGKILL) < 0 || reexec_start(cmd) < 0)
		return 1;
	say("%d\n", (int)reexec_pid(cmd));
	raise(SIGKILL);
	return 2;
}

static void parent_dies_during_startup(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		int status;
		pid_t child =
		        (pid_t)atoi(run_and_read("middle_early", &status));

		assert_true(child > 0);
		status = wait_orphan(child);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
	}
}

static void bad_input(void **state)
{
	reexec_cmd *cmd = reexec_command("exit_code", NULL);

	(void)state;
	errno = 0;
	assert_int_equal(reexec_cmd_parent_death(NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_cmd_parent_death(cmd, -1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(reexec_cmd_parent_death(cmd, NSIG), -1);
	assert_int_equal(errno, EINVAL);
	/* In this process, which no reexec parent started. */
	errno = 0;
	assert_int_equal(reexec_parent_fd(), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(reexec_run(cmd, NULL), 0);
	errno = 0;
	assert_int_equal(reexec_cmd_parent_death(cmd, 0), -1);
	assert_int_equal(errno, EBUSY);
	reexec_cmd_free(cmd);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static reexec_cmd *start_tied(void)
{
	reexec_cmd *cmd = reexec_command("pause", NULL);

	assert_int_equal(reexec_cmd_parent_death(cmd, SIGKILL), 0);
	assert_int_equal(reexec_cmd_forkserver(cmd, 0), 0);
	assert_int_equal(reexec_start(cmd), 0);
	return cmd;
}

/* unshare_probe: with a tied child running, unshare(CLONE_NEWUSER) fails
 * (EINVAL: the library's thread is there); once the child is reaped, it
 * works. 0 when so, 2 when user namespaces are not available here. */
static int unshare_probe(int argc, char *argv[])
{
	reexec_cmd *cmd = reexec_command("pause", NULL);
	int status;

	(void)argc;
	(void)argv;
	if (reexec_cmd_parent_death(cmd, SIGKILL) < 0 ||
	    reexec_cmd_forkserver(cmd, 0) < 0 || reexec_start(cmd) < 0)
		return 10;
	if (unshare(CLONE_NEWUSER) == 0 || errno != EINVAL)
		return 11;
	if (reexec_signal(cmd, SIGKILL) < 0 || reexec_wait(cmd, &status) < 0)
		return 12;
	reexec_cmd_free(cmd);
	if (unshare(CLONE_NEWUSER) < 0)
		return errno == EPERM || errno == ENOSPC || errno == EUSERS
		               ? 2
		               : 13;
	return 0;
}

/* The library's thread (the spawner of children tied to this process)
 * runs only while a child it spawned is unreaped: one thread for any
 * number of them, gone once the last is reaped, by a stop, a wait or a
 * free, and gone from the kernel's list too when that call returns (so
 * that unshare(CLONE_NEWUSER) can follow); the fork server, spawned the
 * same way, holds it while it runs. */
static void spawner_thread_ends(void **state)
{
	bool server = using_forkserver();
	reexec_cmd *a, *b;
	int base, status;

	(void)state;
	if (server) /* it holds the thread: take it away for a while */
		assert_int_equal(reexec_forkserver_stop(), 0);
	/* One round first: a runtime that starts a thread of its own at the
	 * first pthread_create (ThreadSanitizer's) has it then. */
	reexec_cmd_free(start_tied());
	base = count_threads();
	a = start_tied();
	assert_int_equal(count_threads(), base + 1);
	b = start_tied();
	assert_int_equal(count_threads(), base + 1);
	assert_int_equal(reexec_stop(a, 0, &status), 0);
	assert_int_equal(count_threads(), base + 1); /* b needs it */
	reexec_cmd_free(b);
	assert_int_equal(count_threads(), base);
	reexec_cmd_free(a);

	/* Again: a new thread, gone after the wait. */
	a = start_tied();
	assert_int_equal(count_threads(), base + 1);
	assert_int_equal(reexec_signal(a, SIGKILL), 0);
	assert_int_equal(reexec_wait(a, &status), 0);
	assert_int_equal(count_threads(), base);
	reexec_cmd_free(a);

	/* A child that only watches needs no thread. */
	a = reexec_command("pause", NULL);
	assert_int_equal(reexec_cmd_parent_death(a, 0), 0);
	assert_int_equal(reexec_cmd_forkserver(a, 0), 0);
	assert_int_equal(reexec_start(a), 0);
	assert_int_equal(count_threads(), base);
	reexec_cmd_free(a);

	/* The fork server. */
	assert_int_equal(reexec_forkserver_start(0), 0);
	assert_int_equal(count_threads(), base + 1);
	assert_int_equal(reexec_forkserver_stop(), 0);
	assert_int_equal(count_threads(), base);
	if (server)
		assert_int_equal(reexec_forkserver_start(REEXEC_FORKSERVER_ALL),
		                 0);

	/* What it is for. (Not under ThreadSanitizer, which keeps a thread
	 * of its own in every process.) */
	if (getenv("TEST_SANITIZER") &&
	    strcmp(getenv("TEST_SANITIZER"), "tsan") == 0)
		return;
	assert_int_equal(run_probe("unshare_probe",
	                           "no user namespaces for this user here"),
	                 0);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(watch_fd_reports_parent_exit),
	        cmocka_unit_test(survives_thread_dies_with_process),
	        cmocka_unit_test(parent_dies_during_startup),
	        cmocka_unit_test(bad_input),
	        cmocka_unit_test(spawner_thread_ends),
	};

	reexec_register("echo_then_pause", echo_then_pause);
	reexec_register("watcher", watcher);
	reexec_register("middle_watch", middle_watch);
	reexec_register("middle_watch_plain", middle_watch);
	reexec_register("middle_thread", middle_thread);
	reexec_register("middle_early", middle_early);
	reexec_register("unshare_probe", unshare_probe);
	helpers_init(argc, argv);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests_name("parent", tests, NULL, NULL);
}
