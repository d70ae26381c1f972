#!/bin/sh
# Render a bulk-groups HTML report (`import --report FILE.html`) in headless Chromium and save
# a PNG screenshot of it: the check that the page really renders in a browser.
#
# Usage: scripts/report-screenshot.sh REPORT.html OUT.png
# CHROMIUM overrides the browser (default /usr/bin/chromium, Debian's package `chromium`).
# The page needs no network; the flags keep the browser from reaching for one.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi
report=$1
out=$2
browser=${CHROMIUM:-/usr/bin/chromium}
case $report in /*) ;; *) report=$(pwd)/$report ;; esac
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$out" --window-size=1200,1600 \
    "file://$report"
if [ ! -s "$out" ]; then
    echo "$0: no screenshot was written to $out" >&2
    exit 1
fi
echo "screenshot: $out"
