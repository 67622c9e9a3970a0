#!/usr/bin/env bash
# Sourced by scripts/test and .ci/run: puts `buf` (the protocol linter and breaking-change
# checker) on PATH. buf comes from PyPI (`buf-bin`, the same release as the npm package), pinned,
# installed into target/tools-venv on first use; a `buf` already on PATH at the pinned version is
# used as it is. No npm registry is needed.
BUF_VERSION=1.75.0

ensure_buf() {
  if command -v buf >/dev/null 2>&1 && [[ "$(buf --version 2>/dev/null)" == "$BUF_VERSION" ]]; then
    return 0
  fi
  local venv="target/tools-venv"
  if [[ "$("$venv/bin/buf" --version 2>/dev/null)" != "$BUF_VERSION" ]]; then
    echo "==> installing buf $BUF_VERSION from PyPI (buf-bin) into $venv"
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "buf-bin==$BUF_VERSION"
  fi
  PATH="$PWD/$venv/bin:$PATH"
  export PATH
}
