/* main.c: pywarm-zygote: check who we are, take the lock, warm the interpreter, serve. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* The one usage line, for --help and for a bad option. */
static const char usage[] =
	"usage: pywarm-zygote [--identity HEX] [--interpreter PATH] [--profile PATH [--source N]]\n"
	"                     [-- PYTHON3-OPTIONS]\n"
	"       pywarm-zygote --tag\n";

/* Command-line options of pywarm-zygote (started by pywarm, not by people). */
struct zopts {
	const char *identity;     /* what the launcher computed; must match ours */
	const char *profile;      /* profile path; none: the built-in default */
	const char *interpreter;  /* what the launcher resolved; none: the profile's or ours */
	int source;
};

/* --tag: the name of this binary's directory among an installation's
 * zygotes (make install asks). */
__attribute__((noreturn))
static void print_tag(void)
{
	char tag[64];

	if (pw_interp_own_tag(tag, sizeof tag) < 0) {
		fprintf(stderr, "pywarm-zygote: cannot resolve %s: %s\n", PW_PYTHON, strerror(errno));
		exit(1);
	}
	puts(tag);
	exit(0);
}

/* Parse argv; unknown options end the process with status 2. */
static void parse_args(struct zopts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "profile", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 's' },
		{ "interpreter", required_argument, NULL, 'I' },
		{ "tag", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	o->source = PW_SRC_BUILTIN;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': o->identity = optarg; break;
		case 'p': o->profile = optarg; break;
		case 'I': o->interpreter = optarg; break;
		case 't': print_tag();
		case 's':
			o->source = atoi(optarg);
			if (o->source < PW_SRC_ENV || o->source > PW_SRC_USER)
				o->source = PW_SRC_PROJECT;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	if (o->profile && o->source == PW_SRC_BUILTIN)
		o->source = PW_SRC_PROJECT;
}

/* Load the profile; a project profile only if the user trusts these bytes
 * (its own and its warmup script's, read once: warm.c runs those). */
static int load_profile(struct zygote *z, const struct zopts *o, char *err, size_t errlen)
{
	int r;

	if (o->profile == NULL)
		return pw_profile_load(&z->conf.profile, NULL, o->source, err, errlen);
	r = pw_profile_load_trusted(&z->conf.profile, o->profile, o->source, NULL, err, errlen);
	if (r > 0)
		snprintf(err, errlen, "%s: not trusted; not serving it", o->profile);
	return r == 0 ? 0 : -1;
}

/* After "--": the python3 options this zygote's interpreter starts with. */
static void take_pyopts(struct zygote *z, int argc, char **argv)
{
	z->conf.nzopts = argc - optind;
	z->conf.zopts = argv + optind;
}

/* Load the profile and compute the identity; it must be the launcher's. */
static int identify(struct zygote *z, const struct zopts *o)
{
	char err[PATH_MAX + 256];

	if (load_profile(z, o, err, sizeof err) < 0) {
		zwarn(z, "%s", err);
		return -1;
	}
	if (o->interpreter)
		pw_interp_embedded(o->interpreter, "launcher", &z->conf.interp);
	else if (z->conf.profile.interpreter)
		pw_interp_embedded(z->conf.profile.interpreter, "[python] interpreter", &z->conf.interp);
	else
		pw_interp_embedded(PW_PYTHON, "build", &z->conf.interp);
	if (!z->conf.interp.warm) {
		zwarn(z, "interpreter %s: %s; runs go to it cold", z->conf.interp.path, z->conf.interp.cold_why);
		return -1;
	}
	if (pw_zygote_stamp("/proc/self/exe", z->conf.stamp, sizeof z->conf.stamp) < 0) {
		zwarn(z, "cannot stat /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	z->conf.identity = pw_identity(&z->conf.profile, z->conf.interp.path, z->conf.stamp, environ);
	z->conf.identity = pw_identity_args(z->conf.identity, z->conf.nzopts, (const char *const *)z->conf.zopts);
	snprintf(z->conf.idhex, sizeof z->conf.idhex, "%016llx", (unsigned long long)z->conf.identity);
	if (o->identity && strcmp(o->identity, z->conf.idhex) != 0) {
		zlog(z, "identity %s differs from the launcher's %s "
		     "(the profile or environment changed meanwhile); exiting", z->conf.idhex, o->identity);
		return -1;
	}
	if (pw_sockdir(z->conf.sockdir, sizeof z->conf.sockdir, 1, err, sizeof err) < 0) {
		zwarn(z, "%s", err);
		return -1;
	}
	if (pw_zfile(z->conf.sockpath, sizeof z->conf.sockpath, z->conf.sockdir, z->conf.idhex, PW_ZSOCK) < 0 ||
	    pw_zfile(z->conf.lockpath, sizeof z->conf.lockpath, z->conf.sockdir, z->conf.idhex, PW_ZLOCK) < 0) {
		zwarn(z, "socket directory path too long: %s", z->conf.sockdir);
		return -1;
	}
	return 0;
}

/* A copy of the NULL-terminated vector v and its strings, with room for
 * spare more entries; NULL if memory runs out. */
static char **copy_vector(char **v, size_t spare)
{
	size_t n = 0;
	char **c;

	while (v[n])
		n++;
	if ((c = calloc(n + 1 + spare, sizeof *c)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL)
			return NULL;
	return c;
}

/* Remember how we were started (binary, argv, environment before Python's
 * locale coercion touched it): a stale zygote starts its successor so.
 * Everything is copied off the start-up block, which zproc_scrub() zeroes
 * once Python has started: environ, our python3 options and the program
 * name then point at the copies. */
static void save_origin(struct zygote *z, char **argv)
{
	ssize_t len = readlink("/proc/self/exe", z->conf.exe, sizeof z->conf.exe - 1);
	const char *r = getenv(PW_RESPAWN_ENV);
	char **env;
	size_t n = 0;

	z->conf.exe[len > 0 ? len : 0] = '\0';
	z->stats.respawns = r ? atoi(r) : 0;
	unsetenv(PW_RESPAWN_ENV);
	z->conf.argv = copy_vector(argv, 0);
	/* One slot more: zwatch_successor() adds PW_RESPAWN_ENV. */
	z->conf.envp = copy_vector(environ, 1);
	while (z->conf.envp && z->conf.envp[n])
		n++;
	/* environ: the same strings (a child zeroes them all at once). */
	env = z->conf.envp ? calloc(n + 1, sizeof *env) : NULL;
	if (env)
		memcpy(env, z->conf.envp, n * sizeof *env);
	if (z->conf.argv == NULL || z->conf.envp == NULL || env == NULL) {
		zwarn(z, "out of memory at start-up");
		exit(1);
	}
	z->conf.zopts = z->conf.argv + (z->conf.zopts - argv);
	environ = env;
	program_invocation_name = z->conf.argv[0];
	r = strrchr(z->conf.argv[0], '/');
	program_invocation_short_name = r ? (char *)r + 1 : z->conf.argv[0];
}

/* Take the identity's lock; 0 if another zygote already holds it. */
static int take_lock(struct zygote *z)
{
	z->lockfd = open(z->conf.lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (z->lockfd < 0) {
		zwarn(z, "cannot open %s: %s", z->conf.lockpath, strerror(errno));
		return -1;
	}
	if (flock(z->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return 0;
		zwarn(z, "cannot lock %s: %s", z->conf.lockpath, strerror(errno));
		return -1;
	}
	return 1;
}

/* Under socket activation: take the passed socket, and without --profile
 * serve the profile pywarm would use outside any project (the user's, or
 * the built-in default).  0, or -1 (logged). */
static int activation(struct zygote *z, struct zopts *o)
{
	char err[PATH_MAX + 256];
	char *path = NULL;

	z->actfd = zsd_listen_fd(err, sizeof err);
	if (z->actfd < 0) {
		zwarn(z, "%s", err);
		return -1;
	}
	if (z->actfd == 0) {
		z->actfd = -1;
		return 0;
	}
	if (o->profile == NULL) {
		if (pw_profile_find("/", &path, &o->source, err, sizeof err) < 0) {
			zwarn(z, "%s", err);
			return -1;
		}
		/* A project file in / would need trust the zygote cannot ask for. */
		if (o->source == PW_SRC_PROJECT) {
			zlog(z, "%s would apply to /; socket activation serves only the "
			     "user or built-in profile", path);
			free(path);
			return -1;
		}
		o->profile = path;      /* NULL: the built-in default; kept for life */
	}
	return 0;
}

/* The socket children send their notices to: a datagram socket that
 * knows each sender from the kernel (SO_PASSCRED), so no descriptor of it
 * needs to reach a child and nobody can speak for another process.  The
 * holder of the identity's lock binds <identity>.notice in the private
 * socket directory, which a sandboxed child can still reach as it exits
 * (Landlock scopes abstract sockets, not named ones); a zygote without
 * the lock (socket activation) uses an abstract name no other process
 * can take first, as it holds random bits. */
static int open_notices(struct zygote *z, int locked)
{
	struct sockaddr_un *sa = &z->conf.notice_addr;
	uint64_t nonce = 0;
	int on = 1, n;

	sa->sun_family = AF_UNIX;
	if (locked) {
		if (pw_zfile(sa->sun_path, sizeof sa->sun_path, z->conf.sockdir, z->conf.idhex, PW_ZNOTICE) < 0)
			locked = 0;             /* too long a path: the abstract name */
		else
			n = (int)strlen(sa->sun_path);
	}
	if (!locked) {
		if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
			zwarn(z, "cannot draw random bytes for the notice socket: %s", strerror(errno));
			return -1;
		}
		sa->sun_path[0] = '\0';
		n = 1 + snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "pywarm-notice-%d-%016llx",
		                 (int)z->conf.pid, (unsigned long long)nonce);
	}
	z->conf.notice_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + (locked ? 1 : 0));
	z->noticefd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (z->noticefd >= 0 && locked)
		unlink(sa->sun_path);   /* a previous zygote's; the lock is ours now */
	if (z->noticefd < 0 ||
	    setsockopt(z->noticefd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 ||
	    bind(z->noticefd, (struct sockaddr *)sa, z->conf.notice_len) < 0) {
		zwarn(z, "cannot set up the notice socket %s: %s", locked ? sa->sun_path : "(abstract)",
		     strerror(errno));
		return -1;
	}
	return 0;
}

/* Signals arrive on a signalfd; children's notices on the notice socket. */
static int setup_events(struct zygote *z, int locked)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	z->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (z->sigfd < 0) {
		zwarn(z, "cannot set up the signal channel: %s", strerror(errno));
		return -1;
	}
	return open_notices(z, locked);
}

/* Is path still the file this process runs from? */
static int same_binary(const char *path)
{
	struct stat a, b;
	return path[0] && stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Warmed: leave without serving if a file behind the zygote changed while
 * it warmed (a successor starts, unless that keeps happening), or if the
 * file it runs from was removed or replaced meanwhile (a package being
 * upgraded or purged: nothing could reach this identity any more, and the
 * next run starts a zygote from the new file). */
static void still_current(struct zygote *z)
{
	char why[PATH_MAX + 64];

	if (zwatch_finish(z, why, sizeof why) < 0) {
		zwarm_done(z);
		if (z->stats.respawns >= PW_RESPAWN_MAX) {
			zlog(z, "not serving: %s; files keep changing while a zygote warms, "
			     "so no other is started now", why);
			_exit(0);
		}
		zlog(z, "not serving: %s; starting afresh", why);
		zwatch_successor(z, 1);
		_exit(0);
	}
	if (!same_binary(z->conf.exe)) {
		zlog(z, "not serving: %s was removed or replaced while this zygote started", z->conf.exe);
		zwarm_done(z);
		_exit(0);
	}
}

int main(int argc, char **argv)
{
	static struct zygote z;
	struct zopts o = { 0 };
	struct rlimit rl;

	/* No other process of the user may look into the zygote or the
	 * children it forks (/proc/PID/mem, /proc/PID/fd, pidfd_getfd, ptrace)
	 * until a child becomes the caller's program (child.c). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	z.conf.pid = getpid();
	z.conf.started = time(NULL);
	z.listenfd = z.lockfd = z.progressfd = z.actfd = z.sparefd = z.noticefd = -1;
	zlog_use_fd(fcntl(2, F_DUPFD_CLOEXEC, 3));
	z.conf.journal = zsd_is_journal(2);
	memcpy(z.conf.idhex, "----------------", 17);
	parse_args(&o, argc, argv);
	zsd_notify_init();
	take_pyopts(&z, argc, argv);
	save_origin(&z, argv);
	if (activation(&z, &o) < 0 || identify(&z, &o) < 0)
		return 1;
	/* A passed socket is served even when another zygote of this identity
	 * holds the lock; only its own <identity>.sock needs the lock. */
	int locked = take_lock(&z);
	if (locked < 0 || (locked == 0 && z.actfd < 0))
		return locked < 0;
	if (getrlimit(RLIMIT_STACK, &rl) == 0)
		z.conf.stack_cur = rl.rlim_cur;
	umask(077);
	if (chdir("/") < 0 || setup_events(&z, locked) < 0)
		return 1;
	long long t0 = pw_mono_us();
	if (zpy_init(&z) < 0)
		return 1;
	zproc_scrub();
	still_current(&z);
	if (zpy_prepare(&z) < 0)
		return 1;
	zchild_world_init(&z);
	if (locked && zlisten_open(&z) < 0)
		return 1;
	zwarm_done(&z);
	zsd_notify("READY=1");
	zlog(&z, "serving %s profile %s: %zu modules preloaded, %zu failed, in %.2fs",
	     pw_profile_source_name(z.conf.profile.source), z.conf.profile.path ? z.conf.profile.path : "",
	     z.stats.modules_ok, z.stats.modules_failed, (double)(pw_mono_us() - t0) / 1e6);
	int rc = zloop(&z);
	if (z.listenfd >= 0)
		unlink(z.conf.sockpath);
	zlog(&z, "exiting after %lu launches", z.stats.launches);
	_exit(rc < 0 ? 1 : 0);
}
