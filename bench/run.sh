#!/bin/sh
# Run the benchmarks and print their tables.   bench/run.sh BUILD_DIR
#   ROUNDS      round trips of each kind in roundtrip (default 2000)
#   SPAWN_ROUNDS  rounds of 10 per thread in spawn (default 15)
#   MACHINE_ROUNDS  rounds in machine (default 7)
#   ORPHAN_ROUNDS   rounds in orphan (default 50)
#   STARTUP_ROUNDS  starts of each kind in startup (default 500)
#   EVENTLOOP_ROUNDS  batches of each way in eventloop (default 7)
#   ISOLATION_ROUNDS  round trips of each kind in isolation (default 300)
set -eu
build=$1
echo "machine: $(nproc) cores, $(uname -sr), $(ldd --version 2>/dev/null | head -n 1)"
"$build/bench/machine" "${MACHINE_ROUNDS:-7}"
"$build/bench/roundtrip" "${ROUNDS:-2000}"
"$build/bench/spawn" "${SPAWN_ROUNDS:-15}"
"$build/bench/orphan" "${ORPHAN_ROUNDS:-50}"
"$build/bench/startup" "${STARTUP_ROUNDS:-500}"
"$build/bench/eventloop" "${EVENTLOOP_ROUNDS:-7}"
"$build/bench/poll"
"$build/bench/isolation" "${ISOLATION_ROUNDS:-300}"
