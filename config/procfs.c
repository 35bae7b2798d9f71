/* procfs.c: the one reader of /proc for facts about processes (stat fields, status and smaps_rollup fields, /proc/locks). */
#include "procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int pw_proc_stat(pid_t pid, unsigned long long *f, int n)
{
	char path[64], buf[2048];
	int k = 0;

	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/stat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	char *p = strrchr(buf, ')');   /* the command name may hold anything */
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	if (n > 0)
		f[k++] = strtoull(buf, NULL, 10);
	if (n > 1)
		f[k++] = 0;
	if (n > 2)
		f[k++] = (unsigned char)p[2];
	for (p += 3; k < n && *p == ' '; k++) {
		char *end;
		f[k] = strtoull(p + 1, &end, 10);
		if (end == p + 1)
			break;
		p = end;
	}
	return k;
}

int pw_flock_holder(dev_t dev, ino_t ino, long *pid)
{
	char line[256], kind[16], mode[16];
	unsigned int maj, min;
	unsigned long long n;
	int found = 0;
	FILE *f = fopen("/proc/locks", "re");

	/* "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->". */
	while (f && !found && fgets(line, sizeof(line), f))
		found = !strstr(line, "->") &&
		        sscanf(line, "%*s %15s %*s %15s %ld %x:%x:%llu", kind, mode, pid,
		               &maj, &min, &n) == 6 &&
		        strcmp(kind, "FLOCK") == 0 && strcmp(mode, "WRITE") == 0 &&
		        maj == major(dev) && min == minor(dev) && n == (unsigned long long)ino;
	if (f)
		fclose(f);
	return found;
}

long pw_proc_field(pid_t pid, const char *file, const char *key)
{
	char path[96], line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof path, "/proc/self/%s", file);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (v < 0 && fgets(line, sizeof line, f))
		if (strncmp(line, key, n) != 0 || sscanf(line + n, " %ld", &v) != 1)
			v = -1;
	fclose(f);
	return v;
}
