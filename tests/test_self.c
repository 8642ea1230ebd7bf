/* The self image: how the library finds the binary to re-execute, and the
 * child's name. Scenarios that change the binary run in a copy of this
 * suite, started with SELF_SCENARIO naming what to do; the copy exits 0
 * when the scenario held. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

extern char **environ;

/* print_comm: the process name the kernel shows (ps, top). */
static int print_comm(int argc, char *argv[])
{
	char buf[64];
	int fd = open("/proc/self/comm", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

	(void)argc;
	(void)argv;
	if (n <= 0)
		return 1;
	return write(1, buf, (size_t)n) == n ? 0 : 1;
}

static void child_named_after_function(void **state)
{
	reexec_cmd *cmd = reexec_command("print_comm", NULL);
	char *out;

	(void)state;
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, "print_comm\n");
	free(out);
	reexec_cmd_free(cmd);

	cmd = reexec_command("a_function_with_a_long_name", NULL);
	out = capture_stdout(cmd, NULL, NULL);
	assert_string_equal(out, "a_function_with\n"); /* 15 bytes kept */
	free(out);
	reexec_cmd_free(cmd);
}

/* The scenario side: spawn a helper and check what it printed. */
static int spawn_works(void)
{
	static const char want[] = "print_args\0still me\0";
	reexec_cmd *cmd = reexec_command("print_args", "still me", NULL);
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
	int status = -1, ok;

	if (!cmd || reexec_capture(cmd, &cap, &status) < 0)
		return 0;
	ok = status == 0 && cap.out_len == sizeof(want) - 1 &&
	     memcmp(cap.out, want, cap.out_len) == 0;
	free(cap.out);
	reexec_cmd_free(cmd);
	return ok;
}

static int run_scenario(const char *what, const char *self_copy)
{
	if (strcmp(what, "plain") == 0)
		return spawn_works() ? 0 : 10;
	if (strcmp(what, "ldso") == 0) {
		/* /proc/self/exe is the loader here: the library must notice. */
		if (strcmp(reexec_self(), "/proc/self/exe") == 0)
			return 11;
		return spawn_works() ? 0 : 12;
	}
	if (strcmp(what, "deleted") == 0) {
		if (unlink(self_copy) < 0)
			return 13;
		return spawn_works() && spawn_works() ? 0 : 14;
	}
	if (strcmp(what, "replaced") == 0) {
		/* Another program now has our name: the child must still be
		 * this one. */
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s.new", self_copy);
		if (symlink("/bin/true", tmp) < 0 || rename(tmp, self_copy) < 0)
			return 15;
		return spawn_works() ? 0 : 16;
	}
	return 20;
}

/* A copy of this binary in a fresh directory; returns its path. */
static char *copy_self(char *dir)
{
	static char path[4096];
	char buf[65536];
	int in, out;
	ssize_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/test_self_copy", dir);
	in = open("/proc/self/exe", O_RDONLY);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0755);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	return path;
}

/* Run the copy (through argv0, optionally behind a loader) with scenario. */
static int run_copy(const char *scenario, const char *loader)
{
	char dir[] = "/tmp/reexec-self-XXXXXX";
	char *path = copy_self(dir);
	char env_scenario[64], env_path[4200];
	char *envp[] = {env_scenario, env_path, NULL};
	char *argv_plain[] = {path, NULL};
	char *argv_loader[] = {(char *)loader, path, NULL};
	pid_t pid;
	int status;

	snprintf(env_scenario, sizeof(env_scenario), "SELF_SCENARIO=%s",
	         scenario);
	snprintf(env_path, sizeof(env_path), "SELF_COPY=%s", path);
	assert_int_equal(posix_spawn(&pid, loader ? loader : path, NULL, NULL,
	                             loader ? argv_loader : argv_plain, envp),
	                 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void copy_spawns(void **state)
{
	(void)state;
	assert_int_equal(run_copy("plain", NULL), 0);
}

static void binary_deleted(void **state)
{
	(void)state;
	assert_int_equal(run_copy("deleted", NULL), 0);
}

static void binary_replaced(void **state)
{
	(void)state;
	assert_int_equal(run_copy("replaced", NULL), 0);
}

static void started_by_loader(void **state)
{
	static const char *loaders[] = {"/lib64/ld-linux-x86-64.so.2",
	                                "/lib/ld-linux-aarch64.so.1",
	                                "/lib/ld-linux-armhf.so.3"};
	const char *loader = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (access(loaders[i], X_OK) == 0) {
			loader = loaders[i];
			break;
		}
	if (!loader) {
		print_message("skipped: no known dynamic loader here\n");
		skip();
	}
	assert_int_equal(run_copy("ldso", loader), 0);
}

/* noproc_probe: with the binary pinned, unmount /proc in a new mount
 * namespace and spawn. 0: it worked; 2: namespaces not allowed here. */
static int noproc_probe(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	if (!reexec_self())
		return 3;
	if (unshare(CLONE_NEWNS) < 0)
		return 2;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    umount2("/proc", MNT_DETACH) < 0)
		return 2;
	if (access("/proc/self/exe", F_OK) == 0)
		return 4;
	return spawn_works() ? 0 : 5;
}

static void proc_unmounted(void **state)
{
	(void)state;
	if (getenv("TEST_SANITIZER")) {
		print_message("skipped: sanitizer runtimes need /proc\n");
		skip();
	}
	assert_int_equal(run_probe("noproc_probe", "no mount namespace or "
	                                           "umount allowed here"),
	                 0);
}

static void chroot_after_init(void **state)
{
	char path[4096], dir[] = "/tmp/reexec-chroot-XXXXXX";
	char *argv[] = {"static_probe", dir, NULL};
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	pid_t pid;
	int status;

	(void)state;
	assert_true(n > 0);
	path[n] = '\0';
	strcpy(strrchr(path, '/') + 1, "static_probe");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(posix_spawn(&pid, path, NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		print_message("skipped: chroot not allowed here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* exe_report: the inode behind our /proc/self/exe and whether it can be
 * opened for writing: "INODE DEV ERRNO". */
static int exe_report(int argc, char *argv[])
{
	struct stat st;
	int fd;

	(void)argc;
	(void)argv;
	if (stat("/proc/self/exe", &st) < 0)
		return 1;
	fd = open("/proc/self/exe", O_WRONLY);
	printf("%llu %llu %d", (unsigned long long)st.st_ino,
	       (unsigned long long)st.st_dev, fd < 0 ? errno : 0);
	return 0;
}

/* The child's exe, sealed or not: "INODE DEV ERRNO". */
static void exe_of_child(bool sealed, unsigned long long *ino,
                         unsigned long long *dev, int *err)
{
	reexec_cmd *cmd = reexec_command("exe_report", NULL);
	char *out;

	if (sealed)
		assert_int_equal(reexec_cmd_seal(cmd), 0);
	out = capture_stdout(cmd, NULL, NULL);
	assert_int_equal(sscanf(out, "%llu %llu %d", ino, dev, err), 3);
	free(out);
	reexec_cmd_free(cmd);
}

static void sealed_child_off_disk(void **state)
{
	struct stat disk;
	unsigned long long ino, dev;
	int err, fd;
	char before[64], after[64];
	uint64_t h1, h2;
	char *data;
	ssize_t n;

	(void)state;
	if (under_valgrind()) {
		print_message("skipped: valgrind cannot follow execveat\n");
		skip();
	}
	assert_int_equal(stat(reexec_self(), &disk), 0);
	data = malloc((size_t)disk.st_size);
	fd = open(reexec_self(), O_RDONLY);
	n = read(fd, data, (size_t)disk.st_size);
	close(fd);
	h1 = fnv1a(data, (size_t)n);

	/* Unsealed, the child runs the file on disk... */
	exe_of_child(false, &ino, &dev, &err);
	assert_true(ino == disk.st_ino && dev == disk.st_dev);
	/* ...sealed, a copy that is not it, and that cannot be written. */
	exe_of_child(true, &ino, &dev, &err);
	assert_false(ino == disk.st_ino && dev == disk.st_dev);
	assert_int_not_equal(err, 0);

	fd = open(reexec_self(), O_RDONLY);
	n = read(fd, data, (size_t)disk.st_size);
	close(fd);
	h2 = fnv1a(data, (size_t)n);
	snprintf(before, sizeof(before), "%016llx", (unsigned long long)h1);
	snprintf(after, sizeof(after), "%016llx", (unsigned long long)h2);
	assert_string_equal(before, after);
	free(data);

	errno = 0;
	assert_int_equal(reexec_cmd_seal(NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* noexec_probe: in a new pid namespace where executable memfds are
 * forbidden (vm.memfd_noexec = 2 is per pid namespace), sealing must fail
 * with EACCES and a sealed start must not happen. 0: it did fail closed;
 * 2: the setting cannot be made here. */
static int noexec_probe(int argc, char *argv[])
{
	pid_t pid;
	int status;

	(void)argc;
	(void)argv;
	if (unshare(CLONE_NEWPID) < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		int fd = open("/proc/sys/vm/memfd_noexec", O_WRONLY);
		reexec_cmd *cmd;

		if (fd < 0 || write(fd, "2", 1) != 1)
			_exit(2);
		close(fd);
		if (reexec_seal() == 0 || errno != EACCES)
			_exit(3);
		cmd = reexec_command("exit_code", NULL);
		if (reexec_cmd_seal(cmd) == 0 || errno != EACCES)
			_exit(4);
		reexec_cmd_free(cmd);
		_exit(0);
	}
	/* _exit: after unshare(CLONE_NEWPID) no thread can be made, and a
	 * leak checker at exit would want one. */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		_exit(5);
	_exit(WEXITSTATUS(status));
}

static void sealing_fails_closed(void **state)
{
	(void)state;
	assert_int_equal(
	        run_probe("noexec_probe", "vm.memfd_noexec cannot be set here"),
	        0);
}

int main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(child_named_after_function),
	        cmocka_unit_test(copy_spawns),
	        cmocka_unit_test(binary_deleted),
	        cmocka_unit_test(binary_replaced),
	        cmocka_unit_test(started_by_loader),
	        cmocka_unit_test(proc_unmounted),
	        cmocka_unit_test(chroot_after_init),
	        cmocka_unit_test(sealed_child_off_disk),
	        cmocka_unit_test(sealing_fails_closed),
	};
	const char *scenario;

	reexec_register("print_comm", print_comm);
	reexec_register("noproc_probe", noproc_probe);
	reexec_register("exe_report", exe_report);
	reexec_register("noexec_probe", noexec_probe);
	reexec_register("a_function_with_a_long_name", print_comm);
	helpers_init(argc, argv);
	scenario = getenv("SELF_SCENARIO");
	if (scenario)
		return run_scenario(scenario, getenv("SELF_COPY"));
	return cmocka_run_group_tests_name("self", tests, NULL, NULL);
}
