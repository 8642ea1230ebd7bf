/* What a fork-server child takes from its caller at the moment of the
 * start, so that it is the child an exec would have given.
 *
 * execve(2) and fork(2) pass a child much of its parent's state. A child
 * forked by the server gets the server's instead, which is the caller's
 * as it was when the server started. Each item is handled one of three
 * ways:
 *
 *  - carried with each request and set by the child before the start
 *    returns: the working directory (as a descriptor, so that a relative
 *    directory of the command resolves where the caller is now), the
 *    umask, every resource limit, and the calling thread's nice value
 *    (arguments, environment, descriptors, process group and session are
 *    carried by the request itself);
 *  - compared: what the child could not take on by itself without more
 *    privilege than it has, or should not be able to shed: real,
 *    effective and saved user and group ids, supplementary groups, the
 *    capability sets, no_new_privs, the seccomp mode and filters, the
 *    securebits, the session and process group, the root directory and
 *    the namespaces. When any differs from what it was when the server
 *    started, the caller replaces the server with one started as it is
 *    now (forkserver.c): a child never runs with another identity than
 *    its caller's;
 *  - reset in every child as on the exec path: the signal mask and
 *    dispositions.
 *
 * What stays the server's: CPU affinity, scheduling policy and I/O
 * priority, oom_score_adj, timer slack, personality, the cgroup, the
 * controlling terminal of the session, and security labels; the program
 * that changes these after the server started and wants its children to
 * have them uses the exec path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "internal.h"

/* The lines of /proc/PID/status that say who the process is. */
static const char *const identity_lines[] = {
        "Uid:",        "Gid:",     "Groups:",
        "NoNewPrivs:", "Seccomp:", "Seccomp_filters:",
        "CapInh:",     "CapPrm:",  "CapEff:",
        "CapBnd:",     "CapAmb:",
};

static const char *const namespaces[] = {
        "mnt",    "pid_for_children",  "net", "uts", "ipc", "user",
        "cgroup", "time_for_children",
};

static bool wanted(const char *line)
{
	for (size_t i = 0; i < sizeof(identity_lines) / sizeof(*identity_lines);
	     i++)
		if (strncmp(line, identity_lines[i],
		            strlen(identity_lines[i])) == 0)
			return true;
	return false;
}

/* The whole of a small /proc file, NUL-terminated, in malloc'd memory. */
static char *read_all(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf)
		goto fail;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);

			if (!grown)
				goto fail;
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	if (fd >= 0)
		close_keep_errno(fd);
	free(buf);
	return NULL;
}

static bool keep(const char *line, unsigned *umask_now)
{
	if (strncmp(line, "Umask:", 6) == 0) {
		*umask_now = (unsigned)strtoul(line + 6, NULL, 8) & 0777;
		return false;
	}
	return wanted(line);
}

/* Append s to the text of *n bytes in buf[cap], which stays
 * NUL-terminated whatever the length. */
static void add(char *buf, size_t cap, size_t *n, const char *s)
{
	size_t k = strlen(s);

	if (k > cap - 1 - *n)
		k = cap - 1 - *n;
	memcpy(buf + *n, s, k);
	*n += k;
	buf[*n] = '\0';
}

/* Who the calling thread is, as text (malloc'd), and its umask. */
static char *identity(unsigned *umask_now)
{
	char *status = read_all("/proc/thread-self/status");
	char extra[1024], word[96], *line, *next, *id;
	size_t len = 0, n = 0;
	struct stat root;

	if (!status)
		status = read_all("/proc/self/status");
	if (!status)
		return NULL;
	/* Keep the identity lines, in place. */
	*umask_now = 022;
	for (line = status; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (keep(line, umask_now)) {
			memmove(status + len, line, (size_t)(next - line));
			len += (size_t)(next - line);
		}
	}
	/* Then what the status file does not say. */
	(void)snprintf(word, sizeof(word), "sid %ld pgrp %ld", (long)getsid(0),
	               (long)getpgrp());
	add(extra, sizeof(extra), &n, word);
#ifdef __linux__
	(void)snprintf(word, sizeof(word), " secure %d",
	               prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	add(extra, sizeof(extra), &n, word);
#endif
	if (stat("/", &root) == 0) {
		(void)snprintf(word, sizeof(word), " root %llu:%llu",
		               (unsigned long long)root.st_dev,
		               (unsigned long long)root.st_ino);
		add(extra, sizeof(extra), &n, word);
	}
	for (size_t i = 0; i < sizeof(namespaces) / sizeof(*namespaces); i++) {
		char path[64];
		ssize_t k;

		(void)snprintf(path, sizeof(path), "/proc/thread-self/ns/%s",
		               namespaces[i]);
		word[0] = ' ';
		k = readlink(path, word + 1, sizeof(word) - 2);
		if (k < 0)
			continue; /* (a kernel without it) */
		word[k + 1] = '\0';
		add(extra, sizeof(extra), &n, word);
	}
	id = realloc(status, len + n + 1);
	if (!id) {
		free(status);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(id + len, extra, n);
	id[len + n] = '\0';
	return id;
}

/* The limits and nice value of the calling thread. */
static int own_state(struct inherited *in)
{
	for (int i = 0; i < INHERIT_LIMITS; i++) {
		struct rlimit r;

		if (getrlimit(i, &r) < 0)
			return -1;
		in->limit[i][0] = r.rlim_cur;
		in->limit[i][1] = r.rlim_max;
	}
	errno = 0;
	in->nice = getpriority(PRIO_PROCESS, 0);
	return errno ? -1 : 0;
}

char *caller_state(struct inherited *in)
{
	char *id = identity(&in->umask);

	if (id && own_state(in) < 0) {
		int err = errno;

		free(id);
		errno = err;
		return NULL;
	}
	return id;
}

void server_state(struct inherited *in)
{
	mode_t m = umask(0);

	umask(m);
	in->umask = m;
	if (own_state(in) < 0)
		in->nice = -100; /* (unknown: always set) */
}

int inherited_apply(const struct inherited *want, const struct inherited *had)
{
	umask((mode_t)want->umask);
	for (int i = 0; i < INHERIT_LIMITS; i++) {
		struct rlimit r = {(rlim_t)want->limit[i][0],
		                   (rlim_t)want->limit[i][1]};

		if (want->limit[i][0] == had->limit[i][0] &&
		    want->limit[i][1] == had->limit[i][1])
			continue;
		if (setrlimit(i, &r) < 0)
			return -1;
	}
	if (want->nice != had->nice &&
	    setpriority(PRIO_PROCESS, 0, want->nice) < 0)
		return -1;
	return 0;
}
