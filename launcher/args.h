/* args.h: reading python3's command line to decide how a run can be served. */
#ifndef PW_ARGS_H
#define PW_ARGS_H

#include "proto.h"      /* PW_MAX_ZOPTS, enum pw_emul */

/* What python3 would do with this command line. */
struct pw_cmdline {
	int mode;            /* enum pw_run_mode, or 0 when python3 would not run code */
	int payload;         /* argv index of CMD, MOD or the script path */
	int sysargv;         /* argv index where sys.argv begins (argc: sys.argv == ['']) */
	int stdin_dash;      /* '-' given explicitly */
	unsigned emul;       /* enum pw_emul bits */
	/* Options that fix interpreter state at start-up, one word per option
	 * and one per value ("-O", "-X", "dev"): a zygote started with them
	 * serves the run, and they are part of its identity. */
	int nzopts;
	const char *zopts[PW_MAX_ZOPTS];
	const char *cold;    /* why this command line must run cold, or NULL */
};

/* Parse argv as CPython 3.11's getopt does. Never fails: anything unusual
 * (including an error python3 would report) sets ->cold. */
void pw_cmdline_parse(struct pw_cmdline *c, int argc, char **argv);

/* Would python3 3.11 accept this warning filter ("action:message:category:
 * module:lineno", from -W or PYTHONWARNINGS; opt[0..len), no NUL needed)
 * silently, without importing anything?  1 yes, 0 no (it would print
 * "Invalid -W option ignored", or import a module at start-up). */
int pw_warnopt_ok(const char *opt, size_t len);

#endif
