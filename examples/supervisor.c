/*
 * supervisor - a small service runtime on one thread and one epoll set.
 *
 * Several named services run as registered functions, each in its own
 * process group. Everything the supervisor reacts to is a descriptor in
 * one epoll set: each service's reexec_fd() (it ended, or its channel
 * wants attention), each service's stdout pipe (its output, printed line
 * by line with the service's name as it arrives), and a signalfd for
 * SIGINT and SIGTERM. A service that fails is restarted after a growing
 * delay, up to a limit. On SIGINT or SIGTERM every service gets SIGTERM
 * at once and SIGKILL after a grace period. At the end a table gives each
 * service's state, restarts, last status, processor time and peak memory
 * (reexec_rusage()).
 *
 *   supervisor          run until SIGINT or SIGTERM
 *   supervisor --demo   the same, but stop by itself once the flaky
 *                       service has used up its restarts and the others
 *                       have spoken
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <reexec.h>

#define MAX_RESTARTS 3
#define GRACE_MS 1000
#define HOG_MIB 32

/* The services. Each writes to stdout, which the supervisor prefixes. */
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Serve until SIGTERM, then say goodbye. */
static int serve(const char *hello, const char *bye)
{
	signal(SIGTERM, on_term);
	printf("%s\n", hello);
	fflush(stdout);
	while (!stopping)
		pause();
	printf("%s\n", bye);
	return 0;
}

static int web(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	return serve("listening", "closing connections");
}

static int flaky(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	printf("starting, then failing\n");
	return 1;
}

static int stubborn(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	signal(SIGTERM, SIG_IGN); /* will need SIGKILL */
	printf("ignoring SIGTERM\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* Uses a fifth of a second of processor time, then serves. */
static int cruncher(int argc, char *argv[])
{
	struct timespec t;
	volatile unsigned long spin = 0;

	(void)argc;
	(void)argv;
	do {
		for (int i = 0; i < 100000; i++)
			spin += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while (t.tv_sec == 0 && t.tv_nsec < 200000000);
	/* (Read once, so that the sum is used: the loop is the work.) */
	if (spin == 1)
		return 1;
	return serve("crunched", "done crunching");
}

/* Holds HOG_MIB MiB of memory it has written, then serves. */
static int hog(int argc, char *argv[])
{
	size_t size = (size_t)HOG_MIB << 20;
	/* (volatile: the writes must happen, not be optimised away.) */
	volatile char *mem = malloc(size);
	int rc;

	(void)argc;
	(void)argv;
	if (!mem)
		return 1;
	for (size_t i = 0; i < size; i += 4096)
		mem[i] = 1;
	rc = serve("holding memory", "letting go");
	free((void *)mem);
	return rc;
}

struct service {
	const char *name;
	reexec_cmd *cmd;
	int out;        /* our end of its stdout, -1 when closed */
	char line[256]; /* a partial line of output */
	size_t len;
	int restarts;
	long long restart_at; /* ms; 0: not waiting to restart */
	const char *state;    /* for the table */
	int status;
	struct rusage usage; /* of its last run */
	int said;            /* has printed a line */
};

static struct service services[] = {
        {.name = "web"},      {.name = "flaky"}, {.name = "stubborn"},
        {.name = "cruncher"}, {.name = "hog"},
};
#define NSERVICES (int)(sizeof(services) / sizeof(services[0]))

/* What an epoll event is about: a service's command or its output. */
enum { EV_CMD, EV_OUT, EV_SIGNAL };
#define EV(kind, i) ((uint64_t)(i) << 2 | (kind))

static int ep;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch(int fd, uint64_t what)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = what};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int start(struct service *s)
{
	int i = (int)(s - services);

	s->cmd = reexec_command(s->name, NULL);
	if (!s->cmd || reexec_cmd_stdio_pipe(s->cmd, STDOUT_FILENO) < 0 ||
	    reexec_cmd_setpgid(s->cmd, 0) < 0 || reexec_start(s->cmd) < 0 ||
	    watch(reexec_fd(s->cmd), EV(EV_CMD, i)) < 0) {
		fprintf(stderr, "supervisor: %s: %s\n", s->name,
		        strerror(errno));
		reexec_cmd_free(s->cmd);
		s->cmd = NULL;
		s->state = "failed to start";
		return -1;
	}
	/* The output is read as it comes, never waited for. */
	s->out = reexec_pipe(s->cmd, STDOUT_FILENO);
	fcntl(s->out, F_SETFL, fcntl(s->out, F_GETFL) | O_NONBLOCK);
	watch(s->out, EV(EV_OUT, i));
	s->len = 0;
	s->restart_at = 0;
	s->state = "running";
	return 0;
}

/* Print the complete lines of s's output, prefixed; with flush, the
 * rest too. */
static void print_lines(struct service *s, int flush)
{
	char *nl;

	while ((nl = memchr(s->line, '\n', s->len))) {
		size_t n = (size_t)(nl - s->line) + 1;

		printf("[%s] %.*s", s->name, (int)n, s->line);
		s->said = 1;
		memmove(s->line, nl + 1, s->len - n);
		s->len -= n;
	}
	if ((flush || s->len == sizeof(s->line)) && s->len) {
		printf("[%s] %.*s\n", s->name, (int)s->len, s->line);
		s->len = 0;
	}
	fflush(stdout);
}

/* Read what s's stdout holds now; at its end, stop watching it. */
static void read_output(struct service *s)
{
	for (;;) {
		ssize_t got = read(s->out, s->line + s->len,
		                   sizeof(s->line) - s->len);

		if (got > 0) {
			s->len += (size_t)got;
			print_lines(s, 0);
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0 || errno != EAGAIN) {
			epoll_ctl(ep, EPOLL_CTL_DEL, s->out, NULL);
			reexec_pipe_close(s->cmd, STDOUT_FILENO);
			s->out = -1;
		}
		return;
	}
}

/* s ended with status: decide whether to restart it. */
static void ended(struct service *s)
{
	/* Its last words are in the pipe already. */
	if (s->out >= 0)
		read_output(s);
	print_lines(s, 1);
	reexec_rusage(s->cmd, &s->usage);
	epoll_ctl(ep, EPOLL_CTL_DEL, reexec_fd(s->cmd), NULL);
	reexec_cmd_free(s->cmd); /* closes the pipe and the descriptor */
	s->cmd = NULL;
	s->out = -1;
	if (stopping)
		s->state = "stopped";
	else if (WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0)
		s->state = "done";
	else if (s->restarts < MAX_RESTARTS) {
		long long delay = 50LL << s->restarts;

		s->restarts++;
		s->restart_at = now_ms() + delay;
		s->state = "restarting";
		printf("supervisor: %s failed, restart %d in %lld ms\n",
		       s->name, s->restarts, delay);
	} else {
		s->state = "gave up";
		printf("supervisor: %s failed %d times, giving up\n", s->name,
		       s->restarts + 1);
	}
}

/* The command wants attention: move its data, and see whether it ended
 * (a step that never blocks). */
static void step(struct service *s)
{
	if (reexec_wait_timeout(s->cmd, 0, &s->status) == 0 ||
	    errno != ETIMEDOUT)
		ended(s);
}

static int running(void)
{
	int n = 0;

	for (int i = 0; i < NSERVICES; i++)
		n += services[i].cmd != NULL;
	return n;
}

/* Wait for the next events (at most until timeout_ms, -1: no limit) and
 * handle them. */
static void loop_once(int sigfd, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(ep, ev, 16, timeout_ms);

	for (int k = 0; k < n; k++) {
		int kind = (int)(ev[k].data.u64 & 3);
		struct service *s = &services[ev[k].data.u64 >> 2];

		if (kind == EV_SIGNAL) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				stopping = 1;
		} else if (kind == EV_OUT && s->out >= 0) {
			read_output(s);
		} else if (kind == EV_CMD && s->cmd) {
			step(s);
		}
	}
}

/* Milliseconds until the next restart is due, -1 when none is. */
static int next_restart(void)
{
	long long now = now_ms(), soonest = -1;

	for (int i = 0; i < NSERVICES; i++) {
		long long at = services[i].restart_at;

		if (at && (soonest < 0 || at < soonest))
			soonest = at;
	}
	if (soonest < 0)
		return -1;
	return soonest <= now ? 0 : (int)(soonest - now);
}

static void restart_due(void)
{
	for (int i = 0; i < NSERVICES; i++)
		if (services[i].restart_at &&
		    services[i].restart_at <= now_ms())
			start(&services[i]);
}

/* SIGTERM to every service now, SIGKILL to what is left after the grace
 * period; the loop goes on meanwhile, so their last words are printed. */
static void stop_all(int sigfd)
{
	long long kill_at = now_ms() + GRACE_MS;
	int killed = 0;

	for (int i = 0; i < NSERVICES; i++) {
		services[i].restart_at = 0;
		if (services[i].cmd)
			reexec_signal(services[i].cmd, SIGTERM);
	}
	while (running()) {
		long long left = kill_at - now_ms();

		if (left <= 0 && !killed) {
			for (int i = 0; i < NSERVICES; i++)
				if (services[i].cmd)
					reexec_signal(services[i].cmd, SIGKILL);
			killed = 1;
		}
		loop_once(sigfd, killed ? -1 : (int)(left > 0 ? left : 0));
	}
}

static void table(void)
{
	printf("\n%-9s %-10s %-8s %-22s %7s %9s\n", "SERVICE", "STATE",
	       "RESTARTS", "LAST STATUS", "CPU(ms)", "PEAK(KiB)");
	for (int i = 0; i < NSERVICES; i++) {
		const struct service *s = &services[i];
		const struct rusage *u = &s->usage;
		long cpu =
		        (long)(u->ru_utime.tv_sec + u->ru_stime.tv_sec) * 1000 +
		        (long)(u->ru_utime.tv_usec + u->ru_stime.tv_usec) /
		                1000;
		char how[32];

		if (WIFEXITED(s->status))
			snprintf(how, sizeof(how), "exit %d",
			         WEXITSTATUS(s->status));
		else if (WTERMSIG(s->status) == SIGKILL)
			snprintf(how, sizeof(how), "killed (SIGKILL)");
		else if (WTERMSIG(s->status) == SIGTERM)
			snprintf(how, sizeof(how), "terminated (SIGTERM)");
		else
			snprintf(how, sizeof(how), "signal %d",
			         WTERMSIG(s->status));
		printf("%-9s %-10s %-8d %-22s %7ld %9ld\n", s->name, s->state,
		       s->restarts, how, cpu, u->ru_maxrss);
	}
}

/* The demo ends once flaky has given up and the others have spoken. */
static int demo_over(void)
{
	for (int i = 0; i < NSERVICES; i++) {
		const struct service *s = &services[i];

		if (strcmp(s->name, "flaky") == 0 ? strcmp(s->state, "gave up")
		                                  : !s->said)
			return 0;
	}
	return 1;
}

int main(int argc, char *argv[])
{
	sigset_t stop_signals;
	int sigfd, demo;

	reexec_register("web", web);
	reexec_register("flaky", flaky);
	reexec_register("stubborn", stubborn);
	reexec_register("cruncher", cruncher);
	reexec_register("hog", hog);
	reexec_init(argc, argv);
	demo = argc > 1 && strcmp(argv[1], "--demo") == 0;

	/* SIGINT and SIGTERM arrive as events (the children start with
	 * every signal unblocked: reexec resets the mask). */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	sigfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sigfd < 0 || ep < 0 || watch(sigfd, EV(EV_SIGNAL, 0)) < 0) {
		perror("supervisor");
		return 1;
	}
	for (int i = 0; i < NSERVICES; i++)
		start(&services[i]);
	while (!stopping) {
		loop_once(sigfd, next_restart());
		restart_due();
		if (demo && demo_over())
			raise(SIGTERM);
	}
	printf("supervisor: stopping\n");
	stop_all(sigfd);
	table();
	close(ep);
	close(sigfd);
	return 0;
}
