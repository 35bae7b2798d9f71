/* args.c: python3's command line as CPython 3.11 parses it, reduced to "warm or cold". */
#include "args.h"
#include "proto.h"

#include <string.h>

/* Short options of python3 3.11; a ':' follows those taking an argument. */
static const char pyopts[] = "bBc:dEhiIJm:OPqRsStuvVW:xX:?";

/* Does option character ch take an argument?  -1 if it is not an option. */
static int opt_arg(int ch)
{
	const char *p = ch ? strchr(pyopts, ch) : NULL;
	if (p == NULL || ch == ':')
		return -1;
	return p[1] == ':';
}

/* Walk the options; stop at -c/-m, "--", "-" or the first non-option. */
void pw_cmdline_parse(struct pw_cmdline *c, int argc, char **argv)
{
	int i = 1;

	memset(c, 0, sizeof *c);
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;                          /* script, or '-' */
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-') {                      /* --help, --version, ... */
			c->cold = "long option";
			return;
		}
		for (const char *p = a + 1; *p; p++) {
			int takes = opt_arg(*p);
			if (takes < 0 || *p == 'J') {
				c->cold = "unknown option";
				return;
			}
			if (!takes) {
				c->nopts++;
				continue;
			}
			int has_inline = p[1] != '\0';
			if (!has_inline && i + 1 >= argc) {
				c->cold = "option without its argument";
				return;
			}
			if (*p != 'c' && *p != 'm') {
				c->nopts++;
				if (!has_inline)
					i++;
				break;
			}
			if (has_inline) {
				c->cold = "-c/-m with an attached argument";
				return;
			}
			c->mode = *p == 'c' ? PW_RUN_COMMAND : PW_RUN_MODULE;
			c->payload = i + 1;
			c->sysargv = i + 1;     /* sys.argv = ["-c"/"-m"] + argv[payload+1:] */
			break;
		}
		if (c->mode)
			break;
	}
	if (c->mode == 0) {
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
	if (c->nopts > 0 && c->cold == NULL)
		c->cold = "interpreter option";
}
