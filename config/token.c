/* token.c: the one tokenizer: splits a (pointer, length) buffer at separator bytes without copying or writing it. */
#include <string.h>

#include "token.h"

/* Is byte c one of t's separators?  (strchr would match the set's NUL.) */
static int is_sep(const struct pw_tok *t, char c)
{
	return c != '\0' && strchr(t->sep, c) != NULL;
}

/* Start iterating over s[0..n) with separators sep and flags PW_TOK_*. */
void pw_tok_init(struct pw_tok *t, const char *s, size_t n, const char *sep, int flags)
{
	t->s = s;
	t->n = n;
	t->at = 0;
	t->sep = sep;
	t->flags = flags;
	t->done = 0;
}

/* The next token in *tok and *len: 1, or 0 when there are no more.  A
 * field ends at a separator or at the buffer's end; only the end stops a
 * PW_TOK_KEEP_EMPTY iteration, which yields the field it ends. */
int pw_tok_next(struct pw_tok *t, const char **tok, size_t *len)
{
	size_t start;

	if (t->done)
		return 0;
	if (!(t->flags & PW_TOK_KEEP_EMPTY)) {
		while (t->at < t->n && is_sep(t, t->s[t->at]))
			t->at++;
		if (t->at == t->n) {
			t->done = 1;
			return 0;
		}
	}
	start = t->at;
	while (t->at < t->n && !is_sep(t, t->s[t->at]))
		t->at++;
	*tok = t->s + start;
	*len = t->at - start;
	if (t->at < t->n)
		t->at++;                 /* past the separator that ended it */
	else
		t->done = 1;
	return 1;
}
