/* cgroup.c: a warm child lives under the caller's cgroup limits: it joins the caller's cgroups, or the run goes cold when their limits differ. */
#include "zygote.h"
#include "token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH". */
struct cgline {
	char id[16];
	char ctrl[128];           /* "" for the cgroup v2 hierarchy */
	char path[PATH_MAX];
};

#define CG_MAXLINES 32

/* How a limit file says "no limit". */
enum cgrule {
	CG_MAX,       /* every line ends in "max" or 2^62 or more (memory.max, pids.max,
	               * misc.max, hugetlb.*.max, which some kernels print as a number) */
	CG_CPUMAX,    /* "max PERIOD" (cpu.max) */
	CG_EMPTY,     /* no content (io.max, blkio.throttle.*) */
	CG_BIG,       /* 2^62 bytes or more: v1's "unlimited" (*.limit_in_bytes) */
	CG_MINUS1,    /* "-1" (v1 cpu.cfs_quota_us) */
	CG_INHERIT,   /* empty or the parent's (cpuset.cpus, cpuset.mems) */
	CG_UNKNOWN,   /* cannot be told: v1 devices.list reads "a *:* rwm" even
	               * when devices.deny has taken devices away */
};

/* The files that limit what processes in a cgroup may use (and, under
 * cgroup v1, the devices they may open; v2 does that with BPF programs,
 * which are not compared).  Weights and
 * protections (cpu.weight, memory.low, io.weight...) are not limits: a run
 * under different ones is slower or faster, never refused. */
static const struct {
	const char *prefix, *suffix;
	enum cgrule rule;
} limit_files[] = {
	{ "memory.max", "", CG_MAX },
	{ "memory.high", "", CG_MAX },
	{ "memory.swap.max", "", CG_MAX },
	{ "memory.swap.high", "", CG_MAX },
	{ "memory.zswap.max", "", CG_MAX },
	{ "pids.max", "", CG_MAX },
	{ "misc.max", "", CG_MAX },
	{ "hugetlb.", ".max", CG_MAX },
	{ "cpu.max", "", CG_CPUMAX },
	{ "io.max", "", CG_EMPTY },
	{ "cpuset.cpus", "", CG_INHERIT },
	{ "cpuset.mems", "", CG_INHERIT },
	{ "memory.limit_in_bytes", "", CG_BIG },
	{ "memory.memsw.limit_in_bytes", "", CG_BIG },
	{ "hugetlb.", ".limit_in_bytes", CG_BIG },
	{ "cpu.cfs_quota_us", "", CG_MINUS1 },
	{ "blkio.throttle.read_bps_device", "", CG_EMPTY },
	{ "blkio.throttle.write_bps_device", "", CG_EMPTY },
	{ "blkio.throttle.read_iops_device", "", CG_EMPTY },
	{ "blkio.throttle.write_iops_device", "", CG_EMPTY },
	{ "devices.list", "", CG_UNKNOWN },
};

/* Read a small file into buf (NUL-terminated, trailing newline kept); -1 on error. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = -1, r;

	if (fd < 0)
		return -1;
	n = 0;
	while ((size_t)n < len - 1 && (r = read(fd, buf + n, len - 1 - (size_t)n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			n = -1;
			break;
		}
		n += r;
	}
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Parse /proc/<pid>/cgroup (pid 0: ourselves) into lines; how many, or -1. */
static int read_cgroups(pid_t pid, struct cgline *cl, int max)
{
	char path[64], buf[8192];
	struct pw_tok t;
	const char *l;
	size_t len;
	int n = 0;

	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/cgroup");
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	pw_tok_init(&t, buf, strlen(buf), "\n", PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&t, &l, &len)) {
		const char *end = l + len;
		const char *c1 = memchr(l, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (c2 == NULL || n == max || c1 - l >= (long)sizeof cl->id ||
		    c2 - c1 - 1 >= (long)sizeof cl->ctrl || end - c2 - 1 >= (long)sizeof cl->path)
			return -1;
		snprintf(cl[n].id, sizeof cl[n].id, "%.*s", (int)(c1 - l), l);
		snprintf(cl[n].ctrl, sizeof cl[n].ctrl, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
		snprintf(cl[n].path, sizeof cl[n].path, "%.*s", (int)(end - c2 - 1), c2 + 1);
		n++;
	}
	return n;
}

/* Does the comma-separated list opts hold every name of the list ctrl? */
static int has_all(const char *opts, const char *ctrl)
{
	const char *end = opts + strlen(opts), *w;
	struct pw_tok t;
	size_t wl;

	pw_tok_init(&t, ctrl, strlen(ctrl), ",", PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&t, &w, &wl)) {
		const char *p = opts;
		int found = 0;
		while (!found && (p = memmem(p, (size_t)(end - p), w, wl)) != NULL) {
			found = (p == opts || p[-1] == ',') && (p[wl] == ',' || p[wl] == '\0');
			p += wl;
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* Where the hierarchy of cl is mounted: its directory for cl->path in dir.
 * 0, or -1 when it is not mounted here (or not at the cgroup's level). */
static int cgroup_dir(const struct cgline *cl, char *dir, size_t len)
{
	char line[PATH_MAX * 2 + 512];
	int found = -1;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (f == NULL)
		return -1;
	while (found < 0 && fgets(line, sizeof line, f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS */
		char root[PATH_MAX], mnt[PATH_MAX], fstype[32], super[512];
		char *dash = strstr(line, " - ");
		if (dash == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		if (cl->ctrl[0] == '\0' ? strcmp(fstype, "cgroup2") != 0 :
		    strcmp(fstype, "cgroup") != 0 || !has_all(super, cl->ctrl))
			continue;
		/* The mount shows the hierarchy from root down (a container's view). */
		size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
		if (strncmp(cl->path, root, rl) != 0 || (cl->path[rl] != '/' && cl->path[rl] != '\0'))
			continue;
		if ((size_t)snprintf(dir, len, "%s%s", mnt, cl->path + rl) < len)
			found = 0;
	}
	fclose(f);
	return found;
}

/* Move this process into the cgroup at dir; 0, or -1 with errno. */
static int join(const char *dir)
{
	char path[PATH_MAX + 32], pid[32];
	int fd, n;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	int r = write(fd, pid, (size_t)n) == n ? 0 : -1;
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Read file name of dir into v, trailing blanks removed; its length, or -1. */
static ssize_t read_value(const char *dir, const char *name, char *v, size_t len)
{
	char path[PATH_MAX + 300];
	ssize_t n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((n = read_small(path, v, len)) < 0)
		return -1;
	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == ' '))
		v[--n] = '\0';
	return n;
}

/* Does every line of v end in "max" or a number of 2^62 or more? */
static int all_max(char *v)
{
	for (char *l = v; l; ) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		char *w = strrchr(l, ' ');
		w = w ? w + 1 : l;
		if (*w && strcmp(w, "max") != 0 && strtoull(w, NULL, 10) < 1ULL << 62)
			return 0;
		l = nl ? nl + 1 : NULL;
	}
	return 1;
}

/* Is the content of file name in dir no limit (by rule)? */
static int unlimited(const char *dir, const char *name, enum cgrule rule)
{
	char v[4096], pv[4096], up[PATH_MAX + 4];
	ssize_t n = read_value(dir, name, v, sizeof v);

	if (n < 0)
		return errno == EACCES || errno == EPERM ? 0 : 1;  /* unreadable: assume a limit */
	switch (rule) {
	case CG_MAX:
		return all_max(v);
	case CG_CPUMAX:
		return strncmp(v, "max", 3) == 0 && (v[3] == ' ' || v[3] == '\0');
	case CG_EMPTY:
		return n == 0;
	case CG_BIG:
		return strtoull(v, NULL, 10) >= 1ULL << 62;
	case CG_MINUS1:
		return strcmp(v, "-1") == 0;
	case CG_UNKNOWN:
		return 0;
	case CG_INHERIT:
		if (n == 0)
			return 1;
		snprintf(up, sizeof up, "%s/..", dir);
		return read_value(up, name, pv, sizeof pv) >= 0 && strcmp(v, pv) == 0;
	}
	return 0;
}

/* The first limit set in the cgroup at dir, as "NAME", into out; 1 if any. */
static int first_limit(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return errno != ENOENT;     /* cannot look: assume a limit */
	while (!found && (e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		for (size_t i = 0; i < sizeof limit_files / sizeof *limit_files; i++) {
			size_t pl = strlen(limit_files[i].prefix), sl = strlen(limit_files[i].suffix);
			if (sl == 0 ? strcmp(e->d_name, limit_files[i].prefix) != 0 :
			    nl <= pl + sl || strncmp(e->d_name, limit_files[i].prefix, pl) != 0 ||
			    strcmp(e->d_name + nl - sl, limit_files[i].suffix) != 0)
				continue;
			if (!unlimited(dir, e->d_name, limit_files[i].rule)) {
				snprintf(out, len, "%s", e->d_name);
				found = 1;
			}
			break;
		}
	}
	closedir(d);
	return found;
}

/* Length of the common ancestor of cgroup paths a and b ("/x/y" and "/x/z": 2). */
static size_t common_len(const char *a, const char *b)
{
	size_t i = 0, last = 0;

	while (a[i] && a[i] == b[i]) {
		i++;
		if ((a[i] == '/' || a[i] == '\0') && (b[i] == '/' || b[i] == '\0'))
			last = i;
	}
	return last;
}

/* A limit set below the common ancestor on path's side (dir is path's
 * directory, common the length of the ancestor's path): its cgroup path
 * and file name into why; 1 if any. */
static int limit_below(const char *dir, const char *path, size_t common, char *why, size_t len)
{
	char d[PATH_MAX], name[256];
	size_t dl = strlen(dir), pl = strlen(path);

	snprintf(d, sizeof d, "%s", dir);
	/* Walk up from path to (not including) the common ancestor. */
	while (pl > common && pl > 1) {
		if (first_limit(d, name, sizeof name)) {
			snprintf(why, len, "%.*s sets %s", (int)pl, path, name);
			return 1;
		}
		while (pl > 0 && path[pl - 1] != '/')
			pl--, dl--;
		if (pl > 0)
			pl--, dl--;
		d[dl] = '\0';
	}
	return 0;
}

/* Join the caller's cgroup in hierarchy cl (ours is mine), or decide the
 * difference does not matter.  NULL, or why the run must go cold. */
static const char *enter_one(const struct cgline *cl, const struct cgline *mine)
{
	static char why[PATH_MAX + 384];
	char theirs[PATH_MAX], ours[PATH_MAX], limit[PATH_MAX + 300];
	const char *what = cl->ctrl[0] ? cl->ctrl : "v2";

	if (cgroup_dir(cl, theirs, sizeof theirs) < 0 || cgroup_dir(mine, ours, sizeof ours) < 0) {
		snprintf(why, sizeof why, "the caller is in another %s cgroup (%s), which is not mounted here",
		         what, cl->path);
		return why;
	}
	if (join(theirs) == 0)
		return NULL;
	int e = errno;
	size_t common = common_len(cl->path, mine->path);
	if (!limit_below(theirs, cl->path, common, limit, sizeof limit) &&
	    !limit_below(ours, mine->path, common, limit, sizeof limit))
		return NULL;
	snprintf(why, sizeof why, "cannot join the caller's %s cgroup %s (%s) and %s", what,
	         cl->path, strerror(e), limit);
	return why;
}

/* Put this child under the cgroup limits of the caller (pid caller): join
 * each of its cgroups that differs from ours, and where joining is not
 * permitted, accept the difference only if neither side sets a limit the
 * other does not share.  NULL, or a one-line reason to run cold. */
const char *zcgroup_enter(pid_t caller)
{
	struct cgline theirs[CG_MAXLINES], ours[CG_MAXLINES];
	int nt, no;

	if ((no = read_cgroups(0, ours, CG_MAXLINES)) < 0)
		return NULL;                /* no cgroups here at all */
	if (caller <= 0 || (nt = read_cgroups(caller, theirs, CG_MAXLINES)) < 0)
		return "cannot read the caller's cgroups";
	for (int i = 0; i < nt; i++) {
		const struct cgline *mine = NULL;
		for (int j = 0; j < no && mine == NULL; j++)
			if (strcmp(theirs[i].id, ours[j].id) == 0 && strcmp(theirs[i].ctrl, ours[j].ctrl) == 0)
				mine = &ours[j];
		if (mine == NULL)
			return "the caller's cgroup hierarchies differ from the zygote's";
		if (strcmp(theirs[i].path, mine->path) == 0)
			continue;
		const char *why = enter_one(&theirs[i], mine);
		if (why)
			return why;
	}
	return NULL;
}
