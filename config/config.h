/* config.h: profile discovery and parsing, zygote identity and the socket directory, shared by all three binaries. */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "sandbox.h"

#define PW_PROFILE_FILE   ".pywarm.ini"
#define PW_IDLE_DEFAULT   1800          /* seconds: [zygote] idle_timeout */
#define PW_PREFORK_DEFAULT 2            /* [zygote] prefork: children forked ahead */
#define PW_PREFORK_MAX    64

enum pw_profile_source {
	PW_SRC_BUILTIN = 0,   /* no file: the built-in default */
	PW_SRC_ENV     = 1,   /* $PYWARM_PROFILE */
	PW_SRC_PROJECT = 2,   /* .pywarm.ini in the cwd or a parent */
	PW_SRC_USER    = 3,   /* $XDG_CONFIG_HOME/pywarm/pywarm.ini */
};

struct pw_profile {
	int source;               /* enum pw_profile_source */
	char *path;               /* absolute path, NULL for the built-in default */
	char *text;               /* the file's bytes (or the built-in text), NUL-terminated */
	size_t len;
	char **modules;           /* [preload] modules, in order, NULL-terminated */
	size_t nmodules;
	char *warmup;             /* [preload] warmup: absolute path, or NULL */
	int warmup_line;          /* where it was given, for messages */
	char *warmup_text;        /* its bytes, read once after the checks by
	                           * pw_profile_from_text: what the zygote runs
	                           * and what trust covers; NUL-terminated */
	size_t warmup_len;
	char *interpreter;        /* [python] interpreter: absolute path, or NULL */
	long idle_timeout;        /* [zygote] idle_timeout in seconds; 0 = never */
	char **env_keys;          /* [env] keys: NAME or PREFIX*, NULL-terminated */
	size_t nenv_keys;
	char **watch;             /* [watch] paths: absolute paths or globs, NULL-terminated */
	size_t nwatch;
	long prefork;             /* [zygote] prefork: pool size; 0 = fork per launch */
	int record;               /* [preload] record: report what runs import (default 1) */
	int learn_auto;           /* [preload] learn = auto: preload what runs import */
	long learn_min_runs;      /* [preload] learn_min_runs: runs before auto learns a module */
	int share_clock;          /* [preload] clock = shared: a module that read the clock at
	                           * import is served all the same (with the zygote's time) */
	struct pw_sandbox sandbox; /* [sandbox]; after a failed load only .broken is set */
};

/* Find which profile applies in directory cwd (absolute).  Fills *path with a
 * malloc'd absolute path (NULL for the built-in default) and *source.
 * A .pywarm.ini or user profile owned by someone other than the user or
 * root, or in a directory that is another user's or that group or others
 * can write (sticky or not), is ignored as if it were not there: the search
 * goes on upward, then to the user profile, then the built-in one.
 * Returns 0, or -1 with a one-line message in err. */
int  pw_profile_find(const char *cwd, char **path, int *source,
                     char *err, size_t errlen);
/* The same, calling skip(arg, path, why) for each file it ignores. */
typedef void pw_skip_fn(void *arg, const char *path, const char *why);
int  pw_profile_find_noting(const char *cwd, char **path, int *source, pw_skip_fn *skip,
                            void *arg, char *err, size_t errlen);
/* 1: discovery would use the file at path; 0: none there; 2: ignored
 * (why says why).  See pw_profile_find. */
int  pw_profile_probe(const char *path, char *why, size_t whylen);

/* Load and parse a profile file (path NULL: the built-in default).
 * Returns 0, or -1 with "FILE:LINE: problem" (or "FILE: problem") in err;
 * *p is then left empty and needs no pw_profile_free(), except that
 * p->sandbox.broken says whether the text has a [sandbox] section (such a
 * run must be refused, not run unconfined). */
int  pw_profile_load(struct pw_profile *p, const char *path, int source,
                     char *err, size_t errlen);
/* Same, from bytes already in memory (for tests and fuzzing); name is used in messages. */
int  pw_profile_parse(struct pw_profile *p, const char *name, const char *text,
                      size_t len, char *err, size_t errlen);
void pw_profile_free(struct pw_profile *p);
/* Copy at most 64 bytes of s[0..n) into buf for a message, unprintable
 * bytes as '?'; returns buf. */
/* Is s[0..n) Python identifiers joined by single dots (ASCII only)? */
int  pw_module_name_valid(const char *s, size_t n);
const char *pw_show_token(char *buf, size_t buflen, const char *s, size_t n);
const char *pw_profile_source_name(int source);

/* printf into a caller's error buffer err[errlen], if there is one. */
void pw_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The built-in default profile text. */
extern const char pw_builtin_profile[];

/* Is environment entry "NAME=value" part of every zygote's identity?  (The
 * built-in list: PYTHON*, LANG, LANGUAGE, LC_*, HOME, VIRTUAL_ENV, ... see
 * identity.c and pywarm.ini(5).) */
int  pw_env_is_identity(const char *entry);
/* The same, plus the profile's [env] keys (p may be NULL). */
int  pw_env_in_identity(const struct pw_profile *p, const char *entry);
/* The built-in identity names, NULL-terminated; a trailing '*' is a prefix. */
extern const char *const pw_identity_env[];

/* 64-bit identity of a zygote: FNV-1a over the protocol version, the
 * interpreter path, the zygote stamp (which binary), the profile's path and
 * bytes, and every identity entry of envp in sorted order. */
uint64_t pw_identity(const struct pw_profile *p, const char *interpreter,
                     const char *zygote_stamp, char *const envp[]);

/* interp.c: the interpreter a run stands in for, and whether a zygote can be it. */
/* pw_interp_clear() sets every field: keep it in step with this list. */
struct pw_interp {
	char path[4096];          /* what sys.executable will be; what a cold run executes */
	char origin[4200];        /* "[python] interpreter", "VIRTUAL_ENV", "PATH",
	                           * "pyenv: <what chose the version>" or "build" */
	int warm;                 /* 1: a zygote binary embeds it */
	char cold_why[4200];      /* when !warm: why runs go to path cold */
	int no_zygote;            /* cold only because no zygote binary is installed for it */
	char real[4096];          /* path with every symbolic link resolved */
	char zygote[4096];        /* the zygote binary that embeds it, or "" */
	char zygote_version[32];  /* the version that binary embeds */
	char venv_home[4096];     /* pyvenv.cfg "home", or "" without a venv */
	char venv_version[32];    /* pyvenv.cfg "version", or "" */
};

/* Decide the interpreter the command python3 would have run: the
 * profile's [python] interpreter, else $VIRTUAL_ENV/bin/python when that
 * exists, else, for an installed launcher (its zygote directory exists),
 * the first python3 on PATH that is not pywarm (behind a pyenv shim: the
 * version pyenv would choose, from PYENV_VERSION, .python-version upward
 * from the working directory or $PYENV_ROOT/version, or "system"), else the
 * build's (PW_PYTHON): a build directory stands in for that one.  No process is started.  It is served warm
 * when the installation has a zygote binary for it (pywarm-zygote beside
 * the running binary for the build's interpreter, else
 * <zygote dir>/<tag>/pywarm-zygote) and, for a venv, its pyvenv.cfg names
 * that binary's version; anything else runs cold, and where pyenv's choice
 * cannot be followed, path is the shim itself.  Never fails. */
void pw_interp_resolve(const struct pw_profile *p, struct pw_interp *out);
/* Empty every field of in (its strings ""), without writing all of its
 * 29 KB: a launch pays for the pages it touches. */
void pw_interp_clear(struct pw_interp *in);
/* The zygote's side: can this binary be the interpreter at path? */
void pw_interp_embedded(const char *path, const char *origin, struct pw_interp *out);
/* The zygote directory's name for an interpreter (its resolved path and
 * version): "<version>-<16 hex digits>". */
void pw_interp_tag(const char *real, const char *version, char *out, size_t outlen);
/* That name for the interpreter this binary was built with; 0 or -1. */
int  pw_interp_own_tag(char *out, size_t outlen);
/* Classify the interpreter at path as if resolution had chosen it. */
void pw_interp_for(const char *path, const char *origin, struct pw_interp *out);
/* Call fn for each python3 on PATH (pywarm's links and pyenv shims left
 * out) and, when a pyenv shim is there, each pyenv version's python3. */
typedef void pw_interp_fn(void *arg, const char *path, const char *origin);
void pw_interp_each(pw_interp_fn *fn, void *arg);
/* The directory holding <tag>/pywarm-zygote for this installation; 0 or -1. */
int  pw_interp_zygote_dir(char *out, size_t outlen);

/* trust.c: project profiles are used only once the user trusts them. */
enum { PW_TRUST_YES = 1, PW_TRUST_CHANGED = 2, PW_TRUST_NO = 3 };
/* What trust approves for a loaded profile file p, as 64 hex digits: the
 * SHA-256 of its bytes, or with a warmup script a framed digest of its
 * bytes, the script's path and the script's bytes (p->warmup_text). */
void pw_trust_digest(const struct pw_profile *p, char out[65]);
/* Is path (absolute) trusted with digest hash?  PW_TRUST_YES;
 * PW_TRUST_CHANGED (that path, another digest); PW_TRUST_NO (with err
 * saying why when the store was ignored: it, or its directory, is a
 * symbolic link, another user's, or writable by group or others; else err
 * is ""); or -1 with err (an unreadable or corrupt store of the user's:
 * reported, never reset). */
int  pw_trust_check_hash(const char *path, const char hash[65], char *err, size_t errlen);
/* The same for the digest of p (pw_trust_digest), or of text[0..len). */
int  pw_trust_check_profile(const struct pw_profile *p, char *err, size_t errlen);
int  pw_trust_check(const char *path, const char *text, size_t len, char *err, size_t errlen);
/* Record path + digest (replacing older entries for path), or forget
 * path; both rewrite the store atomically, inside a directory of the
 * user's that no one else can write, and refuse a store someone else
 * could have written.  0, or -1 with err. */
int  pw_trust_add_hash(const char *path, const char hash[65], char *err, size_t errlen);
int  pw_trust_add(const char *path, const char *text, size_t len, char *err, size_t errlen);
int  pw_trust_remove(const char *path, int *removed, char *err, size_t errlen);
/* $XDG_DATA_HOME/pywarm/trusted (else ~/.local/share/pywarm/trusted). */
int  pw_trust_store_path(char *out, size_t outlen, char *err, size_t errlen);
/* 1 the first time it is asked about this path and content (remembered in
 * the state directory), else 0. */
int  pw_trust_hint_once(const char *path, const char *text, size_t len);
void pw_sha256_hex(const void *data, size_t n, char out[65]);

/* Load the profile file at path as a launcher or the zygote uses it:
 * pw_profile_read, pw_profile_from_text (which reads the warmup script
 * once), and for a project profile the trust check of exactly those bytes.
 * 0; -1 with err; or PW_TRUST_NO / PW_TRUST_CHANGED with err saying so, *p
 * empty and digest (if not NULL) set to what was not trusted. */
int  pw_profile_load_trusted(struct pw_profile *p, const char *path, int source,
                             char digest[65], char *err, size_t errlen);

/* Read a profile file's bytes after the ownership and size checks (see
 * pw_profile_load; a found profile's directory is checked too, as
 * pw_profile_find does); *text is malloc'd and NUL-terminated. */
int  pw_profile_read(const char *path, int source, char **text, size_t *len,
                     char *err, size_t errlen);
/* Parse bytes read from path, taking ownership of text (freed on error),
 * and read the warmup script it names (pw_profile_read_warmup). */
int  pw_profile_from_text(struct pw_profile *p, const char *path, int source,
                          char *text, size_t len, char *err, size_t errlen);
/* The two steps of pw_profile_from_text.  The warmup script is read once,
 * into p->warmup_text, after the checks of a found profile (the user's or
 * root's, not writable by group or others, in a directory that is the
 * user's or root's and that group and others cannot write); on failure p
 * is emptied and -1 returned with "PROFILE:LINE: warmup: ..." in err. */
int  pw_profile_parse_file(struct pw_profile *p, const char *path, int source,
                           char *text, size_t len, char *err, size_t errlen);
int  pw_profile_read_warmup(struct pw_profile *p, char *err, size_t errlen);

/* The identity of a zygote started with python3 options args[0..n) (see
 * pywarm-zygote's "--" arguments); id itself when n is 0. */
uint64_t pw_identity_args(uint64_t id, int n, const char *const *args);

/* The files of the zygote serving identity idhex: <dir>/<idhex><suffix>,
 * in the socket directory (socket, lock, notice socket, progress) or the
 * state directory (log).  These names are the only ones pywarm gives them. */
enum pw_zfile { PW_ZSOCK, PW_ZLOCK, PW_ZNOTICE, PW_ZPROGRESS, PW_ZLOG };
const char *pw_zfile_suffix(enum pw_zfile kind);
/* The path into out: 0, or -1 (ENAMETOOLONG) if it does not fit. */
int  pw_zfile(char *out, size_t outlen, const char *dir, const char *idhex, enum pw_zfile kind);

/* pywarm's directory under an XDG base directory: $<var>/pywarm when the
 * variable holds an absolute path, else $HOME/<default>/pywarm.  Returns 0,
 * or -1 with err ("trust store: neither XDG_DATA_HOME nor HOME is an
 * absolute path", "...: path too long"). */
enum pw_xdg { PW_XDG_CONFIG, PW_XDG_DATA, PW_XDG_STATE };
int  pw_xdg_dir(enum pw_xdg which, char *out, size_t outlen, char *err, size_t errlen);

/* The per-user socket directory: $XDG_RUNTIME_DIR/pywarm (when that is the
 * euid's or root's), else /tmp/pywarm-$UID.
 * Creates it (0700) if missing; refuses it unless it is a directory owned by
 * the euid with no group/other permission bits.  Returns 0, or -1 with a
 * message in err ("socket directory /x: owned by uid 5, not 0"). */
int  pw_sockdir(char *out, size_t outlen, int create, char *err, size_t errlen);

/* The per-user state directory for logs: $XDG_STATE_HOME/pywarm, else
 * $HOME/.local/state/pywarm.  Creates it (0700, parents as needed, never
 * inside another user's directory) and refuses it unless it is a directory
 * of the euid's (not a symbolic link) that group and others cannot write.
 * out holds the path whenever it could be formed, even on -1. */
int  pw_statedir(char *out, size_t outlen, int create, char *err, size_t errlen);
/* The same, returning the verified directory as an O_PATH fd for openat(). */
int  pw_statedir_open(char *out, size_t outlen, int create, char *err, size_t errlen);

/* Who may have made a directory pywarm reads from or writes into (see
 * pw_dir_check): by default only the euid, and neither group nor others may
 * write to it (a group-writable directory of the user's whose group is the
 * user's private group, named after the user with no other members, is
 * the user's alone and passes). */
#define PW_DIR_ROOT_OK   1   /* root may own it too */
#define PW_DIR_PRIVATE   2   /* no group or other permission bits at all */
#define PW_DIR_STICKY_OK 4   /* others may write if it is sticky (/tmp), for files checked as
                              * pw_private_openat does */
/* 0 if st is a directory that flags accept, else -1 with the reason
 * ("owned by uid 5, not 0", "mode 0777 lets group or others write to it"). */
int  pw_dir_check(const struct stat *st, int flags, char *why, size_t whylen);
/* Open directory path after pw_dir_check(flags), its last component not a
 * symbolic link; create 1 makes it if missing, 2 its parents too (each
 * 0700, only inside directories of the euid or root).  An O_PATH fd, or -1
 * with "WHAT PATH: reason" in err. */
int  pw_dir_open(const char *what, const char *path, int flags, int create,
                 char *err, size_t errlen);
/* The same making of missing directories (mkdir -p, each 0700, only inside
 * directories of the euid or root) without checking those that exist:
 * 0, or -1 with "cannot create WHAT PATH: reason" in err. */
int  pw_mkdir_p(const char *what, const char *path, char *err, size_t errlen);
/* openat(dfd, name) without following a symbolic link, with O_CLOEXEC and
 * O_NOCTTY (O_CREAT: mode 0600); kept only if it is a regular file owned by
 * the euid with one link.  dir names dfd in messages.  The fd, or -1 with
 * "refusing DIR/NAME: reason" or "cannot open DIR/NAME: reason" in err. */
int  pw_private_openat(int dfd, const char *dir, const char *name, int oflags,
                       char *err, size_t errlen);
/* fd moved to a number >= 3 (close-on-exec), the original closed, so that
 * it cannot stand in for a standard stream; fd itself when it is already
 * above 2 or negative; -1 if it cannot be moved. */
int  pw_fd_above_stdio(int fd);
/* Both: the file at absolute path, in its directory checked with dflags. */
int  pw_private_open(const char *what, const char *path, int dflags, int create, int oflags,
                     char *err, size_t errlen);


/* "dev:ino:mtime_sec.mtime_nsec:size" of the zygote binary at path, so that a
 * rebuilt or upgraded zygote gets a new identity.  0, or -1 with errno. */
int  pw_zygote_stamp(const char *path, char *out, size_t outlen);

#endif
