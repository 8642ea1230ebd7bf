/* The sealed start: the whole program, not only some of its children, runs
 * from the sealed copy of its binary (seal.c).
 *
 * A sealed child cannot write its own image, but while its parent runs
 * from the file on disk it can open /proc/<parent>/exe, or hold it with
 * O_PATH and reopen it for writing once the parent has exited and the
 * file is no longer busy, and write the binary that the next start will
 * run: the runc CVE-2019-5736 attack aimed one level up. So, as runc does,
 * reexec_init_sealed() executes the program again, once, from the sealed
 * copy, with the same arguments and environment. Then nothing of ours runs
 * from the disk file: the pinned descriptor (self.c) names the copy, so
 * every child and the fork server are executed from it too.
 *
 * What stops the re-execution is the image itself, not a variable: a
 * process whose /proc/self/exe is a memfd sealed against writing and
 * resizing runs sealed, whoever made it. The variable ENV_SEALED only
 * tells the new image that we executed it, so that one which still does
 * not find itself sealed (a tool that runs programs under its own control
 * and follows the exec, say) fails instead of executing again. Forged, it
 * can only make the start fail; it is removed before the program or any
 * child could see it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

/* Execute argv from the sealed copy with our environment and the marker;
 * returns only on failure. */
static int exec_sealed(char *argv[])
{
	static char marker[] = ENV_SEALED "=1";
	int fd = sealed_self_fd();
	size_t n = 0;
	char **envp;

	if (fd < 0)
		return -1;
	while (environ && environ[n])
		n++;
	envp = malloc((n + 2) * sizeof(*envp));
	if (!envp)
		return -1;
	if (n)
		memcpy(envp, environ, n * sizeof(*envp));
	envp[n] = marker;
	envp[n + 1] = NULL;
	fexecve(fd, argv, envp);
	free(envp);
	return -1;
}

int reexec_init_sealed(int argc, char *argv[])
{
	bool executed = getenv(ENV_SEALED) != NULL;

	(void)unsetenv(ENV_SEALED);
	/* A child runs from whatever its parent started it from; its
	 * channel, true or not, is reexec_init()'s to judge. */
	if (getenv(ENV_CHANNEL) || running_sealed())
		return reexec_init(argc, argv);
	if (executed) {
		errno = ELOOP;
		return -1;
	}
	if (init_done()) {
		errno = EBUSY;
		return -1;
	}
	/* The privileges of a setuid or file-capability program come with
	 * the file; its copy has neither the set-user-ID bits nor the
	 * capabilities (those would be lost in the exec). */
	if (child_secure()) {
		errno = EPERM;
		return -1;
	}
	if (argc < 1 || !argv || !argv[0]) {
		errno = EINVAL;
		return -1;
	}
	return exec_sealed(argv);
}
