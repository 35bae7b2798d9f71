/* test_token.c: table-driven unit tests for the tokenizer (pw_tok_init, pw_tok_next). */
#include <stdio.h>
#include <string.h>

#include "token.h"
#include "unit.h"

#define MAXTOK 8
#define WS ", \t\r\n\v\f"     /* the profile lists' separators */

/* One buffer, how it is split, and the tokens expected (NULL-terminated). */
struct tokcase {
	const char *in;
	size_t len;               /* bytes of in to split; (size_t)-1: strlen(in) */
	const char *sep;
	int flags;
	const char *want[MAXTOK + 1];
};

#define ALL ((size_t)-1)
#define SKIP PW_TOK_SKIP_EMPTY
#define KEEP PW_TOK_KEEP_EMPTY

static const struct tokcase cases[] = {
	/* Empty tokens skipped, as strtok_r does. */
	{ "", ALL, ",", SKIP, { NULL } },
	{ ",", ALL, ",", SKIP, { NULL } },
	{ ",,,", ALL, ",", SKIP, { NULL } },
	{ "a", ALL, ",", SKIP, { "a", NULL } },
	{ "a,b", ALL, ",", SKIP, { "a", "b", NULL } },
	{ ",a,,b,", ALL, ",", SKIP, { "a", "b", NULL } },
	{ "abc,,de,f", ALL, ",", SKIP, { "abc", "de", "f", NULL } },
	{ " a ,b", ALL, ",", SKIP, { " a ", "b", NULL } },
	/* Empty tokens kept: n separators, n + 1 fields. */
	{ "", ALL, ",", KEEP, { "", NULL } },
	{ ",", ALL, ",", KEEP, { "", "", NULL } },
	{ ",,", ALL, ",", KEEP, { "", "", "", NULL } },
	{ "a", ALL, ",", KEEP, { "a", NULL } },
	{ "a,b", ALL, ",", KEEP, { "a", "b", NULL } },
	{ ",a", ALL, ",", KEEP, { "", "a", NULL } },
	{ "a,", ALL, ",", KEEP, { "a", "", NULL } },
	{ "a,,b", ALL, ",", KEEP, { "a", "", "b", NULL } },
	{ ",a,,b,", ALL, ",", KEEP, { "", "a", "", "b", "", NULL } },
	{ "error::DeprecationWarning,default", ALL, ",", KEEP,
	  { "error::DeprecationWarning", "default", NULL } },
	{ "error::DeprecationWarning", ALL, ":", KEEP,
	  { "error", "", "DeprecationWarning", NULL } },
	{ "::::::", ALL, ":", KEEP, { "", "", "", "", "", "", "", NULL } },
	/* Several separators: any of them ends a token. */
	{ "  os, re\tjson,\n  sys  ", ALL, WS, SKIP, { "os", "re", "json", "sys", NULL } },
	{ "os,,re\r\n\v\fjson", ALL, WS, SKIP, { "os", "re", "json", NULL } },
	{ "a, b", ALL, ", ", KEEP, { "a", "", "b", NULL } },
	{ " \t\n", ALL, WS, SKIP, { NULL } },
	/* Lines. */
	{ "3.11.7\n", ALL, "\n", SKIP, { "3.11.7", NULL } },
	{ "\n\n3.11.7\n\nsystem", ALL, "\n", SKIP, { "3.11.7", "system", NULL } },
	{ "0::/user.slice\n", ALL, "\n", KEEP, { "0::/user.slice", "", NULL } },
	/* No separators: the buffer is the one token. */
	{ "a,b c", ALL, "", SKIP, { "a,b c", NULL } },
	{ "", ALL, "", SKIP, { NULL } },
	{ "", ALL, "", KEEP, { "", NULL } },
	/* Only len bytes are looked at. */
	{ "a,b,c", 3, ",", SKIP, { "a", "b", NULL } },
	{ "a,b,c", 2, ",", KEEP, { "a", "", NULL } },
	{ "a,b,c", 0, ",", SKIP, { NULL } },
	{ "a,b,c", 0, ",", KEEP, { "", NULL } },
	{ "abc,d", 2, ",", SKIP, { "ab", NULL } },
	/* Bytes above 0x7f, as text and as separators. */
	{ "\xc3\xa9,\xff", ALL, ",", SKIP, { "\xc3\xa9", "\xff", NULL } },
	{ "a\xff" "b\xff", ALL, "\xff", KEEP, { "a", "b", "", NULL } },
};

/* Every case yields exactly its tokens, in order, each pointing into the buffer. */
TEST(tok_cases)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tokcase *c = &cases[i];
		size_t n = c->len == ALL ? strlen(c->in) : c->len;
		struct pw_tok t;
		const char *tok;
		size_t len;
		int k = 0;

		pw_tok_init(&t, c->in, n, c->sep, c->flags);
		while (k <= MAXTOK && pw_tok_next(&t, &tok, &len)) {
			char got[64];
			if (c->want[k] == NULL) {
				fprintf(stderr, "case %zu (\"%s\"): token %d is one too many\n", i, c->in, k);
				CHECK(c->want[k] != NULL);
				break;
			}
			CHECK(tok >= c->in && tok + len <= c->in + n);
			snprintf(got, sizeof(got), "%.*s", (int)len, tok);
			if (strlen(c->want[k]) != len || strcmp(got, c->want[k]) != 0)
				fprintf(stderr, "case %zu (\"%s\"): token %d\n", i, c->in, k);
			CHECK_STREQ(got, c->want[k]);
			k++;
		}
		if (c->want[k] != NULL)
			fprintf(stderr, "case %zu (\"%s\"): %d tokens\n", i, c->in, k);
		CHECK(c->want[k] == NULL);
	}
}

/* Once it has ended, an iteration stays ended; the out parameters are left alone. */
TEST(tok_end_is_final)
{
	static const int flags[] = { SKIP, KEEP };

	for (size_t i = 0; i < 2; i++) {
		struct pw_tok t;
		const char *tok = NULL, *mark = "untouched";
		size_t len = 0;
		int k = 0;

		pw_tok_init(&t, "x,", 2, ",", flags[i]);
		while (pw_tok_next(&t, &tok, &len))
			k++;
		CHECK_INTEQ(k, flags[i] == KEEP ? 2 : 1);
		tok = mark;
		len = 7;
		for (int j = 0; j < 3; j++)
			CHECK_INTEQ(pw_tok_next(&t, &tok, &len), 0);
		CHECK(tok == mark);
		CHECK_INTEQ(len, 7);
	}
}

/* A NUL in the buffer is an ordinary byte, never a separator (the set's own
 * terminator included), and the buffer is not written. */
TEST(tok_nul_is_a_byte)
{
	static const char in[] = "a\0b,c";          /* 5 bytes and a NUL */
	static const int flags[] = { SKIP, KEEP };
	char copy[sizeof(in)];

	memcpy(copy, in, sizeof(in));
	for (size_t i = 0; i < 2; i++) {
		struct pw_tok t;
		const char *tok;
		size_t len;

		pw_tok_init(&t, copy, sizeof(in) - 1, ",", flags[i]);
		CHECK_INTEQ(pw_tok_next(&t, &tok, &len), 1);
		CHECK(tok == copy);
		CHECK_INTEQ(len, 3);
		CHECK_INTEQ(pw_tok_next(&t, &tok, &len), 1);
		CHECK(tok == copy + 4);
		CHECK_INTEQ(len, 1);
		CHECK_INTEQ(pw_tok_next(&t, &tok, &len), 0);
	}
	CHECK(memcmp(copy, in, sizeof(in)) == 0);
}

/* Two iterations over one buffer are independent (no hidden state). */
TEST(tok_nested)
{
	static const char in[] = "a:b,c:d:e";
	static const char *const want[] = { "a", "b", "c", "d", "e" };
	struct pw_tok outer;
	const char *f;
	size_t flen;
	int k = 0;

	pw_tok_init(&outer, in, strlen(in), ",", KEEP);
	while (pw_tok_next(&outer, &f, &flen)) {
		struct pw_tok inner;
		const char *g;
		size_t glen;

		pw_tok_init(&inner, f, flen, ":", KEEP);
		while (pw_tok_next(&inner, &g, &glen) && k < 5) {
			CHECK_INTEQ(glen, 1);
			CHECK(g[0] == want[k][0]);
			k++;
		}
	}
	CHECK_INTEQ(k, 5);
}

int main(void)
{
	RUN(tok_cases);
	RUN(tok_end_is_final);
	RUN(tok_nul_is_a_byte);
	RUN(tok_nested);
	return unit_summary();
}
