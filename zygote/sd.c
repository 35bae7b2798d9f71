/* sd.c: the service manager's side channels without libsystemd: an inherited listening socket (LISTEN_FDS), readiness (NOTIFY_SOCKET) and the journal. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3       /* the first passed fd, by the protocol */

/* The notification socket's address, taken from NOTIFY_SOCKET at start-up
 * (the variable is removed so nothing forked from here inherits it). */
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* Parse a decimal in [1, INT_MAX]; -1 if s is anything else. */
static long parse_pos(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 1 || v > 0x7fffffffL ? -1 : v;
}

/* Take the listening socket a service manager passed (LISTEN_FDS=1 for our
 * pid).  Returns the fd (CLOEXEC, non-blocking), 0 if none was passed for
 * us, or -1 with a message in err.  The LISTEN_* variables are removed
 * either way: they describe this process only. */
int zsd_listen_fd(char *err, size_t errlen)
{
	long pid = parse_pos(getenv("LISTEN_PID"));
	long n = parse_pos(getenv("LISTEN_FDS"));
	int fd = SD_LISTEN_FDS_START, type = 0, acc = 0;
	socklen_t len = sizeof type;
	struct stat st;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n < 0)
		return 0;           /* meant for another process, or not set */
	if (n != 1) {
		snprintf(err, errlen, "LISTEN_FDS=%ld: expected exactly one socket", n);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &(socklen_t){ sizeof acc }) < 0 ||
	    !acc) {
		snprintf(err, errlen, "passed fd %d is not a listening stream socket", fd);
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "cannot set up passed fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return fd;
}

/* Remember NOTIFY_SOCKET (a path, or "@name" in the abstract namespace) and
 * remove it from the environment.  Returns 1 if there is one to notify. */
int zsd_notify_init(void)
{
	const char *v = getenv("NOTIFY_SOCKET");
	size_t n = v ? strlen(v) : 0;

	notify_len = 0;
	if (n >= 2 && n < sizeof notify_addr.sun_path && (v[0] == '/' || v[0] == '@')) {
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, v, n);
		if (v[0] == '@')
			notify_addr.sun_path[0] = '\0';
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	unsetenv("NOTIFY_SOCKET");
	return notify_len != 0;
}

/* Send one state datagram ("READY=1", "STOPPING=1") to the service manager,
 * if it asked for them.  0, or -1 with errno. */
int zsd_notify(const char *state)
{
	int fd, rc, saved;

	if (notify_len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = (int)sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	                 (struct sockaddr *)&notify_addr, notify_len);
	saved = errno;
	close(fd);
	errno = saved;
	return rc < 0 ? -1 : 0;
}

/* Is fd the journal stream the service manager named in JOURNAL_STREAM
 * ("DEV:INO")?  Then it timestamps lines itself. */
int zsd_is_journal(int fd)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (v == NULL || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
