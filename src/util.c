/* Small helpers for string vectors and descriptors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "internal.h"

void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* A deep copy of the NULL-terminated v (NULL is an empty vector). */
char **dup_strv(char *const v[])
{
	size_t n = 0;
	char **copy;

	while (v && v[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(v[i]);
		if (!copy[i]) {
			free_strv(copy);
			errno = ENOMEM;
			return NULL;
		}
	}
	return copy;
}

/* close(2) for cleanup paths, where the error being reported is another. */
int close_keep_errno(int fd)
{
	int saved = errno;
	int rc = fd >= 0 ? close(fd) : 0;

	errno = saved;
	return rc;
}

/* Close every descriptor from lo up. Only system calls: safe in a child
 * between vfork and exec. */
void close_from(int lo)
{
	struct rlimit rl;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 65536;
	for (rlim_t fd = (rlim_t)lo; fd < rl.rlim_cur; fd++)
		close((int)fd);
}
