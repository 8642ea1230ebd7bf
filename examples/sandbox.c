/*
 * sandbox - the classic container-tool use of re-execution: the child
 * enters new user and mount namespaces before doing its work (a fresh
 * process is needed, since a threaded process cannot join a new user
 * namespace), mounts a private /tmp and writes there; the host never sees
 * that file. Where namespaces are not allowed, a child started as root
 * drops to an unprivileged user instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reexec.h>

#define SECRET "/tmp/reexec-sandbox-secret"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Become root of a new user namespace with its own mounts. */
static int enter_namespaces(void)
{
	char map[64];
	unsigned uid = getuid(), gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return -1;
	if (write_file("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m");
}

static int sandboxed(int argc, char *argv[])
{
	int fd;

	(void)argc;
	(void)argv;
	if (enter_namespaces() == 0) {
		printf("sandbox: uid %d in new user and mount namespaces, "
		       "private /tmp\n",
		       (int)getuid());
	} else if (getuid() == 0 && setgid(65534) == 0 && setuid(65534) == 0) {
		printf("sandbox: no namespaces here; dropped to uid %d\n",
		       (int)getuid());
		return 0; /* no private /tmp to write to */
	} else {
		printf("sandbox: no namespaces here; running as uid %d\n",
		       (int)getuid());
		return 0;
	}
	fd = open(SECRET, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("sandbox: " SECRET);
		return 1;
	}
	close(fd);
	printf("sandbox: wrote %s\n", SECRET);
	return 0;
}

int main(int argc, char *argv[])
{
	reexec_register("sandboxed", sandboxed);
	reexec_init(argc, argv);

	reexec_cmd *cmd = reexec_command("sandboxed", NULL);
	int status;

	if (!cmd || reexec_run(cmd, &status) < 0) {
		perror("sandbox");
		return 1;
	}
	reexec_cmd_free(cmd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("host: %s %s\n", SECRET,
	       access(SECRET, F_OK) == 0 ? "is visible" : "is not visible");
	return 0;
}
