/* Finding the binary to re-execute. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>

#include "internal.h"

const char *reexec_self(void)
{
#if defined(__linux__)
	return "/proc/self/exe";
#elif defined(__FreeBSD__) || defined(__DragonFly__) || defined(__NetBSD__)
	return "/proc/curproc/file";
#else
	errno = ENOSYS;
	return NULL;
#endif
}
