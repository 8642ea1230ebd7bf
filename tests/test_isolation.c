/* Isolation attributes: each observed from inside the child, each
 * failure reported by reexec_start() with its errno and step, no child
 * left behind; both paths (exec, and the fork server under
 * make check-forkserver). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define CAP_NET_BIND_SERVICE 10
#define CAP_NET_ADMIN 12

/* --- in the child ---------------------------------------------------- */

/* The value of field (e.g. "Uid:") of /proc/self/status, its blanks made
 * single spaces. */
static void print_status(const char *field)
{
	char line[512];
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = line + strlen(field), *tok;
		bool first = true;

		if (strncmp(line, field, strlen(field)) != 0)
			continue;
		for (tok = strtok(p, " \t\n"); tok;
		     tok = strtok(NULL, " \t\n")) {
			printf("%s%s", first ? "" : " ", tok);
			first = false;
		}
		break;
	}
	if (f)
		fclose(f);
	printf("\n");
}

/* A file's lines, their blanks made single spaces; only the lines that
 * start with prefix, when given. */
static void print_file(const char *path, const char *prefix)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f) {
		printf("(%s)\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		bool first = true;

		if (prefix && strncmp(line, prefix, strlen(prefix)) != 0)
			continue;
		for (char *t = strtok(line, " \t\n"); t;
		     t = strtok(NULL, " \t\n")) {
			printf("%s%s", first ? "" : " ", t);
			first = false;
		}
		printf("\n");
	}
	fclose(f);
}

/* Print what each argument asks about, one line each. */
static int show(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "status:", 7) == 0) {
			print_status(a + 7);
		} else if (strncmp(a, "file:", 5) == 0) {
			print_file(a + 5, NULL);
		} else if (strcmp(a, "cgroup2") == 0) {
			print_file("/proc/self/cgroup", "0::");
		} else if (strncmp(a, "rlimit:", 7) == 0) {
			struct rlimit r;

			getrlimit(atoi(a + 7), &r);
			printf("%llu %llu\n", (unsigned long long)r.rlim_cur,
			       (unsigned long long)r.rlim_max);
		} else if (strcmp(a, "umask") == 0) {
			mode_t m = umask(0);

			printf("%03o\n", (unsigned)m);
		} else if (strncmp(a, "ns:", 3) == 0) {
			char path[64], link[128] = "";

			snprintf(path, sizeof(path), "/proc/self/ns/%s", a + 3);
			if (readlink(path, link, sizeof(link) - 1) < 0)
				strcpy(link, "?");
			printf("%s\n", link);
		} else if (strcmp(a, "pid") == 0) {
			printf("%ld\n", (long)getpid());
		} else if (strcmp(a, "ctty") == 0) {
			printf("%s\n",
			       tcgetsid(0) == getpid() && getsid(0) == getpid()
			               ? "leader with terminal"
			               : "no terminal");
		} else if (strcmp(a, "cwd") == 0) {
			char cwd[PATH_MAX];

			printf("%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
		} else if (strcmp(a, "nice") == 0) {
			errno = 0;
			printf("%d\n", getpriority(PRIO_PROCESS, 0));
		} else if (strncmp(a, "exit:", 5) == 0) {
			fflush(stdout);
			return atoi(a + 5);
		} else if (strcmp(a, "pdeathsig") == 0) {
			int sig = -1;

			prctl(PR_GET_PDEATHSIG, &sig);
			printf("%d\n", sig);
		} else if (strcmp(a, "_exit") == 0) {
			/* Without exit handlers: LeakSanitizer's reads /proc,
			 * which a new root does not have. */
			fflush(stdout);
			_exit(0);
		} else if (strcmp(a, "spin") == 0) {
			for (volatile unsigned long n = 0;; n++)
				;
		}
	}
	fflush(stdout);
	return 0;
}

/* --- in the test ----------------------------------------------------- */

static reexec_cmd *show_cmd(const char *a, const char *b, const char *c)
{
	reexec_cmd *cmd = reexec_command("show", a, b, c, (char *)NULL);

	assert_non_null(cmd);
	return cmd;
}

/* Run cmd, which must succeed with status 0, and return its output. */
static char *output_of(reexec_cmd *cmd)
{
	int status = -1;
	char *out = capture_stdout(cmd, NULL, &status);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	reexec_cmd_free(cmd);
	return out;
}

static void expect_output(reexec_cmd *cmd, const char *want)
{
	char *out = output_of(cmd);

	assert_string_equal(out, want);
	free(out);
	assert_true(no_children());
}

/* The start fails with err at step; no child is left, and the command
 * can be started again. */
static void expect_step_fails(reexec_cmd *cmd, int err, int step)
{
	assert_non_null(cmd);
	errno = 0;
	assert_int_equal(reexec_start(cmd), -1);
	assert_int_equal(errno, err);
	assert_int_equal(reexec_failed_step(cmd), step);
	assert_int_equal(reexec_pid(cmd), -1);
	assert_true(no_children());
	reexec_cmd_free(cmd);
}

static void user_and_groups(void **state)
{
	gid_t groups[] = {65534, 100};
	reexec_cmd *cmd =
	        show_cmd("status:Uid:", "status:Gid:", "status:Groups:");

	(void)state;
	assert_int_equal(reexec_cmd_set_user(cmd, 65534, 65533, 2, groups), 0);
	expect_output(cmd, "65534 65534 65534 65534\n"
	                   "65533 65533 65533 65533\n"
	                   "100 65534\n");
	/* No groups: none. */
	cmd = show_cmd("status:Groups:", NULL, NULL);
	assert_int_equal(reexec_cmd_set_user(cmd, 1000, 1000, 0, NULL), 0);
	expect_output(cmd, "\n");
}

static void rlimits(void **state)
{
	struct rlimit files = {100, 200}, core = {4096, 8192}, none = {0, 0};
	char want[128];
	reexec_cmd *cmd;

	(void)state;
	cmd = show_cmd("rlimit:7", "rlimit:4", NULL); /* NOFILE, CORE */
	assert_int_equal(reexec_cmd_set_rlimit(cmd, RLIMIT_NOFILE, &files), 0);
	assert_int_equal(reexec_cmd_set_rlimit(cmd, RLIMIT_CORE, &core), 0);
	/* Repeated: the later one stands. */
	assert_int_equal(reexec_cmd_set_rlimit(cmd, RLIMIT_CORE, &none), 0);
	snprintf(want, sizeof(want), "100 200\n0 0\n");
	expect_output(cmd, want);
}

static void umask_set(void **state)
{
	reexec_cmd *cmd = show_cmd("umask", NULL, NULL);

	(void)state;
	assert_int_equal(reexec_cmd_set_umask(cmd, 027), 0);
	expect_output(cmd, "027\n");
}

/* A child run from the sealed copy takes its attributes too. */
static void sealed_child(void **state)
{
	reexec_cmd *cmd;

	(void)state;
	if (under_valgrind()) {
		print_message("skipped: valgrind cannot follow execveat\n");
		skip();
	}
	cmd = show_cmd("umask", NULL, NULL);
	if (reexec_cmd_seal(cmd) < 0) {
		print_message("skipped: no sealed copy here: %s\n",
		              strerror(errno));
		reexec_cmd_free(cmd);
		skip();
	}
	assert_int_equal(reexec_cmd_set_umask(cmd, 077), 0);
	expect_output(cmd, "077\n");
}

static char root_dir[64];

static void make_root(void)
{
	char sub[96];

	strcpy(root_dir, "/tmp/reexec-root-XXXXXX");
	assert_non_null(mkdtemp(root_dir));
	snprintf(sub, sizeof(sub), "%s/sub", root_dir);
	assert_int_equal(mkdir(sub, 0755), 0);
}

static void remove_root(void)
{
	char sub[96];

	snprintf(sub, sizeof(sub), "%s/sub", root_dir);
	rmdir(sub);
	rmdir(root_dir);
}

static void chroot_and_dir(void **state)
{
	reexec_cmd *cmd;

	(void)state;
	make_root();
	cmd = show_cmd("cwd", "file:/proc/self/status", "_exit");
	assert_int_equal(reexec_cmd_set_chroot(cmd, root_dir), 0);
	/* /proc is not in the new root. */
	expect_output(cmd, "/\n(No such file or directory)\n");
	/* The command's directory is taken inside the new root. */
	cmd = show_cmd("cwd", "_exit", NULL);
	assert_int_equal(reexec_cmd_set_chroot(cmd, root_dir), 0);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/sub"), 0);
	expect_output(cmd, "/sub\n");
	/* Failures: the root, then the directory in it. */
	cmd = show_cmd("cwd", NULL, NULL);
	assert_int_equal(reexec_cmd_set_chroot(cmd, "/nonexistent-root"), 0);
	expect_step_fails(cmd, ENOENT, REEXEC_STEP_CHROOT);
	cmd = show_cmd("cwd", NULL, NULL);
	assert_int_equal(reexec_cmd_set_chroot(cmd, root_dir), 0);
	assert_int_equal(reexec_cmd_set_dir(cmd, "/missing"), 0);
	expect_step_fails(cmd, ENOENT, REEXEC_STEP_CHDIR);
	remove_root();
}

static void no_new_privs(void **state)
{
	reexec_cmd *cmd = show_cmd("status:NoNewPrivs:", NULL, NULL);

	(void)state;
	assert_int_equal(reexec_cmd_no_new_privs(cmd), 0);
	expect_output(cmd, "1\n");
	expect_output(show_cmd("status:NoNewPrivs:", NULL, NULL), "0\n");
}

static void ambient_caps(void **state)
{
	int caps[] = {CAP_NET_BIND_SERVICE};
	reexec_cmd *cmd =
	        show_cmd("status:CapAmb:", "status:CapEff:", "status:Uid:");

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: needs root to keep capabilities\n");
		skip();
	}
	assert_int_equal(reexec_cmd_set_user(cmd, 65534, 65534, 0, NULL), 0);
	assert_int_equal(reexec_cmd_set_ambient_caps(cmd, 1, caps), 0);
	expect_output(cmd, "0000000000000400\n0000000000000400\n"
	                   "65534 65534 65534 65534\n");
}

static void nice_and_oom(void **state)
{
	reexec_cmd *cmd =
	        show_cmd("nice", "file:/proc/self/oom_score_adj", NULL);

	(void)state;
	assert_int_equal(reexec_cmd_set_nice(cmd, 7), 0);
	assert_int_equal(reexec_cmd_set_oom_score_adj(cmd, 500), 0);
	expect_output(cmd, "7\n500\n");
}

/* A pty's slave, not our controlling terminal. */
static int open_pty(int *master)
{
	int slave;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*master >= 0);
	assert_int_equal(grantpt(*master), 0);
	assert_int_equal(unlockpt(*master), 0);
	slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	return slave;
}

static void ctty(void **state)
{
	int master, slave = open_pty(&master), out[2];
	reexec_cmd *cmd = show_cmd("ctty", NULL, NULL);
	char buf[64] = "";
	int status;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 0, slave), 0);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 1, out[1]), 0);
	assert_int_equal(reexec_cmd_set_ctty(cmd, 0), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_int_equal(status, 0);
	close(out[1]);
	n = read(out[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	assert_string_equal(buf, "leader with terminal\n");
	close(out[0]);
	reexec_cmd_free(cmd);
	/* Without it, the same child has none. */
	cmd = show_cmd("ctty", NULL, NULL);
	assert_int_equal(reexec_cmd_stdio_fd(cmd, 0, slave), 0);
	expect_output(cmd, "no terminal\n");
	close(slave);
	close(master);
	/* Not a terminal. */
	cmd = show_cmd("ctty", NULL, NULL);
	assert_int_equal(reexec_cmd_stdio_null(cmd, 0), 0);
	assert_int_equal(reexec_cmd_set_ctty(cmd, 0), 0);
	expect_step_fails(cmd, ENOTTY, REEXEC_STEP_CTTY);
	assert_true(no_children());
}

static void ns_link(const char *ns, char *link, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	n = readlink(path, link, size - 1);
	assert_true(n > 0);
	link[n] = '\0';
}

/* ThreadSanitizer's runtime keeps a thread of its own in every process
 * the fork server forks, and the kernel refuses a new user namespace to a
 * process with more than one thread (EINVAL): there only, the tests that
 * make one are skipped, saying so. */
static bool userns_refused_here(void)
{
	const char *san = getenv("TEST_SANITIZER");

	if (!using_forkserver() || !san || strcmp(san, "tsan") != 0)
		return false;
	print_message("skipped: ThreadSanitizer keeps a thread in the fork "
	              "server's children, which the kernel then refuses a "
	              "user namespace\n");
	return true;
}

static void namespaces(void **state)
{
	static const char *const names[] = {"net", "uts",    "ipc",
	                                    "mnt", "cgroup", "user"};
	char want[1024] = "", link[128];
	reexec_cmd *cmd;
	char *out;

	(void)state;
	if (userns_refused_here())
		skip();
	/* Each differs from ours (and the others stay ours, below). */
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		char arg[16];

		snprintf(arg, sizeof(arg), "ns:%s", names[i]);
		cmd = show_cmd(arg, NULL, NULL);
		assert_int_equal(
		        reexec_cmd_set_namespaces(
		                cmd, CLONE_NEWNET | CLONE_NEWUTS |
		                             CLONE_NEWIPC | CLONE_NEWNS |
		                             CLONE_NEWCGROUP | CLONE_NEWUSER),
		        0);
		out = output_of(cmd);
		ns_link(names[i], link, sizeof(link));
		strcat(link, "\n");
		if (strcmp(out, link) == 0)
			fail_msg("%s namespace not new: %s", names[i], out);
		assert_true(strncmp(out, names[i], strlen(names[i])) == 0);
		free(out);
	}
	/* Only the one asked for. */
	cmd = show_cmd("ns:net", "ns:uts", NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWUTS), 0);
	out = output_of(cmd);
	ns_link("net", link, sizeof(link));
	snprintf(want, sizeof(want), "%s\n", link);
	assert_true(strncmp(out, want, strlen(want)) == 0);
	ns_link("uts", link, sizeof(link));
	assert_null(strstr(out + strlen(want), link));
	free(out);
	assert_true(no_children());
}

static void pid_namespace(void **state)
{
	struct rlimit cpu = {1, 1};
	reexec_cmd *cmd;
	int status = -1;

	(void)state;
	cmd = show_cmd("pid", "ns:pid", NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWPID), 0);
	{
		char *out = output_of(cmd), link[128];

		ns_link("pid", link, sizeof(link));
		assert_true(strncmp(out, "1\npid:[", 7) == 0);
		assert_null(strstr(out, link));
		free(out);
	}
	/* The status is the function's: its exit code... */
	cmd = show_cmd("exit:7", NULL, NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWPID), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	reexec_cmd_free(cmd);
	/* ... or the signal that killed it (here the kernel's SIGKILL at
	 * the hard CPU limit: as pid 1 it ignores the others). */
	cmd = show_cmd("spin", NULL, NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWPID), 0);
	assert_int_equal(reexec_cmd_set_rlimit(cmd, RLIMIT_CPU, &cpu), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reexec_cmd_free(cmd);
	assert_true(no_children());
}

/* The parent-death signal survives the credential change (it is set
 * after it), and in a new pid namespace the function dies with the
 * process left behind. */
static void parent_death(void **state)
{
	reexec_cmd *cmd = show_cmd("pdeathsig", "status:Uid:", NULL);

	(void)state;
	assert_int_equal(reexec_cmd_parent_death(cmd, SIGTERM), 0);
	assert_int_equal(reexec_cmd_set_user(cmd, 65534, 65534, 0, NULL), 0);
	expect_output(cmd, "15\n65534 65534 65534 65534\n");
	cmd = show_cmd("pdeathsig", "pid", NULL);
	assert_int_equal(reexec_cmd_parent_death(cmd, SIGTERM), 0);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWPID), 0);
	expect_output(cmd, "9\n1\n");
}

static void time_namespace(void **state)
{
	char link[128], *out;
	reexec_cmd *cmd;

	(void)state;
	if (readlink("/proc/self/ns/time", link, sizeof(link)) < 0) {
		print_message("skipped: no time namespaces here\n");
		skip();
	}
	ns_link("time", link, sizeof(link));
	cmd = show_cmd("ns:time", NULL, NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWTIME), 0);
	out = output_of(cmd);
	assert_true(strncmp(out, "time:[", 6) == 0);
	assert_null(strstr(out, link));
	free(out);
	assert_true(no_children());
}

static void user_namespace_maps(void **state)
{
	reexec_cmd *cmd = show_cmd("file:/proc/self/uid_map",
	                           "file:/proc/self/gid_map", "status:Uid:");

	(void)state;
	if (userns_refused_here()) {
		reexec_cmd_free(cmd);
		skip();
	}
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER), 0);
	/* (Our uid 0, the child's outside, is 0 inside too.) */
	assert_int_equal(reexec_cmd_uid_map(cmd, 0, 0, 1), 0);
	assert_int_equal(reexec_cmd_uid_map(cmd, 1000, 100000, 1000), 0);
	assert_int_equal(reexec_cmd_gid_map(cmd, 0, 100000, 1000), 0);
	expect_output(cmd, "0 0 1\n1000 100000 1000\n"
	                   "0 100000 1000\n"
	                   "0 0 0 0\n");
	/* setgroups: denied unless allowed. */
	cmd = show_cmd("file:/proc/self/setgroups", NULL, NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER), 0);
	assert_int_equal(reexec_cmd_gid_map(cmd, 0, 0, 1), 0);
	expect_output(cmd, "deny\n");
	cmd = show_cmd("file:/proc/self/setgroups", NULL, NULL);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER), 0);
	assert_int_equal(reexec_cmd_gid_map(cmd, 0, 0, 1), 0);
	assert_int_equal(reexec_cmd_setgroups(cmd, 1), 0);
	expect_output(cmd, "allow\n");
}

/* --- an unprivileged caller -------------------------------------------- */

/* In a child: become nobody, then start a command for scenario; 0 when
 * what it expects happened, 2 when this cannot be checked here, another
 * number (the line) when not. */
#define WANT(c)                                                             \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "as_nobody %s: line %d: %s (%s)\n", \
			        argv[1], __LINE__, #c, strerror(errno));    \
			return 1;                                           \
		}                                                           \
	} while (0)

static int start_fails(reexec_cmd *cmd, int err, int step)
{
	errno = 0;
	return cmd && reexec_start(cmd) == -1 && errno == err &&
	       reexec_failed_step(cmd) == step && reexec_pid(cmd) == -1;
}

static int as_nobody(int argc, char *argv[])
{
	const char *s = argc > 1 ? argv[1] : "";
	reexec_cmd *cmd;

	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 2;
	if (access(reexec_self(), X_OK) < 0)
		return 3;
	helpers_started();
	if (strcmp(s, "root-inside") == 0) {
		struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
		int status = -1;

		cmd = reexec_command("show", "status:Uid:", "status:Gid:",
		                     "file:/proc/self/uid_map", (char *)NULL);
		WANT(reexec_cmd_set_namespaces(
		             cmd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID |
		                          CLONE_NEWNET) == 0);
		WANT(reexec_cmd_uid_map(cmd, 0, 65534, 1) == 0);
		WANT(reexec_cmd_gid_map(cmd, 0, 65534, 1) == 0);
		WANT(reexec_capture(cmd, &cap, &status) == 0);
		WANT(status == 0);
		WANT(strcmp(cap.out, "0 0 0 0\n0 0 0 0\n0 65534 1\n") == 0);
		free(cap.out);
		reexec_cmd_free(cmd);
		return 0;
	}
	cmd = reexec_command("show", (char *)NULL);
	WANT(cmd);
	if (strcmp(s, "user") == 0) {
		WANT(reexec_cmd_set_user(cmd, 0, 0, 0, NULL) == 0);
		WANT(start_fails(cmd, EPERM, REEXEC_STEP_GROUPS));
	} else if (strcmp(s, "uid") == 0) {
		/* No groups to set in a namespace that denies it: the
		 * unmapped uid fails. */
		WANT(reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER) == 0);
		WANT(reexec_cmd_uid_map(cmd, 0, 65534, 1) == 0);
		WANT(reexec_cmd_gid_map(cmd, 0, 65534, 1) == 0);
		WANT(reexec_cmd_set_user(cmd, 5, 0, 0, NULL) == 0);
		WANT(start_fails(cmd, EINVAL, REEXEC_STEP_UID));
	} else if (strcmp(s, "rlimit") == 0) {
		struct rlimit r;

		getrlimit(RLIMIT_NOFILE, &r);
		r.rlim_max++;
		WANT(reexec_cmd_set_rlimit(cmd, RLIMIT_NOFILE, &r) == 0);
		WANT(start_fails(cmd, EPERM, REEXEC_STEP_RLIMIT));
	} else if (strcmp(s, "nice") == 0) {
		WANT(reexec_cmd_set_nice(cmd, -5) == 0);
		WANT(start_fails(cmd, EACCES, REEXEC_STEP_NICE));
	} else if (strcmp(s, "oom") == 0) {
		WANT(reexec_cmd_set_oom_score_adj(cmd, -500) == 0);
		WANT(start_fails(cmd, EACCES, REEXEC_STEP_OOM_SCORE));
	} else if (strcmp(s, "namespaces") == 0) {
		WANT(reexec_cmd_set_namespaces(cmd, CLONE_NEWNET) == 0);
		WANT(start_fails(cmd, EPERM, REEXEC_STEP_NAMESPACES));
	} else if (strcmp(s, "maps") == 0) {
		WANT(reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER) == 0);
		WANT(reexec_cmd_uid_map(cmd, 0, 0, 1) == 0);
		WANT(start_fails(cmd, EPERM, REEXEC_STEP_MAPS));
	} else if (strcmp(s, "caps") == 0) {
		int caps[] = {CAP_NET_ADMIN};

		WANT(reexec_cmd_set_ambient_caps(cmd, 1, caps) == 0);
		WANT(start_fails(cmd, EPERM, REEXEC_STEP_CAPS));
	} else {
		return 4;
	}
	/* Failed, and left no child; the command starts again once the
	 * attribute is gone? It is still set: free it. */
	WANT(waitpid(-1, NULL, WNOHANG) <= 0);
	reexec_cmd_free(cmd);
	return 0;
}

static void run_as_nobody(const char *scenario)
{
	reexec_cmd *cmd = reexec_command("as_nobody", scenario, (char *)NULL);
	int status = -1;

	assert_non_null(cmd);
	/* (The command itself runs as us: it drops its own privileges.) */
	assert_int_equal(reexec_cmd_forkserver(cmd, 0), 0);
	assert_int_equal(reexec_run(cmd, &status), 0);
	reexec_cmd_free(cmd);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		print_message("skipped: cannot become nobody here\n");
		skip();
	}
	if (WEXITSTATUS(status) == 3) {
		print_message("skipped: nobody cannot execute %s\n",
		              reexec_self());
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(no_children());
}

static void unprivileged_root_inside(void **state)
{
	(void)state;
	if (userns_refused_here())
		skip();
	run_as_nobody("root-inside");
}

static void unprivileged_failures(void **state)
{
	static const char *const scenarios[] = {
	        "user", "uid",        "rlimit", "nice",
	        "oom",  "namespaces", "maps",   "caps",
	};

	(void)state;
	if (userns_refused_here())
		skip();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(*scenarios); i++)
		run_as_nobody(scenarios[i]);
}

/* --- cgroups ----------------------------------------------------------- */

/* The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo. */
static bool cgroup2_mount(char *path, size_t size)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char mnt[512], type[64];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s", type) != 1)
			continue;
		if (strcmp(type, "cgroup2") == 0 && strlen(mnt) < size) {
			strcpy(path, mnt);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static void cgroup(void **state)
{
	char mnt[512], dir[640], want[256];
	reexec_cmd *cmd;
	int fd;

	(void)state;
	if (!cgroup2_mount(mnt, sizeof(mnt))) {
		print_message("skipped: no cgroup2 hierarchy mounted\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/reexec-test-%ld", mnt, (long)getpid());
	if (mkdir(dir, 0755) < 0) {
		print_message("skipped: cannot make a cgroup in %s: %s\n", mnt,
		              strerror(errno));
		skip();
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	cmd = show_cmd("cgroup2", NULL, NULL);
	assert_int_equal(reexec_cmd_set_cgroup(cmd, fd), 0);
	snprintf(want, sizeof(want), "0::/reexec-test-%ld\n", (long)getpid());
	expect_output(cmd, want);
	/* In a new cgroup namespace, rooted there. */
	cmd = show_cmd("cgroup2", NULL, NULL);
	assert_int_equal(reexec_cmd_set_cgroup(cmd, fd), 0);
	assert_int_equal(reexec_cmd_set_namespaces(cmd, CLONE_NEWCGROUP), 0);
	expect_output(cmd, "0::/\n");
	close(fd);
	assert_int_equal(rmdir(dir), 0);
	/* A directory that is no cgroup. */
	make_root();
	fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cmd = show_cmd("cgroup2", NULL, NULL);
	assert_int_equal(reexec_cmd_set_cgroup(cmd, fd), 0);
	expect_step_fails(cmd, ENOENT, REEXEC_STEP_CGROUP);
	close(fd);
	remove_root();
}

/* --- configuration ----------------------------------------------------- */

static void configure_errors(void **state)
{
	reexec_cmd *cmd = show_cmd(NULL, NULL, NULL);
	struct rlimit bad = {10, 5}, ok = {1, 1};
	gid_t g = 1;
	int caps[] = {64}, file, fd;

	(void)state;
	expect_fail(reexec_cmd_set_user(NULL, 0, 0, 0, NULL), EINVAL);
	expect_fail(reexec_cmd_set_user(cmd, (uid_t)-1, 0, 0, NULL), EINVAL);
	expect_fail(reexec_cmd_set_user(cmd, 0, 0, 1, NULL), EINVAL);
	expect_fail(reexec_cmd_set_user(cmd, 0, 0, 65537, &g), EINVAL);
	expect_fail(reexec_cmd_set_rlimit(cmd, -1, &ok), EINVAL);
	expect_fail(reexec_cmd_set_rlimit(cmd, RLIMIT_NLIMITS, &ok), EINVAL);
	expect_fail(reexec_cmd_set_rlimit(cmd, RLIMIT_CORE, NULL), EINVAL);
	expect_fail(reexec_cmd_set_rlimit(cmd, RLIMIT_CORE, &bad), EINVAL);
	expect_fail(reexec_cmd_set_umask(cmd, 01000), EINVAL);
	expect_fail(reexec_cmd_set_chroot(cmd, ""), EINVAL);
	expect_fail(reexec_cmd_set_chroot(cmd, NULL), EINVAL);
	expect_fail(reexec_cmd_set_namespaces(cmd, CLONE_VM), EINVAL);
	expect_fail(reexec_cmd_set_namespaces(cmd, CLONE_NEWPID | 1), EINVAL);
	expect_fail(reexec_cmd_uid_map(cmd, 0, 0, 0), EINVAL);
	expect_fail(reexec_cmd_uid_map(cmd, 0xffffffffu - 1, 0, 5), EINVAL);
	assert_int_equal(reexec_cmd_uid_map(cmd, 0, 1000, 10), 0);
	expect_fail(reexec_cmd_uid_map(cmd, 5, 2000, 10), EINVAL); /* inside */
	expect_fail(reexec_cmd_uid_map(cmd, 100, 1009, 1),
	            EINVAL);                                       /* outside */
	assert_int_equal(reexec_cmd_gid_map(cmd, 5, 2000, 10), 0); /* its own */
	for (unsigned i = 1; i < 340; i++)
		assert_int_equal(reexec_cmd_gid_map(cmd, 100 + i, 100 + i, 1),
		                 0);
	expect_fail(reexec_cmd_gid_map(cmd, 1000, 1000, 1), EINVAL);
	expect_fail(reexec_cmd_setgroups(cmd, 2), EINVAL);
	expect_fail(reexec_cmd_set_cgroup(cmd, -1), EBADF);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(fd);
	expect_fail(reexec_cmd_set_cgroup(cmd, fd), EBADF);
	file = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_fail(reexec_cmd_set_cgroup(cmd, file), ENOTDIR);
	close(file);
	expect_fail(reexec_cmd_set_ctty(cmd, -1), EBADF);
	expect_fail(reexec_cmd_set_ambient_caps(cmd, 1, caps), EINVAL);
	expect_fail(reexec_cmd_set_ambient_caps(cmd, 1, NULL), EINVAL);
	expect_fail(reexec_cmd_set_nice(cmd, 20), EINVAL);
	expect_fail(reexec_cmd_set_nice(cmd, -21), EINVAL);
	expect_fail(reexec_cmd_set_oom_score_adj(cmd, 1001), EINVAL);
	expect_fail(reexec_failed_step(NULL), EINVAL);
	/* Known only at the start, before anything runs: maps without a
	 * user namespace, a terminal that is none of the child's, or one
	 * with a process group of its own. */
	errno = 0;
	assert_int_equal(reexec_start(cmd), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(reexec_failed_step(cmd), REEXEC_STEP_NONE);
	reexec_cmd_free(cmd);
	cmd = show_cmd(NULL, NULL, NULL);
	assert_int_equal(reexec_cmd_set_ctty(cmd, 3), 0);
	expect_fail(reexec_start(cmd), EBADF);
	reexec_cmd_free(cmd);
	cmd = show_cmd(NULL, NULL, NULL);
	assert_int_equal(reexec_cmd_set_ctty(cmd, 0), 0);
	assert_int_equal(reexec_cmd_setpgid(cmd, 0), 0);
	expect_fail(reexec_start(cmd), EINVAL);
	reexec_cmd_free(cmd);
	/* And after the start, nothing is settable. */
	cmd = show_cmd(NULL, NULL, NULL);
	assert_int_equal(reexec_cmd_set_umask(cmd, 022), 0);
	assert_int_equal(reexec_start(cmd), 0);
	expect_fail(reexec_cmd_set_umask(cmd, 022), EBUSY);
	expect_fail(reexec_cmd_set_namespaces(cmd, 0), EBUSY);
	assert_int_equal(reexec_wait(cmd, NULL), 0);
	reexec_cmd_free(cmd);
	assert_true(no_children());
}

/* A failed start leaves the command as it was: it starts again once the
 * failing attribute is changed, its input intact. */
static void failed_start_restarts(void **state)
{
	reexec_cmd *cmd = show_cmd("cwd", "_exit", NULL);

	(void)state;
	make_root();
	assert_int_equal(reexec_cmd_set_chroot(cmd, "/nonexistent-root"), 0);
	errno = 0;
	assert_int_equal(reexec_start(cmd), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(reexec_cmd_set_chroot(cmd, root_dir), 0);
	expect_output(cmd, "/\n");
	remove_root();
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(user_and_groups),
	        cmocka_unit_test(rlimits),
	        cmocka_unit_test(umask_set),
	        cmocka_unit_test(sealed_child),
	        cmocka_unit_test(chroot_and_dir),
	        cmocka_unit_test(no_new_privs),
	        cmocka_unit_test(ambient_caps),
	        cmocka_unit_test(nice_and_oom),
	        cmocka_unit_test(ctty),
	        cmocka_unit_test(namespaces),
	        cmocka_unit_test(pid_namespace),
	        cmocka_unit_test(time_namespace),
	        cmocka_unit_test(parent_death),
	        cmocka_unit_test(user_namespace_maps),
	        cmocka_unit_test(unprivileged_root_inside),
	        cmocka_unit_test(unprivileged_failures),
	        cmocka_unit_test(cgroup),
	        cmocka_unit_test(configure_errors),
	        cmocka_unit_test(failed_start_restarts),
	};

	reexec_register("show", show);
	reexec_register("as_nobody", as_nobody);
	helpers_init(argc, argv);
	return cmocka_run_group_tests_name("isolation", tests, NULL, NULL);
}
