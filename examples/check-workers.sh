#!/bin/sh
# The workers example upper-cases every input, in order, through a pool.
set -u
out=$("$1/workers" 2>&1) || { echo "workers failed: $out"; exit 1; }
want='1: THE QUICK BROWN FOX (19 bytes, exit 0)
2: JUMPS OVER (10 bytes, exit 0)
3: THE LAZY DOG (12 bytes, exit 0)
4: FORK WITHOUT EXEC IS UNSAFE IN A THREADED PROGRAM (49 bytes, exit 0)
5: SO WE EXEC OURSELVES (20 bytes, exit 0)
6: AND PASS THE WORK OVER A CHANNEL (32 bytes, exit 0)
DONE'
[ "$out" = "$want" ] || { printf 'expected:\n%s\ngot:\n%s\n' "$want" "$out"; exit 1; }
