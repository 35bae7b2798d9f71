/* identity.c: which environment entries shape a zygote, and the 64-bit identity that names it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proto.h"

#define FNV_OFFSET  0xcbf29ce484222325ULL
#define FNV_PRIME   0x100000001b3ULL
#define ENV_STACK   128          /* identity entries sorted without malloc */

/* One identity entry of envp and its position there. */
struct env_ent {
	const char *s;
	size_t namelen;
	size_t pos;
};

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *b = data;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Feed a number as 8 little-endian bytes, the same on every host. */
static uint64_t feed_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return fnv(h, b, sizeof(b));
}

/* Feed one field: its length, then its bytes, so boundaries cannot shift. */
static uint64_t feed_field(uint64_t h, const void *data, size_t n)
{
	return fnv(feed_u64(h, n), data, n);
}

/* Environment variables that shape what a zygote computes at start-up or
 * what preloaded modules read at import (a trailing '*' matches a prefix):
 * the interpreter's own configuration, the locale and where the C library
 * finds locales and character set converters, the home directory (site's
 * user directory), the active venv, TLS set-up read by ssl, the dynamic
 * loader's configuration (which libraries load, and how), the C library's
 * start-up tunables (malloc's among them, read once before main), and the
 * thread counts numerical libraries fix when they load.  pywarm(1) and
 * pywarm.ini(5) list the same names (tests/e2e/test_envident.py). */
const char *const pw_identity_env[] = {
	"PYTHON*", "LANG", "LANGUAGE", "LC_*", "LOCPATH", "GCONV_PATH", "HOME", "VIRTUAL_ENV",
	"OPENSSL_CONF", "OPENSSL_MODULES", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"LD_*", "GLIBC_TUNABLES", "MALLOC_*", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
	"MKL_NUM_THREADS", NULL,
};

/* Does the name entry[0..n) match pattern (NAME, or PREFIX* for any name
 * starting with PREFIX, PREFIX itself included)? */
static int name_matches(const char *pat, const char *entry, size_t n)
{
	/* The first byte decides for nearly every pair (a launch asks this for
	 * each entry of its environment against each pattern). */
	if (pat[0] != '*' && (n == 0 || pat[0] != entry[0]))
		return 0;
	size_t k = strlen(pat);

	if (k > 0 && pat[k - 1] == '*')
		return n >= k - 1 && memcmp(entry, pat, k - 1) == 0;
	return k == n && memcmp(entry, pat, n) == 0;
}

/* Does entry's name match one of the NULL-terminated patterns? */
static int matches_any(const char *const *pats, const char *entry, size_t n)
{
	for (size_t i = 0; pats && pats[i] != NULL; i++)
		if (name_matches(pats[i], entry, n))
			return 1;
	return 0;
}

/* Length of entry's name, or 0 when it is not "NAME=value". */
static size_t entry_name_len(const char *entry)
{
	const char *eq = entry ? strchr(entry, '=') : NULL;

	return eq == NULL ? 0 : (size_t)(eq - entry);
}

/* Is environment entry "NAME=value" part of every zygote's identity? */
int pw_env_is_identity(const char *entry)
{
	size_t n = entry_name_len(entry);

	return n > 0 && matches_any(pw_identity_env, entry, n);
}

/* Is it part of the identity under profile p (built-in names plus [env] keys)? */
int pw_env_in_identity(const struct pw_profile *p, const char *entry)
{
	size_t n = entry_name_len(entry);

	if (n == 0)
		return 0;
	return matches_any(pw_identity_env, entry, n) ||
	       (p != NULL && matches_any((const char *const *)p->env_keys, entry, n));
}

/* qsort order: by name, then by position in envp (first occurrence first). */
static int cmp_name_pos(const void *a, const void *b)
{
	const struct env_ent *x = a, *y = b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	if (x->namelen != y->namelen)
		return x->namelen < y->namelen ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* qsort order: whole entries, bytewise. */
static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct env_ent *)a)->s, ((const struct env_ent *)b)->s);
}

/* Collect envp's identity entries into e, keep each name's first occurrence
 * (the one getenv() returns) and sort them bytewise.  Returns how many. */
static size_t identity_env(const struct pw_profile *p, char *const envp[],
                           struct env_ent *e)
{
	size_t i, n = 0, k = 0;

	for (i = 0; envp[i] != NULL; i++) {
		if (!pw_env_in_identity(p, envp[i]))
			continue;
		e[n].s = envp[i];
		e[n].namelen = (size_t)(strchr(envp[i], '=') - envp[i]);
		e[n].pos = i;
		n++;
	}
	qsort(e, n, sizeof(*e), cmp_name_pos);
	for (i = 0; i < n; i++)
		if (k == 0 || e[k - 1].namelen != e[i].namelen ||
		    memcmp(e[k - 1].s, e[i].s, e[i].namelen) != 0)
			e[k++] = e[i];
	qsort(e, k, sizeof(*e), cmp_entry);
	return k;
}

/* The zygote identity (see config.h).  Never 0: 0 means the environment
 * could not be sorted for lack of memory, and matches no zygote. */
uint64_t pw_identity(const struct pw_profile *p, const char *interpreter,
                     const char *zygote_stamp, char *const envp[])
{
	struct env_ent stackbuf[ENV_STACK], *e = stackbuf;
	const char *path = p && p->path ? p->path : "";
	uint64_t h = FNV_OFFSET;
	size_t i, n = 0;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		n += pw_env_in_identity(p, envp[i]) != 0;
	if (n > ENV_STACK && (e = malloc(n * sizeof(*e))) == NULL)
		return 0;
	n = n ? identity_env(p, envp, e) : 0;
	h = feed_u64(h, PW_PROTO_VERSION);
	h = feed_field(h, interpreter ? interpreter : "", interpreter ? strlen(interpreter) : 0);
	h = feed_field(h, zygote_stamp ? zygote_stamp : "", zygote_stamp ? strlen(zygote_stamp) : 0);
	h = feed_field(h, path, strlen(path));
	h = feed_field(h, p && p->text ? p->text : "", p && p->text ? p->len : 0);
	h = feed_u64(h, n);
	for (i = 0; i < n; i++)
		h = feed_field(h, e[i].s, strlen(e[i].s));
	if (e != stackbuf)
		free(e);
	return h != 0 ? h : 1;
}

/* Mix the interpreter options a zygote is started with into its identity;
 * no options leave it unchanged, so plain runs share the default zygote. */
uint64_t pw_identity_args(uint64_t id, int n, const char *const *args)
{
	uint64_t h = id;
	int i;

	if (n <= 0)
		return id;
	h = feed_u64(h, (uint64_t)n);
	for (i = 0; i < n; i++)
		h = feed_field(h, args[i], strlen(args[i]));
	return h != 0 ? h : 1;
}
