/* conn.c: finding, reaching and starting the zygote for a profile (shared by pywarm and pywarmctl). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "conn.h"
#include "proto.h"
#include "spawn.h"
#include "util.h"

#define ZYGOTE_NAME      "pywarm-zygote"

/* printf into err, if the caller gave room for a message. */
__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Join dir, "/", name and suffix into out; -1 if it does not fit in outlen. */
static int join_path(char *out, size_t outlen, const char *dir,
                     const char *name, const char *suffix)
{
	int n = snprintf(out, outlen, "%s/%s%s", dir, name, suffix);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Fill the socket, lock and log paths of t from its identity. */
static int target_paths(struct pw_target *t, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	char statedir[PATH_MAX];
	char serr[256];

	if (pw_sockdir(t->sockdir, sizeof(t->sockdir), 1, err, errlen) < 0)
		return -1;
	if (pw_zfile(t->sockpath, sizeof(sa.sun_path), t->sockdir, t->idhex, PW_ZSOCK) < 0 ||
	    pw_zfile(t->lockpath, sizeof(sa.sun_path), t->sockdir, t->idhex, PW_ZLOCK) < 0 ||
	    join_path(t->defpath, sizeof(sa.sun_path), t->sockdir, PW_DEFAULT_SOCK, "") < 0) {
		seterr(err, errlen, "socket directory %s: path too long for a unix socket",
		       t->sockdir);
		return -1;
	}
	/* Only the name here: the directory is created when a zygote is
	 * spawned, since this runs on every launch.  pw_statedir fails when
	 * it does not exist yet but still gives its path; with no path at
	 * all (neither XDG_STATE_HOME nor HOME), or one that is refused
	 * (another user's, a symbolic link), the log goes beside the socket. */
	statedir[0] = '\0';
	if (pw_statedir(statedir, sizeof(statedir), 0, serr, sizeof(serr)) < 0 &&
	    (statedir[0] != '/' || errno != ENOENT)) {
		pw_debug("no state directory (%s); logging to %s", serr, t->sockdir);
		snprintf(statedir, sizeof(statedir), "%s", t->sockdir);
	}
	if (pw_zfile(t->logpath, sizeof(t->logpath), statedir, t->idhex, PW_ZLOG) < 0) {
		seterr(err, errlen, "state directory %s: path too long", statedir);
		return -1;
	}
	return 0;
}

/* Trace a profile that discovery ignored (another user's, or in a
 * directory others can write): a run then behaves as if it were absent. */
static void note_skipped(void *arg, const char *path, const char *why)
{
	pw_debug("ignoring %s: %s", path, why);
}

/* Load the profile at path (NULL: built-in).  A project profile is used
 * only when trusted, warmup script included; otherwise keep its path and
 * digest for the hint and fail with a message. */
static int load_profile(struct pw_target *t, const char *path, int source,
                        char *err, size_t errlen)
{
	char digest[65];
	int r;

	if (path == NULL)
		return pw_profile_load(&t->profile, NULL, source, err, errlen);
	r = pw_profile_load_trusted(&t->profile, path, source, digest, err, errlen);
	if (r <= 0)
		return r;
	t->untrusted = r;
	t->untrusted_path = strdup(path);
	t->untrusted_text = strdup(digest);
	t->untrusted_len = t->untrusted_text ? 64 : 0;
	return -1;
}

/* Empty every field of t (its strings ""), without writing all of its
 * 50 KB: a launch pays for the pages it touches.  Keep in step with
 * struct pw_target. */
static void target_clear(struct pw_target *t)
{
	memset(&t->profile, 0, sizeof(t->profile));
	t->identity = 0;
	t->idhex[0] = t->sockdir[0] = t->sockpath[0] = t->lockpath[0] = '\0';
	t->logpath[0] = t->defpath[0] = t->zygote[0] = t->stamp[0] = '\0';
	pw_interp_clear(&t->interp);
	t->untrusted = 0;
	t->untrusted_path = t->untrusted_text = NULL;
	t->untrusted_len = 0;
	t->nzopts = 0;
	t->zopts = NULL;
}

/* Resolve the profile for cwd, the zygote binary, the identity and the paths. */
int pw_target_resolve(struct pw_target *t, const char *cwd, char *const envp[],
                      char *err, size_t errlen)
{
	char *path = NULL;
	int source = 0;
	int rc;

	target_clear(t);
	if (pw_profile_find_noting(cwd, &path, &source, note_skipped, NULL, err, errlen) < 0)
		return -1;
	rc = load_profile(t, path, source, err, errlen);
	free(path);
	if (rc < 0)
		return -1;
	pw_interp_resolve(&t->profile, &t->interp);
	/* The zygote binary is the one that embeds the interpreter; without
	 * one, runs go cold (the caller reads t->interp.warm). */
	snprintf(t->zygote, sizeof(t->zygote), "%s", t->interp.zygote);
	if (t->interp.warm && pw_zygote_stamp(t->zygote, t->stamp, sizeof(t->stamp)) < 0) {
		seterr(err, errlen, "cannot stat %s: %s", t->zygote, strerror(errno));
		goto fail;
	}
	t->identity = pw_identity(&t->profile, t->interp.path, t->stamp, envp);
	snprintf(t->idhex, sizeof(t->idhex), "%016llx", (unsigned long long)t->identity);
	if (target_paths(t, err, errlen) < 0)
		goto fail;
	pw_debug("profile %s (%s), identity %s",
	         t->profile.path ? t->profile.path : "(built-in)",
	         pw_profile_source_name(t->profile.source), t->idhex);
	return 0;
fail:
	pw_profile_free(&t->profile);
	memset(&t->profile, 0, sizeof(t->profile));
	return -1;
}

/* Mix python3 options into t's identity and rename its socket, lock and log. */
int pw_target_set_opts(struct pw_target *t, int n, const char *const *opts,
                       char *err, size_t errlen)
{
	if (n <= 0)
		return 0;
	t->nzopts = n;
	t->zopts = opts;
	t->identity = pw_identity_args(t->identity, n, opts);
	snprintf(t->idhex, sizeof(t->idhex), "%016llx", (unsigned long long)t->identity);
	pw_debug("interpreter options: identity %s", t->idhex);
	return target_paths(t, err, errlen);
}

/* Release what pw_target_resolve allocated. */
void pw_target_free(struct pw_target *t)
{
	pw_profile_free(&t->profile);
	memset(&t->profile, 0, sizeof(t->profile));
	free(t->untrusted_path);
	free(t->untrusted_text);
	t->untrusted_path = t->untrusted_text = NULL;
}

/* The "not trusted" hint: on a terminal only, once per profile version. */
void pw_untrusted_hint(const struct pw_target *t)
{
	if (!t->untrusted || t->untrusted_path == NULL || !isatty(2))
		return;
	if (!pw_trust_hint_once(t->untrusted_path, t->untrusted_text, t->untrusted_len))
		return;
	pw_warn("%s is %s; running without it ('pywarmctl trust' there to use it)",
	        t->untrusted_path,
	        t->untrusted == PW_TRUST_CHANGED ? "changed since it was trusted" : "not trusted");
}

/* The "no zygote binary" hint: on a terminal only, once per interpreter. */
void pw_interp_hint(const struct pw_interp *in)
{
	static const char key[] = "no zygote binary";

	if (!in->no_zygote || !isatty(2) || !pw_trust_hint_once(in->real, key, sizeof key))
		return;
	pw_warn("%s runs cold: this installation has no zygote for it; "
	        "'make install PYTHONS=\"python3 %s\"' adds one ('pywarmctl interpreters' lists them)",
	        in->path, in->path);
}

/* Connect a CLOEXEC stream socket to sockpath; the fd, or -1 with errno. */
int pw_connect(const char *sockpath)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred peer;
	socklen_t len = sizeof peer;
	struct stat st;
	int fd, saved;

	if (strlen(sockpath) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The directory was checked (ours, 0700) when the path was made; the
	 * socket itself must be a socket of ours, never a link to another. */
	if (lstat(sockpath, &st) < 0)
		return -1;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	memcpy(sa.sun_path, sockpath, strlen(sockpath) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* Whoever listens there must be the user's own process. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || peer.uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	/* The kernel records who sent each message (the zygote judges the
	 * sender, not the connector), and tells us who sent each answer. */
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Does a live zygote hold lockpath?  It keeps LOCK_EX for its whole life. */
int pw_zygote_alive(const char *lockpath)
{
	int fd, rc, saved;

	fd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	do
		rc = flock(fd, LOCK_SH | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return saved == EWOULDBLOCK ? 1 : -1;
	}
	flock(fd, LOCK_UN);
	close(fd);
	return 0;
}

/* The zygote's command line for t into argv (room for 10 + PW_MAX_ZOPTS + 1). */
static void zygote_argv(const struct pw_target *t, char **argv, char *source, size_t srclen)
{
	int n = 0;

	argv[n++] = ZYGOTE_NAME;
	argv[n++] = "--identity";
	argv[n++] = (char *)t->idhex;
	argv[n++] = "--interpreter";
	argv[n++] = (char *)t->interp.path;
	if (t->profile.path) {
		snprintf(source, srclen, "%d", t->profile.source);
		argv[n++] = "--profile";
		argv[n++] = t->profile.path;
		argv[n++] = "--source";
		argv[n++] = source;
	}
	if (t->nzopts > 0) {
		argv[n++] = "--";
		for (int i = 0; i < t->nzopts && i < PW_MAX_ZOPTS; i++)
			argv[n++] = (char *)t->zopts[i];
	}
	argv[n] = NULL;
}

/* Open t's log for appending, creating the state directory first: never
 * through a symbolic link, only in a directory of the user's that group
 * and others cannot write, and only a regular file of the user's with one
 * link.  A refused state directory (another user's HOME under sudo -E, a
 * symbolic link) is not an error: the log goes beside the socket, in the
 * private socket directory.  The path used goes to logpath. */
static int open_log(const struct pw_target *t, char *logpath, size_t loglen,
                    char *err, size_t errlen)
{
	char dir[PATH_MAX], why[PATH_MAX + 128];
	const char *name = strrchr(t->logpath, '/') + 1;
	int dfd, fd;

	dfd = pw_statedir_open(dir, sizeof(dir), 1, why, sizeof(why));
	if (dfd < 0) {
		pw_debug("%s; logging to %s", why, t->sockdir);
		snprintf(dir, sizeof(dir), "%s", t->sockdir);
		dfd = pw_dir_open("socket directory", dir, PW_DIR_PRIVATE, 0, err, errlen);
		if (dfd < 0)
			return -1;
	}
	snprintf(logpath, loglen, "%s/%s", dir, name);
	fd = pw_private_openat(dfd, dir, name, O_WRONLY | O_APPEND | O_CREAT, why, sizeof(why));
	if (fd < 0)
		seterr(err, errlen, "not starting a zygote: its log: %s", why);
	close(dfd);
	return fd;
}

/* Start t's zygote detached in the background; its pid, or -1 with err. */
int pw_spawn_zygote(const struct pw_target *t, char *err, size_t errlen)
{
	char logpath[PATH_MAX + 32], source[16];
	char *argv[10 + PW_MAX_ZOPTS + 1];
	struct pw_spawn sp = { t->zygote, argv, NULL, -1 };
	pid_t pid;

	if (!t->interp.warm) {
		seterr(err, errlen, "%s runs cold: %s", t->interp.path, t->interp.cold_why);
		return -1;
	}
	zygote_argv(t, argv, source, sizeof source);
	sp.outfd = open_log(t, logpath, sizeof(logpath), err, errlen);
	if (sp.outfd < 0)
		return -1;
	pid = pw_spawn_detached(&sp, err, errlen);
	close(sp.outfd);
	if (pid > 0)
		pw_debug("spawned %s %s (pid %ld), log %s", ZYGOTE_NAME, t->idhex,
		         (long)pid, logpath);
	return pid;
}

/* Ask the zygote at sockpath for its key=value status text. */
int pw_query_status(const char *sockpath, char **text)
{
	struct timeval tv = { .tv_sec = PW_STATUS_TIMEOUT_S };   /* a wedged zygote cannot hang us */
	struct pw_hdr hdr;
	char *payload = NULL;
	int fds[1];
	uint32_t nfds = 0;
	int fd, saved;

	*text = NULL;
	fd = pw_connect(sockpath);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    pw_send(fd, PW_MSG_STATUS_REQ, "", 0, NULL, 0) < 0 ||
	    pw_recv(fd, &hdr, &payload, fds, 0, &nfds) < 0)
		goto fail;
	if (hdr.type != PW_MSG_STATUS) {
		errno = hdr.type == PW_MSG_REJECT ? EPROTONOSUPPORT : EPROTO;
		goto fail;
	}
	close(fd);
	*text = payload;
	return 0;
fail:
	saved = errno;
	free(payload);
	close(fd);
	errno = saved;
	return -1;
}
