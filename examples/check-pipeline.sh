#!/bin/sh
# The pipeline example counts what the first child wrote, in the second.
set -u
out=$("$1/pipeline" 2>&1) || { echo "pipeline failed: $out"; exit 1; }
want='1000 lines, 8893 bytes
produce exited 0, count exited 0'
[ "$out" = "$want" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$out"; exit 1; }
