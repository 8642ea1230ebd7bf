/* Deadlines for calls that take a timeout, on the monotonic clock so that
 * a change of the wall clock neither shortens nor stretches them. */
#define _GNU_SOURCE
#include <limits.h>
#include <time.h>

#include "internal.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline timeout_ms from now; -1 (never) for a negative timeout. */
long long deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* What is left until deadline, as a poll(2) timeout: -1 for never, 0 once
 * it has passed. Rounded up, so that a wait never ends early. */
int ms_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}
