/* sandbox.c: the sandbox policy model: [sandbox] keys, PYWARM_SANDBOX, the effective rules and their text. */
#include <ctype.h>
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>

#include "config.h"
#include "sandbox.h"
#include "token.h"

#define TOKEN_SHOW 64            /* bytes of a bad token quoted in messages (profile.c) */
#define SB_MAX_ITEMS 4096        /* deny names or paths; more is surely a mistake */

/* One call a named policy denies. */
struct sb_call {
	const char *name;
	int cond;                  /* enum pw_sb_cond */
	unsigned long arg;
	const char *arg_name;
	int fixed_action;          /* -1: the profile's; else always this one */
};

#define ALWAYS(n) { n, PW_SBC_ALWAYS, 0, NULL, -1 }

/* default: calls an ordinary Python program never makes and that reach
 * beyond the process: other processes' memory, the kernel, mounts, keys,
 * swap and power, and typing into the caller's terminal. */
static const struct sb_call calls_default[] = {
	ALWAYS("ptrace"), ALWAYS("process_vm_readv"), ALWAYS("process_vm_writev"),
	ALWAYS("kexec_load"), ALWAYS("kexec_file_load"), ALWAYS("bpf"),
	ALWAYS("perf_event_open"), ALWAYS("userfaultfd"),
	ALWAYS("mount"), ALWAYS("umount2"), ALWAYS("pivot_root"), ALWAYS("move_mount"),
	ALWAYS("fsopen"), ALWAYS("fsconfig"), ALWAYS("fsmount"), ALWAYS("fspick"),
	ALWAYS("open_tree"), ALWAYS("mount_setattr"),
	ALWAYS("init_module"), ALWAYS("finit_module"), ALWAYS("delete_module"),
	ALWAYS("keyctl"), ALWAYS("add_key"), ALWAYS("request_key"),
	ALWAYS("swapon"), ALWAYS("swapoff"), ALWAYS("reboot"),
	ALWAYS("open_by_handle_at"), ALWAYS("iopl"), ALWAYS("ioperm"),
	{ "ioctl", PW_SBC_IOCTL_REQ, TIOCSTI, "TIOCSTI", -1 },
	{ "ioctl", PW_SBC_IOCTL_REQ, TIOCLINUX, "TIOCLINUX", -1 },
	{ NULL, 0, 0, NULL, 0 },
};

/* no-network: sockets of every family but AF_UNIX (AF_NETLINK included:
 * it talks to the kernel's network configuration), and io_uring, whose
 * socket operations would not pass through the filter. */
static const struct sb_call calls_no_network[] = {
	{ "socket", PW_SBC_SOCKET_NOT_UNIX, AF_UNIX, "AF_UNIX", -1 },
	ALWAYS("io_uring_setup"), ALWAYS("io_uring_enter"), ALWAYS("io_uring_register"),
	{ NULL, 0, 0, NULL, 0 },
};

static const struct sb_call calls_no_exec[] = {
	ALWAYS("execve"), ALWAYS("execveat"),
	{ NULL, 0, 0, NULL, 0 },
};

/* no-fork: new processes, but not new threads.  clone3 passes its flags in
 * memory a filter cannot read, so it fails with ENOSYS and the C library
 * falls back to clone, whose flags the filter can check. */
static const struct sb_call calls_no_fork[] = {
	ALWAYS("fork"), ALWAYS("vfork"),
	{ "clone", PW_SBC_CLONE_NOT_THREAD, CLONE_THREAD, "CLONE_THREAD", -1 },
	{ "clone3", PW_SBC_ALWAYS, 0, NULL, PW_SBA_ENOSYS },
	{ NULL, 0, 0, NULL, 0 },
};

/* Every sandbox, whatever its policies and action: typing into the
 * caller's terminal would hand confined code the user's shell. */
static const struct sb_call calls_base[] = {
	{ "ioctl", PW_SBC_IOCTL_REQ, TIOCSTI, "TIOCSTI", -1 },
	{ "ioctl", PW_SBC_IOCTL_REQ, TIOCLINUX, "TIOCLINUX", -1 },
	{ NULL, 0, 0, NULL, 0 },
};

/* Every sandbox on a kernel without Landlock, whose domain would otherwise
 * keep the run from other processes' memory and descriptors (see
 * pw_sandbox_apply): the calls that reach them (/proc/PID/mem and
 * /proc/PID/fd are paths, which seccomp cannot see). */
static const struct sb_call calls_no_landlock[] = {
	ALWAYS("ptrace"), ALWAYS("process_vm_readv"), ALWAYS("process_vm_writev"),
	ALWAYS("pidfd_getfd"), ALWAYS("kcmp"),
	{ NULL, 0, 0, NULL, 0 },
};

static const struct {
	const char *name;
	unsigned bit;
	const struct sb_call *calls;
} policies[] = {
	{ "default",    PW_SBP_DEFAULT,    calls_default },
	{ "no-network", PW_SBP_NO_NETWORK, calls_no_network },
	{ "no-exec",    PW_SBP_NO_EXEC,    calls_no_exec },
	{ "no-fork",    PW_SBP_NO_FORK,    calls_no_fork },
};
#define NPOLICIES (sizeof(policies) / sizeof(policies[0]))
#define POLICY_LIST "default, no-network, no-exec, no-fork"

/* Read-only paths every Landlock ruleset gets, so that the interpreter, its
 * libraries and the programs in /usr can still be loaded; the interpreter's
 * own prefix is added at run time. */
static const char *const implicit_ro[] = { "/usr", "/lib", "/lib64", "/etc", NULL };
static const char *const implicit_rw[] = { "/dev/null", NULL };

/* The items of a [sandbox] list. */
static void sb_tokens(struct pw_tok *t, const char *v)
{
	pw_tok_init(t, v, strlen(v), PW_TOK_LIST, PW_TOK_SKIP_EMPTY);
}

/* The bit of policy s[0..n), or 0. */
static unsigned policy_bit(const char *s, size_t n)
{
	for (size_t i = 0; i < NPOLICIES; i++)
		if (strlen(policies[i].name) == n && strncmp(policies[i].name, s, n) == 0)
			return policies[i].bit;
	return 0;
}

const char *pw_sandbox_policy_name(unsigned bit)
{
	for (size_t i = 0; i < NPOLICIES; i++)
		if (policies[i].bit == bit)
			return policies[i].name;
	return "?";
}

const char *pw_sandbox_action_name(int action)
{
	switch (action) {
	case PW_SBA_LOG:    return "log";
	case PW_SBA_ERRNO:  return "errno";
	case PW_SBA_KILL:   return "kill";
	case PW_SBA_ENOSYS: return "enosys";
	}
	return "?";
}

/* A list of policy names, OR'ed into *bits; -1 with a message naming the first unknown one. */
static int parse_policies(const char *v, unsigned *bits, char *msg, size_t msglen)
{
	char shown[TOKEN_SHOW + 1];
	struct pw_tok t;
	const char *tok;
	size_t n;

	sb_tokens(&t, v);
	while (pw_tok_next(&t, &tok, &n)) {
		unsigned bit = policy_bit(tok, n);
		if (bit == 0) {
			pw_seterr(msg, msglen, "unknown sandbox policy '%s' (known: " POLICY_LIST ")",
			       pw_show_token(shown, sizeof(shown), tok, n));
			return -1;
		}
		*bits |= bit;
	}
	return 0;
}

/* Is name a system call libseccomp knows (on any architecture)? */
static int known_syscall(const char *name)
{
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

/* deny = names: each must be a system call libseccomp knows. */
static int parse_deny(struct pw_sandbox *sb, const char *v, char *msg, size_t msglen)
{
	char shown[TOKEN_SHOW + 1];
	struct pw_tok t;
	const char *tok;
	size_t n;

	sb_tokens(&t, v);
	while (pw_tok_next(&t, &tok, &n)) {
		char *name = strndup(tok, n), **d;
		if (name == NULL)
			goto oom;
		if (!known_syscall(name)) {
			pw_seterr(msg, msglen, "unknown system call '%s' in deny",
			          pw_show_token(shown, sizeof(shown), tok, n));
			free(name);
			return -1;
		}
		if (sb->ndeny >= SB_MAX_ITEMS ||
		    (d = realloc(sb->deny, (sb->ndeny + 2) * sizeof(*d))) == NULL) {
			free(name);
			goto oom;
		}
		sb->deny = d;
		d[sb->ndeny++] = name;
		d[sb->ndeny] = NULL;
	}
	return 0;
oom:
	pw_seterr(msg, msglen, "out of memory");
	return -1;
}

/* Absolute form of path p[0..n): as is, or relative to the profile's directory. */
static char *abs_path(const char *p, size_t n, const char *base)
{
	const char *slash;
	char *out;
	size_t dlen;

	if (p[0] == '/')
		return strndup(p, n);
	if (base == NULL || base[0] != '/' || (slash = strrchr(base, '/')) == NULL)
		return NULL;
	dlen = (size_t)(slash - base);
	if ((out = malloc(dlen + 1 + n + 1)) == NULL)
		return NULL;
	memcpy(out, base, dlen);
	out[dlen] = '/';
	memcpy(out + dlen + 1, p, n);
	out[dlen + 1 + n] = '\0';
	return out;
}

/* read_only / read_write = paths: absolute, or relative to the profile file. */
static int parse_paths(struct pw_sandbox *sb, const char *v, int write, const char *base,
                       char *msg, size_t msglen)
{
	char shown[TOKEN_SHOW + 1];
	struct pw_sb_path *np;
	struct pw_tok t;
	const char *tok;
	size_t n;

	sb_tokens(&t, v);
	while (pw_tok_next(&t, &tok, &n)) {
		char *path = abs_path(tok, n, base);
		if (path == NULL) {
			pw_seterr(msg, msglen, tok[0] == '/' ? "out of memory" :
			       "relative path '%s' needs a profile file to be relative to",
			       pw_show_token(shown, sizeof(shown), tok, n));
			return -1;
		}
		if (sb->npaths >= SB_MAX_ITEMS ||
		    (np = realloc(sb->paths, (sb->npaths + 1) * sizeof(*np))) == NULL) {
			free(path);
			pw_seterr(msg, msglen, "out of memory");
			return -1;
		}
		sb->paths = np;
		np[sb->npaths++] = (struct pw_sb_path){ path, write, 0 };
	}
	return 0;
}

/* One of a fixed set of words; its index, or -1 with a message. */
static int parse_word(const char *key, const char *v, const char *const *words,
                      const char *list, char *msg, size_t msglen)
{
	char shown[TOKEN_SHOW + 1];
	struct pw_tok t;
	const char *tok = v + strlen(v);   /* no word: the message shows nothing */
	size_t n = 0;

	sb_tokens(&t, v);
	pw_tok_next(&t, &tok, &n);
	v = tok;
	const char *rest = v + n;

	while (isspace((unsigned char)*rest))
		rest++;
	for (int i = 0; words[i]; i++)
		if (n == strlen(words[i]) && strncmp(v, words[i], n) == 0 && *rest == '\0')
			return i;
	pw_seterr(msg, msglen, "invalid %s '%s' (one of: %s)", key,
	          pw_show_token(shown, sizeof(shown), v, strlen(v)), list);
	return -1;
}

/* Handle one [sandbox] key. */
int pw_sandbox_key(struct pw_sandbox *sb, const char *key, const char *value,
                   const char *base, char *msg, size_t msglen)
{
	static const char *const actions[] = { "errno", "log", "kill", NULL };
	static const char *const ll_modes[] = { "required", "best-effort", NULL };
	char shown[TOKEN_SHOW + 1];
	int i;

	if (strcmp(key, "policy") == 0)
		return parse_policies(value, &sb->policies, msg, msglen);
	if (strcmp(key, "deny") == 0)
		return parse_deny(sb, value, msg, msglen);
	if (strcmp(key, "read_only") == 0 || strcmp(key, "read_write") == 0)
		return parse_paths(sb, value, key[5] == 'w', base, msg, msglen);
	if (strcmp(key, "action") == 0) {
		if ((i = parse_word(key, value, actions, "errno, kill, log", msg, msglen)) < 0)
			return -1;
		sb->action = i;
		return 0;
	}
	if (strcmp(key, "landlock") == 0) {
		if ((i = parse_word(key, value, ll_modes, "required, best-effort", msg, msglen)) < 0)
			return -1;
		sb->landlock_mode = i;
		return 0;
	}
	pw_seterr(msg, msglen, "unknown key '%s' in [sandbox]",
	          pw_show_token(shown, sizeof(shown), key, strlen(key)));
	return -1;
}

/* PYWARM_SANDBOX: policy names only, so it can add restrictions and never remove one. */
int pw_sandbox_add_env(struct pw_sandbox *sb, const char *value, char *err, size_t errlen)
{
	char msg[256];

	if (parse_policies(value, &sb->env_policies, msg, sizeof(msg)) < 0) {
		pw_seterr(err, errlen, "PYWARM_SANDBOX: %s", msg);
		return -1;
	}
	return 0;
}

/* Is there a line "[sandbox]" (blanks around it allowed)? */
int pw_sandbox_mentioned(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if ((size_t)(e - p) >= 9 && strncmp(p, "[sandbox]", 9) == 0)
			return 1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int pw_sandbox_wants_landlock(const struct pw_sandbox *sb)
{
	return sb->npaths > 0;
}

int pw_sandbox_active(const struct pw_sandbox *sb)
{
	return sb->broken || sb->policies || sb->env_policies || sb->ndeny ||
	       pw_sandbox_wants_landlock(sb);
}

/* Order of actions from weakest to strictest. */
static int strictness(int action)
{
	return action == PW_SBA_LOG ? 0 : action == PW_SBA_ERRNO ? 1 : action;
}

/* Add rule r to the list, or raise the action of the same call and condition. */
static int add_rule(struct pw_sb_rule **rules, size_t *n, size_t *cap, struct pw_sb_rule r)
{
	for (size_t i = 0; i < *n; i++) {
		struct pw_sb_rule *o = &(*rules)[i];
		if (strcmp(o->name, r.name) == 0 && o->cond == r.cond && o->arg == r.arg) {
			if (strictness(r.action) > strictness(o->action)) {
				o->action = r.action;
				o->origin = r.origin;
			}
			return 0;
		}
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct pw_sb_rule *nr = realloc(*rules, ncap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		*rules = nr;
		*cap = ncap;
	}
	(*rules)[(*n)++] = r;
	return 0;
}

/* Add calls (of the policy named origin) with action, unless a call fixes its own. */
static int add_calls(struct pw_sb_rule **rules, size_t *n, size_t *cap,
                     const struct sb_call *calls, const char *origin, int action)
{
	for (const struct sb_call *c = calls; c->name; c++) {
		struct pw_sb_rule r = { c->name, c->cond, c->arg, c->arg_name,
		                        c->fixed_action >= 0 ? c->fixed_action : action, origin };
		if (add_rule(rules, n, cap, r) < 0)
			return -1;
	}
	return 0;
}

int pw_sandbox_rules(const struct pw_sandbox *sb, struct pw_sb_rule **rules, size_t *n)
{
	return pw_sandbox_rules_abi(sb, pw_landlock_abi(), rules, n);
}

/* The effective rules under Landlock ABI abi.  Policies added by
 * PYWARM_SANDBOX, and what every sandbox denies, deny with the profile's
 * action but never merely log: a restriction pywarm adds restricts. */
int pw_sandbox_rules_abi(const struct pw_sandbox *sb, int abi, struct pw_sb_rule **rules, size_t *n)
{
	int env_action = sb->action == PW_SBA_KILL ? PW_SBA_KILL : PW_SBA_ERRNO;
	size_t cap = 0;

	*rules = NULL;
	*n = 0;
	for (size_t i = 0; i < NPOLICIES; i++) {
		if ((sb->policies & policies[i].bit) &&
		    add_calls(rules, n, &cap, policies[i].calls, policies[i].name, sb->action) < 0)
			goto oom;
		if ((sb->env_policies & policies[i].bit) &&
		    add_calls(rules, n, &cap, policies[i].calls, policies[i].name, env_action) < 0)
			goto oom;
	}
	for (size_t i = 0; i < sb->ndeny; i++) {
		struct pw_sb_rule r = { sb->deny[i], PW_SBC_ALWAYS, 0, NULL, sb->action, "deny" };
		if (add_rule(rules, n, &cap, r) < 0)
			goto oom;
	}
	if (!pw_sandbox_active(sb))
		return 0;
	if (add_calls(rules, n, &cap, calls_base, "every sandbox", env_action) < 0 ||
	    (abi <= 0 && add_calls(rules, n, &cap, calls_no_landlock, "no Landlock", env_action) < 0))
		goto oom;
	return 0;
oom:
	free(*rules);
	*rules = NULL;
	*n = 0;
	return -1;
}

/* The prefix of interpreter path: without its last two components
 * (/usr/bin/python3 -> /usr), in static slot. */
static char *python_prefix(const char *interpreter, int slot)
{
	static char prefix[2][4096];
	char *s;

	snprintf(prefix[slot], sizeof(prefix[slot]), "%s", interpreter);
	for (int i = 0; i < 2; i++)
		if ((s = strrchr(prefix[slot], '/')) != NULL)
			*s = '\0';
	return prefix[slot][0] ? prefix[slot] : "/";
}

/* The effective Landlock paths: implicit ones first, then the profile's. */
int pw_sandbox_paths(const struct pw_sandbox *sb, struct pw_sb_path **paths, size_t *n)
{
	size_t k = 0, max = sb->npaths + 8;
	struct pw_sb_path *p = calloc(max, sizeof(*p));

	*paths = p;
	*n = 0;
	if (p == NULL)
		return -1;
	if (!pw_sandbox_wants_landlock(sb))
		return 0;
	for (int i = 0; implicit_ro[i]; i++)
		p[k++] = (struct pw_sb_path){ (char *)implicit_ro[i], 0, 1 };
	/* The build's interpreter (its standard library), and the one the run
	 * uses when that differs (a virtual environment, [python] interpreter). */
	p[k++] = (struct pw_sb_path){ python_prefix(PW_PYTHON, 0), 0, 1 };
	if (sb->interpreter && strcmp(python_prefix(sb->interpreter, 1), p[k - 1].path) != 0)
		p[k++] = (struct pw_sb_path){ python_prefix(sb->interpreter, 1), 0, 1 };
	for (int i = 0; implicit_rw[i]; i++)
		p[k++] = (struct pw_sb_path){ (char *)implicit_rw[i], 1, 1 };
	for (size_t i = 0; i < sb->npaths; i++)
		p[k++] = sb->paths[i];
	*n = k;
	return 0;
}

/* How a rule's condition reads in the rendered text. */
static void render_cond(const struct pw_sb_rule *r, char *buf, size_t len)
{
	switch (r->cond) {
	case PW_SBC_IOCTL_REQ:
		snprintf(buf, len, "request == %s", r->arg_name);
		break;
	case PW_SBC_SOCKET_NOT_UNIX:
		snprintf(buf, len, "family != %s", r->arg_name);
		break;
	case PW_SBC_CLONE_NOT_THREAD:
		snprintf(buf, len, "flags without %s", r->arg_name);
		break;
	default:
		buf[0] = '\0';
	}
}

/* The seccomp half of the text. */
static void render_rules(const struct pw_sb_rule *rules, size_t n, FILE *out)
{
	char cond[64];

	fprintf(out, "seccomp (no_new_privs set; every other system call allowed):\n");
	if (n == 0)
		fprintf(out, "  (no system call is denied)\n");
	for (size_t i = 0; i < n; i++) {
		const struct pw_sb_rule *r = &rules[i];
		int nr = seccomp_syscall_resolve_name(r->name);
		render_cond(r, cond, sizeof(cond));
		fprintf(out, "  %-18s %-28s %-6s [%s]%s\n", r->name, cond,
		        pw_sandbox_action_name(r->action), r->origin,
		        nr < 0 ? " (not on this architecture)" : "");
	}
}

/* The Landlock half of the text. */
static void render_paths(const struct pw_sandbox *sb, FILE *out)
{
	struct pw_sb_path *p;
	size_t n;
	int abi = pw_landlock_abi();
	struct stat st;

	if (!pw_sandbox_wants_landlock(sb)) {
		fprintf(out, "landlock: no path rules (no read_only or read_write paths)\n");
		return;
	}
	fprintf(out, "landlock (%s; kernel ABI %d%s): every other path is inaccessible\n",
	        sb->landlock_mode == PW_LL_BEST_EFFORT ? "best-effort" : "required", abi,
	        abi > 0 ? "" : sb->landlock_mode == PW_LL_BEST_EFFORT ? ", not enforced" :
	        ", runs are refused");
	if (pw_sandbox_paths(sb, &p, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-10s %s%s%s\n", p[i].write ? "read-write" : "read-only", p[i].path,
		        p[i].implicit ? " (implicit)" : "",
		        stat(p[i].path, &st) < 0 ? " (missing: ignored)" : "");
	free(p);
}

/* What the run's own Landlock domain keeps it from, under ABI abi. */
static void render_scope(const struct pw_sandbox *sb, int abi, FILE *out)
{
	if (abi <= 0) {
		fprintf(out, "scope: this kernel has no Landlock: seccomp denies ptrace, process_vm_readv, "
		        "process_vm_writev, pidfd_getfd and kcmp instead, but /proc/PID/mem, /proc/PID/fd, "
		        "signals and abstract unix sockets of processes outside the run stay reachable\n");
		return;
	}
	fprintf(out, "scope (Landlock ABI %d): the run is a Landlock domain of its own: no ptrace "
	        "access to processes outside it (ptrace, /proc/PID/mem, /proc/PID/fd, pidfd_getfd, "
	        "process_vm_*)%s\n", abi,
	        abi >= 6 ? ", no signals to them, no abstract unix sockets made outside it" :
	        "; signals and abstract unix sockets are not scoped before Landlock ABI 6");
	if (abi < 6 && !pw_sandbox_wants_landlock(sb))
		fprintf(out, "  (the domain refuses creating block devices: before ABI 6 it must "
		        "restrict something)\n");
}

/* Print the effective rules. */
int pw_sandbox_render(const struct pw_sandbox *sb, FILE *out)
{
	struct pw_sb_rule *rules;
	size_t n;
	unsigned all = sb->policies | sb->env_policies;

	if (!pw_sandbox_active(sb)) {
		fprintf(out, "sandbox: none (the program runs unconfined)\n");
		return 0;
	}
	if (pw_sandbox_rules(sb, &rules, &n) < 0)
		return -1;
	fprintf(out, "sandbox: policies");
	for (size_t i = 0; i < NPOLICIES; i++)
		if (all & policies[i].bit)
			fprintf(out, " %s%s", policies[i].name,
			        (sb->policies & policies[i].bit) ? "" : " (PYWARM_SANDBOX)");
	if (all == 0)
		fprintf(out, " (none)");
	fprintf(out, "; action %s\n", pw_sandbox_action_name(sb->action));
	render_rules(rules, n, out);
	free(rules);
	render_paths(sb, out);
	render_scope(sb, pw_landlock_abi(), out);
	return 0;
}

void pw_sandbox_free(struct pw_sandbox *sb)
{
	for (size_t i = 0; i < sb->ndeny; i++)
		free(sb->deny[i]);
	free(sb->deny);
	for (size_t i = 0; i < sb->npaths; i++)
		free(sb->paths[i].path);
	free(sb->paths);
	memset(sb, 0, sizeof(*sb));
}

/* Ask the kernel for its Landlock ABI version (raw syscall: no libc wrapper). */
int pw_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}
