/* proto.h: the pywarm wire protocol, the only code that frames messages or passes fds. */
#ifndef PW_PROTO_H
#define PW_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Every message starts with a fixed 16-byte header whose layout never
 * changes between versions, so that a peer of another version can always
 * read it and answer PW_MSG_REJECT.  Bump PW_PROTO_VERSION on any change to
 * a payload; never reuse a retired message number.
 */
#define PW_PROTO_MAGIC   0x4d525750u    /* "PWRM" little-endian */
#define PW_PROTO_VERSION 2

#define PW_MAX_MSG   (8u << 20)         /* payload bytes, refused above */
#define PW_MAX_FDS   250                /* below the kernel's SCM_MAX_FD (253) */
#define PW_MAX_ARGS  65536              /* argv or env entries */
#define PW_NSIG      64                 /* signals 1..64 in the masks */
#define PW_NRLIMIT   16                 /* RLIMIT_CPU .. RLIMIT_RTTIME */
#define PW_NNS       8                  /* namespaces compared, see pw_ns_names */
#define PW_MAX_GROUPS 65536
#define PW_CPUSET_BYTES 128             /* 1024 CPUs */

enum pw_msg_type {
	/* client -> zygote */
	PW_MSG_LAUNCH      = 1,    /* a run request; no fds (they come with GO) */
	PW_MSG_STATUS_REQ  = 2,    /* pywarmctl: describe yourself */
	PW_MSG_GO          = 3,    /* after TAKEN: the request's fds; the run may start */
	PW_MSG_JUDGE_REQ   = 4,    /* pywarmctl: judge these modules (NUL-terminated names) */
	/* zygote or child -> client */
	PW_MSG_READY       = 16,   /* child set up; user code starts now; pid */
	PW_MSG_FALLBACK    = 17,   /* child cannot reproduce the run: go cold */
	PW_MSG_EXIT        = 18,   /* child's wait status */
	PW_MSG_REJECT      = 19,   /* wrong version or identity: go cold */
	PW_MSG_STATUS      = 20,   /* key=value lines describing the zygote */
	PW_MSG_TAKEN       = 21,   /* a child holds the request; pid; waits for GO */
	PW_MSG_VERDICTS    = 22,   /* "NAME\tVERDICT\n" lines answering JUDGE_REQ */
	/* zygote -> its own pre-forked child (never on the public socket) */
	PW_MSG_HANDOVER    = 32,   /* a client's socket (one fd); struct pw_handover */
};

struct pw_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;       /* payload bytes after the header */
	uint32_t nfds;      /* fds attached to the first byte of the header */
};

/* How the launched program is given, as python3's command line says. */
enum pw_run_mode {
	PW_RUN_COMMAND = 1,  /* -c CMD: argv[payload] is CMD */
	PW_RUN_MODULE  = 2,  /* -m MOD: argv[payload] is MOD */
	PW_RUN_FILE    = 3,  /* script path: argv[payload] is the path */
	PW_RUN_STDIN   = 4,  /* '-' or nothing, stdin not a tty */
};

#define PW_LF_NO_NEW_PRIVS 0x1      /* the caller runs with no_new_privs */

/* python3 options a warm child applies itself, run by run (pw_launch.emul);
 * the launcher finds them in argv, the child never parses argv again. */
enum pw_emul {
	PW_EMUL_UNBUFFERED = 1 << 0,   /* -u */
	PW_EMUL_NOBYTECODE = 1 << 1,   /* -B */
	PW_EMUL_QUIET      = 1 << 2,   /* -q */
	PW_EMUL_INSPECT    = 1 << 3,   /* -i */
	PW_EMUL_SKIPLINE   = 1 << 4,   /* -x */
	PW_EMUL_SAFEPATH   = 1 << 5,   /* -P */
};

/* python3 options a zygote starts with (after "--" on its command line,
 * one word per option or value), at most; more make the run cold. */
#define PW_MAX_ZOPTS 64

/* One launch request: everything the child needs to become the caller. */
struct pw_launch {
	uint64_t identity;          /* must equal the zygote's */
	uint32_t mode;              /* enum pw_run_mode */
	uint32_t payload;           /* index into argv (see pw_run_mode); 0 for stdin */
	uint32_t sysargv;           /* index into argv where sys.argv starts */
	uint32_t stdin_dash;        /* PW_RUN_STDIN: 1 if '-' was given */
	uint32_t flags;             /* PW_LF_* */
	uint32_t emul;              /* enum pw_emul bits */
	uint32_t umask;
	int32_t  nice;
	uint64_t sig_ignored;       /* bit (n-1) set: signal n is SIG_IGN */
	uint64_t sig_blocked;       /* bit (n-1) set: signal n is blocked */
	uint64_t rlim_cur[PW_NRLIMIT];
	uint64_t rlim_max[PW_NRLIMIT];
	uint64_t ns_ino[PW_NNS];    /* /proc/self/ns/<name> inode numbers, 0 = none */
	uint64_t root_dev, root_ino;/* stat("/") of the caller */
	uint32_t ngroups;
	uint32_t *groups;           /* supplementary groups */
	uint32_t cpuset_len;
	uint8_t  *cpuset;           /* sched_getaffinity mask bytes */
	uint32_t argc;
	char   **argv;              /* NULL-terminated; argv[0] is the caller's */
	uint32_t envc;
	char   **envp;              /* NULL-terminated, exactly the caller's environ */
	uint32_t nfds;              /* fds passed: fds[0] is the cwd, then targets */
	int32_t  fdnum[PW_MAX_FDS]; /* fdnum[i]: the number fds[i] must take; -1 = cwd */
	int      fds[PW_MAX_FDS];   /* received descriptors (receiver side) */
};

extern const char *const pw_ns_names[PW_NNS];

/* Encoding/decoding of a launch payload (no I/O); pure functions for tests. */
int  pw_launch_encode(const struct pw_launch *l, char **buf, size_t *len);
int  pw_launch_decode(struct pw_launch *l, const char *buf, size_t len,
                      char *err, size_t errlen);
void pw_launch_free(struct pw_launch *l);

/*
 * One launch, message by message:
 *
 *   launcher                         child (forked, or pooled)
 *   LAUNCH (request, no fds)  ──▶
 *                             ◀──    TAKEN (pid)       or FALLBACK / REJECT
 *   GO (the fds)              ──▶
 *                             ◀──    READY (pid)       user code starts now
 *                             ◀──    EXIT (status)     from the zygote
 *
 * The launcher alone decides whether the run is warm: it sends GO only if
 * TAKEN came in time, else it closes the connection and runs cold.  A
 * child that does not get GO never starts the program, so a run happens
 * exactly once, and no descriptor of the caller waits in a connection
 * that nobody serves.  Each message is judged by who sent it
 * (SCM_CREDENTIALS), not by who connected.
 */

/* Framed I/O.  All return 0 on success, -1 with errno set on failure
 * (EPROTO for a malformed or hostile message, ENOMSG for EOF, ETIMEDOUT
 * when a deadline passed). */
int  pw_send(int sock, uint16_t type, const void *payload, uint32_t len,
             const int *fds, uint32_t nfds);
/* Receive one message.  *payload is malloc'd (caller frees).  Received fds
 * go to fds[0..*nfds) with CLOEXEC set; on error every received fd is closed. */
int  pw_recv(int sock, struct pw_hdr *hdr, char **payload,
             int *fds, uint32_t maxfds, uint32_t *nfds);
int  pw_hdr_check(const struct pw_hdr *h, uint32_t nfds_got);

/* pw_recv with a deadline (CLOCK_MONOTONIC microseconds, 0 = none) for
 * the whole message, and, when from is not NULL, the sender's credentials:
 * the socket must have SO_PASSCRED, and every byte of the message must
 * come from the same process (else EPROTO). */
struct ucred;
int  pw_recv_from(int sock, struct pw_hdr *hdr, char **payload,
                  int *fds, uint32_t maxfds, uint32_t *nfds,
                  long long deadline_us, struct ucred *from);
long long pw_mono_us(void);     /* CLOCK_MONOTONIC in microseconds */

/* Datagrams to a bound unix socket whose owner knows each sender by its
 * kernel-checked credentials (the zygote's notice socket). */
struct sockaddr_un;
int     pw_dgram_send(const struct sockaddr_un *to, socklen_t tolen,
                      const void *a, size_t alen, const void *b, size_t blen, int wait);
ssize_t pw_dgram_recv(int sock, void *buf, size_t cap, struct ucred *from);

/*
 * PW_MSG_STATUS: "key=value" lines, one per key below, in this order.
 * The zygote writes it with pw_status_format and pywarmctl reads it with
 * pw_status_parse; a reader ignores keys it does not know.
 */
enum pw_skey {
	PW_S_PID, PW_S_IDENTITY, PW_S_PROFILE, PW_S_SOURCE, PW_S_INTERPRETER,
	PW_S_STARTED, PW_S_MODULES, PW_S_FAILED, PW_S_FAILED_NAMES, PW_S_LAUNCHES,
	PW_S_RUNNING, PW_S_STATE, PW_S_IDLE, PW_S_PREFORK, PW_S_WARMUP, PW_S_WATCHED,
	PW_S_LEARNED, PW_S_FORKED,
	PW_S_NKEYS
};
extern const char *const pw_status_keys[PW_S_NKEYS];

/* A parsed status: values point into text (NULL for a missing key). */
struct pw_status {
	char *text;
	const char *val[PW_S_NKEYS];
};

/* Write the lines for val[0..PW_S_NKEYS) (NULL: ""; newlines become
 * spaces) into buf; -1 if they do not fit. */
int  pw_status_format(char *buf, size_t len, const char *const val[PW_S_NKEYS]);
/* Split text (modified in place, kept in st->text) into st. */
void pw_status_parse(char *text, struct pw_status *st);

/*
 * A warm run's report of the modules it imported that its zygote had not
 * preloaded (the ZN_IMPORTS notice, see zygote.h): records of a uint32_t
 * import time in microseconds, one byte of name length (1 to
 * PW_IMPORT_NAME_MAX) and the name, a dotted Python identifier.
 */
#define PW_IMPORTS_MAX       256         /* records in one report */
#define PW_IMPORT_NAME_MAX   128
#define PW_IMPORTS_BYTES     (PW_IMPORTS_MAX * (5 + PW_IMPORT_NAME_MAX))
struct pw_import {
	const char *name;          /* not NUL-terminated when decoded: into the buffer */
	size_t len;
	uint32_t us;
};
/* Append one record to buf[0..*used) of cap bytes; 0, or -1 if it does not fit. */
int  pw_imports_put(char *buf, size_t cap, size_t *used, const char *name, size_t len, uint32_t us);
/* Split a report into out[0..max): the count, or -1 if any record is
 * malformed (truncated, a bad name, more than max). */
int  pw_imports_parse(const char *buf, size_t len, struct pw_import *out, size_t max);

/*
 * The warm-up progress a zygote publishes in <sockdir>/<identity>.progress
 * (see pw_zfile) for `pywarmctl start --wait`: one line "<n> <m> <ms> <name>",
 * rewritten in place as each module starts.  Written with
 * pw_progress_format, read with pw_progress_parse.
 */
struct pw_progress {
	size_t n, m;              /* module n of m */
	long long ms;             /* since warm-up began */
	char name[400];           /* the module being imported */
};
/* The line for p into buf: its length, or -1 if it does not fit. */
int  pw_progress_format(char *buf, size_t len, const struct pw_progress *p);
/* Parse a line as written above into p: 0, or -1 if it is not one. */
int  pw_progress_parse(const char *line, struct pw_progress *p);

/* Small fixed payloads. */
struct pw_ready  { int32_t pid; };      /* READY and TAKEN */
struct pw_exit   { int32_t status; };    /* as from waitpid() */
struct pw_handover { uint64_t launches, running, forked; };  /* the zygote's counters now */

#endif
