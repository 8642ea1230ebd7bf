#!/bin/sh
# Build with default flags, install into a temporary prefix, then build and
# run a program against it through pkg-config with the README's lines:
# linked to libreexec.so (it needs libreexec.so.0), to libreexec.a in an
# otherwise dynamic program (it does not), and fully static; uninstall
# leaves nothing. (The build is its own, so that a sanitizer build of the
# suites does not leak into a plain consumer.)
#   tests/check-install.sh
set -u
# Not the variables or the jobserver of the make that runs us.
unset MAKEFLAGS MFLAGS MAKELEVEL
prefix=$(mktemp -d)
build="$prefix/build"
flags="BUILD=$build CFLAGS=-O2 LDFLAGS= CPPFLAGS="

trap 'rm -rf "$prefix"' EXIT
fail() { echo "check-install: $*"; exit 1; }

make --no-print-directory -s install $flags PREFIX="$prefix/usr" >/dev/null ||
	fail "make install failed"
export PKG_CONFIG_PATH="$prefix/usr/lib/pkgconfig"
pkg-config --exists reexec || fail "reexec.pc not found"
cc -o "$prefix/tour" examples/tour.c $(pkg-config --cflags --libs reexec) ||
	fail "shared build failed"
needs() { readelf -d "$1" | grep -q 'NEEDED.*\[libreexec\.so\.0\]'; }
needs "$prefix/tour" || fail "the shared build does not need libreexec.so.0"
LD_LIBRARY_PATH="$prefix/usr/lib" "$prefix/tour" | grep -q '^exit status 7$' ||
	fail "shared program failed"
cc -o "$prefix/tour-a" examples/tour.c $(pkg-config --cflags reexec) \
	-Wl,-Bstatic $(pkg-config --libs reexec) -Wl,-Bdynamic -pthread ||
	fail "build with libreexec.a failed"
! needs "$prefix/tour-a" || fail "the build with libreexec.a needs libreexec.so.0"
"$prefix/tour-a" | grep -q '^exit status 7$' || fail "program with libreexec.a failed"
cc -static -o "$prefix/tour-static" examples/tour.c \
	$(pkg-config --static --cflags --libs reexec) 2>/dev/null ||
	fail "static build failed"
! readelf -d "$prefix/tour-static" | grep -q NEEDED || fail "the static program needs libraries"
"$prefix/tour-static" | grep -q '^exit status 7$' || fail "static program failed"
rm -f "$prefix/tour" "$prefix/tour-a" "$prefix/tour-static"
make --no-print-directory -s uninstall $flags PREFIX="$prefix/usr" >/dev/null
left=$(find "$prefix/usr" -type f)
[ -z "$left" ] || fail "uninstall left: $left"
