/* tty.c: /dev/tty in a warm child means the caller's controlling terminal, reopened through the launcher (the child has none of its own). */
#include "zygote.h"
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The launcher a warm child serves, set before user code; 0 in the zygote,
 * where /dev/tty is opened as usual. */
static pid_t tty_caller;

/* Remember the launcher (the pid that connected). */
void ztty_set_caller(pid_t launcher)
{
	tty_caller = launcher;
}

/* openat(2) itself, bypassing the wrappers below. */
static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* The launcher's controlling terminal (field 7 of /proc/PID/stat), or 0. */
static dev_t caller_ctty(void)
{
	unsigned long long f[7];
	if (tty_caller <= 0 || pw_proc_stat(tty_caller, f, 7) != 7 || f[6] == 0)
		return 0;
	unsigned long tty = (unsigned long)f[6];
	return makedev((tty >> 8) & 0xfff, (tty & 0xff) | ((tty >> 12) & 0xfff00));
}

/* The caller's terminal opened by its device file, for a sandboxed run:
 * its Landlock domain keeps it out of the launcher's descriptors.  Only a
 * pseudo-terminal has a name that follows from its number (/dev/pts/N);
 * the file must be that device, on the same devpts as the terminal among
 * our own descriptors, if there is one.  Else EACCES, as refused. */
static int open_tty_by_name(dev_t tty, int flags, mode_t mode)
{
	struct stat st, own;
	char path[64];

	if (major(tty) != 136) {                  /* UNIX98_PTY_SLAVE_MAJOR */
		errno = EACCES;
		return -1;
	}
	snprintf(path, sizeof path, "/dev/pts/%u", minor(tty));
	if (stat(path, &st) < 0)
		return -1;
	for (int fd = 0; fd < 3; fd++)
		if (fstat(fd, &own) == 0 && S_ISCHR(own.st_mode) && own.st_rdev == tty &&
		    own.st_dev != st.st_dev) {
			errno = EACCES;
			return -1;
		}
	if (!S_ISCHR(st.st_mode) || st.st_rdev != tty) {
		errno = EACCES;
		return -1;
	}
	return sys_openat(AT_FDCWD, path, flags | O_NOCTTY, mode);
}

/* Open /dev/tty as python3 would: a new open file description of the
 * caller's terminal, found among the launcher's descriptors (it holds one
 * on the terminal for the run), or ENXIO when the caller has none. */
static int open_caller_tty(int flags, mode_t mode)
{
	dev_t tty = caller_ctty();
	char dir[64], path[64 + sizeof(((struct dirent *)0)->d_name)];
	int fd = -1;

	if (tty == 0) {
		errno = ENXIO;
		return -1;
	}
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)tty_caller);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && fd < 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == tty)
			fd = sys_openat(AT_FDCWD, path, flags | O_NOCTTY, mode);
	}
	if (d)
		closedir(d);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		return open_tty_by_name(tty, flags, mode);
	if (fd < 0)
		errno = ENXIO;
	return fd;
}

/* The open flags' mode argument, present only with O_CREAT or O_TMPFILE. */
#define TAKE_MODE(flags, mode) do {                             \
	if ((flags) & (O_CREAT | O_TMPFILE)) {                  \
		va_list ap;                                     \
		va_start(ap, flags);                            \
		mode = va_arg(ap, mode_t);                      \
		va_end(ap);                                     \
	}                                                       \
} while (0)

/* Every open libpython and extension modules make goes through these (the
 * executable's definitions come first in the symbol search); sysread.c
 * counts the relative ones while the zygote preloads. */
static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	zsys_note_path(dirfd, path);            /* a relative one, while preloading */
	if (tty_caller > 0 && path && strcmp(path, "/dev/tty") == 0)
		return open_caller_tty(flags, mode);
	return sys_openat(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	TAKE_MODE(flags, mode);
	return open_common(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	TAKE_MODE(flags, mode);
	return open_common(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	TAKE_MODE(flags, mode);
	return open_common(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	TAKE_MODE(flags, mode);
	return open_common(dirfd, path, flags, mode);
}
