/* Functions every test binary registers, and small test utilities. */
#ifndef TESTS_HELPERS_H
#define TESTS_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "reexec.h"

/* Register the helpers below, then run reexec_init(); call first in main. */
void helpers_init(int argc, char *argv[]);
/* The same in two halves, for a main that initialises otherwise: register
 * the helpers; after the library is initialised, start the fork server
 * when the suites run with it. */
void helpers_register(void);
void helpers_started(void);

/* The byte at offset i of the "flood" helper's output. */
unsigned char flood_byte(size_t i);
/* FNV-1a of n bytes. */
uint64_t fnv1a(const void *p, size_t n);

/* True when the suite runs under valgrind (make check-valgrind sets
 * TEST_UNDER_VALGRIND). Valgrind turns posix_spawn's vfork into a fork and
 * dies in the child when its exec fails, so exec failures cannot be
 * reported there; it also runs one thread at a time, very slowly. */
int under_valgrind(void);

/* True when the children come from the fork server (make
 * check-forkserver). */
int using_forkserver(void);

/* Reap every child of ours but the fork server, waiting for each. */
void reap_orphans(void);
/* Kill (SIGKILL) and reap every child of ours but the fork server, the
 * orphans that came to a subreaper included, until none is left. */
void kill_orphans(void);

/* Number of open descriptors of this process. */
int count_fds(void);
/* True when this process has no child left, zombie or running (with the
 * fork server: none but the server, and the server none). */
int no_children(void);

/* Interrupt this process with SIGALRM every millisecond (TEST_TIMER_US
 * overrides the interval) through a handler that does not restart system
 * calls, so every blocking call sees EINTR again and again. interrupts_stop
 * ends it and returns how many signals arrived. */
void interrupts_start(void);
int interrupts_stop(void);

/* Run the function name in a child and return its exit code; a probe
 * returns 0 when what it checks held and 2 when it cannot be checked here,
 * which skips the test with the reason given. */
int run_probe(const char *name, const char *skip_reason);

/* Skip the test unless a setuid-root copy of this binary can be run as
 * another user with setpriv (the path given): root, setpriv there, no
 * sanitizer runtime. (Not in builds without cmocka.) */
void skip_unless_setuid_testable(const char *setpriv);

/* Assert that a call failed (rc -1) with errno err; clears errno. (Not
 * in builds without cmocka.) */
void expect_fail(int rc, int err);

/* Run cmd with stdout captured; returns the output (free it) and the exit
 * status in *status; fails the test on error. (Not in builds without
 * cmocka: HELPERS_NO_CMOCKA.) */
char *capture_stdout(reexec_cmd *cmd, size_t *len, int *status);

#endif
