#!/usr/bin/env bash
# Look at the progress bar in a real 80x24 terminal (tmux) during an import against portal-sim,
# and check each captured progress line: `n/total rows (p %)`, ETA, req/s, throttled, at most
# 80 columns. A manual companion to tests/it/progress_terminal.rs (which CI runs); needs tmux.
#
#   cargo build && scripts/progress-tmux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug
rows=${ROWS:-200}
work=$(mktemp -d)
session="bulk-groups-progress-$$"
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    [[ -n ${sim_pid:-} ]] && kill "$sim_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/portal-sim" --seed-users "$rows" >"$work/sim.out" &
sim_pid=$!
until url=$(awk '/listening on/ {print $NF; exit}' "$work/sim.out") && [[ -n $url ]]; do sleep 0.1; done
{
    echo "group,username"
    for i in $(seq 1 "$rows"); do printf 'Field Crew,user%06d\n' "$i"; done
} >"$work/crew.csv"

tmux new-session -d -s "$session" -x 80 -y 24 -e ARCGIS_PASSWORD=admin-password \
    "$bin/bulk-groups import $work/crew.csv --portal $url --username admin --rate 40 --chunk-size 1 --results $work/crew.results.csv; sleep 3"

seen=0
while tmux has-session -t "$session" 2>/dev/null; do
    line=$(tmux capture-pane -p -t "$session" 2>/dev/null | grep -m1 " rows (" || true)
    if [[ -n $line ]]; then
        if ! [[ $line =~ [0-9]+/$rows\ rows\ \([0-9]+\ %\),\ ETA\ .+,\ .+\ req/s,\ [0-9]+\ throttled ]]; then
            echo "unexpected progress line: $line" >&2
            exit 1
        fi
        if ((${#line} > 80)); then
            echo "wider than 80 columns (${#line}): $line" >&2
            exit 1
        fi
        ((seen += 1))
        printf '%s\n' "$line"
    fi
    sleep 0.5
done
((seen > 0)) || { echo "no progress line was captured" >&2; exit 1; }
echo "ok: $seen progress lines captured, all within 80 columns"
