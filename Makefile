# Makefile: builds pywarm, pywarmctl and pywarm-zygote; runs the tests and the benchmark.

PYTHON   ?= python3
BUILDDIR ?= build
# One spelling of every target (the compiler's dependency files name the
# object as it was spelled): a build run once as BUILDDIR=build and once as
# BUILDDIR=/abs/build (the tests' staged installs) keeps tracking headers.
override BUILDDIR := $(abspath $(BUILDDIR))
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc

# The interpreter pywarm stands in for, resolved once at build time to the
# real executable (a pyenv shim resolves to the version's bin/python3).
PYREAL := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
ifeq ($(PYREAL),)
$(error cannot run $(PYTHON) to find the interpreter to embed)
endif
PYCONFIG := $(firstword $(wildcard $(PYREAL)-config $(dir $(PYREAL))python3-config))
ifneq ($(PYCONFIG),)
PY_CFLAGS  := $(shell $(PYCONFIG) --includes)
PY_LDFLAGS := $(shell $(PYCONFIG) --embed --ldflags)
else
PY_CFLAGS  := $(shell pkg-config --cflags python3-embed)
PY_LDFLAGS := $(shell pkg-config --libs python3-embed)
endif
PY_LIBDIR := $(shell $(PYREAL) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
PY_MULTIARCH := $(shell $(PYREAL) -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH") or "")')
PY_CFLAGS := $(patsubst -I%,-isystem %,$(PY_CFLAGS))
# The interpreter's library directory, unless the dynamic linker searches it
# anyway (a Debian package must not carry an rpath to /usr/lib/<triplet>).
PY_RPATH  ?= $(if $(filter /lib /usr/lib /lib/$(PY_MULTIARCH) /usr/lib/$(PY_MULTIARCH),$(PY_LIBDIR)),,-Wl,-rpath,$(PY_LIBDIR))
PY_LDFLAGS += $(PY_RPATH)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS  ?= -O2 -g
# Every binary sees config/ (what they share) and only its own folder.
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iconfig
CFLAGS  += -DPW_PYTHON='"$(PYREAL)"'
PYVERSION := $(shell $(PYREAL) -c 'import platform; print(platform.python_version())')
CFLAGS  += -DPW_PYVERSION='"$(PYVERSION)"'
LDLIBS_INIH := -linih
# libseccomp: every binary parses profiles, which name system calls.  The
# launcher links it too (it confines a cold run before exec'ing python3).
LDLIBS_SECCOMP := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
# The launcher runs on every launch and uses either library only now and
# then (a profile to parse, a cold run to confine): it links both
# statically, so that the dynamic loader neither maps nor relocates them
# each time (11 page faults and 51,000 instructions of 442,000 per warm
# launch); their code is read in only when it runs.
LDLIBS_LAUNCHER := -Wl,-Bstatic $(LDLIBS_INIH) $(LDLIBS_SECCOMP) -Wl,-Bdynamic

COMMON_SRC   := config/proto.c config/profile.c config/identity.c config/paths.c config/interp.c config/stamp.c \
                config/trust.c config/sandbox.c config/confine.c config/spawn.c config/procfs.c config/learn.c \
                config/token.c config/log.c
LAUNCHER_SRC := launcher/main.c launcher/conn.c launcher/sig.c launcher/util.c launcher/args.c
CTL_SRC      := launcher/ctl.c launcher/ctl_profile.c launcher/ctl_shell.c launcher/conn.c launcher/util.c \
                launcher/ctl_sandbox.c launcher/ctl_learn.c launcher/ctl_interp.c
ZYGOTE_SRC   := zygote/main.c zygote/listen.c zygote/child.c zygote/py.c zygote/log.c \
                zygote/warm.c zygote/sd.c zygote/repl.c zygote/watch.c
ZYGOTE_SRC   += zygote/tty.c
ZYGOTE_SRC   += zygote/pool.c
ZYGOTE_SRC   += zygote/cgroup.c zygote/proctitle.c
ZYGOTE_SRC   += zygote/envwatch.c zygote/learn.c
ZYGOTE_SRC   += zygote/teardown.c zygote/run.c zygote/sysread.c zygote/cheld.c
ZYGOTE_SRC   += zygote/plan.c zygote/observe.c

OBJ = $(patsubst %.c,$(BUILDDIR)/obj/%.o,$(1))

all: $(BUILDDIR)/pywarm $(BUILDDIR)/pywarmctl $(BUILDDIR)/pywarm-zygote

# Every object depends on exactly the headers it includes (-MMD writes the
# list next to it, -MP keeps a removed header from breaking the build).
DEPFLAGS = -MMD -MP

$(BUILDDIR)/obj/config/%.o: config/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILDDIR)/obj/launcher/%.o: launcher/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilauncher $(DEPFLAGS) -c -o $@ $<

# The zygote's objects see Python.h; nothing else does.
$(BUILDDIR)/obj/zygote/%.o: zygote/%.c $(BUILDDIR)/gen/bootstrap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Izygote $(PY_CFLAGS) -I$(BUILDDIR)/gen $(DEPFLAGS) -c -o $@ $<

$(BUILDDIR)/gen/bootstrap.h: zygote/bootstrap.py
	@mkdir -p $(dir $@)
	$(PYREAL) -c 'import sys; d=open(sys.argv[1],"rb").read(); print("static const char pw_bootstrap_src[] = {" + ",".join(str(b) for b in d) + ",0};")' $< > $@.tmp && mv $@.tmp $@

# The shell integration texts, compiled into pywarmctl (shell-init prints them).
SHELL_TEXT := shell/pywarm.bash shell/pywarm.zsh shell/pywarm.fish \
	shell/completion/pywarmctl.bash shell/completion/_pywarmctl shell/completion/pywarmctl.fish \
	shell/path.sh shell/path.fish

$(BUILDDIR)/gen/shell.h: $(SHELL_TEXT)
	@mkdir -p $(dir $@)
	$(PYREAL) -c 'import os, re, sys; [print("static const char pw_sh_%s[] = {%s,0};" % (re.sub(r"\W", "_", os.path.basename(f)), ",".join(str(b) for b in open(f, "rb").read()))) for f in sys.argv[1:]]' $^ > $@.tmp && mv $@.tmp $@

$(BUILDDIR)/obj/launcher/ctl_shell.o: launcher/ctl_shell.c $(BUILDDIR)/gen/shell.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilauncher -I$(BUILDDIR)/gen $(DEPFLAGS) -c -o $@ $<

-include $(shell find $(BUILDDIR)/obj -name '*.d' 2>/dev/null)

# config/ is one static library that every binary links.
CONFIG_LIB := $(BUILDDIR)/libpwconfig.a
$(CONFIG_LIB): $(call OBJ,$(COMMON_SRC))
	rm -f $@
	$(AR) rcs $@ $^

$(BUILDDIR)/pywarm: $(call OBJ,$(LAUNCHER_SRC)) $(CONFIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_LAUNCHER)

$(BUILDDIR)/pywarmctl: $(call OBJ,$(CTL_SRC)) $(CONFIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_INIH) $(LDLIBS_SECCOMP)

$(BUILDDIR)/pywarm-zygote: $(call OBJ,$(ZYGOTE_SRC)) $(CONFIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_INIH) $(LDLIBS_SECCOMP) $(PY_LDFLAGS)

# ---- tests -------------------------------------------------------------
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
UNIT_TESTS := test_proto test_profile test_identity test_paths test_sd test_sandbox test_trust test_spawn test_args \
              test_learn test_interp test_token test_log
UNIT_EXTRA_test_args := launcher/args.c
# The interpreter tests make up an installation's zygote directory of their own.
$(BUILDDIR)/unit/test_interp: CFLAGS += -DPW_ZYGOTEDIR_REL='"$(abspath $(BUILDDIR))/unit/interp-zygotes"'

$(BUILDDIR)/unit/%: tests/unit/%.c $(COMMON_SRC) $(wildcard config/*.h) tests/unit/unit.h tests/unit/tree.h \
                   $(wildcard launcher/args.[ch])
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Ilauncher -o $@ $< $(COMMON_SRC) $(UNIT_EXTRA_$*) $(LDLIBS_INIH) $(LDLIBS_SECCOMP)


# sd.c is the zygote's, but needs nothing of Python.
$(BUILDDIR)/unit/test_sd: tests/unit/test_sd.c zygote/sd.c zygote/zygote.h $(wildcard config/*.h) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Izygote -o $@ $< zygote/sd.c

unit: $(addprefix $(BUILDDIR)/unit/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t"; $$t || exit 1; done

# libFuzzer harnesses (clang) for the request decoder, the profile parser and the status text.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_SMOKE   ?= 10
FUZZERS      := fuzz_request fuzz_profile fuzz_status
FUZZ_FLAGS   := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILDDIR)/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(wildcard config/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -o $@ $< $(COMMON_SRC) $(LDLIBS_INIH) $(LDLIBS_SECCOMP)

fuzz: $(addprefix $(BUILDDIR)/fuzz/,$(FUZZERS))
	sh tests/fuzz/run.sh $(BUILDDIR)/fuzz $(FUZZ_SECONDS)

fuzz-smoke: $(addprefix $(BUILDDIR)/fuzz/,$(FUZZERS))
	sh tests/fuzz/run.sh $(BUILDDIR)/fuzz $(FUZZ_SMOKE)

# The end-to-end suite runs under Debian's python3 (python3-pytest) and
# compares the built binaries against $(PYREAL).  A build against
# /usr/bin/python3 serves the cases that need Debian's packages (numpy) or
# a second user (root's home is unreadable to others).  The differential
# cases run against both interpreters of the machine: first the build for
# /usr/bin/python3, then the whole suite.  The differential files hold only
# programs run under both interpreters, each in directories of its own:
# they run $(E2E_JOBS) at a time (pytest-xdist, when installed; each worker
# has a session tree and zygote of its own).  The other files hold
# deadlines, load, second users and the system's package and service
# managers, and run one at a time.  Then the differential files run once
# more under a user profile that learned (tests/e2e/learned_profile.sh:
# `pywarmctl learn --write` after runs of tests/bench_learn.py), whose
# zygote preloads 29 more modules.  The closing line adds up the four
# runs (tests/e2e/summary.py reads their JUnit reports).
E2E_JOBS ?= 2
E2E_PARALLEL = $(addprefix tests/e2e/,test_diff.py test_imports.py test_finalize.py \
                 test_options.py test_envident.py test_learn.py)
E2E_XDIST := $(shell /usr/bin/python3 -c 'import xdist' 2>/dev/null && printf '%s' '-n $(E2E_JOBS)')
E2E_REPORTS = $(BUILDDIR)/e2e-reports
PYTEST = /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider

check: all unit fuzz-smoke
	$(MAKE) PYTHON=/usr/bin/python3 BUILDDIR=$(BENCH_DEB) all
	rm -rf $(E2E_REPORTS) && mkdir -p $(E2E_REPORTS)
	deb=0 diff=0 rest=0 learned=0; \
	PYWARM_BUILDDIR=$(abspath $(BENCH_DEB)) PYWARM_REAL_PYTHON=/usr/bin/python3 \
	  $(PYTEST) $(E2E_XDIST) --junitxml=$(E2E_REPORTS)/deb.xml $(E2E_PARALLEL) || deb=$$?; \
	export PYWARM_BUILDDIR=$(abspath $(BUILDDIR)) PYWARM_REAL_PYTHON=$(PYREAL) \
	  PYWARM_DEB_BUILDDIR=$(abspath $(BENCH_DEB)); \
	$(PYTEST) $(E2E_XDIST) --junitxml=$(E2E_REPORTS)/diff.xml $(E2E_PARALLEL) || diff=$$?; \
	$(PYTEST) --junitxml=$(E2E_REPORTS)/rest.xml $(addprefix --ignore=,$(E2E_PARALLEL)) tests/e2e || rest=$$?; \
	sh tests/e2e/learned_profile.sh $(abspath $(BUILDDIR)) $(E2E_REPORTS)/learned.ini && \
	  PYWARM_TEST_USER_PROFILE=$(E2E_REPORTS)/learned.ini \
	  $(PYTEST) $(E2E_XDIST) --junitxml=$(E2E_REPORTS)/learned.xml $(E2E_PARALLEL) || learned=$$?; \
	/usr/bin/python3 tests/e2e/summary.py $$deb $$diff $$rest $$learned -- \
	  $(E2E_REPORTS)/deb.xml $(E2E_REPORTS)/diff.xml $(E2E_REPORTS)/rest.xml $(E2E_REPORTS)/learned.xml

# CPython's own regression tests, in-process in warm children, against the
# real interpreter: the pass/fail of each module must agree (minutes; not in check).
check-cpython: all
	$(PYREAL) tests/cpython/run.py $(abspath $(BUILDDIR)) $(PYREAL) $(MODULES)

# The main job: a stdlib-heavy program, cold under python3 and warm under pywarm.
demo: all
	PYWARM_BUILDDIR=$(abspath $(BUILDDIR)) PYWARM_REAL_PYTHON=$(PYREAL) sh tests/demo.sh

# 10,000 mixed launches from 32 concurrent clients; then no leak in the zygote.
STRESS_LAUNCHES ?= 10000
STRESS_CLIENTS  ?= 32
stress: all
	PYWARM_BUILDDIR=$(abspath $(BUILDDIR)) PYWARM_REAL_PYTHON=$(PYREAL) \
	  /usr/bin/python3 tests/stress.py --launches $(STRESS_LAUNCHES) --clients $(STRESS_CLIENTS)

# The pandas rows need a build against Debian's python3 (python3-pandas);
# the chart of the medians and ratios goes to $(BUILDDIR)/bench.png (gnuplot).
BENCH_DEB ?= $(BUILDDIR)-deb
bench: all $(BUILDDIR)/bench_interp
	$(MAKE) PYTHON=/usr/bin/python3 BUILDDIR=$(BENCH_DEB) all
	PYWARM_BUILDDIR=$(abspath $(BUILDDIR)) PYWARM_REAL_PYTHON=$(PYREAL) \
	  PYWARM_DEB_BUILDDIR=$(abspath $(BENCH_DEB)) PYWARM_BENCH_CHART=$(abspath $(BUILDDIR))/bench.png \
	  sh tests/bench.sh
	$(MAKE) --no-print-directory bench-interp

# What choosing the interpreter costs a launch, per way of choosing it (the
# caller's PATH; the budget is 50 microseconds), measured from a staged
# installation's bin directory (a build directory does not look at PATH).
bench-interp: $(BUILDDIR)/bench_interp
	@d=$$(mktemp -d) && mkdir -p $$d/a/b/c/d $$d/bin $$d/lib/pywarm/zygote && echo system > $$d/.python-version && \
	  cp $(BUILDDIR)/bench_interp $$d/bin/ && ln -s $(abspath $(BUILDDIR))/pywarm-zygote $$d/bin/ && \
	  if [ -x $(BENCH_DEB)/pywarm-zygote ]; then t=$$($(BENCH_DEB)/pywarm-zygote --tag) && \
	    mkdir $$d/lib/pywarm/zygote/$$t && ln -s $(abspath $(BENCH_DEB))/pywarm-zygote $$d/lib/pywarm/zygote/$$t/ && \
	    ln -s $$t $$d/lib/pywarm/zygote/$${t##*-}; fi && \
	  $(PYREAL) -m venv --without-pip $$d/venv && \
	  echo && echo "## Interpreter resolution (best of 5 x 20000 calls)" && echo && \
	  echo "| chosen by | served | per call |" && echo "|---|---|---|" && \
	  (cd $$d && env -u PYENV_VERSION -u VIRTUAL_ENV $$d/bin/bench_interp) && \
	  (cd $$d/a/b/c/d && env -u PYENV_VERSION -u VIRTUAL_ENV $$d/bin/bench_interp) && \
	  (cd $$d && env -u VIRTUAL_ENV PYENV_VERSION=$(PYVERSION) $$d/bin/bench_interp) && \
	  (cd $$d && VIRTUAL_ENV=$$d/venv $$d/bin/bench_interp) && \
	  (cd $$d && env -u PYENV_VERSION -u VIRTUAL_ENV PATH=/usr/bin:/bin $$d/bin/bench_interp); \
	  rc=$$?; rm -rf $$d; exit $$rc

$(BUILDDIR)/bench_interp: tests/bench_interp.c $(call OBJ,$(COMMON_SRC))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_INIH) $(LDLIBS_SECCOMP)

# ---- install -------------------------------------------------------------
# The three programs stay together in $(BINDIR): pywarm and pywarmctl find
# pywarm-zygote beside themselves; it embeds $(PYTHON).  Each other
# interpreter named in PYTHONS gets a zygote binary of its own, built in its
# own build directory and installed as $(ZYGOTEDIR)/<tag>/pywarm-zygote,
# where <tag> (pywarm-zygote --tag) is its version and a hash of its
# resolved path, with a link named by the hash alone: the launcher looks it
# up by the interpreter a run means.  A launcher whose $(ZYGOTEDIR) exists
# (always, once installed) finds that interpreter on PATH and through pyenv;
# one in a build directory stands in for $(PYTHON) alone.  Completion goes where bash-completion,
# zsh and fish look; the user units get the installed path of the zygote.
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
# python and python3 links to pywarm, for the front of PATH (`pywarmctl
# shell-init --path`); pywarmctl knows this directory relative to BINDIR.
LINKDIR     ?= $(PREFIX)/lib/pywarm/bin
LINKDIR_REL := $(shell realpath -m --relative-to=$(BINDIR) $(LINKDIR))
$(BUILDDIR)/obj/launcher/ctl_shell.o: CFLAGS += -DPW_LINKDIR_REL='"$(LINKDIR_REL)"'
PYTHONS     ?= $(PYTHON)
ZYGOTEDIR   ?= $(PREFIX)/lib/pywarm/zygote
ZYGOTEDIR_REL := $(shell realpath -m --relative-to=$(BINDIR) $(ZYGOTEDIR))
$(BUILDDIR)/obj/config/interp.o: CFLAGS += -DPW_ZYGOTEDIR_REL='"$(ZYGOTEDIR_REL)"'

# The zygote binary of every interpreter in PYTHONS but $(PYTHON), into
# $(DESTDIR)$(ZYGOTEDIR)/<tag>/.
install-zygotes: all
	install -d $(DESTDIR)$(ZYGOTEDIR)
	@set -e; for py in $(PYTHONS); do \
	  real=$$($$py -c 'import sys; print(sys.executable)') || \
	    { echo "make: cannot run $$py to find the interpreter it names" >&2; exit 1; }; \
	  [ "$$(realpath "$$real")" = "$$(realpath $(PYREAL))" ] && continue; \
	  bd=$(BUILDDIR)/zygote$$(printf %s "$$real" | tr -c 'A-Za-z0-9.' _); \
	  $(MAKE) --no-print-directory PYTHON="$$real" BUILDDIR="$$bd" "$$bd/pywarm-zygote"; \
	  tag=$$("$$bd/pywarm-zygote" --tag); \
	  echo "install $$bd/pywarm-zygote $(DESTDIR)$(ZYGOTEDIR)/$$tag/pywarm-zygote"; \
	  install -d "$(DESTDIR)$(ZYGOTEDIR)/$$tag"; \
	  install -m 755 "$$bd/pywarm-zygote" "$(DESTDIR)$(ZYGOTEDIR)/$$tag/pywarm-zygote"; \
	  ln -sfn "$$tag" "$(DESTDIR)$(ZYGOTEDIR)/$${tag##*-}"; \
	done

INSTALLED := $(BINDIR)/pywarm $(BINDIR)/pywarmctl $(BINDIR)/pywarm-zygote \
	$(MANDIR)/man1/pywarm.1 $(MANDIR)/man1/pywarmctl.1 $(MANDIR)/man5/pywarm.ini.5 \
	$(BASHCOMPDIR)/pywarmctl $(ZSHCOMPDIR)/_pywarmctl $(FISHCOMPDIR)/pywarmctl.fish \
	$(USERUNITDIR)/pywarm.socket $(USERUNITDIR)/pywarm.service \
	$(LINKDIR)/python $(LINKDIR)/python3

install: all install-zygotes
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
	  $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(LINKDIR)
	install -m 755 $(BUILDDIR)/pywarm $(BUILDDIR)/pywarmctl $(BUILDDIR)/pywarm-zygote $(DESTDIR)$(BINDIR)
	install -m 644 man/pywarm.1 man/pywarmctl.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/pywarm.ini.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 shell/completion/pywarmctl.bash $(DESTDIR)$(BASHCOMPDIR)/pywarmctl
	install -m 644 shell/completion/_pywarmctl $(DESTDIR)$(ZSHCOMPDIR)/_pywarmctl
	install -m 644 shell/completion/pywarmctl.fish $(DESTDIR)$(FISHCOMPDIR)/pywarmctl.fish
	install -m 644 shell/systemd/pywarm.socket $(DESTDIR)$(USERUNITDIR)/pywarm.socket
	sed 's|@BINDIR@|$(BINDIR)|g' shell/systemd/pywarm.service > $(DESTDIR)$(USERUNITDIR)/pywarm.service.tmp
	chmod 644 $(DESTDIR)$(USERUNITDIR)/pywarm.service.tmp
	mv $(DESTDIR)$(USERUNITDIR)/pywarm.service.tmp $(DESTDIR)$(USERUNITDIR)/pywarm.service
	ln -sfr $(DESTDIR)$(BINDIR)/pywarm $(DESTDIR)$(LINKDIR)/python
	ln -sfr $(DESTDIR)$(BINDIR)/pywarm $(DESTDIR)$(LINKDIR)/python3

# Exactly the files install put there; the shared directories stay.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rm -rf $(DESTDIR)$(ZYGOTEDIR)
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LINKDIR) 2>/dev/null || true

# ---- Debian package ------------------------------------------------------
# A binary package from the install rules above: a build against Debian's
# /usr/bin/python3 in its own BUILDDIR with dpkg-buildflags' (hardening)
# flags, `make install` with PREFIX=/usr into a staging tree, then
# shell/debian/mkdeb.sh (documentation, gzip'd man pages, Depends from
# dpkg-shlibdeps, DEBIAN/control).  The version is the changelog's.
DEB_BUILDDIR  ?= $(BUILDDIR)-pkg
DEB_VERSION   ?= $(shell dpkg-parsechangelog -l shell/debian/changelog -S Version)
DEB_MAINTAINER ?= $(shell dpkg-parsechangelog -l shell/debian/changelog -S Maintainer)
# glibc's fortified headers mark results that the sources drop on purpose
# with (void) casts, which GCC's warn_unused_result does not accept.
DEB_BUILDFLAG = $$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get $(1))
DEB_FLAGS = CFLAGS="$(call DEB_BUILDFLAG,CFLAGS) $(call DEB_BUILDFLAG,CPPFLAGS) -Wno-unused-result" \
	LDFLAGS="$(call DEB_BUILDFLAG,LDFLAGS)"
DEB_MAKE = $(MAKE) PYTHON=/usr/bin/python3 BUILDDIR=$(DEB_BUILDDIR) PREFIX=/usr \
	ZSHCOMPDIR=/usr/share/zsh/vendor-completions

deb:
	$(DEB_FLAGS) $(DEB_MAKE) all
	rm -rf $(DEB_BUILDDIR)/pkg
	$(DEB_FLAGS) $(DEB_MAKE) DESTDIR=$(abspath $(DEB_BUILDDIR))/pkg/debian/pywarm install
	sh shell/debian/mkdeb.sh $(DEB_BUILDDIR)/pkg/debian/pywarm $(DEB_BUILDDIR) '$(DEB_VERSION)' '$(DEB_MAINTAINER)'

clean:
	rm -rf $(BUILDDIR)

.PHONY: all unit check check-cpython bench demo clean fuzz fuzz-smoke install install-zygotes uninstall bench-interp stress deb
