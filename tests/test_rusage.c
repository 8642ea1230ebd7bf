/* Resource usage: what a finished child used, on both paths (exec and the
 * fork server), its peak memory its own and not its parent's, whatever
 * the function did with its descriptors. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define BURN_NS (200 * 1000000LL) /* the CPU time "burn" spends */
#define TOUCH_MIB 64              /* the memory "burn" writes */
#define PARENT_MIB 256            /* what the parent holds meanwhile */

static long long cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Write every byte of n, so that all of it is resident. */
static char *touch(size_t n)
{
	char *p = malloc(n);

	if (p)
		memset(p, 0x5a, n);
	return p;
}

/* burn: write TOUCH_MIB MiB, spin until BURN_NS of CPU time are spent;
 * 0 when it could. */
static int burn(int argc, char *argv[])
{
	volatile char *p = touch((size_t)TOUCH_MIB << 20);
	long long until = cpu_ns() + BURN_NS;
	unsigned spin = 0;

	(void)argc;
	(void)argv;
	if (!p)
		return 1;
	while (cpu_ns() < until)
		p[spin++ % ((size_t)TOUCH_MIB << 20)]++;
	free((void *)p);
	return 0;
}

/* The descriptors from 3 up but the channel (the one socket), and below
 * the soft limit (at most 4096), one by one. */
static void each_own_fd(void (*fn)(int fd, void *arg), void *arg)
{
	struct rlimit lim;
	int top = 4096;

	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 4096)
		top = (int)lim.rlim_cur;
	for (int fd = 3; fd < top; fd++) {
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			continue;
		fn(fd, arg);
	}
}

static void close_one(int fd, void *arg)
{
	(void)arg;
	(void)close(fd);
}

/* burn_closing: burn, then close every descriptor above 2 but the
 * channel, as a function that tidies up before it returns would. */
static int burn_closing(int argc, char *argv[])
{
	int rc = burn(argc, argv);

	each_own_fd(close_one, NULL);
	return rc;
}

/* Put the file *arg at fd, but at the first number free (for the
 * library's own file, if it needs one). */
static void forge_at(int fd, void *arg)
{
	int *file = arg;

	if (fd == file[1])
		return;
	if (file[1] < 0 && fd != file[0]) {
		file[1] = fd;
		(void)close(fd);
	} else if (fd != file[0]) {
		(void)dup2(file[0], fd);
	}
}

/* burn_forging: burn, then put a file that says it is the status of pid
 * 1, with a peak of 1 KiB, at every descriptor number above 2 but the
 * channel and one left free: whatever the library kept at one of those
 * numbers is gone, and what is there now must not be taken for it. */
static int burn_forging(int argc, char *argv[])
{
	static const char forged[] = "Name:\tforged\nUmask:\t0022\nPid:\t1\n"
	                             "VmPeak:\t1 kB\nVmHWM:\t1 kB\n";
	int rc = burn(argc, argv);
	int file[2] = {memfd_create("forged", MFD_CLOEXEC), -1};

	if (file[0] < 0 || write(file[0], forged, sizeof(forged) - 1) !=
	                           (ssize_t)sizeof(forged) - 1)
		return 2;
	each_own_fd(forge_at, file);
	return rc;
}

static long long usage_ms(const struct rusage *ru)
{
	return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000LL +
	       (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
}

/* A command for name through the exec path (server 0) or the fork server
 * (1), whatever the suite's default. */
static reexec_cmd *path_cmd(const char *name, int server)
{
	reexec_cmd *cmd = reexec_command(name, NULL);

	assert_non_null(cmd);
	assert_int_equal(reexec_cmd_forkserver(cmd, server), 0);
	return cmd;
}

/* The fork server the test started (not the suite's) goes again. */
static void end_own_server(int had_server)
{
	if (!had_server)
		assert_int_equal(reexec_forkserver_stop(), 0);
}

/* A child, running name, that burns a known amount of CPU and writes a
 * known amount of memory, while its parent holds far more: the figures
 * are the child's, its peak too (on the exec path the kernel folds the
 * parent's into it). */
static void usage_of(const char *name, int namespaces)
{
	int had_server = using_forkserver();
	char *big = touch((size_t)PARENT_MIB << 20);

	assert_non_null(big);
	for (int server = 0; server < 2; server++) {
		reexec_cmd *cmd = path_cmd(name, server);
		struct rusage self, ru;
		int status = -1;

		if (namespaces)
			assert_int_equal(
			        reexec_cmd_set_namespaces(cmd, namespaces), 0);

		assert_int_equal(getrusage(RUSAGE_SELF, &self), 0);
		assert_int_equal(reexec_run(cmd, &status), 0);
		assert_int_equal(status, 0);
		assert_int_equal(reexec_rusage(cmd, &ru), 0);
		print_message("%s: %lld ms, maxrss %ld KiB (parent %ld KiB), "
		              "%ld minor faults, %ld+%ld switches\n",
		              server ? "fork server" : "exec", usage_ms(&ru),
		              ru.ru_maxrss, self.ru_maxrss, ru.ru_minflt,
		              ru.ru_nvcsw, ru.ru_nivcsw);
		assert_true(usage_ms(&ru) >= 150);
		assert_true(ru.ru_maxrss >= (long)TOUCH_MIB << 10);
		/* The parent's peak is not the child's. */
		assert_true(self.ru_maxrss >= (long)PARENT_MIB << 10);
		assert_true(ru.ru_maxrss < self.ru_maxrss);
		/* Writing 64 MiB takes a fault per page at least. */
		assert_true(ru.ru_minflt >= (TOUCH_MIB << 20) / 4096 / 2);
		reexec_cmd_free(cmd);
	}
	free(big);
	end_own_server(had_server);
}

static void usage_of_a_busy_child(void **state)
{
	(void)state;
	usage_of("burn", 0);
}

/* The same when the function closed every descriptor but its channel
 * before it returned. */
static void usage_when_function_closes_fds(void **state)
{
	(void)state;
	usage_of("burn_closing", 0);
}

/* The same when the function left a file of its own, one that looks like
 * a status file, at every descriptor number. */
static void usage_when_function_forges_fds(void **state)
{
	(void)state;
	usage_of("burn_forging", 0);
}

/* The same in a new pid namespace, where the function runs in a child of
 * the process started (the figures still its own). */
static void usage_in_a_pid_namespace(void **state)
{
	(void)state;
	usage_of("burn", CLONE_NEWPID);
}

/* No figures before the child is reaped, nor for a NULL. */
static void usage_only_once_reaped(void **state)
{
	int had_server = using_forkserver();

	(void)state;
	for (int server = 0; server < 2; server++) {
		reexec_cmd *cmd = path_cmd("pause", server);
		struct rusage ru;
		int status = -1;

		expect_fail(reexec_rusage(cmd, &ru), ECHILD);
		expect_fail(reexec_rusage(NULL, &ru), EINVAL);
		expect_fail(reexec_rusage(cmd, NULL), EINVAL);
		assert_int_equal(reexec_start(cmd), 0);
		expect_fail(reexec_rusage(cmd, &ru), ECHILD);
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
		expect_fail(reexec_rusage(cmd, &ru), ECHILD);
		/* Killed: the kernel's figures, there all the same. */
		assert_int_equal(reexec_stop(cmd, 0, &status), 0);
		assert_true(WIFSIGNALED(status));
		memset(&ru, 0xff, sizeof(ru));
		assert_int_equal(reexec_rusage(cmd, &ru), 0);
		assert_true(ru.ru_maxrss > 0);
		assert_true(ru.ru_utime.tv_usec >= 0 &&
		            ru.ru_utime.tv_usec < 1000000);
		reexec_cmd_free(cmd);
	}
	end_own_server(had_server);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(usage_of_a_busy_child),
	        cmocka_unit_test(usage_when_function_closes_fds),
	        cmocka_unit_test(usage_when_function_forges_fds),
	        cmocka_unit_test(usage_in_a_pid_namespace),
	        cmocka_unit_test(usage_only_once_reaped),
	};

	reexec_register("burn", burn);
	reexec_register("burn_closing", burn_closing);
	reexec_register("burn_forging", burn_forging);
	helpers_init(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
