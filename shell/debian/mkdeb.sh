#!/bin/sh
# mkdeb.sh: turn a `make install` tree (PREFIX=/usr) into pywarm's Debian binary package: documentation, compressed man pages, stripped programs, computed Depends, control and md5sums.
# usage: mkdeb.sh DIR/debian/pywarm OUTDIR VERSION MAINTAINER   (run by `make deb`)
set -eu
umask 022
root=$1 out=$2 version=$3 maint=$4
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
root=$(cd "$root" && pwd)
work=$(dirname "$(dirname "$root")")     # dpkg-shlibdeps looks in debian/PACKAGE

# The date of the newest changelog entry stamps every file (dpkg-deb
# clamps mtimes to it): packaging the same build twice gives the same bytes.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$here/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH

doc=$root/usr/share/doc/pywarm
install -d -m 755 "$doc"
install -m 644 "$here/copyright" "$doc/copyright"
gzip -9n < "$here/changelog" > "$doc/changelog.gz"
chmod 644 "$doc/changelog.gz"
for page in "$root"/usr/share/man/man?/*.[0-9]; do
	gzip -9nf "$page"
done
# pywarm(1) describes the zygote too (it is started by pywarm and pywarmctl).
ln -sf pywarm.1.gz "$root/usr/share/man/man1/pywarm-zygote.1.gz"

# As dh_strip does; the debugging symbols are not packaged.
for prog in pywarm pywarmctl pywarm-zygote; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$prog"
done

# dpkg-shlibdeps wants a source control file beside the tree it reads,
# and finds the tree's top by its DEBIAN directory.
install -d -m 755 "$root/DEBIAN"
printf 'Source: pywarm\n\nPackage: pywarm\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O debian/pywarm/usr/bin/pywarm debian/pywarm/usr/bin/pywarmctl \
	debian/pywarm/usr/bin/pywarm-zygote | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "mkdeb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maint|" \
    -e "s|@SIZE@|$size|" -e "s|@DEPENDS@|$depends|" "$here/control.in" > "$root/DEBIAN/control"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/pywarm_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
