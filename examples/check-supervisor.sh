#!/bin/sh
# The supervisor example relays prefixed output, restarts the failing
# service with growing delays until it gives up, stops the others
# gracefully (escalating for the one that ignores SIGTERM) and prints the
# status table.
set -u
out=$("$1/supervisor" --demo 2>&1) || { echo "supervisor failed: $out"; exit 1; }
fail() { printf '%s\ngot:\n%s\n' "$*" "$out"; exit 1; }
for line in '[web] listening' '[stubborn] ignoring SIGTERM' \
	'supervisor: flaky failed, restart 1 in 50 ms' \
	'supervisor: flaky failed, restart 2 in 100 ms' \
	'supervisor: flaky failed, restart 3 in 200 ms' \
	'supervisor: flaky failed 4 times, giving up' \
	'supervisor: stopping' '[web] closing connections'; do
	printf '%s\n' "$out" | grep -qFx "$line" || fail "missing: $line"
done
n=$(printf '%s\n' "$out" | grep -cFx '[flaky] starting, then failing')
[ "$n" -eq 4 ] || fail "flaky ran $n times, not 4"
printf '%s\n' "$out" | sed -n '/^supervisor: stopping$/,$p' | grep -qFx '[web] closing connections' ||
	fail "web closed before the stop"
table=$(printf '%s\n' "$out" | tail -n 4)
want='SERVICE    STATE        RESTARTS LAST STATUS
web        stopped      0        exit 0
flaky      gave up      3        exit 1
stubborn   stopped      0        killed (SIGKILL)'
[ "$table" = "$want" ] || fail "table differs from:
$want"
