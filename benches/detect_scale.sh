#!/usr/bin/env bash
# Whole detection pipeline at regional scale vs the Python peers, in one run.
#
#   bash benches/detect_scale.sh [METERS ...]        (default: 100000)
#
# For each size: the peers' generator (../shared/peers/gen_region.py, 30 days half-hourly,
# cached in $BENCH_DATA), then alternately:
#   gridsleuth run        ingest + features + clustering + scoring + all outputs
#   peer_polars.py        one lazy polars query + StandardScaler + KMeans + score
#   peer_pandas.py        the same with pandas groupby (skipped above 100k: it needs > 16 GB)
# Prints wall time, peak RSS (GNU time) and the ratio to gridsleuth; also gridsleuth's stage
# timings from run.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
data="${BENCH_DATA:-$root/../bench-data}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000)
. "$root/benches/env.sh"

measure() { # cmd... -> "seconds peak_kb"
  /usr/bin/time -f "%e %M" -o /tmp/gs_detect_time "$@" >/dev/null 2>&1 || true
  tail -n1 /tmp/gs_detect_time
}

echo "| meters | method | wall | peak RSS | time vs gridsleuth |"
echo "|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  dir="$data/r$n"
  if [ ! -f "$dir/readings.parquet" ]; then
    mkdir -p "$dir"
    "$py" "$shared/peers/gen_region.py" --meters "$n" --days 30 --seed 1 --out "$dir" >/dev/null 2>&1
  fi
  read -r gt gm < <(measure "$gs" run -q --no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" -o "$dir/run")
  awk -v n="$n" -v t="$gt" -v m="$gm" 'BEGIN { printf "| %d | gridsleuth run | %.1f s | %.2f GB | 1x |\n", n, t, m / 1048576 }'
  peers=(peer_polars)
  [ "$n" -le 100000 ] && peers+=(peer_pandas)
  for p in "${peers[@]}"; do
    read -r t m < <(measure "$py" "$shared/peers/$p.py" --readings "$dir/readings.parquet" --meters "$dir/meters.csv" --out "$dir/$p")
    awk -v n="$n" -v p="$p.py" -v t="$t" -v m="$m" -v g="$gt" 'BEGIN { printf "| %d | %s | %.1f s | %.2f GB | %.1fx |\n", n, p, t, m / 1048576, t / g }'
  done
  "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print('  gridsleuth stages (s):', ', '.join(f'{k} {v:.2f}' for k,v in d['timings_secs'].items()))" "$dir/run/run.json"
done
