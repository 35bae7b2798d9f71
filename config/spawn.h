/* spawn.h: starting a long-lived process detached from its starter (the zygote, by the launcher or by a stale zygote for its successor). */
#ifndef PW_SPAWN_H
#define PW_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* What to start and where its output goes. */
struct pw_spawn {
	const char *path;          /* the executable */
	char *const *argv;
	char *const *envp;         /* NULL: the starter's environ */
	int outfd;                 /* its stdout and stderr; stdin is /dev/null */
};

/*
 * Start s->path as a grandchild in a session of its own, so that it never
 * has the starter's terminal and is nobody's child but init's: the working
 * directory "/", stdin /dev/null, stdout and stderr s->outfd, every other
 * descriptor closed, no signal blocked and every disposition the default.
 * The middle process is reaped here.  Returns the grandchild's pid (its
 * exec may still fail: it then writes why to outfd and exits 127), or -1
 * with err ("cannot fork: ...").  outfd stays open in the caller.
 */
pid_t pw_spawn_detached(const struct pw_spawn *s, char *err, size_t errlen);

#endif
