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
	const char *from = getenv(ENV_CLOSE_FROM);
	char *end;
	long lo;

	if (!from)
		return;
	errno = 0;
	lo = strtol(from, &end, 10);
	if (errno || *end || end == from || lo < 3 || lo > INT_MAX)
		lo = -1;
	unsetenv(ENV_CLOSE_FROM);
	if (lo > 0)
		close_from((int)lo);
}
#endif

int reexec_init(int argc, char *argv[])
{
	reexec_fn fn;

	atomic_store(&initialised, true);
	fn = argc >= 1 && argv && argv[0]
	             ? registry_lookup(last_component(argv[0]))
	             : NULL;
	if (!fn) {
		/* Not a child of ours: find our binary now, while its files
		 * are still where the program started from. */
		self_resolve();
		return 0;
	}
#ifndef HAVE_SPAWN_CLOSEFROM
	close_inherited();
#endif
#ifdef __linux__
	/* ps and top show the function, not "exe"; the kernel keeps the
	 * first 15 bytes. */
	prctl(PR_SET_NAME, last_component(argv[0]));
#endif
	parent_child_setup();
	exit(fn(argc, argv));
}
