#!/usr/bin/env bash
# Browser check of the analyst notebooks' HTML (issue 13), the approach of browser-check.sh:
# loads each exported notebook in headless Chromium (Debian's `chromium`, installed here if
# missing), fails on JavaScript errors, CSP violations (a network fetch), an error output, or a
# page that shows fewer images than its .ipynb holds (or none), and takes screenshots.
# Usage: .ci/notebooks-check.sh [--committed] DIR
#   DIR: a folder of executed NOTEBOOK.ipynb with NOTEBOOK.html beside each (notebooks-export/
#        for the committed copies, out/notebooks-shared/ for the run on ../shared data).
#   --committed: also fails when a notebook holds output of third-party data (the Tetouan zones).
# Screenshots and DOM dumps go to out/notebooks-check/<DIR's name>/.
set -euo pipefail
cd "$(dirname "$0")/.."

committed=0
if [ "${1:-}" = --committed ]; then committed=1; shift; fi
dir=${1:?usage: .ci/notebooks-check.sh [--committed] DIR}
shots=out/notebooks-check/$(basename "$dir")

browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
    echo "== installing Debian's chromium"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
    browser=chromium
fi
echo "== browser: $("$browser" --version 2>/dev/null || echo "$browser")"
rm -rf "$shots"
mkdir -p "$shots"
abs() { (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

chrome() {
    local name=$1 url=$2
    shift 2
    local profile
    profile=$(mktemp -d)
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --user-data-dir="$profile" \
        --enable-logging=stderr --v=0 --virtual-time-budget=5000 "$@" "$url" \
        2>>"$shots/$name.log" || true
    rm -rf "$profile"
}

shopt -s nullglob
notebooks=("$dir"/*.ipynb)
[ "${#notebooks[@]}" -gt 0 ] || fail "no notebooks in $dir"
for nb in "${notebooks[@]}"; do
    name=$(basename "$nb" .ipynb)
    html="$dir/$name.html"
    if [ ! -f "$html" ]; then fail "$name: no $html"; continue; fi
    # Image outputs in the notebook, error outputs (a cell that raised), and outputs of the
    # real Tetouan zones (the notebook's section on them titles each chart and line "Tetouan (").
    read -r want errors tetouan < <(python3 - "$nb" <<'EOF'
import json, sys
nb = json.load(open(sys.argv[1]))
outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
text = [json.dumps(o) for o in outs]
print(sum("image/png" in o.get("data", {}) for o in outs),
      sum(o.get("output_type") == "error" for o in outs),
      sum("Tetouan (" in t or "tetuan_city_power_consumption" in t for t in text))
EOF
)
    [ "$want" -ge 1 ] || fail "$name: the notebook holds no image output"
    [ "$errors" -eq 0 ] || fail "$name: $errors error output(s)"
    if [ "$committed" = 1 ] && [ "$tetouan" -gt 0 ]; then
        fail "$name: the committed copy holds $tetouan output(s) of the real Tetouan zones (third-party data)"
    fi
    url="file://$(abs "$html")"
    : >"$shots/$name.log"
    chrome "$name" "$url" --dump-dom >"$shots/$name.dom.html"
    chrome "$name" "$url" --screenshot="$(abs "$shots")/$name.png" --window-size=1280,2000 --hide-scrollbars >/dev/null
    if grep -E "CONSOLE|Uncaught|Refused to|net::ERR" "$shots/$name.log" | grep -v "Fontconfig" >"$shots/$name.errors"; then
        fail "$name: console errors:"; sed 's/^/    /' "$shots/$name.errors"
    fi
    [ -s "$shots/$name.png" ] || fail "$name: no screenshot"
    shown=$(grep -o '<img [^>]*src="data:image/png;base64,' "$shots/$name.dom.html" | wc -l)
    [ "$shown" -ge "$want" ] || fail "$name: the page shows $shown images, the notebook holds $want"
    grep -q 'class="jp-Notebook' "$shots/$name.dom.html" || fail "$name: not a notebook page"
    echo "   $name.html: $shown images shown, $want in the notebook"
done

echo "== screenshots in $shots"
if [ "$failures" -gt 0 ]; then
    echo "notebooks check: $failures failure(s)"
    exit 1
fi
echo "notebooks check: ok"
