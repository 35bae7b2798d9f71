/* args.c: python3's command line as CPython 3.11 parses it, sorted into warm-emulated, identity and cold options. */
#include "args.h"
#include "proto.h"
#include "token.h"

#include <stdlib.h>
#include <string.h>

/* Short options of python3 3.11; a ':' follows those taking an argument. */
static const char pyopts[] = "bBc:dEhiIJm:OPqRsStuvVW:xX:?";

/* Applied by the warm child itself; order matches enum pw_emul. */
static const char emulated[] = "uBqixP";
/* Accepted and ignored by python3 3.11 (only sys.orig_argv sees them). */
static const char ignored[] = "Rt";
/* Fix state at start-up: served by a zygote started with them. */
static const char identity[] = "bdEIOsS";
/* One word per identity flag, for zopts. */
static const char *const identity_words[] = { "-b", "-d", "-E", "-I", "-O", "-s", "-S" };

/* Does option character ch take an argument?  -1 if it is not an option. */
static int opt_arg(int ch)
{
	const char *p = ch ? strchr(pyopts, ch) : NULL;
	if (p == NULL || ch == ':')
		return -1;
	return p[1] == ':';
}

/* Is s all decimal digits (and not empty)? */
static int all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Is field f (n bytes) the name of a builtin warning category? */
static int builtin_category(const char *f, size_t n)
{
	static const char *const cats[] = {
		"Warning", "UserWarning", "DeprecationWarning", "PendingDeprecationWarning",
		"SyntaxWarning", "RuntimeWarning", "FutureWarning", "ImportWarning",
		"UnicodeWarning", "BytesWarning", "ResourceWarning", "EncodingWarning", NULL,
	};
	for (int i = 0; cats[i]; i++)
		if (strlen(cats[i]) == n && memcmp(cats[i], f, n) == 0)
			return 1;
	return 0;
}

/* Is field f an action warnings._getaction() accepts (a prefix of one, or "all")? */
static int valid_action(const char *f, size_t n)
{
	static const char *const acts[] = { "default", "always", "ignore", "module", "once", "error", NULL };
	if (n == 0 || (n == 3 && memcmp(f, "all", 3) == 0))
		return 1;
	for (int i = 0; acts[i]; i++)
		if (strncmp(acts[i], f, n) == 0 && strlen(acts[i]) >= n)
			return 1;
	return 0;
}

/* Would warnings._setoption() take opt[0..optlen) without complaint or
 * import?  Fields with surrounding blanks are refused: python3 strips them,
 * which is rare enough to leave to the real interpreter. */
int pw_warnopt_ok(const char *opt, size_t optlen)
{
	const char *f[5] = { 0 };
	size_t len[5] = { 0 };
	int n = 0;
	struct pw_tok t;
	const char *s;
	size_t sl;

	pw_tok_init(&t, opt, optlen, ":", PW_TOK_KEEP_EMPTY);
	while (pw_tok_next(&t, &s, &sl)) {
		if (n == 5)
			return 0;
		f[n] = s;
		len[n] = sl;
		n++;
	}
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < len[i]; k++)
			if (f[i][k] == ' ' || f[i][k] == '\t' || f[i][k] == '\n')
				return 0;
	if (!valid_action(f[0], len[0]))
		return 0;
	if (n > 2 && len[2] && !builtin_category(f[2], len[2]))
		return 0;
	if (n > 4 && len[4] && !all_digits(f[4], len[4]))
		return 0;
	return 1;
}

/* Why an -X option must run cold, or NULL if a zygote started with it can
 * serve (python3 stops with a fatal error on a bad value; such a zygote
 * would never start). */
static const char *xopt_cold(const char *x)
{
	const char *eq = strchr(x, '=');
	size_t klen = eq ? (size_t)(eq - x) : strlen(x);
	const char *v = eq ? eq + 1 : NULL;

#define KEY(s) (klen == sizeof(s) - 1 && memcmp(x, s, klen) == 0)
	if (KEY("importtime"))
		return "-X importtime reports the zygote's imports";
	if (KEY("tracemalloc"))
		return "-X tracemalloc traces allocations made before the program";
	if (KEY("int_max_str_digits")) {
		if (v == NULL || !all_digits(v, strlen(v)) || strlen(v) > 9 ||
		    (atoi(v) != 0 && atoi(v) < 640))
			return "-X int_max_str_digits with a value python3 refuses";
	} else if (KEY("utf8")) {
		if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return "-X utf8 with a value python3 refuses";
	} else if (KEY("frozen_modules")) {
		if (v == NULL || (strcmp(v, "on") != 0 && strcmp(v, "off") != 0))
			return "-X frozen_modules with a value python3 refuses";
	}
#undef KEY
	return NULL;
}

/* Record an identity word; cold when there are too many. */
static void add_zopt(struct pw_cmdline *c, const char *w)
{
	if (c->nzopts >= PW_MAX_ZOPTS) {
		c->cold = "too many interpreter options";
		return;
	}
	c->zopts[c->nzopts++] = w;
}

/* One option character without an argument: sort it. */
static void flag_opt(struct pw_cmdline *c, int ch)
{
	const char *p;

	if ((p = strchr(emulated, ch)) != NULL)
		c->emul |= 1u << (p - emulated);
	else if (strchr(ignored, ch) != NULL)
		;
	else if ((p = strchr(identity, ch)) != NULL)
		add_zopt(c, identity_words[p - identity]);
	else if (ch == 'v')
		c->cold = "-v traces the zygote's imports";
	else if (ch == 'h' || ch == '?' || ch == 'V')
		c->cold = "python3 prints its help or version";
	else
		c->cold = "an option python3 refuses";
}

/* -W or -X with its value: validate and record. */
static void value_opt(struct pw_cmdline *c, int ch, const char *v)
{
	if (ch == 'W' && !pw_warnopt_ok(v, strlen(v))) {
		c->cold = "a -W filter python3 would complain about or import for";
		return;
	}
	if (ch == 'X' && (c->cold = xopt_cold(v)) != NULL)
		return;
	add_zopt(c, ch == 'W' ? "-W" : "-X");
	add_zopt(c, v);
}

/* A "--" long option at argv[*i]; may consume the next argument. */
static void long_opt(struct pw_cmdline *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (strcmp(a, "--check-hash-based-pycs") != 0) {
		c->cold = "python3 prints its help or version, or refuses the option";
		return;
	}
	if (*i + 1 >= argc || (strcmp(argv[*i + 1], "default") != 0 &&
	                       strcmp(argv[*i + 1], "always") != 0 &&
	                       strcmp(argv[*i + 1], "never") != 0)) {
		c->cold = "--check-hash-based-pycs without a valid mode";
		return;
	}
	add_zopt(c, a);
	add_zopt(c, argv[++*i]);
}

/* One argument of clustered short options at argv[*i]; 1 when it named the program (-c/-m). */
static int short_opts(struct pw_cmdline *c, int argc, char **argv, int *i)
{
	for (const char *p = argv[*i] + 1; *p && !c->cold; p++) {
		int takes = opt_arg(*p);
		if (takes < 0 || *p == 'J') {
			c->cold = "an option python3 refuses";
			return 0;
		}
		if (!takes) {
			flag_opt(c, *p);
			continue;
		}
		int has_inline = p[1] != '\0';
		if (!has_inline && *i + 1 >= argc) {
			c->cold = "option without its argument";
			return 0;
		}
		if (*p != 'c' && *p != 'm') {
			value_opt(c, *p, has_inline ? p + 1 : argv[++*i]);
			return 0;
		}
		if (has_inline) {
			c->cold = "-c/-m with an attached argument";
			return 0;
		}
		c->mode = *p == 'c' ? PW_RUN_COMMAND : PW_RUN_MODULE;
		c->payload = *i + 1;
		c->sysargv = *i + 1;    /* sys.argv = ["-c"/"-m"] + argv[payload+1:] */
		return 1;
	}
	return 0;
}

/* Walk the options; stop at -c/-m, "--", "-" or the first non-option. */
void pw_cmdline_parse(struct pw_cmdline *c, int argc, char **argv)
{
	int i = 1;

	memset(c, 0, sizeof *c);
	for (; i < argc && !c->cold; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;                          /* script, or '-' */
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-')
			long_opt(c, argc, argv, &i);
		else if (short_opts(c, argc, argv, &i))
			break;
	}
	if (c->cold || c->mode)
		return;
	if (i >= argc) {
		c->mode = PW_RUN_STDIN;
		c->sysargv = argc;
	} else if (strcmp(argv[i], "-") == 0) {
		c->mode = PW_RUN_STDIN;
		c->stdin_dash = 1;
		c->sysargv = i;
	} else {
		c->mode = PW_RUN_FILE;
		c->payload = i;
		c->sysargv = i;
	}
}
