/* test_learn.c: unit tests for the import summary (learn.c): its text format, merging, bounds, malformed input, the run report's records (proto.c) and the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>

#include "learn.h"
#include "unit.h"

static struct pw_learn l, l2;
static char buf[PW_LEARN_FILE_MAX + 1];
static char root[128];

TEST(add_format_parse_round_trip)
{
	memset(&l, 0, sizeof(l));
	pw_learn_add(&l, "sqlite3", 7, 1200, 1000);
	pw_learn_add(&l, "sqlite3", 7, 800, 1010);
	pw_learn_add(&l, "xml.dom.minidom", 15, 300, 1005);
	CHECK_INTEQ(l.n, 2);
	const struct pw_learn_ent *e = pw_learn_find(&l, "sqlite3");
	CHECK(e != NULL);
	CHECK_INTEQ(e->runs, 2);
	CHECK_INTEQ(e->total_us, 2000);
	CHECK_INTEQ(e->first, 1000);
	CHECK_INTEQ(e->last, 1010);
	CHECK_INTEQ(pw_learn_median(e), 1000);
	int n = pw_learn_format(&l, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strstr(buf, "sqlite3 2 2000 1000 1010 1200,800\n") != NULL);
	CHECK_INTEQ(pw_learn_parse(&l2, buf, (size_t)n), 2);
	CHECK_INTEQ(pw_learn_find(&l2, "xml.dom.minidom")->total_us, 300);
	pw_learn_sort(&l2);
	CHECK_STREQ(l2.e[0].name, "sqlite3");
}

TEST(names_are_checked)
{
	memset(&l, 0, sizeof(l));
	pw_learn_add(&l, "ok.name", 7, 1, 1);
	pw_learn_add(&l, "9bad", 4, 1, 1);
	pw_learn_add(&l, "a..b", 4, 1, 1);
	pw_learn_add(&l, "a b", 3, 1, 1);
	pw_learn_add(&l, "", 0, 1, 1);
	CHECK_INTEQ(l.n, 1);
}

TEST(samples_and_entries_are_bounded)
{
	char name[32];
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 20; i++)
		pw_learn_add(&l, "m", 1, (uint32_t)i, (time_t)i);
	CHECK_INTEQ(l.e[0].nsample, PW_LEARN_SAMPLES);
	CHECK_INTEQ(l.e[0].sample[0], 20 - PW_LEARN_SAMPLES);
	for (int i = 0; i < PW_LEARN_MAX + 50; i++) {
		snprintf(name, sizeof(name), "mod%d", i);
		pw_learn_add(&l, name, strlen(name), 5, 100 + i);
	}
	CHECK_INTEQ(l.n, PW_LEARN_MAX);
	CHECK(pw_learn_find(&l, "m") != NULL);           /* 20 runs: kept */
	CHECK(pw_learn_find(&l, "mod0") == NULL);        /* one run, seen longest ago */
	pw_learn_add(&l, "m", 1, PW_LEARN_US_MAX + 5, 200);
	CHECK_INTEQ(pw_learn_find(&l, "m")->sample[PW_LEARN_SAMPLES - 1], PW_LEARN_US_MAX);
	/* The fullest summary, with the longest names, still fits the file. */
	memset(&l, 0, sizeof(l));
	for (int i = 0; i < PW_LEARN_MAX; i++) {
		char longname[PW_LEARN_NAME_MAX + 1];
		memset(longname, 'a', PW_LEARN_NAME_MAX);
		snprintf(longname + PW_LEARN_NAME_MAX - 4, 5, "%04d", i);
		longname[0] = 'x';
		for (int k = 0; k < PW_LEARN_SAMPLES; k++)
			pw_learn_add(&l, longname, PW_LEARN_NAME_MAX, PW_LEARN_US_MAX, 0x7fffffff);
	}
	CHECK(pw_learn_format(&l, buf, sizeof(buf)) > 0);
}

TEST(malformed_lines_are_skipped)
{
	const char *text =
		"# pywarm imports 1\n"
		"good 1 5 1 2 5\n"
		"bad-name 1 5 1 2 5\n"
		"noruns 0 5 1 2 5\n"
		"backwards 1 5 9 2 5\n"
		"short 1 5\n"
		"toomany 1 5 1 2 1,2,3,4,5,6,7,8,9\n"
		"huge 1 5 1 2 999999999999\n"
		"trailing 1 5 1 2 5 x\n"
		"good 2 5 1 2 5\n"            /* a duplicate: the first is kept */
		"\n"
		"also.good 3 6 1 2 1,2,3";
	CHECK_INTEQ(pw_learn_parse(&l, text, strlen(text)), 2);
	CHECK_INTEQ(pw_learn_find(&l, "good")->runs, 1);
	CHECK_INTEQ(pw_learn_find(&l, "also.good")->nsample, 3);
	CHECK_INTEQ(pw_learn_parse(&l, "not a summary\n", 14), -1);
	CHECK_INTEQ(pw_learn_parse(&l, "", 0), 0);
}

/* Random bytes and mutations of a good summary: never a crash (ASan and
 * UBSan watch), never more than the bound, every name valid. */
TEST(fuzzish_input_never_breaks_the_parser)
{
	static char in[4096];
	const char *seed = "# pywarm imports 1\nsqlite3 3 600 1 9 100,200,300\nxml.dom 1 7 2 2 7\n";
	unsigned int r = 12345;

	for (int round = 0; round < 20000; round++) {
		size_t n = strlen(seed);
		memcpy(in, seed, n);
		int edits = 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 8;
		for (int k = 0; k < edits; k++) {
			r = r * 1103515245u + 12345u;
			size_t at = (r >> 8) % (n + 1);
			char ch = (char)(r >> 20);
			if ((r & 3) == 0 && n < sizeof(in) - 1)
				memmove(in + at + 1, in + at, n - at), n++;
			if (at < n)
				in[at] = ch;
		}
		if (round % 7 == 0)
			for (size_t k = 0; k < n; k++)
				in[k] = (char)((r = r * 1103515245u + 12345u) >> 16);
		int got = pw_learn_parse(&l, in, n);
		CHECK(got <= PW_LEARN_MAX);
		for (int k = 0; k < got; k++)
			CHECK(pw_module_name_valid(l.e[k].name, strlen(l.e[k].name)));
		if (got > 0)
			CHECK(pw_learn_format(&l, buf, sizeof(buf)) > 0);
	}
}

TEST(run_reports_are_checked)
{
	char rep[64];
	size_t used = 0;
	struct pw_import r[4];

	CHECK_INTEQ(pw_imports_put(rep, sizeof(rep), &used, "json", 4, 77), 0);
	CHECK_INTEQ(pw_imports_put(rep, sizeof(rep), &used, "a.b", 3, 5), 0);
	CHECK_INTEQ(pw_imports_parse(rep, used, r, 4), 2);
	CHECK(r[0].len == 4 && memcmp(r[0].name, "json", 4) == 0 && r[0].us == 77);
	CHECK_INTEQ(pw_imports_parse(rep, used, r, 1), -1);       /* more than max */
	CHECK_INTEQ(pw_imports_parse(rep, used - 1, r, 4), -1);   /* truncated */
	rep[4] = 0;                                                /* a zero length */
	CHECK_INTEQ(pw_imports_parse(rep, used, r, 4), -1);
	rep[4] = 4;
	rep[5] = '-';                                              /* a bad name */
	CHECK_INTEQ(pw_imports_parse(rep, used, r, 4), -1);
	rep[4] = (char)200;                                        /* past the end */
	CHECK_INTEQ(pw_imports_parse(rep, used, r, 4), -1);
	used = 0;
	CHECK_INTEQ(pw_imports_put(rep, 8, &used, "toolong", 7, 1), -1);
}

TEST(file_is_private_and_merged)
{
	struct pw_profile p;
	struct pw_import r[2] = { { "zoneinfo", 8, 400 }, { "tomllib", 7, 90 } };
	char err[512], path[256], name[64];
	struct stat st;

	memset(&p, 0, sizeof(p));
	p.path = "/some/project/.pywarm.ini";
	CHECK_INTEQ(pw_learn_load(&p, &l, err, sizeof(err)), 0);
	CHECK_INTEQ(l.n, 0);
	CHECK_INTEQ(pw_learn_update(&p, r, 2, &l, 100, err, sizeof(err)), 0);
	CHECK_INTEQ(pw_learn_update(&p, r, 1, &l, 200, err, sizeof(err)), 0);
	CHECK_INTEQ(pw_learn_load(&p, &l2, err, sizeof(err)), 0);
	CHECK_INTEQ(l2.n, 2);
	CHECK_INTEQ(pw_learn_find(&l2, "zoneinfo")->runs, 2);
	CHECK_INTEQ(pw_learn_find(&l2, "zoneinfo")->last, 200);
	pw_learn_file_name(&p, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/state/pywarm/%s", root, name);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* Another profile has a summary of its own. */
	p.path = NULL;
	CHECK_INTEQ(pw_learn_load(&p, &l2, err, sizeof(err)), 0);
	CHECK_INTEQ(l2.n, 0);
	/* A summary someone linked elsewhere is refused. */
	p.path = "/some/project/.pywarm.ini";
	char other[300];
	snprintf(other, sizeof(other), "%s.other", path);
	CHECK(rename(path, other) == 0 && symlink(other, path) == 0);
	CHECK_INTEQ(pw_learn_update(&p, r, 1, &l, 300, err, sizeof(err)), -1);
	CHECK(strstr(err, "symbolic link") != NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	char dir[160];
	int rc;

	snprintf(root, sizeof(root), "/tmp/pywarm-unit-learn-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/state", root);
	setenv("XDG_STATE_HOME", dir, 1);
	RUN(add_format_parse_round_trip);
	RUN(names_are_checked);
	RUN(samples_and_entries_are_bounded);
	RUN(malformed_lines_are_skipped);
	RUN(fuzzish_input_never_breaks_the_parser);
	RUN(run_reports_are_checked);
	RUN(file_is_private_and_merged);
	rc = unit_summary();
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
