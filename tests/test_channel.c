/* The channel: who may run a registered function (the spoofs and forgeries
 * it must refuse), start-up errors as errnos, readiness, input and result
 * of any size, malformed frames both ways, nesting. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

extern char **environ;

/* --- functions the children run --- */

/* ready_then_line: ready, then wait for a byte on stdin. */
static int ready_then_line(int argc, char *argv[])
{
	char c;

	(void)argc;
	(void)argv;
	if (reexec_ready() < 0 || reexec_ready() < 0)
		return 1;
	return read(0, &c, 1) == 1 ? 0 : 2;
}

static int never_ready(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	for (;;)
		pause();
	return 0;
}

static int no_result(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return 9;
}

/* echo_input: the input back as the result. */
static int echo_input(int argc, char *argv[])
{
	const void *in;
	size_t len;

	(void)argc;
	(void)argv;
	if (reexec_input(&in, &len) < 0 || ((const char *)in)[len] != '\0')
		return 1;
	if (reexec_set_result(in, len) < 0)
		return 2;
	if (reexec_set_result(in, len) == 0 || errno != EALREADY)
		return 3;
	return 0;
}

/* child_api_errors: the child's functions refuse bad arguments, and the
 * library's variables are gone from the environment. */
static int child_api_errors(int argc, char *argv[])
{
	const void *in;
	size_t len;

	(void)argc;
	(void)argv;
	if (reexec_input(NULL, &len) == 0 || errno != EINVAL ||
	    reexec_input(&in, NULL) == 0 || errno != EINVAL)
		return 1;
	if (reexec_set_result(NULL, 1) == 0 || errno != EINVAL)
		return 2;
	if (reexec_set_result("", REEXEC_DATA_MAX + 1) == 0 ||
	    errno != EMSGSIZE)
		return 3;
	if (getenv("REEXEC_CHANNEL") || getenv("REEXEC_PARENT") ||
	    getenv("REEXEC_CLOSE_FROM"))
		return 4;
	return 0;
}

/* The channel's descriptor, found the way a hostile function could. */
static int find_channel(void)
{
	for (int fd = 3; fd < 64; fd++) {
		int type;
		socklen_t len = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_SEQPACKET)
			return fd;
	}
	return -1;
}

/* Send one frame as the library lays it out: type and body length as
 * 32-bit numbers, then the body. */
static int send_frame(int fd, uint32_t type, const void *body, uint32_t len)
{
	unsigned char f[32];

	memcpy(f, &type, 4);
	memcpy(f + 4, &len, 4);
	memcpy(f + 8, body, len);
	return send(fd, f, 8 + len, 0) == (ssize_t)(8 + len) ? 0 : -1;
}

/* raw_frames MODE: send the parent a malformed result stream. */
static int raw_frames(int argc, char *argv[])
{
	int fd = find_channel();
	uint64_t total = 100;

	if (argc < 2 || fd < 0)
		return 1;
	if (strcmp(argv[1], "garbage") == 0)
		return send(fd, "abc", 3, 0) == 3 ? 0 : 2;
	if (strcmp(argv[1], "badtype") == 0)
		return send_frame(fd, 99, "", 0) == 0 ? 0 : 2;
	/* truncated: 100 bytes announced (BEGIN), 10 sent (DATA) */
	if (send_frame(fd, 2, &total, sizeof(total)) < 0 ||
	    send_frame(fd, 3, "0123456789", 10) < 0)
		return 2;
	return 0;
}

/* The bytes of a result from the helpers below: flood_byte() from 0. */
static unsigned char *pattern(size_t n)
{
	unsigned char *p = malloc(n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = flood_byte(i);
	return p;
}

/* late_sender MODE: the function returns 5; then an exit handler sends
 * the parent more than the channel holds: a result of LATE_BYTES
 * ("result"), or LATE_READIES readiness frames ("flood"). */
#define LATE_BYTES ((size_t)4 << 20)
#define LATE_READIES 20000

static void send_late_result(void)
{
	unsigned char *p = pattern(LATE_BYTES);

	if (!p || reexec_set_result(p, LATE_BYTES) < 0)
		_exit(3);
	free(p);
}

static void send_late_readies(void)
{
	for (int i = 0; i < LATE_READIES; i++)
		if (reexec_ready() < 0)
			_exit(3);
}

static int late_sender(int argc, char *argv[])
{
	if (argc < 2)
		return 1;
	if (atexit(strcmp(argv[1], "result") == 0 ? send_late_result
	                                          : send_late_readies) != 0)
		return 2;
	return 5;
}

/* zero_length: an empty message on the channel, "sent" on stdout, then
 * return 0 on a byte from descriptor 3, 1 at its end-of-file (the test
 * holds the other end: the child runs until the test says, or ends). */
static int zero_length(int argc, char *argv[])
{
	int fd = find_channel();
	char c;

	(void)argc;
	(void)argv;
	if (fd < 0 || send(fd, "", 0, 0) != 0)
		return 1;
	if (write(1, "sent\n", 5) != 5)
		return 2;
	return read(3, &c, 1) == 1 ? 0 : 1;
}

/* Send one DATA frame of n bytes from p. */
static ssize_t send_data(int fd, const unsigned char *p, size_t n, int flags)
{
	uint32_t hdr[2] = {3, (uint32_t)n};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)p, n}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	return sendmsg(fd, &msg, flags);
}

/* Bytes sent on fd that the parent has not received yet. */
static int unread(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

/* stepped_result: a result of STEPPED_BYTES, sent in steps the parent
 * sees on stdout: as many frames as the channel takes at once, then
 * "queued FRAMES UNREAD"; on a byte from stdin "unread UNREAD"; then the
 * rest of the result and "sent"; return 0 on one more byte. */
#define STEPPED_BYTES ((size_t)8 << 20)

static int stepped_result(int argc, char *argv[])
{
	unsigned char *p = pattern(STEPPED_BYTES);
	uint64_t total = STEPPED_BYTES;
	int fd = find_channel(), big = 1 << 20, frames = 0;
	size_t off = 0;
	char c;

	(void)argc;
	(void)argv;
	if (!p || fd < 0 || send_frame(fd, 2, &total, sizeof(total)) < 0)
		return 1;
	/* (A larger buffer holds more frames; any size will do.) */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	while (send_data(fd, p + off, 65536, MSG_DONTWAIT) > 0) {
		off += 65536;
		frames++;
	}
	printf("queued %d %d\n", frames, unread(fd));
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		return 2;
	printf("unread %d\n", unread(fd));
	fflush(stdout);
	for (; off < STEPPED_BYTES; off += 65536)
		if (send_data(fd, p + off, 65536, 0) < 0)
			return 3;
	printf("sent\n");
	fflush(stdout);
	free(p);
	return read(0, &c, 1) == 1 ? 0 : 4;
}

/* nest: input is the depth; the result is "pid:ppid " for this level and
 * every level below. */
static int nest(int argc, char *argv[])
{
	const void *in;
	void *below = NULL;
	size_t len, below_len = 0;
	char out[256], depth;
	int status, n;

	(void)argc;
	(void)argv;
	if (reexec_input(&in, &len) < 0 || len != 1)
		return 1;
	depth = *(const char *)in;
	if (depth > '1') {
		char next = (char)(depth - 1);

		if (reexec_call("nest", &next, 1, &below, &below_len, &status) <
		            0 ||
		    status != 0)
			return 2;
	}
	n = snprintf(out, sizeof(out), "%d:%d %s", (int)getpid(),
	             (int)getppid(), below ? (char *)below : "");
	free(below);
	return reexec_set_result(out, (size_t)n) < 0 ? 3 : 0;
}

static int multi_euid(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	printf("euid %d\n", (int)geteuid());
	return 0;
}

/* exit_directly N: end the process from inside the function. */
static int exit_directly(int argc, char *argv[])
{
	exit(argc > 1 ? atoi(argv[1]) : 0);
}

/* low_as_probe: start a child under an address-space limit too small for
 * the dynamic loader to map the C library. 0 when its wait fails with
 * ENOEXEC and keeps its status 127; 2 when the limit cannot be tried
 * here; otherwise 10 + what went wrong. */
static int low_as_probe(int argc, char *argv[])
{
	reexec_cmd *cmd = reexec_command("exit_code", "0", NULL);
	struct rlimit old, low;
	int rc, err, status = -1;

	(void)argc;
	(void)argv;
	if (!cmd || reexec_cmd_stdio_null(cmd, 2) < 0 ||
	    getrlimit(RLIMIT_AS, &old) < 0)
		return 10;
	low = old;
	low.rlim_cur = (rlim_t)2 << 20;
	if (setrlimit(RLIMIT_AS, &low) < 0)
		return 11;
	rc = reexec_start(cmd);
	/* (The soft limit only: it can be raised again.) */
	if (setrlimit(RLIMIT_AS, &old) < 0)
		return 12;
	if (rc < 0) /* the kernel refused the exec itself */
		return 2;
	rc = reexec_wait(cmd, &status);
	err = errno;
	reexec_cmd_free(cmd);
	if (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 2; /* it fitted: a static binary, say */
	if (rc == 0)
		return 13;
	if (err != ENOEXEC)
		return 14;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 0 : 15;
}

/* --- running other programs --- */

/* Run argv (argv[0] is the path) with stdout and stderr into one buffer;
 * return the wait status. */
static int run_prog(char *const argv[], char *out, size_t size)
{
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ),
	                 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (len < size - 1 &&
	       (n = read(p[0], out + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		len += (size_t)n;
	}
	out[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int exit_of(int status)
{
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The path of a program built next to this suite. */
static const char *beside_self(const char *name)
{
	static char path[4200];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 64);

	assert_true(n > 0);
	path[n] = '\0';
	strcpy(strrchr(path, '/') + 1, name);
	return path;
}

/* This suite's binary by its real path (reexec_self() is /proc/self/exe,
 * which means another program to any other program). */
static char *self_path(void)
{
	static char path[4200];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	assert_true(n > 0);
	path[n] = '\0';
	return path;
}

/* --- tests --- */

/* Run this suite's binary by hand through bash with script, which ends in
 * exec -a NAME; return the exit status, the output in out. */
static int by_hand(const char *script, char *out, size_t size)
{
	char *argv[] = {"/bin/bash", "-c", (char *)script, self_path(), NULL};

	return exit_of(run_prog(argv, out, size));
}

/* exec -a from a shell, no channel at all: an ordinary start of the
 * program, whose main runs (and says so), whatever the name; the function
 * does not. A multicall entry runs by name alone, as always. */
static void by_hand_runs_main(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 exec -a print_args "
	                         "\"$0\" x",
	                         out, sizeof(out)),
	                 0);
	assert_string_equal(out, "main ran as print_args with 1 argument(s)\n");
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 exec -a ./dir/exit_code "
	                         "\"$0\" 7",
	                         out, sizeof(out)),
	                 0);
	assert_string_equal(out,
	                    "main ran as ./dir/exit_code with 1 argument(s)\n");
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 exec -a multi_exit_code "
	                         "\"$0\" 7",
	                         out, sizeof(out)),
	                 7);
	assert_string_equal(out, "");
}

/* A channel variable that is there but proves nothing: refused, never
 * main, never the function. */
static void false_channel_refused(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 REEXEC_CHANNEL=junk "
	                         "exec -a print_args \"$0\" x",
	                         out, sizeof(out)),
	                 REEXEC_EXIT_REFUSED);
	assert_string_equal(out, "reexec: not running print_args: malformed "
	                         "REEXEC_CHANNEL\n");
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 REEXEC_CHANNEL=0 exec -a "
	                         "print_args \"$0\" x",
	                         out, sizeof(out)),
	                 REEXEC_EXIT_REFUSED);
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 REEXEC_CHANNEL=9 exec -a "
	                         "print_args \"$0\" x 9</dev/null",
	                         out, sizeof(out)),
	                 REEXEC_EXIT_REFUSED);
	assert_string_equal(out, "reexec: not running print_args: its channel "
	                         "is not a channel\n");
	/* Under the program's own name too: a channel is a claim. */
	assert_int_equal(by_hand("TEST_MAIN_PROBE=1 REEXEC_CHANNEL=9 exec "
	                         "\"$0\" 9</dev/null",
	                         out, sizeof(out)),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "its channel is not a channel"));
}

/* A channel of someone else's making: a SOCK_SEQPACKET pair made by our
 * own parent as our own user is the one thing accepted (that is what
 * reexec_start() makes); other kinds of descriptor are refused. */
static void forged_channels(void **state)
{
	char forge[4200];
	char *argv[] = {forge,       "seqpacket", self_path(),
	                "exit_code", "5",         NULL};
	char out[512];

	(void)state;
	snprintf(forge, sizeof(forge), "%s", beside_self("forge"));
	/* Same user, speaking the protocol: runs, and says so. */
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))), 5);
	assert_string_equal(out, "8 4:5 \n"); /* STARTED, STATUS 5 */
	argv[1] = "stream";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "not running exit_code: its channel is "
	                            "not a channel"));
	argv[1] = "pipe";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
}

/* Copy file from to to with mode. */
static void copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	assert_int_equal(chmod(to, mode), 0);
}

/* A setuid-root copy of this suite, run by nobody: spoofed names, forged
 * channels and multicall entries without REEXEC_ALLOW_SETUID run nothing. */
static void setuid_copy_refuses_other_user(void **state)
{
	char dir[] = "/tmp/reexec-suid.XXXXXX", copy[64], forge[64];
	char *as_nobody[16] = {"/usr/bin/setpriv", "--reuid=65534",
	                       "--regid=65534", "--clear-groups", forge};
	char out[512];
	const char *skip_reason = NULL;

	(void)state;
	skip_unless_setuid_testable(as_nobody[0]);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(copy, sizeof(copy), "%s/suite", dir);
	snprintf(forge, sizeof(forge), "%s/forge", dir);
	copy_file(self_path(), copy, 04755);
	copy_file(beside_self("forge"), forge, 0755);

	/* The copy really runs as root for nobody (no nosuid mount). */
	as_nobody[5] = "none";
	as_nobody[6] = copy;
	as_nobody[7] = "multi_euid";
	as_nobody[8] = NULL;
	if (exit_of(run_prog(as_nobody, out, sizeof(out))) != 0 ||
	    strcmp(out, "euid 0\n") != 0) {
		skip_reason = "the copy does not run setuid here (nosuid?)";
		goto out;
	}
	/* A registered name, no channel: the program's main, which anyone
	 * may run; not the function. */
	as_nobody[7] = "exit_code";
	as_nobody[8] = "5";
	as_nobody[9] = NULL;
	setenv("TEST_MAIN_PROBE", "1", 1);
	assert_int_equal(exit_of(run_prog(as_nobody, out, sizeof(out))), 0);
	unsetenv("TEST_MAIN_PROBE");
	assert_string_equal(out, "main ran as exit_code with 1 argument(s)\n");
	/* A forged channel: a genuine pair, but made by nobody. */
	as_nobody[5] = "seqpacket";
	assert_int_equal(exit_of(run_prog(as_nobody, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "its channel does not lead to its parent"));
	assert_non_null(strstr(out, "5:13")); /* told why: EACCES */
	/* Multicall, not allowed setuid. */
	as_nobody[5] = "none";
	as_nobody[7] = "multi_exit_code";
	assert_int_equal(exit_of(run_prog(as_nobody, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "multicall entry in a setuid program"));
out:
	unlink(copy);
	unlink(forge);
	rmdir(dir);
	if (skip_reason) {
		print_message("skipped: %s\n", skip_reason);
		skip();
	}
}

static void multicall_registration(void **state)
{
	(void)state;
	expect_fail(reexec_register_multicall("m", no_result, 0x40), EINVAL);
	expect_fail(reexec_register_multicall("", no_result, 0), EINVAL);
	expect_fail(reexec_register_multicall("multi_exit_code", no_result, 0),
	            EEXIST);
	expect_fail(reexec_register("multi_exit_code", no_result), EEXIST);
}

/* The child cannot run the function: the errno says why, the status is
 * there too. */
static void startup_errors(void **state)
{
	reexec_cmd *cmd;
	int status = -1;

	(void)state;
	if (using_forkserver()) {
		print_message("skipped: fork server children have the names "
		              "the server registered when it started\n");
		skip();
	}
	cmd = reexec_command("only_in_parent", NULL);
	/* Its binary (a copy of ours told not to register it) has no such
	 * function. */
	assert_int_equal(reexec_cmd_setenv(cmd, "NO_EXTRA_NAMES", "1"), 0);
	assert_int_equal(reexec_cmd_stdio_null(cmd, 2), 0);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_wait_ready(cmd, -1), ENOENT);
	expect_fail(reexec_wait(cmd, &status), ENOENT);
	assert_int_equal(exit_of(status), REEXEC_EXIT_REFUSED);
	status = -1;
	expect_fail(reexec_wait(cmd, &status), ENOENT);
	assert_int_equal(exit_of(status), REEXEC_EXIT_REFUSED);
	reexec_cmd_free(cmd);
}

/* A child that ends before its function starts (here: its main exits
 * before reexec_init()) is a start-up failure, ENOEXEC, with its status;
 * a function that ends with the same status is not. */
static void died_before_function(void **state)
{
	reexec_cmd *cmd = reexec_command("exit_code", "0", NULL);
	int status = -1;

	(void)state;
	/* (Exec'd: a fork server's child starts inside a running copy.) */
	assert_int_equal(reexec_cmd_forkserver(cmd, 0), 0);
	assert_int_equal(reexec_cmd_setenv(cmd, "TEST_EXIT_BEFORE_INIT", "127"),
	                 0);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_wait_ready(cmd, -1), ESRCH);
	expect_fail(reexec_wait(cmd, &status), ENOEXEC);
	assert_int_equal(exit_of(status), 127);
	status = -1;
	expect_fail(reexec_stop(cmd, 0, &status), ENOEXEC);
	assert_int_equal(exit_of(status), 127);
	reexec_cmd_free(cmd);

	/* The same status from the function: no error, either way it
	 * ends. */
	cmd = reexec_command("exit_code", "127", NULL);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(exit_of(status), 127);
	reexec_cmd_free(cmd);
	cmd = reexec_command("exit_directly", "127", NULL);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(exit_of(status), 127);
	reexec_cmd_free(cmd);
}

/* The dynamic loader cannot map the C library (a low RLIMIT_AS): the
 * child exits 127 before anything of ours runs; that is a start-up
 * failure too. */
static void loader_failure(void **state)
{
	(void)state;
	if (getenv("TEST_SANITIZER")) {
		print_message("skipped: sanitizer runtimes need more address "
		              "space than the limit leaves\n");
		skip();
	}
	assert_int_equal(run_probe("low_as_probe", "the binary starts even "
	                                           "under a 2 MiB RLIMIT_AS"),
	                 0);
}

/* Input the child cannot take: refused, and its parent told why. */
static void malformed_input(void **state)
{
	char forge[4200];
	char *argv[] = {forge,       "truncated", self_path(),
	                "exit_code", "5",         NULL};
	char out[512];

	(void)state;
	snprintf(forge, sizeof(forge), "%s", beside_self("forge"));
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "its input did not arrive whole"));
	assert_non_null(strstr(out, "5:71 ")); /* ERROR EPROTO */
	argv[1] = "badtype";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "5:71 "));
	argv[1] = "huge";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "5:90 ")); /* EMSGSIZE */
	/* Descriptors the child does not expect. */
	argv[1] = "twofds";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "its input did not arrive whole"));
	assert_non_null(strstr(out, "5:71 "));
	argv[1] = "latefd";
	assert_int_equal(exit_of(run_prog(argv, out, sizeof(out))),
	                 REEXEC_EXIT_REFUSED);
	assert_non_null(strstr(out, "5:71 "));
}

/* A result the parent cannot take: EPROTO from the wait, with the status,
 * never a hang; no result to take. */
static void malformed_result(void **state)
{
	static const char *const modes[] = {"truncated", "garbage", "badtype"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		reexec_cmd *cmd = reexec_command("raw_frames", modes[i], NULL);
		void *data;
		size_t len;
		int status = -1;

		expect_fail(reexec_run(cmd, &status), EPROTO);
		assert_int_equal(exit_of(status), 0);
		expect_fail(reexec_take_result(cmd, &data, &len), ENODATA);
		reexec_cmd_free(cmd);
	}
}

static void readiness(void **state)
{
	reexec_cmd *cmd = reexec_command("ready_then_line", NULL);
	int status = -1;

	(void)state;
	interrupts_start();
	expect_fail(reexec_wait_ready(NULL, 0), EINVAL);
	expect_fail(reexec_wait_ready(cmd, 0), ECHILD);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 0), 0);
	assert_int_equal(reexec_start(cmd), 0);
	assert_int_equal(reexec_wait_ready(cmd, -1), 0);
	assert_int_equal(reexec_wait_ready(cmd, 0), 0);
	/* Ready, and still running: it waits for our byte. */
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
	assert_int_equal(write(reexec_pipe(cmd, 0), "x", 1), 1);
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(exit_of(status), 0);
	reexec_cmd_free(cmd);

	/* Not ready in time: the child runs on. */
	cmd = reexec_command("never_ready", NULL);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_wait_ready(cmd, 0), ETIMEDOUT);
	expect_fail(reexec_wait_ready(cmd, 30), ETIMEDOUT);
	assert_int_equal(reexec_signal(cmd, 0), 0);
	assert_int_equal(reexec_stop(cmd, 1000, &status), 0);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	expect_fail(reexec_wait_ready(cmd, 0), ESRCH);
	reexec_cmd_free(cmd);

	/* Ended first: ESRCH, and the status is still there. */
	cmd = reexec_command("no_result", NULL);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_wait_ready(cmd, -1), ESRCH);
	assert_int_equal(reexec_wait(cmd, &status), 0);
	assert_int_equal(exit_of(status), 9);
	reexec_cmd_free(cmd);
	assert_true(interrupts_stop() > 0);
}

/* A line from fd (a pipe from the child), without its newline. */
static void read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		ssize_t k = read(fd, line + n, 1);

		if (k < 0 && errno == EINTR)
			continue;
		assert_int_equal(k, 1);
		if (line[n] == '\n')
			break;
		assert_true(++n < size);
	}
	line[n] = '\0';
}

/* Data after the status (from exit handlers), more than the channel
 * holds: the wait takes it in until the child has ended, and returns;
 * a late result is the result. (The timeout only keeps a broken build
 * from hanging the suite.) */
static void late_frames(void **state)
{
	static const char *const modes[] = {"result", "flood"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		reexec_cmd *cmd = reexec_command("late_sender", modes[i], NULL);
		unsigned char *want = pattern(LATE_BYTES);
		void *data = NULL;
		size_t len = 0;
		int status = -1;

		assert_int_equal(reexec_start(cmd), 0);
		assert_int_equal(reexec_wait_timeout(cmd, 60000, &status), 0);
		assert_int_equal(exit_of(status), 5);
		if (i == 0) {
			assert_int_equal(reexec_take_result(cmd, &data, &len),
			                 0);
			assert_int_equal(len, LATE_BYTES);
			assert_memory_equal(data, want, LATE_BYTES);
			free(data);
		} else {
			expect_fail(reexec_take_result(cmd, &data, &len),
			            ENODATA);
		}
		free(want);
		reexec_cmd_free(cmd);
	}
}

/* An empty message is a malformed frame, not the end of the child: the
 * child runs on (a poll times out, a free ends it), and its wait fails
 * with EPROTO with the status stored. */
static void zero_length_message(void **state)
{
	char line[64];
	int status = -1;

	(void)state;
	for (int round = 0; round < 2; round++) {
		reexec_cmd *cmd = reexec_command("zero_length", NULL);
		struct pollfd p = {.events = POLLIN};
		int hold[2];
		pid_t pid;

		/* The child's descriptor 3: it runs until we write or close. */
		assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
		assert_int_equal(reexec_cmd_add_fd(cmd, hold[0]), 3);
		assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
		assert_int_equal(reexec_start(cmd), 0);
		close(hold[0]);
		pid = reexec_pid(cmd);
		assert_true(pid > 0);
		/* (No pidfds under valgrind: then the pid, reaped by the
		 * free below, tells.) */
		p.fd = (int)syscall(SYS_pidfd_open, pid, 0);
		assert_true(p.fd >= 0 || errno == ENOSYS);
		read_line(reexec_pipe(cmd, 1), line, sizeof(line));
		assert_string_equal(line, "sent");
		for (int i = 0; i < 3; i++)
			expect_fail(reexec_wait_timeout(cmd, 0, &status),
			            ETIMEDOUT);
		assert_int_equal(reexec_signal(cmd, 0), 0);
		if (round == 0) {
			assert_int_equal(write(hold[1], "x", 1), 1);
			expect_fail(reexec_wait(cmd, &status), EPROTO);
			assert_int_equal(exit_of(status), 0);
			reexec_cmd_free(cmd);
		} else {
			/* Freed while it runs: it is ended, not left. */
			reexec_cmd_free(cmd);
			if (p.fd >= 0)
				assert_int_equal(poll(&p, 1, 0), 1);
			else
				assert_true(kill(pid, 0) < 0 && errno == ESRCH);
		}
		close(hold[1]);
		if (p.fd >= 0)
			close(p.fd);
	}
}

/* A poll (timeout 0) takes a bounded part of a large result and returns
 * ETIMEDOUT; polls in a loop take all of it, and the status. */
static void poll_moves_data_in_steps(void **state)
{
	reexec_cmd *cmd = reexec_command("stepped_result", NULL);
	unsigned char *want = pattern(STEPPED_BYTES);
	int frames = 0, before = -1, after = -1, status = -1, calls = 0, rc;
	struct pollfd out = {.events = POLLIN};
	char line[64];
	void *data = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 0), 0);
	assert_int_equal(reexec_cmd_stdio_pipe(cmd, 1), 0);
	assert_int_equal(reexec_start(cmd), 0);
	out.fd = reexec_pipe(cmd, 1);
	read_line(out.fd, line, sizeof(line));
	assert_int_equal(sscanf(line, "queued %d %d", &frames, &before), 2);
	/* All of it is in our socket now, ready to be read. */
	assert_true(frames >= 3);
	expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
	assert_int_equal(write(reexec_pipe(cmd, 0), "x", 1), 1);
	read_line(out.fd, line, sizeof(line));
	assert_int_equal(sscanf(line, "unread %d", &after), 1);
	/* One poll moved some of it, not all. */
	assert_true(after < before);
	assert_true(after > 0);

	/* The rest, a poll at a time, until the child has sent it all. */
	do {
		expect_fail(reexec_wait_timeout(cmd, 0, &status), ETIMEDOUT);
		calls++;
	} while (poll(&out, 1, 0) == 0);
	read_line(out.fd, line, sizeof(line));
	assert_string_equal(line, "sent");
	assert_true(calls > 1);
	assert_int_equal(write(reexec_pipe(cmd, 0), "x", 1), 1);
	while ((rc = reexec_wait_timeout(cmd, 0, &status)) < 0 &&
	       errno == ETIMEDOUT)
		;
	assert_int_equal(rc, 0);
	assert_int_equal(exit_of(status), 0);
	assert_int_equal(reexec_take_result(cmd, &data, &len), 0);
	assert_int_equal(len, STEPPED_BYTES);
	assert_memory_equal(data, want, STEPPED_BYTES);
	free(data);
	free(want);
	reexec_cmd_free(cmd);
}

/* reexec_call with n bytes in and the same bytes back. */
static void round_trip(size_t n)
{
	unsigned char *in = malloc(n ? n : 1);
	void *out = NULL;
	size_t out_len = 0;
	int status = -1;

	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = flood_byte(i);
	assert_int_equal(
	        reexec_call("echo_input", in, n, &out, &out_len, &status), 0);
	assert_int_equal(exit_of(status), 0);
	assert_non_null(out);
	assert_int_equal(out_len, n);
	assert_int_equal(((char *)out)[n], '\0');
	assert_true(fnv1a(out, n) == fnv1a(in, n));
	free(out);
	free(in);
}

static void round_trips(void **state)
{
	size_t big = (size_t)256 << 20;

	(void)state;
	if (under_valgrind())
		big = (size_t)16 << 20; /* the same code, in valgrind's time */
	round_trip(0);
	round_trip(1);
	round_trip(65536 - 1);
	round_trip(65536 + 1);
	interrupts_start();
	round_trip((size_t)3 << 20);
	assert_true(interrupts_stop() > 0);
	round_trip(big);
}

static void data_bad_input(void **state)
{
	reexec_cmd *cmd = reexec_command("no_result", NULL);
	const void *in;
	void *data = NULL;
	size_t len;
	int status = -1;

	(void)state;
	expect_fail(reexec_cmd_set_input(NULL, "", 0), EINVAL);
	expect_fail(reexec_cmd_set_input(cmd, NULL, 1), EINVAL);
	expect_fail(reexec_cmd_set_input(cmd, "", REEXEC_DATA_MAX + 1),
	            EMSGSIZE);
	assert_int_equal(reexec_cmd_set_input(cmd, NULL, 0), 0);
	expect_fail(reexec_take_result(cmd, &data, &len), ECHILD);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_cmd_set_input(cmd, "x", 1), EBUSY);
	expect_fail(reexec_take_result(cmd, &data, &len), EBUSY);
	assert_int_equal(reexec_wait(cmd, &status), 0);
	expect_fail(reexec_take_result(NULL, &data, &len), EINVAL);
	expect_fail(reexec_take_result(cmd, NULL, &len), EINVAL);
	expect_fail(reexec_take_result(cmd, &data, NULL), EINVAL);
	expect_fail(reexec_take_result(cmd, &data, &len), ENODATA);
	reexec_cmd_free(cmd);

	/* No result: NULL, and the status. */
	data = &status;
	assert_int_equal(
	        reexec_call("no_result", NULL, 0, &data, &len, &status), 0);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(exit_of(status), 9);
	expect_fail(reexec_call("no_result", NULL, 0, NULL, &len, NULL),
	            EINVAL);
	expect_fail(reexec_call("no_such_name", NULL, 0, &data, &len, NULL),
	            ENOENT);

	/* This process was not started by reexec_start(). */
	expect_fail(reexec_ready(), ENOTCONN);
	expect_fail(reexec_input(&in, &len), ENOTCONN);
	expect_fail(reexec_set_result("x", 1), ENOTCONN);

	cmd = reexec_command("child_api_errors", NULL);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(exit_of(status), 0);
	reexec_cmd_free(cmd);
}

/* A start that fails leaves the command as it was, to be changed and
 * started again; its input still goes whole to the child that runs. */
static void failed_start_startable_again(void **state)
{
	reexec_cmd *cmd = reexec_command("echo_input", NULL);
	void *data;
	size_t len;
	int status = -1;

	(void)state;
	assert_int_equal(reexec_cmd_set_input(cmd, "abc", 3), 0);
	/* (A failure of the caller's side: one in the child before its exec
	 * cannot be reported under valgrind.) */
	assert_int_equal(reexec_cmd_stdio_file(cmd, 1, "/nonexistent/reexec",
	                                       O_WRONLY | O_CREAT, 0600),
	                 0);
	expect_fail(reexec_start(cmd), ENOENT);
	expect_fail(reexec_start(cmd), ENOENT);
	expect_fail(reexec_pid(cmd), ECHILD);
	expect_fail(reexec_wait(cmd, &status), ECHILD);
	assert_true(no_children());
	assert_int_equal(reexec_cmd_stdio_null(cmd, 1), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(exit_of(status), 0);
	assert_int_equal(reexec_take_result(cmd, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(data, "abc");
	free(data);
	expect_fail(reexec_start(cmd), EBUSY);
	reexec_cmd_free(cmd);
}

/* Taken twice: the second time there is nothing. */
static void result_taken_once(void **state)
{
	reexec_cmd *cmd = reexec_command("echo_input", NULL);
	void *data;
	size_t len;
	int status;

	(void)state;
	assert_int_equal(reexec_cmd_set_input(cmd, "abc", 3), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(reexec_take_result(cmd, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(data, "abc");
	free(data);
	expect_fail(reexec_take_result(cmd, &data, &len), ENODATA);
	reexec_cmd_free(cmd);
}

/* Three levels, each started by (and checked against) the one above. */
static void three_levels(void **state)
{
	char depth = '3';
	void *out;
	size_t len;
	int status, pid[3], ppid[3];

	(void)state;
	assert_int_equal(reexec_call("nest", &depth, 1, &out, &len, &status),
	                 0);
	assert_int_equal(exit_of(status), 0);
	assert_int_equal(sscanf(out, "%d:%d %d:%d %d:%d", &pid[0], &ppid[0],
	                        &pid[1], &ppid[1], &pid[2], &ppid[2]),
	                 6);
	free(out);
	/* (A fork server's child is the server's.) */
	assert_int_equal(ppid[0], using_forkserver() ? reexec_forkserver_pid()
	                                             : getpid());
	assert_int_equal(ppid[1], pid[0]);
	assert_int_equal(ppid[2], pid[1]);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(by_hand_runs_main),
	        cmocka_unit_test(false_channel_refused),
	        cmocka_unit_test(forged_channels),
	        cmocka_unit_test(setuid_copy_refuses_other_user),
	        cmocka_unit_test(multicall_registration),
	        cmocka_unit_test(startup_errors),
	        cmocka_unit_test(died_before_function),
	        cmocka_unit_test(loader_failure),
	        cmocka_unit_test(malformed_input),
	        cmocka_unit_test(malformed_result),
	        cmocka_unit_test(readiness),
	        cmocka_unit_test(late_frames),
	        cmocka_unit_test(zero_length_message),
	        cmocka_unit_test(poll_moves_data_in_steps),
	        cmocka_unit_test(round_trips),
	        cmocka_unit_test(data_bad_input),
	        cmocka_unit_test(failed_start_startable_again),
	        cmocka_unit_test(result_taken_once),
	        cmocka_unit_test(three_levels),
	};

	reexec_register("ready_then_line", ready_then_line);
	reexec_register("never_ready", never_ready);
	reexec_register("no_result", no_result);
	reexec_register("echo_input", echo_input);
	reexec_register("child_api_errors", child_api_errors);
	reexec_register("raw_frames", raw_frames);
	reexec_register("nest", nest);
	reexec_register("exit_directly", exit_directly);
	reexec_register("low_as_probe", low_as_probe);
	reexec_register("late_sender", late_sender);
	reexec_register("zero_length", zero_length);
	reexec_register("stepped_result", stepped_result);
	reexec_register_multicall("multi_euid", multi_euid,
	                          REEXEC_ALLOW_SETUID);
	/* A program that ends before reexec_init() (died_before_function). */
	if (getenv("TEST_EXIT_BEFORE_INIT"))
		_exit(atoi(getenv("TEST_EXIT_BEFORE_INIT")));
	if (!getenv("NO_EXTRA_NAMES"))
		reexec_register("only_in_parent", no_result);
	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
