/* tree.h: a temporary directory tree and a known environment for the unit tests that touch files (header-only, one copy per test program). */
#ifndef PW_UNIT_TREE_H
#define PW_UNIT_TREE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#define UNUSED __attribute__((unused))

/* The temporary tree the file system tests work in (made by tree_init). */
static char tmproot[64];

/* Path of rel inside the temporary tree (static buffer, one at a time per slot). */
UNUSED static const char *tp(int slot, const char *rel)
{
	static char buf[4][512];

	snprintf(buf[slot], sizeof(buf[slot]), "%s%s%s", tmproot, *rel ? "/" : "", rel);
	return buf[slot];
}

/* Write a file with exactly this mode. */
UNUSED static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

/* Remove one entry during a depth-first walk. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Empty the temporary tree (keeping its root). */
UNUSED static void reset_tree(void)
{
	nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	CHECK(mkdir(tmproot, 0700) == 0);
}

/* A known environment: no pywarm or XDG variables, HOME in the tree. */
UNUSED static void clean_env(void)
{
	unsetenv("PYWARM_PROFILE");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", tp(0, "home"), 1);
}

/* Make the tree (named after the test program); 0, or -1 said. */
static int tree_init(const char *name)
{
	snprintf(tmproot, sizeof(tmproot), "/tmp/pw-%s.XXXXXX", name);
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	umask(022);
	return 0;
}

/* Remove the tree. */
static void tree_done(void)
{
	nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
