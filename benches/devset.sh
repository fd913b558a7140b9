#!/usr/bin/env bash
# Detection quality on ../shared/devset (real homes from five countries, mixed 15/30/60-min
# intervals, real dates, rigs and hard negatives injected by code outside this project),
# side by side with the plain mean-kW ranking. Prints the summary rows and every per-kind row
# (recall per rig kind, false positives per negative kind) at 1% FPR and at gridsleuth's own
# flag threshold. No threshold is fitted to it: see the README's quality section.
#
#   bash benches/devset.sh            (needs ../shared/devset; writes tables to stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dev="${DEVSET:-$root/../shared/devset}"
out="${OUT:-$root/../bench-data/devset}"
. "$root/benches/env.sh"
mkdir -p "$out/gridsleuth" "$out/meankw"
"$gs" run -q --no-progress -r "$dev/readings.parquet" --meters "$dev/meters.csv" -o "$out/gridsleuth" || [ $? -eq 1 ]
"$gs" eval -q --labels "$dev/labels.csv" --run "$out/gridsleuth"
# mean kW: mean energy per reading over the meter's own interval (intervals differ).
"$py" - "$dev/readings.parquet" "$out/meankw/scores.csv" <<'PY'
import sys, polars as pl
r = pl.read_parquet(sys.argv[1]).sort("meter_id", "timestamp")
iv = (r.with_columns(d=pl.col("timestamp").diff().over("meter_id").dt.total_seconds())
       .group_by("meter_id").agg(iv=pl.col("d").drop_nulls().mode().first(), kwh=pl.col("kwh").mean()))
iv.select("meter_id", score=pl.col("kwh") / (pl.col("iv") / 3600.0)).sort("meter_id").write_csv(sys.argv[2])
PY
"$gs" eval -q --labels "$dev/labels.csv" --run "$out/meankw"
"$py" "$root/benches/eval_table.py" gridsleuth="$out/gridsleuth/eval.json" mean-kW="$out/meankw/eval.json"
