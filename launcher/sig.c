/* sig.c: forwarding a terminal's and a supervisor's signals to the warm child. */
#include "sig.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The warm child's process group; 0 while there is none.  Read by the
 * handlers, hence a file-static sig_atomic_t. */
static volatile sig_atomic_t target_pgid;

static const int forwarded[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
};

/* The set of signals the launcher takes over, TSTP included. */
static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
	sigaddset(set, SIGTSTP);
}

/* Pass a signal on to the child's process group. */
static void on_forward(int sig)
{
	int saved = errno;
	if (target_pgid > 0)
		kill(-(pid_t)target_pgid, sig);
	errno = saved;
}

static void on_tstp(int sig);

/* Install h for sig with SA_RESTART. */
static void set_handler(int sig, void (*h)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Ctrl-Z: stop the child's group, then stop ourselves; on resume, wake the
 * child (the shell's SIGCONT reaches only our group). */
static void on_tstp(int sig)
{
	int saved = errno;
	sigset_t unblock;

	if (target_pgid > 0)
		kill(-(pid_t)target_pgid, SIGTSTP);
	set_handler(SIGTSTP, SIG_DFL);
	sigemptyset(&unblock);
	sigaddset(&unblock, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	raise(SIGTSTP);                 /* stops here until SIGCONT */
	sigprocmask(SIG_BLOCK, &unblock, NULL);
	set_handler(SIGTSTP, on_tstp);
	if (target_pgid > 0)
		kill(-(pid_t)target_pgid, SIGCONT);
	errno = saved;
}

/* Block the forwarded signals, saving the previous mask. */
void pw_sig_block(sigset_t *saved)
{
	sigset_t set;
	forwarded_set(&set);
	sigprocmask(SIG_BLOCK, &set, saved);
}

/* Start forwarding to pgid and let pending signals through. */
void pw_sig_forward(pid_t pgid, const sigset_t *saved)
{
	target_pgid = pgid;
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		set_handler(forwarded[i], on_forward);
	set_handler(SIGTSTP, on_tstp);
	sigset_t set = *saved, fwd;
	forwarded_set(&fwd);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&fwd, s) == 1)
			sigdelset(&set, s);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Put the caller's mask back without handlers installed. */
void pw_sig_unblock(const sigset_t *saved)
{
	sigprocmask(SIG_SETMASK, saved, NULL);
}

/* The child is gone: nothing more to forward to. */
void pw_sig_stop(void)
{
	target_pgid = 0;
}
