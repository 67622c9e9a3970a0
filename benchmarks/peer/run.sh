#!/usr/bin/env bash
# Peer comparison of accord's exact power indices with the PyPI package powerindex.
# One command, from any directory:  benchmarks/peer/run.sh [compare.py options]
# (e.g. --timeout 60 for a shorter time budget per powerindex computation)
set -euo pipefail

POWERINDEX_VERSION=0.3.5

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/target/peer-venv"
STAMP="$VENV/.powerindex-$POWERINDEX_VERSION"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" ]]; then
    echo "installing powerindex==$POWERINDEX_VERSION into $VENV" >&2
    # --no-deps: powerindex needs nothing beyond the standard library for what is compared here
    # (matplotlib is only for its pie charts).
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        "powerindex==$POWERINDEX_VERSION"
    rm -f "$VENV"/.powerindex-*
    touch "$STAMP"
fi

echo "building the power_cli example (release)" >&2
(cd "$ROOT" && cargo build --release -p accord-weighted --example power_cli)
CLI="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/power_cli"

"$VENV/bin/python" "$ROOT/benchmarks/peer/compare.py" --cli "$CLI" "$@"
echo
# The indices added with PowerService, where powerindex has a namesake (absolute Banzhaf).
exec "$VENV/bin/python" "$ROOT/benchmarks/peer/absolute.py" "$VENV/bin/python" "$CLI"
