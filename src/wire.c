/* What a child parses: the values its parent put in the environment, and
 * the frames on the channel. Pure functions, no system calls, so that they
 * can be fed arbitrary bytes (tests/fuzz_wire.c does).
 *
 * A frame is one SOCK_SEQPACKET message: an 8-byte header, the type and
 * the body length as two 32-bit numbers in the machine's byte order (both
 * ends run the same binary), then the body. A data stream (the input, the
 * result) is a DATA_BEGIN frame carrying the total length as 64 bits,
 * then DATA frames whose bodies add up to exactly that length.
 *
 * The fork server, a child too, parses its requests here (the layout is
 * in internal.h). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t frame_header(unsigned char hdr[FRAME_HDR], enum frame_type type,
                    size_t len)
{
	uint32_t t = (uint32_t)type, n = (uint32_t)len;

	memcpy(hdr, &t, 4);
	memcpy(hdr + 4, &n, 4);
	return FRAME_HDR;
}

/* The body length each type must have; -1: up to FRAME_CHUNK. */
static long body_size(uint32_t type)
{
	switch (type) {
	case FRAME_READY:
	case FRAME_STARTED:
	case FRAME_BARRIER:
	case FRAME_GO:
		return 0;
	case FRAME_STATUS:
		return STATUS_BODY;
	case FRAME_EXIT:
		return EXIT_BODY;
	case FRAME_ERROR:
	case FRAME_FORKED:
		return 4;
	case FRAME_BEGIN:
	case FRAME_ATTRS:
	case FRAME_FAILED:
		return 8;
	case FRAME_DATA:
		return -1;
	default:
		return -2;
	}
}

int frame_decode(const unsigned char hdr[FRAME_HDR], const void *body,
                 size_t len, struct frame *f)
{
	uint32_t type, n;
	long want;

	memcpy(&type, hdr, 4);
	memcpy(&n, hdr + 4, 4);
	want = body_size(type);
	if (want == -2 || n != len)
		goto bad;
	if (want >= 0 ? len != (size_t)want : len > FRAME_CHUNK)
		goto bad;
	f->type = (enum frame_type)type;
	f->body = body;
	f->len = len;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

int frame_int(const struct frame *f)
{
	int32_t v;

	memcpy(&v, f->body, 4);
	return v;
}

void status_body(unsigned char b[STATUS_BODY], int value, long long peak_kib)
{
	int32_t v = value;
	int64_t peak = peak_kib;

	memcpy(b, &v, 4);
	memcpy(b + 4, &peak, 8);
}

long long status_peak(const struct frame *f)
{
	int64_t peak;

	memcpy(&peak, f->body + 4, 8);
	return peak < 0 ? -1 : peak;
}

_Static_assert(EXIT_FIELDS * 8 == EXIT_BODY, "FRAME_EXIT's body");

void exit_body(unsigned char b[EXIT_BODY], int status, const struct rusage *ru)
{
	int64_t v[EXIT_FIELDS] = {
	        status,
	        (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec,
	        (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec,
	        ru->ru_maxrss,
	        ru->ru_minflt,
	        ru->ru_majflt,
	        ru->ru_inblock,
	        ru->ru_oublock,
	        ru->ru_nvcsw,
	        ru->ru_nivcsw,
	};

	memcpy(b, v, sizeof(v));
}

/* A count as a long, whatever came: 0 to LONG_MAX. */
static long count(int64_t v)
{
	return v < 0 ? 0 : v > LONG_MAX ? LONG_MAX : (long)v;
}

static struct timeval duration(int64_t us)
{
	struct timeval tv = {0, 0};

	if (us > 0) {
		tv.tv_sec = (time_t)(us / 1000000);
		tv.tv_usec = (long)(us % 1000000);
	}
	return tv;
}

int exit_decode(const struct frame *f, struct rusage *ru)
{
	int64_t v[EXIT_FIELDS];

	memcpy(v, f->body, sizeof(v));
	*ru = (struct rusage){0};
	ru->ru_utime = duration(v[1]);
	ru->ru_stime = duration(v[2]);
	ru->ru_maxrss = count(v[3]);
	ru->ru_minflt = count(v[4]);
	ru->ru_majflt = count(v[5]);
	ru->ru_inblock = count(v[6]);
	ru->ru_oublock = count(v[7]);
	ru->ru_nvcsw = count(v[8]);
	ru->ru_nivcsw = count(v[9]);
	return v[0] < INT_MIN || v[0] > INT_MAX ? 0 : (int)v[0];
}

int stream_feed(struct stream *s, const struct frame *f)
{
	if (!s->begun) {
		uint64_t total;

		if (f->type != FRAME_BEGIN)
			goto bad;
		memcpy(&total, f->body, 8);
		if (total > REEXEC_DATA_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		/* One spare byte: the data always ends in a NUL, so text
		 * can be used as a string. */
		s->data = malloc((size_t)total + 1);
		if (!s->data) {
			errno = ENOMEM;
			return -1;
		}
		s->data[total] = '\0';
		s->total = (size_t)total;
		s->len = 0;
		s->begun = true;
		return s->total == 0;
	}
	if (f->type != FRAME_DATA || s->len == s->total ||
	    f->len > s->total - s->len || f->len == 0)
		goto bad;
	/* (The body may have been received in place already.) */
	memmove(s->data + s->len, f->body, f->len);
	s->len += f->len;
	return s->len == s->total;
bad:
	errno = EPROTO;
	return -1;
}

bool stream_complete(const struct stream *s)
{
	return s->begun && s->len == s->total;
}

void stream_free(struct stream *s)
{
	free(s->data);
	*s = (struct stream){0};
}

/* A decimal number from 0 to max, digits only; -1 for anything else. */
static long parse_number(const char *s, size_t n, long max)
{
	long v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	return v;
}

int parse_fd(const char *s)
{
	long v = s ? parse_number(s, strlen(s), INT_MAX) : -1;

	return v >= 3 ? (int)v : -1;
}

int parse_parent(const char *s, int *fd, int *sig, pid_t *ppid)
{
	const char *c1, *c2;
	long f, g, p;

	if (!s || !(c1 = strchr(s, ':')) || !(c2 = strchr(c1 + 1, ':')))
		return -1;
	f = parse_number(s, (size_t)(c1 - s), INT_MAX);
	g = parse_number(c1 + 1, (size_t)(c2 - c1 - 1), 64);
	p = parse_number(c2 + 1, strlen(c2 + 1), INT_MAX);
	if (f < 3 || g < 0 || p < 1)
		return -1;
	*fd = (int)f;
	*sig = (int)g;
	*ppid = (pid_t)p;
	return 0;
}

/* --- fork server requests ------------------------------------------ */

struct rbuf {
	char *p, *end;
	bool bad;
};

/* The next n bytes into x (left as it is, and r bad, past the end). */
static void get_bytes(struct rbuf *r, void *x, size_t n)
{
	if (r->end - r->p < (ptrdiff_t)n) {
		r->bad = true;
		return;
	}
	memcpy(x, r->p, n);
	r->p += n;
}

static int get_int(struct rbuf *r)
{
	int32_t x = 0;

	get_bytes(r, &x, sizeof(x));
	return x;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t x = 0;

	get_bytes(r, &x, sizeof(x));
	return x;
}

static char *get_str(struct rbuf *r)
{
	char *s = r->p, *nul;

	nul = r->bad ? NULL : memchr(s, '\0', (size_t)(r->end - s));
	if (!nul) {
		r->bad = true;
		return NULL;
	}
	r->p = nul + 1;
	return s;
}

/* A NULL-terminated vector of the strings that follow (malloc'd array,
 * strings in the buffer). */
static char **get_strv(struct rbuf *r)
{
	int n = get_int(r);
	char **v;

	if (r->bad || n < 0 || n > (r->end - r->p)) {
		r->bad = true;
		return NULL;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		r->bad = true;
		return NULL;
	}
	for (int i = 0; i < n && !r->bad; i++)
		v[i] = get_str(r);
	if (r->bad) {
		free(v);
		return NULL;
	}
	return v;
}

void request_free(struct request *q)
{
	free(q->slot);
	free(q->argv);
	free(q->envp);
}

int parse_request(char *body, size_t len, int nfds, struct request *q)
{
	struct rbuf r = {body, body + len, false};
	bool has_dir;

	*q = (struct request){0};
	q->nfd = get_int(&r);
	if (r.bad || q->nfd < 3 || q->nfd > REQ_MAX_FDS + 3)
		return -1;
	q->slot = calloc((size_t)q->nfd, sizeof(*q->slot));
	if (!q->slot)
		return -1;
	for (int i = 0; i < q->nfd; i++) {
		q->slot[i] = get_int(&r);
		if (q->slot[i] < -1 || q->slot[i] >= nfds)
			r.bad = true;
	}
	q->chan_slot = get_int(&r);
	q->pgroup = get_int(&r);
	q->pgid = get_int(&r);
	has_dir = !r.bad && r.p < r.end && *r.p++ == '1';
	q->dir = get_str(&r);
	if (!has_dir)
		q->dir = NULL;
	q->in.umask = (unsigned)get_int(&r) & 0777;
	q->in.nice = get_int(&r);
	if (get_int(&r) != INHERIT_LIMITS)
		r.bad = true;
	for (int i = 0; i < INHERIT_LIMITS && !r.bad; i++) {
		q->in.limit[i][0] = get_u64(&r);
		q->in.limit[i][1] = get_u64(&r);
	}
	q->argv = get_strv(&r);
	q->envp = get_strv(&r);
	if (r.bad || !q->argv || !q->argv[0] || q->chan_slot < 3 ||
	    q->chan_slot >= q->nfd || q->slot[q->chan_slot] < 0) {
		request_free(q);
		return -1;
	}
	return 0;
}

/* --- a child's attributes (attr.c encodes them) --------------------- */

/* n numbers of 32 bits, in a malloc'd array (NULL for none). */
static uint32_t *get_u32v(struct rbuf *r, uint32_t n, size_t max)
{
	uint32_t *v;

	if (r->bad || n > max || (size_t)(r->end - r->p) / 4 < n) {
		r->bad = true;
		return NULL;
	}
	if (n == 0)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (!v) {
		r->bad = true;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		v[i] = (uint32_t)get_int(r);
	return v;
}

void attrs_free(struct attrs *a)
{
	free(a->groups);
	free(a->limits);
	free(a->uid_maps);
	free(a->gid_maps);
	a->groups = NULL;
	a->limits = NULL;
	a->uid_maps = a->gid_maps = NULL;
}

int attrs_decode(char *buf, size_t len, struct attrs *a)
{
	struct rbuf r = {buf, buf + len, false};

	*a = (struct attrs){.cgroup_fd = -1};
	a->set = (uint32_t)get_int(&r);
	a->uid = (uint32_t)get_int(&r);
	a->gid = (uint32_t)get_int(&r);
	a->ngroups = (uint32_t)get_int(&r);
	a->groups = get_u32v(&r, a->ngroups, ATTR_MAX_GROUPS);
	a->nlimits = (uint32_t)get_int(&r);
	if (!r.bad && a->nlimits > 0 && a->nlimits <= 64) {
		a->limits = calloc(a->nlimits, sizeof(*a->limits));
		for (uint32_t i = 0; a->limits && i < a->nlimits; i++) {
			a->limits[i].resource = get_int(&r);
			a->limits[i].cur = get_u64(&r);
			a->limits[i].max = get_u64(&r);
		}
		r.bad |= !a->limits;
	} else if (a->nlimits) {
		r.bad = true;
	}
	a->umask = (uint32_t)get_int(&r) & 0777;
	a->chroot = get_str(&r);
	a->dir = get_str(&r);
	a->namespaces = get_int(&r);
	a->ctty = get_int(&r);
	a->ambient = get_u64(&r);
	a->nice = get_int(&r);
	a->oom_score_adj = get_int(&r);
	if (r.bad || r.p != r.end) {
		attrs_free(a);
		return -1;
	}
	if (!*a->chroot)
		a->chroot = NULL;
	if (!*a->dir)
		a->dir = NULL;
	return 0;
}
