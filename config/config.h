/* config.h: profile discovery and parsing, zygote identity and the socket directory, shared by all three binaries. */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define PW_PROFILE_FILE   ".pywarm.ini"
#define PW_IDLE_DEFAULT   1800          /* seconds: [zygote] idle_timeout */

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
	long idle_timeout;        /* [zygote] idle_timeout in seconds; 0 = never */
};

/* Find which profile applies in directory cwd (absolute).  Fills *path with a
 * malloc'd absolute path (NULL for the built-in default) and *source.
 * Returns 0, or -1 with a one-line message in err. */
int  pw_profile_find(const char *cwd, char **path, int *source,
                     char *err, size_t errlen);

/* Load and parse a profile file (path NULL: the built-in default).
 * Returns 0, or -1 with "FILE:LINE: problem" (or "FILE: problem") in err;
 * *p is then left empty and needs no pw_profile_free(). */
int  pw_profile_load(struct pw_profile *p, const char *path, int source,
                     char *err, size_t errlen);
/* Same, from bytes already in memory (for tests and fuzzing); name is used in messages. */
int  pw_profile_parse(struct pw_profile *p, const char *name, const char *text,
                      size_t len, char *err, size_t errlen);
void pw_profile_free(struct pw_profile *p);
const char *pw_profile_source_name(int source);

/* The built-in default profile text. */
extern const char pw_builtin_profile[];

/* Is environment entry "NAME=value" part of a zygote's identity?  (PYTHON*,
 * LANG, LANGUAGE, LC_*, HOME, VIRTUAL_ENV, OPENSSL_CONF, OPENSSL_MODULES, SSL_CERT_FILE,
 * SSL_CERT_DIR.) */
int  pw_env_is_identity(const char *entry);

/* 64-bit identity of a zygote: FNV-1a over the protocol version, the
 * interpreter path, the zygote stamp (which binary), the profile's path and
 * bytes, and every identity entry of envp in sorted order. */
uint64_t pw_identity(const struct pw_profile *p, const char *interpreter,
                     const char *zygote_stamp, char *const envp[]);

/* The per-user socket directory: $XDG_RUNTIME_DIR/pywarm, else /tmp/pywarm-$UID.
 * Creates it (0700) if missing; refuses it unless it is a directory owned by
 * the euid with no group/other permission bits.  Returns 0, or -1 with a
 * message in err ("socket directory /x: owned by uid 5, not 0"). */
int  pw_sockdir(char *out, size_t outlen, int create, char *err, size_t errlen);

/* The per-user state directory for logs: $XDG_STATE_HOME/pywarm, else
 * $HOME/.local/state/pywarm.  Creates it (0700, parents as needed). */
int  pw_statedir(char *out, size_t outlen, int create, char *err, size_t errlen);

/* "dev:ino:mtime_sec.mtime_nsec:size" of the zygote binary at path, so that a
 * rebuilt or upgraded zygote gets a new identity.  0, or -1 with errno. */
int  pw_zygote_stamp(const char *path, char *out, size_t outlen);

#endif
