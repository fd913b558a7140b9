#!/usr/bin/env bash
# Stage timings of two gridsleuth binaries on one region, run alternately (page cache warm):
#
#   bash benches/features_ab.sh OLD_BINARY NEW_BINARY REGION_DIR [RUNS=3]
#
# Prints each run's stage timings from run.json and the medians per binary. Use it to check a
# change of the features against the build before it (e.g. a worktree at the previous commit).
set -euo pipefail
old=$1 new=$2 dir=$3 runs=${4:-3}
out=$(mktemp -d)
cat "$dir/readings.parquet" > /dev/null
for i in $(seq "$runs"); do
  for which in old new; do
    bin=${!which}
    "$bin" run -q --no-progress -r "$dir/readings.parquet" --meters "$dir/meters.csv" -o "$out/$which" >/dev/null 2>&1 || [ $? -eq 1 ]
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], ' '.join(f'{k}={v:.2f}' for k,v in d['timings_secs'].items()))" "$out/$which/run.json" "$which" | tee -a "$out/log"
  done
done
python3 - "$out/log" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    which, *kv = line.split()
    for x in kv:
        k, v = x.split("=")
        t[which][k].append(float(v))
for which in ("old", "new"):
    print(which, "median:", " ".join(f"{k}={statistics.median(v):.2f}" for k, v in t[which].items()))
f_old, f_new = statistics.median(t["old"]["features"]), statistics.median(t["new"]["features"])
print(f"features new/old: {f_new / f_old:.2f}x")
PY
rm -rf "$out"
