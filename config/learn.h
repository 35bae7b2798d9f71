/* learn.h: the per-profile summary of what warm runs imported beyond their zygote's preload (read by pywarmctl, kept by the zygote). */
#ifndef PW_LEARN_H
#define PW_LEARN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "proto.h"

#define PW_LEARN_MAX       256      /* modules kept per profile */
#define PW_LEARN_NAME_MAX  128      /* bytes of a module name */
#define PW_LEARN_SAMPLES   8        /* latest import times kept, for the median */
#define PW_LEARN_FILE_MAX  (PW_LEARN_MAX * 320)   /* bytes of the summary file */
#define PW_LEARN_MIN_RUNS  3        /* [preload] learn_min_runs default */
#define PW_LEARN_US_MAX    600000000u   /* one import's time is clipped to 10 minutes */

/* One module: how often runs imported it and what it cost them. */
struct pw_learn_ent {
	char name[PW_LEARN_NAME_MAX + 1];
	uint64_t runs;            /* runs that imported it */
	uint64_t total_us;        /* their import time, summed */
	int64_t first, last;      /* when it was first and last seen (time_t) */
	uint32_t nsample;         /* samples kept, oldest first */
	uint32_t sample[PW_LEARN_SAMPLES];
};

struct pw_learn {
	size_t n;
	struct pw_learn_ent e[PW_LEARN_MAX];
};


/* Parse the summary text (never trusting it: bad lines are skipped, names
 * checked, numbers bounded, at most PW_LEARN_MAX entries).  Returns the
 * number of entries kept, or -1 if text is not a summary (wrong header). */
int  pw_learn_parse(struct pw_learn *l, const char *text, size_t len);
/* Write l as text into buf; its length, or -1 if it does not fit. */
int  pw_learn_format(const struct pw_learn *l, char *buf, size_t cap);
/* Count one run that imported name in us microseconds (seen at now).  A
 * full summary drops the entry seen in the fewest runs, least recently. */
void pw_learn_add(struct pw_learn *l, const char *name, size_t len, uint32_t us, time_t now);
/* The median of e's kept samples. */
uint32_t pw_learn_median(const struct pw_learn_ent *e);
/* The entry for name, or NULL. */
const struct pw_learn_ent *pw_learn_find(const struct pw_learn *l, const char *name);
/* Sort l by total import time, most first (ties: more runs, then name). */
void pw_learn_sort(struct pw_learn *l);

/* The summary file's name in the state directory for profile p
 * ("imports-<16 hex digits>", from its path, or the built-in default's). */
void pw_learn_file_name(const struct pw_profile *p, char *out, size_t len);
/* Read p's summary (none yet: empty, 0).  0, or -1 with err. */
int  pw_learn_load(const struct pw_profile *p, struct pw_learn *l, char *err, size_t errlen);
/* Add one run's report to p's summary, under an exclusive lock on the file
 * (mode 0600, in the verified state directory); *l is left as written. */
int  pw_learn_update(const struct pw_profile *p, const struct pw_import *r, size_t n,
                     struct pw_learn *l, time_t now, char *err, size_t errlen);
/* Is name one of p's [preload] modules? */
int  pw_learn_in_profile(const struct pw_profile *p, const char *name);

#endif
