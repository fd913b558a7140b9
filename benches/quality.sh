#!/usr/bin/env bash
# Detection quality, side by side with two baselines, on three labelled datasets in one run:
#   peers   ../shared/peers/gen_region.py (an independent generator), 100k meters x 30 days
#   synth   gridsleuth synth, 20k meters x 30 days with weather (all seven rig kinds)
#   london  real London homes (../shared/data/london-households) cut into 28-day windows,
#           with rigs injected by gridsleuth synth --inject-into
# Methods, all scored by `gridsleuth eval` (the same definitions as the peers' metrics.py):
#   gridsleuth   gridsleuth run
#   mean-kW      rank by mean load (the plain baseline)
#   peer_polars  ../shared/peers/peer_polars.py (flatness features + StandardScaler + KMeans)
# Rigs that bypass the meter (synth kind mining_bypass) are invisible to every meter-level
# method and are left out (--exclude-kind); the feeder balance is their detector.
#
#   bash benches/quality.sh            (needs ../shared; writes the table to stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
data="${BENCH_DATA:-$root/../bench-data}"
. "$root/benches/env.sh"
mkdir -p "$data"

# Datasets -> "name readings meters labels extra-run-args eval-args"
[ -f "$data/r100000/readings.parquet" ] || { mkdir -p "$data/r100000"; "$py" "$shared/peers/gen_region.py" --meters 100000 --days 30 --seed 1 --out "$data/r100000" >/dev/null 2>&1; }
[ -f "$data/s20k/readings.parquet" ] || "$gs" synth --meters 20000 --days 30 --seed 11 -o "$data/s20k" >/dev/null
if [ ! -f "$data/london_inj/readings.parquet" ]; then
  "$py" benches/london_windows.py --homes "$shared/data/london-households" --out "$data/london_w" >/dev/null
  "$gs" synth --inject-into "$data/london_w/readings.csv" --inject-share 0.2 --seed 5 -o "$data/london_inj" >/dev/null
fi

row() { # dataset method eval.json
  "$py" - "$1" "$2" "$3" <<'PY'
import json, sys
name, method, path = sys.argv[1:4]
d = json.load(open(path))
fpr1 = next(x for x in d["at_fpr"] if x["name"] == "FPR 1%")
pk = next(x for x in d["precision_at_k"] if x["name"] == "npos")
dev = fpr1["recall_by_devices"].get("1", {}).get("rate")
small = fpr1["recall_small_rigs"].get("rate")
f = lambda v: "-" if v is None else f"{v:.3f}"
on = d["onset"]["mid_window"]["within_1_day"] if d.get("onset") else None
print(f"| {name} | {method} | {d['positives']} / {d['negatives']} | {f(d['roc_auc'])} | {f(d['average_precision'])} | {f(pk['precision'])} | {f(fpr1['recall']['rate'])} | {f(dev)} | {f(small)} | {f(on)} | {fpr1['registered_flagged']} |")
PY
}

echo "| data | method | rigs / negatives | ROC AUC | AP | precision@k | recall @1% FPR | 1 device @1% | < 1.5 kW @1% | mid-window onset within 1 day | registered miners flagged |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for ds in peers synth london; do
  case $ds in
    peers)  dir="$data/r100000"; extra=(); ev=() ;;
    synth)  dir="$data/s20k"; extra=(--weather "$data/s20k/weather.csv"); ev=(--exclude-kind mining_bypass) ;;
    london) dir="$data/london_inj"; extra=(); ev=() ;;
  esac
  out="$data/quality/$ds"
  mkdir -p "$out/gridsleuth" "$out/meankw" "$out/peer"
  "$gs" run -q --no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" "${extra[@]}" -o "$out/gridsleuth" || [ $? -eq 1 ]
  "$gs" eval -q --labels "$dir/labels.csv" --run "$out/gridsleuth" "${ev[@]}"
  row "$ds" gridsleuth "$out/gridsleuth/eval.json"
  "$py" -c "import polars as pl,sys; pl.scan_parquet(sys.argv[1]).group_by('meter_id').agg(score=pl.col('kwh').mean()).sort('meter_id').collect().write_csv(sys.argv[2])" "$dir/readings.parquet" "$out/meankw/scores.csv"
  "$gs" eval -q --labels "$dir/labels.csv" --run "$out/meankw" "${ev[@]}"
  row "$ds" mean-kW "$out/meankw/eval.json"
  # The peer needs the full meters.csv columns; London's has only id/tariff: add them.
  meters="$dir/meters.csv"
  if ! head -1 "$meters" | grep -q contracted_kw; then
    "$py" -c "import polars as pl,sys; m=pl.read_csv(sys.argv[1]); [m:=m.with_columns(pl.lit(None).alias(c)) for c in ['address','feeder_id','lat','lon','contracted_kw'] if c not in m.columns]; m.write_csv(sys.argv[2])" "$meters" "$out/peer/meters.csv"
    meters="$out/peer/meters.csv"
  fi
  "$py" "$shared/peers/peer_polars.py" --readings "$dir/readings.parquet" --meters "$meters" --out "$out/peer" >/dev/null 2>&1
  "$gs" eval -q --labels "$dir/labels.csv" --run "$out/peer" "${ev[@]}"
  row "$ds" peer_polars "$out/peer/eval.json"
done
