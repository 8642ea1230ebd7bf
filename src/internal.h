/* Private declarations shared by the library's source files. */
#ifndef REEXEC_INTERNAL_H
#define REEXEC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "reexec.h"

#if defined(__GNUC__)
#define HIDDEN __attribute__((visibility("hidden")))
#else
#define HIDDEN
#endif

/* What posix_spawn can do here, decided at compile time. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define HAVE_SPAWN_CLOSEFROM 1
#endif
#if (defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 29)) || \
        (defined(__linux__) && !defined(__GLIBC__)) ||                  \
        (defined(__FreeBSD__) && __FreeBSD_version >= 1301000)
#define HAVE_SPAWN_CHDIR 1
#endif

/* Set in a child by reexec_start() where posix_spawn cannot close the
 * descriptors it must not inherit: reexec_init() closes every descriptor
 * from this number up before the function runs, and removes the variable. */
#define ENV_CLOSE_FROM "REEXEC_CLOSE_FROM"

/* Set in a child of a command with reexec_cmd_parent_death():
 * "FD:SIG:PPID", the child's end of the parent's watch pipe, the signal to
 * die by (0: none) and the parent's pid. reexec_init() consumes it. */
#define ENV_PARENT "REEXEC_PARENT"

/* Set in every child started by reexec_start(): the number of the child's
 * end of its channel to the parent. reexec_init() consumes it. */
#define ENV_CHANNEL "REEXEC_CHANNEL"

/* Set by reexec_init_sealed() for the program it executes again from the
 * sealed copy, which removes it first thing (seal_init.c). */
#define ENV_SEALED "REEXEC_SEALED"

/* Channel frames (wire.c). */
enum frame_type {
	FRAME_READY = 1, /* child: reexec_ready() */
	FRAME_BEGIN,     /* either: a data stream of this many bytes follows */
	FRAME_DATA,      /* either: the next bytes of the stream */
	FRAME_STATUS,    /* child: the function returned this value (and
	                    the child's own peak memory, STATUS_BODY) */
	FRAME_ERROR,     /* child: refused to run, this errno says why */
	FRAME_EXIT,      /* fork server, on the relay: the child's status
	                    and resource usage (EXIT_BODY) */
	FRAME_FORKED,    /* fork server, on the relay: the child's pid */
	FRAME_STARTED,   /* child: its function starts now */
	FRAME_ATTRS,     /* parent: the attributes' stream, of this many
	                    bytes, comes before the input (attr.c) */
	FRAME_BARRIER,   /* child: namespaces made, write my maps, cgroup */
	FRAME_GO,        /* parent: done, go on */
	FRAME_FAILED,    /* child: this step failed with this errno */
};
#define FRAME_HDR 8
#define FRAME_CHUNK 65536
#define FRAME_MAX (FRAME_HDR + FRAME_CHUNK)
/* FRAME_STATUS's body: the value (32 bits), then the peak resident set of
 * the child's own image and the children it waited for, in KiB (64 bits;
 * -1: unknown). */
#define STATUS_BODY 12
/* FRAME_EXIT's body, 64-bit numbers: the wait status, user and system
 * time in microseconds, then ru_maxrss, ru_minflt, ru_majflt, ru_inblock,
 * ru_oublock, ru_nvcsw and ru_nivcsw as wait4(2) gave them. */
#define EXIT_FIELDS 10
#define EXIT_BODY 80 /* EXIT_FIELDS * 8 */

struct frame {
	enum frame_type type;
	const unsigned char *body;
	size_t len;
};

/* A data stream being received. */
struct stream {
	unsigned char *data; /* total + 1 bytes, NUL-terminated */
	size_t total, len;
	bool begun;
	unsigned char small[EXIT_BODY]; /* the body of any other frame */
};

HIDDEN size_t frame_header(unsigned char hdr[FRAME_HDR], enum frame_type type,
                           size_t len);
/* 0, or -1 with EPROTO when header and body make no well-formed frame. */
HIDDEN int frame_decode(const unsigned char hdr[FRAME_HDR], const void *body,
                        size_t len, struct frame *f);
HIDDEN int frame_int(const struct frame *f);
HIDDEN void status_body(unsigned char b[STATUS_BODY], int value,
                        long long peak_kib);
/* FRAME_STATUS's peak (-1: unknown, or nonsense). */
HIDDEN long long status_peak(const struct frame *f);
HIDDEN void exit_body(unsigned char b[EXIT_BODY], int status,
                      const struct rusage *ru);
/* FRAME_EXIT's status, and its usage into ru (nonsense made sane). */
HIDDEN int exit_decode(const struct frame *f, struct rusage *ru);
/* 1 when the stream is complete, 0 when more is to come, -1 with EPROTO
 * (out of order, too long), EMSGSIZE (over REEXEC_DATA_MAX) or ENOMEM. */
HIDDEN int stream_feed(struct stream *s, const struct frame *f);
HIDDEN bool stream_complete(const struct stream *s);
HIDDEN void stream_free(struct stream *s);
/* A descriptor number of at least 3, or -1. */
HIDDEN int parse_fd(const char *s);
/* ENV_PARENT's value; 0, or -1 when malformed. */
HIDDEN int parse_parent(const char *s, int *fd, int *sig, pid_t *ppid);

/* The parent's side of a command's channel. */
struct chan {
	int fd; /* -1: closed (or never opened) */
	const unsigned char *in;
	size_t in_len, in_sent;
	bool begin_sent;
	bool ready, has_status, has_exit;
	bool started;    /* FRAME_STARTED: the child reached its function */
	bool barrier;    /* FRAME_BARRIER: the child waits for FRAME_GO */
	int failed_step; /* FRAME_FAILED: REEXEC_STEP_* */
	bool broken;     /* malformed: frames are dropped from now on */
	bool creds;      /* SO_PASSCRED is on: while receiving, see channel.c */
	int exit_status; /* FRAME_EXIT's wait status */
	int code;        /* FRAME_STATUS */
	long long peak;  /* with has_status: the child's own peak RSS in KiB,
	                    -1 unknown */
	int err;         /* FRAME_ERROR, or EPROTO for a broken channel */
	struct stream result;
};

enum stdio_mode {
	STDIO_INHERIT = 0,
	STDIO_NULL,
	STDIO_PIPE,
	STDIO_FD,
	STDIO_FILE,
	STDIO_MERGE, /* stderr only: the same open file as the child's stdout */
};

struct stdio_spec {
	enum stdio_mode mode;
	int fd;      /* STDIO_FD: the caller's descriptor */
	char *path;  /* STDIO_FILE */
	int flags;   /* STDIO_FILE */
	mode_t perm; /* STDIO_FILE */
};

/* The descriptor reexec_fd() gives: an epoll set of what the command waits
 * on, and what it holds now (event.c). */
struct watch {
	int fd;                 /* the epoll set; -1 until reexec_fd() */
	int pidfd, chan, relay; /* the descriptors in it, -1: none */
	uint32_t chan_events;
	int timer; /* without pidfds, a tick while the child runs; -1 */
};

/* The child's attributes (attr.c): plain data, filled by the setters,
 * encoded for the child at the start and applied there in one place
 * (isolate.c). The maps and the cgroup descriptor stay with the parent,
 * which writes them at the barrier (attr_start.c). */
enum {
	ATTR_USER = 1 << 0,
	ATTR_UMASK = 1 << 1,
	ATTR_CHROOT = 1 << 2,
	ATTR_NNP = 1 << 3,
	ATTR_CTTY = 1 << 4,
	ATTR_AMBIENT = 1 << 5,
	ATTR_NICE = 1 << 6,
	ATTR_OOM = 1 << 7,
	ATTR_BARRIER = 1 << 8,     /* the child waits for maps and cgroup */
	ATTR_NOSETGROUPS = 1 << 9, /* its user namespace denies setgroups */
	ATTR_SETGROUPS = 1 << 10,  /* reexec_cmd_setgroups() was called */
	ATTR_CGROUP = 1 << 11,
};
#define ATTR_MAX_MAPS 340 /* lines the kernel takes in a map */
#define ATTR_MAX_GROUPS 65536
struct id_map {
	uint32_t inside, outside, count;
};
struct attr_limit {
	int32_t resource;
	uint64_t cur, max;
};
struct attrs {
	uint32_t set; /* ATTR_* */
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t *groups;
	uint32_t nlimits;
	struct attr_limit *limits;
	uint32_t umask;
	char *chroot;
	char *dir; /* in the new root: the command's, or NULL for "/" */
	int32_t namespaces;
	uint32_t nuid_maps, ngid_maps; /* the parent's only */
	struct id_map *uid_maps, *gid_maps;
	int cgroup_fd; /* the parent's only: -1 none */
	int32_t ctty;
	uint64_t ambient; /* capability bits */
	int32_t nice;
	int32_t oom_score_adj;
};
/* Free a's arrays (not its strings nor its descriptor). */
HIDDEN void attrs_free(struct attrs *a);
/* Release the command's attributes altogether. */
HIDDEN void cmd_attrs_release(struct reexec_cmd *cmd);
/* The attributes as the child reads them (malloc'd, *len bytes), with
 * dir the command's directory; NULL with errno set. */
HIDDEN unsigned char *attrs_encode(const struct attrs *a, const char *dir,
                                   size_t *len);
/* wire.c: parse what attrs_encode() made into a (arrays malloc'd, strings
 * in buf, which must outlive a); 0, or -1 when malformed. */
HIDDEN int attrs_decode(char *buf, size_t len, struct attrs *a);
/* attr_start.c: the parent's side of a start with attributes. Check
 * them before anything is spawned (0, or -1 with errno); then, once the
 * child runs, serve its barrier and wait until it applied them or
 * failed (then it is reaped, the command made new again, -1 with the
 * step's errno). */
HIDDEN int attrs_check(struct reexec_cmd *cmd);
HIDDEN int attrs_await(struct reexec_cmd *cmd);
/* The directory the launchers change to: the command's, unless it is
 * meant inside a new root (then the child changes to it itself). */
HIDDEN const char *cmd_launch_dir(const struct reexec_cmd *cmd);
/* isolate.c, in the child: apply a, in the documented order, talking to
 * the parent over chan; returns only when all were applied (in the
 * function's process, when a new pid namespace made one). */
HIDDEN void attrs_apply(const struct attrs *a, int chan);

enum cmd_state {
	CMD_NEW = 0,
	CMD_RUNNING,
	CMD_REAPED,
};

struct reexec_cmd {
	char **argv;         /* name, args..., NULL */
	char **environ_base; /* NULL: the caller's environ at start */
	char **env_edits;    /* "NAME=value" sets, "NAME" unsets, NULL-ended;
	                        at most one entry per name */
	size_t env_nedits;
	char *dir;
	struct stdio_spec stdio[3];
	int pipe_fd[3]; /* the caller's ends, -1 when none */
	int *extra_fd;  /* the caller's fds for child fd 3, 4, ... */
	int extra_nfd;
	enum { PGROUP_INHERIT, PGROUP_SET, PGROUP_SESSION } pgroup;
	pid_t pgid;
	enum cmd_state state;
	pid_t pid;
	int pidfd; /* -1 where the kernel has no pidfds */
	int status;
	bool lost;         /* reaped by someone else: status unknown */
	int stop_signal;   /* 0: SIGTERM */
	int stop_grace_ms; /* < 0: the default */
	bool parent_death; /* reexec_cmd_parent_death() was called */
	bool sealed;       /* run from the sealed copy (seal.c) */
	int forkserver;    /* -1: the default, 0: exec, 1: the fork server */
	bool via_server;   /* started by the fork server: not our child */
	int relay_fd;      /* the server's word on it: -1 when none (left) */
	int parent_death_sig;
	bool spawner_held; /* spawned by the spawner thread, not reaped yet */
	struct chan chan;
	int wait_err;        /* reexec_wait's errno, once reaped (0: none) */
	struct watch watch;  /* reexec_fd()'s set (event.c) */
	struct rusage usage; /* once reaped, when has_usage */
	bool has_usage;
	/* Threads (process.c): the lock guards state, status, lost,
	 * wait_err, usage, busy, kill_group and chan.ready; changed is
	 * broadcast when busy drops, the child is reaped or it is ready. */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* on CLOCK_MONOTONIC */
	bool busy;       /* a thread moves the child's data and reaps it */
	bool kill_group; /* a stop ends the group: SIGKILL it at the reap */

	struct attrs *attrs; /* NULL: none set (attr.c) */
	int failed_step;     /* the last start's, REEXEC_STEP_* */
	unsigned char *attr_out; /* the attributes as sent, during a start */
	size_t attr_out_len;
};

#define STOP_GRACE_DEFAULT_MS 5000

/* command.c */
HIDDEN int cmd_settable(const struct reexec_cmd *cmd, bool args_ok);
HIDDEN struct reexec_cmd *cmd_create(const char *name, char *const args[]);

/* registry.c */
#define REG_MULTICALL 0x100
HIDDEN reexec_fn registry_lookup(const char *name, int *flags);

/* self.c */
#define PROC_SELF_EXE "/proc/self/exe"
HIDDEN void self_resolve(void);
HIDDEN int self_pinned_fd(void);

/* seal.c */
HIDDEN int sealed_self_fd(void);
/* Whether this process runs from a memfd sealed against any change. */
HIDDEN bool running_sealed(void);

/* init.c */
HIDDEN bool init_done(void);

/* util.c */
HIDDEN void free_strv(char **v);
HIDDEN char **dup_strv(char *const v[]);
HIDDEN int close_keep_errno(int fd);
HIDDEN void close_from(int lo);

/* env.c */
HIDDEN char **env_build(const struct reexec_cmd *cmd, char *const extra[]);

/* io.c: the descriptors the child gets at 0, 1, 2 and 3... */
struct fd_plan {
	int nfd;           /* 3 + number of extra fds (+ the parent watch)
	                      + the channel */
	int *src;          /* for each child fd, a close-on-exec copy at or
	                      above nfd to dup2 from; -1: leave as inherited */
	int parent_end[3]; /* pipe ends for the command, -1 when none */
	int chan_end;      /* the parent's end of the channel */
	int watch_slot;    /* child fd of the parent watch, -1 when none */
	int chan_slot;     /* child fd of the channel */
};
HIDDEN int fd_plan_make(struct reexec_cmd *cmd, struct fd_plan *plan);
HIDDEN void fd_plan_release(struct fd_plan *plan, bool started);
HIDDEN void cmd_close_pipes(struct reexec_cmd *cmd);

/* spawn.c */
HIDDEN int spawn_child(struct reexec_cmd *cmd);
HIDDEN int spawn_now(struct reexec_cmd *cmd);

/* spawn_fd.c */
HIDDEN int spawn_fd(const struct reexec_cmd *cmd, const struct fd_plan *plan,
                    int exe_fd, char *const envp[], pid_t *pid);

/* parent.c */
HIDDEN int parent_watch_fd(void);
HIDDEN int spawn_from_spawner(struct reexec_cmd *cmd);
/* A child spawn_from_spawner() started (cmd->spawner_held) has been
 * reaped: the spawner thread ends when no other needs it. */
HIDDEN void spawner_release(void);
HIDDEN void parent_child_setup(void);

/* channel.c: the parent's side */
HIDDEN void chan_started(struct reexec_cmd *cmd);
HIDDEN short chan_events(const struct reexec_cmd *cmd);
HIDDEN void chan_handle(struct reexec_cmd *cmd, short revents);
HIDDEN void chan_drain(struct reexec_cmd *cmd);
HIDDEN int chan_conclude(struct reexec_cmd *cmd, int rc);
HIDDEN void chan_release(struct reexec_cmd *cmd);
HIDDEN int frame_send(int fd, enum frame_type type, const void *body,
                      size_t len, int flags);
HIDDEN int frame_recv(int fd, struct stream *s, int flags, struct frame *f);
struct msghdr;
/* Attach n descriptors to msg (SCM_RIGHTS), in buf of at least
 * CMSG_SPACE(n * sizeof(int)) bytes. */
HIDDEN void msg_put_fds(struct msghdr *msg, void *buf, const int *fds, int n);
/* The descriptors a received msg carries, at most max into fds (the rest
 * closed); returns how many. */
HIDDEN int msg_take_fds(struct msghdr *msg, int *fds, int max);

/* forkserver.c (the caller's side) and server.c (the server); the server
 * runs under this name, which no one can register ("reexec-" is
 * reserved). */
#define SERVER_NAME "reexec-forkserver"
HIDDEN bool forkserver_wanted(const struct reexec_cmd *cmd);
HIDDEN int spawn_via_server(struct reexec_cmd *cmd);
HIDDEN void relay_receive(struct reexec_cmd *cmd);
HIDDEN _Noreturn void forkserver_main(int sock);
/* In a spare, before it waits: map and write now the pages a child's
 * set-up would fault in (warm.c). */
HIDDEN void spare_warm(void);

/* A request to the server: one message with this header, the descriptors
 * (SCM_RIGHTS) and the body. A body longer than FRAME_CHUNK travels in a
 * file instead (a memfd, passed after the others), so that a request is
 * always one message: spares read the server's socket side by side, and
 * the continuation of one request must not go to another. The body: the
 * child's descriptor count, for each the index of its passed descriptor
 * (-1: closed), the channel's slot, the process group mode and id, the
 * command's directory ('1' then the path, or '0' and an empty string), then
 * the caller's umask, nice value, the number of resource limits
 * (INHERIT_LIMITS) and each limit's soft and hard value (64 bits), the
 * argv and envp, each a count and NUL-ended strings. Other numbers are 32
 * bits, all in the machine's order.
 *
 * The last two descriptors passed (before the body's file) are the
 * caller's working directory and the relay: the server's end of a socket
 * pair whose other end the caller keeps. The
 * answer comes there, so that the server's socket carries requests only
 * and callers need not wait for each other: FRAME_FORKED with the child's
 * pid, or FRAME_ERROR with an errno; later FRAME_EXIT with the child's
 * wait status. A request that cannot be read is dropped with its
 * descriptors: the caller sees its relay end. */
#define REQ_MAX_FDS 252 /* with the body file: the kernel's SCM_MAX_FD, 253 */
#define REQ_MAX_BODY (64u << 20) /* arguments and environment */
struct req_hdr {
	uint32_t nfds; /* not counting the body's file */
	uint32_t body_len;
};

/* inherit.c: what a fork-server child takes from its caller at the start
 * (the list, and why, is there). */
#define INHERIT_LIMITS 16 /* RLIMIT_CPU .. RLIMIT_RTTIME */
struct inherited {
	unsigned umask;
	int nice;
	uint64_t limit[INHERIT_LIMITS][2]; /* soft, hard */
};
/* The calling thread's state, and its identity as text (malloc'd: a
 * server started now runs as this), or NULL with errno set. */
HIDDEN char *caller_state(struct inherited *in);
/* The server's own state, at its start. */
HIDDEN void server_state(struct inherited *in);
/* In the child: take on want where it differs from had. 0, or -1 with
 * errno set. */
HIDDEN int inherited_apply(const struct inherited *want,
                           const struct inherited *had);

/* A request, parsed (wire.c): pointers into its body. */
struct request {
	int nfd;       /* the child's descriptors 0 .. nfd - 1 */
	int *slot;     /* for each, the index of the passed fd, or -1 */
	int chan_slot; /* which one is its channel */
	int pgroup, pgid;
	struct inherited in;
	char *dir; /* NULL: the caller's */
	char **argv, **envp;
};
/* Parse a body that came with nfds descriptors: 0, or -1 when it is
 * malformed (or memory ran out). */
HIDDEN int parse_request(char *body, size_t len, int nfds, struct request *q);
HIDDEN void request_free(struct request *q);

/* child.c: the child's side */
HIDDEN _Noreturn void child_refuse(const char *name, const char *why, int err,
                                   int fd);
HIDDEN bool child_secure(void);
/* Check the channel (fd from ENV_CHANNEL, -1 when malformed), or refuse. */
HIDDEN void child_accept(int fd, const char *name);
/* Read the input whole and keep the channel for the function, or refuse. */
HIDDEN void child_take_input(int fd, const char *name);
/* Tell the parent the function starts, run it, send what it returned;
 * returns that, for exit(). */
HIDDEN int child_run(reexec_fn fn, int argc, char *argv[]);
/* In a child forked by the fork server: the server's channel is not ours,
 * and the server, not we, reports our status. */
HIDDEN void child_forget_channel(void);
/* The attributes that came before the input, applied (isolate.c). */
HIDDEN void child_isolate(const char *name);

/* pump.c: moving data between the caller and a running child */
struct buf {
	char *data;
	size_t len, cap;
};
struct feed {
	const char *data;
	size_t left;
	bool broken; /* the child closed its stdin: a SIGPIPE is pending */
};
enum pump_until { PUMP_END, PUMP_READY, PUMP_STARTED };
HIDDEN int pump(struct reexec_cmd *cmd, struct feed *in, struct buf out[3],
                long long deadline, enum pump_until until);
HIDDEN int drain_pipes(struct reexec_cmd *cmd, struct buf out[3]);

/* process.c */
HIDDEN void child_started(struct reexec_cmd *cmd, pid_t pid);
HIDDEN bool child_exited(struct reexec_cmd *cmd);
HIDDEN bool pidfd_ended(int pidfd);
/* A close-on-exec pidfd for pid, or -1 with errno (ENOSYS: none here). */
HIDDEN int open_pidfd(pid_t pid);
HIDDEN bool pidfds_available(void);
/* A command used from several threads (see process.c): one at a time,
 * the busy one, moves the data and reaps. */
HIDDEN int cmd_sync_init(struct reexec_cmd *cmd);
HIDDEN void cmd_lock(const struct reexec_cmd *cmd);
HIDDEN void cmd_unlock(const struct reexec_cmd *cmd);
HIDDEN void cmd_changed(struct reexec_cmd *cmd);
HIDDEN int cmd_sleep(struct reexec_cmd *cmd, long long deadline);
HIDDEN bool cmd_claim(struct reexec_cmd *cmd);
HIDDEN void cmd_unclaim(struct reexec_cmd *cmd);
HIDDEN int wait_child(struct reexec_cmd *cmd, bool mine, int *status);
HIDDEN int stop_child(struct reexec_cmd *cmd, int grace_ms, int *status);
HIDDEN int cmd_release_process(struct reexec_cmd *cmd);
/* reexec_cmd_free(), telling whether the child had to be left running:
 * -1 with EPERM then. */
HIDDEN int cmd_free(struct reexec_cmd *cmd);

/* event.c: keep reexec_fd()'s set as the command is now; forget fd, which
 * is about to be closed; close the set. */
HIDDEN void watch_sync(struct reexec_cmd *cmd);
HIDDEN void watch_forget(struct reexec_cmd *cmd, int fd);
HIDDEN void watch_release(struct reexec_cmd *cmd);

/* clock.c */
HIDDEN long long deadline_after(int timeout_ms);
HIDDEN int ms_left(long long deadline);

#endif
