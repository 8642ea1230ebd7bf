#!/bin/sh
# Install into a temporary prefix, then build and run a program against it
# through pkg-config, linked both shared and static; uninstall leaves nothing.
#   tests/check-install.sh BUILD_DIR
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "check-install: $*"; exit 1; }

make --no-print-directory -s install BUILD="$build" PREFIX="$prefix" >/dev/null ||
	fail "make install failed"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists reexec || fail "reexec.pc not found"
cc -o "$prefix/tour" examples/tour.c $(pkg-config --cflags --libs reexec) ||
	fail "shared build failed"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/tour" | grep -q '^exit status 7$' ||
	fail "shared program failed"
cc -static -o "$prefix/tour-static" examples/tour.c \
	$(pkg-config --static --cflags --libs reexec) 2>/dev/null ||
	fail "static build failed"
"$prefix/tour-static" | grep -q '^exit status 7$' || fail "static program failed"
rm -f "$prefix/tour" "$prefix/tour-static"
make --no-print-directory -s uninstall BUILD="$build" PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "uninstall left: $left"
