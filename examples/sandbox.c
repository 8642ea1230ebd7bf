/*
 * sandbox - the classic container-tool use of re-execution: the child runs
 * as root of new user, mount, pid and net namespaces (its uid and gid
 * mapped to the caller's, so any user can run this), with a memory limit
 * where a cgroup can be made for it, mounts a private /tmp and writes
 * there; the host never sees that file. The library makes the namespaces,
 * has the parent write the maps and join the cgroup while the child
 * waits, and reports any step that fails from reexec_start().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reexec.h>

#define SECRET "/tmp/reexec-sandbox-secret"

static int sandboxed(int argc, char *argv[])
{
	int fd;

	(void)argc;
	(void)argv;
	if (mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") < 0) {
		perror("sandbox: mount /tmp");
		return 1;
	}
	printf("sandbox: uid %d, pid %d, private /tmp\n", (int)getuid(),
	       (int)getpid());
	fd = open(SECRET, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("sandbox: " SECRET);
		return 1;
	}
	close(fd);
	printf("sandbox: wrote %s\n", SECRET);
	return 0;
}

/* A cgroup for the child with a 64 MiB memory limit, where the cgroup2
 * hierarchy has a memory controller we may use: its descriptor, or -1. */
static int memory_cgroup(char *dir, size_t size)
{
	char line[1024], mnt[512] = "", path[700];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd;

	while (f && !*mnt && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - cgroup2 ");

		if (dash && sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1)
			*mnt = '\0';
	}
	if (f)
		fclose(f);
	snprintf(dir, size, "%s/reexec-sandbox-%d", mnt, (int)getpid());
	if (!*mnt || mkdir(dir, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "64M", 3) != 3) {
		if (fd >= 0)
			close(fd);
		rmdir(dir);
		return -1;
	}
	close(fd);
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int main(int argc, char *argv[])
{
	reexec_register("sandboxed", sandboxed);
	reexec_init(argc, argv);

	reexec_cmd *cmd = reexec_command("sandboxed", NULL);
	char cgroup[600];
	int status, cg = memory_cgroup(cgroup, sizeof(cgroup)), rc;

	if (!cmd)
		return 1;
	reexec_cmd_set_namespaces(cmd, CLONE_NEWUSER | CLONE_NEWNS |
	                                       CLONE_NEWPID | CLONE_NEWNET);
	reexec_cmd_uid_map(cmd, 0, getuid(), 1);
	reexec_cmd_gid_map(cmd, 0, getgid(), 1);
	if (cg >= 0) {
		reexec_cmd_set_cgroup(cmd, cg);
		printf("host: the sandbox's memory is limited to 64 MiB\n");
	}
	rc = reexec_run(cmd, &status);
	if (rc < 0)
		printf("host: no sandbox here: %s (step %d)\n", strerror(errno),
		       reexec_failed_step(cmd));
	reexec_cmd_free(cmd);
	if (cg >= 0) {
		close(cg);
		rmdir(cgroup);
	}
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		return 1;
	printf("host: %s %s\n", SECRET,
	       access(SECRET, F_OK) == 0 ? "is visible" : "is not visible");
	return 0;
}
