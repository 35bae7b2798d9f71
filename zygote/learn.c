/* learn.c: profiles that learn: a run's report of the modules it imported beyond the preload, the summary the zygote keeps of them, the judge that imports a candidate in a throwaway child, and [preload] learn = auto. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zygote.h"
#include "learn.h"
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEPTH_MAX      64           /* nested imports timed apart */
#define JUDGE_US       10000000LL   /* one candidate's import, at most */
#define JUDGE_OUT      4096         /* bytes of its verdict */
#define AUTO_MAX       64           /* candidates [preload] learn = auto judges at warm-up */

/*
 * The run's report, filled by warm.c's import hook in a warm child and
 * sent once, with the exit notice.  File-static: the hook has no zygote
 * to hand, and each child has its own copy.  Each module's time is its
 * own: the time of the modules its loading imported is subtracted, so
 * that the times of one run add up to what its imports cost it.
 */
static struct {
	int on;                   /* recording in this process */
	int depth;                /* loads under way */
	int full;                 /* a record did not fit: the rest are dropped */
	long long inner[DEPTH_MAX]; /* time of the loads nested in each one under way */
	size_t used, nrec;
	char buf[PW_IMPORTS_BYTES];
} rep;

/* A load starts: its start time, or -1 when nothing is recorded. */
long long zlearn_begin(void)
{
	if (!rep.on)
		return -1;
	if (rep.depth < DEPTH_MAX)
		rep.inner[rep.depth] = 0;
	rep.depth++;
	return pw_mono_us();
}

/* A load that began at t0 ended (ok: it loaded name[0..len)). */
void zlearn_end(const char *name, size_t len, long long t0, int ok)
{
	long long total = pw_mono_us() - t0, self;

	if (rep.depth <= 0)
		return;
	rep.depth--;
	self = total - (rep.depth < DEPTH_MAX ? rep.inner[rep.depth] : 0);
	if (rep.depth > 0 && rep.depth - 1 < DEPTH_MAX)
		rep.inner[rep.depth - 1] += total;
	if (!ok || rep.full || rep.nrec >= PW_IMPORTS_MAX || !pw_module_name_valid(name, len))
		return;
	if (self < 0)
		self = 0;
	if (pw_imports_put(rep.buf, sizeof rep.buf, &rep.used, name, len,
	                   self > PW_LEARN_US_MAX ? PW_LEARN_US_MAX : (uint32_t)self) < 0)
		rep.full = 1;
	else
		rep.nrec++;
}

/* In a child about to run a program: record its imports unless the run is
 * confined (its report would be the program's word) or the profile says
 * record = no.  Returns nonzero when nothing is to be counted. */
int zlearn_child_start(const struct zygote *z)
{
	const char *env = getenv("PYWARM_SANDBOX");
	int confined = pw_sandbox_active(&z->conf.profile.sandbox) || (env && *env);

	memset(&rep, 0, offsetof(__typeof__(rep), buf));
	rep.on = z->conf.profile.record && !confined;
	return !rep.on;
}

/* At the end of a run (after its exit notice): send the report, if any. */
void zlearn_child_send(const struct zygote *z)
{
	if (rep.on && rep.used > 0)
		znotice_send(z, ZN_IMPORTS, 0, rep.buf, rep.used, 0);
}

/* Is name already in this zygote (preloaded, or imported by what was)? */
static int have_module(const char *name)
{
	PyObject *mods = PyImport_GetModuleDict();
	PyObject *m = mods ? PyDict_GetItemString(mods, name) : NULL;
	return m != NULL;
}

/* Is name one of z->stats.learned's comma-separated names? */
static int is_learned(const struct zygote *z, const char *name)
{
	struct pw_tok t;
	const char *tok;
	size_t n = strlen(name), k;

	pw_tok_init(&t, z->stats.learned, strlen(z->stats.learned), ",", PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&t, &tok, &k))
		if (k == n && memcmp(tok, name, n) == 0)
			return 1;
	return 0;
}

/* In the zygote: a child's import report.  Added to the profile's summary;
 * returns 1 when learn = auto has a module to learn that this zygote did
 * not consider as it warmed (its successor will), else 0. */
int zlearn_take(struct zygote *z, const char *buf, size_t len)
{
	static struct pw_import r[PW_IMPORTS_MAX];
	static struct pw_learn l;
	static int complained;
	char err[PATH_MAX + 128], name[PW_IMPORT_NAME_MAX + 1];
	int n = pw_imports_parse(buf, len, r, PW_IMPORTS_MAX);

	if (n <= 0 || !z->conf.profile.record)
		return 0;
	if (pw_learn_update(&z->conf.profile, r, (size_t)n, &l, time(NULL), err, sizeof err) < 0) {
		if (!complained++)
			zwarn(z, "cannot keep what runs import: %s", err);
		return 0;
	}
	if (!z->conf.profile.learn_auto || z->learn_start == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		memcpy(name, r[i].name, r[i].len);
		name[r[i].len] = '\0';
		const struct pw_learn_ent *now = pw_learn_find(&l, name);
		const struct pw_learn_ent *then = pw_learn_find(z->learn_start, name);
		if (now && now->runs >= (uint64_t)z->conf.profile.learn_min_runs &&
		    !(then && then->runs >= (uint64_t)z->conf.profile.learn_min_runs) &&
		    !pw_learn_in_profile(&z->conf.profile, name) && !is_learned(z, name)) {
			zlog(z, "runs imported %s %llu times: a successor learns it", name,
			     (unsigned long long)now->runs);
			return 1;
		}
	}
	return 0;
}

/* ---- the judge ----
 *
 * A candidate is imported in a throwaway child of the zygote, with what a
 * run could notice observed: threads and child processes started, file
 * descriptors left open, exit and at-fork handlers registered, the
 * kernel's randomness read, environment variables read (through os.environ,
 * recorded as start-up's are, or getenv()) that are neither part of the identity nor already checked
 * in every run, output written, and process state changed. */
static const char judge_src[] =
	"def judge(name, cnames, entropy, known, cwdreads, sysreads, envreads):\n"
	"    import sys, os, posix, signal, atexit, importlib, stat\n"
	"    if name in sys.modules:\n"
	"        return 'preloaded'\n"
	"    def fds():\n"
	"        out = {}\n"
	"        for f in os.listdir('/proc/self/fd'):\n"
	"            try:\n"
	"                out[int(f)] = os.fstat(int(f))\n"
	"            except OSError:\n"
	"                pass\n"
	"        return out\n"
	"    def tasks():\n"
	"        return len(os.listdir('/proc/self/task'))\n"
	"    def sigs():\n"
	"        out = {}\n"
	"        for s in signal.valid_signals():\n"
	"            try:\n"
	"                out[s] = signal.getsignal(s)\n"
	"            except (OSError, ValueError):\n"
	"                pass\n"
	"        return out\n"
	"    env0 = dict(posix.environ)\n"
	"    forks = []\n"
	"    real_fork = os.register_at_fork\n"
	"    def at_fork(**kw):\n"
	"        forks.append(1)\n"
	"        return real_fork(**kw)\n"
	"    os.register_at_fork = at_fork\n"
	"    fd0, t0, s0, n0 = fds(), tasks(), sigs(), atexit._ncallbacks()\n"
	"    path0, meta0, hooks0 = list(sys.path), list(sys.meta_path), list(sys.path_hooks)\n"
	"    cwd0 = os.getcwd()\n"
	"    e0 = entropy()\n"
	"    cnames(True)\n"
	"    recording = envreads(True)\n"
	"    c0, s0r = cwdreads(), sysreads()\n"
	"    why = []\n"
	"    try:\n"
	"        importlib.import_module(name)\n"
	"    except ModuleNotFoundError as e:\n"
	"        if e.name and (name == e.name or name.startswith(e.name + '.')):\n"
	"            why.append(\"not found on the zygote's sys.path\")\n"
	"        else:\n"
	"            why.append('fails to import (ModuleNotFoundError: %s)' % e.name)\n"
	"    except BaseException as e:\n"
	"        why.append('fails to import (%s)' % type(e).__name__)\n"
	"    c1, s1r = cwdreads(), sysreads()\n"
	"    names = cnames(False)\n"
	"    seen = envreads(False) if recording else [None]\n"
	"    e1 = entropy()\n"
	"    for f in (sys.stdout, sys.stderr):\n"
	"        try:\n"
	"            f.flush()\n"
	"        except Exception:\n"
	"            pass\n"
	"    if tasks() > t0:\n"
	"        why.append('starts a thread')\n"
	"    try:\n"
	"        os.waitpid(-1, os.WNOHANG)\n"
	"        why.append('starts a child process')\n"
	"    except ChildProcessError:\n"
	"        pass\n"
	"    fd1 = fds()\n"
	"    new = [fd1[f] for f in fd1 if f not in fd0 or\n"
	"           (fd1[f].st_dev, fd1[f].st_ino) != (fd0[f].st_dev, fd0[f].st_ino)]\n"
	"    if any(stat.S_ISSOCK(s.st_mode) for s in new):\n"
	"        why.append('leaves a socket open')\n"
	"    if any(not stat.S_ISSOCK(s.st_mode) for s in new):\n"
	"        why.append('leaves a file open')\n"
	"    if atexit._ncallbacks() > n0:\n"
	"        why.append('registers an exit handler')\n"
	"    if forks:\n"
	"        why.append('registers an at-fork handler')\n"
	"    if e1 > e0:\n"
	"        why.append(\"seeds from the kernel's randomness\")\n"
	"    if None in seen:\n"
	"        why.append('lists the environment')\n"
	"    read = set(names)\n"
	"    for k in seen:\n"
	"        if isinstance(k, bytes):\n"
	"            read.add(os.fsdecode(k))\n"
	"        elif isinstance(k, str):\n"
	"            read.add(k)\n"
	"    for k in sorted(read):\n"
	"        if not known(k):\n"
	"            why.append('reads ' + k)\n"
	"    if dict(posix.environ) != env0:\n"
	"        why.append('changes os.environ')\n"
	"    if sys.path != path0:\n"
	"        why.append('changes sys.path')\n"
	"    if sys.meta_path != meta0 or sys.path_hooks != hooks0:\n"
	"        why.append('changes the import system')\n"
	"    if sigs() != s0:\n"
	"        why.append('sets a signal handler')\n"
	"    if c1 != c0:\n"
	"        why.append('asks for the working directory')\n"
	"    if s1r[0] != s0r[0]:\n"
	"        why.append('opens or looks up files by a relative path')\n"
	"    if s1r[1] != s0r[1]:\n"
	"        why.append('asks for the time')\n"
	"    if os.getcwd() != cwd0:\n"
	"        why.append('changes the working directory')\n"
	"    return '; '.join(why) or 'safe'\n";

/* The zygote the judge's C helpers answer for (file-static: they are
 * Python callables with no context of their own; one per throwaway child). */
static const struct zygote *judge_zygote;

/* cnames(begin): start recording getenv() names, or list those recorded. */
static PyObject *judge_cnames(PyObject *self, PyObject *begin)
{
	if (PyObject_IsTrue(begin)) {
		zenv_probe_begin();
		Py_RETURN_NONE;
	}
	PyObject *list = PyList_New(0);
	const char *n;
	for (size_t i = 0; list && (n = zenv_probe_name(i)) != NULL; i++) {
		PyObject *s = PyUnicode_DecodeFSDefault(n);
		if (s == NULL || PyList_Append(list, s) < 0)
			Py_CLEAR(list);
		Py_XDECREF(s);
	}
	return list;
}

/* entropy(): getrandom() calls so far. */
static PyObject *judge_entropy(PyObject *self, PyObject *unused)
{
	return PyLong_FromUnsignedLong(zpy_entropy_calls());
}

/* cwdreads(): getcwd() calls so far. */
static PyObject *judge_cwdreads(PyObject *self, PyObject *unused)
{
	return PyLong_FromUnsignedLong(zwarm_cwd_reads());
}

/* sysreads(): (file-system calls by relative path, clock reads) so far, as
 * the preload counts them (sysread.c: none of the clock under [preload]
 * clock = shared, whose modules are served all the same). */
static PyObject *judge_sysreads(PyObject *self, PyObject *unused)
{
	return Py_BuildValue("(kk)", zsys_relative_calls(), zsys_clock_calls());
}

/* envreads(True): start recording os.environ's lookups (start-up's
 * recorder, envwatch.c), True if it could; envreads(False): the keys
 * looked up since, with None for "the whole environment was listed". */
static PyObject *judge_envreads(PyObject *self, PyObject *begin)
{
	PyObject *keys;

	if (PyObject_IsTrue(begin))
		return PyBool_FromLong(zenv_probe_py_begin() == 0);
	keys = zenv_probe_py_end();
	return keys ? keys : Py_BuildValue("[O]", Py_None);
}

/* known(name): part of the identity, or read by start-up (checked in every run). */
static PyObject *judge_known(PyObject *self, PyObject *name)
{
	char entry[PW_IMPORT_NAME_MAX * 2 + 2];
	const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;

	if (s == NULL) {
		PyErr_Clear();
		Py_RETURN_FALSE;
	}
	snprintf(entry, sizeof entry, "%s=", s);
	return PyBool_FromLong(pw_env_in_identity(&judge_zygote->conf.profile, entry) ||
	                       zenv_known(judge_zygote, s));
}

static PyMethodDef judge_defs[] = {
	{ "cnames", judge_cnames, METH_O, NULL },
	{ "entropy", judge_entropy, METH_NOARGS, NULL },
	{ "known", judge_known, METH_O, NULL },
	{ "cwdreads", judge_cwdreads, METH_NOARGS, NULL },
	{ "sysreads", judge_sysreads, METH_NOARGS, NULL },
	{ "envreads", judge_envreads, METH_O, NULL },
};

/* Run judge(name) here and write its verdict to fd 3. */
static void judge_here(const struct zygote *z, const char *name)
{
	PyObject *ns = PyDict_New(), *r = NULL, *fn, *args = NULL, *v = NULL;
	const char *text = "cannot be judged (the judge failed)";

	judge_zygote = z;
	if (ns && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0)
		r = PyRun_String(judge_src, Py_file_input, ns, ns);
	fn = r ? PyDict_GetItemString(ns, "judge") : NULL;
	PyObject *c = PyCFunction_New(&judge_defs[0], NULL), *e = PyCFunction_New(&judge_defs[1], NULL);
	PyObject *k = PyCFunction_New(&judge_defs[2], NULL), *w = PyCFunction_New(&judge_defs[3], NULL);
	PyObject *s = PyCFunction_New(&judge_defs[4], NULL), *env = PyCFunction_New(&judge_defs[5], NULL);
	if (fn && c && e && k && w && s && env)
		args = Py_BuildValue("(sOOOOOO)", name, c, e, k, w, s, env);
	if (args)
		v = PyObject_CallObject(fn, args);
	if (v && PyUnicode_Check(v) && PyUnicode_AsUTF8(v))
		text = PyUnicode_AsUTF8(v);
	PyErr_Clear();
	size_t n = strlen(text);
	if (write(3, text, n < JUDGE_OUT ? n : JUDGE_OUT) < 0)
		_exit(1);
	_exit(0);
}

/* The throwaway child: stdin /dev/null, stdout and stderr to out, the
 * verdict to res (as fd 3), nothing else of the zygote's. */
static void __attribute__((noreturn)) judge_child(const struct zygote *z, const char *name, int res, int out)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* A pooled child has closed 0-2: the pipes may be there. */
	res = fcntl(res, F_DUPFD_CLOEXEC, 10);
	out = fcntl(out, F_DUPFD_CLOEXEC, 10);
	if (null < 0 || res < 0 || out < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || dup2(res, 3) < 0)
		_exit(1);
	close_range(4, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	zlog_use_fd(-1);
	zsys_watch(1);          /* count relative paths and clock reads, as the preload does */
	judge_here(z, name);
	_exit(1);
}

/* Read what is there from fd into buf[*n..cap) (the rest is dropped);
 * 0 at end of file, 1 if more may come. */
static int drain(int fd, char *buf, size_t cap, size_t *n)
{
	char tmp[1024];
	ssize_t k = read(fd, tmp, sizeof tmp);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (k <= 0)
		return 0;
	size_t take = (size_t)k < cap - *n ? (size_t)k : cap - *n;
	memcpy(buf + *n, tmp, take);
	*n += take;
	return 1;
}

/* Read the judge child's verdict (res) and what it printed (out) until
 * the verdict's end or JUDGE_US; 1 if the time ran out.  *open_out: out
 * is not at its end yet. */
static int read_judge(int res, int out, char *verdict, size_t *nv, char *printed, size_t cap,
                      size_t *np, int *open_out)
{
	long long deadline = pw_mono_us() + JUDGE_US;
	int open_res = 1;

	while (open_res) {
		struct pollfd p[2] = { { res, POLLIN, 0 }, { *open_out ? out : -1, POLLIN, 0 } };
		long long left = deadline - pw_mono_us();
		if (left <= 0)
			return 1;
		if (poll(p, 2, (int)(left / 1000) + 1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			open_res = drain(res, verdict, JUDGE_OUT, nv);
		if (*open_out && p[1].revents)
			*open_out = drain(out, printed, cap, np);
	}
	return 0;
}

/* Judge name in a throwaway child; its verdict ("safe" or the reasons)
 * into out.  Returns 1 for safe, 0 otherwise. */
static int judge_one(const struct zygote *z, const char *name, char *out, size_t len)
{
	int res[2], o[2], st = 0;
	char verdict[JUDGE_OUT + 1], printed[64];
	size_t nv = 0, np = 0;

	if (pipe2(res, O_CLOEXEC) < 0) {
		snprintf(out, len, "cannot be judged (pipe: %s)", strerror(errno));
		return 0;
	}
	if (pipe2(o, O_CLOEXEC) < 0) {
		snprintf(out, len, "cannot be judged (pipe: %s)", strerror(errno));
		close(res[0]);
		close(res[1]);
		return 0;
	}
	zpy_before_fork();
	pid_t pid = fork();
	if (pid == 0) {
		zpy_after_fork_child();
		judge_child(z, name, res[1], o[1]);
	}
	zpy_after_fork_parent();
	close(res[1]);
	close(o[1]);
	if (pid < 0) {
		snprintf(out, len, "cannot be judged (fork: %s)", strerror(errno));
		close(res[0]);
		close(o[0]);
		return 0;
	}
	int open_out = 1;
	int late = read_judge(res[0], o[0], verdict, &nv, printed, sizeof printed, &np, &open_out);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	while (open_out && drain(o[0], printed, sizeof printed, &np) && np < sizeof printed)
		;
	close(res[0]);
	close(o[0]);
	verdict[nv] = '\0';
	for (char *c = verdict; *c; c++)
		if (*c == '\t' || *c == '\n' || (unsigned char)*c < ' ')
			*c = ' ';
	if (late)
		snprintf(verdict, sizeof verdict, "takes longer than %llds to import", JUDGE_US / 1000000);
	else if (nv == 0)
		snprintf(verdict, sizeof verdict, "ends the process at import (%s %d)",
		         WIFSIGNALED(st) ? "signal" : "exit status",
		         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (np > 0 && strcmp(verdict, "safe") == 0)
		snprintf(verdict, sizeof verdict, "prints at import");
	else if (np > 0 && strcmp(verdict, "preloaded") != 0 && strlen(verdict) + 20 < sizeof verdict)
		strcat(verdict, "; prints at import");
	snprintf(out, len, "%s", verdict);
	return strcmp(verdict, "safe") == 0;
}

/* A connection child asked by pywarmctl: judge each name (those runs of
 * this profile imported, by the summary) and answer "NAME\tVERDICT" lines. */
void zlearn_answer(const struct zygote *z, int conn, const char *payload, size_t len)
{
	static struct pw_learn l;
	static char reply[PW_LEARN_MAX * (PW_IMPORT_NAME_MAX + 80)];
	char err[PATH_MAX + 128], verdict[256];
	size_t used = 0, count = 0;

	if (pw_peer_confined(conn)) {
		zwarn(z, "child %d: refused to judge modules for a confined caller", (int)getpid());
		_exit(ZCHILD_EXIT_BADREQ);
	}
	if (pw_learn_load(&z->conf.profile, &l, err, sizeof err) < 0)
		l.n = 0;
	for (size_t at = 0; at < len && count < PW_LEARN_MAX; count++) {
		const char *name = payload + at;
		const char *nul = memchr(name, '\0', len - at);
		if (nul == NULL)
			break;
		at += (size_t)(nul - name) + 1;
		if (nul - name > PW_IMPORT_NAME_MAX || !pw_module_name_valid(name, (size_t)(nul - name)))
			continue;
		if (pw_learn_find(&l, name) == NULL)
			snprintf(verdict, sizeof verdict, "not imported by any recorded run");
		else if (have_module(name))
			snprintf(verdict, sizeof verdict, "preloaded");
		else
			judge_one(z, name, verdict, sizeof verdict);
		int k = snprintf(reply + used, sizeof reply - used, "%s\t%s\n", name, verdict);
		if (k < 0 || (size_t)k >= sizeof reply - used)
			break;
		used += (size_t)k;
	}
	pw_send(conn, PW_MSG_VERDICTS, reply, (uint32_t)used, NULL, 0);
	_exit(0);
}

/* Add name to z->stats.learned (for status). */
static void note_learned(struct zygote *z, const char *name)
{
	size_t used = strlen(z->stats.learned);
	int n = snprintf(z->stats.learned + used, sizeof z->stats.learned - used, "%s%s", used ? "," : "", name);
	if (n < 0 || used + (size_t)n >= sizeof z->stats.learned)
		z->stats.learned[used] = '\0';
}

/* [preload] learn = auto, while the zygote warms: the modules runs of this
 * profile imported at least learn_min_runs times, most costly first, each
 * judged in a throwaway child and preloaded if safe. */
void zlearn_preload(struct zygote *z)
{
	char err[PATH_MAX + 128], verdict[256];
	struct pw_learn *l;
	int judged = 0;

	if (!z->conf.profile.learn_auto)
		return;
	if ((l = malloc(sizeof *l)) == NULL) {
		zwarn(z, "learn = auto: out of memory");
		return;
	}
	if (pw_learn_load(&z->conf.profile, l, err, sizeof err) < 0) {
		zwarn(z, "learn = auto: %s; learning nothing", err);
		free(l);
		return;
	}
	z->learn_start = l;
	pw_learn_sort(l);
	for (size_t i = 0; i < l->n && judged < AUTO_MAX; i++) {
		const char *name = l->e[i].name;
		if (l->e[i].runs < (uint64_t)z->conf.profile.learn_min_runs ||
		    pw_learn_in_profile(&z->conf.profile, name) || have_module(name))
			continue;
		judged++;
		if (!judge_one(z, name, verdict, sizeof verdict)) {
			zlog(z, "learn = auto: not preloading %s: %s", name, verdict);
			continue;
		}
		if (zwarm_import(z, name) == 0) {
			note_learned(z, name);
			zlog(z, "learn = auto: preloading %s (imported by %llu runs)", name,
			     (unsigned long long)l->e[i].runs);
		}
	}
}
