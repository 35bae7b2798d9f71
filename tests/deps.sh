#!/bin/sh
# deps.sh: install what building and testing pywarm needs on a fresh Debian 12 machine (run as root, or it uses sudo).
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
	build-essential pkg-config libinih-dev libseccomp-dev python3 python3-dev \
	python3-pytest hyperfine mandoc groff-base tmux procps \
	clang libclang-rt-14-dev zsh fish bash-completion systemd less \
	dpkg-dev lintian gnuplot-nox locales tzdata python3-numpy python3-pandas \
	python3-pytest-xdist
