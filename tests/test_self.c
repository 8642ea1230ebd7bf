/* The self image: how the library finds the binary to re-execute, and the
 * child's name. Scenarios that change the binary run in a copy of this
 * suite, started with SELF_SCENARIO naming what to do; the copy exits 0
 * when the scenario held. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/mman.h>
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

/* The sealed start. A copy of this suite is started with SELF_SCENARIO
 * "sealed": its main calls reexec_init_sealed() and, in the image that
 * returns from it, reports what it sees on stdout, one line each:
 *   exe LINK                 its /proc/self/exe
 *   args N [A0] [A1] ...     argc and its arguments
 *   env [V] [S]              SELF_ENV_PROBE, REEXEC_SEALED ("-": unset)
 *   children I D I D I D     its own exe, that of a plain child, of a
 *                            sealed one: inode and device each
 *   childenv [S]             REEXEC_SEALED as a child sees it
 * then starts a sealed child, parent_exe_attack, and exits when that child
 * is ready, without waiting for it. The child writes the next line, then
 * executes another image (exe_attack_payload), which writes the last:
 *   attack WR RDWR REOPEN WRITE LINK
 *   payload REOPEN WRITE
 * or, when reexec_init_sealed() failed, the only one:
 *   failed ERRNO
 * Every image of the copy that reaches main (not a child) appends one byte
 * to SELF_EXEC_LOG. */

/* Reopen the file held (an O_PATH descriptor) for writing and flip its
 * byte at off; the errno of the open and of the write in reopen and wrote
 * (0: it worked). */
static void flip_held(int held, off_t off, int *reopen, int *wrote)
{
	char again[64];
	unsigned char b;
	int fd;

	*reopen = *wrote = 0;
	snprintf(again, sizeof(again), "/proc/self/fd/%d", held);
	fd = open(again, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		*reopen = errno;
	else if (pread(fd, &b, 1, off) != 1)
		*wrote = errno ? errno : EIO;
	else if (b ^= 0xff, pwrite(fd, &b, 1, off) != 1)
		*wrote = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
}

/* exe_attack_payload HELD (multicall): an image of its own, as the
 * untrusted program a child runs would be, so that no process runs the
 * parent's image any more: flip_held() on the parent's exe. */
static int exe_attack_payload(int argc, char *argv[])
{
	int reopen, wrote;

	if (argc < 2)
		return 5;
	flip_held(atoi(argv[1]), 1, &reopen, &wrote);
	printf("payload %d %d\n", reopen, wrote);
	return 0;
}

/* Execute exe_attack_payload HELD from an unsealed memfd copy of our
 * image; returns only on failure. */
static int exec_payload(int held)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int fd = memfd_create("payload", MFD_CLOEXEC);
	char arg[16], buf[65536], *envp[] = {NULL};
	char *argv[] = {"exe_attack_payload", arg, NULL};
	ssize_t n;

	if (src < 0 || fd < 0)
		return 6;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return 7;
	snprintf(arg, sizeof(arg), "%d", held);
	fexecve(fd, argv, envp);
	return 8;
}

/* parent_exe_attack: what runc's CVE-2019-5736 does, against the parent:
 * open its /proc/<pid>/exe for writing while it runs; hold it with O_PATH,
 * let the parent exit, reopen it for writing and flip a byte; then the
 * same from another image. Reports the errno of each step (0: it
 * worked). */
static int parent_exe_attack(int argc, char *argv[])
{
	char path[64], link[256] = "-";
	int wr, rdwr, reopen, wrote, held, fd, watch;
	struct pollfd p;
	ssize_t n;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)getppid());
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 1] = '\0';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	wr = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	rdwr = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	held = open(path, O_PATH); /* for the payload too */
	watch = reexec_parent_fd();
	if (held < 0 || watch < 0 || reexec_ready() < 0)
		return 3;
	/* The parent exits now; its image is no longer busy then. */
	p.fd = watch;
	p.events = POLLIN;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return 4;
	flip_held(held, 0, &reopen, &wrote);
	printf("attack %d %d %d %d %s\n", wr, rdwr, reopen, wrote, link);
	fflush(stdout);
	return exec_payload(held);
}

/* The exe of a child: "INODE DEV". */
static void print_child_exe(bool sealed)
{
	reexec_cmd *cmd = reexec_command("exe_report", NULL);
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
	unsigned long long ino = 0, dev = 0;
	int status = -1;

	if (cmd && (!sealed || reexec_cmd_seal(cmd) == 0) &&
	    reexec_capture(cmd, &cap, &status) == 0 && status == 0)
		(void)sscanf(cap.out, "%llu %llu", &ino, &dev);
	printf(" %llu %llu", ino, dev);
	free(cap.out);
	reexec_cmd_free(cmd);
}

/* REEXEC_SEALED as a child sees it, "-" when unset. */
static void print_child_env(void)
{
	static const char var[] = "REEXEC_SEALED=";
	reexec_cmd *cmd = reexec_command("print_env", NULL);
	struct reexec_capture cap = {.flags = REEXEC_CAPTURE_STDOUT};
	const char *seen = "-";
	int status = -1;

	if (cmd && reexec_capture(cmd, &cap, &status) == 0 && status == 0)
		for (size_t i = 0; i < cap.out_len;
		     i += strlen(cap.out + i) + 1)
			if (strncmp(cap.out + i, var, sizeof(var) - 1) == 0)
				seen = cap.out + i + sizeof(var) - 1;
	printf("childenv [%s]\n", seen);
	free(cap.out);
	reexec_cmd_free(cmd);
}

static int sealed_report(int argc, char *argv[])
{
	const char *probe = getenv("SELF_ENV_PROBE");
	const char *marker = getenv("REEXEC_SEALED");
	char link[256] = "-";
	ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
	reexec_cmd *cmd;
	struct stat st;

	/* Written at once: where vfork is a fork (ThreadSanitizer), a child
	 * must not take a copy of unwritten output along. */
	setvbuf(stdout, NULL, _IONBF, 0);
	link[n > 0 ? n : 1] = '\0';
	printf("exe %s\nargs %d", link, argc);
	for (int i = 0; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf("\nenv [%s] [%s]\nchildren", probe ? probe : "-",
	       marker ? marker : "-");
	if (stat("/proc/self/exe", &st) < 0)
		return 1;
	printf(" %llu %llu", (unsigned long long)st.st_ino,
	       (unsigned long long)st.st_dev);
	print_child_exe(false);
	print_child_exe(true);
	printf("\n");
	print_child_env();
	fflush(stdout);

	cmd = reexec_command("parent_exe_attack", NULL);
	if (!cmd || reexec_cmd_seal(cmd) < 0 ||
	    reexec_cmd_parent_death(cmd, 0) < 0 || reexec_start(cmd) < 0 ||
	    reexec_wait_ready(cmd, -1) < 0)
		return 2;
	/* Leave it running, it goes on once we are gone: its command is
	 * not freed (that would stop it), so no leak check at exit. */
	fflush(stdout);
	_exit(0);
}

static int sealed_main(int argc, char *argv[])
{
	const char *log = getenv("SELF_EXEC_LOG");

	if (log && !getenv("REEXEC_CHANNEL")) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd < 0 || write(fd, "x", 1) != 1)
			return 98;
		close(fd);
	}
	helpers_register();
	if (reexec_init_sealed(argc, argv) < 0) {
		printf("failed %d\n", errno);
		return 0;
	}
	helpers_started();
	return sealed_report(argc, argv);
}

struct sealed_run {
	char out[8192];         /* the copy's stdout, and its children's */
	char args[4300];        /* the args line it should print */
	char log[16];           /* SELF_EXEC_LOG */
	uint64_t before, after; /* hashes of the copy on disk */
};

static uint64_t hash_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t h;
	char *data;

	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	data = malloc((size_t)st.st_size);
	assert_non_null(data);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);
	h = fnv1a(data, (size_t)st.st_size);
	free(data);
	return h;
}

/* A sealed memfd copy of the file at path, as a stranger would make it. */
static int outsider_memfd(const char *path)
{
	int src = open(path, O_RDONLY | O_CLOEXEC);
	int fd = memfd_create("outsider", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char buf[65536];
	ssize_t n;

	assert_true(src >= 0 && fd >= 0);
	while ((n = read(src, buf, sizeof(buf))) > 0)
		assert_int_equal(write(fd, buf, (size_t)n), n);
	close(src);
	assert_int_equal(
	        fcntl(fd, F_ADD_SEALS,
	              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
	        0);
	return fd;
}

/* Run exe with argv and envp, its stdout into out (NUL-terminated) until
 * it and every process that took its stdout along are gone; returns its
 * exit code. */
static int spawn_capture(const char *exe, char *argv[], char *envp[], char *out,
                         size_t size)
{
	posix_spawn_file_actions_t fa;
	int p[2], status;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while ((got = read(p[0], out + n, size - 1 - n)) > 0 ||
	       (got < 0 && errno == EINTR))
		n += got > 0 ? (size_t)got : 0;
	out[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Start a copy of this suite with the "sealed" scenario, three arguments
 * and one more variable if extra_env is not NULL, from the copy's file or
 * (outsider) from a sealed memfd made here; collect what it and its
 * children print until the last of them is gone. */
static void run_sealed(const char *extra_env, bool outsider,
                       struct sealed_run *r)
{
	char dir[] = "/tmp/reexec-sealed-XXXXXX";
	char *path = copy_self(dir);
	char e_log[4300], e_copy[4200], exe[4200];
	char e_probe[] = "SELF_ENV_PROBE=a b=c";
	char e_scenario[] = "SELF_SCENARIO=sealed";
	char *args[] = {path, "two words", "", "--x=1", NULL};
	size_t envc = 0;
	int fd = -1;
	char **envp;
	ssize_t got;

	/* Our environment (TEST_FORKSERVER, the sanitizers' options), and
	 * the scenario's. */
	while (environ[envc])
		envc++;
	envp = calloc(envc + 6, sizeof(*envp));
	assert_non_null(envp);
	memcpy(envp, environ, envc * sizeof(*envp));
	snprintf(e_log, sizeof(e_log), "SELF_EXEC_LOG=%s/log", dir);
	snprintf(e_copy, sizeof(e_copy), "SELF_COPY=%s", path);
	envp[envc++] = e_scenario;
	envp[envc++] = e_copy;
	envp[envc++] = e_log;
	envp[envc++] = e_probe;
	envp[envc++] = (char *)extra_env;
	close(open(e_log + strlen("SELF_EXEC_LOG="),
	           O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));

	snprintf(exe, sizeof(exe), "%s", path);
	if (outsider) {
		fd = outsider_memfd(path);
		snprintf(exe, sizeof(exe), "/proc/self/fd/%d", fd);
	}
	snprintf(r->args, sizeof(r->args), "4 [%s] [two words] [] [--x=1]\n",
	         path);
	r->before = hash_file(path);
	assert_int_equal(spawn_capture(exe, args, envp, r->out, sizeof(r->out)),
	                 0);
	if (fd >= 0)
		close(fd);
	r->after = hash_file(path);

	fd = open(e_log + strlen("SELF_EXEC_LOG="), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	got = read(fd, r->log, sizeof(r->log) - 1);
	close(fd);
	r->log[got > 0 ? got : 0] = '\0';
	unlink(e_log + strlen("SELF_EXEC_LOG="));
	unlink(path);
	rmdir(dir);
	free(envp);
}

/* The line of out that starts with key (and a space), or fail. */
static const char *line_of(const char *out, const char *key)
{
	size_t len = strlen(key);

	for (const char *l = out; l && *l;
	     l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (strncmp(l, key, len) == 0 && l[len] == ' ')
			return l + len + 1;
	fail_msg("no \"%s\" line in:\n%s", key, out);
	return NULL;
}

/* The checks common to every sealed start: where the program and its
 * children run from, arguments and environment intact, and the attack on
 * the parent's binary failing with the copy unchanged. */
static void check_sealed_start(const struct sealed_run *r, const char *memfd)
{
	unsigned long long id[6];
	char link[256];
	int wr, rdwr, reopen, wrote;

	assert_int_equal(strncmp(line_of(r->out, "exe"), memfd, strlen(memfd)),
	                 0);
	assert_int_equal(
	        strncmp(line_of(r->out, "args"), r->args, strlen(r->args)), 0);
	assert_int_equal(strncmp(line_of(r->out, "env"), "[a b=c] [-]\n", 12),
	                 0);
	assert_int_equal(sscanf(line_of(r->out, "children"),
	                        "%llu %llu %llu %llu %llu %llu", &id[0], &id[1],
	                        &id[2], &id[3], &id[4], &id[5]),
	                 6);
	/* A plain child and a sealed one run the very image the program
	 * runs. */
	assert_true(id[0] != 0 && id[0] == id[2] && id[1] == id[3] &&
	            id[0] == id[4] && id[1] == id[5]);
	assert_int_equal(strncmp(line_of(r->out, "childenv"), "[-]\n", 4), 0);

	assert_int_equal(sscanf(line_of(r->out, "attack"), "%d %d %d %d %255s",
	                        &wr, &rdwr, &reopen, &wrote, link),
	                 5);
	assert_int_equal(strncmp(link, memfd, strlen(memfd)), 0);
	assert_int_not_equal(wr, 0);
	assert_int_not_equal(rdwr, 0);
	assert_true(reopen != 0 || wrote != 0);
	/* No process runs the parent's image any more: it opens, but it
	 * cannot be written. */
	assert_int_equal(
	        sscanf(line_of(r->out, "payload"), "%d %d", &reopen, &wrote),
	        2);
	assert_true(reopen != 0 || wrote != 0);
	assert_true(r->before == r->after);
}

static void sealed_start_covers_parent(void **state)
{
	struct sealed_run r = {0};

	(void)state;
	run_sealed(NULL, false, &r);
	check_sealed_start(&r, "/memfd:reexec");
	/* The image on disk, then the sealed one: executed once. */
	assert_string_equal(r.log, "xx");
}

static void sealed_start_already_sealed(void **state)
{
	struct sealed_run r = {0};

	(void)state;
	run_sealed(NULL, true, &r);
	/* Started from someone else's sealed memfd: no copy, no exec. */
	check_sealed_start(&r, "/memfd:outsider");
	assert_string_equal(r.log, "x");
}

static void sealed_start_marker_forged(void **state)
{
	struct sealed_run r = {0};
	char want[32];

	(void)state;
	/* The variable alone does not make an image sealed: the start fails,
	 * nothing is executed. */
	run_sealed("REEXEC_SEALED=1", false, &r);
	snprintf(want, sizeof(want), "failed %d\n", ELOOP);
	assert_string_equal(r.out, want);
	assert_string_equal(r.log, "x");
}

/* A setuid-root copy of this suite, run by nobody: the sealed start is
 * refused, the program's privileges being those of the file on disk. */
static void sealed_start_refused_setuid(void **state)
{
	char dir[] = "/tmp/reexec-sealed-suid-XXXXXX", out[256], want[32];
	char euid[] = "SELF_SCENARIO=euid", sealed[] = "SELF_SCENARIO=sealed";
	char *envp[] = {euid, NULL};
	char *argv[] = {"/usr/bin/setpriv",
	                "--reuid=65534",
	                "--regid=65534",
	                "--clear-groups",
	                NULL,
	                NULL};
	const char *skip_reason = NULL;

	(void)state;
	skip_unless_setuid_testable(argv[0]);
	argv[4] = copy_self(dir);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(argv[4], 04755), 0);
	/* The copy really runs as root for nobody (no nosuid mount)... */
	assert_int_equal(spawn_capture(argv[0], argv, envp, out, sizeof(out)),
	                 0);
	if (strcmp(out, "euid 0 uid 65534\n") != 0)
		skip_reason = "the copy does not run setuid here (nosuid?)";
	else {
		/* ...and does not start sealed. */
		envp[0] = sealed;
		assert_int_equal(
		        spawn_capture(argv[0], argv, envp, out, sizeof(out)),
		        0);
		snprintf(want, sizeof(want), "failed %d\n", EPERM);
	}
	unlink(argv[4]);
	rmdir(dir);
	if (skip_reason) {
		print_message("skipped: %s\n", skip_reason);
		skip();
	}
	assert_string_equal(out, want);
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
	        cmocka_unit_test(sealed_start_covers_parent),
	        cmocka_unit_test(sealed_start_already_sealed),
	        cmocka_unit_test(sealed_start_marker_forged),
	        cmocka_unit_test(sealed_start_refused_setuid),
	};
	const char *scenario;

	reexec_register("print_comm", print_comm);
	reexec_register("noproc_probe", noproc_probe);
	reexec_register("exe_report", exe_report);
	reexec_register("noexec_probe", noexec_probe);
	reexec_register("a_function_with_a_long_name", print_comm);
	reexec_register("parent_exe_attack", parent_exe_attack);
	reexec_register_multicall("exe_attack_payload", exe_attack_payload, 0);
	scenario = getenv("SELF_SCENARIO");
	if (scenario && strcmp(scenario, "sealed") == 0)
		return sealed_main(argc, argv);
	if (scenario && strcmp(scenario, "euid") == 0) {
		printf("euid %d uid %d\n", (int)geteuid(), (int)getuid());
		return 0;
	}
	helpers_init(argc, argv);
	if (scenario)
		return run_scenario(scenario, getenv("SELF_COPY"));
	return cmocka_run_group_tests_name("self", tests, NULL, NULL);
}
