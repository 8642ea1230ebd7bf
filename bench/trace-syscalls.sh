#!/bin/sh
# The system calls of a fork-server round trip, per phase: the tracing
# build of bench/spawn (make bench-trace) run under strace -f, each mark
# naming itself with a write to descriptor -1 (src/trace.h); the calls a
# process makes between two of its marks belong to the later one.
#   bench/trace-syscalls.sh [round trips [plain|full]]   (default 100 plain)
set -eu
n=${1:-100}
kind=${2:-plain}
out=$(mktemp /tmp/reexec-strace-XXXXXX)
trap 'rm -f "$out"' EXIT
REEXEC_TRACE_STRACE=1 strace -f -qq -o "$out" build-trace/bench/spawn trace "$n" "$kind" >/dev/null
awk -v n="$n" '
/^[0-9]+ +(\+\+\+|---)/ { next }
/ <\.\.\. [a-z_0-9]+ resumed>/ { next }
{
	pid = $1
	call = $2
	sub(/\(.*/, "", call)
	if (call == "getrusage") {           # the mark itself, with the
		if ($0 ~ /RUSAGE_THREAD/) {  # getpid before it
			cnt[pid]--
			sub(/ getpid$/, "", seen[pid])
		}
		next
	}
	if (call == "write" && $0 ~ /write\(-1, "T_/) {
		m = $0
		sub(/.*write\(-1, "/, "", m)
		sub(/".*/, "", m)
		if (m == "T_BEGIN") rounds++
		if (rounds > 20) {               # (past the warm-up)
			calls[m] += cnt[pid]
			if (!(m in order)) order[m] = ++nm
			names[order[m]] = m
			if (cnt[pid]) {
				split(seen[pid], list, " ")
				for (c in list) if (list[c] != "") which[m, list[c]]++
			}
		}
		cnt[pid] = 0
		seen[pid] = ""
		next
	}
	cnt[pid]++
	seen[pid] = seen[pid] " " call
}
END {
	r = rounds - 20
	for (i = 1; i <= nm; i++) {
		m = names[i]
		line = ""
		for (k in which) {
			split(k, p, SUBSEP)
			if (p[1] == m)
				line = line sprintf(" %s %.1f", p[2], which[k] / r)
		}
		printf("%-12s %5.1f |%s\n", m, calls[m] / r, line)
	}
}' "$out"
