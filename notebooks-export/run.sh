#!/usr/bin/env bash
# Executes the analyst notebooks (issue 13) top to bottom and exports them to HTML; fails on any
# cell error.
#
#   bash notebooks-export/run.sh            # on the committed samples: rewrites the committed
#                                           # notebooks-export/*.ipynb and *.html
#   bash notebooks-export/run.sh --shared   # also on the real Tetouan zones in
#                                           # ../shared/data/tetouan-zones: writes to
#                                           # out/notebooks-shared/ only (never committed)
#
# 1. A virtual environment from notebooks-export/requirements.txt (exact pins) in
#    out/notebooks-venv (gitignored; NOTEBOOKS_VENV overrides), reused while the hash of the
#    requirements and the Python version match.
# 2. The notebooks' inputs, by the release binary (GRIDSLEUTH_BIN, else `cargo build --release`),
#    in out/notebooks/: `run` on data-samples/region.toml (with --write-matrix), `synth` of a
#    four-feeder region with bypassed rigs (as the grid-analysis tests make it) and `balance` on
#    it (with --write-slots), and `drop` on data-samples/drop (the README's command, plus the
#    same over every region without controls for the difference-in-differences chart), and a
#    nightly state: 18 nights of `nightly` on `synth` output split into daily landing files, with
#    four lists of visits imported by `outcomes import` (nightly_site below).
# 3. Every *.ipynb in notebooks-export/ is executed (execute.py), in name order: a notebook added
#    to the folder runs too; the inputs it needs are made in step 2.
#
# The committed copies are executed with no GRIDSLEUTH_* variable but those set here, so they
# hold the committed samples only, whatever the caller's environment.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=samples
case "${1:-}" in
    "") ;;
    --shared) mode=shared ;;
    *) echo "usage: $0 [--shared]" >&2; exit 2 ;;
esac
tetouan_csv=../shared/data/tetouan-zones/tetuan_city_power_consumption.csv
if [ "$mode" = shared ] && [ ! -f "$tetouan_csv" ]; then
    echo "error: --shared needs $tetouan_csv (the UCI Tetouan file beside the checkout)" >&2
    exit 2
fi

# The caller's GRIDSLEUTH_* parameters never reach the notebooks (the binary's path aside).
bin=${GRIDSLEUTH_BIN:-}
for v in $(compgen -e | grep '^GRIDSLEUTH_' || true); do unset "$v"; done

# 1. Virtual environment.
venv=${NOTEBOOKS_VENV:-out/notebooks-venv}
req=notebooks-export/requirements.txt
python=${PYTHON:-python3}
want=$( (cat "$req"; "$python" --version 2>&1) | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "== virtual environment $venv from $req ($("$python" --version 2>&1))"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req"
    echo "$want" >"$venv/.requirements.sha256"
else
    echo "== virtual environment $venv (requirements unchanged)"
fi
# Jupyter, IPython and matplotlib state inside the venv, not in the caller's home: a kernel spec
# or a profile of the caller's cannot change what runs.
state=$(cd "$venv" && pwd)
export JUPYTER_PLATFORM_DIRS=1 JUPYTER_DATA_DIR="$state/jupyter/data" \
    JUPYTER_CONFIG_DIR="$state/jupyter/config" JUPYTER_RUNTIME_DIR="$state/jupyter/runtime" \
    IPYTHONDIR="$state/ipython" MPLCONFIGDIR="$state/matplotlib"
export PYTHONHASHSEED=0 MPLBACKEND=agg TZ=UTC

# 2. Inputs.
if [ -z "$bin" ]; then
    echo "== cargo build --release"
    cargo build --release --quiet
    bin=target/release/gridsleuth
fi
in=out/notebooks
rm -rf "$in"
mkdir -p "$in"
echo "== inputs in $in ($("$bin" --version))"
"$bin" run -q --config data-samples/region.toml --write-matrix -o "$in/run"
"$bin" synth -q --meters 400 --days 30 --meters-per-feeder 100 --seed 1 --mining-share 0.005 \
    --mining-mix bypass=1 -o "$in/feeder-region"
"$bin" balance -q -r "$in/feeder-region/readings.parquet" --meters "$in/feeder-region/meters.csv" \
    --feeders "$in/feeder-region/feeders.csv" --write-slots -o "$in/balance"

# `gridsleuth drop` on a file in the layout of the Tetouan zones: $1 load, $2 events, $3 output,
# then extra flags. With --control: the README's command; without: every region on its own.
drop() {
    local load=$1 events=$2 out=$3
    shift 3
    "$bin" drop -q --load "$load" --events "$events" \
        --holidays data-samples/drop/holidays_morocco_2017.csv --time-col DateTime \
        --timestamp-format '%m/%d/%Y %H:%M' --unit kw --temp-col Temperature \
        --value-cols 'Zone 1 Power Consumption=Zone 1' 'Zone 2  Power Consumption=Zone 2' \
        'Zone 3  Power Consumption=Zone 3' -o "$out" "$@"
}
# $1 load, $2 event date, $3 label, $4 output folder: the estimate against Zone 3 in $4, every
# region without controls in $4-regions.
drop_case() {
    local load=$1 date=$2 label=$3 out=$4
    mkdir -p "$out-events"
    printf 'date,region,label\n%s,Zone 1,%s\n' "$date" "$label" >"$out-events/zone1.csv"
    printf 'date,region,label\n%s,*,%s\n' "$date" "$label" >"$out-events/all.csv"
    drop "$load" "$out-events/zone1.csv" "$out" --control 'Zone 3'
    drop "$load" "$out-events/all.csv" "$out-regions" --no-charts
}
drop data-samples/drop/zones_hourly_2017.csv data-samples/drop/events.csv "$in/drop" --control 'Zone 3'
mkdir -p "$in/drop-regions-events"
printf 'date,region,label\n2017-03-15,*,raid\n' >"$in/drop-regions-events/all.csv"
drop data-samples/drop/zones_hourly_2017.csv "$in/drop-regions-events/all.csv" "$in/drop-regions" --no-charts

# A nightly state (notebook 4): `synth` (160 meters, 24 days from 2024-03-01, seed 7, 12% rigs,
# as the nightly tests make it) split into one landing file per UTC day; the first six days land
# at once, then a day lands each night and `nightly` scores it (window 7 days: 18 nights); after
# four of the nights, inspectors visit the five best-ranked open cases of meters not yet visited
# (the outcome is synth's label: a rig is confirmed with its kW and devices; the first case of a
# list is not reached, no_access) through `outcomes import`.
nightly_site() {
    local site=$1
    "$bin" synth -q --meters 160 --days 24 --start 2024-03-01 --format csv --seed 7 \
        --mining-share 0.12 --missing-share 0 --gap-meter-share 0 --estimated-meter-share 0 \
        -o "$site/synth"
    mkdir -p "$site/days" "$site/landing"
    awk -F, -v dir="$site/days" 'NR > 1 { f = dir "/" substr($2, 1, 10) ".csv"
        if (!(f in seen)) { seen[f] = 1; print "meter_id,timestamp,kwh" > f } print > f }' \
        "$site/synth/readings.csv"
    printf '[inputs]\nmeters = "synth/meters.csv"\n\n[time]\ntz = "UTC"\ninterval = "30m"\n\n[nightly]\nlanding = ["landing/*.csv"]\nstate = "state"\nwindow_days = 7\nkeep_runs = 30\nkeep_vanished_nights = 3\n' \
        >"$site/site.toml"
    local i d code
    for i in $(seq 1 24); do
        d=$(printf '2024-03-%02d' "$i")
        cp "$site/days/$d.csv" "$site/landing/"
        [ "$i" -ge 7 ] || continue
        code=0
        "$bin" nightly -q --config "$site/site.toml" || code=$?
        [ "$code" -le 1 ] || { echo "error: nightly $d: exit $code" >&2; exit 1; }
        case $i in
            10 | 14 | 18 | 21)
                "$venv/bin/python" - "$site" "$d" <<'EOF'
import csv
import sys
from pathlib import Path

site, night = Path(sys.argv[1]), sys.argv[2]
truth = {r["meter_id"]: r for r in csv.DictReader(open(site / "synth/labels.csv"))}
visited = set()
for v in sorted(site.glob("visits-*.csv")):
    visited |= {r["meter_id"] for r in csv.DictReader(open(v))}
cases = [r for r in csv.DictReader(open(site / "state/runs/latest/cases.csv"))
         if r["state"] in ("new", "persisting", "escalating") and r["meter_id"] not in visited]
cases.sort(key=lambda r: (-float(r["score"] or 0), r["case_id"]))
with open(site / f"visits-{night}.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["case_id", "meter_id", "visit_date", "outcome", "found_kw", "devices", "notes"])
    for i, r in enumerate(cases[:5]):
        t = truth[r["meter_id"]]
        if i == 0:
            w.writerow([r["case_id"], r["meter_id"], night, "no_access", "", "", "nobody home"])
        elif t["is_mining"] == "true":
            w.writerow([r["case_id"], r["meter_id"], night, "mining_confirmed", t["rig_kw"],
                        t["n_devices"], "rig found"])
        else:
            w.writerow([r["case_id"], r["meter_id"], night, "no_mining", "", "", "no rig"])
EOF
                "$bin" outcomes import -q "$site/visits-$d.csv" --config "$site/site.toml"
                ;;
        esac
    done
}
nightly_site "$in/nightly"

# Parameters of the notebooks (paths relative to notebooks-export/, where the kernel starts).
export GRIDSLEUTH_RUN_DIR=../$in/run GRIDSLEUTH_BALANCE_DIR=../$in/balance \
    GRIDSLEUTH_DROP_DIR=../$in/drop GRIDSLEUTH_DROP_REGIONS_DIR=../$in/drop-regions \
    GRIDSLEUTH_KNOWN_CHANGE_MW=-1.5 \
    GRIDSLEUTH_STATE_DIR=../$in/nightly/state

# 3. Execute and export.
if [ "$mode" = samples ]; then
    echo "== executing notebooks-export/*.ipynb on the committed samples"
    "$venv/bin/python" notebooks-export/execute.py
else
    shared=out/notebooks-shared
    rm -rf "$shared"
    mkdir -p "$shared/tetouan"
    echo "== Tetouan zones from $tetouan_csv (outputs in $shared only)"
    drop_case "$tetouan_csv" 2017-03-15 placebo "$shared/tetouan/placebo"
    # 1.5 MW removed from Zone 1 from 2017-03-15 00:00, as the real-data test does.
    "$venv/bin/python" - "$tetouan_csv" "$shared/tetouan/zones_injected.csv" <<'EOF'
import csv
import sys
from datetime import datetime

src, dst = sys.argv[1:3]
start = datetime(2017, 3, 15)
with open(src, newline="") as f, open(dst, "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
    w.writerow(next(r))
    for row in r:
        if datetime.strptime(row[0], "%m/%d/%Y %H:%M") >= start:
            row[4] = f"{float(row[4]) - 1500.0:.3f}"
        w.writerow(row)
EOF
    drop_case "$shared/tetouan/zones_injected.csv" 2017-03-15 "1.5 MW removed" "$shared/tetouan/injected"
    export GRIDSLEUTH_TETOUAN_DROP_DIR=$PWD/$shared/tetouan
    echo "== executing notebooks-export/*.ipynb with the Tetouan zones into $shared"
    "$venv/bin/python" notebooks-export/execute.py --out "$shared"
fi
