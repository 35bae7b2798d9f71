/* fuzz_profile.c: libFuzzer harness for the profile parser (pw_profile_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_profile p;
	char err[512];

	if (pw_profile_parse(&p, "fuzz.ini", (const char *)data, size, err, sizeof err) < 0) {
		if (err[0] == '\0' || strncmp(err, "fuzz.ini", 8) != 0)
			abort();        /* every refusal names the file */
		return 0;
	}
	if (p.modules == NULL || p.modules[p.nmodules] != NULL || p.idle_timeout < 0)
		abort();
	for (size_t i = 0; i < p.nmodules; i++)
		if (p.modules[i][0] == '\0')
			abort();
	pw_profile_free(&p);
	return 0;
}
