/*
 * reexec - run a function of this program in a fresh child process by
 * re-executing the program's own binary.
 *
 * The program registers named functions, calls reexec_init() first thing in
 * main(), and starts a child with reexec_command(name, ...). The child is a
 * new exec of the same binary whose argv[0] is the name; its reexec_init()
 * sees the name, runs the function and exits with its return value. Unlike
 * fork() without exec, this is safe in a multi-threaded program: the child
 * starts from a clean image, not a copy of the parent's locks.
 *
 * Conventions, everywhere in this header:
 *  - Functions returning int return 0 (or a documented non-negative value)
 *    on success and -1 with errno set on failure; functions returning a
 *    pointer return NULL with errno set on failure. Only the errno values
 *    listed are produced by the library itself; where a list ends in "or an
 *    error of posix_spawn(3)", that call's errors pass through unchanged.
 *  - A status is a wait(2) status: inspect it with WIFEXITED(),
 *    WEXITSTATUS(), WIFSIGNALED() and WTERMSIG().
 *  - The library never aborts, exits or prints on its own, except in a
 *    child inside reexec_init(), which exits with the function's value,
 *    or refuses to run it with one line on stderr (see reexec_init()).
 *  - A stream number is STDIN_FILENO, STDOUT_FILENO or STDERR_FILENO.
 *
 * The child and its parent are joined by a private channel (a unix socket
 * pair, one per start): the child proves with it that it was started by
 * this program's reexec_start() before any registered function runs, and
 * the two exchange input, readiness, a result and the function's return
 * value over it. Library variables and descriptors in the child:
 *  - REEXEC_CHANNEL=FD: the child's end of the channel, descriptor FD, the
 *    last of the descriptors the child is given (after the extra ones and
 *    the parent watch). Always set.
 *  - REEXEC_PARENT=FD:SIG:PPID: see reexec_cmd_parent_death().
 *  - REEXEC_CLOSE_FROM=FD: only where posix_spawn cannot close descriptors
 *    (musl), in case the child is spawned by it: the child closes every
 *    descriptor from FD up.
 * reexec_init() removes all three from the environment and makes the
 * channel close-on-exec before the function runs, so neither the function
 * nor anything it starts sees them; a base environment given to a command
 * never passes them on. One more is set only for the program itself:
 *  - REEXEC_SEALED=1: see reexec_init_sealed(), which removes it first
 *    thing.
 *
 * Threads: functions on different commands may be called from any threads
 * at once. On one started command, these may also run at the same time,
 * from any threads: reexec_wait(), reexec_wait_timeout(), reexec_stop(),
 * reexec_signal(), reexec_wait_ready(), reexec_pid(), reexec_rusage() and
 * reexec_take_result(), and reexec_capture() with any of them but
 * itself (the control-thread cancel: one thread waits, another stops).
 * One thread at a time moves the child's data and reaps it; the others
 * wait for it to publish the status, so every waiter and stopper gets the
 * same final status, the child is reaped once, and no signal is sent
 * once it has been (a stop's grace period and SIGKILL happen in the
 * stopping thread, whoever waits). Everything else on one command needs
 * the caller's own locking: the reexec_cmd_* settings (and
 * reexec_cmd_set_stop() against a stop), reexec_start() and
 * reexec_run*() (no call on the command may overlap its start), the
 * pipes (reexec_pipe(), reexec_pipe_close()) against reexec_capture(),
 * and reexec_cmd_free(), which may overlap nothing and must come after
 * every other call on the command has returned.
 */
#ifndef REEXEC_H
#define REEXEC_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(REEXEC_STATIC_BUILD)
#define REEXEC_API __attribute__((visibility("default")))
#else
#define REEXEC_API
#endif

/* A variadic list that must end in a NULL pointer: the compiler warns
 * about a call that forgets it (-Wformat, part of -Wall, in GCC; on by
 * default in Clang). */
#if defined(__GNUC__)
#define REEXEC_SENTINEL __attribute__((sentinel))
#else
#define REEXEC_SENTINEL
#endif

#define REEXEC_VERSION_MAJOR 0
#define REEXEC_VERSION_MINOR 1
#define REEXEC_VERSION_PATCH 0
/* The version as one number, for comparisons: 0x00MMmmpp. */
#define REEXEC_VERSION                                                \
	((REEXEC_VERSION_MAJOR << 16) | (REEXEC_VERSION_MINOR << 8) | \
	 REEXEC_VERSION_PATCH)

/* Longest registered name, in bytes, not counting the terminating NUL. A
 * name is matched against the last path component of argv[0], so it has the
 * length limit of a file name. */
#define REEXEC_NAME_MAX 255

/* A registered function: runs in the child with the child's argc and argv
 * (argv[0] is the registered name); its return value is the exit status. */
typedef int (*reexec_fn)(int argc, char *argv[]);

/* A command: what to run and how. Built by reexec_command(), configured by
 * the reexec_cmd_* functions, run by reexec_start() or reexec_run(),
 * released by reexec_cmd_free(). Opaque. */
typedef struct reexec_cmd reexec_cmd;

/**
 * reexec_version - the version of the library linked in, as
 * REEXEC_VERSION encodes it; compare with REEXEC_VERSION, the version of
 * the header compiled against. Thread-safe; no failure.
 */
REEXEC_API unsigned reexec_version(void);

/**
 * reexec_register - make fn reachable in a re-executed child under name.
 *
 * Call it before reexec_init(), from main or a constructor; the child
 * process registers the same names the same way, so both sides agree.
 * The name is copied; fn must stay valid for the life of the program.
 * There is no limit on the number of names other than memory.
 * Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  name is NULL, empty, contains '/', or is longer than
 *           REEXEC_NAME_MAX bytes; or fn is NULL.
 *   EEXIST  name is already registered.
 *   ENOMEM  no memory for the copy.
 */
REEXEC_API int reexec_register(const char *name, reexec_fn fn);

/* Flag for reexec_register_multicall(). */
#define REEXEC_ALLOW_SETUID 0x1

/**
 * reexec_register_multicall - reexec_register(), and make fn reachable by
 * argv[0] alone too, busybox-style: running the program under that name
 * (a symlink, exec -a) runs fn, without a parent's channel.
 *
 * An entry registered with reexec_register() runs only in a child that
 * reexec_start() of this program started; this one runs for anyone who
 * names it, so only register functions here that are fine to run with
 * whatever arguments and environment a user gives. In a setuid or setgid
 * process (AT_SECURE) it is still refused, unless flags has
 * REEXEC_ALLOW_SETUID. Started through reexec_start(), it behaves like
 * any other entry (the channel is checked, input and result work).
 * Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  as for reexec_register(), or flags has an unknown bit.
 *   EEXIST, ENOMEM  as for reexec_register().
 */
REEXEC_API int reexec_register_multicall(const char *name, reexec_fn fn,
                                         int flags);

/* The exit status of a child that reexec_init() refused to run a function
 * in (see there). */
#define REEXEC_EXIT_REFUSED 125

/**
 * reexec_init - run the registered function that argv[0] names, or return.
 *
 * Call it at the top of main(), after the registrations and before anything
 * else (before starting threads, before touching stdio). In a child started
 * by reexec_start() (its environment has REEXEC_CHANNEL), the last path
 * component of argv[0] names the function: it runs with argc and argv as
 * given and the process exits with its return value through exit(3), so
 * atexit handlers run and stdio is flushed; reexec_init() does not return
 * then.
 *
 * Before the function runs, the child checks its channel (REEXEC_CHANNEL):
 * its peer must be this process's parent, running as this process's
 * effective user, as the kernel recorded when the parent made the socket
 * pair. When the check fails, or the channel names a function this binary
 * does not have, or the input does not arrive whole, no function runs and
 * main does not either: the child writes one line to stderr, tells its
 * parent why over the channel when there is a genuine one (reexec_wait()
 * then fails with that errno), and ends with _exit(REEXEC_EXIT_REFUSED),
 * running no exit handlers. A channel variable that is present proves this
 * or is refused, whatever argv[0] says.
 *
 * With no REEXEC_CHANNEL in the environment at all, this is an ordinary
 * start of the program, whatever argv[0] says: a binary whose file has a
 * registered function's name ("./worker" of a program that registers
 * "worker") starts as itself, silently. Only an entry of
 * reexec_register_multicall() runs by name alone then.
 *
 * Otherwise it returns 0 and main goes on. It reads argv[0] only when argc
 * is at least 1 and argv is not NULL, and never reads past argv[argc - 1].
 * Either way it marks the library initialised, which reexec_command()
 * requires. Calling it more than once is harmless. Not meant to be called
 * from several threads at once.
 *
 * Returns 0 when no function was run; it has no failure.
 */
REEXEC_API int reexec_init(int argc, char *argv[]);

/**
 * reexec_init_sealed - reexec_init(), with the program itself run from the
 * sealed copy of its binary (see reexec_seal()), so that no process of the
 * program runs from the file on disk.
 *
 * Call it instead of reexec_init(), in the same place. In a child started
 * by reexec_start() (REEXEC_CHANNEL is set) it is reexec_init(): the child
 * runs the image its parent executed. Otherwise, unless this process
 * already runs from a memfd sealed against writing and resizing (made by
 * this call or by anyone), it copies the binary into a sealed memfd and
 * executes the program again from it, once, with the same argv and
 * environment (plus REEXEC_SEALED=1, which the new image removes before
 * anything else); constructors run again in the new image, nothing of
 * main has run. The new image finds itself sealed and goes on as
 * reexec_init(). The pid, descriptors without close-on-exec, the signal
 * mask and ignored signals carry over, as across any exec.
 *
 * What it protects: from then on this process's /proc/self/exe names the
 * sealed copy, and so does that of every child, sealed or not, fork
 * server and its children included (all are executed from the descriptor
 * reexec_self() pins, which now is the copy; reexec_seal() reuses the
 * running image instead of copying again). No one can open that file for
 * writing while a process runs it (ETXTBSY) nor write to it, ever (EPERM,
 * F_SEAL_WRITE). So a child, or anything it executes, cannot write the
 * program's binary through /proc/<pid>/exe of itself, of its parent or of
 * any other process of the program, neither while they run nor after
 * they have exited (a descriptor opened with O_PATH and reopened later).
 * What it does not protect: the file on disk through its path, for anyone
 * allowed to write it there (the point is children that cannot reach the
 * path: another mount namespace, a chroot); the binary before this call
 * copies it; shared libraries (libc, the dynamic loader, libreexec.so when
 * linked dynamically), which stay mapped from their files (link this
 * library statically to have it in the copy); processes that are not this
 * program's (the shell that started it); a child that may ptrace(2) the
 * program or holds privileges over its files anyway.
 *
 * Costs one exec and one copy of the binary at start, and memory the size
 * of the binary for as long as a process of the program runs (see
 * README). Not meant to be called from several threads at once; call it
 * before starting threads (an exec ends them).
 *
 * Returns 0 (see reexec_init()), or -1 with errno set; nothing was
 * executed, the program still runs from the file on disk, and the library
 * is not initialised (reexec_init() would start it unsealed, the caller's
 * choice):
 *   ELOOP   REEXEC_SEALED was set, yet this image does not run sealed: an
 *           execution from the copy did not give a sealed image (a tool
 *           that runs the program under its control), or the variable was
 *           set by whoever started the program. Executing again would not
 *           end.
 *   EBUSY   reexec_init() already ran in this image, which does not run
 *           sealed: executing again now would end the threads and state
 *           the program has built since.
 *   EPERM   a setuid, setgid or file-capability program (AT_SECURE): its
 *           privileges come with the file on disk, and the copy has
 *           neither its set-user-ID bits nor its capabilities (file
 *           capabilities would be lost in the execution), so a
 *           privileged program is not executed again.
 *   EINVAL  argc is below 1, or argv or argv[0] is NULL: no arguments to
 *           execute the program with.
 *   ENOMEM  no memory for the environment.
 *   or an error of reexec_seal() (ENOSYS where there are no sealed
 *   memfds, EACCES where executable memfds are forbidden), or of
 *   fexecve(3) (E2BIG, ENOMEM, ...).
 */
REEXEC_API int reexec_init_sealed(int argc, char *argv[]);

/**
 * reexec_self - the path the library executes to re-run this program.
 *
 * On Linux this is "/proc/self/exe", which the kernel resolves to the
 * running binary at each spawn, even when its file has since been deleted
 * or renamed. When /proc/self/exe is another program that loaded ours (the
 * dynamic loader run by hand, "ld.so ./prog", or a tool like valgrind), it
 * is instead the path of the file our program was loaded from. FreeBSD
 * asks sysctl(KERN_PROC_PATHNAME), macOS _NSGetExecutablePath(). The
 * choice is made once, in reexec_init() (or at the first call, as in a
 * child), and on Linux the binary is then also held open (one
 * close-on-exec O_PATH descriptor for the life of the process), and
 * children are executed from that descriptor: they start even when the
 * path no longer leads to the binary (a chroot, /proc unmounted). Only
 * when it could not be opened is the path executed. The string is static;
 * do not free it.
 * Thread-safe.
 *
 * Returns the path, or NULL with errno set:
 *   ENOSYS  this platform has no known way to find the running binary.
 */
REEXEC_API const char *reexec_self(void);

/**
 * reexec_command - build a command that runs the function registered as
 * name, with the given extra arguments.
 *
 * The variable arguments are C strings, terminated by a NULL pointer
 * (GCC and Clang warn about a call without it). The
 * child's argv is exactly name followed by the arguments, byte for byte.
 * Everything is copied. Nothing is started: configure the command with the
 * reexec_cmd_* functions, then call reexec_start() or reexec_run(). By
 * default the child inherits the environment, working directory and stdin,
 * stdout and stderr of the caller, and no other file descriptor. Release
 * the command with reexec_cmd_free(). Thread-safe.
 *
 * Returns a new command, or NULL with errno set:
 *   EINVAL  name is NULL.
 *   ENOENT  name is not registered in this program.
 *   EPERM   reexec_init() has not run in this process; a child would run
 *           main() again instead of the function.
 *   ENOMEM  out of memory.
 */
REEXEC_API reexec_cmd *reexec_command(const char *name, ...) REEXEC_SENTINEL;

/**
 * reexec_commandv - reexec_command() with the extra arguments in an array.
 *
 * args is a NULL-terminated array of C strings; NULL means no arguments.
 * Errors as for reexec_command().
 */
REEXEC_API reexec_cmd *reexec_commandv(const char *name, char *const args[]);

/**
 * reexec_cmd_free - release a command and everything it owns.
 *
 * Closes the parent's ends of the command's pipes and its pidfd. When the
 * child was started and has not been waited for, it is killed with SIGKILL
 * (the child only, not its group) and reaped, so no zombie is left
 * behind: wait for a child before freeing its command if it should finish
 * its work. This may block for the moment the kernel takes to end the
 * child. When the kernel refuses the signal (EPERM: the caller changed
 * its credentials since the start, or the child its own), the child is
 * not waited for, which could be forever: everything of the command's is
 * released all the same and the child runs on, no longer tracked; once it
 * ends it stays a zombie of the caller's process until that process
 * reaps it (waitpid() on reexec_pid(), before the free) or ends. NULL is
 * ignored. Not thread-safe for the same command.
 */
REEXEC_API void reexec_cmd_free(reexec_cmd *cmd);

/**
 * reexec_cmd_setenv - set an environment variable for the child.
 *
 * The change applies on top of the base environment: the caller's environ
 * at the time of reexec_start(), or the one given to reexec_cmd_set_environ().
 * A later setenv or unsetenv of the same name replaces this one. Both
 * strings are copied.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd, name or value is NULL, or name is empty or contains '='.
 *   EBUSY   the command has already been started.
 *   ENOMEM  out of memory.
 */
REEXEC_API int reexec_cmd_setenv(reexec_cmd *cmd, const char *name,
                                 const char *value);

/**
 * reexec_cmd_unsetenv - remove an environment variable from the child's
 * environment. Otherwise as reexec_cmd_setenv(); removing a variable that
 * is not there is not an error.
 */
REEXEC_API int reexec_cmd_unsetenv(reexec_cmd *cmd, const char *name);

/**
 * reexec_cmd_set_environ - replace the whole base environment of the child.
 *
 * envp is a NULL-terminated array of "NAME=value" strings; an array holding
 * only NULL gives an empty environment. The array and the strings are
 * copied. Changes made with reexec_cmd_setenv() and reexec_cmd_unsetenv()
 * still apply on top of it, whether made before or after this call.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd or envp is NULL.
 *   EBUSY   the command has already been started.
 *   ENOMEM  out of memory.
 */
REEXEC_API int reexec_cmd_set_environ(reexec_cmd *cmd, char *const envp[]);

/**
 * reexec_cmd_set_dir - run the child in directory dir.
 *
 * The child changes to dir before its image is executed; when that fails,
 * reexec_start() fails with the error of chdir(2) (ENOENT, ENOTDIR,
 * EACCES, ...). A relative dir is taken from the caller's working
 * directory. NULL restores the default (inherit). The string is copied.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or dir is empty.
 *   EBUSY   the command has already been started.
 *   ENOMEM  out of memory.
 */
REEXEC_API int reexec_cmd_set_dir(reexec_cmd *cmd, const char *dir);

/**
 * reexec_cmd_stdio_inherit - the child's stream shares the caller's (the
 * default). See reexec_cmd_stdio_fd() for the errors.
 */
REEXEC_API int reexec_cmd_stdio_inherit(reexec_cmd *cmd, int stream);

/**
 * reexec_cmd_stdio_null - connect the child's stream to /dev/null.
 * See reexec_cmd_stdio_fd() for the errors.
 */
REEXEC_API int reexec_cmd_stdio_null(reexec_cmd *cmd, int stream);

/**
 * reexec_cmd_stdio_pipe - connect the child's stream to a new pipe.
 *
 * reexec_start() creates the pipe; the caller's end is then available from
 * reexec_pipe(). See reexec_cmd_stdio_fd() for the errors.
 */
REEXEC_API int reexec_cmd_stdio_pipe(reexec_cmd *cmd, int stream);

/**
 * reexec_cmd_stdio_fd - make the caller's file descriptor fd the child's
 * stream.
 *
 * The descriptor is not copied now: it stays the caller's, and must be open
 * when reexec_start() runs; reexec_start() gives the child its own copy, so
 * the caller may close fd afterwards. Any fd works, including 0, 1 and 2
 * in any arrangement (stdout and stderr swapped, say).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or stream is not 0, 1 or 2.
 *   EBADF   fd is negative.
 *   EBUSY   the command has already been started.
 */
REEXEC_API int reexec_cmd_stdio_fd(reexec_cmd *cmd, int stream, int fd);

/**
 * reexec_cmd_stdio_file - connect the child's stream to the file at path,
 * opened by reexec_start() with open(path, flags, mode).
 *
 * flags are open(2) flags of the caller's choice (for example O_RDONLY for
 * stdin, O_WRONLY | O_CREAT | O_APPEND for output); O_CLOEXEC is added.
 * The file is opened by the caller's process, so a relative path is taken
 * from the caller's working directory and a failure to open is an error of
 * reexec_start(). The path is copied.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd or path is NULL, path is empty, or stream is not 0, 1 or 2.
 *   EBUSY   the command has already been started.
 *   ENOMEM  out of memory.
 */
REEXEC_API int reexec_cmd_stdio_file(reexec_cmd *cmd, int stream,
                                     const char *path, int flags, mode_t mode);

/**
 * reexec_pipe - the caller's end of a stream set up with
 * reexec_cmd_stdio_pipe(), once the command has started.
 *
 * The write end for stdin, the read end for stdout and stderr. The
 * descriptor is close-on-exec and belongs to the command: close it with
 * reexec_pipe_close() (to give the child end-of-file on stdin, say), not
 * close(2); reexec_cmd_free() closes it otherwise. Writing to a pipe whose
 * child end is closed raises SIGPIPE in the writer as usual. An event
 * loop watches it beside reexec_fd(), which does not include it, and
 * reads the output as it arrives.
 *
 * Returns the descriptor, or -1 with errno set:
 *   EINVAL  cmd is NULL, or stream is not 0, 1 or 2.
 *   EBADF   the stream is not a pipe, the command has not started, or the
 *           pipe has been closed.
 */
REEXEC_API int reexec_pipe(const reexec_cmd *cmd, int stream);

/**
 * reexec_pipe_close - close the caller's end of a stream's pipe.
 * Errors as for reexec_pipe().
 */
REEXEC_API int reexec_pipe_close(reexec_cmd *cmd, int stream);

/**
 * reexec_cmd_add_fd - hand the caller's descriptor fd to the child as its
 * next extra descriptor: the first call gives the child fd 3, the next 4,
 * and so on (Go's ExtraFiles).
 *
 * As with reexec_cmd_stdio_fd(), fd stays the caller's and must be open
 * when reexec_start() runs; the child gets its own copy without
 * close-on-exec. Any arrangement works, fd 3 handed on as 4 and 4 as 3
 * included.
 *
 * Returns the descriptor number the child will see, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   EBADF   fd is negative.
 *   EBUSY   the command has already been started.
 *   EMFILE  the child would need a descriptor beyond INT_MAX.
 *   ENOMEM  out of memory.
 */
REEXEC_API int reexec_cmd_add_fd(reexec_cmd *cmd, int fd);

/**
 * reexec_cmd_setpgid - put the child in process group pgid: 0 makes a new
 * group led by the child, whose id is then its pid; a positive pgid joins
 * that existing group (whose leader must be in the caller's session, or
 * reexec_start() fails with EPERM). Cancels reexec_cmd_setsid().
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or pgid is negative.
 *   EBUSY   the command has already been started.
 */
REEXEC_API int reexec_cmd_setpgid(reexec_cmd *cmd, pid_t pgid);

/**
 * reexec_cmd_setsid - start the child in a new session (and so a new
 * process group), with no controlling terminal. Cancels reexec_cmd_setpgid().
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   EBUSY   the command has already been started.
 */
REEXEC_API int reexec_cmd_setsid(reexec_cmd *cmd);

/**
 * reexec_cmd_parent_death - tie the child to this process's life.
 *
 * The child gets a descriptor, reexec_parent_fd(), that becomes readable
 * (end-of-file) when this process has ended, however it ended; and when
 * sig is not 0, the child is also sent sig then (SIGKILL, say).
 *
 * It is the process that counts, not the thread that called
 * reexec_start(): such a child survives the end of the thread that
 * started it. (The library starts it from a thread of its own that lives
 * as long as the child, see below; plain PR_SET_PDEATHSIG would fire when
 * the starting thread exits.) A parent that dies while the child is still
 * starting up is caught too: reexec_init() checks the parent before the
 * function runs, and sends the child sig at once when it is gone.
 * The signal needs Linux; the descriptor works everywhere. A program that
 * forks without exec keeps the watch open in the fork, delaying the
 * end-of-file until the fork has ended too.
 *
 * With a signal, the child is spawned from a thread of the library's own
 * (all signals blocked), started with the first such child and ended
 * (joined) when the last of them, and the fork server, which is started
 * this way, have been reaped: when the wait, stop or free that reaps the
 * last returns, the process has its own threads only again, as
 * unshare(CLONE_NEWUSER) requires. The watch pipe (two close-on-exec
 * descriptors) stays open from the first command with this call on.
 *
 * The child finds, until reexec_init() consumes it, the environment
 * variable REEXEC_PARENT; the descriptor is the one after the extra
 * descriptors (3 + the number of reexec_cmd_add_fd() calls).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or sig is negative or not below NSIG.
 *   EBUSY   the command has already been started.
 *   ENOSYS  sig is not 0 on a system without PR_SET_PDEATHSIG.
 */
REEXEC_API int reexec_cmd_parent_death(reexec_cmd *cmd, int sig);

/**
 * reexec_parent_fd - in a child started with reexec_cmd_parent_death(),
 * a descriptor that polls readable (and reads end-of-file) once the parent
 * process has ended. It is close-on-exec; do not read data from it or
 * close it. Thread-safe.
 *
 * Returns the descriptor, or -1 with errno set:
 *   ENOENT  this process was not started with reexec_cmd_parent_death().
 */
REEXEC_API int reexec_parent_fd(void);

/**
 * reexec_seal - make the sealed copy of this program's binary, once per
 * process, for reexec_cmd_seal().
 *
 * Copies the binary into a memfd and seals it against any change. A child
 * run from the copy sees it as its /proc/self/exe, so neither the child
 * nor anything it executes can write through that link into the binary on
 * disk. It still can through /proc/<parent>/exe while the program itself
 * runs from the disk file: reexec_init_sealed() closes that too (and
 * there this copies nothing, the running image serves). Costs memory the
 * size of the binary, and the copy's time once (see README). Later calls
 * return at once. Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   ENOSYS  no sealed memfds here (not Linux, or a kernel before 3.17).
 *   EACCES  the system forbids executable memfds (vm.memfd_noexec).
 *   EMFILE, ENFILE, ENOMEM  out of descriptors or memory.
 *   or an error of opening or reading the binary.
 */
REEXEC_API int reexec_seal(void);

/**
 * reexec_cmd_seal - run this command's child from the sealed copy (see
 * reexec_seal(), which this calls). There is no fall back: if the copy
 * cannot be made, this fails, and the command is not changed. This covers
 * the child's own /proc/self/exe; its parent's only when the program
 * started with reexec_init_sealed() (which makes every child run sealed).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   EBUSY   the command has already been started.
 *   or an error of reexec_seal().
 */
REEXEC_API int reexec_cmd_seal(reexec_cmd *cmd);

/**
 * reexec_start - start the child.
 *
 * Executes our own binary: on Linux from the descriptor that pins it
 * (vfork(2) + execveat(2), see reexec_self()), elsewhere, or where that
 * cannot be done, reexec_self() with posix_spawn(3). The calling thread
 * is suspended until the child has executed (or failed to); other threads
 * run on. The child starts with an empty
 * signal mask, every signal at its default disposition, and no file
 * descriptor of the caller's other than 0, 1, 2 (as configured) and those
 * given with reexec_cmd_add_fd(), even while other threads open descriptors
 * without O_CLOEXEC. Every descriptor the library creates is close-on-exec.
 * A failure to set up or execute the child is reported here, synchronously,
 * and leaves no process behind. Does not block beyond the spawn itself.
 * A command is started at most once; a start that fails leaves it as it
 * was (settings and input included), to be changed and started again.
 * With isolation attributes (reexec_cmd_set_user() and the others, below)
 * it returns only once the child has applied them, and fails with the
 * errno of the step that failed (see reexec_failed_step()).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   EBUSY   the command has already been started.
 *   EBADF   a descriptor given with reexec_cmd_stdio_fd() or
 *           reexec_cmd_add_fd() is not open.
 *   EMFILE, ENFILE  out of file descriptors for the pipes and copies.
 *   ENOMEM  out of memory.
 *   ENOSYS  a working directory was set on a platform that cannot set it
 *           for a spawned child.
 *   or an error of execve(2) or posix_spawn(3), open(2) (for
 *   reexec_cmd_stdio_file()) and chdir(2) (for reexec_cmd_set_dir()),
 *   among them:
 *   EAGAIN  the process limit (RLIMIT_NPROC) is reached.
 *   E2BIG   the arguments and environment are too large.
 *   ENOENT, EACCES, ENOEXEC  the binary or the directory cannot be used.
 *   and the errors of the isolation attributes (see each).
 */
REEXEC_API int reexec_start(reexec_cmd *cmd);

/**
 * reexec_wait - wait for the started child to end and reap it.
 *
 * Blocks until the child exits or is killed, then stores its wait status
 * in *status (when status is not NULL). Signals that interrupt the wait
 * are absorbed: it goes on waiting. After the first successful wait, later
 * calls return the same status at once. Other threads may wait for,
 * stop or signal the same command meanwhile (see Threads at the top):
 * each wait returns the same status, as soon as the child is reaped,
 * whichever thread reaped it.
 *
 * On Linux 5.3 and later the child is tracked through a pidfd, so that no
 * wait or signal can reach another process that reused its pid. Elsewhere
 * the pid is used, which is exact as long as nothing else in the program
 * reaps children. A program that sets SIGCHLD to SIG_IGN, or reaps with
 * waitpid(-1, ...), takes the status away from the library: the wait then
 * ends as soon as the child has ended and fails with ECHILD; it never
 * hangs. The library installs no SIGCHLD handler and never waits for any
 * process but its own children.
 *
 * The function's return value also travels over the channel; when the
 * status was taken away, the wait succeeds with that value as an exit
 * status (W_EXITCODE(value, 0)). Only a child that ended without
 * returning from its function (killed, or calling exit itself) leaves
 * nothing to report.
 *
 * While it waits, it sends the child the rest of its input
 * (reexec_cmd_set_input()) and takes in what the child sends, until the
 * child has ended, not just until its function has returned: what the
 * child sends from its exit handlers or other threads after that (a
 * result, say) is taken in by the same rules as before, so a child can
 * never block in a send while its parent waits. What arrives after the
 * child has ended (from a process it left behind with the channel) is
 * not read: the channel is closed, and such a sender gets EPIPE.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   ECHILD  the command was never started, or its child was reaped by
 *           someone else (see above) and did not report its status.
 * and for a child that ended on its own but could not run its function,
 * with its status (exit status REEXEC_EXIT_REFUSED, usually) stored in
 * *status all the same:
 *   EACCES  the child refused: its channel did not lead to us.
 *   ENOENT  the child's binary has no function of that name.
 *   EPROTO  the channel carried something malformed: the input did not
 *           reach the child whole, or its result stream was truncated or
 *           not made of frames (an empty message is malformed too; what
 *           follows a malformed frame is read and dropped).
 *   EMSGSIZE, ENOMEM  the input was too large for the child's memory.
 *   ENOEXEC  the child exited before its function started, saying nothing:
 *           the dynamic loader could not start it (status 127, under a
 *           low RLIMIT_AS, say), or the program ended before
 *           reexec_init() ran. (A function that starts and then exits
 *           with any status, 127 included, is no error.)
 */
REEXEC_API int reexec_wait(reexec_cmd *cmd, int *status);

/**
 * reexec_wait_timeout - reexec_wait(), giving up after timeout_ms
 * milliseconds.
 *
 * 0 polls; a negative timeout waits forever. The time is measured on the
 * monotonic clock, and signals do not cut it short. A timeout leaves the
 * child running and the command waitable again. While another thread
 * waits for the same command, this one waits for that one to publish the
 * status, until its own timeout (a poll then fails with ETIMEDOUT at
 * once, moving nothing: the other thread moves the data).
 *
 * The timeout holds however much input or result is moving: the wait
 * moves data in bounded steps (a frame of at most 64 KiB each way) and
 * looks at the clock between them.
 *
 * A timeout of 0 is a step that never blocks, for an event loop that
 * calls it when reexec_fd() is readable: it moves what is ready now (input
 * out, readiness, result and return value in) and returns 0 with the
 * status once the child has ended (what the child sent before it ended is
 * all taken in first: at most what the channel buffers), else fails with
 * ETIMEDOUT at once. Steps in a loop move a large input or result along a
 * piece at a time. When nothing is ready a step allocates nothing and
 * makes one system call, poll(2); where there are no pidfds, also a
 * waitid(2) that looks at the child, and a read of reexec_fd()'s timer.
 *
 * Returns 0, or -1 with errno set:
 *   ETIMEDOUT  the child was still running when the time was up.
 *   or an error of reexec_wait().
 */
REEXEC_API int reexec_wait_timeout(reexec_cmd *cmd, int timeout_ms,
                                   int *status);

/**
 * reexec_run - reexec_start() then reexec_wait(): run the child to its end.
 * Blocks. Errors as for those two functions.
 */
REEXEC_API int reexec_run(reexec_cmd *cmd, int *status);

/**
 * reexec_run_timeout - reexec_run() with a deadline: when the child is
 * still running after timeout_ms milliseconds (negative: no deadline), it
 * is stopped as reexec_stop() does, with the signal and grace period of
 * reexec_cmd_set_stop(), and the call fails with ETIMEDOUT. Either way
 * *status (when not NULL) receives the child's final status.
 *
 * Returns 0, or -1 with errno set:
 *   ETIMEDOUT  the deadline passed and the child was stopped; *status
 *              tells how it ended.
 *   EPERM   the deadline passed and the child could not be stopped (see
 *           reexec_stop()); it runs on.
 *   or an error of reexec_start() or reexec_wait().
 */
REEXEC_API int reexec_run_timeout(reexec_cmd *cmd, int timeout_ms, int *status);

/**
 * reexec_signal - send signal sig to the started child.
 *
 * Goes through the child's pidfd where there is one, so it can never reach
 * a process that reused the child's pid. sig 0 checks that the child
 * exists, as kill(2) does. An exited child that has not been waited for
 * yet can still be signalled (to no effect). May be called while other
 * threads wait for or stop the command: the signal and their reap
 * exclude each other, so it goes out only while the child is unreaped
 * and fails with ESRCH once it has been reaped.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or sig is not a valid signal.
 *   ESRCH   the child was never started or has been reaped.
 *   EPERM   not allowed to signal the child (it changed its user ids).
 */
REEXEC_API int reexec_signal(reexec_cmd *cmd, int sig);

/**
 * reexec_cmd_set_stop - how reexec_stop(), reexec_run_timeout() and a
 * capture deadline stop the child: first signal sig (0: SIGTERM, the
 * default), then, after grace_ms milliseconds (default 5000) without the
 * child ending, SIGKILL. May be called before or after the start.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, sig is negative or not below NSIG, or grace_ms
 *           is negative.
 */
REEXEC_API int reexec_cmd_set_stop(reexec_cmd *cmd, int sig, int grace_ms);

/**
 * reexec_stop - stop the child politely, then for sure, and reap it.
 *
 * Sends the stop signal (reexec_cmd_set_stop(); SIGTERM by default), waits
 * up to grace_ms milliseconds for the child to end (negative: the grace
 * period of reexec_cmd_set_stop()), then sends SIGKILL, and waits. When
 * the child was started in its own process group (reexec_cmd_setpgid(cmd,
 * 0)) or session, both signals go to that whole group, grandchildren
 * included, and once the child has ended whatever is left of the group is
 * killed with SIGKILL at once. The group is signalled only while the child
 * is unreaped, so its id cannot belong to anyone else yet. Blocks for at
 * most the grace period plus the moment SIGKILL takes. Stopping a child
 * that has already been reaped returns its status.
 *
 * The control-thread cancel: while another thread waits for the command
 * (reexec_wait(), reexec_wait_timeout(), reexec_capture(), or another
 * stop), this thread sends the signals, its grace period and SIGKILL
 * included, and the waiting thread, which moves the data, reaps the
 * child; both get the same final status. Stops may race stops: each
 * sends its signals while the child is unreaped and returns that status.
 *
 * Returns 0 with the final wait status in *status (when not NULL), which
 * says how the child ended (WTERMSIG() is SIGKILL when it had to be
 * killed), or -1 with errno set:
 *   EPERM  the kernel refused SIGKILL: the caller may no longer signal the
 *          child (it changed its credentials since the start, or the
 *          child its own). The child runs on and the command stays as it
 *          was: it can be waited for, or freed. No grace period is waited
 *          out when the first signal is refused already.
 *   or an error of reexec_wait().
 */
REEXEC_API int reexec_stop(reexec_cmd *cmd, int grace_ms, int *status);

/**
 * reexec_pid - the child's process id, or -1 (with errno EINVAL when cmd is
 * NULL, ECHILD when it was never started). The id stays valid after the
 * child is reaped, but then names no process of ours.
 */
REEXEC_API pid_t reexec_pid(const reexec_cmd *cmd);

struct rusage;

/**
 * reexec_rusage - the resources the child used, once it has been reaped
 * (by reexec_wait(), reexec_stop() and the like): user and system CPU
 * time, maximum resident set size (ru_maxrss, in KiB), page faults,
 * block operations and context switches, as wait4(2) reports them, the
 * children it waited for included. Fields Linux does not keep are 0.
 * The same for a child of the exec path and of the fork server (whose
 * server reaps it and sends the figures with its status). Does not block.
 *
 * ru_maxrss is the child's own: the kernel folds the peak of the parent
 * (this process) into that of a child started by vfork and exec, as
 * posix_spawn(3) and the exec path start it, so the child measures its
 * own peak (VmHWM, or what its children used if more) when its function
 * returns and sends it with the function's value; that figure replaces
 * the kernel's. A child that never returned from its function (killed,
 * or ending with exit(3) or _exit(2) inside it, or refusing to run it)
 * sends none and gets the kernel's, which for an exec-path child is at
 * least this process's peak when it started it. A fork-server child's
 * figure is the kernel's, which includes no one's peak (its image is a
 * fork of the small server). Memory used by exit handlers after the
 * function returned is not in the child's own figure.
 *
 * Returns 0 with *usage filled in, or -1 with errno set:
 *   EINVAL  cmd or usage is NULL.
 *   ECHILD  the child has not been reaped yet (or never started), or it
 *           was reaped by someone else (see reexec_wait()) or its fork
 *           server died first, so its figures are lost.
 */
REEXEC_API int reexec_rusage(const reexec_cmd *cmd, struct rusage *usage);

/* Which streams reexec_capture() collects. */
#define REEXEC_CAPTURE_STDOUT 0x1 /* stdout into out */
#define REEXEC_CAPTURE_STDERR 0x2 /* stderr into err */
#define REEXEC_CAPTURE_MERGE 0x4  /* stderr into out too, as one stream */

/* What reexec_capture() feeds and collects. Zero it, then fill the inputs. */
struct reexec_capture {
	int flags;         /* in: REEXEC_CAPTURE_* */
	int timeout_ms;    /* in: > 0: a deadline for the whole run, after which
	                      the child is stopped (see reexec_run_timeout());
	                      0: none */
	const void *input; /* in: bytes for stdin, or NULL to leave stdin as
	                      configured; stdin then reaches end-of-file */
	size_t input_len;  /* in: how many bytes input holds */
	char *out;         /* out: stdout (and stderr with MERGE), or NULL */
	size_t out_len;    /* out: bytes in out, not counting a NUL the
	                      library adds after them */
	char *err;         /* out: stderr, or NULL */
	size_t err_len;    /* out: bytes in err */
};

/**
 * reexec_capture - run the child to its end, feeding it cap->input and
 * collecting its output into buffers.
 *
 * Starts the command with pipes on the streams cap->flags names (replacing
 * their configured setting), then at once writes the input and reads the
 * outputs until the child closes them, so neither side can block the other
 * whatever the sizes; then waits for the child. The input is not copied.
 * With no input, stdin stays as configured, except that a stdin pipe from
 * reexec_cmd_stdio_pipe() is closed at once (nothing could write to it).
 * Collection ends when the child exits: what its output pipes hold then is
 * taken, and a process that inherited them and lives on (a daemon the
 * child started, say) is not waited for; what it writes later is lost.
 * (Where the kernel has no pidfds, the child is looked at between polls
 * of at most 50 ms, so the end can come that much later.)
 * A child that stops reading early does not make the caller receive
 * SIGPIPE: the rest of the input is dropped. On success cap->out and
 * cap->err are malloc(3)ed, NUL-terminated buffers (or NULL when not
 * captured) that the caller frees with free(3). On failure both are NULL,
 * except after a deadline (ETIMEDOUT): then they hold what arrived until
 * the child was stopped, and *status says how it ended. Blocks.
 *
 * Returns 0 with the child's status in *status (when not NULL), or -1 with
 * errno set:
 *   EINVAL  cmd or cap is NULL, cap->flags holds an unknown bit or MERGE
 *           with STDERR, or cap->timeout_ms is negative.
 *   ETIMEDOUT  the deadline passed; the child was stopped (see above).
 *   EPERM   the deadline passed and the child could not be stopped (see
 *           reexec_stop()); it runs on, and the command can still be
 *           waited for.
 *   ENOMEM  out of memory for the output.
 *   or an error of reexec_start() or reexec_wait().
 */
REEXEC_API int reexec_capture(reexec_cmd *cmd, struct reexec_capture *cap,
                              int *status);

/* The channel: input, readiness, result. */

/* The largest input or result, in bytes: 1 GiB. */
#define REEXEC_DATA_MAX ((size_t)1 << 30)

/**
 * reexec_cmd_set_input - give the child len bytes at data, which it reads
 * with reexec_input().
 *
 * The child's reexec_init() reads the input whole before the function
 * runs. The bytes are not copied: keep them unchanged until the command
 * has been waited for or freed. What the channel's buffer takes (some
 * hundreds of KiB) is sent by reexec_start(); the rest while the caller
 * waits in reexec_wait*(), reexec_wait_ready(), reexec_stop() or
 * reexec_capture(). A larger input therefore needs one of those calls
 * before the child can get going. Without this call the input is empty.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or data is NULL while len is not 0.
 *   EBUSY   the command has already been started.
 *   EMSGSIZE  len is larger than REEXEC_DATA_MAX.
 */
REEXEC_API int reexec_cmd_set_input(reexec_cmd *cmd, const void *data,
                                    size_t len);

/**
 * reexec_wait_ready - wait until the child calls reexec_ready(), for at
 * most timeout_ms milliseconds (0 polls; negative waits forever).
 *
 * Meanwhile the input is sent and anything else the child reports is
 * taken in. Returns at once if the child has said so already. Signals do
 * not cut the wait short. The child is neither stopped nor reaped; when it
 * has ended without being ready, reexec_wait() gives its status. While
 * another thread waits for the command, that thread moves the data and
 * this one returns as soon as the child is ready (or reaped).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL     cmd is NULL.
 *   ECHILD     the command was never started.
 *   ETIMEDOUT  the time was up first; the child runs on.
 *   ESRCH      the child ended (or closed its channel) without being
 *              ready.
 *   EACCES, ENOENT, EPROTO, EMSGSIZE, ENOMEM  the child could not run
 *              its function, as reexec_wait() describes.
 */
REEXEC_API int reexec_wait_ready(reexec_cmd *cmd, int timeout_ms);

/**
 * reexec_take_result - hand the caller the result the child gave with
 * reexec_set_result(), once the command has been waited for.
 *
 * *data becomes a malloc(3)ed buffer of *len bytes plus a terminating NUL
 * byte that is not counted (so text can be used as a string); the caller
 * frees it. The command keeps no copy: a second call fails with ENODATA.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd, data or len is NULL.
 *   ECHILD  the command was never started.
 *   EBUSY   the child has not been waited for yet.
 *   ENODATA the child gave no result, or not all of it, or it was taken.
 */
REEXEC_API int reexec_take_result(reexec_cmd *cmd, void **data, size_t *len);

/**
 * reexec_call - run the function registered as name with input as its
 * input, and take its result: a command built, run to its end and freed.
 *
 * On success *result is the child's result as reexec_take_result() gives
 * it (the caller frees it), or NULL with *result_len 0 when the child gave
 * none; *status (when not NULL) its wait status. Blocks.
 *
 * Returns 0, or -1 with errno set (and *result NULL):
 *   EINVAL  result or result_len is NULL, or input is NULL with a length.
 *   or an error of reexec_command(), reexec_cmd_set_input() or
 *   reexec_run().
 */
REEXEC_API int reexec_call(const char *name, const void *input,
                           size_t input_len, void **result, size_t *result_len,
                           int *status);

/**
 * reexec_ready - in a child, tell the parent it is ready (its
 * reexec_wait_ready() returns). May be called more than once. Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   ENOTCONN  this process was not started by reexec_start() (or reached
 *             its function through multicall).
 *   EPIPE     the parent closed the channel (it freed the command, or it
 *             ended).
 */
REEXEC_API int reexec_ready(void);

/**
 * reexec_input - in a child, the input its parent gave with
 * reexec_cmd_set_input(): *data points to *len bytes followed by a NUL
 * byte, owned by the library and valid until the process ends; an empty
 * input is a valid pointer to a NUL byte. Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL    data or len is NULL.
 *   ENOTCONN  as for reexec_ready().
 */
REEXEC_API int reexec_input(const void **data, size_t *len);

/**
 * reexec_set_result - in a child, send len bytes at data to the parent as
 * the result, which it receives with reexec_take_result() or
 * reexec_call(). Once per process.
 *
 * Sent at once, in pieces: blocks while the parent is not receiving
 * (it receives while it waits for the child). The data is not kept.
 * Thread-safe.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL    data is NULL while len is not 0.
 *   EMSGSIZE  len is larger than REEXEC_DATA_MAX.
 *   EALREADY  a result was sent already.
 *   ENOTCONN, EPIPE  as for reexec_ready(); after EPIPE part of the result
 *             may have been sent, which the parent does not take.
 */
REEXEC_API int reexec_set_result(const void *data, size_t len);

/* Event loops: many commands driven from one thread. */

/**
 * reexec_fd - a descriptor that an event loop (poll(2), epoll(7),
 * select(2), uv_poll, g_unix_fd_add, sd_event_add_io) watches for
 * readability to learn that the started command needs its caller.
 *
 * It becomes readable when the child has ended, when it sent something
 * over its channel (readiness, a piece of its result, its return value),
 * and when more of its input can be sent; whatever path started the child
 * (exec, sealed, fork server). When it is readable, take a step:
 * reexec_wait_timeout(cmd, 0, &status), which moves what is ready and
 * reaps the child once it has ended (or reexec_wait_any(), which does that
 * for many commands). Reading it, or anything but watching it, is not
 * allowed: it is an epoll(7) set of the library's own descriptors (the
 * child's pidfd, the channel, the fork server's word on the child) that
 * the library keeps right after each step. It is level-triggered: it stays
 * readable until steps have moved all that was ready (a step moves a
 * bounded amount). With edge-triggered watching (EPOLLET), take steps
 * until it is no longer readable (poll(2) with timeout 0 says so). Once
 * the child is reaped it is never readable again: take it out of the loop
 * then.
 *
 * The caller's own pipe ends (reexec_cmd_stdio_pipe()) are not in it,
 * since only the caller reads them: a descriptor that stayed readable until
 * the caller read its pipes would make a loop that is not reading them yet
 * spin. To take output as it arrives, watch reexec_pipe(cmd, 1) (and 2)
 * beside this descriptor and read them when they are readable; they reach
 * end-of-file when the child (and whatever it left holding them) is gone.
 *
 * Where the kernel gives no pidfds (before Linux 5.3, or under valgrind)
 * the child's end shows on no descriptor; the descriptor then also
 * becomes readable every 10 milliseconds while the child runs, so that a
 * loop takes a step that looks.
 *
 * The descriptor is made at the first call (a start costs nothing more
 * when no one asks), is close-on-exec, and belongs to the command: do not
 * close it; it stays valid until reexec_cmd_free(). The first call changes
 * the command: like the waits, it must not run at the same time as another
 * call on the same command.
 *
 * Returns the descriptor, or -1 with errno set:
 *   EINVAL  cmd is NULL.
 *   ECHILD  the command was never started (or its start failed).
 *   EMFILE, ENFILE, ENOMEM  no descriptor, or no memory, for the set.
 *   ENOSYS  not on Linux: there is no such descriptor.
 */
REEXEC_API int reexec_fd(const reexec_cmd *cmd);

/**
 * reexec_wait_any - wait until one of n started commands has ended, moving
 * every command's data meanwhile, and reap it as reexec_wait() does.
 *
 * Waits on the reexec_fd() of every command in cmds that is running (one
 * poll(2) over them all, however many there are) for at most timeout_ms
 * milliseconds (0: one step for each that is ready, then ETIMEDOUT;
 * negative: no limit), and takes a step (see reexec_wait_timeout()) for
 * each command that is ready, until one has ended. That one alone is
 * reaped per call: *index (never NULL) receives its position in cmds and
 * *status (when not NULL) its wait status; commands that ended at the same
 * time are returned by the next calls. Commands that have been reaped
 * already (by an earlier call, or reexec_wait()), were never started, or
 * are NULL (the holes of a caller's table) are skipped, so a loop can call
 * it with the same array again and again. When many are ready at once,
 * successive calls start looking at a different place, so that none is
 * left behind. Signals do not cut the wait short. Allocates two arrays of
 * n entries per call. Thread-safety: as for reexec_wait() on each
 * command.
 *
 * Returns 0 with *index and *status set, or -1 with errno set; *index is
 * then n unless one command ended with an error of its wait:
 *   EINVAL     cmds is NULL while n is not 0, or index is NULL.
 *   ECHILD     none of the commands can be waited for (all NULL, never
 *              started or reaped already).
 *   ETIMEDOUT  none ended in time; they run on.
 *   ENOMEM     no memory for the arrays.
 *   or an error of reexec_fd() for one of them (*index is n), or an error
 *   of reexec_wait() for the command at *index, which has been reaped, its
 *   status stored in *status as reexec_wait() does.
 */
REEXEC_API int reexec_wait_any(reexec_cmd *const cmds[], size_t n,
                               int timeout_ms, size_t *index, int *status);

/* The fork server. */

/* Flag for reexec_forkserver_start(): every command uses the server
 * unless reexec_cmd_forkserver(cmd, 0) says otherwise. */
#define REEXEC_FORKSERVER_ALL 0x1

/**
 * reexec_forkserver_start - start the fork server, unless it runs.
 *
 * The server is one more copy of this program, started once through the
 * ordinary exec path (and checked like any child), single-threaded and
 * small. Commands sent to it (reexec_cmd_forkserver(), or all of them
 * with REEXEC_FORKSERVER_ALL) get their child by a fork of the server
 * instead of an exec, which costs a fraction of it and does not grow with
 * the caller's size (the server keeps two spare children forked ahead,
 * so the fork itself happens between requests); the child is set up
 * exactly as an exec'd one (argv, environment, directory, descriptors,
 * process group, a clean signal mask, the channel) and runs the
 * registered function. It is the
 * server's child, not the caller's: the server reaps it and sends the
 * wait status over a socket of the request's that the child never holds
 * (so no child can report a status of its own making), and the caller
 * tracks it with a pidfd, so waits, timeouts, signals and stops behave as
 * for any command. A host that reaps children itself does not take these.
 * The child takes its caller's state at the moment of the start, as an
 * exec'd child would: the working directory (a relative directory of the
 * command resolves against it), umask, resource limits and the calling
 * thread's nice value are carried with each request; when the caller's
 * identity has changed since the server started (user and group ids,
 * supplementary groups, capabilities, no_new_privs, seccomp, securebits,
 * session or process group, root directory, namespaces), the start
 * replaces the server with one started as the caller is now, so that no
 * child runs with another identity than its caller's (children of the
 * old server run on, their status lost). What stays the server's, as at
 * its start: CPU affinity, scheduling policy, I/O priority,
 * oom_score_adj, timer slack, personality, cgroup and security labels.
 * A start either gives a child that runs the function or fails; when the
 * server dies after the start, the child runs on and its wait fails with
 * ECHILD. A child carries a parent-death signal only when its command
 * asked for one (reexec_cmd_parent_death()); it fires when the server
 * ends, which is with this process or at reexec_forkserver_stop().
 * Sealed commands (reexec_cmd_seal()) and systems without pidfds use the
 * exec path. The server runs with
 * LD_BIND_NOW=1 added to its own environment, so that symbols are bound
 * once there rather than again in every child (its children get the
 * command's environment, without it); a program that can only start with
 * lazy binding (unresolved symbols it never calls) cannot use the
 * server.
 *
 * While it runs, this process holds its socket and pidfd (close-on-exec)
 * and the thread of reexec_cmd_parent_death() (the server is started with
 * a parent-death signal); the server keeps the namespaces, credentials and
 * limits of its start. A program that will unshare(CLONE_NEWUSER), which
 * needs a single thread, or change those, stops the server first.
 *
 * Without this call the server starts on the first command that asks for
 * it. It ends with this process, or with reexec_forkserver_stop(): by a
 * parent-death signal, and, should that not come, as soon as its channel
 * to this process hangs up (this process closed all its descriptors, say)
 * or it finds another parent; a server without its caller forks nothing
 * more. It holds a socket and a signalfd of its own, and its spares hold
 * a copy of the socket; none of them is in this process. When it
 * has died (killed, say), the start that finds out fails with ECONNRESET
 * and the next one starts a new server. Thread-safe: a start holds a lock
 * only while it sends its request; the server's answer comes on the new
 * child's own channel, so starts from many threads are served side by
 * side, one per spare. A start through the server blocks until a spare
 * has taken its request (and, when none is left, until one is forked).
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  flags has an unknown bit.
 *   EPERM   reexec_init() has not run.
 *   ENOSYS  not Linux.
 *   or an error of reexec_start().
 */
REEXEC_API int reexec_forkserver_start(int flags);

/**
 * reexec_forkserver_stop - end the fork server (SIGKILL, reaped) and the
 * REEXEC_FORKSERVER_ALL default. Its spares end with it. Children it
 * started run on, but their status is lost (ECHILD), except those that
 * asked for a parent-death signal: the server is their parent, so they
 * get it now. Thread-safe. The server is hung up on first, so it ends by
 * itself even where the kernel refuses this process's SIGKILL (it changed
 * its credentials since the server started); it is then waited for at
 * most 5 seconds, else as long as SIGKILL takes.
 *
 * Returns 0, or -1 with errno set:
 *   EPERM  the kernel refused SIGKILL and the server did not end by itself
 *          within 5 seconds: it is forgotten all the same (the next start
 *          starts a new one), and the default is off.
 */
REEXEC_API int reexec_forkserver_stop(void);

/**
 * reexec_forkserver_pid - the fork server's process id, or -1 with errno
 * ESRCH when none runs for this process. Thread-safe.
 */
REEXEC_API pid_t reexec_forkserver_pid(void);

/**
 * reexec_cmd_forkserver - on 1: start this command's child through the
 * fork server (started as needed); 0: through exec, whatever the default.
 *
 * Returns 0, or -1 with errno set:
 *   EINVAL  cmd is NULL, or on is neither 0 nor 1.
 *   EBUSY   the command has already been started.
 * reexec_start() of such a command fails, besides its usual errors, with
 *   ECONNRESET  the server had died, or the spare that took the request
 *           (the next start starts a new server).
 *   E2BIG   more than 250 descriptors, or over 64 MiB of arguments and
 *           environment, for one request.
 */
REEXEC_API int reexec_cmd_forkserver(reexec_cmd *cmd, int on);

/* --- Isolation: who the child runs as, and where ----------------------
 *
 * Attributes applied in the child before its function runs, on every
 * path (exec, sealed, fork server), in one order: namespaces; a barrier
 * at which the parent writes the user namespace's maps and puts the child
 * in its cgroup; the cgroup namespace; / made private in a new mount
 * namespace; for a new pid or time namespace, one fork (the function runs
 * as pid 1); session and controlling terminal; oom_score_adj, nice value,
 * resource limits; chroot and chdir; supplementary groups, gid, uid;
 * ambient capabilities; umask; the parent-death signal; no_new_privs
 * (src/isolate.c says why each comes where it does).
 *
 * With any attribute set, reexec_start() returns only once the child has
 * applied them all, or fails with the errno of the step that failed;
 * reexec_failed_step() then names the step. The failed child is reaped
 * and the command left as it was, to be changed and started again. A
 * command without attributes starts as before, with no round trip more.
 *
 * Each setter returns 0, or -1 with errno set; besides the errors listed
 * with each, every one fails with
 *   EINVAL  cmd is NULL;
 *   EBUSY   the command has already been started;
 *   ENOMEM  out of memory.
 * Not thread-safe on the same command. Linux only: elsewhere
 * reexec_start() of a command with attributes fails with ENOSYS.
 */

struct rlimit;

/* The steps reexec_failed_step() names, in the order they are taken. */
enum reexec_step {
	/* No step failed: the start did, or the child's start-up. */
	REEXEC_STEP_NONE = 0,
	REEXEC_STEP_NAMESPACES,   /* unshare(2) */
	REEXEC_STEP_MAPS,         /* uid_map, setgroups, gid_map (the parent) */
	REEXEC_STEP_CGROUP,       /* cgroup.procs (the parent) */
	REEXEC_STEP_MOUNTS,       /* making / private in the mount namespace */
	REEXEC_STEP_PID1,         /* the fork into the new pid namespace */
	REEXEC_STEP_CTTY,         /* setsid(2), TIOCSCTTY */
	REEXEC_STEP_OOM_SCORE,    /* /proc/self/oom_score_adj */
	REEXEC_STEP_NICE,         /* setpriority(2) */
	REEXEC_STEP_RLIMIT,       /* setrlimit(2) */
	REEXEC_STEP_CHROOT,       /* chroot(2) */
	REEXEC_STEP_CHDIR,        /* chdir(2) in the new root */
	REEXEC_STEP_GROUPS,       /* setgroups(2) */
	REEXEC_STEP_GID,          /* setresgid(2) */
	REEXEC_STEP_UID,          /* setresuid(2) */
	REEXEC_STEP_CAPS,         /* capset(2), PR_CAP_AMBIENT */
	REEXEC_STEP_NO_NEW_PRIVS, /* PR_SET_NO_NEW_PRIVS */
};

/**
 * reexec_cmd_set_user - run the child as uid, gid and exactly the
 * supplementary groups given (ngroups of them; none when 0).
 *
 * The child calls setgroups(2), then setresgid(2), then setresuid(2), so
 * that its real, effective and saved ids are all these. In a new user
 * namespace the ids are those inside it; where that namespace denies
 * setgroups (the default, see reexec_cmd_setgroups()), an empty list
 * leaves the groups as the namespace gives them. The list is copied.
 *
 * Errors: EINVAL  uid or gid is -1, groups is NULL with ngroups not 0,
 *                 or ngroups is over 65536 (NGROUPS_MAX).
 * reexec_start() fails with EPERM (REEXEC_STEP_GROUPS, _GID or _UID)
 * when the caller may not make the change, or EINVAL for an id that has
 * no mapping in the child's user namespace.
 */
REEXEC_API int reexec_cmd_set_user(reexec_cmd *cmd, uid_t uid, gid_t gid,
                                   size_t ngroups, const gid_t *groups);

/**
 * reexec_cmd_set_rlimit - set resource limit resource (RLIMIT_*) of the
 * child to *limit, with setrlimit(2). Repeatable: one call per resource,
 * a later one for the same resource replaces it.
 *
 * Errors: EINVAL  resource is not an RLIMIT_* value, limit is NULL, or
 *                 its soft limit is above its hard one.
 * reexec_start() fails with EPERM (REEXEC_STEP_RLIMIT) when the hard
 * limit is raised without CAP_SYS_RESOURCE.
 */
REEXEC_API int reexec_cmd_set_rlimit(reexec_cmd *cmd, int resource,
                                     const struct rlimit *limit);

/**
 * reexec_cmd_set_umask - give the child file mode creation mask mask.
 *
 * Errors: EINVAL  mask has bits outside 0777.
 */
REEXEC_API int reexec_cmd_set_umask(reexec_cmd *cmd, mode_t mask);

/**
 * reexec_cmd_set_chroot - change the child's root directory to dir
 * (relative to the caller's working directory at the start), then its
 * working directory to the command's (reexec_cmd_set_dir(), taken inside
 * the new root), or to "/". The path is copied. The binary was executed
 * before, so the new root need not hold it.
 *
 * Errors: EINVAL  dir is NULL or empty.
 * reexec_start() fails with the errors of chroot(2) (EPERM without
 * CAP_SYS_CHROOT, ENOENT, ENOTDIR; REEXEC_STEP_CHROOT) and chdir(2)
 * (REEXEC_STEP_CHDIR).
 */
REEXEC_API int reexec_cmd_set_chroot(reexec_cmd *cmd, const char *dir);

/**
 * reexec_cmd_no_new_privs - set no_new_privs in the child
 * (PR_SET_NO_NEW_PRIVS), last before its function: neither it nor what it
 * executes can gain privileges by execve(2) (setuid bits and file
 * capabilities are ignored).
 */
REEXEC_API int reexec_cmd_no_new_privs(reexec_cmd *cmd);

/**
 * reexec_cmd_set_namespaces - run the child in new namespaces:
 * clone_flags is any of CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID,
 * CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP and
 * CLONE_NEWTIME (<sched.h>), or 0 for none (the default).
 *
 * The child unshares them first. With CLONE_NEWNS, / is then made
 * private, recursively, so that no mount of the child's propagates out.
 * With CLONE_NEWPID (or CLONE_NEWTIME, which also takes effect only for
 * children) the child forks once: the function runs as pid 1 of the new
 * namespace, and the first process stays as reexec_pid(), forwarding the
 * signals it gets to the function and ending with the function's status
 * (re-raising the signal that killed it, without a second core dump).
 * As pid 1, the function ignores every signal it has no handler for, but
 * SIGKILL; and it dies when that first process is killed. The other
 * namespaces the function's process is in itself. With CLONE_NEWUSER,
 * the maps come from reexec_cmd_uid_map() and reexec_cmd_gid_map()
 * (without them, the child's ids are unmapped: the overflow id, 65534).
 * CLONE_NEWCGROUP is made after the child joined its cgroup
 * (reexec_cmd_set_cgroup()), so that the namespace is rooted there.
 *
 * Errors: EINVAL  clone_flags has another bit.
 * reexec_start() fails with the errors of unshare(2) (EPERM without
 * CAP_SYS_ADMIN outside a new user namespace, EINVAL where the kernel
 * lacks one, EUSERS, ENOSPC; REEXEC_STEP_NAMESPACES), mount(2)
 * (REEXEC_STEP_MOUNTS) and fork(2) (REEXEC_STEP_PID1).
 */
REEXEC_API int reexec_cmd_set_namespaces(reexec_cmd *cmd, int clone_flags);

/**
 * reexec_cmd_uid_map - map count ids from inside on in the child's new
 * user namespace to the ids from outside on in the caller's. Repeatable:
 * each call is one line of /proc/PID/uid_map, which the parent writes
 * while the child waits (after the namespaces are made, before anything
 * else), so that an unprivileged caller can map its own id to 0 and run
 * its function as root in the namespace.
 *
 * Errors: EINVAL  count is 0, a range passes 2^32 - 1, overlaps one given
 *                 before (inside or outside), or it would be line 341.
 * reexec_start() fails with EINVAL when the command has no
 * CLONE_NEWUSER, and with the errors of writing the map (EPERM: the
 * caller may not map those ids; REEXEC_STEP_MAPS).
 */
REEXEC_API int reexec_cmd_uid_map(reexec_cmd *cmd, uid_t inside, uid_t outside,
                                  uid_t count);

/**
 * reexec_cmd_gid_map - reexec_cmd_uid_map() for group ids
 * (/proc/PID/gid_map), with the same errors. Before it, the parent writes
 * "deny" to /proc/PID/setgroups unless reexec_cmd_setgroups() allowed it.
 */
REEXEC_API int reexec_cmd_gid_map(reexec_cmd *cmd, gid_t inside, gid_t outside,
                                  gid_t count);

/**
 * reexec_cmd_setgroups - allow (1) or deny (0, the default) setgroups(2)
 * in the child's new user namespace (/proc/PID/setgroups, written before
 * the gid map). A caller without CAP_SETGID may only map groups with it
 * denied.
 *
 * Errors: EINVAL  allow is neither 0 nor 1.
 * reexec_start() fails with EINVAL when the command has no
 * CLONE_NEWUSER.
 */
REEXEC_API int reexec_cmd_setgroups(reexec_cmd *cmd, int allow);

/**
 * reexec_cmd_set_cgroup - put the child in the cgroup v2 directory
 * cgroup_dirfd before anything of the command's runs: the parent writes
 * its pid to cgroup.procs while it waits at its barrier (posix_spawn and
 * vfork cannot use clone3's CLONE_INTO_CGROUP). The descriptor is
 * duplicated (close-on-exec); the caller keeps its own.
 *
 * Errors: EBADF   cgroup_dirfd is not an open descriptor.
 *         ENOTDIR it is not a directory.
 * reexec_start() fails with the errors of opening and writing
 * cgroup.procs (ENOENT: not a cgroup v2 directory; EACCES, EBUSY,
 * EOPNOTSUPP; REEXEC_STEP_CGROUP).
 */
REEXEC_API int reexec_cmd_set_cgroup(reexec_cmd *cmd, int cgroup_dirfd);

/**
 * reexec_cmd_set_ctty - make the child a session leader (setsid(2), unless
 * it is one, as reexec_cmd_setsid() makes it) whose controlling terminal
 * is its descriptor child_fd (0, 1, 2 or one of reexec_cmd_add_fd()), so
 * that a child on a pty has job control (Go's Setctty).
 *
 * Errors: EBADF   child_fd is negative.
 * reexec_start() fails with EBADF when child_fd is none of the child's
 * descriptors, EINVAL when the command has reexec_cmd_setpgid() (a
 * process group leader cannot make a session), and with the errors of
 * TIOCSCTTY (ENOTTY: not a terminal; EPERM: another session's terminal;
 * REEXEC_STEP_CTTY).
 */
REEXEC_API int reexec_cmd_set_ctty(reexec_cmd *cmd, int child_fd);

/**
 * reexec_cmd_set_ambient_caps - keep the capabilities caps (ncaps
 * CAP_* numbers; none when 0) across the credential change: they become
 * the child's inheritable and ambient capabilities (so a program it
 * executes has them), and, when it runs as a user other than root, its
 * only permitted and effective ones, so the function itself has them and
 * no others.
 *
 * Errors: EINVAL  caps is NULL with ncaps not 0, or a number is outside
 *                 0..63.
 * reexec_start() fails with EPERM (REEXEC_STEP_CAPS) when a capability is
 * not in the child's permitted set, and EINVAL for one the kernel does
 * not know.
 */
REEXEC_API int reexec_cmd_set_ambient_caps(reexec_cmd *cmd, size_t ncaps,
                                           const int *caps);

/**
 * reexec_cmd_set_nice - give the child nice value nice (setpriority(2)).
 *
 * Errors: EINVAL  nice is outside -20..19.
 * reexec_start() fails with EACCES (REEXEC_STEP_NICE) when the value is
 * below the caller's without CAP_SYS_NICE.
 */
REEXEC_API int reexec_cmd_set_nice(reexec_cmd *cmd, int nice);

/**
 * reexec_cmd_set_oom_score_adj - write adj to the child's
 * /proc/self/oom_score_adj.
 *
 * Errors: EINVAL  adj is outside -1000..1000.
 * reexec_start() fails with EACCES (REEXEC_STEP_OOM_SCORE) when the value
 * is below the caller's without CAP_SYS_RESOURCE.
 */
REEXEC_API int reexec_cmd_set_oom_score_adj(reexec_cmd *cmd, int adj);

/**
 * reexec_failed_step - the step (enum reexec_step) that failed in the
 * last reexec_start() of cmd, or REEXEC_STEP_NONE when it succeeded or
 * failed otherwise. Its errno was the start's. Thread-safe with other
 * reads of the command.
 *
 * Returns the step, or -1 with errno EINVAL when cmd is NULL.
 */
REEXEC_API int reexec_failed_step(const reexec_cmd *cmd);

#ifdef __cplusplus
}
#endif

#endif /* REEXEC_H */
