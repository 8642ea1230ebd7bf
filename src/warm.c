/* A fork-server spare, before it waits for a request: the code a child's
 * set-up runs is mapped now, while nobody waits, rather than one fault at
 * a time between the request and the function.
 *
 * A forked process gets no page table entries for the code of the program
 * and its libraries (only for memory that was written): the first call
 * into each page of code is a page fault, which maps the pages around it
 * too. On a virtual machine such a fault costs tens of microseconds, and a
 * child's set-up (parsing the request, the signal mask, the parent-death
 * check, the registry) made half a dozen of them while its caller waited.
 * So the spare calls the same library functions first, on nothing. It
 * does not write the program's data ahead (each page it writes is a copy,
 * made whether the child needs it or not: measured slower, README). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

void spare_warm(void)
{
	static volatile size_t n = 16; /* (a length the compiler cannot see) */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {0};
	char buf[16];
	sigset_t set;
	int flags, fd = -1;

	/* What parse_request(), become_child(), registry_lookup() and
	 * parent_child_setup() call first, and the server's reply. */
	memset(buf, 0, n);
	(void)memchr(buf, 1, n);
	free(calloc(1, n));
	sigemptyset(&set);
	(void)getenv(ENV_PARENT);
	(void)registry_lookup("-", &flags);
	msg_put_fds(&msg, u.buf, &fd, 0);
}
