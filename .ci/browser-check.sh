#!/usr/bin/env bash
# Browser check of the inspector report (issue 4): loads the report's index.html and one
# suspect page in headless Chromium (Debian's `chromium`, installed here if missing), fails on
# JavaScript errors, CSP violations (a network fetch) or missing elements, and takes
# screenshots. Usage: .ci/browser-check.sh [RUN_DIR]   (default out/ci-sample; a run directory
# written by `gridsleuth run`, which is made from the committed sample if it does not exist).
# Screenshots and DOM dumps go to RUN_DIR/browser-check/.
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=${1:-out/ci-sample}
report="$run_dir/report"
shots="$run_dir/browser-check"

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

if [ ! -f "$report/index.html" ]; then
    echo "== no report in $run_dir: running the README's main command"
    cargo run --release --quiet -- run -q --config data-samples/region.toml -o "$run_dir"
fi
mkdir -p "$shots"
abs() { (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs headless Chromium on a URL; $1 = name, $2 = URL, $3... = extra flags. Writes
# $shots/$1.log (console) and whatever the flags ask for.
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

# Loads a page: DOM dump, screenshot, console check. $1 = name, $2 = file URL.
load() {
    local name=$1 url=$2
    : >"$shots/$name.log"
    chrome "$name" "$url" --dump-dom >"$shots/$name.dom.html"
    chrome "$name" "$url" --screenshot="$(abs "$shots")/$name.png" --window-size=1280,2000 \
        --hide-scrollbars >/dev/null
    if grep -E "CONSOLE|Uncaught|Refused to|net::ERR" "$shots/$name.log" | grep -v "Fontconfig" >"$shots/$name.errors"; then
        fail "$name: console errors:"; sed 's/^/    /' "$shots/$name.errors"
    fi
    if grep -q 'data-js-error="' "$shots/$name.dom.html"; then
        fail "$name: a script error was caught: $(grep -o 'data-js-error="[^"]*"' "$shots/$name.dom.html")"
    fi
    [ -s "$shots/$name.png" ] || fail "$name: no screenshot"
}

# Requires each regex in $2... to match the DOM dump of $1.
expect() {
    local name=$1
    shift
    for pat in "$@"; do
        grep -Eq "$pat" "$shots/$name.dom.html" || fail "$name: missing $pat"
    done
}

index=$(abs "$report/index.html")
echo "== index: file://$index"
load index "file://$index"
expect index 'data-ready="1"' 'id="totals"' 'id="run"' 'id="feeders"' 'id="suspects"' \
    'id="registered"' 'id="quality"' 'data-rendered="[1-9][0-9]*"' '<a href="suspects/[^"]+\.html">'
rows=$(grep -o 'data-rendered="[0-9]*"' "$shots/index.dom.html" | grep -o '[0-9]*' || echo 0)
echo "   table rendered by the script: $rows rows"

# Sorting and filtering in the page, through a shared-view link: the kW column must come out
# in ascending order, and a filter that matches nothing must leave no rows.
load index-sorted "file://$index#sort=kw&dir=asc"
expect index-sorted 'th data-key="kw"[^>]*aria-sort="ascending"'
grep -o '<td class="num kw">[^<]*' "$shots/index-sorted.dom.html" | sed 's/.*>//' >"$shots/index-sorted.kw"
[ -s "$shots/index-sorted.kw" ] || fail "index-sorted: no kW cells"
sort -g -c "$shots/index-sorted.kw" 2>/dev/null || fail "index-sorted: kW column not in ascending order"
echo "   sorted by kW in the page: $(tr '\n' ' ' <"$shots/index-sorted.kw")"
load index-filtered "file://$index#q=zzz-no-such-meter"
expect index-filtered 'data-rendered="0"' '0 of [0-9]+ suspects match'

page=$(grep -o 'href="suspects/[^"]*\.html"' "$shots/index.dom.html" | head -1 | sed 's/^href="//; s/"$//')
if [ -z "$page" ]; then
    fail "index: no suspect page linked"
else
    suspect=$(abs "$report/$page")
    echo "== suspect page: file://$suspect"
    load suspect "file://$suspect"
    expect suspect 'id="verdict"' 'id="reasons"' 'id="chart-load"' 'id="chart-heatmap"' \
        'id="chart-baseload"' '<svg class="chart"' 'id="rig"' 'id="meta"' 'id="peers"' \
        'id="quality"' 'href="\.\./index\.html"'
    svgs=$(grep -o '<svg class="chart"' "$shots/suspect.dom.html" | wc -l)
    [ "$svgs" -eq 3 ] || fail "suspect: $svgs inline charts, expected 3"
    for png in $(grep -o 'href="\.\./charts/[^"]*\.png"' "$shots/suspect.dom.html" | sed 's/^href="\.\.\///; s/"$//'); do
        [ -s "$report/$png" ] || fail "suspect: linked $png is missing"
    done
    # Print on A4: no more than two sheets.
    chrome suspect-print "file://$suspect" --print-to-pdf="$(abs "$shots")/suspect.pdf" --no-pdf-header-footer >/dev/null
    sheets=$(grep -ac '/Type /Page$\|/Type /Page[^s]' "$shots/suspect.pdf" || true)
    echo "   printed on A4: $sheets sheet(s)"
    [ "${sheets:-0}" -ge 1 ] && [ "${sheets:-0}" -le 2 ] || fail "suspect: prints on ${sheets:-0} A4 sheets, expected 1-2"
fi

# A large run: the integration test's 5,000-suspect index, rendered in the page within budget.
big="$(abs "$shots")/big"
echo "== 5,000 suspects: index from the integration test (five_thousand_suspects...)"
rm -rf "$big"
GRIDSLEUTH_KEEP_BIG_REPORT="$big" cargo test --release --quiet --test integration \
    five_thousand_suspects_keep_a_paged_index_and_capped_pages >/dev/null 2>&1 \
    || fail "big: the integration test did not write the 5,000-suspect report"
if [ -f "$big/report/index.html" ]; then
    load index-5000 "file://$big/report/index.html"
    expect index-5000 'data-ready="1"' 'data-rendered="100"' 'of 5000 \(page 1 of 50\)'
    ms=$(grep -o 'data-render-ms="[0-9]*"' "$shots/index-5000.dom.html" | grep -o '[0-9]*' || echo 99999)
    echo "   first render of the table: $ms ms"
    [ "$ms" -le 1000 ] || fail "index-5000: table took $ms ms to render (budget 1000 ms)"
    load index-5000-filtered "file://$big/report/index.html#q=F07&sort=kw&dir=desc&page=2"
    expect index-5000-filtered 'data-rendered="25"' '125 of 5000 suspects match'
fi

echo "== screenshots in $shots: $(cd "$shots" && ls ./*.png | tr '\n' ' ')"
if [ "$failures" -gt 0 ]; then
    echo "browser check: $failures failure(s)"
    exit 1
fi
echo "browser check: ok"
