#!/usr/bin/env bash
# Measures portal-sim's addUsers throughput: a release portal-sim process (no latency, no
# faults) and the load generator of tests/it/sim_load.rs as a separate process on the same machine.
# Usage: scripts/bench-sim.sh   (env LOAD_SECS, LOAD_CONCURRENCY, LOAD_BATCH pass through)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin portal-sim
cargo test --release --quiet --test it --no-run

out="$(mktemp)"
target/release/portal-sim --seed-users 5000 --group-limit 100000 >"$out" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do
    [[ -s "$out" ]] && break
    sleep 0.1
done
url="$(sed -n 's/^portal-sim listening on //p' "$out" | head -n1)"
echo "portal-sim at $url"
PORTAL_SIM_URL="$url" cargo test --release --quiet --test it sim_load -- --ignored --nocapture 2>&1 |
    grep -E 'addUsers:|test result|panicked'
curl -s "$url/__sim/stats" | head -c 400
echo
