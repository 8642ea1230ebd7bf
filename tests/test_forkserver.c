/* The fork server itself: who its children belong to, its single thread,
 * the per-command choice, a dead server found and replaced, a server that
 * ends with its parent, and many threads asking at once. (Every other
 * suite runs through it too: make check-forkserver.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <dlfcn.h>
#include <grp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define BOUND_MS 10000

/* ppid: the parent's pid as the result, and the thread count. */
static int ppid(int argc, char *argv[])
{
	char out[64];
	int n;

	(void)argc;
	(void)argv;
	n = snprintf(out, sizeof(out), "%d", (int)getppid());
	return reexec_set_result(out, (size_t)n) < 0;
}

/* A command for name through the fork server. */
static reexec_cmd *forkserver_cmd(const char *name)
{
	reexec_cmd *cmd = reexec_command(name, NULL);

	assert_non_null(cmd);
	assert_int_equal(reexec_cmd_forkserver(cmd, 1), 0);
	return cmd;
}

/* getenv_of NAME: the variable's value as the result, "(none)" when
 * unset. */
static int getenv_of(int argc, char *argv[])
{
	const char *v = argc > 1 ? getenv(argv[1]) : NULL;

	if (!v)
		v = "(none)";
	return reexec_set_result(v, strlen(v)) < 0;
}

/* Run cmd, which must succeed, and free it; return its result (free
 * it). */
static char *result_of(reexec_cmd *cmd)
{
	void *out;
	size_t len;
	int status;

	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(reexec_take_result(cmd, &out, &len), 0);
	reexec_cmd_free(cmd);
	return out;
}

/* The number a child of cmd gives as its result. */
static int number_of(reexec_cmd *cmd)
{
	char *out = result_of(cmd);
	int n = atoi(out);

	free(out);
	return n;
}

/* Run ppid through cmd; return the pid it reports. */
static int parent_of(reexec_cmd *cmd)
{
	return number_of(cmd);
}

/* The threads of process pid, from /proc. */
static int threads_of(pid_t pid)
{
	char path[64], line[128];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Stop the server; nothing of ours is left, the spares it had included. */
static void stop_leaving_nothing(void)
{
	assert_int_equal(reexec_forkserver_stop(), 0);
	reap_orphans();
	assert_true(no_children());
}

static void per_command_choice(void **state)
{
	reexec_cmd *cmd;
	pid_t server;

	(void)state;
	expect_fail(reexec_forkserver_start(0x10), EINVAL);
	assert_int_equal(reexec_forkserver_start(0), 0);
	server = reexec_forkserver_pid();
	assert_true(server > 0);
	assert_int_equal(threads_of(server), 1);

	/* Not the default: only when asked. */
	cmd = reexec_command("ppid", NULL);
	assert_int_equal(parent_of(cmd), getpid());
	cmd = reexec_command("ppid", NULL);
	assert_int_equal(reexec_cmd_forkserver(cmd, 1), 0);
	assert_int_equal(parent_of(cmd), server);

	/* The default, and a command that opts out. */
	assert_int_equal(reexec_forkserver_start(REEXEC_FORKSERVER_ALL), 0);
	assert_int_equal(reexec_forkserver_pid(), server);
	cmd = reexec_command("ppid", NULL);
	assert_int_equal(parent_of(cmd), server);
	cmd = reexec_command("ppid", NULL);
	assert_int_equal(reexec_cmd_forkserver(cmd, 0), 0);
	assert_int_equal(parent_of(cmd), getpid());

	cmd = reexec_command("ppid", NULL);
	expect_fail(reexec_cmd_forkserver(NULL, 1), EINVAL);
	expect_fail(reexec_cmd_forkserver(cmd, 2), EINVAL);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_cmd_forkserver(cmd, 0), EBUSY);
	reexec_cmd_free(cmd);
	assert_int_equal(threads_of(server), 1);

	assert_int_equal(reexec_forkserver_stop(), 0);
	expect_fail(reexec_forkserver_pid(), ESRCH);
	reap_orphans(); /* its spare, ended with it, comes to us */
	assert_true(no_children());
}

/* A killed server: the start that finds out says so, the next one has a
 * new server. */
static void dead_server_replaced(void **state)
{
	struct pollfd p = {.events = POLLIN};
	reexec_cmd *cmd;
	pid_t server;
	int status;

	(void)state;
	assert_int_equal(reexec_forkserver_start(0), 0);
	server = reexec_forkserver_pid();
	p.fd = (int)syscall(SYS_pidfd_open, server, 0);
	assert_true(p.fd >= 0);
	assert_int_equal(kill(server, SIGKILL), 0);
	/* Dead (its spares go with it, and can take no request after). */
	assert_int_equal(poll(&p, 1, BOUND_MS), 1);
	close(p.fd);
	cmd = forkserver_cmd("ppid");
	expect_fail(reexec_start(cmd), ECONNRESET);
	reexec_cmd_free(cmd);
	/* (The dead one was reaped.) */
	assert_int_equal(waitpid(server, &status, WNOHANG), -1);

	server = parent_of(forkserver_cmd("ppid"));
	assert_int_equal(server, reexec_forkserver_pid());
	stop_leaving_nothing();
}

/* In a copy of the caller made by fork(): 0 when it has no server of its
 * parent's, and gets one of its own on demand. */
static int copy_side(pid_t parents_server)
{
	reexec_cmd *cmd = reexec_command("ppid", NULL);
	void *out = NULL;
	size_t len;
	int status = -1, ok;

	ok = reexec_forkserver_pid() < 0 && errno == ESRCH && cmd &&
	     reexec_cmd_forkserver(cmd, 1) == 0 &&
	     reexec_run(cmd, &status) == 0 && status == 0 &&
	     reexec_take_result(cmd, &out, &len) == 0 &&
	     atoi(out) != parents_server &&
	     atoi(out) == reexec_forkserver_pid();
	free(out);
	reexec_cmd_free(cmd);
	reexec_forkserver_stop();
	return ok ? 0 : 1;
}

/* A fork of the caller (no exec) does not use the server it has a copy
 * of, which is not its child; the caller's still serves. */
static void forked_copy_has_its_own(void **state)
{
	pid_t server, pid;
	int status;

	(void)state;
	if (getenv("TEST_SANITIZER") &&
	    strcmp(getenv("TEST_SANITIZER"), "tsan") == 0) {
		print_message("skipped: ThreadSanitizer cannot start threads "
		              "in a fork of a threaded process\n");
		skip();
	}
	assert_int_equal(reexec_forkserver_start(0), 0);
	server = reexec_forkserver_pid();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(copy_side(server));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(reexec_forkserver_pid(), server);
	assert_int_equal(parent_of(forkserver_cmd("ppid")), server);
	stop_leaving_nothing();
}

/* Whether /proc/PID/environ holds the string entry. */
static bool environ_has(pid_t pid, const char *entry)
{
	char path[64], buf[65536];
	size_t n = 0;
	ssize_t k;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while (n < sizeof(buf) - 1 &&
	       (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, entry) == 0)
			return true;
	return false;
}

/* The server binds its symbols at its start (LD_BIND_NOW in its own
 * environment); its children see the caller's environment only. */
static void binds_now_children_do_not_see_it(void **state)
{
	reexec_cmd *cmd;
	char *out;

	(void)state;
	if (getenv("LD_BIND_NOW")) {
		print_message("skipped: LD_BIND_NOW is set for the suite\n");
		skip();
	}
	assert_int_equal(reexec_forkserver_start(0), 0);
	cmd = reexec_command("getenv_of", "LD_BIND_NOW", NULL);
	assert_int_equal(reexec_cmd_forkserver(cmd, 1), 0);
	out = result_of(cmd);
	assert_string_equal(out, "(none)");
	free(out);
	/* (Read once it has answered: its exec is over.) */
	assert_true(environ_has(reexec_forkserver_pid(), "LD_BIND_NOW=1"));
	stop_leaving_nothing();
}

/* starter: start a fork server, print its pid, and end without a word. */
static int starter(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (reexec_forkserver_start(0) < 0)
		return 1;
	printf("%d\n", (int)reexec_forkserver_pid());
	fflush(stdout);
	_exit(0);
}

static void dies_with_parent(void **state)
{
	reexec_cmd *cmd = reexec_command("starter", NULL);
	struct pollfd p = {.events = POLLIN};
	size_t len;
	int status;
	char *out;
	pid_t server;

	(void)state;
	out = capture_stdout(cmd, &len, &status);
	assert_int_equal(status, 0);
	server = atoi(out);
	free(out);
	reexec_cmd_free(cmd);
	assert_true(server > 0);
	/* It is ours as subreaper now; it must end by itself. */
	p.fd = (int)syscall(SYS_pidfd_open, server, 0);
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, BOUND_MS), 1);
	close(p.fd);
	assert_int_equal(waitpid(server, &status, 0), server);
}

/* No one can register the server's name; started by name with a channel
 * that is not a genuine one, it refuses like any child. */
static void not_by_name(void **state)
{
	char self[4200], forge[4200], cmdline[9000];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	snprintf(forge, sizeof(forge), "%s", self);
	strcpy(strrchr(forge, '/') + 1, "forge");
	expect_fail(reexec_register("reexec-forkserver", ppid), EINVAL);
	expect_fail(reexec_register("reexec-anything", ppid), EINVAL);
	snprintf(cmdline, sizeof(cmdline),
	         "'%s' pipe '%s' reexec-forkserver 2>/dev/null", forge, self);
	status = system(cmdline);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), REEXEC_EXIT_REFUSED);
}

#define THREADS 8
#define CALLS 40
#define BIG_ARG (100 * 1024) /* a request longer than one message */

/* One echo through the server; odd rounds with an argument too long for
 * one message of the request. 0 when all came back intact. */
static int echo_once(const char *in, size_t n, int round)
{
	char *big = NULL, len_arg[16];
	reexec_cmd *cmd;
	void *out = NULL;
	size_t len = 0;
	int status = -1, bad;

	if (round % 2) {
		big = malloc(BIG_ARG + 1);
		if (!big)
			return -1;
		memset(big, 'a' + round % 26, BIG_ARG);
		big[BIG_ARG] = '\0';
	}
	snprintf(len_arg, sizeof(len_arg), "%d", big ? BIG_ARG : 0);
	cmd = reexec_command("echo", big ? big : "", len_arg, NULL);
	bad = !cmd || reexec_cmd_set_input(cmd, in, n) < 0 ||
	      reexec_run(cmd, &status) < 0 || status != 0 ||
	      reexec_take_result(cmd, &out, &len) < 0 || len != n ||
	      memcmp(out, in, len) != 0;
	free(out);
	free(big);
	reexec_cmd_free(cmd);
	return bad ? -1 : 0;
}

static void *caller(void *arg)
{
	long bad = 0;

	(void)arg;
	for (int i = 0; i < CALLS; i++) {
		char in[32];
		int n = snprintf(in, sizeof(in), "%lx-%d", (long)pthread_self(),
		                 i);

		if (echo_once(in, (size_t)n, i) < 0)
			bad++;
	}
	return (void *)bad;
}

static void many_threads(void **state)
{
	pthread_t th[THREADS];
	pid_t server;

	(void)state;
	assert_int_equal(reexec_forkserver_start(REEXEC_FORKSERVER_ALL), 0);
	server = reexec_forkserver_pid();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, caller, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad;

		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_null(bad);
	}
	assert_int_equal(reexec_forkserver_pid(), server);
	assert_int_equal(threads_of(server), 1);
	stop_leaving_nothing();
}

/* Starts from many threads while one of them kills the server now and
 * then: each start either runs its child, watched for its parent's death
 * against the server that made it (a watch against another server would
 * kill it, and its status would say so), or fails as documented:
 * ECONNRESET from the start, ECHILD from the wait when the server died
 * with the child's status. Nothing hangs, nothing else comes back, and
 * the server is replaced each time. */
static void *killing_caller(void *arg)
{
	long bad = 0, killer = (long)arg;

	for (int i = 0; i < CALLS / 4; i++) {
		reexec_cmd *cmd = reexec_command("ppid", NULL);
		int status = -1;
		pid_t server;

		if (killer && i % 3 == 1 &&
		    (server = reexec_forkserver_pid()) > 0)
			kill(server, SIGKILL);
		if (!cmd || reexec_cmd_parent_death(cmd, SIGKILL) < 0)
			bad++;
		else if (reexec_run(cmd, &status) == 0
		                 ? status != 0
		                 : errno != ECONNRESET && errno != ECHILD)
			bad++;
		reexec_cmd_free(cmd);
	}
	return (void *)bad;
}

static void killed_under_threads(void **state)
{
	pthread_t th[THREADS];

	(void)state;
	assert_int_equal(reexec_forkserver_start(REEXEC_FORKSERVER_ALL), 0);
	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, killing_caller,
		                                (void *)(long)(i == 0)),
		                 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad;

		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_null(bad);
	}
	/* The last one killed was replaced (or is, now). */
	assert_int_equal(parent_of(forkserver_cmd("ppid")),
	                 reexec_forkserver_pid());
	stop_leaving_nothing();
}

/* echo [ARG LEN]: the input back as the result; fails when ARG is not
 * LEN bytes long. */
static int echo(int argc, char *argv[])
{
	const void *in;
	size_t len;

	if (argc == 3 && strlen(argv[1]) != strtoul(argv[2], NULL, 10))
		return 2;
	return reexec_input(&in, &len) < 0 || reexec_set_result(in, len) < 0;
}

/* pdeathsig: the parent-death signal this child carries, as its result. */
static int pdeathsig(int argc, char *argv[])
{
	char out[16];
	int sig = -1, n;

	(void)argc;
	(void)argv;
	if (prctl(PR_GET_PDEATHSIG, &sig) < 0)
		return 1;
	n = snprintf(out, sizeof(out), "%d", sig);
	return reexec_set_result(out, (size_t)n) < 0;
}

/* The parent-death signal a child started by cmd carries. */
static int pdeathsig_of(reexec_cmd *cmd)
{
	return number_of(cmd);
}

/* A child carries a parent-death signal only when its command asked for
 * one, whichever way it started. */
static void no_pdeathsig_unless_asked(void **state)
{
	reexec_cmd *cmd;

	(void)state;
	assert_int_equal(pdeathsig_of(forkserver_cmd("pdeathsig")), 0);
	cmd = forkserver_cmd("pdeathsig");
	assert_int_equal(reexec_cmd_parent_death(cmd, SIGUSR1), 0);
	assert_int_equal(pdeathsig_of(cmd), SIGUSR1);
	assert_int_equal(pdeathsig_of(reexec_command("pdeathsig", NULL)), 0);
	cmd = reexec_command("pdeathsig", NULL);
	assert_int_equal(reexec_cmd_parent_death(cmd, SIGUSR2), 0);
	assert_int_equal(pdeathsig_of(cmd), SIGUSR2);
	stop_leaving_nothing();
}

/* relay_byte: copy one byte from stdin to stdout, then end. */
static int relay_byte(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	if (read(0, &c, 1) != 1 || write(1, &c, 1) != 1)
		return 1;
	return 0;
}

/* A child that did not ask for parent death runs on when the server is
 * stopped (its status is lost with the server). */
static void children_outlive_stop(void **state)
{
	reexec_cmd *cmd = forkserver_cmd("relay_byte");
	char c = 0;
	int status;

	(void)state;
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 0), 0);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(reexec_forkserver_stop(), 0);
	/* It answers after its server is gone. */
	assert_int_equal(write(reexec_pipe(cmd, 0), "x", 1), 1);
	assert_int_equal(read(reexec_pipe(cmd, 1), &c, 1), 1);
	assert_int_equal(c, 'x');
	expect_fail(reexec_wait(cmd, &status), ECHILD);
	reexec_cmd_free(cmd);
	reap_orphans();
	assert_true(no_children());
}

/* Read a decimal number, one line, from fd. */
static long read_number(int fd)
{
	char line[32];
	size_t n = 0;

	while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 &&
	       line[n] != '\n')
		n++;
	line[n] = '\0';
	return strtol(line, NULL, 10);
}

/* The parent of process pid, from /proc; -1 when it has gone. */
static pid_t parent_pid(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	pid_t parent = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		(void)sscanf(close_paren + 1, " %*c %d", &parent);
	fclose(f);
	return parent;
}

/* starter_then_closes: start a fork server, print its pid, then close
 * every descriptor from 3 up, as a program that makes itself a daemon
 * does, and wait for stdin to end: the process lives on, but the server
 * has lost its caller. */
static int starter_then_closes(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	if (reexec_forkserver_start(0) < 0)
		return 1;
	printf("%d\n", (int)reexec_forkserver_pid());
	fflush(stdout);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* A server whose caller is gone without a parent-death signal (here: it
 * closed its end of the server's channel) ends by itself, and forks
 * nothing more. */
static void orphaned_server_exits(void **state)
{
	reexec_cmd *cmd = reexec_command("starter_then_closes", NULL);
	struct pollfd p = {.events = POLLIN};
	int status;
	pid_t server;

	(void)state;
	assert_non_null(cmd);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 0), 0);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	server = (pid_t)read_number(reexec_pipe(cmd, 1));
	/* Ours to watch: a child of our child. */
	assert_true(server > 0);
	assert_int_equal(parent_pid(server), reexec_pid(cmd));
	p.fd = (int)syscall(SYS_pidfd_open, server, 0);
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, BOUND_MS), 1);
	close(p.fd);
	assert_int_equal(reexec_pipe_close(cmd, 0), 0);
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	reexec_cmd_free(cmd);
	reap_orphans();
	assert_true(no_children());
}

/* A start sent right after the server was killed either runs the
 * function (which says so on its stdout) or fails with ECONNRESET. */
static void start_racing_death(void **state)
{
	int ran = 0, refused = 0;

	(void)state;
	for (int i = 0; i < 100; i++) {
		reexec_cmd *cmd = forkserver_cmd("say_ran");
		pid_t server;
		int status;

		assert_int_equal(reexec_forkserver_start(0), 0);
		server = reexec_forkserver_pid();
		assert_true(server > 0);
		assert_int_equal(parent_pid(server), getpid());
		assert_int_equal(kill(server, SIGKILL), 0);
		assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
		if (reexec_start(cmd) < 0) {
			assert_int_equal(errno, ECONNRESET);
			refused++;
		} else {
			char buf[8] = "";

			/* It ran: its words, whatever became of its status. */
			assert_int_equal(read(reexec_pipe(cmd, 1), buf, 3), 3);
			assert_memory_equal(buf, "ran", 3);
			if (reexec_wait(cmd, &status) == 0)
				assert_int_equal(status, 0);
			else
				assert_int_equal(errno, ECHILD);
			ran++;
		}
		reexec_cmd_free(cmd);
		reap_orphans();
	}
	assert_int_equal(ran + refused, 100);
	stop_leaving_nothing();
}

/* say_ran: "ran" on stdout. */
static int say_ran(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return write(1, "ran", 3) == 3 ? 0 : 1;
}

/* forge_exit: send the parent a fork server's "exited 0" on the channel,
 * then die by a signal. */
static int forge_exit(int argc, char *argv[])
{
	unsigned char f[8 + 80] = {0};
	uint32_t type = 6, len = 80; /* FRAME_EXIT: a status 0, no usage */

	(void)argc;
	(void)argv;
	for (int fd = 3; fd < 64; fd++) {
		int t;
		socklen_t l = sizeof(t);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &l) == 0 &&
		    t == SOCK_SEQPACKET) {
			memcpy(f, &type, 4);
			memcpy(f + 4, &len, 4);
			(void)send(fd, f, sizeof(f), 0);
		}
	}
	raise(SIGKILL);
	return 1;
}

/* A child cannot forge its own exit status: the status comes from the
 * one who reaped it, whichever way it started. */
static void status_cannot_be_forged(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		reexec_cmd *cmd = i % 2 ? forkserver_cmd("forge_exit")
		                        : reexec_command("forge_exit", NULL);
		int status = -1;

		assert_int_equal(reexec_run(cmd, &status), 0);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		reexec_cmd_free(cmd);
	}
	stop_leaving_nothing();
}

/* state: the working directory, umask, RLIMIT_NOFILE soft limit and nice
 * value, one line, as the result. */
static int state(int argc, char *argv[])
{
	char cwd[4096], out[4300];
	struct rlimit r;
	mode_t m = umask(0);
	int n;

	(void)argc;
	(void)argv;
	if (!getcwd(cwd, sizeof(cwd)) || getrlimit(RLIMIT_NOFILE, &r) < 0)
		return 1;
	errno = 0;
	n = snprintf(out, sizeof(out), "%s %03o %llu %d", cwd, (unsigned)m,
	             (unsigned long long)r.rlim_cur,
	             getpriority(PRIO_PROCESS, 0));
	return reexec_set_result(out, (size_t)n) < 0;
}

/* A fork-server child has its caller's working directory, umask, limits
 * and nice value as they are at the start, not as they were when the
 * server started: the same as an exec'd child. */
static void callers_state_now(void **state_)
{
	char dir[] = "/tmp/reexec-state-XXXXXX", old[4096], sub[64], want[200];
	struct rlimit nofile, lower;
	mode_t old_mask;
	int old_nice, nice_now;
	bool root = geteuid() == 0;

	(void)state_;
	assert_int_equal(reexec_forkserver_start(0), 0);
	assert_non_null(getcwd(old, sizeof(old)));
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	errno = 0;
	old_nice = getpriority(PRIO_PROCESS, 0);
	assert_int_equal(errno, 0);

	/* The caller changes, after the server started. */
	assert_int_equal(chdir(dir), 0);
	old_mask = umask(027);
	lower = nofile;
	lower.rlim_cur = 200;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lower), 0);
	nice_now = root ? old_nice + 1 : old_nice;
	assert_int_equal(setpriority(PRIO_PROCESS, 0, nice_now), 0);

	for (int fs = 0; fs < 2; fs++) {
		reexec_cmd *cmd = reexec_command("state", NULL);
		char *got;

		assert_int_equal(reexec_cmd_forkserver(cmd, fs), 0);
		snprintf(want, sizeof(want), "%s 027 200 %d", dir, nice_now);
		got = result_of(cmd);
		assert_string_equal(got, want);
		free(got);
		/* A relative directory is the caller's now. */
		cmd = reexec_command("state", NULL);
		assert_int_equal(reexec_cmd_forkserver(cmd, fs), 0);
		assert_int_equal(reexec_cmd_set_dir(cmd, "sub"), 0);
		snprintf(want, sizeof(want), "%s 027 200 %d", sub, nice_now);
		got = result_of(cmd);
		assert_string_equal(got, want);
		free(got);
	}

	assert_int_equal(setpriority(PRIO_PROCESS, 0, old_nice), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &nofile), 0);
	umask(old_mask);
	assert_int_equal(chdir(old), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
	stop_leaving_nothing();
}

/* resids: real, effective and saved uid and gid, and the supplementary
 * groups, as the result. */
static int resids(int argc, char *argv[])
{
	uid_t r, e, s;
	gid_t rg, eg, sg, groups[64];
	char out[1024];
	int n, ng = getgroups(64, groups);

	(void)argc;
	(void)argv;
	if (ng < 0 || getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return 1;
	n = snprintf(out, sizeof(out), "%u %u %u %u %u %u", r, e, s, rg, eg,
	             sg);
	for (int i = 0; i < ng && n < 900; i++)
		n += snprintf(out + n, sizeof(out) - (size_t)n, " %u",
		              groups[i]);
	return reexec_set_result(out, (size_t)n) < 0;
}

/* drop_then_start: as root, start the fork server, become nobody, and
 * start a fork-server child: 0 when it runs as nobody, from a new
 * server; 2 when this cannot be tried here. */
static int drop_then_start(int argc, char *argv[])
{
	gid_t nobody_g = 65534;
	reexec_cmd *cmd;
	pid_t before;
	void *out = NULL;
	size_t len;
	int status = -1, ok;

	(void)argc;
	(void)argv;
	if (geteuid() != 0)
		return 2;
	if (reexec_forkserver_start(0) < 0)
		return 1;
	before = reexec_forkserver_pid();
	if (setgroups(1, &nobody_g) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 2;
	cmd = reexec_command("resids", NULL);
	ok = cmd && reexec_cmd_forkserver(cmd, 1) == 0 &&
	     reexec_run(cmd, &status) == 0 && status == 0 &&
	     reexec_take_result(cmd, &out, &len) == 0 &&
	     strcmp(out, "65534 65534 65534 65534 65534 65534 65534") == 0 &&
	     reexec_forkserver_pid() != before;
	if (out && !ok)
		fprintf(stderr, "drop_then_start: child ids %s\n", (char *)out);
	free(out);
	reexec_cmd_free(cmd);
	/* (The old server, which we may no longer signal, ended when we
	 * hung up on it.) */
	reexec_forkserver_stop();
	return ok ? 0 : 1;
}

/* A program that started the server as root and then became nobody gets
 * children that run as nobody: the server is replaced. */
static void credentials_follow_caller(void **state_)
{
	(void)state_;
	if (getenv("TEST_SANITIZER")) {
		print_message("skipped: the sanitizers' runtime does not "
		              "follow a credential change\n");
		skip();
	}
	assert_int_equal(run_probe("drop_then_start",
	                           "needs root to change credentials"),
	                 0);
	reap_orphans();
	assert_true(no_children());
}

/* Is the page of code at addr (in this program's copy of the object that
 * holds it) mapped in process pid, which runs the same binary? From
 * /proc/PID/maps (the object's first mapping) and /proc/PID/pagemap. */
static bool code_mapped_in(pid_t pid, const void *addr)
{
	char path[64], line[512];
	unsigned long long lo = 0, off, entry = 0;
	long page = sysconf(_SC_PAGESIZE);
	Dl_info info;
	FILE *f;
	int fd;

	assert_true(dladdr(addr, &info) != 0 && info.dli_fname);
	off = (unsigned long long)((const char *)addr -
	                           (const char *)info.dli_fbase);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, offset;
		char *name = strchr(line, '/');

		if (name &&
		    sscanf(line, "%llx-%llx %*s %llx", &start, &end, &offset) ==
		            3 &&
		    offset == 0 && strstr(name, strrchr(info.dli_fname, '/'))) {
			lo = start;
			break;
		}
	}
	fclose(f);
	assert_true(lo != 0);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &entry, sizeof(entry),
	                       (off_t)((lo + off) / (unsigned long long)page *
	                               sizeof(entry))),
	                 (ssize_t)sizeof(entry));
	close(fd);
	return (entry >> 63) & 1; /* present */
}

/* The state letter of process pid, from /proc/PID/stat. */
static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* A spare waiting for a request has already run the library code a
 * child's set-up runs first (src/warm.c), so that it is mapped before the
 * request arrives, not faulted in while the caller waits. */
static void spares_are_warm(void **state)
{
	char path[64];
	pid_t server, spare = -1;
	FILE *f;
	int status;
	reexec_cmd *cmd;

	(void)state;
	assert_int_equal(reexec_forkserver_start(0), 0);
	server = reexec_forkserver_pid();
	assert_true(server > 0);
	/* (After a round trip the server has made its spares.) */
	cmd = reexec_command("ppid", NULL);
	assert_int_equal(reexec_cmd_forkserver(cmd, 1), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	reexec_cmd_free(cmd);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)server,
	         (int)server);
	f = fopen(path, "re");
	if (!f) {
		print_message("skipped: no %s\n", path);
		assert_int_equal(reexec_forkserver_stop(), 0);
		reap_orphans();
		skip();
	}
	/* A spare that waits: asleep, in its only blocking call. */
	for (int tries = 0; spare < 0 && tries < 100000; tries++) {
		int pid;

		rewind(f);
		while (spare < 0 && fscanf(f, "%d", &pid) == 1)
			if (pid > 0 && state_of(pid) == 'S')
				spare = pid;
		if (spare < 0)
			sched_yield();
	}
	fclose(f);
	assert_true(spare > 0);
	assert_true(code_mapped_in(spare, (const void *)sigemptyset));
	assert_true(code_mapped_in(spare, (const void *)getenv));
	stop_leaving_nothing();
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(per_command_choice),
	        cmocka_unit_test(dead_server_replaced),
	        cmocka_unit_test(dies_with_parent),
	        cmocka_unit_test(forked_copy_has_its_own),
	        cmocka_unit_test(binds_now_children_do_not_see_it),
	        cmocka_unit_test(not_by_name),
	        cmocka_unit_test(many_threads),
	        cmocka_unit_test(killed_under_threads),
	        cmocka_unit_test(no_pdeathsig_unless_asked),
	        cmocka_unit_test(children_outlive_stop),
	        cmocka_unit_test(orphaned_server_exits),
	        cmocka_unit_test(start_racing_death),
	        cmocka_unit_test(status_cannot_be_forged),
	        cmocka_unit_test(callers_state_now),
	        cmocka_unit_test(credentials_follow_caller),
	        cmocka_unit_test(spares_are_warm),
	};

	reexec_register("ppid", ppid);
	reexec_register("getenv_of", getenv_of);
	reexec_register("pdeathsig", pdeathsig);
	reexec_register("relay_byte", relay_byte);
	reexec_register("starter_then_closes", starter_then_closes);
	reexec_register("say_ran", say_ran);
	reexec_register("forge_exit", forge_exit);
	reexec_register("state", state);
	reexec_register("resids", resids);
	reexec_register("drop_then_start", drop_then_start);
	reexec_register("starter", starter);
	reexec_register("echo", echo);
	helpers_init(argc, argv);
	if (under_valgrind()) {
		/* valgrind has no pidfds: the server is not used there. */
		printf("[  PASSED  ] 0 test(s).\n");
		return 0;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	reexec_forkserver_stop(); /* (check-forkserver started one) */
	return cmocka_run_group_tests_name("forkserver", tests, NULL, NULL);
}
