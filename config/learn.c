/* learn.c: the summary of what warm runs imported beyond their zygote's preload: its text format, merging a run's report, the file in the state directory. */
#include "learn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "# pywarm imports 1\n"
#define NUM_MAX 0xffffffffffffull       /* counters are clipped here */

/* Parse a decimal number of at most 15 digits from *s (advanced past it
 * and one following space or end of line); -1 if there is none. */
static int take_num(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int digits = 0;

	while (p < end && *p >= '0' && *p <= '9' && digits < 15) {
		v = v * 10 + (uint64_t)(*p++ - '0');
		digits++;
	}
	if (digits == 0 || (p < end && *p != ' ' && *p != ','))
		return -1;
	*out = v;
	*s = p;
	return 0;
}

/* One line "NAME RUNS TOTAL_US FIRST LAST S1,S2,..." into e; 0 or -1. */
static int parse_line(struct pw_learn_ent *e, const char *s, const char *end)
{
	const char *sp = memchr(s, ' ', (size_t)(end - s));
	uint64_t v[4], x;

	memset(e, 0, sizeof(*e));
	if (sp == NULL || sp - s > PW_LEARN_NAME_MAX || !pw_module_name_valid(s, (size_t)(sp - s)))
		return -1;
	memcpy(e->name, s, (size_t)(sp - s));
	s = sp;
	for (int i = 0; i < 4; i++) {
		if (s >= end || *s != ' ')
			return -1;
		s++;
		if (take_num(&s, end, &v[i]) < 0)
			return -1;
	}
	if (v[0] == 0 || v[1] > NUM_MAX || v[2] > v[3])
		return -1;
	e->runs = v[0];
	e->total_us = v[1];
	e->first = (int64_t)v[2];
	e->last = (int64_t)v[3];
	if (s >= end || *s != ' ')
		return -1;
	do {
		s++;
		if (take_num(&s, end, &x) < 0 || x > PW_LEARN_US_MAX || e->nsample == PW_LEARN_SAMPLES)
			return -1;
		e->sample[e->nsample++] = (uint32_t)x;
	} while (s < end && *s == ',');
	return s == end ? 0 : -1;
}

int pw_learn_parse(struct pw_learn *l, const char *text, size_t len)
{
	const char *s = text, *end = text + len;

	l->n = 0;
	if (len < sizeof(HEADER) - 1 || memcmp(text, HEADER, sizeof(HEADER) - 1) != 0)
		return len == 0 ? 0 : -1;
	s += sizeof(HEADER) - 1;
	while (s < end && l->n < PW_LEARN_MAX) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl ? nl : end;
		struct pw_learn_ent *e = &l->e[l->n];
		if (parse_line(e, s, eol) == 0 && pw_learn_find(l, e->name) == NULL)
			l->n++;
		s = nl ? nl + 1 : end;
	}
	return (int)l->n;
}

int pw_learn_format(const struct pw_learn *l, char *buf, size_t cap)
{
	size_t used = 0;
	int k = snprintf(buf, cap, "%s", HEADER);

	if (k < 0 || (size_t)k >= cap)
		return -1;
	used = (size_t)k;
	for (size_t i = 0; i < l->n; i++) {
		const struct pw_learn_ent *e = &l->e[i];
		k = snprintf(buf + used, cap - used, "%s %llu %llu %lld %lld", e->name,
		             (unsigned long long)e->runs, (unsigned long long)e->total_us,
		             (long long)e->first, (long long)e->last);
		if (k < 0 || (size_t)k >= cap - used)
			return -1;
		used += (size_t)k;
		for (uint32_t j = 0; j < e->nsample; j++) {
			k = snprintf(buf + used, cap - used, "%c%u", j ? ',' : ' ', e->sample[j]);
			if (k < 0 || (size_t)k >= cap - used)
				return -1;
			used += (size_t)k;
		}
		if (e->nsample == 0) {
			k = snprintf(buf + used, cap - used, " 0");
			if (k < 0 || (size_t)k >= cap - used)
				return -1;
			used += (size_t)k;
		}
		if (used + 1 >= cap)
			return -1;
		buf[used++] = '\n';
		buf[used] = '\0';
	}
	return (int)used;
}

const struct pw_learn_ent *pw_learn_find(const struct pw_learn *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

/* The entry a full summary gives up: fewest runs, then seen longest ago. */
static size_t victim(const struct pw_learn *l)
{
	size_t v = 0;
	for (size_t i = 1; i < l->n; i++)
		if (l->e[i].runs < l->e[v].runs ||
		    (l->e[i].runs == l->e[v].runs && l->e[i].last < l->e[v].last))
			v = i;
	return v;
}

void pw_learn_add(struct pw_learn *l, const char *name, size_t len, uint32_t us, time_t now)
{
	struct pw_learn_ent *e = NULL;
	char key[PW_LEARN_NAME_MAX + 1];

	if (len > PW_LEARN_NAME_MAX || !pw_module_name_valid(name, len))
		return;
	memcpy(key, name, len);
	key[len] = '\0';
	if (us > PW_LEARN_US_MAX)
		us = PW_LEARN_US_MAX;
	e = (struct pw_learn_ent *)pw_learn_find(l, key);
	if (e == NULL) {
		e = &l->e[l->n < PW_LEARN_MAX ? l->n++ : victim(l)];
		memset(e, 0, sizeof(*e));
		memcpy(e->name, key, len + 1);
		e->first = (int64_t)now;
	}
	if (e->runs < NUM_MAX)
		e->runs++;
	e->total_us = e->total_us + us > NUM_MAX ? NUM_MAX : e->total_us + us;
	if ((int64_t)now > e->last)
		e->last = (int64_t)now;
	if (e->first > e->last)
		e->first = e->last;
	if (e->nsample == PW_LEARN_SAMPLES) {
		memmove(e->sample, e->sample + 1, sizeof(e->sample[0]) * (PW_LEARN_SAMPLES - 1));
		e->nsample--;
	}
	e->sample[e->nsample++] = us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

uint32_t pw_learn_median(const struct pw_learn_ent *e)
{
	uint32_t s[PW_LEARN_SAMPLES];
	uint32_t n = e->nsample < PW_LEARN_SAMPLES ? e->nsample : PW_LEARN_SAMPLES;

	if (n == 0)
		return 0;
	memcpy(s, e->sample, n * sizeof(s[0]));
	qsort(s, n, sizeof(s[0]), cmp_u32);
	return n % 2 ? s[n / 2] : (uint32_t)(((uint64_t)s[n / 2 - 1] + s[n / 2]) / 2);
}

static int cmp_cost(const void *a, const void *b)
{
	const struct pw_learn_ent *x = a, *y = b;
	if (x->total_us != y->total_us)
		return x->total_us < y->total_us ? 1 : -1;
	if (x->runs != y->runs)
		return x->runs < y->runs ? 1 : -1;
	return strcmp(x->name, y->name);
}

void pw_learn_sort(struct pw_learn *l)
{
	qsort(l->e, l->n, sizeof(l->e[0]), cmp_cost);
}

int pw_learn_in_profile(const struct pw_profile *p, const char *name)
{
	for (size_t i = 0; p->modules && i < p->nmodules; i++)
		if (strcmp(p->modules[i], name) == 0)
			return 1;
	return 0;
}

void pw_learn_file_name(const struct pw_profile *p, char *out, size_t len)
{
	const char *key = p->path ? p->path : "(built-in)";
	uint64_t h = 14695981039346656037ull;

	for (const char *s = "pywarm imports\n"; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = key; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	snprintf(out, len, "imports-%016llx", (unsigned long long)h);
}

/* Open p's summary file in the state directory (creating it with create). */
static int open_summary(const struct pw_profile *p, int create, char *err, size_t errlen)
{
	char dir[PATH_MAX], name[64];
	int dfd, fd, e;

	dfd = pw_statedir_open(dir, sizeof(dir), create, err, errlen);
	if (dfd < 0)
		return -1;
	pw_learn_file_name(p, name, sizeof(name));
	fd = pw_private_openat(dfd, dir, name, create ? O_RDWR | O_CREAT : O_RDONLY, err, errlen);
	e = errno;
	close(dfd);
	errno = e;
	return fd;
}

/* Read the whole file at fd (at most PW_LEARN_FILE_MAX bytes) into l. */
static int read_summary(int fd, struct pw_learn *l, char *err, size_t errlen)
{
	char *buf = malloc(PW_LEARN_FILE_MAX + 1);
	size_t got = 0;
	ssize_t k;

	if (buf == NULL) {
		pw_seterr(err, errlen, "out of memory for the import summary");
		return -1;
	}
	while (got < PW_LEARN_FILE_MAX &&
	       (k = pread(fd, buf + got, PW_LEARN_FILE_MAX - got, (off_t)got)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			pw_seterr(err, errlen, "cannot read the import summary: %s", strerror(errno));
			free(buf);
			return -1;
		}
		got += (size_t)k;
	}
	if (pw_learn_parse(l, buf, got) < 0)
		l->n = 0;           /* not a summary of ours: start again */
	free(buf);
	return 0;
}

int pw_learn_load(const struct pw_profile *p, struct pw_learn *l, char *err, size_t errlen)
{
	l->n = 0;
	int fd = open_summary(p, 0, err, errlen);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_SH) < 0) {
		pw_seterr(err, errlen, "cannot lock the import summary: %s", strerror(errno));
		close(fd);
		return -1;
	}
	int rc = read_summary(fd, l, err, errlen);
	close(fd);
	return rc;
}

int pw_learn_update(const struct pw_profile *p, const struct pw_import *r, size_t n,
                    struct pw_learn *l, time_t now, char *err, size_t errlen)
{
	char *buf = NULL;
	int fd = open_summary(p, 1, err, errlen), len, rc = -1;

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) < 0) {
		pw_seterr(err, errlen, "cannot lock the import summary: %s", strerror(errno));
		goto out;
	}
	if (read_summary(fd, l, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		pw_learn_add(l, r[i].name, r[i].len, r[i].us, now);
	if ((buf = malloc(PW_LEARN_FILE_MAX + 1)) == NULL ||
	    (len = pw_learn_format(l, buf, PW_LEARN_FILE_MAX + 1)) < 0) {
		pw_seterr(err, errlen, "cannot format the import summary");
		goto out;
	}
	/* In place, under the lock: readers take it shared. */
	if (pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len) < 0) {
		pw_seterr(err, errlen, "cannot write the import summary: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}
