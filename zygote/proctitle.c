/* proctitle.c: the zygote's start-up argv and environment (another run's) kept out of /proc/PID/cmdline, /proc/PID/environ and os.environ; a warm child's /proc shows the caller's. */
#include <Python.h>
#include "zygote.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <unistd.h>

/* The title the zygote's own cmdline shows once its block is scrubbed. */
static const char zygote_title[] = "pywarm-zygote";

/* The memory-map fields of /proc/self/stat that PR_SET_MM_MAP sets. */
struct mmfields {
	unsigned long start_code, end_code, start_stack;
	unsigned long start_data, end_data, start_brk;
	unsigned long arg_start, arg_end, env_start, env_end;
};

/* Read them (fields 26-28 and 45-51 of /proc/self/stat); 0, or -1. */
static int read_mmfields(struct mmfields *m)
{
	unsigned long long f[51];

	if (pw_proc_stat(0, f, 51) != 51)
		return -1;
	*m = (struct mmfields){ f[25], f[26], f[27], f[44], f[45], f[46], f[47], f[48], f[49], f[50] };
	return m->arg_start && m->env_end >= m->arg_start ? 0 : -1;
}

/* Point the kernel's argument and environment areas at [args, args+alen)
 * and [env, env+elen) (PR_SET_MM_MAP: no privilege needed); 0, or -1. */
static int set_areas(const struct mmfields *m, const char *args, size_t alen, const char *env, size_t elen)
{
	struct prctl_mm_map map = {
		.start_code = m->start_code, .end_code = m->end_code,
		.start_data = m->start_data, .end_data = m->end_data,
		.start_brk = m->start_brk, .brk = (unsigned long)sbrk(0),
		.start_stack = m->start_stack,
		.arg_start = (unsigned long)args, .arg_end = (unsigned long)args + alen,
		.env_start = (unsigned long)env, .env_end = (unsigned long)env + elen,
		.exe_fd = (unsigned int)-1,
	};
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
}

/* Empty os.environ (posix.environ: the same dict) once the zygote's
 * modules and warmup script have run, zeroing each value only the dict
 * holds: every child builds its own from the caller's environment, and
 * then finds none of the zygote's values in the memory it inherits.
 * What a module keeps of them is its state (see LIMITATIONS). */
static void scrub_os_environ(void)
{
	PyObject *os = PyImport_ImportModule("os");
	PyObject *env = os ? PyObject_GetAttrString(os, "environ") : NULL;
	PyObject *data = env ? PyObject_GetAttrString(env, "_data") : NULL;
	PyObject *key, *value;
	Py_ssize_t pos = 0;

	if (data && PyDict_Check(data)) {
		while (PyDict_Next(data, &pos, &key, &value))
			if (PyBytes_Check(value) && Py_REFCNT(value) == 1)
				memset(PyBytes_AS_STRING(value), 0, (size_t)PyBytes_GET_SIZE(value));
		PyDict_Clear(data);
	}
	if (PyErr_Occurred())
		PyErr_Clear();
	Py_XDECREF(data);
	Py_XDECREF(env);
	Py_XDECREF(os);
}

/* Zero the zygote's start-up argv and environment strings (the environment
 * of the run that started it), once Python and save_origin() have copied
 * what they keep, and leave "pywarm-zygote" as its command line and an
 * empty environment.  Children forked later inherit the scrubbed block. */
void zproc_scrub(void)
{
	struct mmfields m;
	char *start;
	size_t len;

	scrub_os_environ();
	if (read_mmfields(&m) < 0)
		return;
	start = (char *)m.arg_start;
	len = (m.env_end > m.arg_end ? m.env_end : m.arg_end) - m.arg_start;
	memset(start, 0, len);
	if (len < sizeof zygote_title)
		return;
	memcpy(start, zygote_title, sizeof zygote_title);
	/* Without PR_SET_MM_MAP the areas keep their size: the title, then
	 * NUL bytes, and an environment of NUL bytes. */
	(void)set_areas(&m, start, sizeof zygote_title, start + sizeof zygote_title, 0);
}

/* Copy the strings of v (NULL-terminated) into p, each with its NUL; the bytes used. */
static size_t put_strings(char *p, char *const *v, const char *first)
{
	size_t n = 0;

	for (size_t i = 0; v && v[i]; i++) {
		const char *s = i == 0 && first ? first : v[i];
		size_t sl = strlen(s) + 1;
		if (p)
			memcpy(p + n, s, sl);
		n += sl;
	}
	return n;
}

/* Without PR_SET_MM_MAP: write the strings of v into the area [at, at+len),
 * the rest NUL bytes: all of them or none (all_or_none), or else as many
 * whole ones as fit. */
static void fill_area(char *at, size_t len, char *const *v, const char *first, int all_or_none)
{
	size_t n = 0;

	memset(at, 0, len);
	if (all_or_none && put_strings(NULL, v, first) > len)
		return;
	for (size_t i = 0; v && v[i]; i++) {
		const char *s = i == 0 && first ? first : v[i];
		size_t sl = strlen(s) + 1;
		if (n + sl > len)
			break;
		memcpy(at + n, s, sl);
		n += sl;
	}
}

/* In a warm child, before user code: make /proc/self/cmdline and
 * /proc/self/environ what python3's would be: the interpreter's path and
 * the caller's arguments (sys.orig_argv), and the caller's environment as
 * it was passed (before locale coercion).  The zygote's copy of its
 * start-up environment (kept for a successor, which a child never starts;
 * the strings the zygote's environ points at) is zeroed too: until the
 * caller's environment is installed, getenv() finds nothing. */
void zproc_show(const struct zygote *z, const struct pw_launch *l)
{
	struct mmfields m;
	size_t alen, elen;
	char *blk;

	for (size_t i = 0; z->conf.envp && z->conf.envp[i]; i++)
		memset(z->conf.envp[i], 0, strlen(z->conf.envp[i]));
	if (read_mmfields(&m) < 0)
		return;
	alen = put_strings(NULL, l->argv, z->conf.interp.path);
	elen = put_strings(NULL, l->envp, NULL);
	blk = mmap(NULL, alen + elen + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (blk != MAP_FAILED) {
		put_strings(blk, l->argv, z->conf.interp.path);
		put_strings(blk + alen, l->envp, NULL);
		if (set_areas(&m, blk, alen, blk + alen, elen) == 0)
			return;
		munmap(blk, alen + elen + 1);
	}
	fill_area((char *)m.arg_start, m.arg_end - m.arg_start, l->argv, z->conf.interp.path, 1);
	if (m.env_end > m.env_start && m.env_start >= m.arg_end)
		fill_area((char *)m.env_start, m.env_end - m.env_start, l->envp, NULL, 0);
}
