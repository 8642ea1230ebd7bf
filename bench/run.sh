#!/bin/sh
# Run the benchmarks and print their tables.   bench/run.sh BUILD_DIR
set -eu
build=$1
echo "machine: $(nproc) cores, $(uname -sr), $(ldd --version 2>/dev/null | head -n 1)"
"$build/bench/roundtrip" "${ROUNDS:-2000}"
