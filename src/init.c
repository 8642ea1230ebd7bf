/* The child's side: dispatch on argv[0]. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "internal.h"

static atomic_bool initialised;

bool init_done(void)
{
	return atomic_load(&initialised);
}

static const char *last_component(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

#ifndef HAVE_SPAWN_CLOSEFROM
/* posix_spawn could not close the descriptors this child must not have;
 * the parent told us where they start. */
static void close_inherited(void)
{
	int lo = parse_fd(getenv(ENV_CLOSE_FROM));

	unsetenv(ENV_CLOSE_FROM);
	if (lo > 0)
		close_from(lo);
}
#endif

int reexec_init(int argc, char *argv[])
{
	const char *name = NULL;
	const char *channel;
	reexec_fn fn = NULL;
	int flags = 0;

	atomic_store(&initialised, true);
	if (argc >= 1 && argv && argv[0]) {
		name = last_component(argv[0]);
		fn = registry_lookup(name, &flags);
	}
	channel = getenv(ENV_CHANNEL);
	if (channel) {
		/* Started by reexec_start(): prove it, or refuse. */
		int fd = parse_fd(channel);

		unsetenv(ENV_CHANNEL);
		child_accept(fd, name);
#ifdef __linux__
		if (name && strcmp(name, SERVER_NAME) == 0) {
			child_take_input(fd, name);
			prctl(PR_SET_NAME, name);
			parent_child_setup();
			forkserver_main(fd);
		}
#endif
		if (!fn)
			child_refuse(name,
			             "this program has no function of "
			             "that name",
			             ENOENT, fd);
		child_take_input(fd, name);
	} else if (!fn || !(flags & REG_MULTICALL)) {
		/* No channel at all: an ordinary start of the program, even
		 * when its file bears a function's name (a "worker" binary
		 * that registers "worker"); only a multicall entry runs by
		 * name alone. Running main gives whoever started us nothing
		 * that starting the program did not. Find our binary now,
		 * while its files are still where the program started from. */
		self_resolve();
		return 0;
	} else if (child_secure() && !(flags & REEXEC_ALLOW_SETUID)) {
		child_refuse(name, "multicall entry in a setuid program",
		             EACCES, -1);
	}
#ifndef HAVE_SPAWN_CLOSEFROM
	close_inherited();
#endif
#ifdef __linux__
	/* ps and top show the function, not "exe"; the kernel keeps the
	 * first 15 bytes. */
	prctl(PR_SET_NAME, name);
#endif
	child_isolate(name);
	parent_child_setup();
	/* fn is set: every path without one returned or refused (and
	 * child_refuse() does not return). */
	// cppcheck-suppress nullPointerRedundantCheck
	exit(child_run(fn, argc, argv));
}
