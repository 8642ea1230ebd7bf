/* A program that never calls reexec_init(): commands must be refused, since
 * the child would run main() again instead of the function. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "reexec.h"

static int fn(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 0;
}

static void command_before_init_eperm(void **state)
{
	(void)state;
	assert_int_equal(reexec_register("fn", fn), 0);
	errno = 0;
	assert_null(reexec_command("fn", NULL));
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_null(reexec_commandv("fn", NULL));
	assert_int_equal(errno, EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(command_before_init_eperm),
	};

	return cmocka_run_group_tests_name("noinit", tests, NULL, NULL);
}
