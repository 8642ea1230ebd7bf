/* The child's attributes on the command: who it runs as, its limits,
 * root, namespaces, cgroup and terminal. The setters check what can be
 * checked now and record plain data (struct attrs); the start encodes it
 * for the child, which applies it in one place (isolate.c), and writes
 * what only the parent can write at the child's barrier (attr_start.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define NAMESPACES                                                   \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME)

void cmd_attrs_release(struct reexec_cmd *cmd)
{
	struct attrs *a = cmd->attrs;

	free(cmd->attr_out);
	cmd->attr_out = NULL;
	if (!a)
		return;
	attrs_free(a);
	free(a->chroot);
	close_keep_errno(a->cgroup_fd);
	free(a);
	cmd->attrs = NULL;
}

/* The command's attributes, made on first use; NULL with errno set
 * (EINVAL, EBUSY as cmd_settable(), ENOMEM). */
static struct attrs *settable(struct reexec_cmd *cmd, bool args_ok)
{
	if (!args_ok) {
		errno = EINVAL;
		return NULL;
	}
	if (cmd_settable(cmd, true) < 0)
		return NULL;
	if (!cmd->attrs) {
		cmd->attrs = calloc(1, sizeof(*cmd->attrs));
		if (!cmd->attrs)
			return NULL;
		cmd->attrs->cgroup_fd = -1;
		cmd->attrs->ctty = -1;
	}
	return cmd->attrs;
}

int reexec_cmd_set_user(reexec_cmd *cmd, uid_t uid, gid_t gid, size_t ngroups,
                        const gid_t *groups)
{
	struct attrs *a = settable(cmd, uid != (uid_t)-1 && gid != (gid_t)-1 &&
	                                        (groups || !ngroups) &&
	                                        ngroups <= ATTR_MAX_GROUPS);
	uint32_t *copy = NULL;

	if (!a)
		return -1;
	if (ngroups) {
		copy = malloc(ngroups * sizeof(*copy));
		if (!copy)
			return -1;
		for (size_t i = 0; i < ngroups; i++)
			copy[i] = groups[i];
	}
	free(a->groups);
	a->groups = copy;
	a->ngroups = (uint32_t)ngroups;
	a->uid = uid;
	a->gid = gid;
	a->set |= ATTR_USER;
	return 0;
}

int reexec_cmd_set_rlimit(reexec_cmd *cmd, int resource,
                          const struct rlimit *limit)
{
	struct attrs *a = settable(
	        cmd, resource >= 0 && resource < RLIMIT_NLIMITS && limit &&
	                     limit->rlim_cur <= limit->rlim_max);
	struct attr_limit *grown;
	uint32_t i = 0;

	if (!a)
		return -1;
	while (i < a->nlimits && a->limits[i].resource != resource)
		i++;
	if (i == a->nlimits) {
		grown = realloc(a->limits, (i + 1) * sizeof(*grown));
		if (!grown)
			return -1;
		a->limits = grown;
		a->nlimits++;
	}
	a->limits[i] =
	        (struct attr_limit){resource, limit->rlim_cur, limit->rlim_max};
	return 0;
}

int reexec_cmd_set_umask(reexec_cmd *cmd, mode_t mask)
{
	struct attrs *a = settable(cmd, (mask & ~(mode_t)0777) == 0);

	if (!a)
		return -1;
	a->umask = mask;
	a->set |= ATTR_UMASK;
	return 0;
}

int reexec_cmd_set_chroot(reexec_cmd *cmd, const char *dir)
{
	struct attrs *a = settable(cmd, dir && *dir);
	char *copy;

	if (!a)
		return -1;
	copy = strdup(dir);
	if (!copy)
		return -1;
	free(a->chroot);
	a->chroot = copy;
	a->set |= ATTR_CHROOT;
	return 0;
}

int reexec_cmd_no_new_privs(reexec_cmd *cmd)
{
	struct attrs *a = settable(cmd, true);

	if (!a)
		return -1;
	a->set |= ATTR_NNP;
	return 0;
}

int reexec_cmd_set_namespaces(reexec_cmd *cmd, int clone_flags)
{
	struct attrs *a = settable(cmd, (clone_flags & ~NAMESPACES) == 0);

	if (!a)
		return -1;
	a->namespaces = clone_flags;
	return 0;
}

/* Do [lo, lo + n) and [lo2, lo2 + n2) overlap? */
static bool overlap(uint32_t lo, uint32_t n, uint32_t lo2, uint32_t n2)
{
	return (uint64_t)lo < (uint64_t)lo2 + n2 &&
	       (uint64_t)lo2 < (uint64_t)lo + n;
}

static int add_map(struct reexec_cmd *cmd, bool gid, uint32_t inside,
                   uint32_t outside, uint32_t count)
{
	struct attrs *a = settable(
	        cmd, count > 0 && (uint64_t)inside + count <= UINT32_MAX &&
	                     (uint64_t)outside + count <= UINT32_MAX);
	struct id_map **maps, *grown;
	uint32_t *n;

	if (!a)
		return -1;
	maps = gid ? &a->gid_maps : &a->uid_maps;
	n = gid ? &a->ngid_maps : &a->nuid_maps;
	for (uint32_t i = 0; i < *n; i++)
		if (overlap(inside, count, (*maps)[i].inside,
		            (*maps)[i].count) ||
		    overlap(outside, count, (*maps)[i].outside,
		            (*maps)[i].count)) {
			errno = EINVAL;
			return -1;
		}
	if (*n >= ATTR_MAX_MAPS) {
		errno = EINVAL;
		return -1;
	}
	grown = realloc(*maps, (*n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	grown[(*n)++] = (struct id_map){inside, outside, count};
	*maps = grown;
	return 0;
}

int reexec_cmd_uid_map(reexec_cmd *cmd, uid_t inside, uid_t outside,
                       uid_t count)
{
	return add_map(cmd, false, inside, outside, count);
}

int reexec_cmd_gid_map(reexec_cmd *cmd, gid_t inside, gid_t outside,
                       gid_t count)
{
	return add_map(cmd, true, inside, outside, count);
}

int reexec_cmd_setgroups(reexec_cmd *cmd, int allow)
{
	struct attrs *a = settable(cmd, allow == 0 || allow == 1);

	if (!a)
		return -1;
	a->set |= ATTR_SETGROUPS;
	a->set &= ~(uint32_t)ATTR_NOSETGROUPS;
	if (!allow)
		a->set |= ATTR_NOSETGROUPS;
	return 0;
}

int reexec_cmd_set_cgroup(reexec_cmd *cmd, int cgroup_dirfd)
{
	struct attrs *a = settable(cmd, true);
	struct stat st;
	int copy;

	if (!a)
		return -1;
	if (cgroup_dirfd < 0 || fstat(cgroup_dirfd, &st) < 0) {
		errno = EBADF;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	copy = fcntl(cgroup_dirfd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return -1;
	close_keep_errno(a->cgroup_fd);
	a->cgroup_fd = copy;
	a->set |= ATTR_CGROUP;
	return 0;
}

int reexec_cmd_set_ctty(reexec_cmd *cmd, int child_fd)
{
	struct attrs *a = settable(cmd, true);

	if (!a)
		return -1;
	if (child_fd < 0) {
		errno = EBADF;
		return -1;
	}
	a->ctty = child_fd;
	a->set |= ATTR_CTTY;
	return 0;
}

int reexec_cmd_set_ambient_caps(reexec_cmd *cmd, size_t ncaps, const int *caps)
{
	struct attrs *a = settable(cmd, caps || !ncaps);
	uint64_t bits = 0;

	if (!a)
		return -1;
	for (size_t i = 0; i < ncaps; i++) {
		if (caps[i] < 0 || caps[i] > 63) {
			errno = EINVAL;
			return -1;
		}
		bits |= (uint64_t)1 << caps[i];
	}
	a->ambient = bits;
	a->set |= ATTR_AMBIENT;
	return 0;
}

int reexec_cmd_set_nice(reexec_cmd *cmd, int nice)
{
	struct attrs *a = settable(cmd, nice >= -20 && nice <= 19);

	if (!a)
		return -1;
	a->nice = nice;
	a->set |= ATTR_NICE;
	return 0;
}

int reexec_cmd_set_oom_score_adj(reexec_cmd *cmd, int adj)
{
	struct attrs *a = settable(cmd, adj >= -1000 && adj <= 1000);

	if (!a)
		return -1;
	a->oom_score_adj = adj;
	a->set |= ATTR_OOM;
	return 0;
}

int reexec_failed_step(const reexec_cmd *cmd)
{
	if (!cmd) {
		errno = EINVAL;
		return -1;
	}
	return cmd->failed_step;
}

const char *cmd_launch_dir(const struct reexec_cmd *cmd)
{
	return cmd->attrs && cmd->attrs->chroot ? NULL : cmd->dir;
}

/* Writing the encoding: measuring only while out is NULL. */
struct enc {
	unsigned char *out;
	size_t len;
};

static void put(struct enc *e, const void *p, size_t n)
{
	if (e->out)
		memcpy(e->out + e->len, p, n);
	e->len += n;
}

static void put32(struct enc *e, uint32_t v)
{
	put(e, &v, sizeof(v));
}

static void put64(struct enc *e, uint64_t v)
{
	put(e, &v, sizeof(v));
}

static void put_str(struct enc *e, const char *s)
{
	put(e, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* The layout attrs_decode() (wire.c) reads. */
static void encode(struct enc *e, const struct attrs *a, uint32_t set,
                   const char *dir)
{
	put32(e, set);
	put32(e, a->uid);
	put32(e, a->gid);
	put32(e, a->ngroups);
	for (uint32_t i = 0; i < a->ngroups; i++)
		put32(e, a->groups[i]);
	put32(e, a->nlimits);
	for (uint32_t i = 0; i < a->nlimits; i++) {
		put32(e, (uint32_t)a->limits[i].resource);
		put64(e, a->limits[i].cur);
		put64(e, a->limits[i].max);
	}
	put32(e, a->umask);
	put_str(e, a->chroot);
	put_str(e, a->chroot ? dir : NULL);
	put32(e, (uint32_t)a->namespaces);
	put32(e, (uint32_t)a->ctty);
	put64(e, a->ambient);
	put32(e, (uint32_t)a->nice);
	put32(e, (uint32_t)a->oom_score_adj);
}

unsigned char *attrs_encode(const struct attrs *a, const char *dir, size_t *len)
{
	struct enc e = {0};
	uint32_t set = a->set;

	if (a->nuid_maps || a->ngid_maps || a->cgroup_fd >= 0)
		set |= ATTR_BARRIER;
	/* Without a word from the caller, a new user namespace whose gid
	 * map the parent writes denies setgroups (an unprivileged parent
	 * must, and Go does the same). */
	if ((a->namespaces & CLONE_NEWUSER) && !(set & ATTR_SETGROUPS))
		set |= ATTR_NOSETGROUPS;
	encode(&e, a, set, dir);
	e.out = malloc(e.len);
	if (!e.out)
		return NULL;
	*len = e.len;
	e.len = 0;
	encode(&e, a, set, dir);
	return e.out;
}
