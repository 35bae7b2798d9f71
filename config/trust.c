/* trust.c: which project profiles the user approved (path + SHA-256 of the content), and the once-per-version hint. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define STORE_NAME   "trusted"          /* under $XDG_DATA_HOME/pywarm */
#define STORE_MAX    (4u << 20)         /* bytes; a larger store is reported as corrupt */
#define STORE_HEADER "# pywarm trusted profiles: SHA-256 of the content, two spaces, absolute path\n"
#define HINT_DIR     "hinted"           /* under the state directory */


/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------ */

struct sha256 {
	uint32_t h[8];
	uint64_t len;              /* bytes hashed so far */
	unsigned char buf[64];
	size_t used;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Mix one 64-byte block into the state. */
static void sha_block(struct sha256 *s, const unsigned char *b)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, s->h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
		t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		s->h[i] += v[i];
}

/* Feed n bytes. */
static void sha_update(struct sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->len += n;
	while (n > 0) {
		size_t k = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, k);
		s->used += k;
		p += k;
		n -= k;
		if (s->used == 64) {
			sha_block(s, s->buf);
			s->used = 0;
		}
	}
}

/* The digest of data[0..n) as 64 lowercase hex digits. */
void pw_sha256_hex(const void *data, size_t n, char out[65])
{
	static const uint32_t init[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	struct sha256 s = { .used = 0 };
	unsigned char pad[72] = { 0x80 };
	uint64_t bits;
	size_t padlen;

	memcpy(s.h, init, sizeof(init));
	sha_update(&s, data, n);
	bits = s.len * 8;
	padlen = (s.used < 56 ? 56 : 120) - s.used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(&s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s.h[i]);
}

/* ---- the store ------------------------------------------------------------ */

/* $XDG_DATA_HOME/pywarm (else ~/.local/share/pywarm) into out. */
static int data_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *base = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;

	if (base != NULL && base[0] == '/')
		n = snprintf(out, outlen, "%s/pywarm", base);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, outlen, "%s/.local/share/pywarm", home);
	else {
		pw_seterr(err, errlen, "trust store: neither XDG_DATA_HOME nor HOME is an absolute path");
		return -1;
	}
	if (n < 0 || (size_t)n >= outlen) {
		pw_seterr(err, errlen, "trust store: path too long");
		return -1;
	}
	return 0;
}

/* The trust store's path. */
int pw_trust_store_path(char *out, size_t outlen, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	if (data_dir(dir, sizeof(dir), err, errlen) < 0)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s/" STORE_NAME, dir) >= outlen) {
		pw_seterr(err, errlen, "trust store: path too long");
		return -1;
	}
	return 0;
}

/* Read the whole store (missing: empty).  *text is malloc'd and NUL-terminated. */
static int store_read(const char *store, char **text, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(store, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*text = NULL;
	if (fd < 0 && errno == ENOENT)
		return (*text = calloc(1, 1)) ? 0 : -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		pw_seterr(err, errlen, "cannot read trust store %s: %s", store, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)STORE_MAX ||
	    (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pw_seterr(err, errlen, "trust store %s: not a regular file of yours, closed to "
		       "group and others, under 4 MiB; fix or remove it", store);
		close(fd);
		return -1;
	}
	if ((*text = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		pw_seterr(err, errlen, "trust store %s: out of memory", store);
		return -1;
	}
	while (len < (size_t)st.st_size &&
	       ((n = read(fd, *text + len, (size_t)st.st_size - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	(*text)[len] = '\0';
	return 0;
}

/* Is line (without its newline) "<64 hex>  /path"?  Sets *path. */
static int parse_entry(const char *line, size_t n, const char **path)
{
	for (int i = 0; i < 64; i++)
		if ((size_t)i >= n || !strchr("0123456789abcdef", line[i]) || line[i] == '\0')
			return 0;
	if (n < 68 || line[64] != ' ' || line[65] != ' ' || line[66] != '/')
		return 0;
	if (memchr(line, '\0', n) != NULL)
		return 0;
	*path = line + 66;
	return 1;
}

/* Walk the store's lines: each entry goes to fn (which may stop the walk by
 * returning nonzero).  A malformed line is an error naming it. */
static int store_walk(const char *store, const char *text, void *arg,
                      int (*fn)(void *arg, const char *line, size_t n, const char *path),
                      char *err, size_t errlen)
{
	const char *line = text, *nl, *path;
	int lineno = 0, r;

	for (; *line; line = nl + 1) {
		size_t n;
		lineno++;
		nl = strchr(line, '\n');
		if (nl == NULL) {
			pw_seterr(err, errlen, "trust store %s:%d: corrupt (no newline at the end); "
			       "fix or remove it", store, lineno);
			return -1;
		}
		n = (size_t)(nl - line);
		if (n == 0 || line[0] == '#')
			continue;
		if (!parse_entry(line, n, &path)) {
			pw_seterr(err, errlen, "trust store %s:%d: corrupt entry; fix or remove it",
			       store, lineno);
			return -1;
		}
		if ((r = fn(arg, line, n, path)) != 0)
			return r;
	}
	return 0;
}

/* What a lookup is after, and what it found. */
struct lookup {
	const char *path, *hash;
	int state;                 /* PW_TRUST_* */
};

/* store_walk callback: match path, then hash. */
static int lookup_one(void *arg, const char *line, size_t n, const char *path)
{
	struct lookup *k = arg;
	size_t plen = n - (size_t)(path - line);

	if (strlen(k->path) != plen || memcmp(path, k->path, plen) != 0)
		return 0;
	k->state = memcmp(line, k->hash, 64) == 0 ? PW_TRUST_YES : PW_TRUST_CHANGED;
	return k->state == PW_TRUST_YES;
}

/* Is the profile at path (absolute), with these bytes, trusted? */
int pw_trust_check(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char store[PATH_MAX], hash[65], *data;
	struct lookup k = { path, hash, PW_TRUST_NO };
	int r;

	if (pw_trust_store_path(store, sizeof(store), err, errlen) < 0 ||
	    store_read(store, &data, err, errlen) < 0)
		return -1;
	pw_sha256_hex(text, len, hash);
	r = store_walk(store, data, &k, lookup_one, err, errlen);
	free(data);
	return r < 0 ? -1 : k.state;
}

/* The rewritten store being built: every entry except those for path. */
struct rewrite {
	const char *path;
	FILE *out;
	int dropped;
};

/* store_walk callback: copy an entry unless it is for r->path. */
static int copy_other(void *arg, const char *line, size_t n, const char *path)
{
	struct rewrite *w = arg;
	size_t plen = n - (size_t)(path - line);

	if (strlen(w->path) == plen && memcmp(path, w->path, plen) == 0) {
		w->dropped++;
		return 0;
	}
	fprintf(w->out, "%.*s\n", (int)n, line);
	return 0;
}

/* mkdir -p dir (0700 for what is made). */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *s = buf + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
			pw_seterr(err, errlen, "cannot create %s: %s", buf, strerror(errno));
			return -1;
		}
		*s = c;
		if (c == '\0')
			return 0;
	}
}

/* Write the new store to a temporary file, fsync it, rename it over the old
 * one and fsync the directory: a crash leaves the old store or the new. */
static int store_replace(const char *dir, const char *store, const char *data,
                         const char *path, const char *add_hash, int *dropped,
                         char *err, size_t errlen)
{
	char tmp[PATH_MAX + 32];
	struct rewrite w = { path, NULL, 0 };
	int fd, dfd, r;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", store, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (w.out = fdopen(fd, "w")) == NULL) {
		pw_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fputs(STORE_HEADER, w.out);
	r = store_walk(store, data, &w, copy_other, err, errlen);
	if (r == 0 && add_hash != NULL)
		fprintf(w.out, "%s  %s\n", add_hash, path);
	if (r == 0 && (fflush(w.out) != 0 || fsync(fd) < 0)) {
		pw_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		r = -1;
	}
	if (fclose(w.out) != 0 && r == 0) {
		pw_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		r = -1;
	}
	if (r == 0 && rename(tmp, store) < 0) {
		pw_seterr(err, errlen, "cannot replace %s: %s", store, strerror(errno));
		r = -1;
	}
	if (r < 0) {
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (dropped)
		*dropped = w.dropped;
	return 0;
}

/* Read-modify-write the store under its lock: drop path's entries, and with
 * hash add one.  *dropped counts the entries removed. */
static int store_update(const char *path, const char *hash, int *dropped,
                        char *err, size_t errlen)
{
	char dir[PATH_MAX], store[PATH_MAX], lock[PATH_MAX + 8], *data = NULL;
	int lfd, r = -1;

	if (data_dir(dir, sizeof(dir), err, errlen) < 0 || make_dirs(dir, err, errlen) < 0 ||
	    pw_trust_store_path(store, sizeof(store), err, errlen) < 0)
		return -1;
	snprintf(lock, sizeof(lock), "%s.lock", store);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		pw_seterr(err, errlen, "cannot lock %s: %s", lock, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	if (store_read(store, &data, err, errlen) == 0)
		r = store_replace(dir, store, data, path, hash, dropped, err, errlen);
	free(data);
	close(lfd);
	return r;
}

/* Trust the profile at path (absolute) with these bytes, replacing any older entry. */
int pw_trust_add(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char hash[65];

	if (path[0] != '/' || strchr(path, '\n') != NULL) {
		pw_seterr(err, errlen, "%s: cannot trust a path that is relative or holds a newline", path);
		return -1;
	}
	pw_sha256_hex(text, len, hash);
	return store_update(path, hash, NULL, err, errlen);
}

/* Forget every entry for path; *removed says how many there were. */
int pw_trust_remove(const char *path, int *removed, char *err, size_t errlen)
{
	*removed = 0;
	return store_update(path, NULL, removed, err, errlen);
}

/* Should the "not trusted" hint for this profile version be shown?  Records
 * it in the state directory so that each version is hinted once. */
int pw_trust_hint_once(const char *path, const char *text, size_t len)
{
	char dir[PATH_MAX], file[PATH_MAX + 80], hash[65], *key;
	int fd;

	if (pw_statedir(dir, sizeof(dir), 1, NULL, 0) < 0)
		return 0;
	if ((key = malloc(strlen(path) + 1 + len)) == NULL)
		return 0;
	memcpy(key, path, strlen(path) + 1);
	memcpy(key + strlen(path) + 1, text, len);
	pw_sha256_hex(key, strlen(path) + 1 + len, hash);
	free(key);
	snprintf(file, sizeof(file), "%s/" HINT_DIR, dir);
	if (mkdir(file, 0700) < 0 && errno != EEXIST)
		return 0;
	snprintf(file, sizeof(file), "%s/" HINT_DIR "/%.32s", dir, hash);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
