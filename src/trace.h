/* Marks along a fork-server round trip, for the breakdown that
 * `make bench-trace` prints (bench/spawn.c, trace mode). Compiled only
 * with -DREEXEC_TRACE, a build of its own; otherwise TRACE() is nothing.
 *
 * Every process on the way (the caller, the server, the spare that becomes
 * the child) maps the same page, the file named by REEXEC_TRACE, and at
 * each mark writes the monotonic time and the page faults its thread took
 * since its previous mark. The caller clears the page before a round trip
 * and reads it after. With the page's strace flag set, a mark also makes
 * a write to descriptor -1 naming itself, so that `strace -f` output can be
 * cut into the same phases. */
#ifndef REEXEC_TRACE_H
#define REEXEC_TRACE_H

/* The marks, in the order a round trip passes them. */
enum trace_mark {
	T_BEGIN,     /* caller: the round trip starts (the benchmark) */
	T_PLAN,      /* caller: descriptor plan made */
	T_STATE,     /* caller: its state read, relay and directory open */
	T_BUILT,     /* caller: request built */
	T_SENT,      /* caller: request sent */
	T_SPARE,     /* spare: ready, before it waits (faults since fork) */
	T_RECV,      /* spare: request received */
	T_PARSED,    /* spare: request parsed */
	T_PREPARED,  /* spare: directory, umask, limits, group; server told */
	T_ANSWERED,  /* spare: its pid about to go to the caller */
	T_TOOK,      /* server: heard the spare took a request */
	T_ANSWER,    /* caller: pid received */
	T_STARTED,   /* caller: reexec_start returns */
	T_FDS,       /* child: descriptors in place */
	T_INPUT,     /* child: mask, environment, lookup, input read */
	T_FN,        /* child: the function starts */
	T_RETURNED,  /* child: the function returned */
	T_SIGNALLED, /* server: woken by SIGCHLD */
	T_REAPED,    /* server: waitpid gave the child */
	T_RELAYED,   /* server: status about to go on the relay */
	T_RESPARED,  /* server: replacement spare forked */
	T_WOKE,      /* caller: status received */
	T_END,       /* caller: reexec_run and reexec_cmd_free done */
	T_MARKS
};

struct trace_page {
	int strace;                /* set by the caller: name each mark */
	long long ns[T_MARKS];     /* CLOCK_MONOTONIC at the mark, 0: none */
	long faults[T_MARKS];      /* this thread's minor faults since its
	                               * previous mark */
	long major[T_MARKS];       /* and major ones */
	long long cpu_ns[T_MARKS]; /* and processor time it used */
	long child_faults;         /* the child reaped: all its faults */
	long long child_cpu_ns;    /* and all its processor time */
};

#ifdef REEXEC_TRACE
void trace_mark(enum trace_mark m, const char *name)
        __attribute__((visibility("hidden")));
void trace_reaped(void) __attribute__((visibility("hidden")));
#define TRACE(m) trace_mark(m, #m)
#define TRACE_REAPED() trace_reaped()
#else
#define TRACE(m) ((void)0)
#define TRACE_REAPED() ((void)0)
#endif

#endif
