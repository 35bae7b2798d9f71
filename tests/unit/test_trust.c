/* test_trust.c: unit tests for the trust store: SHA-256, lookups, atomic rewrites, corrupt stores. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char root[64];

TEST(sha256_vectors)
{
	char hex[65], *big;

	pw_sha256_hex("", 0, hex);
	CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	pw_sha256_hex("abc", 3, hex);
	CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	pw_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	CHECK_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	big = malloc(1000000);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, 'a', 1000000);
	pw_sha256_hex(big, 1000000, hex);
	CHECK_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(big);
}

TEST(trust_add_check_remove)
{
	char err[512] = "", store[512];
	int removed = -1;

	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "x", 1, err, sizeof(err)), PW_TRUST_NO);
	CHECK_INTEQ(pw_trust_add("/p/.pywarm.ini", "x", 1, err, sizeof(err)), 0);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), 0);
	CHECK_STREQ(err, "");
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "x", 1, err, sizeof(err)), PW_TRUST_YES);
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "z", 1, err, sizeof(err)), PW_TRUST_CHANGED);
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.inix", "x", 1, err, sizeof(err)), PW_TRUST_NO);
	/* Re-trusting replaces the old entry. */
	CHECK_INTEQ(pw_trust_add("/p/.pywarm.ini", "z", 1, err, sizeof(err)), 0);
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "x", 1, err, sizeof(err)), PW_TRUST_CHANGED);
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "z", 1, err, sizeof(err)), PW_TRUST_YES);
	CHECK_INTEQ(pw_trust_remove("/p/.pywarm.ini", &removed, err, sizeof(err)), 0);
	CHECK_INTEQ(removed, 1);
	CHECK_INTEQ(pw_trust_check("/p/.pywarm.ini", "z", 1, err, sizeof(err)), PW_TRUST_NO);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), PW_TRUST_YES);
	CHECK_INTEQ(pw_trust_store_path(store, sizeof(store), err, sizeof(err)), 0);
	CHECK(strstr(unit_slurp(store), "  /q/.pywarm.ini\n") != NULL);
	CHECK(strstr(unit_slurp(store), "/p/.pywarm.ini") == NULL);
	/* Relative paths and newlines are refused. */
	CHECK_INTEQ(pw_trust_add("rel.ini", "x", 1, err, sizeof(err)), -1);
	CHECK_INTEQ(pw_trust_add("/a\nb", "x", 1, err, sizeof(err)), -1);
}

TEST(corrupt_store_reported_and_kept)
{
	char err[512] = "", store[512];
	const char *junk = "0123  not a hash\n";
	int fd;

	CHECK_INTEQ(pw_trust_store_path(store, sizeof(store), err, sizeof(err)), 0);
	fd = open(store, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, junk, strlen(junk)) == (ssize_t)strlen(junk));
	close(fd);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), -1);
	CHECK(strstr(err, ":1: corrupt entry") != NULL);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), -1);
	CHECK_STREQ(unit_slurp(store), junk);
	/* A store others may write counts for nothing (ignored, saying why),
	 * and is never replaced by trust. */
	CHECK(chmod(store, 0622) == 0);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), PW_TRUST_NO);
	CHECK(strstr(err, "writable by group or others") != NULL);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), -1);
	CHECK(strstr(err, "fix or remove it") != NULL);
	CHECK_STREQ(unit_slurp(store), junk);
	unlink(store);
}

TEST(store_never_through_a_symlink)
{
	char err[512] = "", store[512], other[600], dir[600];
	int fd;

	CHECK_INTEQ(pw_trust_store_path(store, sizeof(store), err, sizeof(err)), 0);
	/* A trusted entry in a file the store is a symbolic link to: ignored. */
	snprintf(other, sizeof(other), "%s/elsewhere", root);
	fd = open(other, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	unlink(store);
	CHECK(symlink(other, store) == 0);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), PW_TRUST_NO);
	CHECK(strstr(err, "is a symbolic link") != NULL);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), -1);
	CHECK_STREQ(unit_slurp(other), "");
	unlink(store);
	/* The store's directory may not be writable by others either. */
	snprintf(dir, sizeof(dir), "%s", store);
	*strrchr(dir, '/') = '\0';
	CHECK(chmod(dir, 0777) == 0);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), PW_TRUST_NO);
	CHECK(strstr(err, "lets group or others write") != NULL);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), -1);
	CHECK(chmod(dir, 0700) == 0);
	CHECK_INTEQ(pw_trust_add("/q/.pywarm.ini", "y", 1, err, sizeof(err)), 0);
	CHECK_INTEQ(pw_trust_check("/q/.pywarm.ini", "y", 1, err, sizeof(err)), PW_TRUST_YES);
	CHECK_STREQ(err, "");
	unlink(store);
}

TEST(digest_covers_the_warmup_script)
{
	struct pw_profile p;
	char a[65], b[65], c[65];

	memset(&p, 0, sizeof(p));
	p.text = (char *)"[preload]\n";
	p.len = strlen(p.text);
	pw_trust_digest(&p, a);
	pw_sha256_hex(p.text, p.len, b);
	CHECK_STREQ(a, b);              /* no warmup: entries of older versions still hold */
	p.warmup = (char *)"/p/warm.py";
	p.warmup_text = (char *)"x = 1\n";
	p.warmup_len = 6;
	pw_trust_digest(&p, b);
	CHECK(strcmp(a, b) != 0);
	p.warmup_text = (char *)"x = 2\n";
	pw_trust_digest(&p, c);
	CHECK(strcmp(b, c) != 0);
	p.warmup = (char *)"/p/warm2.py";
	pw_trust_digest(&p, a);
	CHECK(strcmp(a, c) != 0);
}

TEST(hint_once_per_version)
{
	CHECK_INTEQ(pw_trust_hint_once("/p/.pywarm.ini", "v1", 2), 1);
	CHECK_INTEQ(pw_trust_hint_once("/p/.pywarm.ini", "v1", 2), 0);
	CHECK_INTEQ(pw_trust_hint_once("/p/.pywarm.ini", "v2", 2), 1);
	CHECK_INTEQ(pw_trust_hint_once("/r/.pywarm.ini", "v1", 2), 1);
}

/* Remove one entry during a depth-first walk. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	int rc;

	char dir[128];

	snprintf(root, sizeof(root), "/tmp/pywarm-unit-trust-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/data", root);
	setenv("XDG_DATA_HOME", dir, 1);
	snprintf(dir, sizeof(dir), "%s/state", root);
	setenv("XDG_STATE_HOME", dir, 1);
	RUN(sha256_vectors);
	RUN(trust_add_check_remove);
	RUN(corrupt_store_reported_and_kept);
	RUN(store_never_through_a_symlink);
	RUN(digest_covers_the_warmup_script);
	RUN(hint_once_per_version);
	rc = unit_summary();
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
