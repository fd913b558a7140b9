#!/usr/bin/env bash
# The scaling table: whole `gridsleuth run` (every output and the report) beside the polars read
# floor, per-meter cost of each stage and peak RSS, from one session.
#
#   flock /tmp/gs-bench.lock bash benches/scaling.sh [METERS ...]   (default: 10000 100000 1000000)
#
# For each size: the region from ../shared/peers/gen_region.py (30 days half-hourly, seed 1,
# cached in $BENCH_DATA, default ../bench-data, as benches/ingest_scale.sh makes it), then
# alternately, $REPEAT times each (default 3 under 1M meters, 1 from 1M), page cache warm:
#   floor:      ../shared/peers/floor_polars.py (scan the Parquet, sum kWh per meter)
#   gridsleuth: gridsleuth run -r readings.parquet --meters meters.csv (all outputs + report)
# Prints a markdown table: medians of wall time and peak RSS (GNU time), the ratio run / floor,
# and each stage's cost per meter (microseconds of wall time on this machine, from run.json;
# "report" is the rest of the wall time: the report and the commit of the output folder).
# Set GS=path/to/gridsleuth to measure a given binary (default: a release build of this tree;
# CARGO_LOCK=/tmp/gs-cargo.lock wraps that build in the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
data="${BENCH_DATA:-$root/../bench-data}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)

venv="$root/.venv-peers"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas polars scikit-learn pyarrow
fi
py="$venv/bin/python"
if [ -z "${GS:-}" ]; then
  ${CARGO_LOCK:+flock "$CARGO_LOCK"} cargo build --release --quiet
  GS="$root/target/release/gridsleuth"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

measure() { # cmd... -> "seconds peak_kb" (exit status 1 = finished with quarantined rows: fine)
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>&1 || true
  tail -n1 "$out/time"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| meters | floor | floor RSS | gridsleuth run | run RSS | run / floor | ingest | features | cluster | score | write | report | us per meter in all |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  dir="$data/r$n"
  if [ ! -f "$dir/readings.parquet" ]; then
    mkdir -p "$dir"
    "$py" "$shared/peers/gen_region.py" --meters "$n" --days 30 --seed 1 --out "$dir" >/dev/null 2>&1
  fi
  repeat="${REPEAT:-$([ "$n" -ge 1000000 ] && echo 1 || echo 3)}"
  cat "$dir/readings.parquet" >/dev/null
  : >"$out/log"
  for _ in $(seq "$repeat"); do
    read -r ft fm < <(measure "$py" "$shared/peers/floor_polars.py" --readings "$dir/readings.parquet")
    rm -rf "$out/run"
    read -r gt gm < <(measure "$GS" run -q --no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" -o "$out/run")
    "$py" - "$out/run/run.json" "$ft" "$fm" "$gt" "$gm" >>"$out/log" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings_secs"]
ft, fm, gt, gm = map(float, sys.argv[2:6])
stages = [t.get(k, 0.0) for k in ("ingest", "features", "cluster", "score", "write")]
print(ft, fm, gt, gm, *stages, gt - sum(stages) - t.get("balance", 0.0))
PY
  done
  "$py" - "$n" "$out/log" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = [list(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
ft, fm, gt, gm, *stages = med
us = lambda s: f"{s / n * 1e6:.1f}"
print(f"| {n:,} | {ft:.2f} s | {fm / 1048576:.2f} GB | {gt:.2f} s | {gm / 1048576:.2f} GB | "
      f"{gt / ft:.2f} | " + " | ".join(us(s) for s in stages) + f" | {us(gt)} |")
PY
  rm -rf "$out/run"
done
