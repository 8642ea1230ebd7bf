#!/bin/sh
# Compare the ABI of a freshly built libreexec.so with the baseline kept in
# the repository (abidiff, from abigail-tools). Functions added pass; a
# function removed or changed, or a public type changed (a struct's layout,
# a typedef), fails unless the SONAME changed with it.
#   abi/check.sh BASELINE LIBRARY HEADERS_DIR
set -u
base=$1
lib=$2
headers=$3
fail() { echo "check-abi: $*" >&2; exit 1; }

command -v abidiff >/dev/null 2>&1 ||
	fail "abidiff is missing: apt-get install abigail-tools"
old=$(sed -n "s/^<abi-corpus .* soname='\([^']*\)'.*/\1/p" "$base")
new=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]$/\1/p')
[ -n "$old" ] || fail "no SONAME in $base"
[ -n "$new" ] || fail "no SONAME in $lib"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
# Types outside HEADERS_DIR are the library's own business (struct
# reexec_cmd is opaque); added symbols are left out here and listed below.
abidiff --fail-no-debug-info --no-added-syms --headers-dir2 "$headers" \
	--drop-private-types "$base" "$lib" >"$report" 2>&1
rc=$?
# abidiff's status is a bit set: 1 an error, 2 a usage error, 4 an ABI
# change, 8 an incompatible one.
[ $((rc & 3)) -eq 0 ] || { cat "$report" >&2; fail "abidiff failed (status $rc)"; }
if [ "$rc" -eq 0 ]; then
	abidiff --headers-dir2 "$headers" --drop-private-types "$base" "$lib" |
		sed -n "s/^  \[A\] 'function \(.*\)'.*/check-abi: added: \1/p"
	echo "check-abi: $new keeps the ABI of $base"
	exit 0
fi
cat "$report"
if [ "$old" != "$new" ]; then
	echo "check-abi: the SONAME changed ($old -> $new), so the changes above are allowed; record the new ABI with make abi-baseline"
	exit 0
fi
fail "the ABI changed incompatibly and the SONAME is still $new: keep the old ABI, or raise SOVERSION in the Makefile and run make abi-baseline"
