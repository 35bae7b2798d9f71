/* test_identity.c: unit tests for a zygote's identity: the reference value, every input, the environment. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "procfs.h"
#include "tree.h"
#include "unit.h"

/* ---- identity --------------------------------------------------------- */

TEST(env_is_identity)
{
	static const char *const yes[] = {
		"PYTHONPATH=/x", "PYTHONHASHSEED=0", "PYTHON=", "PYTHONNOUSERSITE=1", "LANG=C",
		"LANGUAGE=en", "LC_ALL=C", "LC_CTYPE=C.UTF-8", "LC_NUMERIC=de_DE", "HOME=/root",
		"VIRTUAL_ENV=/v", "OPENSSL_CONF=/c", "OPENSSL_MODULES=/m", "SSL_CERT_FILE=/f",
		"SSL_CERT_DIR=/d", "LC_=x", "LD_PRELOAD=/l.so", "OMP_NUM_THREADS=1",
		"LD_LIBRARY_PATH=/l", "LD_BIND_NOW=1", "MALLOC_PERTURB_=165", "MALLOC_ARENA_MAX=2",
		"MALLOC_CHECK_=3", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "LOCPATH=/l",
		"GCONV_PATH=/g", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", NULL };
	static const char *const no[] = {
		"PATH=/bin", "TERM=xterm", "PWD=/", "PYTHON", "LANG", "=PYTHONPATH", "", "LANGX=1",
		"LAN=1", "XLANG=1", "HOMEDIR=/", "PYTHO=1", "lang=C", "SSL_CERT=1",
		"VIRTUAL_ENV_PROMPT=x", "LDFLAGS=-s", "MALLOC=1", "GLIBC_TUNABLES_X=1", "LOCPATHS=/",
		"TZ=UTC", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (!pw_env_is_identity(yes[i]))
			unit_fail(__FILE__, __LINE__, "%s should be identity", yes[i]);
	for (i = 0; no[i] != NULL; i++)
		if (pw_env_is_identity(no[i]))
			unit_fail(__FILE__, __LINE__, "%s should not be identity", no[i]);
}

/* FNV-1a over n bytes, written out independently of identity.c. */
static uint64_t ref_fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Reference hash step: a number as 8 little-endian bytes. */
static uint64_t ref_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return ref_fnv(h, b, 8);
}

/* Reference hash step: a string field, its length first. */
static uint64_t ref_str(uint64_t h, const char *s)
{
	return ref_fnv(ref_u64(h, strlen(s)), s, strlen(s));
}

/* A profile that is only its bytes and path. */
static struct pw_profile mkprof(const char *path, const char *text)
{
	struct pw_profile p;

	memset(&p, 0, sizeof(p));
	p.path = (char *)path;
	p.text = (char *)text;
	p.len = strlen(text);
	return p;
}

TEST(identity_reference_value)
{
	struct pw_profile p = mkprof(NULL, "");
	char *env[] = { "PATH=/bin", NULL };
	char *env2[] = { "PYTHON=x", "TERM=t", "PYTHON1=y", "LANG=C", "LANG=D", NULL };
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	/* version, four empty fields, no env entries */
	h = ref_u64(h, PW_PROTO_VERSION);
	for (i = 0; i < 5; i++)
		h = ref_u64(h, 0);
	CHECK(pw_identity(&p, "", "", env) == h);

	/* every field, and the env entries in strcmp order ('1' < '='), first LANG only */
	p = mkprof("/p", "text");
	h = ref_u64(0xcbf29ce484222325ULL, PW_PROTO_VERSION);
	h = ref_str(ref_str(ref_str(ref_str(h, "/py"), "stamp"), "/p"), "text");
	h = ref_u64(h, 3);
	h = ref_str(ref_str(ref_str(h, "LANG=C"), "PYTHON1=y"), "PYTHON=x");
	CHECK(pw_identity(&p, "/py", "stamp", env2) == h);
}

TEST(identity_inputs)
{
	char *env[] = { "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h", "TERM=xterm", NULL };
	struct pw_profile p = mkprof("/w/.pywarm.ini", "[preload]\nmodules = os\n");
	struct pw_profile q;
	uint64_t base = pw_identity(&p, "/usr/bin/python3", "z1", env);

	CHECK(base != 0);
	CHECK(pw_identity(&p, "/usr/bin/python3", "z1", env) == base);
	CHECK(pw_identity(&p, "/usr/bin/python3.12", "z1", env) != base);
	CHECK(pw_identity(&p, "/usr/bin/python3", "z2", env) != base);
	q = mkprof("/x/.pywarm.ini", p.text);
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	q = mkprof(NULL, p.text);
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	q = mkprof(p.path, "[preload]\nmodules = re\n");
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	/* The length bounds the bytes hashed. */
	q = mkprof(p.path, p.text);
	q.len--;
	CHECK(pw_identity(&q, "/usr/bin/python3", "z1", env) != base);
	/* Field boundaries cannot move. */
	CHECK(pw_identity(&p, "ab", "c", env) != pw_identity(&p, "a", "bc", env));
	q = mkprof("/a", "b");
	p = mkprof("/ab", "");
	CHECK(pw_identity(&q, "i", "s", env) != pw_identity(&p, "i", "s", env));
	CHECK(pw_identity(&q, "i", "s", NULL) == pw_identity(&q, "i", "s", (char *[]){ NULL }));
}

TEST(identity_env)
{
	char *env[] = { "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h", "TERM=xterm", NULL };
	struct pw_profile p = mkprof(NULL, "x");
	uint64_t base = pw_identity(&p, "i", "s", env);
	static const char *const changes[] = {
		"LANG=C", "PYTHONPATH=/b", "HOME=/g", "LC_ALL=C", "LANGUAGE=fr", "VIRTUAL_ENV=/v",
		"OPENSSL_CONF=/c", "OPENSSL_MODULES=/m", "SSL_CERT_FILE=/f", "SSL_CERT_DIR=/d",
		"PYTHONDONTWRITEBYTECODE=1", "MALLOC_PERTURB_=1", "GLIBC_TUNABLES=glibc.malloc.check=3",
		"LOCPATH=/l", "GCONV_PATH=/g", "LD_BIND_NOW=1", NULL };
	size_t i;

	/* Identity entries, changed or added, change the hash. */
	for (i = 0; changes[i] != NULL; i++) {
		char *e2[] = { (char *)changes[i], "PATH=/bin", "LANG=C.UTF-8", "PYTHONPATH=/a",
		               "HOME=/h", "TERM=xterm", NULL };
		if (pw_identity(&p, "i", "s", e2) == base)
			unit_fail(__FILE__, __LINE__, "%s did not change the identity", changes[i]);
	}
	{
		char *e2[] = { "PATH=/usr/bin", "LANG=C.UTF-8", "PYTHONPATH=/a", "HOME=/h",
		               "TERM=dumb", "PWD=/tmp", "OLDPWD=/", "SHLVL=2", NULL };
		char *rev[] = { "TERM=xterm", "HOME=/h", "PYTHONPATH=/a", "LANG=C.UTF-8", "PATH=/bin", NULL };
		char *less[] = { "LANG=C.UTF-8", "PYTHONPATH=/a", NULL };
		CHECK(pw_identity(&p, "i", "s", e2) == base);
		CHECK(pw_identity(&p, "i", "s", rev) == base);
		CHECK(pw_identity(&p, "i", "s", less) != base);
	}
	{
		/* Only the first of a duplicated name counts, as getenv() sees it. */
		char *dup[] = { "LANG=a", "PYTHONX=1", "LANG=b", NULL };
		char *first[] = { "PYTHONX=1", "LANG=a", NULL };
		char *second[] = { "LANG=b", "PYTHONX=1", NULL };
		CHECK(pw_identity(&p, "i", "s", dup) == pw_identity(&p, "i", "s", first));
		CHECK(pw_identity(&p, "i", "s", dup) != pw_identity(&p, "i", "s", second));
	}
	{
		/* Names that sort differently from their entries ('1' < '='). */
		char *a[] = { "PYTHON=x", "PYTHON1=y", NULL };
		char *b[] = { "PYTHON1=y", "PYTHON=x", NULL };
		char *c[] = { "PYTHON=y", "PYTHON1=x", NULL };
		CHECK(pw_identity(&p, "i", "s", a) == pw_identity(&p, "i", "s", b));
		CHECK(pw_identity(&p, "i", "s", a) != pw_identity(&p, "i", "s", c));
	}
}

TEST(identity_many_env)
{
	enum { N = 300 };
	static char bufs[N][32];
	char *fwd[N + 2], *rev[N + 2];
	struct pw_profile p = mkprof(NULL, "");
	uint64_t h;
	int i;

	for (i = 0; i < N; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "PYTHONV%d=%d", i, i * 7);
		fwd[i] = bufs[i];
		rev[N - 1 - i] = bufs[i];
	}
	fwd[N] = rev[N] = "PATH=/x";
	fwd[N + 1] = rev[N + 1] = NULL;
	h = pw_identity(&p, "i", "s", fwd);
	CHECK(h != 0);
	CHECK(pw_identity(&p, "i", "s", rev) == h);
	fwd[N] = "PYTHONV0=other";       /* a later duplicate: ignored */
	CHECK(pw_identity(&p, "i", "s", fwd) == h);
	fwd[0] = "PYTHONV0=other";
	CHECK(pw_identity(&p, "i", "s", fwd) != h);
}

int main(void)
{
	if (tree_init("identity") < 0)
		return 2;
	RUN(env_is_identity);
	RUN(identity_reference_value);
	RUN(identity_inputs);
	RUN(identity_env);
	RUN(identity_many_env);
	tree_done();
	return unit_summary();
}
