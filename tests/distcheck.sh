#!/bin/sh
# Check a release tarball the way a packager uses it: unpack it in a
# temporary directory, build it, run make check there, install it into a
# temporary prefix and look at what was installed, uninstall it.
#   tests/distcheck.sh reexec-VERSION   (reads reexec-VERSION.tar.gz)
set -u
dist=$1
fail() { echo "distcheck: $*" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$dist.tar.gz" -C "$tmp" || fail "cannot unpack $dist.tar.gz"
[ "$(ls "$tmp")" = "$dist" ] || fail "$dist.tar.gz does not hold just $dist/"
[ ! -e "$tmp/$dist/.git" ] || fail "$dist.tar.gz holds .git"

# A build of its own: nothing of the make that runs us (BUILD=, CFLAGS=)
# reaches it.
unset MAKEFLAGS MFLAGS MAKELEVEL
cd "$tmp/$dist" || fail "no $tmp/$dist"
make || fail "make failed in the unpacked tree"
make check || fail "make check failed in the unpacked tree"
prefix="$tmp/prefix"
make -s install PREFIX="$prefix" >/dev/null || fail "make install failed"
for f in include/reexec.h lib/libreexec.so.0 lib/libreexec.so lib/libreexec.a \
	lib/pkgconfig/reexec.pc lib/cmake/reexec/reexecConfig.cmake \
	lib/cmake/reexec/reexecConfigVersion.cmake share/man/man3/reexec.3; do
	[ -e "$prefix/$f" ] || fail "make install did not install $f"
done
make -s uninstall PREFIX="$prefix" >/dev/null || fail "make uninstall failed"
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "distcheck: $dist.tar.gz builds, passes make check and installs"
