#!/usr/bin/env bash
# The official-client check: the ArcGIS API for Python (PyPI `arcgis` 2.4.x, plus `six`) runs
# the seed tutorial's code (tutorial.py) against portal-sim over HTTPS, then the simulator's
# state must hold "Example Group" with both members.
#
# Usage: scripts/python-tutorial/run.sh
# Env:   PYTHON (default python3), VENV (default scripts/python-tutorial/.venv, gitignored),
#        PORTAL_SIM (a prebuilt binary; default: cargo build --release, then target/release).
# Needs network access to PyPI the first time (the venv is reused afterwards).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="${VENV:-$here/.venv}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import arcgis, six' 2>/dev/null; then
    echo "== creating $venv and installing arcgis 2.4.x + six (takes a few minutes)"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet 'arcgis>=2.4,<2.5' six
fi
echo "== arcgis $("$venv/bin/python" -c 'import arcgis; print(arcgis.__version__)')"

if [[ -z "${PORTAL_SIM:-}" ]]; then
    echo "== cargo build --release --bin portal-sim"
    (cd "$root" && cargo build --release --quiet --bin portal-sim)
    PORTAL_SIM="$root/target/release/portal-sim"
fi

work="$(mktemp -d)"
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then
        kill -TERM "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

printf 'username\nmember_username1\nmember_username2\n' >"$work/users.csv"
"$PORTAL_SIM" --tls --cert-out "$work/ca.pem" --users "$work/users.csv" \
    --admin admin:admin-password --state-out "$work/final-state.json" \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!

url=""
for _ in $(seq 1 100); do
    if [[ -s "$work/sim.out" ]]; then
        url="$(head -n1 "$work/sim.out" | sed -n 's/^portal-sim listening on //p')"
        [[ -n "$url" ]] && break
    fi
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "portal-sim did not start:" >&2
    cat "$work/sim.err" >&2
    exit 1
fi
echo "== portal-sim listening on $url"

echo "== tutorial.py output"
PORTAL_CA_BUNDLE="$work/ca.pem" "$venv/bin/python" "$here/tutorial.py" "$url" admin admin-password \
    2>"$work/py.err" | tee "$work/py.out"
if ! grep -qx 'Group created: Example Group' "$work/py.out" ||
    ! grep -qx 'Users added successfully to the group Example Group' "$work/py.out"; then
    echo "FAIL: unexpected tutorial output; stderr:" >&2
    cat "$work/py.err" >&2
    exit 1
fi

echo "== checking /__sim/state"
"$venv/bin/python" - "$url" "$work/ca.pem" <<'PY'
import json, ssl, sys, urllib.request
url, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
state = json.load(urllib.request.urlopen(url + "/__sim/state", context=ctx))
groups = [g for g in state["groups"] if g["title"] == "Example Group"]
assert len(groups) == 1, f"Example Group missing or duplicated: {state['groups']}"
g = groups[0]
assert sorted(g["users"]) == ["member_username1", "member_username2"], g
stats = json.load(urllib.request.urlopen(url + "/__sim/stats", context=ctx))
print(f"OK: group {g['id']} owner={g['owner']} access={g['access']} admins={g['admins']} users={g['users']}")
print("requests by endpoint:", {k: v for k, v in stats["by_endpoint"].items() if v})
PY

kill -TERM "$sim_pid"
wait "$sim_pid"
sim_pid=""
echo "== portal-sim stopped; final state written: $(wc -c <"$work/final-state.json") bytes"
echo "PASS"
