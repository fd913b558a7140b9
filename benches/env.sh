# Sourced by the bench scripts (from the repository root, with $root set): the Python venv the
# peers run in ($py, created on first use) and the release binary ($gs, built if stale).
venv="$root/.venv-peers"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas polars scikit-learn pyarrow
fi
py="$venv/bin/python"
cargo build --release --quiet
gs="$root/target/release/gridsleuth"
