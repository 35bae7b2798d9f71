/* stamp.c: which pywarm-zygote binary a zygote runs, as part of its identity. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* "dev:ino:mtime_sec.mtime_nsec:size" of the file at path. */
int pw_zygote_stamp(const char *path, char *out, size_t outlen)
{
	struct stat st;
	int n;

	if (stat(path, &st) < 0)
		return -1;
	n = snprintf(out, outlen, "%llu:%llu:%lld.%09ld:%lld",
	             (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
	             (long long)st.st_size);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
