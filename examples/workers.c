/*
 * workers - a pool of children working through a list of inputs in
 * parallel. Each input travels to a child as its input buffer; the child's
 * answer comes back as its result, with its exit status.
 *
 * Shows the channel: reexec_cmd_set_input() and reexec_take_result() in
 * the parent, reexec_input() and reexec_set_result() in the child, a
 * fixed number of children running at once, and reexec_call() for the
 * one-off case.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <reexec.h>

#define POOL 3 /* children at work at once */

static const char *const texts[] = {
        "the quick brown fox",
        "jumps over",
        "the lazy dog",
        "fork without exec is unsafe in a threaded program",
        "so we exec ourselves",
        "and pass the work over a channel",
};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))

/* upcase: the input, upper-cased, as the result. */
static int upcase(int argc, char *argv[])
{
	const void *in;
	size_t len;
	char *buf;

	(void)argc;
	(void)argv;
	if (reexec_input(&in, &len) < 0) /* read whole before we ran */
		return 1;
	buf = malloc(len + 1);
	if (!buf)
		return 1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)toupper((unsigned char)((const char *)in)[i]);
	if (reexec_set_result(buf, len) < 0)
		return 1;
	free(buf);
	return 0;
}

/* Start a worker on text i. */
static reexec_cmd *start_worker(size_t i)
{
	reexec_cmd *cmd = reexec_command("upcase", NULL);

	if (!cmd || reexec_cmd_set_input(cmd, texts[i], strlen(texts[i])) < 0 ||
	    reexec_start(cmd) < 0) {
		perror("start");
		exit(1);
	}
	return cmd;
}

int main(int argc, char *argv[])
{
	reexec_register("upcase", upcase);
	reexec_init(argc, argv);

	/* Keep POOL children busy; collect the answers in order. The
	 * oldest child is waited for first, while the others work on. */
	reexec_cmd *slot[POOL] = {NULL};
	for (size_t i = 0; i < NTEXTS && i < POOL; i++)
		slot[i] = start_worker(i);
	for (size_t i = 0; i < NTEXTS; i++) {
		reexec_cmd *cmd = slot[i % POOL];
		void *answer;
		size_t len;
		int status;

		if (reexec_wait(cmd, &status) < 0 ||
		    reexec_take_result(cmd, &answer, &len) < 0) {
			perror("worker");
			return 1;
		}
		printf("%zu: %s (%zu bytes, exit %d)\n", i + 1, (char *)answer,
		       len, WEXITSTATUS(status));
		free(answer);
		reexec_cmd_free(cmd);
		slot[i % POOL] =
		        i + POOL < NTEXTS ? start_worker(i + POOL) : NULL;
	}

	/* One input, one answer: reexec_call() does it all. */
	void *out;
	size_t out_len;
	int status;
	if (reexec_call("upcase", "done", 4, &out, &out_len, &status) < 0) {
		perror("reexec_call");
		return 1;
	}
	printf("%s\n", (char *)out);
	free(out);
	return 0;
}
