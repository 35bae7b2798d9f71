/* confine.c: confines the calling process: no_new_privs, a Landlock ruleset (raw system calls) and a seccomp filter (libseccomp). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "procfs.h"

/* Access rights newer than the installed kernel headers may know. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

/* Landlock ABI 6 (Linux 6.12): a domain can keep its processes from
 * signalling processes outside it and from connecting to abstract unix
 * sockets made outside it.  Older headers lack the ruleset's later fields. */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6.  A kernel that knows fewer
 * fields accepts it as long as the ones it does not know are zero. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;   /* ABI 4; pywarm handles none */
	uint64_t scoped;               /* ABI 6 */
};

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define LL_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | \
                 LANDLOCK_ACCESS_FS_READ_DIR)
/* The rights that apply to a file (the others are for directories only). */
#define LL_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
                 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
                 LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Every file system right the kernel's Landlock ABI can restrict. */
static uint64_t ll_handled(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;    /* ABI 1: bits 0..12 */

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

/* Allow path beneath (read, or everything) in ruleset rs.  A missing path
 * is skipped: it grants nothing, which is the closed side. */
static int ll_add_path(int rs, const struct pw_sb_path *p, uint64_t handled,
                       char *err, size_t errlen)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd = open(p->path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "sandbox: cannot open %s for a Landlock rule: %s",
		         p->path, strerror(errno));
		return -1;
	}
	pb.parent_fd = fd;
	pb.allowed_access = (p->write ? handled : LL_READ) & handled;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FILE;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		snprintf(err, errlen, "sandbox: cannot add a Landlock rule for %s: %s",
		         p->path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* What the ruleset of a run handles under Landlock ABI abi (>= 1): with
 * paths, every file system right the ABI knows; without, none from ABI 6,
 * where scoping alone makes a domain, and before that the creation of
 * block devices (a ruleset must handle something for a domain to exist). */
static void ll_attr(const struct pw_sandbox *sb, int abi, struct ll_ruleset_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	if (pw_sandbox_wants_landlock(sb))
		attr->handled_access_fs = ll_handled(abi);
	else if (abi < 6)
		attr->handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_BLOCK;
	if (abi >= 6)
		attr->scoped = LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
}

/* Put this process in a Landlock domain of its own: no ptrace access to
 * any process outside it (the kernel checks that for ptrace, pidfd_getfd,
 * process_vm_*, /proc/PID/mem and /proc/PID/fd, for root too; it lets
 * /proc/PID/environ and maps be read), the scoping ABI 6 adds, and the
 * profile's paths.  Without
 * Landlock a profile with paths is refused unless landlock = best-effort;
 * a sandbox without paths goes on with the seccomp fallback rules
 * (pw_sandbox_rules). */
static int apply_landlock(const struct pw_sandbox *sb, char *err, size_t errlen)
{
	struct ll_ruleset_attr attr;
	struct pw_sb_path *paths = NULL;
	size_t n = 0;
	int abi = pw_landlock_abi(), rs, rc = -1;

	if (abi <= 0) {
		if (!pw_sandbox_wants_landlock(sb) || sb->landlock_mode == PW_LL_BEST_EFFORT)
			return 0;
		snprintf(err, errlen, "sandbox: this kernel has no Landlock, which the profile's "
		         "read_only/read_write paths need (landlock = best-effort runs without it)");
		return -1;
	}
	ll_attr(sb, abi, &attr);
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		snprintf(err, errlen, "sandbox: cannot create a Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	if (pw_sandbox_paths(sb, &paths, &n) < 0) {
		snprintf(err, errlen, "sandbox: out of memory");
		close(rs);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (ll_add_path(rs, &paths[i], attr.handled_access_fs, err, errlen) < 0)
			goto out;
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
		snprintf(err, errlen, "sandbox: cannot enforce the Landlock ruleset: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(paths);
	close(rs);
	return rc;
}

/* libseccomp's action for ours. */
static uint32_t scmp_action(int action)
{
	switch (action) {
	case PW_SBA_LOG:    return SCMP_ACT_LOG;
	case PW_SBA_KILL:   return SCMP_ACT_KILL_PROCESS;
	case PW_SBA_ENOSYS: return SCMP_ACT_ERRNO(ENOSYS);
	}
	return SCMP_ACT_ERRNO(EPERM);
}

/* Add one rule to the filter; a call this architecture lacks is skipped. */
static int add_rule(scmp_filter_ctx ctx, const struct pw_sb_rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	uint32_t act = scmp_action(r->action);

	if (nr == __NR_SCMP_ERROR)
		return -EINVAL;
	if (nr < 0)
		return 0;
	switch (r->cond) {
	case PW_SBC_IOCTL_REQ:
		/* The kernel reads the request as 32 bits: compare only those,
		 * or TIOCSTI with high bits set would slip past. */
		return seccomp_rule_add(ctx, act, nr, 1,
		                        SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, r->arg));
	case PW_SBC_SOCKET_NOT_UNIX:
		/* High bits in the family make it "not AF_UNIX": denied, the safe side. */
		return seccomp_rule_add(ctx, act, nr, 1, SCMP_A0(SCMP_CMP_NE, r->arg, 0));
	case PW_SBC_CLONE_NOT_THREAD:
		return seccomp_rule_add(ctx, act, nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, r->arg, 0));
	}
	return seccomp_rule_add(ctx, act, nr, 0);
}

/* Build the filter of the effective rules and load it. */
static int apply_seccomp(const struct pw_sandbox *sb, char *err, size_t errlen)
{
	struct pw_sb_rule *rules;
	scmp_filter_ctx ctx;
	size_t n, i;
	int rc;

	if (pw_sandbox_rules(sb, &rules, &n) < 0) {
		snprintf(err, errlen, "sandbox: out of memory");
		return -1;
	}
	/* Even with no rule a filter is loaded: it marks the process as
	 * confined ("Seccomp: 2" in /proc), which is how the zygote knows to
	 * refuse its requests (see pw_peer_confined). */
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "sandbox: cannot create a seccomp filter");
		free(rules);
		return -1;
	}
	/* A call through another ABI (int 0x80, x32) would dodge the rules. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (i = 0; rc == 0 && i < n; i++)
		rc = add_rule(ctx, &rules[i]);
	if (rc < 0)
		snprintf(err, errlen, "sandbox: cannot add the seccomp rule for %s: %s",
		         i > 0 ? rules[i - 1].name : "foreign architectures", strerror(-rc));
	else if ((rc = seccomp_load(ctx)) < 0)
		snprintf(err, errlen, "sandbox: cannot load the seccomp filter: %s", strerror(-rc));
	seccomp_release(ctx);
	free(rules);
	return rc < 0 ? -1 : 0;
}

/* Confine the calling process; on failure it must not run the program. */
/* Give up CAP_SYS_ADMIN for good (bounding, ambient, effective, permitted
 * and inheritable sets): with it a confined process could name any pid as
 * the sender of a message (SCM_CREDENTIALS) and speak for an unconfined
 * process of the user, and undo much else.  Nothing to do for a process
 * that does not hold it.  0, or -1 with err. */
static int drop_sys_admin(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	const uint32_t bit = 1u << CAP_SYS_ADMIN;     /* below 32: in d[0] */

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SYS_ADMIN, 0, 0);
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1 &&
	    prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) < 0 && errno != EPERM) {
		snprintf(err, errlen, "sandbox: cannot drop CAP_SYS_ADMIN from the bounding set: %s",
		         strerror(errno));
		return -1;
	}
	if (syscall(SYS_capget, &h, d) < 0) {
		snprintf(err, errlen, "sandbox: cannot read the capabilities: %s", strerror(errno));
		return -1;
	}
	if (!((d[0].effective | d[0].permitted | d[0].inheritable) & bit))
		return 0;
	d[0].effective &= ~bit;
	d[0].permitted &= ~bit;
	d[0].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d) < 0) {
		snprintf(err, errlen, "sandbox: cannot drop CAP_SYS_ADMIN: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int pw_sandbox_apply(const struct pw_sandbox *sb, char *err, size_t errlen)
{
	if (sb->broken) {
		snprintf(err, errlen, "sandbox: the profile's [sandbox] section is not usable");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "sandbox: cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (drop_sys_admin(err, errlen) < 0 || apply_landlock(sb, err, errlen) < 0)
		return -1;
	return apply_seccomp(sb, err, errlen);
}

/* Does any rule stop execve?  (A cold run must exec the interpreter.) */
static int denies_exec(const struct pw_sandbox *sb)
{
	if (!pw_sandbox_active(sb))
		return 0;
	struct pw_sb_rule *rules;
	size_t n;
	int found = 0;

	if (pw_sandbox_rules(sb, &rules, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rules[i].name, "execve") == 0 && rules[i].action != PW_SBA_LOG)
			found = 1;
	free(rules);
	return found;
}

/* Print "pywarm: msg" and leave as a run that could not be confined. */
static void __attribute__((noreturn)) refuse(const char *msg)
{
	dprintf(2, "pywarm: %s\n", msg);
	_exit(PW_EXIT_SANDBOX);
}

/* Confine this process as the profile's sandbox plus PYWARM_SANDBOX (env)
 * ask, or refuse the run.  cold: the caller is about to exec interpreter,
 * which no-exec would forbid: such a run cannot be confined
 * and is refused (the zygote serves it warm).  Returns 1 when confined, 0
 * when nothing was asked for. */
int pw_sandbox_enter(const struct pw_sandbox *profile, const char *env,
                     const char *interpreter, int cold)
{
	struct pw_sandbox sb = *profile;     /* shallow: env_policies and interpreter change */
	char err[512];

	sb.interpreter = interpreter;
	if (env && *env && pw_sandbox_add_env(&sb, env, err, sizeof(err)) < 0)
		refuse(err);
	if (!pw_sandbox_active(&sb))
		return 0;
	if (cold && denies_exec(&sb))
		refuse("sandbox: no-exec forbids exec'ing the interpreter, so this run cannot "
		       "fall back cold; it runs only warm (try `pywarmctl start --wait`)");
	if (pw_sandbox_apply(&sb, err, sizeof(err)) < 0)
		refuse(err);
	return 1;
}


/* Is the process at the other end of conn under seccomp?  Confined code
 * could otherwise connect to the zygote itself and ask for an unconfined
 * run; every pywarm sandbox loads a filter, so this catches them all.
 * 1 (also when it cannot be told), or 0. */
int pw_peer_confined(int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int pidfd = -1, mode;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
		return 1;
	len = sizeof(pidfd);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;
	mode = (int)pw_proc_field(cred.pid, "status", "Seccomp:");
	/* The status read was the peer's only if the peer still lives (its pid
	 * was not reused meanwhile); kernels without SO_PEERPIDFD leave that
	 * small window open. */
	if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
			mode = -1;
		close(pidfd);
	}
	return mode != 0;
}

/* Can this run be served only warm (its sandbox forbids exec'ing python3)? */
int pw_sandbox_warm_only(const struct pw_sandbox *profile, const char *env)
{
	struct pw_sandbox sb = *profile;

	if (env && *env && pw_sandbox_add_env(&sb, env, NULL, 0) < 0)
		return 0;          /* refused later, with the message */
	return denies_exec(&sb);
}
