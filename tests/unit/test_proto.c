/* test_proto.c: unit tests of the wire protocol: launch encoding, decoding of hostile payloads, framing and fd passing. */
#include "proto.h"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char *argv_[] = { "pywarm", "-c", "print(1)", "x", NULL };
static char *envp_[] = { "A=1", "B=two=2", "=odd", NULL };

/* A plausible launch request with two fds (cwd and one target). */
static void sample(struct pw_launch *l)
{
	static uint32_t groups[] = { 4, 27 };
	static uint8_t cpus[] = { 3 };
	memset(l, 0, sizeof *l);
	l->identity = 0x1122334455667788ull;
	l->mode = PW_RUN_COMMAND;
	l->payload = 2;
	l->sysargv = 2;
	l->umask = 022;
	l->nice = 5;
	l->emul = PW_EMUL_UNBUFFERED | PW_EMUL_SAFEPATH;
	l->sig_ignored = 1ull << (SIGPIPE - 1);
	l->sig_blocked = 1ull << (SIGUSR1 - 1);
	for (int i = 0; i < PW_NRLIMIT; i++) {
		l->rlim_cur[i] = (uint64_t)i * 10;
		l->rlim_max[i] = ~0ull;
	}
	l->ngroups = 2;
	l->groups = groups;
	l->cpuset_len = 1;
	l->cpuset = cpus;
	l->argc = 4;
	l->argv = argv_;
	l->envc = 3;
	l->envp = envp_;
	l->nfds = 2;
	l->fdnum[0] = -1;
	l->fdnum[1] = 7;
}

TEST(roundtrip)
{
	struct pw_launch in, out;
	char *buf, err[128] = "";
	size_t len;

	sample(&in);
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == 0);
	CHECK_STREQ(err, "");
	CHECK(out.identity == in.identity);
	CHECK_INTEQ(out.mode, PW_RUN_COMMAND);
	CHECK_INTEQ(out.nice, 5);
	CHECK_INTEQ(out.emul, PW_EMUL_UNBUFFERED | PW_EMUL_SAFEPATH);
	CHECK_INTEQ(out.umask, 022);
	CHECK(out.sig_blocked == in.sig_blocked);
	CHECK(out.rlim_cur[7] == 70 && out.rlim_max[3] == ~0ull);
	CHECK_INTEQ(out.ngroups, 2);
	CHECK_INTEQ(out.groups[1], 27);
	CHECK_INTEQ(out.argc, 4);
	CHECK_STREQ(out.argv[2], "print(1)");
	CHECK(out.argv[4] == NULL);
	CHECK_STREQ(out.envp[1], "B=two=2");
	CHECK_STREQ(out.envp[2], "=odd");
	CHECK(out.envp[3] == NULL);
	CHECK_INTEQ(out.fdnum[1], 7);
	pw_launch_free(&out);
	free(buf);
}

/* Every truncation of a valid payload is refused, never crashes. */
TEST(truncated)
{
	struct pw_launch in, out;
	char *buf, err[128];
	size_t len;

	sample(&in);
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	for (size_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, buf, n);
		err[0] = '\0';
		int rc = pw_launch_decode(&out, copy, n, err, sizeof err);
		CHECK(rc == -1 && errno == EPROTO && err[0] != '\0');
		free(copy);
	}
	free(buf);
}

/* Payloads that decode but contradict themselves are refused with a reason. */
TEST(inconsistent)
{
	struct pw_launch in, out;
	char *buf, err[128];
	size_t len;
	sample(&in);
	in.mode = 9;
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
	CHECK_STREQ(err, "unknown run mode");
	free(buf);

	sample(&in);
	in.payload = 9;
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
	CHECK_STREQ(err, "payload index out of range");
	free(buf);

	sample(&in);
	in.fdnum[0] = 3;
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
	CHECK_STREQ(err, "first fd is not the cwd");
	free(buf);

	sample(&in);
	in.nfds = 3;
	in.fdnum[2] = 7;
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
	CHECK_STREQ(err, "duplicate target fd number");
	free(buf);

	sample(&in);
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	char *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 'x';
	CHECK(pw_launch_decode(&out, longer, len + 1, err, sizeof err) == -1);
	CHECK_STREQ(err, "trailing bytes in request");
	free(longer);
	free(buf);
}

/* A string with an embedded NUL, and absurd counts, are refused. */
TEST(hostile_counts)
{
	struct pw_launch in, out;
	char *buf, err[128];
	size_t len;

	sample(&in);
	CHECK(pw_launch_encode(&in, &buf, &len) == 0);
	/* Find argv[2] ("print(1)") and poke a NUL into it. */
	char *p = memmem(buf, len, "print(1)", 8);
	CHECK(p != NULL);
	if (p) {
		p[3] = '\0';
		CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
		CHECK_STREQ(err, "string with an embedded NUL");
		p[3] = 'n';
	}
	/* The argc field sits right before the first argv length. */
	char *a = memmem(buf, len, "pywarm", 6);
	CHECK(a != NULL);
	if (a) {
		uint32_t huge = 0xffffffffu;
		memcpy(a - 8, &huge, 4);
		CHECK(pw_launch_decode(&out, buf, len, err, sizeof err) == -1);
		CHECK_STREQ(err, "too many strings");
	}
	free(buf);
}

/* Frames with their fds cross a socketpair intact. */
TEST(send_recv_fds)
{
	int sv[2], pipefd[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(pipe(pipefd) == 0);
	CHECK(pw_send(sv[0], PW_MSG_LAUNCH, "hello", 5, pipefd, 2) == 0);
	struct pw_hdr h;
	char *payload;
	int fds[4];
	uint32_t nfds;
	CHECK(pw_recv(sv[1], &h, &payload, fds, 4, &nfds) == 0);
	CHECK_INTEQ(h.type, PW_MSG_LAUNCH);
	CHECK_INTEQ(h.len, 5);
	CHECK_STREQ(payload, "hello");
	CHECK_INTEQ(nfds, 2);
	CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	CHECK(write(fds[1], "x", 1) == 1);
	char c = 0;
	CHECK(read(pipefd[0], &c, 1) == 1 && c == 'x');
	free(payload);
	close(fds[0]);
	close(fds[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Count this process's open fds. */
static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Bad magic, a foreign version, too many fds, EOF mid-message: refused, and
 * every received fd is closed. */
TEST(recv_rejects)
{
	int sv[2], fds[8];
	struct pw_hdr h;
	char *payload;
	uint32_t nfds;
	int before = count_fds();

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	struct pw_hdr bad = { 0xdeadbeef, PW_PROTO_VERSION, PW_MSG_LAUNCH, 0, 0 };
	CHECK(write(sv[0], &bad, sizeof bad) == (ssize_t)sizeof bad);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 8, &nfds) == -1 && errno == EPROTO);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);

	struct pw_hdr old = { PW_PROTO_MAGIC, PW_PROTO_VERSION + 1, PW_MSG_LAUNCH, 0, 0 };
	CHECK(write(sv[0], &old, sizeof old) == (ssize_t)sizeof old);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 8, &nfds) == -1 && errno == EPROTONOSUPPORT);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);

	int p[2];
	CHECK(pipe(p) == 0);
	int many[6] = { p[0], p[1], p[0], p[1], p[0], p[1] };
	CHECK(pw_send(sv[0], PW_MSG_LAUNCH, "x", 1, many, 6) == 0);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 4, &nfds) == -1 && errno == EPROTO);
	CHECK_INTEQ(nfds, 0);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);

	struct pw_hdr big = { PW_PROTO_MAGIC, PW_PROTO_VERSION, PW_MSG_LAUNCH, PW_MAX_MSG + 1, 0 };
	CHECK(write(sv[0], &big, sizeof big) == (ssize_t)sizeof big);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 8, &nfds) == -1 && errno == EPROTO);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);

	struct pw_hdr cut = { PW_PROTO_MAGIC, PW_PROTO_VERSION, PW_MSG_LAUNCH, 100, 0 };
	CHECK(send(sv[0], &cut, sizeof cut, 0) == (ssize_t)sizeof cut);
	CHECK(write(sv[0], "abc", 3) == 3);
	close(sv[0]);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 8, &nfds) == -1 && errno == EPROTO);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	CHECK_INTEQ(count_fds(), before);
}

/* A clean EOF before any byte is ENOMSG, not EPROTO. */
TEST(recv_eof)
{
	int sv[2], fds[1];
	struct pw_hdr h;
	char *payload;
	uint32_t nfds;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[0]);
	CHECK(pw_recv(sv[1], &h, &payload, fds, 1, &nfds) == -1 && errno == ENOMSG);
	close(sv[1]);
}

/* pw_recv_from names the sender; a message whose bytes come from two
 * processes, or a socket without SO_PASSCRED, is refused. */
TEST(recv_sender)
{
	int sv[2], fds[1], on = 1;
	struct pw_hdr h;
	struct ucred from;
	char *payload;
	uint32_t nfds;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	/* Sent while neither end asked for credentials: the kernel recorded none. */
	CHECK(pw_send(sv[0], PW_MSG_STATUS_REQ, NULL, 0, NULL, 0) == 0);
	CHECK(pw_recv_from(sv[1], &h, &payload, fds, 1, &nfds, 0, &from) == -1 && errno == EPROTO);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK(pw_send(sv[0], PW_MSG_STATUS_REQ, "ab", 2, NULL, 0) == 0);
	CHECK(pw_recv_from(sv[1], &h, &payload, fds, 1, &nfds, 0, &from) == 0);
	CHECK_INTEQ(from.pid, getpid());
	CHECK_INTEQ(from.uid, geteuid());
	free(payload);
	/* The header from us, the payload from a child. */
	struct pw_hdr half = { PW_PROTO_MAGIC, PW_PROTO_VERSION, PW_MSG_LAUNCH, 4, 0 };
	CHECK(write(sv[0], &half, sizeof half) == (ssize_t)sizeof half);
	pid_t pid = fork();
	if (pid == 0)
		_exit(write(sv[0], "wxyz", 4) == 4 ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	CHECK(pw_recv_from(sv[1], &h, &payload, fds, 1, &nfds, 0, &from) == -1 && errno == EPROTO);
	close(sv[0]);
	close(sv[1]);
}

/* A deadline covers the whole message: one byte at a time does not
 * extend it. */
TEST(recv_deadline)
{
	int sv[2], fds[1];
	struct pw_hdr h;
	char *payload;
	uint32_t nfds;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[0], "P", 1) == 1);
	long long t0 = pw_mono_us();
	CHECK(pw_recv_from(sv[1], &h, &payload, fds, 1, &nfds, t0 + 50000, NULL) == -1 &&
	      errno == ETIMEDOUT);
	long long took = pw_mono_us() - t0;
	CHECK(took >= 50000 && took < 5000000);
	close(sv[0]);
	close(sv[1]);
}

/* Datagrams carry the sender as the kernel knows it. */
TEST(dgram_sender)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int on = 1;
	char buf[64];
	struct ucred from;
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "pywarm-test-%d", (int)getpid());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0);
	CHECK(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, len) == 0);
	CHECK(pw_dgram_recv(fd, buf, sizeof buf, &from) == -1 && errno == EAGAIN);
	pid_t pid = fork();
	if (pid == 0)
		_exit(pw_dgram_send(&sa, len, "hi", 2, "!", 1, 1) == 0 ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INTEQ(pw_dgram_recv(fd, buf, sizeof buf, &from), 3);
	CHECK_INTEQ(from.pid, pid);
	CHECK(memcmp(buf, "hi!", 3) == 0);
	close(fd);
}

/* Every status key survives a format and parse; a value's newline cannot
 * forge another key; unknown keys and lines without '=' are ignored. */
TEST(status_roundtrip)
{
	const char *val[PW_S_NKEYS];
	char buf[4096], vals[PW_S_NKEYS][32];
	struct pw_status st;

	for (int k = 0; k < PW_S_NKEYS; k++) {
		snprintf(vals[k], sizeof vals[k], "v%d x", k);
		val[k] = vals[k];
	}
	val[PW_S_STATE] = "serving\nlaunches=99";
	val[PW_S_WARMUP] = NULL;
	CHECK_INTEQ(pw_status_format(buf, sizeof buf, val), 0);
	pw_status_parse(buf, &st);
	for (int k = 0; k < PW_S_NKEYS; k++) {
		if (k == PW_S_STATE)
			CHECK_STREQ(st.val[k], "serving launches=99");
		else if (k == PW_S_WARMUP)
			CHECK_STREQ(st.val[k], "");
		else
			CHECK_STREQ(st.val[k], vals[k]);
	}
	CHECK(pw_status_format(buf, 16, val) == -1);
	char text[] = "nonsense\nfuture=1\npid=7\n=x\nprefork=2";
	pw_status_parse(text, &st);
	CHECK_STREQ(st.val[PW_S_PID], "7");
	CHECK_STREQ(st.val[PW_S_PREFORK], "2");
	CHECK(st.val[PW_S_LAUNCHES] == NULL);
}

/* The progress line: a round trip, and malformed lines refused. */
TEST(progress_roundtrip)
{
	struct pw_progress p = { 3, 56, 1234, "xml.dom.minidom" }, q;
	char buf[512];
	int n = pw_progress_format(buf, sizeof buf, &p);

	CHECK(n > 0 && (size_t)n == strlen(buf));
	CHECK_INTEQ(pw_progress_parse(buf, &q), 0);
	CHECK_INTEQ(q.n, 3);
	CHECK_INTEQ(q.m, 56);
	CHECK_INTEQ(q.ms, 1234);
	CHECK_STREQ(q.name, "xml.dom.minidom");
	CHECK_INTEQ(pw_progress_format(buf, 8, &p), -1);
	snprintf(p.name, sizeof p.name, "two\nlines");
	CHECK_INTEQ(pw_progress_format(buf, sizeof buf, &p), -1);
	static const char *const bad[] = { "", "3", "3 56", "3 56 12", "x 56 12 json", "\n" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_INTEQ(pw_progress_parse(bad[i], &q), -1);
}

int main(void)
{
	RUN(roundtrip);
	RUN(truncated);
	RUN(inconsistent);
	RUN(hostile_counts);
	RUN(send_recv_fds);
	RUN(recv_rejects);
	RUN(recv_eof);
	RUN(recv_sender);
	RUN(recv_deadline);
	RUN(dgram_sender);
	RUN(status_roundtrip);
	RUN(progress_roundtrip);
	return unit_summary();
}
