/* Many threads building, starting and waiting commands at once, beside
 * threads that allocate and open descriptors without O_CLOEXEC. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define SPAWNERS 8

static atomic_bool stop_noise;
static atomic_int leaked_reports, failures;

static void *malloc_noise(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&stop_noise)) {
		void *p[64];

		for (int i = 0; i < 64; i++)
			p[i] = malloc((size_t)(rand_r(&seed) % 65536) + 1);
		for (int i = 0; i < 64; i++)
			free(p[i]);
		sched_yield();
	}
	return NULL;
}

static void *fd_noise(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_noise)) {
		int fd = open("/dev/null",
		              O_RDONLY); /* inheritable on purpose */
		int p[2];

		if (fd >= 0)
			close(fd);
		if (pipe(p) == 0) {
			close(p[0]);
			close(p[1]);
		}
		sched_yield();
	}
	return NULL;
}

/* Alternate a captured fd_report (must see exactly the one fd handed on)
 * and a run with a pipe on stdout. */
static void *spawner(void *arg)
{
	int rounds = under_valgrind() ? 3 : 40;

	(void)arg;
	for (int r = 0; r < rounds; r++) {
		struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
		reexec_cmd *cmd = reexec_command("fd_report", NULL);
		int status = -1;
		char buf[16];

		if (!cmd || reexec_cmd_add_fd(cmd, 2) != 3 ||
		    reexec_capture(cmd, &cap, &status) < 0 || status != 0) {
			atomic_fetch_add(&failures, 1);
			reexec_cmd_free(cmd);
			continue;
		}
		if (strcmp(cap.out, "3 ") != 0)
			atomic_fetch_add(&leaked_reports, 1);
		free(cap.out);
		reexec_cmd_free(cmd);

		cmd = reexec_command("write_fd", "1", "ok", NULL);
		if (!cmd || reexec_cmd_stdio_pipe(cmd, 1) < 0 ||
		    reexec_start(cmd) < 0 ||
		    read(reexec_pipe(cmd, 1), buf, sizeof(buf)) != 2 ||
		    reexec_wait(cmd, &status) < 0 || status != 0)
			atomic_fetch_add(&failures, 1);
		reexec_cmd_free(cmd);
	}
	return NULL;
}

static void concurrent_spawns(void **state)
{
	pthread_t spawners[SPAWNERS], noise[4];
	int fds_before = count_fds();

	(void)state;
	atomic_store(&stop_noise, false);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&noise[i], NULL, malloc_noise,
		                                (void *)(uintptr_t)(i + 1)),
		                 0);
	for (int i = 2; i < 4; i++)
		assert_int_equal(
		        pthread_create(&noise[i], NULL, fd_noise, NULL), 0);
	for (int i = 0; i < SPAWNERS; i++)
		assert_int_equal(
		        pthread_create(&spawners[i], NULL, spawner, NULL), 0);
	for (int i = 0; i < SPAWNERS; i++)
		assert_int_equal(pthread_join(spawners[i], NULL), 0);
	atomic_store(&stop_noise, true);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(noise[i], NULL), 0);

	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(atomic_load(&leaked_reports), 0);
	assert_true(no_children());
	assert_int_equal(count_fds(), fds_before);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(concurrent_spawns),
	};

	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
