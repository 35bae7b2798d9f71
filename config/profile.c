/* profile.c: reads, checks and parses pywarm profiles (INI, via inih) into struct pw_profile. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "token.h"

#define PROFILE_MAX      (1u << 20)        /* bytes; larger profiles are refused */
#define WARMUP_MAX       (16u << 20)       /* bytes; larger warmup scripts are refused */
#define IDLE_MAX         (8760L * 3600)     /* one year, in seconds */
#define TOKEN_SHOW       64                 /* bytes of a bad token quoted in messages */

/* The profile used when no file applies.  inih reads lines of at most 198
 * bytes, so the list is kept on indented continuation lines. */
const char pw_builtin_profile[] =
	"# pywarm built-in profile: standard library modules that are safe to preload.\n"
	"[preload]\n"
	"modules = os, re, json, collections, functools, itertools, typing, dataclasses,\n"
	"    enum, pathlib, argparse, subprocess, tempfile, shutil, logging, datetime,\n"
	"    random, hashlib, base64, struct, textwrap, string, contextlib, copy,\n"
	"    traceback, warnings, urllib.parse, email.message, email.parser,\n"
	"    http.client, asyncio, socket, selectors, threading, csv, inspect, ast,\n"
	"    decimal, fractions, heapq, bisect, uuid, zipfile, gzip, io, pickle,\n"
	"    pprint, glob, fnmatch, platform, signal, shlex, queue, weakref,\n"
	"    operator, numbers\n"
	"\n"
	"[zygote]\n"
	"idle_timeout = 30m\n";

/* State shared by the line reader and the inih handler during one parse. */
struct parse_ctx {
	struct pw_profile *p;
	const char *name;          /* the profile's path or label, for [sandbox] relative paths */
	const char *cur, *end;     /* unread part of the text */
	int lineno;                /* lines handed to inih so far */
	int have_key;              /* inih has a previous key to continue */
	size_t cap;                /* allocated slots in p->modules */
	size_t env_cap, watch_cap; /* ... in p->env_keys, p->watch */
	const char *dir;           /* the profile's directory, for relative paths; NULL: none */
	size_t dirlen;
	int err_line;              /* first problem found, 0 if none */
	char msg[256];
};


/* Record the first problem of a parse, at the line being read. */
__attribute__((format(printf, 2, 3)))
static void ctx_fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err_line)
		return;
	c->err_line = c->lineno > 0 ? c->lineno : 1;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

/* Copy at most TOKEN_SHOW bytes of s for a message, with unprintable bytes as '?'. */
static const char *show(char *buf, size_t buflen, const char *s, size_t n)
{
	size_t i;

	if (n > TOKEN_SHOW)
		n = TOKEN_SHOW;
	if (n >= buflen)
		n = buflen - 1;
	for (i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

/* The same quoting for the [sandbox] parser (sandbox.c). */
const char *pw_show_token(char *buf, size_t buflen, const char *s, size_t n)
{
	return show(buf, buflen, s, n);
}

/* Printable name of a profile source. */
const char *pw_profile_source_name(int source)
{
	switch (source) {
	case PW_SRC_BUILTIN: return "built-in";
	case PW_SRC_ENV:     return "PYWARM_PROFILE";
	case PW_SRC_PROJECT: return "project";
	case PW_SRC_USER:    return "user";
	}
	return "unknown";
}

/* Is s[0..n) Python identifiers joined by single dots? (ASCII identifiers only) */
int pw_module_name_valid(const char *s, size_t n)
{
	size_t i;
	int start = 1;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.') {
			if (start)
				return 0;
			start = 1;
		} else if (isalpha(ch) || ch == '_' || (!start && isdigit(ch))) {
			start = 0;
		} else {
			return 0;
		}
	}
	return !start;
}

/* Append s[0..n) to the NULL-terminated list *v of *count entries (*cap slots). */
static int list_add(char ***v, size_t *count, size_t *cap, const char *s, size_t n)
{
	char *item;

	if (*count + 2 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **m = realloc(*v, ncap * sizeof(*m));
		if (m == NULL)
			return -1;
		*v = m;
		*cap = ncap;
	}
	item = strndup(s, n);
	if (item == NULL)
		return -1;
	(*v)[(*count)++] = item;
	(*v)[*count] = NULL;
	return 0;
}

/* Call each(c, token, n) for every comma- and/or whitespace-separated token of v. */
static int for_tokens(struct parse_ctx *c, const char *v,
                      int (*each)(struct parse_ctx *, const char *, size_t))
{
	struct pw_tok t;
	const char *s;
	size_t n;

	pw_tok_init(&t, v, strlen(v), PW_TOK_LIST, PW_TOK_SKIP_EMPTY);
	while (pw_tok_next(&t, &s, &n))
		if (each(c, s, n) < 0)
			return -1;
	return 0;
}

/* One [preload] modules entry. */
static int add_module(struct parse_ctx *c, const char *s, size_t n)
{
	char shown[TOKEN_SHOW + 1];

	if (!pw_module_name_valid(s, n)) {
		ctx_fail(c, "invalid module name '%s'", show(shown, sizeof(shown), s, n));
		return -1;
	}
	if (list_add(&c->p->modules, &c->p->nmodules, &c->cap, s, n) < 0) {
		ctx_fail(c, "out of memory");
		return -1;
	}
	return 0;
}

/* [preload] modules: a comma- and/or whitespace-separated list, appended in order. */
static int parse_modules(struct parse_ctx *c, const char *v)
{
	return for_tokens(c, v, add_module);
}

/* One [env] keys entry: a variable name, or a name prefix ending in '*'. */
static int add_env_key(struct parse_ctx *c, const char *s, size_t n)
{
	char shown[TOKEN_SHOW + 1];
	size_t len = n > 0 && s[n - 1] == '*' ? n - 1 : n;
	int ok = len > 0 && (isalpha((unsigned char)s[0]) || s[0] == '_');

	for (size_t i = 1; ok && i < len; i++)
		ok = isalnum((unsigned char)s[i]) || s[i] == '_';
	if (!ok) {
		ctx_fail(c, "invalid environment variable name '%s' (letters, digits and _, "
		         "or a prefix ending in *)", show(shown, sizeof(shown), s, n));
		return -1;
	}
	if (list_add(&c->p->env_keys, &c->p->nenv_keys, &c->env_cap, s, n) < 0) {
		ctx_fail(c, "out of memory");
		return -1;
	}
	return 0;
}

/* [env] keys: names added to the built-in identity list. */
static int parse_env_keys(struct parse_ctx *c, const char *v)
{
	return for_tokens(c, v, add_env_key);
}

/* s[0..n) made absolute against the profile's directory (malloc'd), or NULL. */
static char *profile_relative(struct parse_ctx *c, const char *s, size_t n)
{
	char *out;

	if (s[0] == '/' || c->dir == NULL)
		return strndup(s, n);
	if (asprintf(&out, "%.*s/%.*s", (int)c->dirlen, c->dir, (int)n, s) < 0)
		return NULL;
	return out;
}

/* One [watch] paths entry: a path or glob, relative to the profile. */
static int add_watch(struct parse_ctx *c, const char *s, size_t n)
{
	char *abs = profile_relative(c, s, n);
	int r;

	if (abs == NULL) {
		ctx_fail(c, "out of memory");
		return -1;
	}
	r = list_add(&c->p->watch, &c->p->nwatch, &c->watch_cap, abs, strlen(abs));
	free(abs);
	if (r < 0)
		ctx_fail(c, "out of memory");
	return r;
}

/* [watch] paths: files or globs whose change retires the zygote. */
static int parse_watch(struct parse_ctx *c, const char *v)
{
	return for_tokens(c, v, add_watch);
}

/* A single path value into *slot: one token, relative to the profile,
 * given once, and (when the profile has a directory) a file that exists
 * and passes access(mode). */
static int parse_path(struct parse_ctx *c, const char *key, const char *v,
                      char **slot, int mode)
{
	char shown[TOKEN_SHOW + 1];
	size_t n = strlen(v);
	struct stat st;

	if (*slot != NULL) {
		ctx_fail(c, "%s given twice", key);
		return -1;
	}
	if (n == 0 || strcspn(v, "\t\r\n\v\f") != n) {
		ctx_fail(c, "%s needs one path", key);
		return -1;
	}
	if ((*slot = profile_relative(c, v, n)) == NULL) {
		ctx_fail(c, "out of memory");
		return -1;
	}
	if (c->dir == NULL && v[0] != '/')
		return 0;
	/* Messages quote the value as written: the file's line says the rest. */
	if (stat(*slot, &st) < 0 || access(*slot, mode) < 0) {
		ctx_fail(c, "%s '%s': %s", key, show(shown, sizeof(shown), v, n), strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		ctx_fail(c, "%s '%s': is a directory", key, show(shown, sizeof(shown), v, n));
		return -1;
	}
	return 0;
}

/* [preload] warmup: a script run once in the zygote after the imports. */
static int parse_warmup(struct parse_ctx *c, const char *v)
{
	c->p->warmup_line = c->lineno;
	return parse_path(c, "warmup", v, &c->p->warmup, R_OK);
}

/* [python] interpreter: the interpreter this profile stands in for. */
static int parse_interpreter(struct parse_ctx *c, const char *v)
{
	return parse_path(c, "interpreter", v, &c->p->interpreter, X_OK);
}

/* [zygote] idle_timeout: digits with an optional unit s, m or h; 0 means never. */
static int parse_duration(struct parse_ctx *c, const char *v)
{
	char shown[TOKEN_SHOW + 1];
	const char *s = v;
	long n = 0, unit = 1;

	if (!isdigit((unsigned char)*s))
		goto bad;
	for (; isdigit((unsigned char)*s); s++) {
		n = n * 10 + (*s - '0');
		if (n > IDLE_MAX)
			goto big;
	}
	if (*s == 's' || *s == 'm' || *s == 'h') {
		unit = *s == 'h' ? 3600 : *s == 'm' ? 60 : 1;
		s++;
	}
	if (*s != '\0')
		goto bad;
	if (n > IDLE_MAX / unit)
		goto big;
	c->p->idle_timeout = n * unit;
	return 0;
bad:
	ctx_fail(c, "invalid idle_timeout '%s' (a number with an optional unit s, m or h)",
	         show(shown, sizeof(shown), v, strlen(v)));
	return -1;
big:
	ctx_fail(c, "idle_timeout '%s' is too long (at most 8760h)",
	         show(shown, sizeof(shown), v, strlen(v)));
	return -1;
}

/* [zygote] prefork: a whole number of children, 0 to PW_PREFORK_MAX. */
static int parse_prefork(struct parse_ctx *c, const char *v)
{
	char shown[TOKEN_SHOW + 1];
	const char *s = v;
	long n = 0;

	for (; isdigit((unsigned char)*s) && n <= PW_PREFORK_MAX; s++)
		n = n * 10 + (*s - '0');
	if (s == v || *s != '\0' || n > PW_PREFORK_MAX) {
		ctx_fail(c, "invalid prefork '%s' (a whole number from 0 to %d)",
		         show(shown, sizeof(shown), v, strlen(v)), PW_PREFORK_MAX);
		return -1;
	}
	c->p->prefork = n;
	return 0;
}

/* A key with two words: *out = 1 for on, 0 for off; anything else is an
 * error that names both ("invalid learn 'yes' (no or auto)"). */
static int parse_pair(struct parse_ctx *c, const char *key, const char *v,
                      const char *first, const char *second, const char *on, int *out)
{
	char shown[TOKEN_SHOW + 1];

	if (strcmp(v, first) == 0 || strcmp(v, second) == 0) {
		*out = strcmp(v, on) == 0;
		return 0;
	}
	ctx_fail(c, "invalid %s '%s' (%s or %s)", key, show(shown, sizeof(shown), v, strlen(v)),
	         first, second);
	return -1;
}

/* [preload] record: yes or no. */
static int parse_record(struct parse_ctx *c, const char *v)
{
	return parse_pair(c, "record", v, "yes", "no", "yes", &c->p->record);
}

/* [preload] clock: afresh (the default) or shared. */
static int parse_clock(struct parse_ctx *c, const char *v)
{
	return parse_pair(c, "clock", v, "afresh", "shared", "shared", &c->p->share_clock);
}

/* [preload] learn: no or auto. */
static int parse_learn(struct parse_ctx *c, const char *v)
{
	return parse_pair(c, "learn", v, "no", "auto", "auto", &c->p->learn_auto);
}

/* [preload] learn_min_runs: a whole number from 1 to 1000000. */
static int parse_min_runs(struct parse_ctx *c, const char *v)
{
	char shown[TOKEN_SHOW + 1];
	const char *s = v;
	long n = 0;

	for (; isdigit((unsigned char)*s) && n <= 1000000; s++)
		n = n * 10 + (*s - '0');
	if (s == v || *s != '\0' || n < 1 || n > 1000000) {
		ctx_fail(c, "invalid learn_min_runs '%s' (a whole number from 1 to 1000000)",
		         show(shown, sizeof(shown), v, strlen(v)));
		return -1;
	}
	c->p->learn_min_runs = n;
	return 0;
}

/* Every key a profile may hold: section, key, parser.  pywarm.ini(5)
 * documents each one; keep the two in step. */
static const struct key_def {
	const char *section, *key;
	int (*parse)(struct parse_ctx *c, const char *value);
} key_table[] = {
	{ "preload", "modules",      parse_modules },
	{ "preload", "warmup",       parse_warmup },
	{ "preload", "record",       parse_record },
	{ "preload", "clock",        parse_clock },
	{ "preload", "learn",        parse_learn },
	{ "preload", "learn_min_runs", parse_min_runs },
	{ "python",  "interpreter",  parse_interpreter },
	{ "zygote",  "idle_timeout", parse_duration },
	{ "zygote",  "prefork",      parse_prefork },
	{ "env",     "keys",         parse_env_keys },
	{ "watch",   "paths",        parse_watch },
};
#define NKEYS (sizeof(key_table) / sizeof(key_table[0]))

/* Is s[0..n) the name of a section some key belongs to? */
static int known_section(const char *s, size_t n)
{
	if (n == 7 && strncmp(s, "sandbox", 7) == 0)
		return 1;          /* its keys are sandbox.c's */
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(key_table[i].section) == n && strncmp(s, key_table[i].section, n) == 0)
			return 1;
	return 0;
}

/* inih handler: dispatch one key (or continuation line) of a known section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	char s1[TOKEN_SHOW + 1], s2[TOKEN_SHOW + 1];

	c->have_key = 1;
	if (c->err_line)
		return 1;
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(section, key_table[i].section) == 0 && strcmp(name, key_table[i].key) == 0)
			return key_table[i].parse(c, value) == 0;
	if (strcmp(section, "sandbox") == 0) {
		char msg[sizeof(c->msg)];
		if (pw_sandbox_key(&c->p->sandbox, name, value, c->name, msg, sizeof(msg)) == 0)
			return 1;
		ctx_fail(c, "%s", msg);
		return 0;
	}
	if (*section == '\0')
		ctx_fail(c, "key '%s' outside any section", show(s1, sizeof(s1), name, strlen(name)));
	else if (!known_section(section, strlen(section)))
		ctx_fail(c, "unknown section [%s]", show(s1, sizeof(s1), section, strlen(section)));
	else
		ctx_fail(c, "unknown key '%s' in [%s]", show(s1, sizeof(s1), name, strlen(name)),
		         show(s2, sizeof(s2), section, strlen(section)));
	return 0;
}

/* Check a section header line as inih will see it: inih calls no handler for
 * a section without keys, so an unknown empty section is caught here. */
static void check_section(struct parse_ctx *c, const char *line)
{
	char shown[TOKEN_SHOW + 1];
	const char *s, *e;

	if (c->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;       /* inih skips a UTF-8 byte order mark */
	s = line;
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || (s > line && c->have_key))
		return;        /* not a header; an indented line after a key continues it */
	for (e = s + 1; *e && *e != ']'; e++)
		if (*e == ';' && isspace((unsigned char)e[-1]))
			return;        /* inih: comment before ']' is a syntax error */
	if (*e != ']')
		return;
	c->have_key = 0;
	if (!known_section(s + 1, (size_t)(e - s - 1)))
		ctx_fail(c, "unknown section [%s]", show(shown, sizeof(shown), s + 1, (size_t)(e - s - 1)));
}

/* inih reader: hand out one line at a time so that c->lineno is the line
 * inih is working on; stop at the first problem. */
static char *read_line(char *buf, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *nl;
	size_t n, body;

	if (c->err_line || c->cur >= c->end)
		return NULL;
	nl = memchr(c->cur, '\n', (size_t)(c->end - c->cur));
	n = nl ? (size_t)(nl - c->cur) + 1 : (size_t)(c->end - c->cur);
	body = nl ? n - 1 : n;
	c->lineno++;
	if (memchr(c->cur, '\0', body) != NULL) {
		ctx_fail(c, "NUL byte in line");
		return NULL;
	}
	if (num < 3 || body > (size_t)num - 2) {
		ctx_fail(c, "line longer than %d bytes (continue a list on indented lines)", num - 2);
		return NULL;
	}
	memcpy(buf, c->cur, n);
	buf[n] = '\0';
	c->cur += n;
	check_section(c, buf);
	return buf;
}

/* Parse text (NUL-terminated, len bytes), taking ownership of it. */
static int parse_owned(struct pw_profile *p, const char *name, char *text,
                       size_t len, char *err, size_t errlen)
{
	struct parse_ctx c;
	int r, broken;

	memset(p, 0, sizeof(*p));
	memset(&c, 0, sizeof(c));
	p->text = text;
	p->len = len;
	p->idle_timeout = PW_IDLE_DEFAULT;
	p->prefork = PW_PREFORK_DEFAULT;
	p->record = 1;
	p->learn_min_runs = 3;
	c.p = p;
	if (name[0] == '/') {        /* a file: relative paths are from its directory */
		c.dir = name;
		c.dirlen = (size_t)(strrchr(name, '/') - name);
	}
	c.name = name;
	c.cur = text;
	c.end = text + len;
	if (len > PROFILE_MAX) {
		pw_seterr(err, errlen, "%s: larger than 1 MiB", name);
		goto fail;
	}
	r = ini_parse_stream(read_line, &c, on_key, &c);
	if (r > 0 && (c.err_line == 0 || r < c.err_line)) {
		pw_seterr(err, errlen, "%s:%d: syntax error", name, r);
		goto fail;
	}
	if (c.err_line) {
		pw_seterr(err, errlen, "%s:%d: %s", name, c.err_line, c.msg);
		goto fail;
	}
	if (p->modules == NULL)
		p->modules = calloc(1, sizeof(*p->modules));
	if (r < 0 || p->modules == NULL) {
		pw_seterr(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	return 0;
fail:
	broken = pw_sandbox_mentioned(text, len);
	pw_profile_free(p);
	p->sandbox.broken = broken;
	return -1;
}

/* Parse a profile from memory; name is used in messages only. */
int pw_profile_parse(struct pw_profile *p, const char *name, const char *text,
                     size_t len, char *err, size_t errlen)
{
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		memset(p, 0, sizeof(*p));
		pw_seterr(err, errlen, "%s: out of memory", name);
		return -1;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	return parse_owned(p, name, copy, len, err, errlen);
}

/* Refuse a profile that is not a regular file we (or root) own and alone
 * may write: 1 (someone else owns it), -1 (any other refusal), 0. */
static int check_trust(const char *path, const char *kind, const struct stat *st,
                       char *err, size_t errlen)
{
	size_t max = strcmp(kind, "profile") == 0 ? PROFILE_MAX : WARMUP_MAX;

	if (!S_ISREG(st->st_mode)) {
		pw_seterr(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		pw_seterr(err, errlen, "%s: refusing a %s owned by uid %u", path, kind,
		       (unsigned)st->st_uid);
		return 1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		pw_seterr(err, errlen, "%s: refusing a %s writable by group or others", path, kind);
		return -1;
	}
	if (st->st_size > (off_t)max) {
		pw_seterr(err, errlen, "%s: larger than %u MiB", path, (unsigned)(max >> 20));
		return -1;
	}
	return 0;
}

/* Open the profile file at path and fstat it into *st.  With checkdir (a
 * profile found rather than named), only through its directory, which
 * must be the user's or root's and closed to writes by group and others
 * (sticky or not: a profile there would apply to everyone's runs below it,
 * and others could add the files its relative paths name).  The fd, or
 * -1 with err; *foreign (may be NULL) says the file is owned by someone
 * other than the user or root, or its directory is refused. */
static int open_profile(const char *path, const char *kind, int checkdir, struct stat *st,
                        int *foreign, char *err, size_t errlen)
{
	char dir[PATH_MAX], why[160];
	const char *slash = strrchr(path, '/'), *name = path;
	struct stat dst;
	int dfd = AT_FDCWD, fd, r, f = 0;

	if (checkdir && slash != NULL && (size_t)(slash - path) < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
		name = slash + 1;
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			pw_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(dfd, &dst) < 0 || pw_dir_check(&dst, PW_DIR_ROOT_OK, why, sizeof(why)) < 0) {
			pw_seterr(err, errlen, "%s: refusing a %s in %s: %s", path, kind, dir, why);
			close(dfd);
			if (foreign)
				*foreign = 1;
			return -1;
		}
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		pw_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0) {
		pw_seterr(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((r = check_trust(path, kind, st, err, errlen)) != 0) {
		f = r > 0;
		close(fd);
		fd = -1;
	}
	if (foreign)
		*foreign = f;
	return fd;
}

/* Would discovery use the file at path (project or user profile)?  1: yes
 * (its problems, its mode included, are the loader's to report); 0: there
 * is none (nothing, or a directory); 2: it is ignored, as if absent,
 * because it is another user's or in a directory others can write (why
 * says how). */
int pw_profile_probe(const char *path, char *why, size_t whylen)
{
	struct stat st;
	int foreign = 0, fd;

	if (stat(path, &st) < 0 || S_ISDIR(st.st_mode))
		return 0;
	fd = open_profile(path, "profile", 1, &st, &foreign, why, whylen);
	if (fd >= 0)
		close(fd);
	return foreign ? 2 : 1;
}

/* Read all of fd (at most max bytes; hint: its size) into a NUL-terminated
 * buffer.  Returns 0, or -1 with errno (EFBIG: too large). */
static int read_upto(int fd, size_t hint, size_t max, char **out, size_t *outlen)
{
	size_t cap = (hint < max ? hint : max) + 1, len = 0;
	char *buf = malloc(cap + 1), *nbuf;
	ssize_t n;

	while (buf != NULL) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			buf[len] = '\0';
			*out = buf;
			*outlen = len;
			return 0;
		}
		len += (size_t)n;
		if (len > max) {
			errno = EFBIG;
			break;
		}
		if (len == cap) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nbuf;
		}
	}
	free(buf);
	return -1;
}

/* read_upto for a profile. */
static int read_all(int fd, size_t hint, char **out, size_t *outlen)
{
	return read_upto(fd, hint, PROFILE_MAX, out, outlen);
}

/* Open, check and read a profile file.  *broken: a refused file that asks
 * for a sandbox (its runs are refused too, never run unconfined); never
 * set for a file of another user's or in a directory others can write,
 * whose content says nothing. */
static int read_profile(const char *path, int source, char **text, size_t *len, int *broken,
                        char *err, size_t errlen)
{
	int checkdir = source == PW_SRC_PROJECT || source == PW_SRC_USER;
	struct stat st;
	int fd, r, foreign = 0;

	*broken = 0;
	memset(&st, 0, sizeof(st));
	fd = open_profile(path, "profile", checkdir, &st, &foreign, err, errlen);
	if (fd < 0) {
		/* A refused file that asks for a sandbox still refuses its
		 * runs (read it once more to tell), unless it was found, not
		 * named, and is another user's or in a directory others can
		 * write: then its content says nothing. */
		if ((!foreign || !checkdir) && S_ISREG(st.st_mode) &&
		    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) >= 0) {
			if (read_all(fd, (size_t)st.st_size, text, len) == 0) {
				*broken = pw_sandbox_mentioned(*text, *len);
				free(*text);
			}
			close(fd);
		}
		return -1;
	}
	if ((r = read_all(fd, (size_t)st.st_size, text, len)) < 0) {
		if (errno == EFBIG)
			pw_seterr(err, errlen, "%s: larger than 1 MiB", path);
		else
			pw_seterr(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	}
	close(fd);
	return r;
}

/* Read a profile file's bytes (checked as a profile file of that source). */
int pw_profile_read(const char *path, int source, char **text, size_t *len,
                    char *err, size_t errlen)
{
	int broken;

	return read_profile(path, source, text, len, &broken, err, errlen);
}

/* Read the warmup script p names, once, under the rules for a found
 * profile (the user's or root's, not writable by group or others, in a
 * directory of the user's or root's that group and others cannot write):
 * the zygote executes exactly these bytes, and trust covers them.  On
 * failure p is emptied, like a profile that does not parse. */
int pw_profile_read_warmup(struct pw_profile *p, char *err, size_t errlen)
{
	char why[PATH_MAX + 200];
	struct stat st;
	int fd, r, broken;

	if (p->warmup == NULL || p->path == NULL || p->path[0] != '/')
		return 0;
	memset(&st, 0, sizeof(st));
	fd = open_profile(p->warmup, "warmup script", 1, &st, NULL, why, sizeof(why));
	if (fd < 0) {
		pw_seterr(err, errlen, "%s:%d: warmup: %s", p->path, p->warmup_line, why);
		r = -1;
	} else {
		r = read_upto(fd, (size_t)st.st_size, WARMUP_MAX, &p->warmup_text, &p->warmup_len);
		if (r < 0)
			pw_seterr(err, errlen, "%s:%d: warmup: %s: cannot read: %s", p->path,
			          p->warmup_line, p->warmup,
			          errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
		close(fd);
	}
	if (r < 0) {
		broken = pw_sandbox_mentioned(p->text, p->len);
		pw_profile_free(p);
		p->sandbox.broken = broken;
	}
	return r;
}

/* Parse the bytes of the file at path, taking ownership of text; the
 * warmup script is not read (see pw_profile_read_warmup). */
int pw_profile_parse_file(struct pw_profile *p, const char *path, int source,
                          char *text, size_t len, char *err, size_t errlen)
{
	if (parse_owned(p, path, text, len, err, errlen) < 0)
		return -1;
	p->source = source;
	if ((p->path = strdup(path)) == NULL) {
		pw_profile_free(p);
		pw_seterr(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

/* Parse the bytes of the file at path, taking ownership of text, and read
 * the warmup script it names. */
int pw_profile_from_text(struct pw_profile *p, const char *path, int source,
                         char *text, size_t len, char *err, size_t errlen)
{
	if (pw_profile_parse_file(p, path, source, text, len, err, errlen) < 0)
		return -1;
	return pw_profile_read_warmup(p, err, errlen);
}

/* Load a profile file, or the built-in default when path is NULL. */
int pw_profile_load(struct pw_profile *p, const char *path, int source,
                    char *err, size_t errlen)
{
	char *text;
	size_t len;

	if (path == NULL) {
		if (pw_profile_parse(p, "built-in profile", pw_builtin_profile,
		                     sizeof(pw_builtin_profile) - 1, err, errlen) < 0)
			return -1;
		p->source = PW_SRC_BUILTIN;
		return 0;
	}
	memset(p, 0, sizeof(*p));
	if (read_profile(path, source, &text, &len, &p->sandbox.broken, err, errlen) < 0)
		return -1;
	return pw_profile_from_text(p, path, source, text, len, err, errlen);
}

/* Release everything a profile owns and leave it empty. */
void pw_profile_free(struct pw_profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nmodules; i++)
		free(p->modules[i]);
	free(p->modules);
	for (i = 0; i < p->nenv_keys; i++)
		free(p->env_keys[i]);
	free(p->env_keys);
	for (i = 0; i < p->nwatch; i++)
		free(p->watch[i]);
	free(p->watch);
	free(p->warmup);
	free(p->warmup_text);
	free(p->interpreter);
	pw_sandbox_free(&p->sandbox);
	free(p->path);
	free(p->text);
	memset(p, 0, sizeof(*p));
}
