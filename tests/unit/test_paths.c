/* test_paths.c: unit tests for directories and files (socket, state, XDG, private files, zygote file names) and the /proc readers. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"
#include "procfs.h"
#include "tree.h"
#include "unit.h"

/* ---- directories ------------------------------------------------------ */

/* Call pw_sockdir and compare the result and the message. */
static void sockdir_is(int create, int want_r, const char *want_out, const char *want_err, int line)
{
	char out[512] = "", err[512] = "";
	int r = pw_sockdir(out, sizeof(out), create, err, sizeof(err));

	if (r != want_r || strcmp(out, want_out) != 0 || strcmp(err, want_err) != 0)
		unit_fail(__FILE__, line, "sockdir gave %d \"%s\" \"%s\", want %d \"%s\" \"%s\"",
		          r, out, err, want_r, want_out, want_err);
}
#define SOCKDIR_IS(c, r, out, err) sockdir_is(c, r, out, err, __LINE__)

TEST(sockdir_checks)
{
	char dir[512], msg[700];
	struct stat st;
	mode_t old;

	reset_tree();
	clean_env();
	CHECK(mkdir(tp(0, "rt"), 0700) == 0);
	setenv("XDG_RUNTIME_DIR", tp(0, "rt"), 1);
	snprintf(dir, sizeof(dir), "%s/rt/pywarm", tmproot);

	snprintf(msg, sizeof(msg), "socket directory %s: No such file or directory", dir);
	SOCKDIR_IS(0, -1, dir, msg);
	old = umask(0277);              /* the directory is 0700 whatever the umask */
	SOCKDIR_IS(1, 0, dir, "");
	umask(old);
	CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	SOCKDIR_IS(1, 0, dir, "");
	SOCKDIR_IS(0, 0, dir, "");

	CHECK(chmod(dir, 0755) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: mode 0755 allows group or other access", dir);
	SOCKDIR_IS(1, -1, dir, msg);
	CHECK(chmod(dir, 0701) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: mode 0701 allows group or other access", dir);
	SOCKDIR_IS(0, -1, dir, msg);
	CHECK(chmod(dir, 0700) == 0);
	if (geteuid() == 0) {
		CHECK(chown(dir, 12345, 0) == 0);
		snprintf(msg, sizeof(msg), "socket directory %s: owned by uid 12345, not 0", dir);
		SOCKDIR_IS(1, -1, dir, msg);
	}
	CHECK(rmdir(dir) == 0);
	CHECK(mkdir(tp(0, "private"), 0700) == 0);
	CHECK(symlink(tp(0, "private"), dir) == 0);
	snprintf(msg, sizeof(msg), "socket directory %s: is a symbolic link", dir);
	SOCKDIR_IS(1, -1, dir, msg);
	CHECK(unlink(dir) == 0);
	write_file(dir, "", 0600);
	snprintf(msg, sizeof(msg), "socket directory %s: not a directory", dir);
	SOCKDIR_IS(1, -1, dir, msg);
}

TEST(sockdir_fallback)
{
	char tmpdir[64], out[8], err[256];

	reset_tree();
	clean_env();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pywarm-%u", (unsigned)geteuid());
	{
		char o[512] = "";
		setenv("XDG_RUNTIME_DIR", "rt", 1);          /* relative: ignored */
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		setenv("XDG_RUNTIME_DIR", tp(0, "missing"), 1);
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		unsetenv("XDG_RUNTIME_DIR");
		pw_sockdir(o, sizeof(o), 0, NULL, 0);
		CHECK_STREQ(o, tmpdir);
		setenv("XDG_RUNTIME_DIR", "/proc/", 1);
		CHECK_INTEQ(pw_sockdir(o, sizeof(o), 1, err, sizeof(err)), -1);
		CHECK_STREQ(o, "/proc/pywarm");
		CHECK(strncmp(err, "cannot create socket directory /proc/pywarm: ",
		              strlen("cannot create socket directory /proc/pywarm: ")) == 0);
		unsetenv("XDG_RUNTIME_DIR");
	}
	CHECK_INTEQ(pw_sockdir(out, sizeof(out), 0, err, sizeof(err)), -1);
	CHECK_STREQ(err, "socket directory: path too long");
}

TEST(statedir)
{
	char out[512], err[512] = "", want[600];
	struct stat st;

	reset_tree();
	clean_env();
	setenv("XDG_STATE_HOME", tp(0, "st/deep"), 1);
	snprintf(want, sizeof(want), "%s/st/deep/pywarm", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 0, err, sizeof(err)), -1);
	CHECK_STREQ(out, want);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);
	CHECK_STREQ(out, want);
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK(stat(tp(0, "st"), &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);

	setenv("XDG_STATE_HOME", "rel", 1);           /* relative: ignored */
	snprintf(want, sizeof(want), "%s/home/.local/state/pywarm", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), 0);
	CHECK_STREQ(out, want);
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode));

	unsetenv("XDG_STATE_HOME");
	write_file(tp(0, "file"), "", 0600);
	setenv("HOME", tp(0, "file"), 1);
	snprintf(want, sizeof(want), "cannot create state directory %s/file/.local: Not a directory", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	unsetenv("HOME");
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, "state directory: neither XDG_STATE_HOME nor HOME is an absolute path");

	/* Never a symbolic link, never one others can write, never another user's. */
	CHECK(mkdir(tp(0, "sl"), 0700) == 0 && mkdir(tp(0, "target"), 0700) == 0);
	CHECK(symlink(tp(0, "target"), tp(1, "sl/pywarm")) == 0);
	setenv("XDG_STATE_HOME", tp(0, "sl"), 1);
	snprintf(want, sizeof(want), "state directory %s/sl/pywarm: is a symbolic link", tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(unlink(tp(0, "sl/pywarm")) == 0 && mkdir(tp(0, "sl/pywarm"), 0700) == 0);
	CHECK(chmod(tp(0, "sl/pywarm"), 0777) == 0);
	snprintf(want, sizeof(want), "state directory %s/sl/pywarm: mode 0777 lets group or others write to it",
	         tmproot);
	CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	if (geteuid() == 0) {
		CHECK(chmod(tp(0, "sl/pywarm"), 0700) == 0 && chown(tp(0, "sl/pywarm"), 12345, 12345) == 0);
		snprintf(want, sizeof(want), "state directory %s/sl/pywarm: owned by uid 12345, not 0", tmproot);
		CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
		/* Nothing is made inside another user's directory. */
		CHECK(chown(tp(0, "sl"), 12345, 12345) == 0 && rmdir(tp(0, "sl/pywarm")) == 0);
		snprintf(want, sizeof(want), "cannot create state directory %s/sl/pywarm: its parent is owned by uid 12345",
		         tmproot);
		CHECK_INTEQ(pw_statedir(out, sizeof(out), 1, err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
	}
	clean_env();
}

TEST(private_files)
{
	char err[2048] = "", want[2048];
	int fd;

	reset_tree();
	CHECK(mkdir(tp(0, "d"), 0700) == 0);
	fd = pw_private_open("log directory", tp(1, "d/log"), 0, 0, O_WRONLY | O_APPEND | O_CREAT, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	write_file(tp(0, "victim"), "keep\n", 0600);
	CHECK(symlink(tp(0, "victim"), tp(1, "d/link")) == 0);
	snprintf(want, sizeof(want), "cannot open %s/d/link: is a symbolic link", tmproot);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/link"), 0, 0, O_WRONLY | O_APPEND, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(link(tp(0, "victim"), tp(1, "d/hard")) == 0);
	snprintf(want, sizeof(want), "refusing %s/d/hard: has 2 hard links", tmproot);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/hard"), 0, 0, O_WRONLY | O_APPEND, err, sizeof(err)), -1);
	CHECK_STREQ(err, want);
	CHECK(mkfifo(tp(0, "d/fifo"), 0600) == 0);       /* and does not hang */
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/fifo"), 0, 0, O_RDONLY, err, sizeof(err)), -1);
	CHECK(chmod(tp(0, "d"), 01777) == 0);
	CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/log"), 0, 0, O_WRONLY, err, sizeof(err)), -1);
	fd = pw_private_open("log directory", tp(1, "d/log"), PW_DIR_STICKY_OK, 0, O_WRONLY, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	if (geteuid() == 0) {
		CHECK(chown(tp(0, "d/log"), 12345, 12345) == 0);
		snprintf(want, sizeof(want), "refusing %s/d/log: owned by uid 12345, not 0", tmproot);
		CHECK_INTEQ(pw_private_open("log directory", tp(1, "d/log"), PW_DIR_STICKY_OK, 0, O_WRONLY,
		                            err, sizeof(err)), -1);
		CHECK_STREQ(err, want);
	}
	CHECK_STREQ(unit_slurp(tp(0, "victim")), "keep\n");
}

/* mkdir -p: each missing directory 0700 whatever the umask, existing ones
 * left as they are, never inside another user's, absolute paths only. */
TEST(mkdir_p)
{
	char err[2048] = "", want[2048];
	struct stat st;
	mode_t old = umask(0177);     /* takes the owner's x bit: made back to 0700 */

	reset_tree();
	CHECK(mkdir(tp(0, "open"), 0775) == 0 && chmod(tp(0, "open"), 0775) == 0);
	CHECK_INTEQ(pw_mkdir_p("profile directory", tp(0, "open/a/b/c"), err, sizeof err), 0);
	CHECK(stat(tp(0, "open/a/b/c"), &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(stat(tp(0, "open/a"), &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(stat(tp(0, "open"), &st) == 0 && (st.st_mode & 07777) == 0775);   /* not ours to change */
	CHECK_INTEQ(pw_mkdir_p("profile directory", tp(0, "open/a/b/c"), err, sizeof err), 0);
	CHECK_INTEQ(pw_mkdir_p("profile directory", "rel/dir", err, sizeof err), -1);
	CHECK_STREQ(err, "cannot create profile directory rel/dir: not an absolute path that fits");
	write_file(tp(0, "file"), "x\n", 0600);
	CHECK_INTEQ(pw_mkdir_p("profile directory", tp(0, "file/sub"), err, sizeof err), -1);
	snprintf(want, sizeof want, "cannot create profile directory %s/file/sub: Not a directory", tmproot);
	CHECK_STREQ(err, want);
	if (geteuid() == 0) {
		CHECK(mkdir(tp(0, "theirs"), 0777) == 0 && chown(tp(0, "theirs"), 12345, 12345) == 0);
		CHECK_INTEQ(pw_mkdir_p("profile directory", tp(0, "theirs/x"), err, sizeof err), -1);
		snprintf(want, sizeof want, "cannot create profile directory %s/theirs/x: its parent is owned by uid 12345",
		         tmproot);
		CHECK_STREQ(err, want);
		CHECK(access(tp(0, "theirs/x"), F_OK) < 0);
	}
	umask(old);
}

/* /proc/PID/stat: the pid, the state letter, the parent, the thread count. */
TEST(proc_stat)
{
	unsigned long long f[20];
	CHECK_INTEQ(pw_proc_stat(0, f, 20), 20);
	CHECK(f[0] == (unsigned long long)getpid());
	CHECK(f[2] == 'R');
	CHECK(f[3] == (unsigned long long)getppid());
	CHECK(f[19] == 1);
	CHECK_INTEQ(pw_proc_stat(getppid(), f, 4), 4);
	CHECK(f[0] == (unsigned long long)getppid());
	CHECK_INTEQ(pw_proc_stat(0x7ffffff0, f, 4), -1);
}

/* One owner for XDG bases: absolute values win, relative ones fall back
 * to HOME's default, and without either it says which variable. */
TEST(xdg_dirs)
{
	char out[PATH_MAX], err[256], home[PATH_MAX];

	snprintf(home, sizeof home, "%s", getenv("HOME"));
	setenv("XDG_DATA_HOME", "/data/", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, sizeof out, err, sizeof err), 0);
	CHECK_STREQ(out, "/data/pywarm");
	setenv("XDG_DATA_HOME", "relative", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, sizeof out, err, sizeof err), 0);
	CHECK(strncmp(out, home, strlen(home)) == 0 && strcmp(out + strlen(home), "/.local/share/pywarm") == 0);
	unsetenv("XDG_DATA_HOME");
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_CONFIG, out, sizeof out, err, sizeof err), 0);
	CHECK(strcmp(out + strlen(home), "/.config/pywarm") == 0);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_STATE, out, sizeof out, err, sizeof err), 0);
	CHECK(strcmp(out + strlen(home), "/.local/state/pywarm") == 0);
	setenv("HOME", "nothome", 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_STATE, out, sizeof out, err, sizeof err), -1);
	CHECK_STREQ(err, "state directory: neither XDG_STATE_HOME nor HOME is an absolute path");
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, 8, err, sizeof err), -1);
	setenv("HOME", home, 1);
	CHECK_INTEQ(pw_xdg_dir(PW_XDG_DATA, out, 8, err, sizeof err), -1);
	CHECK_STREQ(err, "trust store: path too long");
}

/* "Key: value" fields of /proc/PID files. */
TEST(proc_fields)
{
	CHECK_INTEQ(pw_proc_field(0, "status", "Pid:"), getpid());
	CHECK_INTEQ(pw_proc_field(getpid(), "status", "PPid:"), getppid());
	CHECK(pw_proc_field(0, "status", "VmRSS:") > 0);
	CHECK_INTEQ(pw_proc_field(0, "status", "NoSuchKey:"), -1);
	CHECK_INTEQ(pw_proc_field(0, "no-such-file", "Pid:"), -1);
	CHECK_INTEQ(pw_proc_field(0, "status", "Name:"), -1);     /* not a number */
}

/* Zygote file names: one suffix per kind, and too long a path refused. */
TEST(zygote_files)
{
	char out[64];

	CHECK_INTEQ(pw_zfile(out, sizeof out, "/run/x", "0123456789abcdef", PW_ZSOCK), 0);
	CHECK_STREQ(out, "/run/x/0123456789abcdef.sock");
	CHECK_INTEQ(pw_zfile(out, sizeof out, "/s", "0123456789abcdef", PW_ZPROGRESS), 0);
	CHECK_STREQ(out, "/s/0123456789abcdef.progress");
	CHECK_STREQ(pw_zfile_suffix(PW_ZLOCK), ".lock");
	CHECK_STREQ(pw_zfile_suffix(PW_ZNOTICE), ".notice");
	CHECK_STREQ(pw_zfile_suffix(PW_ZLOG), ".log");
	errno = 0;
	CHECK_INTEQ(pw_zfile(out, 20, "/run/x", "0123456789abcdef", PW_ZLOG), -1);
	CHECK_INTEQ(errno, ENAMETOOLONG);
}

int main(void)
{
	if (tree_init("paths") < 0)
		return 2;
	RUN(sockdir_checks);
	RUN(sockdir_fallback);
	RUN(statedir);
	RUN(private_files);
	RUN(mkdir_p);
	RUN(proc_stat);
	RUN(xdg_dirs);
	RUN(proc_fields);
	RUN(zygote_files);
	tree_done();
	return unit_summary();
}
