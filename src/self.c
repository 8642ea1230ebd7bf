/* Finding the binary to re-execute.
 *
 * On Linux, /proc/self/exe is the right answer almost always: the kernel
 * resolves it at each spawn to the very file this process runs, even when
 * that file has been deleted or renamed. It is wrong when the process was
 * started through another program that then loaded ours: the dynamic
 * loader run by hand (ld.so ./prog) or a tool such as valgrind. There
 * /proc/self/exe is that other program. We notice by comparing it with the
 * file mapped where our own program headers are, and then execute that
 * file by its path instead.
 *
 * Either way the file is also held open from then on, and spawns execute
 * that descriptor: it still is the very program that was started, even
 * if its file was deleted or replaced since, and it works where the path
 * does not (a chroot, /proc unmounted in a new mount namespace). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/auxv.h>
#elif defined(__FreeBSD__) || defined(__DragonFly__)
#include <limits.h>
#include <sys/sysctl.h>
#elif defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

#include "internal.h"

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static const char *self_path;
static int self_errno;
static int self_fd = -1; /* the binary, pinned: see self_pinned_fd() */

#ifdef __linux__
/* The path of the file mapped at addr, from /proc/self/maps; NULL when it
 * cannot be told. */
static char *mapped_file(uintptr_t addr)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char *line = NULL, *path = NULL;
	size_t cap = 0;

	if (!maps)
		return NULL;
	while (getline(&line, &cap, maps) > 0) {
		unsigned long lo, hi;
		int off = 0;
		char *p;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) <
		            2 ||
		    off == 0 || addr < lo || addr >= hi)
			continue;
		p = line + off;
		p[strcspn(p, "\n")] = '\0';
		if (*p == '/')
			path = strdup(p);
		break;
	}
	free(line);
	(void)fclose(maps);
	return path;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static void resolve(void)
{
	struct stat exe, ours;
	char *mapped;

	self_path = PROC_SELF_EXE;
	mapped = mapped_file((uintptr_t)getauxval(AT_PHDR));
	if (!mapped)
		return;
	if (stat(PROC_SELF_EXE, &exe) == 0 && stat(mapped, &ours) == 0 &&
	    !same_file(&exe, &ours))
		self_path = mapped; /* kept for the life of the process */
	else
		free(mapped);
}

/* Hold the binary open, to execute it from there (spawn.c). */
static void pin(void)
{
#ifdef O_PATH
	self_fd = open(self_path, O_PATH | O_CLOEXEC);
#endif
}
#elif defined(__FreeBSD__) || defined(__DragonFly__)
/* The kernel knows the path our image was executed from. */
static void resolve(void)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
	char buf[PATH_MAX];
	size_t len = sizeof(buf);

	if (sysctl(mib, 4, buf, &len, NULL, 0) < 0 ||
	    !(self_path = strdup(buf)))
		self_errno = errno;
}

static void pin(void)
{
}
#elif defined(__APPLE__)
/* dyld knows the path it loaded us from; make it absolute and real. */
static void resolve(void)
{
	uint32_t size = 0;
	char *buf;

	_NSGetExecutablePath(NULL, &size);
	buf = malloc(size);
	if (!buf || _NSGetExecutablePath(buf, &size) != 0 ||
	    !(self_path = realpath(buf, NULL)))
		self_errno = errno ? errno : ENOENT;
	free(buf);
}

static void pin(void)
{
}
#else
static void resolve(void)
{
	self_errno = ENOSYS;
}

static void pin(void)
{
}
#endif

static void resolve_and_pin(void)
{
	resolve();
	if (self_path)
		pin();
}

void self_resolve(void)
{
	pthread_once(&self_once, resolve_and_pin);
}

/* A descriptor of our binary to execute, or -1. */
int self_pinned_fd(void)
{
	self_resolve();
	return self_fd;
}

const char *reexec_self(void)
{
	self_resolve();
	if (!self_path) {
		errno = self_errno;
		return NULL;
	}
	return self_path;
}
