#!/bin/sh
# The tour example prints what the README says it prints.
set -u
out=$("$1/tour" 2>&1) || { echo "tour failed: $out"; exit 1; }
want='stdout: shout got 2 argument(s)
HELLO
WORLD
stderr: HOME=/nowhere
exit status 7'
[ "$out" = "$want" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$out"; exit 1; }
