/* fuzz_request.c: libFuzzer harness for the zygote's request path: framing (pw_recv over a real socket) and pw_launch_decode. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

/* Bytes written into one socketpair per input; larger inputs only go to the decoder. */
#define FRAME_MAX 32768

/* An accepted request must survive a round trip through the encoder unchanged. */
static void check_round_trip(const struct pw_launch *l)
{
	static struct pw_launch again;
	char *buf, err[256];
	size_t len;

	if (pw_launch_encode(l, &buf, &len) < 0)
		abort();
	if (pw_launch_decode(&again, buf, len, err, sizeof err) < 0)
		abort();
	if (again.argc != l->argc || again.envc != l->envc || again.nfds != l->nfds ||
	    again.mode != l->mode || again.identity != l->identity)
		abort();
	for (uint32_t i = 0; i < l->argc; i++)
		if (strcmp(again.argv[i], l->argv[i]) != 0)
			abort();
	if (l->argv[l->argc] != NULL || l->envp[l->envc] != NULL)
		abort();
	pw_launch_free(&again);
	free(buf);
}

/* The payload alone, as pw_launch_decode sees it after framing. */
static void fuzz_decode(const uint8_t *data, size_t size)
{
	static struct pw_launch l;
	char err[256];

	if (pw_launch_decode(&l, (const char *)data, size, err, sizeof err) == 0) {
		check_round_trip(&l);
		pw_launch_free(&l);
	} else if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0') {
		abort();        /* every refusal comes with a message */
	}
}

/* The whole byte stream a client could send, through pw_recv on a socket. */
static void fuzz_frame(const uint8_t *data, size_t size)
{
	static struct pw_launch l;
	int sv[2], fds[PW_MAX_FDS];
	struct pw_hdr h;
	char *payload, err[256];
	uint32_t nfds;

	if (size > FRAME_MAX || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	int bufsz = 2 * FRAME_MAX;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	if (pw_recv(sv[1], &h, &payload, fds, PW_MAX_FDS, &nfds) == 0) {
		if (nfds != 0 || h.len > size)
			abort();
		if (h.type == PW_MSG_LAUNCH && pw_launch_decode(&l, payload, h.len, err, sizeof err) == 0)
			pw_launch_free(&l);
		free(payload);
	} else if (payload != NULL || nfds != 0) {
		abort();        /* a failed receive leaves nothing behind */
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_frame(data, size);
	return 0;
}
