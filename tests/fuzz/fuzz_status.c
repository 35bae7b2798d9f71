/* fuzz_status.c: libFuzzer harness for the status text and the progress line: parse anything, then a format of what was parsed must parse back to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *again = NULL;
	const char *val[PW_S_NKEYS];
	struct pw_status st, st2;
	struct pw_progress p, q;
	char buf[1 << 16], line[512];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pw_progress_parse(text, &p) == 0 && pw_progress_format(line, sizeof line, &p) > 0) {
		if (pw_progress_parse(line, &q) != 0 || q.n != p.n || q.m != p.m || q.ms != p.ms ||
		    strcmp(q.name, p.name) != 0)
			abort();
	}
	pw_status_parse(text, &st);
	for (int k = 0; k < PW_S_NKEYS; k++)
		val[k] = st.val[k];
	if (pw_status_format(buf, sizeof buf, val) == 0 && (again = strdup(buf)) != NULL) {
		pw_status_parse(again, &st2);
		for (int k = 0; k < PW_S_NKEYS; k++)
			if (strcmp(st2.val[k] ? st2.val[k] : "", st.val[k] ? st.val[k] : "") != 0)
				abort();
	}
	free(again);
	free(text);
	return 0;
}
