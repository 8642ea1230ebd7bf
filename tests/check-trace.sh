#!/bin/sh
# The breakdown of a fork-server round trip (src/trace.h, make
# bench-trace) costs nothing outside its own build: the library as built
# has no trace marks. Built with -DREEXEC_TRACE, bench/spawn's trace mode
# sees every phase on the path, for both kinds.
#   tests/check-trace.sh BUILD_DIR
set -u
unset MAKEFLAGS MFLAGS MAKELEVEL
lib=$1/libreexec.a
fail() { echo "check-trace: $*"; exit 1; }

command -v nm >/dev/null || { echo "check-trace: needs nm"; exit 77; }
[ -f "$lib" ] || fail "no $lib"
if nm "$lib" | grep -q 'trace_mark'; then
	fail "$lib has the trace marks"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory -s BUILD="$tmp" CFLAGS="-O2 -DREEXEC_TRACE" \
	LDFLAGS= CPPFLAGS= "$tmp/bench/spawn" >/dev/null ||
	fail "the tracing build failed"
"$tmp/bench/spawn" trace 20 >"$tmp/out" || fail "spawn trace failed"
# The phases on the path (a time not in brackets), each one seen. (Not
# always in every round trip: on a busy machine the server may reap a
# child in the pass it woke for to reap the one before.)
seen=$(awk -F'|' '$3 ~ /^ [0-9]+ $/ && $4 ~ /^ [0-9]+ $/ { n++ } END { print n + 0 }' \
	"$tmp/out")
[ "$seen" -eq 34 ] || {
	cat "$tmp/out"
	fail "$seen phases on the path seen, not 2 x 17"
}
