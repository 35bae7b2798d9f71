/* bench_interp.c: what resolving the interpreter costs a launch (pw_interp_resolve, as pywarm calls it once per run); run by `make bench`. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"

/* Microseconds on the monotonic clock. */
static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static struct pw_interp in;
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	double best = 1e9, t0, t;

	if (n < 1)
		n = 1;
	pw_interp_resolve(NULL, &in);           /* untimed: the page cache is warm */
	/* The best of 5 rounds of n: the machine is shared. */
	for (int round = 0; round < 5; round++) {
		t0 = now_us();
		for (int i = 0; i < n; i++)
			pw_interp_resolve(NULL, &in);
		t = (now_us() - t0) / n;
		if (t < best)
			best = t;
	}
	printf("| %s | %s | %.1f µs |\n", in.origin, in.warm ? "warm" : in.cold_why, best);
	return 0;
}
