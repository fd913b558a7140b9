#!/usr/bin/env bash
# `gridsleuth run` in memory against the same run streamed under a memory budget (issue 10
# part 2): wall time and peak RSS of each (GNU time), the chunk count, and a check that the two
# run directories hold the same scores.csv, suspects.csv, model.json and data_quality.csv.
#
#   bash benches/streamed_run.sh DIR [BUDGET]
#
# DIR holds readings.parquet (sorted by meter, as ../shared/peers/gen_region.py writes it) and
# meters.csv, 30 days from 2024-01-01 (gen_region.py's default). BUDGET (default 4G) sets the
# chunks: a chunk holds at most BUDGET / 16 bytes of readings (1M meters x 30 days: 6 chunks at
# 4G). The in-memory run gets --memory-budget 90%. Outputs go to DIR/streamed-out and are
# deleted at the end unless KEEP=1. Run it alone:
#   flock /tmp/gs-bench.lock bash benches/streamed_run.sh ../bench-data/r1000000 4G
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"
budget="${2:-4G}"
bin="$(pwd)/target/release/gridsleuth"
flock /tmp/gs-cargo.lock cargo build --release --quiet
out="$dir/streamed-out"
rm -rf "$out"
mkdir -p "$out"
common=(--no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv"
  --start 2024-01-01 --end 2024-01-31 --interval 30m)

measure() { # label cmd... -> "label wall_s peak_GB"; exit 1 (quarantined rows) is fine
  local label="$1"; shift
  /usr/bin/time -v -o "$out/$label.time" "$@" >"$out/$label.log" 2>&1 || [ $? -eq 1 ]
  awk -v l="$label" '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0;
      for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /Maximum resident set size/ { kb = $NF }
    END { printf "%-10s wall %7.1f s  peak RSS %5.2f GB\n", l, s, kb / 1048576 }' "$out/$label.time"
}

measure in_memory "$bin" run "${common[@]}" --memory-budget 90% -o "$out/in_memory"
measure streamed "$bin" run "${common[@]}" --memory-budget "$budget" -o "$out/streamed"
grep -h "^streamed:" "$out/streamed.log" || { echo "the run did not stream"; exit 1; }
for f in scores.csv suspects.csv model.json data_quality.csv; do
  cmp -s "$out/in_memory/$f" "$out/streamed/$f" && echo "$f: identical" || echo "$f: DIFFERS"
done
python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
for run in ("in_memory", "streamed"):
    t = json.load(open(f"{d}/{run}/run.json"))["timings_secs"]
    print(run, "stages:", ", ".join(f"{k} {v:.1f} s" for k, v in sorted(t.items())))
PY
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
