/* test_sd.c: unit tests of the zygote's service-manager protocols: LISTEN_FDS, NOTIFY_SOCKET, JOURNAL_STREAM. */
#include "zygote.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char err[256];

/* Set LISTEN_PID (our pid when pid is 0) and LISTEN_FDS. */
static void listen_env(long pid, const char *fds)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%ld", pid ? pid : (long)getpid());
	setenv("LISTEN_PID", buf, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", "pywarm.socket", 1);
}

/* Put fd at 3 (the first passed fd), closing fd unless it is 3 already. */
static void at3(int fd)
{
	CHECK(dup2(fd, 3) == 3);
	if (fd != 3)
		close(fd);
}

/* A listening unix stream socket on an abstract name. */
static int listener(int type, int listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type, 0);

	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "pywarm-test-sd-%d", (int)getpid());
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	if (listening)
		CHECK(listen(fd, 4) == 0);
	return fd;
}

TEST(listen_not_for_us)
{
	static const char *const bad[] = { "", "x", "0", "-1", "1x", " 1", "99999999999", NULL };

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), 0);
	listen_env(1, "1");             /* another process's */
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), 0);
	CHECK(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL);
	CHECK(getenv("LISTEN_FDNAMES") == NULL);
	for (int i = 0; bad[i]; i++) {
		listen_env(0, bad[i]);
		CHECK_INTEQ(zsd_listen_fd(err, sizeof err), 0);
	}
	setenv("LISTEN_PID", "12abc", 1);
	setenv("LISTEN_FDS", "1", 1);
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), 0);
}

TEST(listen_refuses)
{
	listen_env(0, "2");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), -1);
	CHECK_STREQ(err, "LISTEN_FDS=2: expected exactly one socket");
	CHECK(getenv("LISTEN_FDS") == NULL);

	at3(open("/dev/null", O_RDONLY));
	listen_env(0, "1");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), -1);
	CHECK_STREQ(err, "passed fd 3 is not a listening stream socket");

	at3(listener(SOCK_STREAM, 0));  /* bound, not listening */
	listen_env(0, "1");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), -1);
	close(3);

	at3(listener(SOCK_DGRAM, 0));
	listen_env(0, "1");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), -1);
	close(3);

	close(3);
	listen_env(0, "1");             /* nothing at 3 */
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), -1);
}

TEST(listen_takes_socket)
{
	at3(listener(SOCK_STREAM, 1));
	listen_env(0, "1");
	CHECK_INTEQ(zsd_listen_fd(err, sizeof err), 3);
	CHECK(fcntl(3, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(3, F_GETFL) & O_NONBLOCK);
	CHECK(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL);
	close(3);
}

/* Receive one datagram from fd without blocking; its text or "". */
static const char *recv_text(int fd)
{
	static char buf[128];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

TEST(notify)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[64], abstract[64];
	int fd;

	unsetenv("NOTIFY_SOCKET");
	CHECK_INTEQ(zsd_notify_init(), 0);
	CHECK_INTEQ(zsd_notify("READY=1"), 0);          /* nobody asked: nothing sent */

	snprintf(path, sizeof path, "/tmp/pywarm-test-sd-%d.notify", (int)getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_INTEQ(zsd_notify_init(), 1);
	CHECK(getenv("NOTIFY_SOCKET") == NULL);
	CHECK_INTEQ(zsd_notify("READY=1"), 0);
	CHECK_STREQ(recv_text(fd), "READY=1");
	CHECK_INTEQ(zsd_notify("STOPPING=1"), 0);
	CHECK_STREQ(recv_text(fd), "STOPPING=1");
	close(fd);
	unlink(path);
	CHECK_INTEQ(zsd_notify("READY=1"), -1);         /* gone: an error, not a crash */

	/* The abstract namespace, as the system manager hands it out. */
	snprintf(abstract, sizeof abstract, "@pywarm-test-sd-notify-%d", (int)getpid());
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, abstract + 1, strlen(abstract) - 1);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(abstract))) == 0);
	setenv("NOTIFY_SOCKET", abstract, 1);
	CHECK_INTEQ(zsd_notify_init(), 1);
	CHECK_INTEQ(zsd_notify("READY=1"), 0);
	CHECK_STREQ(recv_text(fd), "READY=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);    /* not an address: ignored */
	CHECK_INTEQ(zsd_notify_init(), 0);
	CHECK(getenv("NOTIFY_SOCKET") == NULL);
}

TEST(journal)
{
	struct stat st;
	char buf[64];
	int fd = open("/dev/null", O_WRONLY);

	CHECK(fstat(fd, &st) == 0);
	unsetenv("JOURNAL_STREAM");
	CHECK_INTEQ(zsd_is_journal(fd), 0);
	snprintf(buf, sizeof buf, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	CHECK_INTEQ(zsd_is_journal(fd), 1);
	snprintf(buf, sizeof buf, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", buf, 1);
	CHECK_INTEQ(zsd_is_journal(fd), 0);
	setenv("JOURNAL_STREAM", "garbage", 1);
	CHECK_INTEQ(zsd_is_journal(fd), 0);
	CHECK_INTEQ(zsd_is_journal(-1), 0);
	close(fd);
}

int main(void)
{
	RUN(listen_not_for_us);
	RUN(listen_refuses);
	RUN(listen_takes_socket);
	RUN(notify);
	RUN(journal);
	return unit_summary();
}
