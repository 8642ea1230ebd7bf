/* libFuzzer target: everything a child parses from its environment and
 * its channel. The input is cut into messages, each prefixed by a 2-byte
 * length; each message goes through frame decoding into a data stream,
 * as the child's reader and the parent's receiver do; the first message
 * also goes, as a string, through the environment parsers, and every one
 * through the fork server's request parser and the attributes' parser.
 *   make fuzz   (clang -fsanitize=fuzzer,address) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_env(const uint8_t *p, size_t n)
{
	char s[80];
	int fd, sig;
	pid_t ppid;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, p, n);
	s[n] = '\0';
	(void)parse_fd(s);
	if (parse_parent(s, &fd, &sig, &ppid) == 0 &&
	    (fd < 3 || sig < 0 || sig > 64 || ppid < 1))
		abort();
}

/* As the server parses a request that came with 4 descriptors. */
static void parse_req(const uint8_t *p, size_t n)
{
	char *body = malloc(n ? n : 1);
	struct request q;

	if (!body)
		return;
	memcpy(body, p, n);
	if (parse_request(body, n, 4, &q) == 0) {
		if (!q.argv[0] || q.chan_slot < 3 || q.chan_slot >= q.nfd ||
		    q.slot[q.chan_slot] < 0 || q.slot[q.chan_slot] >= 4)
			abort();
		for (char **v = q.envp; *v; v++)
			if (*v < body || *v + strlen(*v) >= body + n)
				abort();
		request_free(&q);
	}
	free(body);
}

/* As a child parses the attributes that came before its input. */
static void parse_attrs(const uint8_t *p, size_t n)
{
	char *buf = malloc(n ? n : 1);
	struct attrs a;

	if (!buf)
		return;
	memcpy(buf, p, n);
	if (attrs_decode(buf, n, &a) == 0) {
		if ((a.chroot && (a.chroot < buf || a.chroot >= buf + n)) ||
		    (a.ngroups && !a.groups) || a.nlimits > 64)
			abort();
		attrs_free(&a);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream s = {0};
	bool first = true;

	while (size >= 2) {
		size_t n = (size_t)data[0] | (size_t)data[1] << 8;
		struct frame f;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (first)
			parse_env(data, n);
		parse_req(data, n);
		parse_attrs(data, n);
		first = false;
		if (n >= FRAME_HDR && frame_decode(data, data + FRAME_HDR,
		                                   n - FRAME_HDR, &f) == 0) {
			int rc = stream_feed(&s, &f);

			if (rc < 0 || (rc == 1 && !stream_complete(&s)))
				break;
			if (s.begun && s.len > s.total)
				abort();
		}
		data += n;
		size -= n;
	}
	stream_free(&s);
	return 0;
}
