#!/usr/bin/env bash
# The whole machine's memory in use (MemTotal - MemAvailable), sampled every second while a
# command runs; prints the idle figure before it and the peak during it, in MB (BENCHMARKS.md,
# "Suite cost after the feature issues"). /usr/bin/time only knows the largest single process.
#   bench/peak_memory.sh bash .ci/run
set -uo pipefail
used() { awk '/MemTotal/{t=$2}/MemAvailable/{a=$2}END{print int((t-a)/1024)}' /proc/meminfo; }
idle=$(used); peak=$idle
"$@" & child=$!
while kill -0 "$child" 2>/dev/null; do
  now=$(used); [ "$now" -gt "$peak" ] && peak=$now
  sleep 1
done
wait "$child"; status=$?
echo "memory in use: idle ${idle} MB, peak ${peak} MB, peak above idle $((peak - idle)) MB" >&2
exit $status
