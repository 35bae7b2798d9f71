/* proto.c: framing, fd passing and the launch request encoding of the pywarm wire protocol. */
#include "proto.h"
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

const char *const pw_ns_names[PW_NNS] = {
	"cgroup", "ipc", "mnt", "net", "pid", "user", "uts", "time",
};

const char *const pw_status_keys[PW_S_NKEYS] = {
	"pid", "identity", "profile", "source", "interpreter", "started",
	"modules", "failed", "failed_names", "launches", "running", "state",
	"idle_timeout", "prefork", "warmup", "watched", "learned", "forked",
};

int pw_status_format(char *buf, size_t len, const char *const val[PW_S_NKEYS])
{
	size_t at = 0;

	for (int k = 0; k < PW_S_NKEYS; k++) {
		const char *v = val[k] ? val[k] : "";
		int n = snprintf(buf + at, len - at, "%s=", pw_status_keys[k]);
		if (n < 0 || (size_t)n >= len - at)
			return -1;
		at += (size_t)n;
		for (; *v; v++) {
			if (at + 2 >= len)
				return -1;
			buf[at++] = *v == '\n' ? ' ' : *v;
		}
		buf[at++] = '\n';
		buf[at] = '\0';
	}
	return 0;
}

void pw_status_parse(char *text, struct pw_status *st)
{
	char *line, *next, *eq;

	memset(st, 0, sizeof(*st));
	st->text = text;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		for (int k = 0; k < PW_S_NKEYS; k++)
			if (strcmp(line, pw_status_keys[k]) == 0)
				st->val[k] = eq + 1;
	}
}

int pw_progress_format(char *buf, size_t len, const struct pw_progress *p)
{
	int n = snprintf(buf, len, "%zu %zu %lld %s\n", p->n, p->m, p->ms, p->name);

	return n < 0 || (size_t)n >= len || strchr(p->name, '\n') != NULL ? -1 : n;
}

int pw_progress_parse(const char *line, struct pw_progress *p)
{
	memset(p, 0, sizeof *p);
	return sscanf(line, "%zu %zu %lld %399[^\n]", &p->n, &p->m, &p->ms, p->name) == 4 ? 0 : -1;
}

/* A growable output buffer for the encoder. */
struct obuf {
	char *p;
	size_t len, cap;
	int failed;
};

/* Append n bytes to b, growing it; remembers allocation failure.  An empty
 * vector may come with a NULL pointer (no groups, no CPU set). */
static void put(struct obuf *b, const void *src, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put32(struct obuf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put64(struct obuf *b, uint64_t v) { put(b, &v, sizeof v); }

/* Append a string vector as count, then length-prefixed strings. */
static void put_strv(struct obuf *b, uint32_t n, char *const *v)
{
	put32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		put32(b, (uint32_t)len);
		put(b, v[i], len);
	}
}

/* Serialise a launch request into a malloc'd buffer. */
int pw_launch_encode(const struct pw_launch *l, char **buf, size_t *len)
{
	struct obuf b = {0};

	put64(&b, l->identity);
	put32(&b, l->mode);
	put32(&b, l->payload);
	put32(&b, l->sysargv);
	put32(&b, l->stdin_dash);
	put32(&b, l->flags);
	put32(&b, l->emul);
	put32(&b, l->umask);
	put32(&b, (uint32_t)l->nice);
	put64(&b, l->sig_ignored);
	put64(&b, l->sig_blocked);
	for (int i = 0; i < PW_NRLIMIT; i++) {
		put64(&b, l->rlim_cur[i]);
		put64(&b, l->rlim_max[i]);
	}
	for (int i = 0; i < PW_NNS; i++)
		put64(&b, l->ns_ino[i]);
	put64(&b, l->root_dev);
	put64(&b, l->root_ino);
	put32(&b, l->ngroups);
	put(&b, l->groups, (size_t)l->ngroups * sizeof(uint32_t));
	put32(&b, l->cpuset_len);
	put(&b, l->cpuset, l->cpuset_len);
	put_strv(&b, l->argc, l->argv);
	put_strv(&b, l->envc, l->envp);
	put32(&b, l->nfds);
	put(&b, l->fdnum, (size_t)l->nfds * sizeof(int32_t));
	if (b.failed || b.len > PW_MAX_MSG) {
		free(b.p);
		errno = b.failed ? ENOMEM : E2BIG;
		return -1;
	}
	*buf = b.p;
	*len = b.len;
	return 0;
}

/* A bounds-checked reader over a received payload. */
struct ibuf {
	const char *p;
	size_t len, off;
	const char *err;
};

/* Copy n bytes out of b, or record that the payload is truncated. */
static int get(struct ibuf *b, void *dst, size_t n)
{
	if (b->err)
		return -1;
	if (n > b->len - b->off) {
		b->err = "truncated request";
		return -1;
	}
	memcpy(dst, b->p + b->off, n);
	b->off += n;
	return 0;
}

static uint32_t get32(struct ibuf *b) { uint32_t v = 0; get(b, &v, sizeof v); return v; }
static uint64_t get64(struct ibuf *b) { uint64_t v = 0; get(b, &v, sizeof v); return v; }

/* Read a string vector; every string gets a NUL, none may contain one. */
static char **get_strv(struct ibuf *b, uint32_t *count)
{
	uint32_t n = get32(b);
	if (b->err)
		return NULL;
	if (n > PW_MAX_ARGS || n > (b->len - b->off) / 4) {
		b->err = "too many strings";
		return NULL;
	}
	char **v = calloc((size_t)n + 1, sizeof *v);
	if (v == NULL) {
		b->err = "out of memory";
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = get32(b);
		if (b->err || len > b->len - b->off) {
			b->err = "truncated string";
			break;
		}
		if (memchr(b->p + b->off, '\0', len) != NULL) {
			b->err = "string with an embedded NUL";
			break;
		}
		v[i] = malloc((size_t)len + 1);
		if (v[i] == NULL) {
			b->err = "out of memory";
			break;
		}
		get(b, v[i], len);
		v[i][len] = '\0';
	}
	*count = n;
	return v;
}

/* Check the decoded fields against each other. */
static const char *launch_validate(const struct pw_launch *l)
{
	if (l->mode < PW_RUN_COMMAND || l->mode > PW_RUN_STDIN)
		return "unknown run mode";
	if (l->argc < 1)
		return "empty argv";
	if (l->sysargv >= l->argc && !(l->mode == PW_RUN_STDIN && l->sysargv == l->argc))
		return "sys.argv index out of range";
	if (l->mode != PW_RUN_STDIN && (l->payload == 0 || l->payload >= l->argc))
		return "payload index out of range";
	if (l->nfds < 1 || l->nfds > PW_MAX_FDS)
		return "bad fd count";
	if (l->fdnum[0] != -1)
		return "first fd is not the cwd";
	for (uint32_t i = 1; i < l->nfds; i++) {
		if (l->fdnum[i] < 0 || l->fdnum[i] >= (1 << 20))
			return "bad target fd number";
		for (uint32_t j = 1; j < i; j++)
			if (l->fdnum[j] == l->fdnum[i])
				return "duplicate target fd number";
	}
	if (l->nice < -20 || l->nice > 19)
		return "bad nice value";
	if (l->umask > 0777)
		return "bad umask";
	return NULL;
}

/* Parse a launch payload; every length is checked before it is used. */
int pw_launch_decode(struct pw_launch *l, const char *buf, size_t len,
                     char *err, size_t errlen)
{
	struct ibuf b = { .p = buf, .len = len };

	memset(l, 0, sizeof *l);
	for (int i = 0; i < PW_MAX_FDS; i++)
		l->fds[i] = -1;
	l->identity = get64(&b);
	l->mode = get32(&b);
	l->payload = get32(&b);
	l->sysargv = get32(&b);
	l->stdin_dash = get32(&b);
	l->flags = get32(&b);
	l->emul = get32(&b);
	l->umask = get32(&b);
	l->nice = (int32_t)get32(&b);
	l->sig_ignored = get64(&b);
	l->sig_blocked = get64(&b);
	for (int i = 0; i < PW_NRLIMIT; i++) {
		l->rlim_cur[i] = get64(&b);
		l->rlim_max[i] = get64(&b);
	}
	for (int i = 0; i < PW_NNS; i++)
		l->ns_ino[i] = get64(&b);
	l->root_dev = get64(&b);
	l->root_ino = get64(&b);
	l->ngroups = get32(&b);
	if (!b.err && (l->ngroups > PW_MAX_GROUPS || l->ngroups > (len - b.off) / 4))
		b.err = "too many groups";
	if (!b.err && l->ngroups) {
		l->groups = malloc((size_t)l->ngroups * sizeof(uint32_t));
		if (l->groups == NULL)
			b.err = "out of memory";
		get(&b, l->groups, (size_t)l->ngroups * sizeof(uint32_t));
	}
	l->cpuset_len = get32(&b);
	if (!b.err && l->cpuset_len > PW_CPUSET_BYTES)
		b.err = "cpu set too large";
	if (!b.err && l->cpuset_len) {
		l->cpuset = malloc(l->cpuset_len);
		if (l->cpuset == NULL)
			b.err = "out of memory";
		get(&b, l->cpuset, l->cpuset_len);
	}
	if (!b.err)
		l->argv = get_strv(&b, &l->argc);
	if (!b.err)
		l->envp = get_strv(&b, &l->envc);
	l->nfds = get32(&b);
	if (!b.err && (l->nfds > PW_MAX_FDS))
		b.err = "too many fds";
	if (!b.err)
		get(&b, l->fdnum, (size_t)l->nfds * sizeof(int32_t));
	if (!b.err && b.off != len)
		b.err = "trailing bytes in request";
	if (!b.err)
		b.err = launch_validate(l);
	if (b.err) {
		snprintf(err, errlen, "%s", b.err);
		pw_launch_free(l);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Free a string vector of n entries (it may be partly filled). */
static void free_strv(char **v, uint32_t n)
{
	if (v == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Release what pw_launch_decode allocated (not the fds). */
void pw_launch_free(struct pw_launch *l)
{
	free(l->groups);
	free(l->cpuset);
	free_strv(l->argv, l->argc);
	free_strv(l->envp, l->envc);
	l->groups = NULL;
	l->cpuset = NULL;
	l->argv = l->envp = NULL;
	l->argc = l->envc = 0;
}

/* Send one framed message; the fds ride with the header's first byte. */
int pw_send(int sock, uint16_t type, const void *payload, uint32_t len,
            const int *fds, uint32_t nfds)
{
	struct pw_hdr h = { PW_PROTO_MAGIC, PW_PROTO_VERSION, type, len, nfds };
	union {
		char buf[CMSG_SPACE(sizeof(int) * PW_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = {
		{ &h, sizeof h }, { (void *)payload, len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (nfds > PW_MAX_FDS || len > PW_MAX_MSG) {
		errno = E2BIG;
		return -1;
	}
	if (nfds > 0) {
		memset(&u, 0, sizeof u);
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	size_t total = sizeof h + len;
	while (total > 0) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		total -= (size_t)n;
		msg.msg_control = NULL;     /* the fds went with the first byte */
		msg.msg_controllen = 0;
		while (n > 0 && msg.msg_iovlen > 0) {
			size_t take = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + take;
			msg.msg_iov->iov_len -= take;
			n -= (ssize_t)take;
			if (msg.msg_iov->iov_len == 0) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Close every fd in fds[0..n). */
static void close_all(int *fds, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* CLOCK_MONOTONIC in microseconds: the one clock of deadlines. */
long long pw_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Where recv_full reports what it learnt about the sender. */
struct rx {
	long long deadline_us;      /* 0: wait as long as it takes */
	struct ucred *from;         /* NULL: the sender does not matter */
	int have_from;
};

/* Wait until sock is readable or the deadline passes (ETIMEDOUT). */
static int wait_readable(int sock, long long deadline_us)
{
	for (;;) {
		long long left = deadline_us - pw_mono_us();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { sock, POLLIN, 0 };
		int r = poll(&p, 1, (int)((left + 999) / 1000));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Note the credentials of one received chunk; every chunk of a message
 * must come from one process.  0, or -1 (EPROTO). */
static int take_cred(struct rx *rx, const struct cmsghdr *c)
{
	struct ucred cr;
	if (c->cmsg_len < CMSG_LEN(sizeof cr))
		return -1;
	memcpy(&cr, CMSG_DATA(c), sizeof cr);
	if (rx->have_from && (cr.pid != rx->from->pid || cr.uid != rx->from->uid ||
	                      cr.gid != rx->from->gid))
		return -1;
	*rx->from = cr;
	rx->have_from = 1;
	return 0;
}

/* Read exactly len bytes, collecting any fds that arrive; 0 or -1/errno. */
static int recv_full(int sock, void *dst, size_t len, int *fds,
                     uint32_t maxfds, uint32_t *nfds, struct rx *rx)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PW_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} u;
	size_t got = 0;

	while (got < len) {
		struct iovec iov = { (char *)dst + got, len - got };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		                      .msg_control = u.buf, .msg_controllen = sizeof u.buf };
		if (rx->deadline_us > 0 && wait_readable(sock, rx->deadline_us) < 0)
			return -1;
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (rx->deadline_us > 0 ? MSG_DONTWAIT : 0));
		if (n < 0 && (errno == EINTR || (rx->deadline_us > 0 && errno == EAGAIN)))
			continue;
		if (n < 0)
			return -1;
		int bad = (msg.msg_flags & MSG_CTRUNC) != 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				if (rx->from != NULL && n > 0 && take_cred(rx, c) < 0)
					bad = 1;
				continue;
			}
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *in = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, in + i, sizeof fd);
				if (*nfds < maxfds)
					fds[(*nfds)++] = fd;
				else {
					close(fd);
					bad = 1;
				}
			}
		}
		if (bad) {
			errno = EPROTO;
			return -1;
		}
		if (n == 0) {
			errno = got ? EPROTO : ENOMSG;
			return -1;
		}
		if (rx->from != NULL && !rx->have_from) {
			errno = EPROTO;         /* SO_PASSCRED is off: cannot tell who sent it */
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Check a header: magic, version, sizes, and that the fds it announces came. */
int pw_hdr_check(const struct pw_hdr *h, uint32_t nfds_got)
{
	if (h->magic != PW_PROTO_MAGIC) {
		errno = EPROTO;
		return -1;
	}
	if (h->version != PW_PROTO_VERSION) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	if (h->len > PW_MAX_MSG || h->nfds > PW_MAX_FDS || h->nfds != nfds_got) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Receive one framed message, its payload and its fds. */
int pw_recv(int sock, struct pw_hdr *hdr, char **payload,
            int *fds, uint32_t maxfds, uint32_t *nfds)
{
	return pw_recv_from(sock, hdr, payload, fds, maxfds, nfds, 0, NULL);
}

int pw_recv_from(int sock, struct pw_hdr *hdr, char **payload,
                 int *fds, uint32_t maxfds, uint32_t *nfds,
                 long long deadline_us, struct ucred *from)
{
	struct rx rx = { deadline_us, from, 0 };

	*payload = NULL;
	*nfds = 0;
	if (recv_full(sock, hdr, sizeof *hdr, fds, maxfds, nfds, &rx) < 0)
		goto fail;
	if (pw_hdr_check(hdr, *nfds) < 0)
		goto fail;
	*payload = malloc((size_t)hdr->len + 1);
	if (*payload == NULL)
		goto fail;
	uint32_t extra = 0;
	int dummy[1];
	if (recv_full(sock, *payload, hdr->len, dummy, 0, &extra, &rx) < 0) {
		if (errno == ENOMSG)
			errno = EPROTO;
		goto fail;
	}
	(*payload)[hdr->len] = '\0';
	return 0;
fail:;
	int saved = errno;
	close_all(fds, *nfds);
	*nfds = 0;
	free(*payload);
	*payload = NULL;
	errno = saved;
	return -1;
}

/* Send one datagram to a bound unix datagram socket, from a socket of
 * its own (so the sender holds no descriptor before or after).  The
 * receiver learns who sent it from the kernel (SO_PASSCRED), never from
 * the bytes.  wait: block while the receiver's queue is full. */
int pw_dgram_send(const struct sockaddr_un *to, socklen_t tolen,
                  const void *a, size_t alen, const void *b, size_t blen, int wait)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = tolen,
	                      .msg_iov = iov, .msg_iovlen = blen ? 2 : 1 };
	ssize_t n;
	while ((n = sendmsg(fd, &msg, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT))) < 0 && errno == EINTR)
		;
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)(alen + blen) ? 0 : -1;
}

/* Receive one datagram (non-blocking socket with SO_PASSCRED) and its
 * sender.  Returns its length, or -1 (EAGAIN: none waiting; EPROTO: no
 * credentials or truncated). */
ssize_t pw_dgram_recv(int sock, void *buf, size_t cap, struct ucred *from)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	                      .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	int have = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof *from)) {
			memcpy(from, CMSG_DATA(c), sizeof *from);
			have = 1;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, (int *)CMSG_DATA(c) + i, sizeof fd);
				close(fd);      /* nobody sends us descriptors this way */
			}
		}
	}
	if (!have || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		errno = EPROTO;
		return -1;
	}
	return n;
}

int pw_imports_put(char *buf, size_t cap, size_t *used, const char *name, size_t len, uint32_t us)
{
	if (len == 0 || len > PW_IMPORT_NAME_MAX || *used > cap || cap - *used < 5 + len)
		return -1;
	memcpy(buf + *used, &us, 4);
	buf[*used + 4] = (char)(unsigned char)len;
	memcpy(buf + *used + 5, name, len);
	*used += 5 + len;
	return 0;
}

int pw_imports_parse(const char *buf, size_t len, struct pw_import *out, size_t max)
{
	size_t at = 0, n = 0;

	while (at < len) {
		if (n == max || len - at < 5)
			return -1;
		uint32_t us;
		memcpy(&us, buf + at, 4);
		size_t k = (unsigned char)buf[at + 4];
		if (k == 0 || k > PW_IMPORT_NAME_MAX || len - at - 5 < k ||
		    !pw_module_name_valid(buf + at + 5, k))
			return -1;
		out[n].name = buf + at + 5;
		out[n].len = k;
		out[n].us = us;
		n++;
		at += 5 + k;
	}
	return (int)n;
}
