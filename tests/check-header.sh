#!/bin/sh
# The public header compiles alone as C99 and C11 with -pedantic and as
# C++. (What the shared library exports: tests/check-exports.sh.)
#   tests/check-header.sh BUILD_DIR
set -u
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-header: $*"; exit 1; }

printf '#include <reexec.h>\nint main(void) { return reexec_version() == REEXEC_VERSION ? 0 : 1; }\n' >"$tmp/use.c"
for std in c99 c11; do
	cc -std=$std -pedantic -Wall -Wextra -Werror -Iinclude -c -o "$tmp/use.o" "$tmp/use.c" ||
		fail "header fails as $std -pedantic"
done
if command -v c++ >/dev/null 2>&1; then
	cp "$tmp/use.c" "$tmp/use.cc"
	c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c -o "$tmp/use.o" "$tmp/use.cc" ||
		fail "header fails as C++"
	nm "$tmp/use.o" | grep -q ' U reexec_version$' || fail "C++ does not see C linkage"
fi
