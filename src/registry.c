/* The registry: registered names and their functions, kept sorted by name
 * so that lookups stay cheap however many names a program registers. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct entry {
	char *name;
	reexec_fn fn;
	int flags;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;
static size_t nentries, capacity;

/* Index of name, or of the place it would be inserted; *found says which. */
static size_t find(const char *name, int *found)
{
	size_t lo = 0, hi = nentries;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, entries[mid].name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int name_valid(const char *name)
{
	size_t len;

	if (!name)
		return 0;
	len = strnlen(name, REEXEC_NAME_MAX + 1);
	return len > 0 && len <= REEXEC_NAME_MAX && !memchr(name, '/', len) &&
	       strncmp(name, "reexec-", 7) != 0;
}

static int add(const char *name, reexec_fn fn, int flags)
{
	struct entry *grown;
	char *copy;
	size_t at;
	int found, err = 0;

	if (!name_valid(name) || !fn) {
		errno = EINVAL;
		return -1;
	}
	copy = strdup(name);
	if (!copy)
		return -1;

	pthread_mutex_lock(&registry_lock);
	at = find(name, &found);
	if (found) {
		err = EEXIST;
		goto out;
	}
	if (nentries == capacity) {
		size_t want = capacity ? capacity * 2 : 16;

		grown = realloc(entries, want * sizeof(*entries));
		if (!grown) {
			err = ENOMEM;
			goto out;
		}
		entries = grown;
		capacity = want;
	}
	memmove(&entries[at + 1], &entries[at],
	        (nentries - at) * sizeof(*entries));
	entries[at].name = copy;
	entries[at].fn = fn;
	entries[at].flags = flags;
	nentries++;
	copy = NULL;
out:
	pthread_mutex_unlock(&registry_lock);
	free(copy);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int reexec_register(const char *name, reexec_fn fn)
{
	return add(name, fn, 0);
}

int reexec_register_multicall(const char *name, reexec_fn fn, int flags)
{
	if (flags & ~REEXEC_ALLOW_SETUID) {
		errno = EINVAL;
		return -1;
	}
	return add(name, fn, flags | REG_MULTICALL);
}

/* The function registered as name and its flags; NULL when none. */
reexec_fn registry_lookup(const char *name, int *flags)
{
	reexec_fn fn = NULL;
	size_t at;
	int found;

	if (!name_valid(name))
		return NULL;
	pthread_mutex_lock(&registry_lock);
	at = find(name, &found);
	if (found) {
		fn = entries[at].fn;
		*flags = entries[at].flags;
	}
	pthread_mutex_unlock(&registry_lock);
	return fn;
}
