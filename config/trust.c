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

/* Start a digest. */
static void sha_init(struct sha256 *s)
{
	static const uint32_t init[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memset(s, 0, sizeof(*s));
	memcpy(s->h, init, sizeof(init));
}

/* Pad, and write the digest as 64 lowercase hex digits. */
static void sha_final(struct sha256 *s, char out[65])
{
	unsigned char pad[72] = { 0x80 };
	uint64_t bits = s->len * 8;
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* The digest of data[0..n) as 64 lowercase hex digits. */
void pw_sha256_hex(const void *data, size_t n, char out[65])
{
	struct sha256 s;

	sha_init(&s);
	sha_update(&s, data, n);
	sha_final(&s, out);
}

/* Feed n as 8 bytes, then the n bytes: fields that cannot run together. */
static void sha_field(struct sha256 *s, const void *data, size_t n)
{
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	sha_update(s, len, sizeof(len));
	sha_update(s, data, n);
}

/* What trust approves for a profile file: its bytes, and (when it names
 * one) the warmup script's path and bytes, the one other file it makes
 * the zygote execute.  Without a warmup this is the SHA-256 of the
 * profile's bytes alone, as entries written before warmup scripts were
 * covered hold; with one, a framed digest of all three, so that editing
 * the script needs 'pywarmctl trust' again. */
void pw_trust_digest(const struct pw_profile *p, char out[65])
{
	static const char tag[] = "pywarm trust: profile, warmup path, warmup bytes\n";
	struct sha256 s;

	if (p->warmup == NULL) {
		pw_sha256_hex(p->text, p->len, out);
		return;
	}
	sha_init(&s);
	sha_update(&s, tag, sizeof(tag) - 1);
	sha_field(&s, p->text, p->len);
	sha_field(&s, p->warmup, strlen(p->warmup));
	sha_field(&s, p->warmup_text ? p->warmup_text : "", p->warmup_len);
	sha_final(&s, out);
}

/* ---- the store ------------------------------------------------------------ */

/* The trust store's path. */
int pw_trust_store_path(char *out, size_t outlen, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	if (pw_xdg_dir(PW_XDG_DATA, dir, sizeof(dir), err, errlen) < 0)
		return -1;
	if ((size_t)snprintf(out, outlen, "%s/" STORE_NAME, dir) >= outlen) {
		pw_seterr(err, errlen, "trust store: path too long");
		return -1;
	}
	return 0;
}

/* The store's directory, verified like the state directory (the user's,
 * not a symbolic link, not writable by group or others); with create, made
 * if missing.  An O_PATH fd; -1 with errno ENOENT when it does not exist
 * (and !create), else -1 with err. */
static int store_dir(char *dir, size_t dirlen, int create, char *err, size_t errlen)
{
	struct stat st;

	if (pw_xdg_dir(PW_XDG_DATA, dir, dirlen, err, errlen) < 0)
		return -1;
	if (!create && lstat(dir, &st) < 0 && errno == ENOENT)
		return -1;
	return pw_dir_open("trust store directory", dir, 0, create ? 2 : 0, err, errlen);
}

/* Read the whole store from directory dfd (missing: empty).  *text is
 * malloc'd and NUL-terminated.  -1 with err: cannot be read or too large;
 * -2 with err: refused (a symbolic link, another user's, writable by group
 * or others), so nothing in it counts. */
static int store_read(int dfd, const char *store, char **text, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = openat(dfd, STORE_NAME, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);

	*text = NULL;
	if (fd < 0 && errno == ENOENT)
		return (*text = calloc(1, 1)) ? 0 : -1;
	if (fd < 0 && errno == ELOOP) {
		pw_seterr(err, errlen, "trust store %s: is a symbolic link", store);
		return -2;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		pw_seterr(err, errlen, "cannot read trust store %s: %s", store, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pw_seterr(err, errlen, !S_ISREG(st.st_mode) ? "trust store %s: not a regular file" :
		          (st.st_mode & (S_IWGRP | S_IWOTH)) ? "trust store %s: writable by group or others"
		          : "trust store %s: owned by another user", store);
		close(fd);
		return -2;
	}
	if (st.st_size > (off_t)STORE_MAX) {
		pw_seterr(err, errlen, "trust store %s: larger than 4 MiB; fix or remove it", store);
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

/* Is path (absolute) trusted with this digest?  A store (or its directory)
 * that someone else could have written is ignored: nothing in it is
 * trusted, and err says why. */
int pw_trust_check_hash(const char *path, const char hash[65], char *err, size_t errlen)
{
	char dir[PATH_MAX], store[PATH_MAX + 16], *data;
	struct lookup k = { path, hash, PW_TRUST_NO };
	int dfd, r;

	dir[0] = '\0';
	pw_seterr(err, errlen, "%s", "");
	dfd = store_dir(dir, sizeof(dir), 0, err, errlen);
	if (dfd < 0 && dir[0] != '/')
		return -1;                   /* neither XDG_DATA_HOME nor HOME */
	if (dfd < 0)
		return PW_TRUST_NO;          /* missing (err ""), or ignored (err says why) */
	snprintf(store, sizeof(store), "%s/" STORE_NAME, dir);
	r = store_read(dfd, store, &data, err, errlen);
	close(dfd);
	if (r == -2)
		return PW_TRUST_NO;
	if (r < 0)
		return -1;
	pw_seterr(err, errlen, "%s", "");
	r = store_walk(store, data, &k, lookup_one, err, errlen);
	free(data);
	return r < 0 ? -1 : k.state;
}

/* Is the profile at path (absolute), with these bytes, trusted? */
int pw_trust_check(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char hash[65];

	pw_sha256_hex(text, len, hash);
	return pw_trust_check_hash(path, hash, err, errlen);
}

/* Is the loaded profile p trusted, warmup script included? */
int pw_trust_check_profile(const struct pw_profile *p, char *err, size_t errlen)
{
	char hash[65];

	pw_trust_digest(p, hash);
	return pw_trust_check_hash(p->path, hash, err, errlen);
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

/* Write the new store to a temporary file in dfd, fsync it, rename it over
 * the old one and fsync the directory: a crash leaves the old store or the
 * new.  Every name is opened relative to the verified directory, never
 * through a symbolic link. */
static int store_replace(int dfd, const char *dir, const char *store, const char *data,
                         const char *path, const char *add_hash, int *dropped,
                         char *err, size_t errlen)
{
	char tmp[64];
	struct rewrite w = { path, NULL, 0 };
	int fd, sfd, r;

	snprintf(tmp, sizeof(tmp), STORE_NAME ".tmp.%ld", (long)getpid());
	unlinkat(dfd, tmp, 0);           /* a leftover of a crashed process of this pid */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (w.out = fdopen(fd, "w")) == NULL) {
		pw_seterr(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fputs(STORE_HEADER, w.out);
	r = store_walk(store, data, &w, copy_other, err, errlen);
	if (r == 0 && add_hash != NULL)
		fprintf(w.out, "%s  %s\n", add_hash, path);
	if (r == 0 && (fflush(w.out) != 0 || fsync(fd) < 0)) {
		pw_seterr(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
		r = -1;
	}
	if (fclose(w.out) != 0 && r == 0) {
		pw_seterr(err, errlen, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
		r = -1;
	}
	if (r == 0 && renameat(dfd, tmp, dfd, STORE_NAME) < 0) {
		pw_seterr(err, errlen, "cannot replace %s: %s", store, strerror(errno));
		r = -1;
	}
	if (r < 0) {
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	if ((sfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(sfd);
		close(sfd);
	}
	if (dropped)
		*dropped = w.dropped;
	return 0;
}

/* Read-modify-write the store under its lock: drop path's entries, and with
 * hash add one.  *dropped counts the entries removed.  A store or
 * directory that someone else could have written is an error here: it is
 * never silently replaced. */
static int store_update(const char *path, const char *hash, int *dropped,
                        char *err, size_t errlen)
{
	char dir[PATH_MAX], store[PATH_MAX + 16], *data = NULL;
	int dfd, lfd, r = -1;

	if ((dfd = store_dir(dir, sizeof(dir), 1, err, errlen)) < 0)
		return -1;
	snprintf(store, sizeof(store), "%s/" STORE_NAME, dir);
	lfd = pw_private_openat(dfd, dir, STORE_NAME ".lock", O_RDWR | O_CREAT, err, errlen);
	if (lfd >= 0 && flock(lfd, LOCK_EX) < 0) {
		pw_seterr(err, errlen, "cannot lock %s/" STORE_NAME ".lock: %s", dir, strerror(errno));
		close(lfd);
		lfd = -1;
	}
	if (lfd < 0) {
		close(dfd);
		return -1;
	}
	r = store_read(dfd, store, &data, err, errlen);
	if (r == -2 && strlen(err) + 20 < errlen)
		strcat(err, "; fix or remove it");
	if (r == 0)
		r = store_replace(dfd, dir, store, data, path, hash, dropped, err, errlen);
	free(data);
	close(lfd);
	close(dfd);
	return r < 0 ? -1 : 0;
}

/* Record path (absolute) with this digest, replacing any older entry. */
int pw_trust_add_hash(const char *path, const char hash[65], char *err, size_t errlen)
{
	if (path[0] != '/' || strchr(path, '\n') != NULL) {
		pw_seterr(err, errlen, "%s: cannot trust a path that is relative or holds a newline", path);
		return -1;
	}
	return store_update(path, hash, NULL, err, errlen);
}

/* Trust the profile at path (absolute) with these bytes, replacing any older entry. */
int pw_trust_add(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char hash[65];

	pw_sha256_hex(text, len, hash);
	return pw_trust_add_hash(path, hash, err, errlen);
}

/* Forget every entry for path; *removed says how many there were. */
int pw_trust_remove(const char *path, int *removed, char *err, size_t errlen)
{
	*removed = 0;
	return store_update(path, NULL, removed, err, errlen);
}

/* The result of a project profile that is not trusted: *p empty, err. */
static int untrusted(struct pw_profile *p, const char *path, int r, const char *why,
                     char *err, size_t errlen)
{
	pw_profile_free(p);
	if (r < 0) {
		pw_seterr(err, errlen, "%s", why);
		return -1;
	}
	pw_seterr(err, errlen, "%s is %s; 'pywarmctl trust %s' to use it%s%s%s", path,
	          r == PW_TRUST_CHANGED ? "changed since it was trusted" : "not trusted", path,
	          why[0] ? " (" : "", why, why[0] ? ")" : "");
	return r;
}

/* Load the profile at path for use (see config.h).  The problems of a
 * project profile are reported only once the user has trusted it: before
 * that it is simply not used, as before it was parsed. */
int pw_profile_load_trusted(struct pw_profile *p, const char *path, int source,
                            char digest[65], char *err, size_t errlen)
{
	char *text, hash[65], why[PATH_MAX + 128], perr[PATH_MAX + 256];
	int project = source == PW_SRC_PROJECT, r;
	size_t len;

	memset(p, 0, sizeof(*p));
	if (pw_profile_read(path, source, &text, &len, err, errlen) < 0)
		return -1;
	pw_sha256_hex(text, len, hash);
	if (digest != NULL)
		memcpy(digest, hash, 65);
	if (pw_profile_parse_file(p, path, source, text, len, perr, sizeof(perr)) < 0) {
		/* Not these bytes: an untrusted profile, whatever its problem. */
		if (project && (r = pw_trust_check_hash(path, hash, why, sizeof(why))) != PW_TRUST_YES)
			return untrusted(p, path, r, why, err, errlen);
		pw_seterr(err, errlen, "%s", perr);
		return -1;
	}
	if (pw_profile_read_warmup(p, perr, sizeof(perr)) < 0) {
		/* Never trusted at all: not used, and nothing said. */
		if (project && (r = pw_trust_check_hash(path, hash, why, sizeof(why))) == PW_TRUST_NO)
			return untrusted(p, path, r, why, err, errlen);
		pw_seterr(err, errlen, "%s", perr);
		return -1;
	}
	if (!project)
		return 0;
	/* The digest of the very bytes held: the profile's and the warmup
	 * script's, read once; the zygote executes no other. */
	pw_trust_digest(p, hash);
	if (digest != NULL)
		memcpy(digest, hash, 65);
	r = pw_trust_check_hash(path, hash, why, sizeof(why));
	if (r == PW_TRUST_YES)
		return 0;
	return untrusted(p, path, r, why, err, errlen);
}

/* Should the "not trusted" hint for this profile version be shown?  Records
 * it in the state directory so that each version is hinted once. */
int pw_trust_hint_once(const char *path, const char *text, size_t len)
{
	char dir[PATH_MAX], name[40], hash[65], *key;
	struct stat st;
	int sfd, hfd, fd;

	if ((key = malloc(strlen(path) + 1 + len)) == NULL)
		return 0;
	memcpy(key, path, strlen(path) + 1);
	memcpy(key + strlen(path) + 1, text, len);
	pw_sha256_hex(key, strlen(path) + 1 + len, hash);
	free(key);
	if ((sfd = pw_statedir_open(dir, sizeof(dir), 1, NULL, 0)) < 0)
		return 0;
	if (mkdirat(sfd, HINT_DIR, 0700) < 0 && errno != EEXIST) {
		close(sfd);
		return 0;
	}
	hfd = openat(sfd, HINT_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(sfd);
	if (hfd < 0)
		return 0;
	if (fstat(hfd, &st) < 0 || pw_dir_check(&st, 0, NULL, 0) < 0) {
		close(hfd);
		return 0;
	}
	snprintf(name, sizeof(name), "%.32s", hash);
	fd = openat(hfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	close(hfd);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
