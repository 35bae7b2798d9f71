/* test_args.c: table-driven unit tests for python3's command line as the launcher reads it (pw_cmdline_parse, pw_warnopt_ok, -X values). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "unit.h"

/* One command line and what python3 3.11 would make of it. */
struct cmdcase {
	const char *argv[8];      /* argv[0] is "python3" */
	int mode;                 /* enum pw_run_mode; 0 when cold */
	int payload, sysargv, stdin_dash;
	unsigned emul;
	const char *zopts;        /* identity words joined by ' ' */
	const char *cold;         /* a substring of the reason, or NULL: warm */
};

#define E(x) PW_EMUL_##x
static const struct cmdcase cmdcases[] = {
	/* How the program is named. */
	{ { "python3", "-c", "pass", "a" }, PW_RUN_COMMAND, 2, 2, 0, 0, "", NULL },
	{ { "python3", "-m", "json.tool", "-h" }, PW_RUN_MODULE, 2, 2, 0, 0, "", NULL },
	{ { "python3", "x.py", "-c", "y" }, PW_RUN_FILE, 1, 1, 0, 0, "", NULL },
	{ { "python3" }, PW_RUN_STDIN, 0, 1, 0, 0, "", NULL },
	{ { "python3", "-", "a" }, PW_RUN_STDIN, 0, 1, 1, 0, "", NULL },
	{ { "python3", "--", "-x.py" }, PW_RUN_FILE, 2, 2, 0, 0, "", NULL },
	{ { "python3", "-u", "--" }, PW_RUN_STDIN, 0, 3, 0, E(UNBUFFERED), "", NULL },
	/* -c ends the options: what follows is sys.argv. */
	{ { "python3", "-c", "pass", "-v", "-X", "importtime" }, PW_RUN_COMMAND, 2, 2, 0, 0, "", NULL },
	/* Clusters: emulated, ignored and identity flags, a value at the end. */
	{ { "python3", "-uBqixP", "s.py" }, PW_RUN_FILE, 2, 2, 0,
	  E(UNBUFFERED) | E(NOBYTECODE) | E(QUIET) | E(INSPECT) | E(SKIPLINE) | E(SAFEPATH), "", NULL },
	{ { "python3", "-RtOO", "-c", "1" }, PW_RUN_COMMAND, 3, 3, 0, 0, "-O -O", NULL },
	{ { "python3", "-IsEb", "-c", "1" }, PW_RUN_COMMAND, 3, 3, 0, 0, "-I -s -E -b", NULL },
	{ { "python3", "-uc", "pass" }, PW_RUN_COMMAND, 2, 2, 0, E(UNBUFFERED), "", NULL },
	{ { "python3", "-Wignore", "-X", "dev", "-c", "1" }, PW_RUN_COMMAND, 5, 5, 0, 0,
	  "-W ignore -X dev", NULL },
	{ { "python3", "-OWdefault::DeprecationWarning", "f" }, PW_RUN_FILE, 2, 2, 0, 0,
	  "-O -W default::DeprecationWarning", NULL },
	{ { "python3", "--check-hash-based-pycs", "never", "f" }, PW_RUN_FILE, 3, 3, 0, 0,
	  "--check-hash-based-pycs never", NULL },
	{ { "python3", "-X", "utf8=1", "-X", "int_max_str_digits=0", "f" }, PW_RUN_FILE, 5, 5, 0, 0,
	  "-X utf8=1 -X int_max_str_digits=0", NULL },
	{ { "python3", "-X", "frozen_modules=off", "-c", "" }, PW_RUN_COMMAND, 4, 4, 0, 0,
	  "-X frozen_modules=off", NULL },
	/* Cold, each for its reason. */
	{ { "python3", "-v", "-c", "1" }, 0, 0, 0, 0, 0, NULL, "-v" },
	{ { "python3", "-V" }, 0, 0, 0, 0, 0, NULL, "version" },
	{ { "python3", "--version" }, 0, 0, 0, 0, 0, NULL, "version" },
	{ { "python3", "-h" }, 0, 0, 0, 0, 0, NULL, "help" },
	{ { "python3", "-J", "x" }, 0, 0, 0, 0, 0, NULL, "refuses" },
	{ { "python3", "-Z" }, 0, 0, 0, 0, 0, NULL, "refuses" },
	{ { "python3", "-c" }, 0, 0, 0, 0, 0, NULL, "without its argument" },
	{ { "python3", "-W" }, 0, 0, 0, 0, 0, NULL, "without its argument" },
	{ { "python3", "-cpass" }, 0, 0, 0, 0, 0, NULL, "attached" },
	{ { "python3", "-X", "importtime", "f" }, 0, 0, 0, 0, 0, NULL, "importtime" },
	{ { "python3", "-X", "tracemalloc=5", "f" }, 0, 0, 0, 0, 0, NULL, "tracemalloc" },
	{ { "python3", "-X", "int_max_str_digits=100", "f" }, 0, 0, 0, 0, 0, NULL, "int_max_str_digits" },
	{ { "python3", "-X", "int_max_str_digits", "f" }, 0, 0, 0, 0, 0, NULL, "int_max_str_digits" },
	{ { "python3", "-X", "utf8=2", "f" }, 0, 0, 0, 0, 0, NULL, "utf8" },
	{ { "python3", "-X", "frozen_modules", "f" }, 0, 0, 0, 0, 0, NULL, "frozen_modules" },
	{ { "python3", "-W", "ignore::NoSuchWarning", "f" }, 0, 0, 0, 0, 0, NULL, "-W" },
	{ { "python3", "--check-hash-based-pycs", "sometimes", "f" }, 0, 0, 0, 0, 0, NULL, "mode" },
	{ { "python3", "--check-hash-based-pycs" }, 0, 0, 0, 0, 0, NULL, "mode" },
	{ { "python3", "--help" }, 0, 0, 0, 0, 0, NULL, "help" },
};
#undef E

TEST(cmdline_table)
{
	for (size_t i = 0; i < sizeof cmdcases / sizeof *cmdcases; i++) {
		const struct cmdcase *k = &cmdcases[i];
		char *argv[8], words[512] = "";
		struct pw_cmdline c;
		int argc = 0;

		while (argc < 8 && k->argv[argc])
			argv[argc] = (char *)k->argv[argc], argc++;
		pw_cmdline_parse(&c, argc, argv);
		for (int w = 0; w < c.nzopts; w++)
			snprintf(words + strlen(words), sizeof words - strlen(words), "%s%s",
			         w ? " " : "", c.zopts[w]);
		int before = unit_state.failed_checks;
		if (k->cold) {
			CHECK(c.cold != NULL && strstr(c.cold, k->cold) != NULL);
		} else {
			CHECK(c.cold == NULL);
			CHECK_INTEQ(c.mode, k->mode);
			CHECK_INTEQ(c.payload, k->payload);
			CHECK_INTEQ(c.sysargv, k->sysargv);
			CHECK_INTEQ(c.stdin_dash, k->stdin_dash);
			CHECK_INTEQ(c.emul, k->emul);
			CHECK_STREQ(words, k->zopts);
		}
		if (unit_state.failed_checks != before)
			fprintf(stderr, "  in case %zu (%s %s ...): cold=%s\n", i, k->argv[1] ? k->argv[1] : "",
			        k->argv[1] && k->argv[2] ? k->argv[2] : "", c.cold ? c.cold : "(warm)");
	}
}

/* More identity options than a zygote can be started with: cold. */
TEST(cmdline_too_many_options)
{
	char *argv[2 + PW_MAX_ZOPTS + 1];
	struct pw_cmdline c;
	int argc = 0;

	argv[argc++] = "python3";
	for (int i = 0; i <= PW_MAX_ZOPTS; i++)
		argv[argc++] = "-O";
	argv[argc++] = "f.py";
	pw_cmdline_parse(&c, argc, argv);
	CHECK(c.cold != NULL && strstr(c.cold, "too many") != NULL);
}

/* Warning filters python3 3.11 takes silently (1), or complains about or
 * imports for (0), as `python3 -W <filter> -c pass` shows; fields with
 * blanks python3 strips are left to python3 (0) on purpose. */
static const struct { const char *opt; int ok; } warncases[] = {
	{ "ignore", 1 }, { "default", 1 }, { "error", 1 }, { "all", 1 }, { "", 1 },
	{ "i", 1 }, { "mod", 1 }, { "a", 1 },
	{ "ignore::DeprecationWarning", 1 }, { "error:msg:UserWarning:mod:12", 1 },
	{ "once:::", 1 }, { "ignore::::", 1 }, { "always:::x:0", 1 },
	{ "bogus", 0 }, { "ignore::NoSuchWarning", 0 }, { "ignore::pkg.Warning", 0 },
	{ "ignore:::mod:x", 0 }, { "ignore:::::", 0 }, { "ignore: m", 0 }, { " ignore", 0 },
	{ "errors", 0 },
};

TEST(warnopt_table)
{
	for (size_t i = 0; i < sizeof warncases / sizeof *warncases; i++) {
		int got = pw_warnopt_ok(warncases[i].opt, strlen(warncases[i].opt));
		if (got != warncases[i].ok)
			fprintf(stderr, "  -W '%s': %d, expected %d\n", warncases[i].opt, got, warncases[i].ok);
		CHECK_INTEQ(got, warncases[i].ok);
	}
}

/* Only the len bytes given are judged: a filter in a longer buffer (a
 * PYTHONWARNINGS entry) needs no NUL after it. */
TEST(warnopt_bounded)
{
	CHECK_INTEQ(pw_warnopt_ok("ignore,bogus", 6), 1);
	CHECK_INTEQ(pw_warnopt_ok("ignore,bogus", 12), 0);
	CHECK_INTEQ(pw_warnopt_ok("errors", 5), 1);
	CHECK_INTEQ(pw_warnopt_ok("ignore:::::", 10), 1);
	CHECK_INTEQ(pw_warnopt_ok("ignore:::::", 11), 0);
	CHECK_INTEQ(pw_warnopt_ok("ignore::DeprecationWarningX", 26), 1);
	CHECK_INTEQ(pw_warnopt_ok("ignore::DeprecationWarningX", 27), 0);
	CHECK_INTEQ(pw_warnopt_ok("always:::x:12x", 13), 1);
	CHECK_INTEQ(pw_warnopt_ok("bogus", 0), 1);
}

int main(void)
{
	RUN(cmdline_table);
	RUN(cmdline_too_many_options);
	RUN(warnopt_table);
	RUN(warnopt_bounded);
	return unit_summary();
}
