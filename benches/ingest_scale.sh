#!/usr/bin/env bash
# Whole-pipeline ingest at regional scale, side by side with the polars read floor, in one run.
#
#   bash benches/ingest_scale.sh [METERS ...]        (default: 100000)
#
# For each size: generates a region with ../shared/peers/gen_region.py (long-form Parquet,
# meter_id string, timestamp[us, UTC], kwh f64, sorted by meter then time; cached in
# $BENCH_DATA, default ../bench-data), then runs, alternately, $REPEAT times each:
#   floor:      ../shared/peers/floor_polars.py (scan the Parquet, sum kWh per meter)
#   gridsleuth: gridsleuth ingest (the full ingest: checks, grid, matrix, data_quality.csv)
# and prints wall time and peak RSS (GNU time) with the median ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
data="${BENCH_DATA:-$root/../bench-data}"
repeat="${REPEAT:-3}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000)

venv="$root/.venv-peers"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas polars scikit-learn pyarrow
fi
cargo build --release --quiet
bin="$root/target/release/gridsleuth"

measure() { # cmd... -> "seconds peak_kb" (exit status 1 = finished with quarantined rows: fine)
  /usr/bin/time -f "%e %M" -o /tmp/gs_bench_time "$@" >/dev/null 2>&1 || true
  tail -n1 /tmp/gs_bench_time
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '| meters | readings | floor (polars scan + sum) | gridsleuth ingest | time ratio | peak RSS floor | peak RSS gridsleuth |\n'
printf '|---|---|---|---|---|---|---|\n'
for n in "${sizes[@]}"; do
  dir="$data/r$n"
  if [ ! -f "$dir/readings.parquet" ]; then
    mkdir -p "$dir"
    "$venv/bin/python" "$shared/peers/gen_region.py" --meters "$n" --days 30 --seed 1 --out "$dir" >/dev/null 2>&1
  fi
  ft=(); fm=(); gt=(); gm=()
  for _ in $(seq "$repeat"); do
    read -r t m < <(measure "$venv/bin/python" "$shared/peers/floor_polars.py" --readings "$dir/readings.parquet")
    ft+=("$t"); fm+=("$m")
    read -r t m < <(measure "$bin" ingest -q --no-progress -r "$dir/readings.parquet" -o "$dir/out")
    gt+=("$t"); gm+=("$m")
  done
  f=$(printf '%s\n' "${ft[@]}" | median); g=$(printf '%s\n' "${gt[@]}" | median)
  fmk=$(printf '%s\n' "${fm[@]}" | median); gmk=$(printf '%s\n' "${gm[@]}" | median)
  rows=$(python3 -c "import json;d=json.load(open('$dir/out/ingest.json'));print(d['datasets'][0]['read'])")
  awk -v n="$n" -v r="$rows" -v f="$f" -v g="$g" -v fm="$fmk" -v gm="$gmk" 'BEGIN {
    printf "| %d | %.0f M | %.2f s | %.2f s | %.2fx | %.2f GB | %.2f GB |\n", n, r/1e6, f, g, g/f, fm/1048576, gm/1048576 }'
done
