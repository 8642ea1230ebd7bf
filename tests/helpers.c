/* Helper functions run in re-executed children of the test binaries. Each
 * reports what it sees on stdout or through its exit status. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HELPERS_NO_CMOCKA
#include <cmocka.h>
#endif

#include "helpers.h"

extern char **environ;

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* exit_code N: return N. */
static int h_exit_code(int argc, char *argv[])
{
	return argc > 1 ? atoi(argv[1]) : 0;
}

/* print_args: argv, each string followed by a NUL. */
static int h_print_args(int argc, char *argv[])
{
	for (int i = 0; i < argc; i++)
		if (write_all(1, argv[i], strlen(argv[i]) + 1) < 0)
			return 1;
	return 0;
}

/* fd_report: the open descriptors from 3 up that a program it executed
 * would inherit, as "3 4 ". (The library's own, its channel and the parent
 * watch, are close-on-exec.) */
static int h_fd_report(int argc, char *argv[])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	(void)argc;
	(void)argv;
	if (!d)
		return 100;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd < 3 || fd == dirfd(d) ||
		    (fcntl(fd, F_GETFD) & FD_CLOEXEC))
			continue;
		printf("%d ", fd);
	}
	closedir(d);
	return 0;
}

/* signal_report: the signals that are blocked or ignored, the only state
 * that survives an exec. */
static int h_signal_report(int argc, char *argv[])
{
	sigset_t mask;
	int bad = 0;

	(void)argc;
	(void)argv;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigismember(&mask, s) == 1) {
			printf("blocked %d\n", s);
			bad = 1;
		}
		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			printf("ignored %d\n", s);
			bad = 1;
		}
	}
	return bad;
}

/* print_env: the environment, each entry followed by a NUL. */
static int h_print_env(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	for (char **e = environ; *e; e++)
		if (write_all(1, *e, strlen(*e) + 1) < 0)
			return 1;
	return 0;
}

/* print_cwd: the working directory. */
static int h_print_cwd(int argc, char *argv[])
{
	char buf[4096];

	(void)argc;
	(void)argv;
	if (!getcwd(buf, sizeof(buf)))
		return 1;
	fputs(buf, stdout);
	return 0;
}

/* cat: stdin to stdout. */
static int h_cat(int argc, char *argv[])
{
	char buf[65536];
	ssize_t n;

	(void)argc;
	(void)argv;
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write_all(1, buf, (size_t)n) < 0)
			return 1;
	return n < 0;
}

/* write_fd FD TEXT [FD TEXT ...]: write each TEXT to its FD. */
static int h_write_fd(int argc, char *argv[])
{
	for (int i = 1; i + 1 < argc; i += 2)
		if (write_all(atoi(argv[i]), argv[i + 1], strlen(argv[i + 1])) <
		    0)
			return 10 + i;
	return 0;
}

/* flood MIB: MIB MiB of flood_byte() on stdout and the same on stderr,
 * interleaved in 64 KiB pieces, without reading stdin first; then read
 * stdin to its end and append "IN <length> <fnv1a>\n" to stdout. */
static int h_flood(int argc, char *argv[])
{
	size_t total = (size_t)(argc > 1 ? atoi(argv[1]) : 1) << 20;
	static unsigned char chunk[65536];
	static char in[65536];
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t inlen = 0;
	ssize_t n;

	for (size_t off = 0; off < total; off += sizeof(chunk)) {
		size_t len = total - off;

		if (len > sizeof(chunk))
			len = sizeof(chunk);

		for (size_t i = 0; i < len; i++)
			chunk[i] = flood_byte(off + i);
		if (write_all(1, chunk, len) < 0 ||
		    write_all(2, chunk, len) < 0)
			return 1;
	}
	while ((n = read(0, in, sizeof(in))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			h ^= (unsigned char)in[i];
			h *= 0x100000001b3ULL;
		}
		inlen += (size_t)n;
	}
	printf("IN %zu %016llx\n", inlen, (unsigned long long)h);
	return n < 0;
}

/* mixed: "out1\n" to stdout, "err1\n" to stderr, "out2\n" to stdout. */
static int h_mixed(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	write_all(1, "out1\n", 5);
	write_all(2, "err1\n", 5);
	write_all(1, "out2\n", 5);
	return 0;
}

/* pause: wait for a signal forever. */
static int h_pause(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	for (;;)
		pause();
	return 0;
}

/* ids: "pid pgid sid" of this process. */
static int h_ids(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	printf("%d %d %d", (int)getpid(), (int)getpgid(0), (int)getsid(0));
	return 0;
}

/* stdio_nowrite: print without a newline and return; exit() must flush. */
static int h_unflushed(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	fputs("buffered", stdout);
	return 3;
}

void helpers_register(void)
{
	static const struct {
		const char *name;
		reexec_fn fn;
	} helpers[] = {
	        {"exit_code", h_exit_code},
	        {"print_args", h_print_args},
	        {"fd_report", h_fd_report},
	        {"signal_report", h_signal_report},
	        {"print_env", h_print_env},
	        {"print_cwd", h_print_cwd},
	        {"cat", h_cat},
	        {"write_fd", h_write_fd},
	        {"flood", h_flood},
	        {"mixed", h_mixed},
	        {"pause", h_pause},
	        {"ids", h_ids},
	        {"unflushed", h_unflushed},
	};

	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (reexec_register(helpers[i].name, helpers[i].fn) < 0) {
			perror("reexec_register");
			exit(99);
		}
	/* The same functions, reachable without a parent's channel too, for
	 * the tests that run this binary by hand. */
	if (reexec_register_multicall("multi_exit_code", h_exit_code, 0) < 0 ||
	    reexec_register_multicall("multi_fd_report", h_fd_report, 0) < 0) {
		perror("reexec_register_multicall");
		exit(99);
	}
}

void helpers_started(void)
{
	/* make check-forkserver: the same suites, every child forked by
	 * the fork server. */
	if (getenv("TEST_FORKSERVER") &&
	    reexec_forkserver_start(REEXEC_FORKSERVER_ALL) < 0) {
		perror("reexec_forkserver_start");
		exit(99);
	}
}

void helpers_init(int argc, char *argv[])
{
	helpers_register();
	reexec_init(argc, argv);
	/* A test that starts this binary by hand asks whether main runs:
	 * say so, with the name and arguments main got, and stop there. */
	if (getenv("TEST_MAIN_PROBE")) {
		printf("main ran as %s with %d argument(s)\n",
		       argc > 0 ? argv[0] : "(none)", argc - 1);
		exit(0);
	}
	helpers_started();
}

unsigned char flood_byte(size_t i)
{
	return (unsigned char)(i % 251 + (i >> 16));
}

uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int under_valgrind(void)
{
	const char *v = getenv("TEST_UNDER_VALGRIND");

	return v && *v && strcmp(v, "0") != 0;
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/* Is pid the fork server's spare (a fork of the server that has not
 * become anything yet, and so still bears the server's name), or gone
 * already (listed a moment ago, reaped since)? */
static int spare_or_gone(pid_t pid)
{
	char path[64], comm[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "reexec-forkser", 14) == 0;
}

/* The children of process pid (all its threads'), from /proc, into
 * kids (at most max); their number, or -1 when the kernel does not list
 * them. */
static int children_of(pid_t pid, pid_t *kids, int max)
{
	char path[320], buf[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children",
		         (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f && errno == ENOENT)
			continue; /* the thread ended: no children of its own */
		if (!f) {
			n = -1;
			break;
		}
		while (fscanf(f, "%63s", buf) == 1 && n < max)
			kids[n++] = atoi(buf);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* The children of pid other than skip, and other than a spare (or one
 * reaped while we looked) when skip is 0; -1 when they cannot be listed. */
static int count_children(pid_t pid, pid_t skip)
{
	pid_t kids[256];
	int n = children_of(pid, kids, 256), count = 0;

	for (int i = 0; i < n; i++)
		if (kids[i] != skip && (skip || !spare_or_gone(kids[i])))
			count++;
	return n < 0 ? -1 : count;
}

void reap_orphans(void)
{
	pid_t server = reexec_forkserver_pid(), kids[256];
	int n;

	if (server < 0) {
		while (waitpid(-1, NULL, 0) > 0)
			;
		return;
	}
	/* Not waitpid(-1): the server would never end. */
	n = children_of(getpid(), kids, 256);
	for (int i = 0; i < n; i++)
		if (kids[i] != server)
			waitpid(kids[i], NULL, 0);
}

void kill_orphans(void)
{
	pid_t server = reexec_forkserver_pid(), kids[256];
	int left;

	do {
		int n = children_of(getpid(), kids, 256);

		left = 0;
		for (int i = 0; i < n; i++) {
			/* Listed as our child and not yet reaped by us: the
			 * pid is still that child's. */
			if (kids[i] <= 0 || kids[i] == server)
				continue;
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			left++;
		}
	} while (left > 0); /* theirs come to us as they die */
}

int using_forkserver(void)
{
	return reexec_forkserver_pid() >= 0;
}

int no_children(void)
{
	pid_t server = reexec_forkserver_pid();
	int n;

	if (server < 0)
		return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
	/* With the fork server: it is our one child, and it has none but
	 * its spare. */
	n = count_children(getpid(), server);
	return n == 0 && count_children(server, 0) == 0;
}

#ifndef HELPERS_NO_CMOCKA
void expect_fail(int rc, int err)
{
	assert_int_equal(rc, -1);
	assert_int_equal(errno, err);
	errno = 0;
}

char *capture_stdout(reexec_cmd *cmd, size_t *len, int *status)
{
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};

	assert_non_null(cmd);
	assert_int_equal(reexec_capture(cmd, &cap, status), 0);
	assert_non_null(cap.out);
	if (len)
		*len = cap.out_len;
	return cap.out;
}

void skip_unless_setuid_testable(const char *setpriv)
{
	const char *skip_reason = NULL;

	if (getenv("TEST_SANITIZER"))
		skip_reason = "sanitizer runtimes refuse setuid binaries";
	else if (geteuid() != 0)
		skip_reason = "needs root to make a setuid-root copy";
	else if (access(setpriv, X_OK) < 0)
		skip_reason = "no setpriv to run it as another user";
	if (skip_reason) {
		print_message("skipped: %s\n", skip_reason);
		skip();
	}
}

int run_probe(const char *name, const char *skip_reason)
{
	reexec_cmd *cmd = reexec_command(name, NULL);
	int status = -1;

	assert_non_null(cmd);
	assert_int_equal(reexec_run(cmd, &status), 0);
	reexec_cmd_free(cmd);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		print_message("skipped: %s\n", skip_reason);
		skip();
	}
	return WEXITSTATUS(status);
}

static volatile sig_atomic_t interrupts;
static struct sigaction interrupts_old;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupts++;
}

void interrupts_start(void)
{
	const char *us_env = getenv("TEST_TIMER_US");
	long us = us_env ? atol(us_env) : 1000;
	struct sigaction sa = {.sa_handler = on_interrupt};
	struct itimerval tv = {{0, us}, {0, us}};

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &interrupts_old), 0);
	interrupts = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &tv, NULL), 0);
}

int interrupts_stop(void)
{
	struct itimerval off = {{0, 0}, {0, 0}};
	const struct timespec zero = {0, 0};
	sigset_t alrm, old;

	/* A signal the timer raised before it stopped may still be on its
	 * way (valgrind delivers late): take it before the old handler,
	 * perhaps the default that ends the process, comes back. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &old);
	setitimer(ITIMER_REAL, &off, NULL);
	while (sigtimedwait(&alrm, NULL, &zero) > 0)
		interrupts++;
	sigaction(SIGALRM, &interrupts_old, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return (int)interrupts;
}
#endif
