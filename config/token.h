/* token.h: the one tokenizer: (pointer, length) tokens of a (pointer, length) buffer, split at a set of separator bytes. */
#ifndef PW_TOKEN_H
#define PW_TOKEN_H

#include <stddef.h>

/* pw_tok_init flags. */
#define PW_TOK_SKIP_EMPTY 0  /* tokens are the maximal runs of non-separators, as strtok_r's */
#define PW_TOK_KEEP_EMPTY 1  /* tokens are the fields between separators, as str.split(sep)'s:
                              * n separators make n + 1 tokens, empty ones included (so an
                              * empty buffer is one empty token) */

/* The separators of a profile's lists ([preload] modules, [sandbox] deny,
 * ...): items are separated by commas and whitespace. */
#define PW_TOK_LIST ", \t\r\n\v\f"

/* An iteration over one buffer; the buffer and the separator set must
 * outlive it.  Nothing is written to the buffer: tokens point into it and
 * are not NUL-terminated. */
struct pw_tok {
	const char *s;       /* the buffer */
	size_t n;            /* its length */
	size_t at;           /* where the next token's search starts */
	const char *sep;     /* the separator bytes (NUL-terminated; NUL is never one) */
	int flags;           /* PW_TOK_* */
	int done;            /* nothing more to yield */
};

/* Start iterating over s[0..n) with separators sep and flags PW_TOK_*. */
void pw_tok_init(struct pw_tok *t, const char *s, size_t n, const char *sep, int flags);

/* The next token in *tok and *len: 1, or 0 when there are no more. */
int  pw_tok_next(struct pw_tok *t, const char **tok, size_t *len);

#endif
