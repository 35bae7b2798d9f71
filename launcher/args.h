/* args.h: reading python3's command line to decide whether a run can be served warm. */
#ifndef PW_ARGS_H
#define PW_ARGS_H

/* What python3 would do with this command line. */
struct pw_cmdline {
	int mode;            /* enum pw_run_mode, or 0 when python3 would not run code */
	int payload;         /* argv index of CMD, MOD or the script path */
	int sysargv;         /* argv index where sys.argv begins (argc: sys.argv == ['']) */
	int stdin_dash;      /* '-' given explicitly */
	int nopts;           /* options other than -c/-m seen before the program */
	const char *cold;    /* why this command line must run cold, or NULL */
};

/* Parse argv as CPython 3.11's getopt does. Never fails: anything unusual
 * (including an error python3 would report) sets ->cold. */
void pw_cmdline_parse(struct pw_cmdline *c, int argc, char **argv);

#endif
