#!/usr/bin/env bash
# Benchmark runner for bulk-groups against portal-sim. See BENCHMARKS.md.
#
# Usage: benches/run.sh [SCENARIO...]     # default: all (benches/bench.py --help lists them)
#
# Builds the release binaries (cargo build --release), creates the Python venv with the
# ArcGIS API for Python when the `python` scenario is selected (benches/out/venv; PyPI the
# first time), installs arcgis-rest-js from benches/restjs/package-lock.json when a `restjs*`
# scenario is selected (benches/out/restjs; npm the first time), then runs benches/bench.py.
# Outputs: benches/out/ (gitignored). Env: PYTHON (default python3), VENV (default
# benches/out/venv), SKIP_BUILD=1 to use the binaries already in target/release.
# Exit status: 0 when every selected scenario met its targets, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
venv="${VENV:-$here/out/venv}"
restjs="$here/out/restjs"
mkdir -p "$here/out"

for tool in cargo /usr/bin/time "$python"; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool (Debian: apt-get install -y time for /usr/bin/time)" >&2
        exit 2
    }
done

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    echo "== cargo build --release (bulk-groups, portal-sim)"
    (cd "$root" && cargo build --release --quiet --bin bulk-groups --bin portal-sim)
fi

# Which peers the selected scenarios need (no arguments: all of them).
wants_python=0
wants_restjs=0
if [[ $# -eq 0 ]]; then wants_python=1 wants_restjs=1; fi
for s in "$@"; do
    [[ "$s" == python ]] && wants_python=1
    [[ "$s" == restjs* ]] && wants_restjs=1
done

if [[ $wants_python == 1 ]]; then
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import arcgis, six' 2>/dev/null; then
        echo "== creating $venv with arcgis 2.4.x + six (a few minutes, once)"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet 'arcgis>=2.4,<2.5' six
    fi
    echo "== arcgis $("$venv/bin/python" -c 'import arcgis; print(arcgis.__version__)')"
fi

if [[ $wants_restjs == 1 ]]; then
    for tool in node npm; do
        command -v "$tool" >/dev/null || { echo "missing $tool (the restjs scenarios need Node >= 18)" >&2; exit 2; }
    done
    # npm ci installs exactly the lock file's versions; redone only when the lock changes.
    if ! cmp -s "$here/restjs/package-lock.json" "$restjs/package-lock.json" || [[ ! -d "$restjs/node_modules" ]]; then
        echo "== installing arcgis-rest-js into $restjs (npm ci)"
        mkdir -p "$restjs"
        cp "$here/restjs/package.json" "$here/restjs/package-lock.json" "$restjs/"
        (cd "$restjs" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    echo "== node $(node --version), $(cd "$restjs" && node -p 'const v = (p) => require(p + "/package.json").version; `@esri/arcgis-rest-request ${v("@esri/arcgis-rest-request")}, @esri/arcgis-rest-portal ${v("@esri/arcgis-rest-portal")}`')"
fi

exec "$python" "$here/bench.py" --venv "$venv" --restjs "$restjs" --bin-dir "$root/target/release" --out "$here/out" "$@"
