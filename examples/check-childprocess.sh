#!/bin/sh
# The childprocess example prints the five lines of the Go original, in
# order, each with a Go log timestamp.
#   examples/check-childprocess.sh BUILD/examples
set -u
bin="$1/childprocess"
out=$("$bin" 2>&1) || { echo "childprocess failed: $out"; exit 1; }
ts='[0-9]\{4\}/[0-9][0-9]/[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
want="init start, argv = \\[$bin\\]
main start, argv = \\[$bin\\]
init start, argv = \\[childProcess\\]
childProcess
main exit"
n=$(printf '%s\n' "$out" | wc -l)
if [ "$n" -ne 5 ]; then
	printf 'expected 5 lines, got %s:\n%s\n' "$n" "$out"
	exit 1
fi
i=1
printf '%s\n' "$want" | while IFS= read -r line; do
	got=$(printf '%s\n' "$out" | sed -n "${i}p")
	if ! printf '%s\n' "$got" | grep -q "^$ts $line\$"; then
		printf 'line %s: expected "%s", got "%s"\n' "$i" "$line" "$got"
		exit 1
	fi
	i=$((i + 1))
done
