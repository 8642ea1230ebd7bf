#!/bin/sh
# The man pages are lint-clean (mandoc -Tlint) and every function the
# shared library exports has a page that names it.
#   tests/check-man.sh BUILD_DIR
set -u
build=$1
fail() { echo "check-man: $*"; exit 1; }

full=""
for page in man/*.3; do
	if head -n 1 "$page" | grep -q '^\.so '; then
		target=$(sed -n '1s/^\.so man3\///p' "$page")
		[ -f "man/$target" ] || fail "$page points to a missing $target"
	else
		full="$full $page"
	fi
done
out=$(mandoc -Tlint -Wwarning $full 2>&1) || fail "mandoc -Tlint: $out"

# nm shows a versioned symbol as name@@REEXEC_0.1.
for fn in $(nm -D --defined-only "$build/libreexec.so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }'); do
	page="man/$fn.3"
	[ -f "$page" ] || fail "no page for $fn"
	if head -n 1 "$page" | grep -q '^\.so '; then
		page="man/$(sed -n '1s/^\.so man3\///p' "$page")"
	fi
	sed -n '/^\.SH NAME/,/^\.SH SYNOPSIS/p' "$page" | grep -qw "$fn" ||
		fail "$page does not name $fn"
	grep -q "^REEXEC_API.* \**$fn(" include/reexec.h || fail "$fn is not in the header"
done
