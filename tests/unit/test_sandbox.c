/* test_sandbox.c: unit tests for the [sandbox] model, PYWARM_SANDBOX, the effective rules, and filters loaded in forked children. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

#define NAME "/p/.pywarm.ini"

/* ---- helpers ---------------------------------------------------------- */

/* Parse text as a profile named NAME; the result of pw_profile_parse. */
static int parse(struct pw_profile *p, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return pw_profile_parse(p, NAME, text, strlen(text), err, errlen);
}

/* The effective rule for call name with argument arg, or NULL. */
static const struct pw_sb_rule *find_rule(const struct pw_sb_rule *r, size_t n,
                                          const char *name, unsigned long arg)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0 && r[i].arg == arg)
			return &r[i];
	return NULL;
}

/* The action of the effective rule for name (arg), or -1 if none. */
static int action_of(const struct pw_sandbox *sb, const char *name, unsigned long arg)
{
	struct pw_sb_rule *r;
	size_t n;
	int a = -1;

	if (pw_sandbox_rules(sb, &r, &n) < 0)
		return -2;
	const struct pw_sb_rule *f = find_rule(r, n, name, arg);
	if (f)
		a = f->action;
	free(r);
	return a;
}

/* Render sb into a malloc'd string. */
static char *render(const struct pw_sandbox *sb)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	pw_sandbox_render(sb, f);
	fclose(f);
	return buf;
}

/* ---- parsing ----------------------------------------------------------- */

TEST(parse_policies_and_keys)
{
	struct pw_profile p;
	char err[512];

	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = default, no-network\n  no-exec\n"
	                      "deny = setns unshare\naction = kill\n"
	                      "read_only = /opt, data\nread_write = /tmp\nlandlock = best-effort\n",
	                  err, sizeof(err)), 0);
	CHECK_STREQ(err, "");
	CHECK_INTEQ(p.sandbox.policies, PW_SBP_DEFAULT | PW_SBP_NO_NETWORK | PW_SBP_NO_EXEC);
	CHECK_INTEQ(p.sandbox.ndeny, 2);
	CHECK_STREQ(p.sandbox.deny[0], "setns");
	CHECK_STREQ(p.sandbox.deny[1], "unshare");
	CHECK(p.sandbox.deny[2] == NULL);
	CHECK_INTEQ(p.sandbox.action, PW_SBA_KILL);
	CHECK_INTEQ(p.sandbox.npaths, 3);
	CHECK_STREQ(p.sandbox.paths[0].path, "/opt");
	CHECK_STREQ(p.sandbox.paths[1].path, "/p/data");      /* relative to the profile */
	CHECK_INTEQ(p.sandbox.paths[1].write, 0);
	CHECK_STREQ(p.sandbox.paths[2].path, "/tmp");
	CHECK_INTEQ(p.sandbox.paths[2].write, 1);
	CHECK_INTEQ(p.sandbox.landlock_mode, PW_LL_BEST_EFFORT);
	CHECK(pw_sandbox_active(&p.sandbox));
	CHECK(pw_sandbox_wants_landlock(&p.sandbox));
	pw_profile_free(&p);
}

TEST(parse_no_sandbox)
{
	struct pw_profile p;
	char err[512];

	CHECK_INTEQ(parse(&p, "[preload]\nmodules = os\n", err, sizeof(err)), 0);
	CHECK(!pw_sandbox_active(&p.sandbox));
	CHECK_INTEQ(p.sandbox.action, PW_SBA_ERRNO);
	pw_profile_free(&p);
	CHECK_INTEQ(parse(&p, "[sandbox]\n", err, sizeof(err)), 0);   /* empty: nothing asked */
	CHECK(!pw_sandbox_active(&p.sandbox));
	pw_profile_free(&p);
}

TEST(parse_errors_have_file_and_line)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "[sandbox]\npolicy = default, bogus\n",
		  NAME ":2: unknown sandbox policy 'bogus' (known: default, no-network, no-exec, no-fork)" },
		{ "[preload]\nmodules = os\n[sandbox]\ndeny = ptrace, nosuchcall\n",
		  NAME ":4: unknown system call 'nosuchcall' in deny" },
		{ "[sandbox]\naction = maybe\n", NAME ":2: invalid action 'maybe' (one of: errno, kill, log)" },
		{ "[sandbox]\naction = kill errno\n", NAME ":2: invalid action 'kill errno' (one of: errno, kill, log)" },
		{ "[sandbox]\nlandlock = sometimes\n",
		  NAME ":2: invalid landlock 'sometimes' (one of: required, best-effort)" },
		{ "[sandbox]\nallow = read\n", NAME ":2: unknown key 'allow' in [sandbox]" },
		{ "[sandbox]\npolicy = default\n[sandbox2]\n", NAME ":3: unknown section [sandbox2]" },
	};
	struct pw_profile p;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INTEQ(parse(&p, cases[i].text, err, sizeof(err)), -1);
		CHECK_STREQ(err, cases[i].err);
		CHECK_INTEQ(p.sandbox.broken, 1);     /* such a run is refused, not run unconfined */
		CHECK(p.modules == NULL && p.sandbox.deny == NULL && p.sandbox.paths == NULL);
	}
}

TEST(lists_split_at_commas_and_whitespace)
{
	static const struct { const char *text, *err; } bad[] = {
		{ "[sandbox]\naction = kill,\n", NAME ":2: invalid action 'kill,' (one of: errno, kill, log)" },
		{ "[sandbox]\naction = ,\n", NAME ":2: invalid action '' (one of: errno, kill, log)" },
		{ "[sandbox]\npolicy = default,,\tbogus ,\n",
		  NAME ":2: unknown sandbox policy 'bogus' (known: default, no-network, no-exec, no-fork)" },
	};
	struct pw_profile p;
	char err[512];

	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = ,default,,\tno-fork ,\ndeny = ,setns,,\tunshare , \n"
	                      "action = , kill\nread_only = ,/opt,\t, /srv,\n", err, sizeof(err)), 0);
	CHECK_STREQ(err, "");
	CHECK_INTEQ(p.sandbox.policies, PW_SBP_DEFAULT | PW_SBP_NO_FORK);
	CHECK_INTEQ(p.sandbox.ndeny, 2);
	CHECK_STREQ(p.sandbox.deny[0], "setns");
	CHECK_STREQ(p.sandbox.deny[1], "unshare");
	CHECK_INTEQ(p.sandbox.action, PW_SBA_KILL);
	CHECK_INTEQ(p.sandbox.npaths, 2);
	CHECK_STREQ(p.sandbox.paths[0].path, "/opt");
	CHECK_STREQ(p.sandbox.paths[1].path, "/srv");
	pw_profile_free(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INTEQ(parse(&p, bad[i].text, err, sizeof(err)), -1);
		CHECK_STREQ(err, bad[i].err);
	}
}

TEST(broken_only_when_sandbox_mentioned)
{
	struct pw_profile p;
	char err[512];

	CHECK_INTEQ(parse(&p, "[preload]\nmodules = 1bad\n", err, sizeof(err)), -1);
	CHECK_INTEQ(p.sandbox.broken, 0);
	/* The error comes before the [sandbox] section: still refused. */
	CHECK_INTEQ(parse(&p, "[preload]\nmodules = 1bad\n  [sandbox]  \npolicy = default\n",
	                  err, sizeof(err)), -1);
	CHECK_INTEQ(p.sandbox.broken, 1);
	CHECK(pw_sandbox_mentioned("x\n[sandbox]", 11));
	CHECK(!pw_sandbox_mentioned("# [sandbox]\n", 12));
	CHECK(!pw_sandbox_mentioned("[sandbo", 7));
}

TEST(relative_path_needs_a_file)
{
	struct pw_profile p;
	char err[512];

	err[0] = '\0';
	CHECK_INTEQ(pw_profile_parse(&p, "built-in profile", "[sandbox]\nread_only = data\n", 27,
	                             err, sizeof(err)), -1);
	CHECK_STREQ(err, "built-in profile:2: relative path 'data' needs a profile file to be relative to");
}

/* ---- composition --------------------------------------------------------- */

TEST(env_adds_and_never_loosens)
{
	struct pw_profile p;
	char err[512];

	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = default\naction = kill\n", err, sizeof(err)), 0);
	CHECK_INTEQ(pw_sandbox_add_env(&p.sandbox, "no-network,no-fork", err, sizeof(err)), 0);
	CHECK_INTEQ(p.sandbox.env_policies, PW_SBP_NO_NETWORK | PW_SBP_NO_FORK);
	CHECK_INTEQ(action_of(&p.sandbox, "ptrace", 0), PW_SBA_KILL);
	CHECK_INTEQ(action_of(&p.sandbox, "socket", AF_UNIX), PW_SBA_KILL);  /* profile's action */
	CHECK_INTEQ(action_of(&p.sandbox, "clone3", 0), PW_SBA_ENOSYS);      /* threads fall back */
	CHECK_INTEQ(action_of(&p.sandbox, "execve", 0), -1);
	/* Only policy names: nothing in it can name an action, a path or "none". */
	CHECK_INTEQ(pw_sandbox_add_env(&p.sandbox, "none", err, sizeof(err)), -1);
	CHECK_STREQ(err, "PYWARM_SANDBOX: unknown sandbox policy 'none' (known: default, "
	                 "no-network, no-exec, no-fork)");
	CHECK_INTEQ(pw_sandbox_add_env(&p.sandbox, "action=log", err, sizeof(err)), -1);
	CHECK_INTEQ(action_of(&p.sandbox, "ptrace", 0), PW_SBA_KILL);
	pw_profile_free(&p);
}

TEST(strictest_action_wins)
{
	struct pw_profile p;
	char err[512];

	/* log in the profile; the same policy from the environment denies. */
	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = default\naction = log\ndeny = ptrace, setns\n",
	                  err, sizeof(err)), 0);
	CHECK_INTEQ(action_of(&p.sandbox, "ptrace", 0), PW_SBA_LOG);
	CHECK_INTEQ(pw_sandbox_add_env(&p.sandbox, "default", err, sizeof(err)), 0);
	CHECK_INTEQ(action_of(&p.sandbox, "ptrace", 0), PW_SBA_ERRNO);
	CHECK_INTEQ(action_of(&p.sandbox, "ioctl", TIOCSTI), PW_SBA_ERRNO);
	CHECK_INTEQ(action_of(&p.sandbox, "setns", 0), PW_SBA_LOG);
	pw_profile_free(&p);
}

TEST(rules_are_unique)
{
	struct pw_sandbox sb;
	struct pw_sb_rule *r;
	size_t n;

	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_DEFAULT | PW_SBP_NO_NETWORK | PW_SBP_NO_EXEC | PW_SBP_NO_FORK;
	sb.env_policies = sb.policies;
	CHECK_INTEQ(pw_sandbox_rules(&sb, &r, &n), 0);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			CHECK(!(strcmp(r[i].name, r[j].name) == 0 && r[i].cond == r[j].cond &&
			        r[i].arg == r[j].arg));
	CHECK(find_rule(r, n, "ioctl", TIOCLINUX) != NULL);
	CHECK(find_rule(r, n, "clone", CLONE_THREAD) != NULL);
	CHECK(find_rule(r, n, "execveat", 0) != NULL);
	CHECK(find_rule(r, n, "kexec_load", 0) != NULL);
	free(r);
}

TEST(render_text)
{
	struct pw_profile p;
	char err[512], *t;

	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = no-exec\ndeny = setns\nread_only = /nonexistent-x\n",
	                  err, sizeof(err)), 0);
	pw_sandbox_add_env(&p.sandbox, "no-fork", err, sizeof(err));
	t = render(&p.sandbox);
	CHECK(t != NULL);
	if (t) {
		CHECK(strstr(t, "sandbox: policies no-exec no-fork (PYWARM_SANDBOX); action errno\n"));
		CHECK(strstr(t, "  execve "));
		CHECK(strstr(t, "  setns ") && strstr(t, "[deny]"));
		CHECK(strstr(t, "flags without CLONE_THREAD"));
		CHECK(strstr(t, "read-only  /nonexistent-x (missing: ignored)\n"));
		CHECK(strstr(t, "read-write /dev/null (implicit)\n"));
		CHECK(strstr(t, "landlock (required; kernel ABI "));
		CHECK(strstr(t, pw_landlock_abi() > 0 ? "\nscope (Landlock ABI " :
		                "\nscope: this kernel has no Landlock"));
		CHECK(strstr(t, "ioctl              request == TIOCSTI           errno  [every sandbox]"));
		free(t);
	}
	pw_profile_free(&p);
	memset(&p.sandbox, 0, sizeof(p.sandbox));
	t = render(&p.sandbox);
	CHECK_STREQ(t, "sandbox: none (the program runs unconfined)\n");
	free(t);
}

TEST(every_sandbox_denies_tiocsti)
{
	struct pw_profile p;
	struct pw_sb_rule *r;
	size_t n;
	char err[512];

	/* A deny list alone, and a policy that only logs: TIOCSTI still fails. */
	CHECK_INTEQ(parse(&p, "[sandbox]\ndeny = setns\n", err, sizeof(err)), 0);
	CHECK_INTEQ(action_of(&p.sandbox, "ioctl", TIOCSTI), PW_SBA_ERRNO);
	CHECK_INTEQ(action_of(&p.sandbox, "ioctl", TIOCLINUX), PW_SBA_ERRNO);
	CHECK_INTEQ(pw_sandbox_rules(&p.sandbox, &r, &n), 0);
	CHECK(n > 0 && strcmp(find_rule(r, n, "ioctl", TIOCSTI)->origin, "every sandbox") == 0);
	free(r);
	pw_profile_free(&p);
	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = default\naction = log\n", err, sizeof(err)), 0);
	CHECK_INTEQ(action_of(&p.sandbox, "ioctl", TIOCSTI), PW_SBA_ERRNO);
	CHECK_INTEQ(action_of(&p.sandbox, "ptrace", 0), PW_SBA_LOG);
	pw_profile_free(&p);
	CHECK_INTEQ(parse(&p, "[sandbox]\npolicy = no-exec\naction = kill\n", err, sizeof(err)), 0);
	CHECK_INTEQ(action_of(&p.sandbox, "ioctl", TIOCSTI), PW_SBA_KILL);
	pw_profile_free(&p);
	/* No sandbox: no rule at all. */
	CHECK_INTEQ(parse(&p, "[preload]\nmodules = os\n", err, sizeof(err)), 0);
	CHECK_INTEQ(pw_sandbox_rules(&p.sandbox, &r, &n), 0);
	CHECK_INTEQ(n, 0);
	free(r);
	pw_profile_free(&p);
}

TEST(no_landlock_falls_back_to_seccomp)
{
	static const char *const calls[] = { "ptrace", "process_vm_readv", "process_vm_writev",
	                                     "pidfd_getfd", "kcmp", NULL };
	struct pw_sandbox sb;
	struct pw_sb_rule *r;
	size_t n;

	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_NO_NETWORK;
	sb.action = PW_SBA_LOG;
	CHECK_INTEQ(pw_sandbox_rules_abi(&sb, 0, &r, &n), 0);
	for (int i = 0; calls[i]; i++) {
		const struct pw_sb_rule *f = find_rule(r, n, calls[i], 0);
		CHECK(f != NULL && f->action == PW_SBA_ERRNO && strcmp(f->origin, "no Landlock") == 0);
	}
	free(r);
	/* With Landlock the domain does that, and a debugger may trace the run's own children. */
	CHECK_INTEQ(pw_sandbox_rules_abi(&sb, 1, &r, &n), 0);
	for (int i = 0; calls[i]; i++)
		CHECK(find_rule(r, n, calls[i], 0) == NULL);
	free(r);
}

/* ---- loading, in forked children ---------------------------------------- */

/* Run fn in a child confined by sb; its exit status (or 128+signal). */
static int in_child(const struct pw_sandbox *sb, int (*fn)(void))
{
	char err[512];
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);          /* no core file from SIGSYS */
		if (pw_sandbox_apply(sb, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(100);
		}
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* 0 when each call is denied or allowed as the default+no-network policies say. */
static int probe_default(void)
{
	int fd, sv[2];

	errno = 0;
	if (syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM)
		return 1;
	/* Refused before the kernel sees that 0 is no terminal (ENOTTY otherwise),
	 * also with junk in the high bits of the request. */
	if (ioctl(0, TIOCSTI, "x") != -1 || errno != EPERM)
		return 2;
	if (syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, "x") != -1 || errno != EPERM)
		return 3;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return 4;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 5;
	close(fd);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 6;
	return 0;
}

/* 0 when fork is refused and a thread-style clone is not. */
static int probe_no_fork(void)
{
	errno = 0;
	if (fork() != -1 || errno != EPERM)
		return 1;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 2;
	/* CLONE_THREAD without CLONE_SIGHAND|CLONE_VM: EINVAL from the kernel, so the filter let it by. */
	if (syscall(SYS_clone, CLONE_THREAD, 0, 0, 0, 0) != -1 || errno != EINVAL)
		return 3;
	return 0;
}

static int probe_ptrace(void)
{
	syscall(SYS_ptrace, 0, 0, 0, 0);
	return 0;
}

TEST(apply_in_child)
{
	struct pw_sandbox sb;

	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_DEFAULT | PW_SBP_NO_NETWORK;
	CHECK_INTEQ(in_child(&sb, probe_default), 0);
	memset(&sb, 0, sizeof(sb));
	sb.env_policies = PW_SBP_NO_FORK;
	CHECK_INTEQ(in_child(&sb, probe_no_fork), 0);
	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_DEFAULT;
	sb.action = PW_SBA_KILL;
	CHECK_INTEQ(in_child(&sb, probe_ptrace), 128 + SIGSYS);
	/* This process was never confined. */
	CHECK(syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The abstract socket the parent listens on while probe_domain runs. */
static char abstract_name[64];

/* Can this process copy descriptor 0 out of pid?  0, or the errno. */
static int getfd_errno(pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), fd, e;

	if (pidfd < 0)
		return errno;
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
	e = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	close(pidfd);
	return e;
}

/* 0 when the parent (outside the domain) is out of reach and a child of
 * this process (inside it) is not. */
static int probe_domain(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[64], buf[1] = { 0 };
	struct iovec local = { buf, 1 }, remote = { (void *)4096, 1 };
	pid_t parent = getppid(), kid;
	int fd, sv[2], rc = 0, abi = pw_landlock_abi();

	if (getfd_errno(parent) != EPERM)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)parent);
	if (open(path, O_RDWR) != -1 || errno != EACCES)
		return 2;
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)parent);
	if (open(path, O_RDONLY) != -1 || errno != EACCES)
		return 3;
	if (process_vm_readv(parent, &local, 1, &remote, 1, 0) != -1 || errno != EPERM)
		return 4;
	if (syscall(SYS_ptrace, PTRACE_SEIZE, parent, 0, 0) != -1 || errno != EPERM)
		return 5;
	if (abi >= 6 && (kill(parent, 0) != -1 || errno != EPERM))
		return 6;
	memcpy(sa.sun_path + 1, abstract_name, strlen(abstract_name));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (abi >= 6 && (connect(fd, (struct sockaddr *)&sa,
	                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                                     strlen(abstract_name))) != -1 || errno != EPERM))
		rc = 7;
	close(fd);
	if (rc != 0)
		return rc;
	/* A child of the run shares its domain: reachable. */
	if (pipe(sv) < 0 || (kid = fork()) < 0)
		return 9;
	if (kid == 0) {
		close(sv[1]);
		(void)!read(sv[0], buf, 1);
		_exit(0);
	}
	close(sv[0]);
	if (getfd_errno(kid) != 0 || kill(kid, 0) != 0)
		rc = 8;
	close(sv[1]);
	waitpid(kid, NULL, 0);
	return rc;
}

TEST(domain_keeps_the_run_from_others)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pw_sandbox sb;
	int lfd;

	if (pw_landlock_abi() < 1) {
		printf("  (skipped: no Landlock)\n");
		return;
	}
	snprintf(abstract_name, sizeof(abstract_name), "pw-test-sandbox-%d", (int)getpid());
	memcpy(sa.sun_path + 1, abstract_name, strlen(abstract_name));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa,
	                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                                   strlen(abstract_name))) == 0 && listen(lfd, 4) == 0);
	/* A seccomp-only policy that denies none of these calls: the domain does it. */
	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_NO_NETWORK;
	CHECK_INTEQ(in_child(&sb, probe_domain), 0);
	memset(&sb, 0, sizeof(sb));
	sb.ndeny = 1;
	sb.deny = (char *[]){ "setns", NULL };
	sb.action = PW_SBA_LOG;
	CHECK_INTEQ(in_child(&sb, probe_domain), 0);
	close(lfd);
}

/* 0 when, without Landlock, seccomp refuses the calls that reach the
 * parent's memory and descriptors. */
static int probe_fallback(void)
{
	char buf[1] = { 0 };
	struct iovec local = { buf, 1 }, remote = { (void *)4096, 1 };
	pid_t parent = getppid();

	if (pw_landlock_abi() != 0)
		return 1;
	if (getfd_errno(parent) != EPERM)
		return 2;
	if (process_vm_readv(parent, &local, 1, &remote, 1, 0) != -1 || errno != EPERM)
		return 3;
	if (syscall(SYS_ptrace, PTRACE_SEIZE, parent, 0, 0) != -1 || errno != EPERM)
		return 4;
	return 0;
}

/* In a child whose kernel seems to have no Landlock (a filter makes
 * landlock_create_ruleset fail as a kernel booted without it does), apply
 * sb and run fn: its status, or 100 + a message on stderr when refused. */
static int without_landlock(const struct pw_sandbox *sb, int (*fn)(void), char *err, size_t errlen)
{
	int status, p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		close(p[0]);
		if (ctx == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP),
		                     SCMP_SYS(landlock_create_ruleset), 0) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(99);
		if (pw_sandbox_apply(sb, err, errlen) < 0) {
			(void)!write(p[1], err, strlen(err));
			_exit(100);
		}
		_exit(fn());
	}
	close(p[1]);
	memset(err, 0, errlen);
	(void)!read(p[0], err, errlen - 1);
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(without_landlock_seccomp_takes_over)
{
	struct pw_sandbox sb;
	struct pw_sb_path path = { "/tmp", 1, 0 };
	char err[512];

	memset(&sb, 0, sizeof(sb));
	sb.policies = PW_SBP_NO_NETWORK;
	CHECK_INTEQ(without_landlock(&sb, probe_fallback, err, sizeof(err)), 0);
	/* Paths need Landlock: refused, unless best-effort. */
	sb.paths = &path;
	sb.npaths = 1;
	CHECK_INTEQ(without_landlock(&sb, probe_fallback, err, sizeof(err)), 100);
	CHECK(strstr(err, "this kernel has no Landlock") != NULL);
	sb.landlock_mode = PW_LL_BEST_EFFORT;
	CHECK_INTEQ(without_landlock(&sb, probe_fallback, err, sizeof(err)), 0);
}

TEST(apply_broken_refuses)
{
	struct pw_sandbox sb;
	char err[512];

	memset(&sb, 0, sizeof(sb));
	sb.broken = 1;
	CHECK_INTEQ(pw_sandbox_apply(&sb, err, sizeof(err)), -1);
	CHECK_STREQ(err, "sandbox: the profile's [sandbox] section is not usable");
}

/* Connect to the listening socket at path from a child, confined by sb
 * (NULL: unconfined); the verdict of pw_peer_confined on the accepted end. */
static int peer_verdict(const char *path, int lfd, const struct pw_sandbox *sb)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[512], c = 0;
	int conn, verdict = -1;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((pid = fork()) == 0) {
		int fd;
		if (sb && pw_sandbox_apply(sb, err, sizeof(err)) < 0)
			_exit(1);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		(void)!read(fd, &c, 1);        /* stay alive until the verdict is in */
		_exit(0);
	}
	if (pid < 0)
		return -1;
	if ((conn = accept(lfd, NULL, NULL)) >= 0) {
		verdict = pw_peer_confined(conn);
		close(conn);
	}
	waitpid(pid, NULL, 0);
	return verdict;
}

TEST(zygote_refuses_confined_peers)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pw_sandbox sb;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/pw-test-sandbox.%d.sock", (int)getpid());
	unlink(sa.sun_path);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0);
	memset(&sb, 0, sizeof(sb));
	CHECK_INTEQ(peer_verdict(sa.sun_path, lfd, NULL), 0);
	sb.env_policies = PW_SBP_NO_EXEC;
	CHECK_INTEQ(peer_verdict(sa.sun_path, lfd, &sb), 1);
	/* A sandbox without a single rule still marks the process. */
	memset(&sb, 0, sizeof(sb));
	CHECK_INTEQ(peer_verdict(sa.sun_path, lfd, &sb), 1);
	close(lfd);
	unlink(sa.sun_path);
}

int main(void)
{
	RUN(parse_policies_and_keys);
	RUN(parse_no_sandbox);
	RUN(parse_errors_have_file_and_line);
	RUN(lists_split_at_commas_and_whitespace);
	RUN(broken_only_when_sandbox_mentioned);
	RUN(relative_path_needs_a_file);
	RUN(env_adds_and_never_loosens);
	RUN(strictest_action_wins);
	RUN(rules_are_unique);
	RUN(render_text);
	RUN(every_sandbox_denies_tiocsti);
	RUN(no_landlock_falls_back_to_seccomp);
	RUN(apply_in_child);
	RUN(domain_keeps_the_run_from_others);
	RUN(without_landlock_seccomp_takes_over);
	RUN(apply_broken_refuses);
	RUN(zygote_refuses_confined_peers);
	return unit_summary();
}
