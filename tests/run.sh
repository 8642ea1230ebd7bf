#!/bin/sh
# Run every test suite, every example check and the tests/check-*.sh
# scripts (exit status 77: skipped); print a total.
#   tests/run.sh BUILD_DIR [RUNNER...]
# RUNNER (valgrind, say) wraps each suite.
set -u
build=$1
shift
# Checks that run make themselves (check-install) run it on their own, not
# as part of ours: without this, the descriptors of our jobserver that
# MAKEFLAGS names (under make -j) are missing there, and make says so.
unset MAKEFLAGS MFLAGS MAKELEVEL
passed=0
failed=0
skipped=0
failures=""

for suite in "$build"/tests/test_*; do
	[ -x "$suite" ] || continue
	out=$(mktemp)
	"$@" "$suite" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	rm -f "$out"
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if { [ "$rc" -ne 0 ] || [ -z "$p" ]; } && [ -z "$f" ]; then
		# A crash, an early exit, a sanitizer or valgrind report: count
		# the suite once.
		failed=$((failed + 1))
		rc=1
	fi
	[ "$rc" -eq 0 ] || failures="$failures $(basename "$suite")"
done

for check in examples/check-*.sh tests/check-*.sh; do
	[ -f "$check" ] || continue
	name=$(basename "$check" .sh)
	case $check in
	examples/*) arg="$build/examples" ;;
	*) arg="$build" ;;
	esac
	sh "$check" "$arg"
	case $? in
	0)
		echo "[       OK ] $name"
		passed=$((passed + 1))
		;;
	77) # a tool it needs is missing; it said which
		echo "[  SKIPPED ] $name"
		skipped=$((skipped + 1))
		;;
	*)
		echo "[  FAILED  ] $name"
		failed=$((failed + 1))
		failures="$failures $name"
		;;
	esac
done

[ -z "$failures" ] || echo "failing:$failures"
total="total: $passed passed, $failed failed"
[ "$skipped" -eq 0 ] || total="$total, $skipped skipped"
echo "$total"
[ "$failed" -eq 0 ]
