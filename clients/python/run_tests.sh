#!/usr/bin/env bash
# Runs the Python (grpcio) client tests against the real accord-server binary.
#
#   clients/python/run_tests.sh [pytest args...]
#
# Creates or reuses a venv in target/python-venv, installs requirements.txt into it (skipped when
# the requirements are unchanged since the last install), generates Python stubs from
# proto/accord/v1/*.proto into target/python-generated, and runs pytest on clients/python/tests.
# Environment: PYTHON (interpreter used to create the venv, default python3), ACCORD_SERVER_BIN
# (server binary, default target/debug/accord-server), ACCORD_PY_TESTS (the test directory,
# default clients/python/tests; deploy/tests/run.sh runs the container test with it).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
cd "$repo_root"

python="${PYTHON:-python3}"
venv="target/python-venv"
gen="target/python-generated"
requirements="clients/python/requirements.txt"
stamp="$venv/.accord-requirements.sha256"

mkdir -p target

# A venv is usable only if its interpreter runs; recreate it otherwise.
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "run_tests.sh: creating venv in $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi

# Install when the requirements (or the venv's Python version) changed since the last install.
want="$( { cat "$requirements"; "$venv/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    echo "run_tests.sh: installing $requirements" >&2
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

# Stubs are regenerated every run (well under a second) so they always match the proto files.
rm -rf "$gen"
mkdir -p "$gen"
"$venv/bin/python" -m grpc_tools.protoc -I proto \
    --python_out="$gen" --grpc_python_out="$gen" \
    proto/accord/v1/*.proto

# Keep the source tree clean: no __pycache__ next to the tests.
export PYTHONDONTWRITEBYTECODE=1
export ACCORD_PY_GENERATED="$repo_root/$gen"
export PYTHONPATH="$repo_root/$gen${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "${ACCORD_PY_TESTS:-clients/python/tests}" "$@"
