#!/usr/bin/env bash
# A region larger than memory, in bounded memory: a streamed `gridsleuth fit` (first pass over
# chunks of row groups under --memory-budget), then `gridsleuth run --model` on shards of row
# groups, one after the other (pass 2: each shard a complete run directory). Prints wall time and
# peak RSS (GNU time) of each step and the totals, and the per-meter cost.
#
#   bash benches/regional_scale.sh DIR [BUDGET] [GROUPS_PER_SHARD]
#
# DIR holds readings.parquet (sorted by meter, as ../shared/peers/gen_region.py writes it: one
# row group per ~1,400 meters) and meters.csv; e.g. 3M meters x 30 days:
#   python ../shared/peers/gen_region.py --meters 3000000 --days 30 --seed 1 --out ../bench-data/r3000000
# BUDGET defaults to 8G, GROUPS_PER_SHARD to 250 (~350k meters). Outputs go to DIR/scale-out
# (each shard's run directory deleted once measured, the rest at the end, unless KEEP=1). Row groups are counted with pyarrow (the venv of
# benches/ingest_scale.sh; VENV=path to use another). Run it alone:
#   flock /tmp/gs-bench.lock bash benches/regional_scale.sh ../bench-data/r3000000
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"
budget="${2:-8G}"
per="${3:-250}"
bin="$(pwd)/target/release/gridsleuth"
flock /tmp/gs-cargo.lock cargo build --release --quiet
out="$dir/scale-out"
rm -rf "$out"
mkdir -p "$out"
window=(--start 2024-01-01 --end 2024-01-31 --interval 30m)
common=(--no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" "${window[@]}")

measure() { # label cmd... -> prints "label seconds peak_GB"; exit 1 (quarantined rows) is fine
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o /tmp/gs_scale_time "$@" >"$out/$label.log" 2>&1 || [ $? -eq 1 ]
  read -r s kb < /tmp/gs_scale_time
  awk -v l="$label" -v s="$s" -v kb="$kb" 'BEGIN { printf "%s %s %.2f\n", l, s, kb / 1048576 }'
}

venv="${VENV:-$(pwd)/.venv-peers}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas polars scikit-learn pyarrow
fi
n_groups=$("$venv/bin/python" -c "import pyarrow.parquet as pq; print(pq.ParquetFile('$dir/readings.parquet').num_row_groups)")
{
  measure fit "$bin" fit "${common[@]}" --memory-budget "$budget" -o "$out/model.json"
  k=0
  while [ "$k" -lt "$n_groups" ]; do
    e=$((k + per)); [ "$e" -gt "$n_groups" ] && e=$n_groups
    measure "shard_$k" "$bin" run "${common[@]}" --memory-budget "$budget" --model "$out/model.json" \
      --row-groups "$k..$e" -o "$out/shard_$k"
    # Disk: keep a shard's run directory only with KEEP=1.
    [ "${KEEP:-0}" = 1 ] || rm -rf "$out/shard_$k"
    k=$e
  done
} | tee "$out/steps.txt"
meters=$("$venv/bin/python" -c "import json; print(json.load(open('$out/model.json'))['meters'])")
awk -v m="$meters" '{ t += $2; if ($3 > p) p = $3; if ($1 == "fit") f = $2; else s += $2 }
  END { printf "meters %d: fit %.1f s, shards %.1f s, total %.1f s (%.1f us/meter), peak RSS %.2f GB\n",
        m, f, s, t, t / m * 1e6, p }' "$out/steps.txt"
cat "$out/fit.log" | tail -2
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
