/* Registry: validation, duplicates, no cap on names, thread safety. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "helpers.h"

static int fn_zero(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 0;
}

static void expect_register_fails(const char *name, reexec_fn fn, int err)
{
	errno = 0;
	assert_int_equal(reexec_register(name, fn), -1);
	assert_int_equal(errno, err);
}

static void bad_names_einval(void **state)
{
	char long_name[REEXEC_NAME_MAX + 2];

	(void)state;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';

	expect_register_fails(NULL, fn_zero, EINVAL);
	expect_register_fails("", fn_zero, EINVAL);
	expect_register_fails("a/b", fn_zero, EINVAL);
	expect_register_fails("/", fn_zero, EINVAL);
	expect_register_fails("trailing/", fn_zero, EINVAL);
	expect_register_fails(long_name, fn_zero, EINVAL);
	expect_register_fails("null_fn", NULL, EINVAL);
	/* None of them was registered by the failed attempt. */
	errno = 0;
	assert_null(reexec_command("null_fn", NULL));
	assert_int_equal(errno, ENOENT);
}

static void longest_name_accepted(void **state)
{
	char name[REEXEC_NAME_MAX + 1];
	reexec_cmd *cmd;

	(void)state;
	memset(name, 'm', REEXEC_NAME_MAX);
	name[REEXEC_NAME_MAX] = '\0';
	assert_int_equal(reexec_register(name, fn_zero), 0);
	cmd = reexec_command(name, NULL);
	assert_non_null(cmd);
	reexec_cmd_free(cmd);
}

static void duplicate_eexist(void **state)
{
	(void)state;
	assert_int_equal(reexec_register("dup_name", fn_zero), 0);
	expect_register_fails("dup_name", fn_zero, EEXIST);
	/* The name is compared whole, not as a prefix. */
	assert_int_equal(reexec_register("dup_nam", fn_zero), 0);
	assert_int_equal(reexec_register("dup_name2", fn_zero), 0);
}

static void name_is_copied(void **state)
{
	char name[] = "copied_name";
	reexec_cmd *cmd;

	(void)state;
	assert_int_equal(reexec_register(name, fn_zero), 0);
	strcpy(name, "clobbered!!");
	cmd = reexec_command("copied_name", NULL);
	assert_non_null(cmd);
	reexec_cmd_free(cmd);
}

static void many_names(void **state)
{
	char name[32];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "many_%d", (i * 7919) % 20000);
		assert_int_equal(reexec_register(name, fn_zero), 0);
	}
	for (int i = 0; i < 20000; i++) {
		reexec_cmd *cmd;

		snprintf(name, sizeof(name), "many_%d", i);
		cmd = reexec_command(name, NULL);
		assert_non_null(cmd);
		reexec_cmd_free(cmd);
	}
	/* A registered helper still runs in a child among all those names. */
	{
		int status;
		reexec_cmd *cmd = reexec_command("exit_code", "9", NULL);

		assert_int_equal(reexec_run(cmd, &status), 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 9);
		reexec_cmd_free(cmd);
	}
}

#define THREADS 8
#define PER_THREAD 500

static int won[THREADS];

/* Every thread registers its own names and races for shared ones, and
 * looks names up (building commands) while the others register. */
static void *register_many(void *arg)
{
	int t = (int)(intptr_t)arg;
	char name[32];

	for (int i = 0; i < PER_THREAD; i++) {
		reexec_cmd *cmd;

		snprintf(name, sizeof(name), "t%d_%d", t, i);
		if (reexec_register(name, fn_zero) != 0)
			return (void *)1;
		cmd = reexec_command(name, NULL);
		if (!cmd)
			return (void *)1;
		reexec_cmd_free(cmd);
		snprintf(name, sizeof(name), "shared_%d", i);
		if (reexec_register(name, fn_zero) == 0)
			won[t]++;
		else if (errno != EEXIST)
			return (void *)1;
	}
	return NULL;
}

static void concurrent_registration(void **state)
{
	pthread_t th[THREADS];
	char name[32];
	int total = 0;

	(void)state;
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, register_many,
		                                (void *)(intptr_t)t),
		                 0);
	for (int t = 0; t < THREADS; t++) {
		void *rc;

		assert_int_equal(pthread_join(th[t], &rc), 0);
		assert_null(rc);
		total += won[t];
	}
	/* Each shared name was won by exactly one thread. */
	assert_int_equal(total, PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			reexec_cmd *cmd;

			snprintf(name, sizeof(name), "t%d_%d", t, i);
			cmd = reexec_command(name, NULL);
			assert_non_null(cmd);
			reexec_cmd_free(cmd);
		}
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(bad_names_einval),
	        cmocka_unit_test(longest_name_accepted),
	        cmocka_unit_test(duplicate_eexist),
	        cmocka_unit_test(name_is_copied),
	        cmocka_unit_test(many_names),
	        cmocka_unit_test(concurrent_registration),
	};

	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
