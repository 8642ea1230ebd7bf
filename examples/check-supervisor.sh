#!/bin/sh
# The supervisor example prints each service's output prefixed as it
# arrives, restarts the failing service with growing delays until it gives
# up, stops the others on SIGTERM (escalating for the one that ignores it)
# and prints the status table with each service's processor time and peak
# memory.
set -u
out=$("$1/supervisor" --demo 2>&1) || { echo "supervisor failed: $out"; exit 1; }
fail() { printf '%s\ngot:\n%s\n' "$*" "$out"; exit 1; }
for line in '[web] listening' '[stubborn] ignoring SIGTERM' \
	'[cruncher] crunched' '[hog] holding memory' \
	'supervisor: flaky failed, restart 1 in 50 ms' \
	'supervisor: flaky failed, restart 2 in 100 ms' \
	'supervisor: flaky failed, restart 3 in 200 ms' \
	'supervisor: flaky failed 4 times, giving up' \
	'supervisor: stopping' '[web] closing connections' \
	'[cruncher] done crunching' '[hog] letting go'; do
	printf '%s\n' "$out" | grep -qFx "$line" || fail "missing: $line"
done
n=$(printf '%s\n' "$out" | grep -cFx '[flaky] starting, then failing')
[ "$n" -eq 4 ] || fail "flaky ran $n times, not 4"
printf '%s\n' "$out" | sed -n '/^supervisor: stopping$/,$p' | grep -qFx '[web] closing connections' ||
	fail "web closed before the stop"
rows=$(printf '%s\n' "$out" | tail -n 6)
table=$(printf '%s\n' "$rows" | cut -c1-52 | sed 's/ *$//')
want='SERVICE   STATE      RESTARTS LAST STATUS
web       stopped    0        exit 0
flaky     gave up    3        exit 1
stubborn  stopped    0        killed (SIGKILL)
cruncher  stopped    0        exit 0
hog       stopped    0        exit 0'
[ "$table" = "$want" ] || fail "table differs from:
$want"
# Processor time and peak memory come from reexec_rusage(): the cruncher
# used at least 150 ms, the hog holds at least 32 MiB, and web, which
# does neither, is below both.
figures() { printf '%s\n' "$rows" | awk -v s="$1" '$1 == s { print $(NF-1), $NF }'; }
set -- $(figures cruncher) $(figures hog) $(figures web)
[ "$1" -ge 150 ] || fail "cruncher used $1 ms of processor time, not >= 150"
[ "$4" -ge 32768 ] || fail "hog peaked at $4 KiB, not >= 32768"
[ "$5" -lt 150 ] && [ "$6" -lt 32768 ] || fail "web used $5 ms, $6 KiB"
