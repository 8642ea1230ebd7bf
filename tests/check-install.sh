#!/bin/sh
# Build with default flags, install into a temporary prefix, then build and
# run a program against it through pkg-config, linked both shared and
# static; uninstall leaves nothing. (The build is its own, so that a
# sanitizer build of the suites does not leak into a plain consumer.)
#   tests/check-install.sh
set -u
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
LD_LIBRARY_PATH="$prefix/usr/lib" "$prefix/tour" | grep -q '^exit status 7$' ||
	fail "shared program failed"
cc -static -o "$prefix/tour-static" examples/tour.c \
	$(pkg-config --static --cflags --libs reexec) 2>/dev/null ||
	fail "static build failed"
"$prefix/tour-static" | grep -q '^exit status 7$' || fail "static program failed"
rm -f "$prefix/tour" "$prefix/tour-static"
make --no-print-directory -s uninstall $flags PREFIX="$prefix/usr" >/dev/null
left=$(find "$prefix/usr" -type f)
[ -z "$left" ] || fail "uninstall left: $left"
