#!/usr/bin/env bash
# Sourced by scripts/test, .ci/run and deploy scripts: puts the Python-packaged tools the checks
# need on PATH, pinned, installed from PyPI into one venv (target/tools-venv) on first use:
#   ensure_buf                   buf (`buf-bin`, the same release as the npm package): protocol
#                                lint and breaking-change checks; a `buf` on PATH at the pinned
#                                version is used as it is
#   ensure_kubernetes_validate   kubernetes-validate: the manifests in deploy/k8s against the
#                                Kubernetes schemas (bundled in the package, no network)
# No npm registry is needed.
BUF_VERSION=1.75.0
KUBERNETES_VALIDATE_VERSION=1.37.0
TOOLS_VENV="target/tools-venv"

# Installs `$1` (a pip requirement) into the tools venv unless `$2` (a command in the venv) runs.
tools_install() {
  local requirement="$1" check="$2"
  if ! "$TOOLS_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$TOOLS_VENV"
    "${PYTHON:-python3}" -m venv "$TOOLS_VENV"
  fi
  if ! eval "$check" >/dev/null 2>&1; then
    echo "==> installing $requirement from PyPI into $TOOLS_VENV"
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
  fi
}

tools_on_path() {
  case ":$PATH:" in
    *":$PWD/$TOOLS_VENV/bin:"*) ;;
    *) PATH="$PWD/$TOOLS_VENV/bin:$PATH"; export PATH ;;
  esac
}

ensure_buf() {
  if command -v buf >/dev/null 2>&1 && [[ "$(buf --version 2>/dev/null)" == "$BUF_VERSION" ]]; then
    return 0
  fi
  tools_install "buf-bin==$BUF_VERSION" \
    "[[ \"\$($TOOLS_VENV/bin/buf --version)\" == $BUF_VERSION ]]"
  tools_on_path
}

ensure_kubernetes_validate() {
  tools_install "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    "$TOOLS_VENV/bin/python -c 'import importlib.metadata as m; assert m.version(\"kubernetes-validate\") == \"$KUBERNETES_VALIDATE_VERSION\"'"
  tools_on_path
}
