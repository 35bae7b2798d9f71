/* sandbox.h: the sandbox policy model ([sandbox] in a profile, PYWARM_SANDBOX) and the calls that apply it. */
#ifndef PW_SANDBOX_H
#define PW_SANDBOX_H

#include <stddef.h>
#include <stdio.h>

/* Exit status of a run refused because its sandbox cannot be set up
 * (the shell's "found but cannot execute"). */
#define PW_EXIT_SANDBOX 126

/* Named policies, composable (a bit each). */
enum {
	PW_SBP_DEFAULT    = 1 << 0,
	PW_SBP_NO_NETWORK = 1 << 1,
	PW_SBP_NO_EXEC    = 1 << 2,
	PW_SBP_NO_FORK    = 1 << 3,
};

/* What a denied call does.  When several rules ask for one call, the
 * strictest wins: log < errno < kill < enosys. */
enum pw_sb_action {
	PW_SBA_ERRNO  = 0,    /* fails with EPERM (the default) */
	PW_SBA_LOG    = 1,    /* allowed, and logged by the kernel's audit */
	PW_SBA_KILL   = 2,    /* the whole process dies of SIGSYS */
	PW_SBA_ENOSYS = 3,    /* fails with ENOSYS whatever the action (clone3 under no-fork) */
};

/* The argument test a rule applies before denying a call. */
enum pw_sb_cond {
	PW_SBC_ALWAYS = 0,
	PW_SBC_IOCTL_REQ,       /* ioctl whose request (arg 1, low 32 bits) is arg */
	PW_SBC_SOCKET_NOT_UNIX, /* socket whose family (arg 0) is not AF_UNIX */
	PW_SBC_CLONE_NOT_THREAD,/* clone without CLONE_THREAD in its flags (arg 0) */
};

/* One effective rule: deny call name (when cond holds) with action. */
struct pw_sb_rule {
	const char *name;
	int cond;                  /* enum pw_sb_cond */
	unsigned long arg;         /* the value cond compares with */
	const char *arg_name;      /* how the renderer shows arg ("TIOCSTI"), or NULL */
	int action;                /* enum pw_sb_action */
	const char *origin;        /* the policy that asked for it, or "deny" */
};

/* A Landlock path rule. */
struct pw_sb_path {
	char *path;                /* absolute */
	int write;                 /* 0: read and execute only; 1: full access */
	int implicit;              /* added by pywarm, not by the profile */
};

enum { PW_LL_REQUIRED = 0, PW_LL_BEST_EFFORT = 1 };

struct pw_sandbox {
	unsigned policies;         /* PW_SBP_* from the profile */
	unsigned env_policies;     /* PW_SBP_* added by PYWARM_SANDBOX */
	int action;                /* the profile's action: enum pw_sb_action, default ERRNO */
	char **deny;               /* extra system call names, NULL-terminated (or NULL) */
	size_t ndeny;
	struct pw_sb_path *paths;  /* read_only/read_write in profile order */
	size_t npaths;
	int landlock_mode;         /* PW_LL_* */
	int broken;                /* the profile failed to parse and has a [sandbox] section */
	const char *interpreter;   /* the interpreter the run uses (not owned), or NULL */
};

/* Handle one key of [sandbox] (value: one line; lists may continue on
 * further calls).  base is the profile's path (relative paths are taken from
 * its directory) or NULL.  0, or -1 with a message (no file/line) in msg. */
int  pw_sandbox_key(struct pw_sandbox *sb, const char *key, const char *value,
                    const char *base, char *msg, size_t msglen);

/* Add the policies of a PYWARM_SANDBOX value ("name,name").  0, or -1 with
 * "PYWARM_SANDBOX: unknown policy 'x' ..." in err. */
int  pw_sandbox_add_env(struct pw_sandbox *sb, const char *value, char *err, size_t errlen);

/* Does the profile text contain a [sandbox] section header?  (Used to refuse
 * a run whose profile asks for a sandbox but fails to parse.) */
int  pw_sandbox_mentioned(const char *text, size_t len);

/* Is any restriction asked for (by the profile or the environment)? */
int  pw_sandbox_active(const struct pw_sandbox *sb);
/* Does it ask for Landlock (any path rule)? */
int  pw_sandbox_wants_landlock(const struct pw_sandbox *sb);

/* The effective seccomp rules, one per system call and condition, with the
 * strictest action asked for: the policies', the deny list's, and, in every
 * sandbox, TIOCSTI and TIOCLINUX, plus the calls that reach other processes
 * when the kernel has no Landlock.  *rules is malloc'd.  0, or -1 (out of
 * memory).  _abi: as on a kernel whose Landlock ABI is abi (0: none). */
int  pw_sandbox_rules(const struct pw_sandbox *sb, struct pw_sb_rule **rules, size_t *n);
int  pw_sandbox_rules_abi(const struct pw_sandbox *sb, int abi, struct pw_sb_rule **rules,
                          size_t *n);

/* The effective Landlock paths: the implicit system paths, then the
 * profile's.  *paths is malloc'd; its strings belong to sb or are static. */
int  pw_sandbox_paths(const struct pw_sandbox *sb, struct pw_sb_path **paths, size_t *n);

/* Name of an action / a policy bit. */
const char *pw_sandbox_action_name(int action);
const char *pw_sandbox_policy_name(unsigned bit);

/* Print the effective rules as text (for `pywarmctl sandbox`). */
int  pw_sandbox_render(const struct pw_sandbox *sb, FILE *out);

void pw_sandbox_free(struct pw_sandbox *sb);

/* confine.c: apply the profile's sandbox plus the PYWARM_SANDBOX
 * value env (may be NULL) to this process, or write "pywarm: problem" to
 * fd 2 and _exit(PW_EXIT_SANDBOX): a run that asks for a sandbox never runs
 * unconfined.  interpreter: the one the run uses (its prefix stays
 * readable under Landlock).  cold: the process is about to exec it (a
 * sandbox that forbids execve cannot serve it and refuses).  1 when
 * confined, 0 when nothing was asked for. */
int  pw_sandbox_enter(const struct pw_sandbox *profile, const char *env,
                      const char *interpreter, int cold);

/* confine.c: 1 if the profile's sandbox plus PYWARM_SANDBOX forbid
 * execve, so that the run cannot fall back to exec'ing the interpreter. */
int  pw_sandbox_warm_only(const struct pw_sandbox *profile, const char *env);

/* confine.c: is the peer of a unix socket confined by seccomp (or
 * unknowable)?  The zygote serves no such peer: confined code must not get
 * an unconfined run by asking the zygote directly.  1 or 0. */
int  pw_peer_confined(int conn);

/* The Landlock ABI of the running kernel: >= 1, 0 when it has none (or it is
 * disabled). */
int  pw_landlock_abi(void);

/* confine.c: set no_new_privs, then put the calling process in a
 * Landlock domain of its own (the profile's paths, if any; from ABI 6
 * signals and abstract unix sockets scoped to the domain) and load the
 * seccomp filter (both inherited across fork and execve).  The domain keeps
 * the run from ptrace access to every process outside it, root's included.
 * 0, or -1 with a one-line message in err; the caller must then not run the
 * program. */
int  pw_sandbox_apply(const struct pw_sandbox *sb, char *err, size_t errlen);


#endif
