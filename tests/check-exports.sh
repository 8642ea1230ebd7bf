#!/bin/sh
# libreexec.so exports exactly the functions that include/reexec.h declares
# REEXEC_API, each as the default version of a REEXEC_ node of
# src/libreexec.map, and nothing else.
#   tests/check-exports.sh BUILD_DIR
set -u
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-exports: $*"; exit 1; }

# A declaration runs from REEXEC_API to its ';'; its name is the first
# reexec_ identifier followed by '(' (attributes and a return type such as
# reexec_cmd * come before it and are not).
awk '
/^[ \t]*REEXEC_API[ \t]/ { decl = ""; on = 1 }
on {
	decl = decl " " $0
	if (index($0, ";") == 0)
		next
	on = 0
	if (match(decl, /reexec_[A-Za-z0-9_]*[ \t]*\(/)) {
		name = substr(decl, RSTART, RLENGTH)
		sub(/[ \t]*\($/, "", name)
		print name
	}
}' include/reexec.h | sort -u >"$tmp/header"
grep -qx reexec_init "$tmp/header" || fail "no REEXEC_API functions found in include/reexec.h"

# readelf prints a defined dynamic symbol as NUM: VALUE SIZE TYPE BIND VIS
# NDX NAME@@VERSION; the version nodes themselves are absolute symbols.
readelf --dyn-syms -W "$build/libreexec.so" >"$tmp/dynsym" || fail "readelf failed"
awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && !($7 == "ABS" && $8 ~ /^REEXEC_[0-9.]+$/)' \
	"$tmp/dynsym" >"$tmp/defined"
bad=$(awk '$4 != "FUNC" || $8 !~ /^reexec_[A-Za-z0-9_]*@@REEXEC_[0-9.]+$/ { printf " %s %s", $4, $8 }' "$tmp/defined")
[ -z "$bad" ] || fail "exported other than a function reexec_*@@REEXEC_<version>:$bad"
awk '{ sub(/@.*/, "", $8); print $8 }' "$tmp/defined" | sort -u >"$tmp/exported"

missing=$(comm -23 "$tmp/header" "$tmp/exported")
[ -z "$missing" ] || fail "declared in the header but not exported:" $missing
extra=$(comm -13 "$tmp/header" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not declared in the header:" $extra
