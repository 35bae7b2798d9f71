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

/* Is environment entry "NAME=value" part of a zygote's identity? */
int pw_env_is_identity(const char *entry)
{
	static const char *const exact[] = {
		"LANG", "LANGUAGE", "HOME", "VIRTUAL_ENV", "OPENSSL_CONF",
		"OPENSSL_MODULES", "SSL_CERT_FILE", "SSL_CERT_DIR", NULL,
	};
	const char *eq = entry ? strchr(entry, '=') : NULL;
	size_t n, i;

	if (eq == NULL || eq == entry)
		return 0;
	n = (size_t)(eq - entry);
	if (n >= 6 && memcmp(entry, "PYTHON", 6) == 0)
		return 1;
	if (n > 3 && memcmp(entry, "LC_", 3) == 0)
		return 1;
	for (i = 0; exact[i] != NULL; i++)
		if (strlen(exact[i]) == n && memcmp(entry, exact[i], n) == 0)
			return 1;
	return 0;
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
static size_t identity_env(char *const envp[], struct env_ent *e)
{
	size_t i, n = 0, k = 0;

	for (i = 0; envp[i] != NULL; i++) {
		if (!pw_env_is_identity(envp[i]))
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
		n += pw_env_is_identity(envp[i]) != 0;
	if (n > ENV_STACK && (e = malloc(n * sizeof(*e))) == NULL)
		return 0;
	n = n ? identity_env(envp, e) : 0;
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
