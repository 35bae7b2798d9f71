/* ctl.h: pywarmctl's exit statuses and the subcommands that live outside ctl.c. */
#ifndef PW_CTL_H
#define PW_CTL_H

#include <stddef.h>

#define EXIT_OK     0
#define EXIT_FAIL   1       /* a command that could not do its job */
#define EXIT_USAGE  2       /* a bad command line */

/* ctl_profile.c: each takes its own argv (argv[0] is the command name). */
struct pw_target;
/* The target (profile, identity, paths) for the current directory into t:
 * 0, or -1 with the reason said. */
int ctl_target_here(struct pw_target *t);

int ctl_check(int argc, char **argv);
int ctl_which(int argc, char **argv);
int ctl_trust(int argc, char **argv);
int ctl_untrust(int argc, char **argv);

/* ctl_learn.c: what runs imported beyond the preload. */
int ctl_suggest(int argc, char **argv);
int ctl_learn(int argc, char **argv);
struct pw_profile;
void ctl_learn_describe(const struct pw_profile *p);

/* pywarmctl start --wait: show a warming zygote's progress (see ctl_profile.c). */
struct ctl_progress {
	size_t last_n;            /* the module shown last, on plain output */
};
int ctl_progress(const char *sockdir, const char *idhex, double secs, int tty,
                 struct ctl_progress *pr);

/* ctl_interp.c: pywarmctl interpreters. */
int ctl_interpreters(int argc, char **argv);

/* ctl_shell.c: the shell integration and the systemd user units. */
int ctl_shell_init(int argc, char **argv);
int ctl_enable(int argc, char **argv);
int ctl_disable(int argc, char **argv);

#endif
