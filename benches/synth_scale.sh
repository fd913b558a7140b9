#!/usr/bin/env bash
# Synthetic-region generation at scale: wall time, peak RSS and rows/s of `gridsleuth synth`.
#
#   bash benches/synth_scale.sh [METERS ...]        (default: 100000)
#
# For each size: generates METERS x 30 days half-hourly Parquet into $BENCH_DATA/synthN
# (default ../bench-data), $REPEAT times (default 1), and prints a Markdown table row with the
# median wall time, peak RSS (GNU time) and readings per second. Then checks that the region
# loads through `gridsleuth ingest` (exit 0: nothing quarantined).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${BENCH_DATA:-$(pwd)/../bench-data}"
repeat="${REPEAT:-1}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000)
cargo build --release --quiet
bin="$(pwd)/target/release/gridsleuth"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '| meters | readings | wall | peak RSS | readings/s |\n|---|---|---|---|---|\n'
for n in "${sizes[@]}"; do
  dir="$data/synth$n"
  ts=(); ms=()
  for _ in $(seq "$repeat"); do
    rm -rf "$dir"
    /usr/bin/time -f "%e %M" -o /tmp/gs_synth_time "$bin" synth --meters "$n" --days 30 \
      --seed 1 --out "$dir" >/dev/null
    read -r t m < /tmp/gs_synth_time
    ts+=("$t"); ms+=("$m")
  done
  rows=$(grep -o '"readings_written": [0-9]*' "$dir/synth.json" | grep -o '[0-9]*$')
  t=$(printf '%s\n' "${ts[@]}" | median)
  m=$(printf '%s\n' "${ms[@]}" | median)
  printf '| %s | %s | %s s | %.2f GB | %.1f M |\n' "$n" "$rows" "$t" \
    "$(echo "$m / 1048576" | bc -l)" "$(echo "$rows / $t / 1000000" | bc -l)"
  "$bin" ingest -q --no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" \
    --feeders "$dir/feeders.csv" --weather "$dir/weather.csv" -o "$dir/ingest" \
    || { echo "ingest of $dir quarantined readings or failed" >&2; exit 1; }
done
