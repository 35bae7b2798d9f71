/* conn.h: finding, reaching and starting the zygote for a profile (shared by pywarm and pywarmctl). */
#ifndef PW_CONN_H
#define PW_CONN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* Everything that names one zygote. */
/* target_clear() in conn.c sets every field: keep it in step with this list. */
struct pw_target {
	struct pw_profile profile;
	uint64_t identity;
	char idhex[17];             /* identity as 16 lowercase hex digits */
	char sockdir[PATH_MAX];     /* from pw_sockdir() */
	char sockpath[PATH_MAX];    /* <sockdir>/<idhex>.sock */
	char lockpath[PATH_MAX];    /* <sockdir>/<idhex>.lock, held by the live zygote */
	char logpath[PATH_MAX];     /* <statedir>/<idhex>.log */
	char defpath[PATH_MAX];     /* <sockdir>/default.sock: a socket-activated zygote */
	char zygote[PATH_MAX];      /* the pywarm-zygote binary embedding interp, or "" */
	char stamp[128];            /* "dev:ino:mtime_sec.mtime_nsec:size" of that binary */
	struct pw_interp interp;    /* the interpreter runs stand in for */
	int untrusted;              /* PW_TRUST_NO or _CHANGED: a project profile not used */
	char *untrusted_path;       /* that profile, and its bytes (for the hint) */
	char *untrusted_text;
	size_t untrusted_len;
	int nzopts;                 /* python3 options the zygote starts with */
	const char *const *zopts;
};

/* The well-known socket a service manager listens on for the user's
 * default-profile zygote (shell/systemd/pywarm.socket).  Launches whose
 * profile is the user's or the built-in one try it when their own socket is
 * missing; a zygote of another identity there rejects them. */
#define PW_DEFAULT_SOCK "default.sock"

/* Resolve the profile that applies in cwd, load it, and compute identity
 * and paths.  Returns 0; -1 with a one-line message in err (a profile that
 * does not parse, an unsafe socket directory, a missing zygote binary). */
int pw_target_resolve(struct pw_target *t, const char *cwd, char *const envp[],
                      char *err, size_t errlen);
void pw_target_free(struct pw_target *t);

/* After pw_target_resolve failed with t->untrusted set: print the one-line
 * "not trusted" hint if stderr is a terminal and this version of the profile
 * was not hinted before. */
void pw_untrusted_hint(const struct pw_target *t);

/* When in runs cold only for want of a zygote binary: say once, on a
 * terminal, how to add one. */
void pw_interp_hint(const struct pw_interp *in);

/* Serve t from a zygote started with python3 options opts[0..n): mix them
 * into the identity and recompute the paths.  0, or -1 with err. */
int pw_target_set_opts(struct pw_target *t, int n, const char *const *opts,
                       char *err, size_t errlen);


/* Connect to a zygote socket (CLOEXEC).  Returns the fd, or -1 with errno;
 * ENOENT and ECONNREFUSED mean "no zygote serves here", EPERM that the
 * path is not a socket of ours (a link, another user's) or that whoever
 * listens there is not of our uid. */
int pw_connect(const char *sockpath);

/* 1 if a live zygote holds the lock file (it may still be warming), 0 if
 * not, -1 with errno on error. */
int pw_zygote_alive(const char *lockpath);

/* Start a zygote for t in the background, detached (double fork, setsid,
 * stdin /dev/null, stdout/stderr appended to t->logpath), exec'ing
 *   pywarm-zygote --identity <idhex> --interpreter <path> [--profile <path>]
 *                 [-- <python3 options>]
 * Returns its pid (it may exit at once if another one won the lock), or -1
 * with a message in err.  Never leaves a zombie or a child of the caller. */
int pw_spawn_zygote(const struct pw_target *t, char *err, size_t errlen);

/* Ask a zygote for its status: the key=value text of PW_MSG_STATUS
 * (malloc'd, NUL-terminated).  Returns 0, or -1 with errno (EAGAIN: no
 * reply within PW_STATUS_TIMEOUT_S seconds). */
#define PW_STATUS_TIMEOUT_S 5
int pw_query_status(const char *sockpath, char **text);

#endif
