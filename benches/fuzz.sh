#!/usr/bin/env bash
# Fuzz gridsleuth's readers on the stable toolchain (fuzz/main.rs): each target for SECONDS,
# keeping its corpus in fuzz/corpus/TARGET/ between runs. A crash or hang is minimised into
# fuzz/crashes/TARGET/ and the script fails; an abort (allocation failure, stack overflow) ends
# the fuzzer, and its last input is copied there too.
#
#   bash benches/fuzz.sh SECONDS [TARGET...]     (default: every target)
#   bash benches/fuzz.sh 7                        (the CI smoke: about a minute in all)
#
# Each run also stays within a virtual-memory limit (FUZZ_VMEM_KB, default 4 GB: the targets'
# memory budget is 256 MB), so an allocation the budget should have refused aborts here instead
# of passing unnoticed. A crash becomes a regression: move the minimised input to
# fuzz/regressions/TARGET/ (tests/integration/fuzz.rs replays it) and fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:?usage: bash benches/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(long_csv parquet nem12 wide meters feeders weather config)
fi
seed="${FUZZ_SEED:-$(date +%s)}"
# Each input is written to a file for the reader: in memory where the machine has /dev/shm.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  work="${FUZZ_WORK:-/dev/shm/gridsleuth-fuzz-$$}"
else
  work="${FUZZ_WORK:-fuzz/out}"
fi
mkdir -p "$work"
cargo build --release --quiet --example fuzz
bin=target/release/examples/fuzz
status=0
for t in "${targets[@]}"; do
  set +e
  (ulimit -v "${FUZZ_VMEM_KB:-4000000}"; "$bin" "$t" --seconds "$seconds" --seed "$seed" --work "$work")
  code=$?
  set -e
  if [ "$code" -ne 0 ]; then
    status=1
    if [ "$code" -gt 128 ]; then
      mkdir -p "fuzz/crashes/$t"
      cp "$work/$t/input" "fuzz/crashes/$t/abort-$(date +%s)"
      echo "ABORT in $t (signal $((code - 128))): the last input is in fuzz/crashes/$t/" >&2
    fi
  fi
done
case "$work" in /dev/shm/*) rm -rf "$work" ;; esac
echo "fuzz: seed $seed, ${#targets[@]} targets x ${seconds} s"
exit "$status"
