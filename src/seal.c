/* The sealed self: a copy of our binary in a sealed memfd, to execute
 * instead of the file on disk. A child run from it has, as
 * /proc/<pid>/exe, that sealed copy: nothing it or anything it execs does
 * through that link can write to the binary on disk (the runc
 * CVE-2019-5736 kind of attack), and the copy itself cannot be changed.
 *
 * Some systems forbid executable memfds (vm.memfd_noexec = 2), and newer
 * kernels want MFD_EXEC to make one. When no executable sealed copy can be
 * had, sealing fails, and so does every start that asked for it: never a
 * quiet fall back to the file on disk. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#include <sys/sendfile.h>
#endif

#include "internal.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static pthread_once_t seal_once = PTHREAD_ONCE_INIT;
static int sealed_fd = -1;
static int seal_errno;

#if defined(__linux__) && defined(MFD_ALLOW_SEALING)
static int copy_into(int dst, int src)
{
	struct stat st;
	off_t off = 0;

	if (fstat(src, &st) < 0)
		return -1;
	while (off < st.st_size) {
		ssize_t n =
		        sendfile(dst, src, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (errno = EIO, -1);
	}
	return 0;
}

/* What makes an image immutable: no write, no resize, ever. */
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* A descriptor of the image this process runs, when that is a memfd that
 * nothing can change any more (whoever made it), or -1. */
static int running_image_sealed(void)
{
	int fd = open(PROC_SELF_EXE, O_RDONLY | O_CLOEXEC);
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;

	if (seals < 0 || (seals & SEALS) != SEALS) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

bool running_sealed(void)
{
	int fd = running_image_sealed();

	return fd >= 0 && close(fd) == 0;
}

/* A sealed copy of the file at path, or -1. */
static int copy_sealed(const char *path)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int src = open(path, O_RDONLY | O_CLOEXEC), fd;

	if (src < 0)
		return -1;
	fd = memfd_create("reexec", flags | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* a kernel before MFD_EXEC */
		fd = memfd_create("reexec", flags);
	if (fd >= 0 && (copy_into(fd, src) < 0 ||
	                fcntl(fd, F_ADD_SEALS, SEALS | F_SEAL_SEAL) < 0)) {
		close_keep_errno(fd);
		fd = -1;
	}
	close_keep_errno(src);
	return fd;
}

static void make_sealed(void)
{
	const char *self = reexec_self();
	struct stat st;
	int fd = -1;

	if (!self)
		goto fail;
	/* Run from a sealed image already (reexec_init_sealed()): that is
	 * the copy, when it is our program and not a loader of it. */
	if (strcmp(self, PROC_SELF_EXE) == 0)
		fd = running_image_sealed();
	if (fd < 0)
		fd = copy_sealed(self);
	if (fd < 0)
		goto fail;
	/* A memfd the system made non-executable cannot serve. */
	if (fstat(fd, &st) < 0 || !(st.st_mode & S_IXUSR)) {
		close_keep_errno(fd);
		errno = EACCES;
		goto fail;
	}
	sealed_fd = fd;
	return;
fail:
	seal_errno = errno ? errno : EIO;
}
#else
static void make_sealed(void)
{
	seal_errno = ENOSYS;
}

bool running_sealed(void)
{
	return false;
}
#endif

int reexec_seal(void)
{
	pthread_once(&seal_once, make_sealed);
	/* cppcheck-suppress knownConditionTrueFalse ; set by make_sealed */
	if (sealed_fd < 0) {
		errno = seal_errno;
		return -1;
	}
	return 0;
}

int sealed_self_fd(void)
{
	if (reexec_seal() < 0)
		return -1;
	return sealed_fd;
}

int reexec_cmd_seal(reexec_cmd *cmd)
{
	if (cmd_settable(cmd, true) < 0 || reexec_seal() < 0)
		return -1;
	cmd->sealed = true;
	return 0;
}
