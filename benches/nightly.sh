#!/usr/bin/env bash
# A nightly increment against a full `run` over the same window, at regional scale.
#
#   bash benches/nightly.sh [METERS ...]        (default: 100000)
#
# For each size: the region of ../shared/peers/gen_region.py (30 days, half-hourly, cached in
# $BENCH_DATA, default ../bench-data, as benches/ingest_scale.sh makes it) is split into one
# Parquet landing file per UTC day. A state folder is seeded with days 1-29 (the first night,
# not timed); then day 30 lands and the nightly increment is timed (it reads one new day, the
# other 28 from the day cache, scores the 29-day window and writes the dated run folder with its
# cases and report). The full run is `gridsleuth run` on the whole Parquet restricted to the
# same 29 days (--start/--end), which reads every reading. Prints wall time and peak RSS (GNU
# time) of both and their ratio. PEERS_VENV names an existing venv with polars (else one is made).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
data="${BENCH_DATA:-$root/../bench-data}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000)
venv="${PEERS_VENV:-$root/.venv-peers}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas polars scikit-learn pyarrow
fi
py="$venv/bin/python"
cargo build --release --quiet
gs="$root/target/release/gridsleuth"

measure() { # cmd... -> "seconds peak_kb" (exit 1 = quarantined rows, 3 = no new data: fine)
  /usr/bin/time -f "%e %M" -o /tmp/gs_bench_time "$@" >/dev/null 2>&1 || true
  tail -n1 /tmp/gs_bench_time
}

printf '| meters | nightly increment (1 new day + 28 cached) | full run (29 days) | increment / full | peak RSS increment | peak RSS full |\n'
printf '|---|---|---|---|---|---|\n'
for n in "${sizes[@]}"; do
  dir="$data/r$n"
  if [ ! -f "$dir/readings.parquet" ]; then
    mkdir -p "$dir"
    "$py" "$shared/peers/gen_region.py" --meters "$n" --days 30 --seed 1 --out "$dir" >/dev/null 2>&1
  fi
  days="$dir/nightly-days"
  if [ ! -f "$days/.done" ]; then
    rm -rf "$days"; mkdir -p "$days"
    # Streamed by row group (the 1M region is 1.4 billion readings): each batch's rows go to
    # their day's writer; the landing files are sorted by meter and time within the day as the
    # region file is.
    "$py" - "$dir/readings.parquet" "$days" <<'PY'
import sys, datetime, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
src, out = sys.argv[1], sys.argv[2]
epoch = datetime.date(1970, 1, 1)
f = pq.ParquetFile(src)
writers = {}
for batch in f.iter_batches(batch_size=4_000_000):
    t = pa.Table.from_batches([batch])
    us = t.column("timestamp").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    day = pc.divide(us, 86_400_000_000)  # whole UTC days (timestamps after 1970)
    for n in pc.unique(day).to_pylist():
        part = t.filter(pc.equal(day, n))
        d = (epoch + datetime.timedelta(days=n)).isoformat()
        if d not in writers:
            writers[d] = pq.ParquetWriter(f"{out}/{d}.parquet", part.schema)
        writers[d].write_table(part)
for w in writers.values():
    w.close()
PY
    touch "$days/.done"
  fi
  mapfile -t files < <(ls "$days"/*.parquet | sort)
  [ ${#files[@]} -ge 30 ] || { echo "expected 30 days in $days" >&2; exit 1; }
  work="$dir/nightly-bench"
  rm -rf "$work"; mkdir -p "$work/landing"
  cat > "$work/site.toml" <<TOML
[inputs]
meters = "$dir/meters.csv"
[time]
tz = "UTC"
interval = "30m"
[nightly]
landing = ["landing/*.parquet"]
window_days = 29
TOML
  for f in "${files[@]:0:29}"; do ln -s "$f" "$work/landing/"; done
  "$gs" nightly -q --config "$work/site.toml" >/dev/null 2>&1 || true
  ln -s "${files[29]}" "$work/landing/"
  read -r it im < <(measure "$gs" nightly -q --config "$work/site.toml")
  first=$(basename "${files[1]}" .parquet); last=$(basename "${files[29]}" .parquet)
  end=$(date -u -d "$last + 1 day" +%Y-%m-%d)
  read -r ft fm < <(measure "$gs" run -q --no-progress -r "$dir/readings.parquet" \
    --meters "$dir/meters.csv" --tz UTC --interval 30m --start "$first" --end "$end" -o "$work/full")
  awk -v n="$n" -v it="$it" -v ft="$ft" -v im="$im" -v fm="$fm" 'BEGIN {
    printf "| %d | %.2f s | %.2f s | %.2f | %.2f GB | %.2f GB |\n", n, it, ft, it/ft, im/1048576, fm/1048576 }'
  latest="$work/state/runs/latest"
  python3 - "$latest/run.json" "$work/full/run.json" <<'PY'
import json, sys
for name, p in zip(["increment", "full"], sys.argv[1:]):
    t = json.load(open(p))["timings_secs"]
    print(f"  {name} stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
PY
done
