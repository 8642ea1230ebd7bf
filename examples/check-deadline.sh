#!/bin/sh
# The deadline example times a slow task out and stops a worker gracefully.
set -u
out=$("$1/deadline" 2>&1) || { echo "deadline failed: $out"; exit 1; }
want='slow: timed out, ended by Terminated
worker: ready
worker: still running
worker: cleaned up
worker: exited with 0'
[ "$out" = "$want" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$out"; exit 1; }
