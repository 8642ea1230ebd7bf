/*
 * supervisor - a small service runtime: several named services run as
 * registered functions in their own process groups; their output is
 * prefixed with the service's name; a service that fails is restarted
 * after a growing delay, up to a limit; SIGINT or SIGTERM stops all of
 * them gracefully (SIGTERM, then SIGKILL after a grace period); a status
 * table is printed at the end.
 *
 *   supervisor          run until SIGINT or SIGTERM
 *   supervisor --demo   the same, but stop by itself once the flaky
 *                       service has used up its restarts
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <reexec.h>

#define MAX_RESTARTS 3
#define GRACE_MS 1000

/* The services. Each writes to stdout, which the supervisor prefixes. */
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int web(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	signal(SIGTERM, on_term);
	printf("listening\n");
	fflush(stdout);
	while (!stopping)
		pause();
	printf("closing connections\n");
	return 0;
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
	int said; /* has printed a line */
};

static struct service services[] = {
        {.name = "web"},
        {.name = "flaky"},
        {.name = "stubborn"},
};
#define NSERVICES (int)(sizeof(services) / sizeof(services[0]))

static int signal_pipe[2];

static void on_stop_signal(int sig)
{
	char c = (char)sig;

	(void)!write(signal_pipe[1], &c, 1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start(struct service *s)
{
	s->cmd = reexec_command(s->name, NULL);
	if (!s->cmd || reexec_cmd_stdio_pipe(s->cmd, STDOUT_FILENO) < 0 ||
	    reexec_cmd_setpgid(s->cmd, 0) < 0 ||
	    reexec_cmd_set_stop(s->cmd, SIGTERM, GRACE_MS) < 0 ||
	    reexec_start(s->cmd) < 0) {
		fprintf(stderr, "supervisor: %s: %s\n", s->name,
		        strerror(errno));
		reexec_cmd_free(s->cmd);
		s->cmd = NULL;
		s->state = "failed to start";
		return -1;
	}
	s->out = reexec_pipe(s->cmd, STDOUT_FILENO);
	s->len = 0;
	s->restart_at = 0;
	s->state = "running";
	return 0;
}

/* Print the complete lines of s's output, prefixed. */
static void relay(struct service *s, int flush)
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

/* s's output ended: reap it and decide whether to restart it. */
static void ended(struct service *s)
{
	relay(s, 1);
	s->out = -1;
	reexec_wait(s->cmd, &s->status);
	reexec_cmd_free(s->cmd);
	s->cmd = NULL;
	if (WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0) {
		s->state = "done";
	} else if (s->restarts < MAX_RESTARTS) {
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

/* Poll the services' output and the signal pipe once. */
static void poll_once(void)
{
	struct pollfd pfd[NSERVICES + 1];
	int who[NSERVICES + 1], n = 0, timeout = -1;
	long long now = now_ms();

	pfd[n].fd = signal_pipe[0];
	pfd[n].events = POLLIN;
	who[n++] = -1;
	for (int i = 0; i < NSERVICES; i++) {
		struct service *s = &services[i];

		if (s->out >= 0) {
			pfd[n].fd = s->out;
			pfd[n].events = POLLIN;
			who[n++] = i;
		}
		if (s->restart_at) {
			long long left = s->restart_at - now;

			left = left < 0 ? 0 : left;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
	}
	if (poll(pfd, (nfds_t)n, timeout) < 0)
		return;
	for (int k = 0; k < n; k++) {
		struct service *s;
		ssize_t got;

		if (!pfd[k].revents)
			continue;
		if (who[k] < 0) {
			char c;

			(void)!read(signal_pipe[0], &c, 1);
			stopping = 1;
			continue;
		}
		s = &services[who[k]];
		got = read(s->out, s->line + s->len, sizeof(s->line) - s->len);
		if (got > 0) {
			s->len += (size_t)got;
			relay(s, 0);
		} else if (got == 0 || errno != EINTR) {
			ended(s);
		}
	}
	for (int i = 0; i < NSERVICES; i++)
		if (services[i].restart_at &&
		    services[i].restart_at <= now_ms())
			start(&services[i]);
}

static void stop_all(void)
{
	for (int i = 0; i < NSERVICES; i++) {
		struct service *s = &services[i];

		if (!s->cmd)
			continue;
		reexec_stop(s->cmd, GRACE_MS, &s->status);
		relay(s, 0);
		/* What it said while stopping is still in the pipe. */
		for (;;) {
			ssize_t got = read(s->out, s->line + s->len,
			                   sizeof(s->line) - s->len);

			if (got <= 0)
				break;
			s->len += (size_t)got;
			relay(s, 0);
		}
		relay(s, 1);
		reexec_cmd_free(s->cmd);
		s->cmd = NULL;
		s->state = "stopped";
	}
}

static void table(void)
{
	printf("\n%-10s %-12s %-8s %s\n", "SERVICE", "STATE", "RESTARTS",
	       "LAST STATUS");
	for (int i = 0; i < NSERVICES; i++) {
		const struct service *s = &services[i];
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
		printf("%-10s %-12s %-8d %s\n", s->name, s->state, s->restarts,
		       how);
	}
}

int main(int argc, char *argv[])
{
	struct sigaction sa = {.sa_handler = on_stop_signal};
	int demo;

	reexec_register("web", web);
	reexec_register("flaky", flaky);
	reexec_register("stubborn", stubborn);
	reexec_init(argc, argv);
	demo = argc > 1 && strcmp(argv[1], "--demo") == 0;

	if (pipe2(signal_pipe, O_CLOEXEC) < 0)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < NSERVICES; i++)
		start(&services[i]);
	while (!stopping) {
		poll_once();
		/* The demo ends once flaky has given up and the others are
		 * up and talking. */
		if (demo && strcmp(services[1].state, "gave up") == 0 &&
		    services[0].said && services[2].said)
			raise(SIGTERM);
	}
	printf("supervisor: stopping\n");
	stop_all();
	table();
	return 0;
}
