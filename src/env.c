/* The child's environment: a base (inherited or replaced) plus edits. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

extern char **environ;

/* Length of the name in "NAME=value" or "NAME". */
static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

static bool same_name(const char *a, const char *b)
{
	size_t n = name_len(a);

	return n == name_len(b) && memcmp(a, b, n) == 0;
}

/* The library's own variables are only ever set by the spawn itself. */
static bool is_internal(const char *entry)
{
	return same_name(entry, ENV_PARENT) ||
	       same_name(entry, ENV_CLOSE_FROM) ||
	       same_name(entry, ENV_CHANNEL);
}

/* Index of the edit for the name of entry, or -1. */
static ptrdiff_t find_edit(const struct reexec_cmd *cmd, const char *entry)
{
	for (size_t i = 0; i < cmd->env_nedits; i++)
		if (same_name(cmd->env_edits[i], entry))
			return (ptrdiff_t)i;
	return -1;
}

/* Record "NAME=value" (set) or "NAME" (unset), replacing an earlier edit
 * of the same name. Takes ownership of entry. */
static int env_edit(struct reexec_cmd *cmd, char *entry)
{
	ptrdiff_t at = find_edit(cmd, entry);
	char **grown;

	if (at >= 0) {
		free(cmd->env_edits[at]);
		cmd->env_edits[at] = entry;
		return 0;
	}
	grown = realloc(cmd->env_edits, (cmd->env_nedits + 2) * sizeof(*grown));
	if (!grown) {
		free(entry);
		errno = ENOMEM;
		return -1;
	}
	grown[cmd->env_nedits++] = entry;
	grown[cmd->env_nedits] = NULL;
	cmd->env_edits = grown;
	return 0;
}

static int check(const struct reexec_cmd *cmd, const char *name)
{
	return cmd_settable(cmd, name && *name && !strchr(name, '='));
}

int reexec_cmd_setenv(reexec_cmd *cmd, const char *name, const char *value)
{
	size_t nl, vl;
	char *entry;

	if (check(cmd, name) < 0)
		return -1;
	if (!value) {
		errno = EINVAL;
		return -1;
	}
	nl = strlen(name);
	vl = strlen(value);
	entry = malloc(nl + vl + 2);
	if (!entry)
		return -1;
	memcpy(entry, name, nl);
	entry[nl] = '=';
	memcpy(entry + nl + 1, value, vl + 1);
	return env_edit(cmd, entry);
}

int reexec_cmd_unsetenv(reexec_cmd *cmd, const char *name)
{
	char *entry;

	if (check(cmd, name) < 0)
		return -1;
	entry = strdup(name);
	if (!entry)
		return -1;
	return env_edit(cmd, entry);
}

int reexec_cmd_set_environ(reexec_cmd *cmd, char *const envp[])
{
	char **copy;

	if (cmd_settable(cmd, envp != NULL) < 0)
		return -1;
	copy = dup_strv(envp);
	if (!copy)
		return -1;
	free_strv(cmd->environ_base);
	cmd->environ_base = copy;
	return 0;
}

char **env_build(const struct reexec_cmd *cmd)
{
	char **base = cmd->environ_base ? cmd->environ_base : environ;
	size_t nbase = 0, n = 0;
	char **envp;

	while (base && base[nbase])
		nbase++;
	envp = malloc((nbase + cmd->env_nedits + 1) * sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < nbase; i++)
		if (find_edit(cmd, base[i]) < 0 && !is_internal(base[i]))
			envp[n++] = base[i];
	for (size_t i = 0; i < cmd->env_nedits; i++)
		if (strchr(cmd->env_edits[i], '='))
			envp[n++] = cmd->env_edits[i];
	envp[n] = NULL;
	return envp;
}

char **env_extend(char *const env[], char *const extra[])
{
	size_t nenv = 0, nextra = 0;
	char **envp;

	while (env[nenv])
		nenv++;
	while (extra[nextra])
		nextra++;
	envp = malloc((nenv + nextra + 1) * sizeof(*envp));
	if (!envp)
		return NULL;
	memcpy(envp, env, nenv * sizeof(*envp));
	memcpy(envp + nenv, extra, (nextra + 1) * sizeof(*envp));
	return envp;
}
