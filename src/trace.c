/* The marks of trace.h, in the tracing build only (-DREEXEC_TRACE). One
 * place keeps each process's page and fault count, whichever file marks. */
#define _GNU_SOURCE
#include "trace.h"

#ifdef REEXEC_TRACE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct trace_page *page;
static long last_minor, last_major;
static long long last_cpu;
static pid_t owner;

static long long cpu_ns(const struct rusage *ru)
{
	return ((long long)ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) *
	               1000000000LL +
	       ((long long)ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

static struct trace_page *trace_page(void)
{
	const char *path;
	int fd;

	if (page)
		return page;
	path = getenv("REEXEC_TRACE");
	fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	            0);
	close(fd);
	if (page == MAP_FAILED)
		page = NULL;
	return page;
}

void trace_mark(enum trace_mark m, const char *name)
{
	struct trace_page *p;
	struct rusage ru;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	p = trace_page();
	if (!p)
		return;
	if (owner != getpid()) { /* a fresh process counts from 0 */
		owner = getpid();
		last_minor = last_major = 0;
		last_cpu = 0;
	}
	getrusage(RUSAGE_THREAD, &ru);
	p->ns[m] = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	p->faults[m] = ru.ru_minflt - last_minor;
	p->major[m] = ru.ru_majflt - last_major;
	p->cpu_ns[m] = cpu_ns(&ru) - last_cpu;
	last_cpu = cpu_ns(&ru);
	last_minor = ru.ru_minflt;
	last_major = ru.ru_majflt;
	if (p->strace) {
		size_t n = 0;

		while (name[n])
			n++;
		(void)syscall(SYS_write, -1, name, n);
	}
}

/* After a child was reaped: what it used in all, from the growth of the
 * totals of reaped children. */
void trace_reaped(void)
{
	static long faults;
	static long long cpu;
	struct trace_page *p = trace_page();
	struct rusage ru;

	if (!p || getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return;
	p->child_faults = ru.ru_minflt - faults;
	p->child_cpu_ns = cpu_ns(&ru) - cpu;
	faults = ru.ru_minflt;
	cpu = cpu_ns(&ru);
}
#else
typedef int trace_unused; /* (ISO C wants something in a file) */
#endif
