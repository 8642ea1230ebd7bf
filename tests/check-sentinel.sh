#!/bin/sh
# reexec_command() carries the sentinel attribute: a call whose argument
# list does not end in NULL does not compile with -Wall -Werror, and the
# same call with the NULL does (with the C and, when there is one, the C++
# compiler).
#   tests/check-sentinel.sh BUILD_DIR
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-sentinel: $*"; exit 1; }

cat >"$tmp/good.src" <<'END'
#include <stddef.h>
#include <reexec.h>
int main(void)
{
	return reexec_command("w", "a", (char *)NULL) == NULL &&
	       reexec_command("w", NULL) == NULL;
}
END
sed -e 's/"a", (char \*)NULL/"a"/' "$tmp/good.src" >"$tmp/bad.src"
grep -q '"w", "a")' "$tmp/bad.src" || fail "the snippet without NULL was not made"
check() { # COMPILER EXT
	cp "$tmp/good.src" "$tmp/good.$2"
	cp "$tmp/bad.src" "$tmp/bad.$2"
	"$1" -Wall -Werror -Iinclude -c -o "$tmp/good.o" "$tmp/good.$2" ||
		fail "$1: a call ending in NULL does not compile"
	if "$1" -Wall -Werror -Iinclude -c -o "$tmp/bad.o" "$tmp/bad.$2" \
		2>"$tmp/err"; then
		fail "$1: a call without its NULL compiles"
	fi
	grep -q sentinel "$tmp/err" || fail "$1: failed for another reason: $(cat "$tmp/err")"
}
check "${CC:-cc}" c
if command -v c++ >/dev/null 2>&1; then
	check c++ cc
fi
exit 0
