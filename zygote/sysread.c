/* sysread.c: the zygote's own definitions of the C library calls whose answer depends on the working directory (a file-system call with a relative path, chdir) or on the clock: while the zygote preloads, each counts, so that warm.c can tell which module's import made one; otherwise each is the C library's. */
#include "zygote.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* glibc's fortified open(2)s (declared only under _FORTIFY_SOURCE). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);

/* File-static: the C library calls that count have no context.  Set and
 * read by the thread that preloads; another thread's call while it does
 * counts too (for the module being loaded: fail closed). */
static int watching;                 /* 1 while warm.c preloads */
static int clock_exempt;             /* the module being loaded may read the clock */
static int clock_shared;             /* [preload] clock = shared: no read counts */
static unsigned long relative_calls, clock_calls;

/* The next definition of name (the C library's), looked up once. */
#define REAL(name) \
	static __typeof__(name) *real; \
	if (real == NULL) \
		real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name); \
	if (real == NULL) { \
		errno = ENOSYS; \
		return ENOSYS_RESULT; \
	}

/* Count a call on path (relative to dirfd), if it depends on the working directory. */
static inline void note_path(int dirfd, const char *path)
{
	if (__builtin_expect(watching, 0) && dirfd == AT_FDCWD && path != NULL && path[0] != '/')
		__atomic_add_fetch(&relative_calls, 1, __ATOMIC_RELAXED);
}

/* The one caller of the clock libpython has whose reading no module can
 * see: PyThread_acquire_lock_timed(), which reads CLOCK_MONOTONIC for
 * every lock acquisition (the import system takes locks around every
 * module), through _PyTime_GetMonotonicClock(), which time.monotonic()
 * calls too.  Its address range, found when watching starts. */
static uintptr_t lock_lo, lock_hi;

/* Find lock_lo and lock_hi; prime backtrace() (its first call loads the unwinder). */
static void lock_range(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "PyThread_acquire_lock_timed"), *bt[2];
	const ElfW(Sym) *ent = NULL;
	Dl_info di;

	if (sym && dladdr1(sym, &di, (void **)&ent, RTLD_DL_SYMENT) && ent && ent->st_size > 0) {
		lock_lo = (uintptr_t)sym;
		lock_hi = lock_lo + ent->st_size;
	}
	(void)backtrace(bt, 2);
}

/* Is the clock being read for a lock's timing (PyThread_acquire_lock_timed
 * among the nearest callers: a lock calls no code that could keep it)? */
static int lock_timing(void)
{
	void *bt[6];
	int n;

	if (lock_lo == 0)
		return 0;
	n = backtrace(bt, 6);
	for (int i = 1; i < n; i++)
		if ((uintptr_t)bt[i] > lock_lo && (uintptr_t)bt[i] <= lock_hi)
			return 1;
	return 0;
}

/* Count a read of the clock, unless it is a lock's. */
static inline void note_clock(void)
{
	if (__builtin_expect(watching, 0) && !clock_exempt && !clock_shared && !lock_timing())
		__atomic_add_fetch(&clock_calls, 1, __ATOMIC_RELAXED);
}

#define ENOSYS_RESULT -1

/* For tty.c's open(2)s (the zygote defines them there): count a relative one. */
void zsys_note_path(int dirfd, const char *path)
{
	note_path(dirfd, path);
}

/* The fortified open(2)s a C extension built with _FORTIFY_SOURCE calls. */
int __open_2(const char *path, int flags)
{
	REAL(__open_2);
	note_path(AT_FDCWD, path);
	return real(path, flags);
}

int __open64_2(const char *path, int flags)
{
	REAL(__open64_2);
	note_path(AT_FDCWD, path);
	return real(path, flags);
}

int stat(const char *path, struct stat *st)
{
	REAL(stat);
	note_path(AT_FDCWD, path);
	return real(path, st);
}

int stat64(const char *path, struct stat64 *st)
{
	REAL(stat64);
	note_path(AT_FDCWD, path);
	return real(path, st);
}

int lstat(const char *path, struct stat *st)
{
	REAL(lstat);
	note_path(AT_FDCWD, path);
	return real(path, st);
}

int lstat64(const char *path, struct stat64 *st)
{
	REAL(lstat64);
	note_path(AT_FDCWD, path);
	return real(path, st);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	REAL(fstatat);
	note_path(dirfd, path);
	return real(dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	REAL(fstatat64);
	note_path(dirfd, path);
	return real(dirfd, path, st, flags);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *st)
{
	REAL(statx);
	note_path(dirfd, path);
	return real(dirfd, path, flags, mask, st);
}

int access(const char *path, int mode)
{
	REAL(access);
	note_path(AT_FDCWD, path);
	return real(path, mode);
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	REAL(faccessat);
	note_path(dirfd, path);
	return real(dirfd, path, mode, flags);
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	REAL(readlink);
	note_path(AT_FDCWD, path);
	return real(path, buf, len);
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	REAL(readlinkat);
	note_path(dirfd, path);
	return real(dirfd, path, buf, len);
}

int mkdir(const char *path, mode_t mode)
{
	REAL(mkdir);
	note_path(AT_FDCWD, path);
	return real(path, mode);
}

int unlink(const char *path)
{
	REAL(unlink);
	note_path(AT_FDCWD, path);
	return real(path);
}

int rmdir(const char *path)
{
	REAL(rmdir);
	note_path(AT_FDCWD, path);
	return real(path);
}

int rename(const char *from, const char *to)
{
	REAL(rename);
	note_path(AT_FDCWD, from);
	note_path(AT_FDCWD, to);
	return real(from, to);
}

int chmod(const char *path, mode_t mode)
{
	REAL(chmod);
	note_path(AT_FDCWD, path);
	return real(path, mode);
}

/* Changing the working directory at import: the zygote's, not the caller's. */
int chdir(const char *path)
{
	REAL(chdir);
	if (__builtin_expect(watching, 0))
		__atomic_add_fetch(&relative_calls, 1, __ATOMIC_RELAXED);
	return real(path);
}

int fchdir(int fd)
{
	REAL(fchdir);
	if (__builtin_expect(watching, 0))
		__atomic_add_fetch(&relative_calls, 1, __ATOMIC_RELAXED);
	return real(fd);
}

#undef ENOSYS_RESULT
#define ENOSYS_RESULT NULL

DIR *opendir(const char *path)
{
	REAL(opendir);
	note_path(AT_FDCWD, path);
	return real(path);
}

char *realpath(const char *path, char *resolved)
{
	REAL(realpath);
	note_path(AT_FDCWD, path);
	return real(path, resolved);
}

FILE *fopen(const char *path, const char *mode)
{
	REAL(fopen);
	note_path(AT_FDCWD, path);
	return real(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	REAL(fopen64);
	note_path(AT_FDCWD, path);
	return real(path, mode);
}

#undef ENOSYS_RESULT
#define ENOSYS_RESULT -1

/* The clock, as time.time(), time.monotonic(), datetime.now() read it. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	REAL(clock_gettime);
	note_clock();
	return real(id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	REAL(gettimeofday);
	note_clock();
	return real(tv, tz);
}

time_t time(time_t *t)
{
	REAL(time);
	note_clock();
	return real(t);
}

#undef ENOSYS_RESULT

/* Start or stop counting (warm.c, around the preload); -1 when the locks'
 * clock reads cannot be told apart (every module then counts as reading
 * the clock). */
int zsys_watch(int on)
{
	if (on && lock_lo == 0)
		lock_range();
	watching = on;
	return on && lock_lo == 0 ? -1 : 0;
}

/* [preload] clock = shared: the profile accepts that a module whose import
 * read the clock keeps the zygote's time, so no read counts (for the
 * preload and for learn's judge alike). */
void zsys_share_clock(int on)
{
	clock_shared = on;
}

/* Let the module being loaded read the clock uncounted (what it read is
 * reset for every run); the previous setting, to put back. */
int zsys_clock_exempt(int on)
{
	int was = clock_exempt;

	clock_exempt = on;
	return was;
}

/* Calls so far that depended on the working directory. */
unsigned long zsys_relative_calls(void)
{
	return __atomic_load_n(&relative_calls, __ATOMIC_RELAXED);
}

/* Reads of the clock so far. */
unsigned long zsys_clock_calls(void)
{
	return __atomic_load_n(&clock_calls, __ATOMIC_RELAXED);
}
